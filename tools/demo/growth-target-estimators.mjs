#!/usr/bin/env node
// How far the growth model's guidance target (relative change from the
// baseline day to the follow-up day) lands from the true change, for three
// estimates from the same fit: the fit to the measured sizes itself, the
// median of the bootstrap fits with N(1, 0.1) noise on the sizes (the
// method's, tumorcast's default), and the median with the reference code's
// clipped noise. Patients are drawn as the phantom generator draws them
// (two-phase model, its parameter ranges, RT ending on day 63, scans on the
// phantom's days up to day 150, follow-up day 210), and their sizes are
// measured with multiplicative noise N(1, sigma) for each sigma.
// Usage: node tools/demo/growth-target-estimators.mjs [PATIENTS=80] [SEED=1]
// (needs `npx nx run @tumorcast/pipeline:build` first: it builds the growth-ode and phantom packages)
import { bootstrapGrowth, fitGrowth, relativeChange, twoPhaseRtModel } from '../../libs/growth-ode/dist/index.js';
import { twoPhaseSize } from '../../libs/phantom/dist/growth.js';
import { createRng } from '../../libs/random/dist/index.js';

const [patients = '80', seed = '1'] = process.argv.slice(2);
const n = Number(patients);
if (!Number.isInteger(n) || n < 1 || !Number.isFinite(Number(seed))) {
  console.error('usage: node tools/demo/growth-target-estimators.mjs [PATIENTS >= 1] [SEED]');
  process.exit(2);
}
const DAYS = [0, 14, 21, 35, 49, 63, 90, 120, 150];
const RT_END = 63, RT_START = RT_END - 42, BASELINE = 150, FOLLOWUP = 210;
const mean = (a) => a.reduce((x, y) => x + y, 0) / a.length;
const median = (a) => [...a].sort((x, y) => x - y)[a.length >> 1];
const f3 = (v) => v.toFixed(3);

console.log(`${n} patients per noise level, seed ${seed}; |(1 + target) / (1 + true change) - 1|, mean (median)`);
console.log('| size noise sigma | fit to the sizes | bootstrap median, N(1, 0.1) | bootstrap median, reference noise |');
console.log('|---:|---:|---:|---:|');
for (const sigma of [0, 0.02, 0.05, 0.1]) {
  const rng = createRng(Number(seed), Math.round(sigma * 1000));
  const err = { fit: [], symmetric: [], reference: [] };
  for (let i = 0; i < n; i++) {
    // The phantom generator's ranges (libs/phantom, writePhantomDataset with varied patients).
    const p = {
      lambdaGr: 0.004 + 0.008 * rng.uniform(), lambdaDecay: 0.015 + 0.035 * rng.uniform(), delay: 10 + 20 * rng.uniform(),
      slope: 0.05 + 0.15 * rng.uniform(), survival: 0.05 + 0.15 * rng.uniform(),
    };
    const v0 = 500 + 1000 * rng.uniform();
    const truth = twoPhaseSize(FOLLOWUP, v0, RT_START, p) / twoPhaseSize(BASELINE, v0, RT_START, p) - 1;
    const sizes = DAYS.map((d) => twoPhaseSize(d, v0, RT_START, p) * Math.max(0.05, rng.normal(1, sigma)));
    const series = { times: DAYS, sizes, context: { rtEnd: RT_END } };
    const off = (d) => Math.abs((1 + d) / (1 + truth) - 1);
    err.fit.push(off(relativeChange(fitGrowth(twoPhaseRtModel, series, { normalize: true }), BASELINE, FOLLOWUP)));
    for (const noise of ['symmetric', 'reference']) {
      const b = bootstrapGrowth(twoPhaseRtModel, series, { normalize: true, replicates: 30, until: FOLLOWUP, seed: i, bootstrapNoise: noise });
      err[noise].push(off(relativeChange(b, BASELINE, FOLLOWUP)));
    }
  }
  console.log(`| ${sigma} | ${f3(mean(err.fit))} (${f3(median(err.fit))}) | ${f3(mean(err.symmetric))} (${f3(median(err.symmetric))}) | ${f3(mean(err.reference))} (${f3(median(err.reference))}) |`);
}
