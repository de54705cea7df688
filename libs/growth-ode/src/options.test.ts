/* eslint-disable @typescript-eslint/no-explicit-any -- untyped JSON fixtures */
import { readFileSync } from 'node:fs';
import { describe, expect, it } from '@jest/globals';
import {
  bootstrapGrowth,
  exponentialLqModel,
  fitGrowth,
  simulate,
  TooFewPointsError,
  twoPhaseRtModel,
  TWO_PHASE_SHORT_SERIES,
  type TwoPhaseParams,
} from './index.js';

const fixture = (name: string): any => JSON.parse(readFileSync(new URL(`../test/fixtures/${name}`, import.meta.url), 'utf8'));
const maxRel = (a: readonly number[], b: readonly number[]): number => Math.max(...a.map((x, i) => Math.abs(x - b[i]!) / Math.abs(b[i]!)));

const truth: TwoPhaseParams = { lambdaGr: 0.012, lambdaDecay: 0.03, delay: 25, slope: 0.3, survival: 0.1, v0: 1000 };
const times = [0, 8, 20, 35, 50, 70, 95, 120, 160, 200, 250, 300];
const context = { rtStart: 10 };
const sizes = simulate(twoPhaseRtModel, truth, times, context);
const series = { id: 'synthetic', times, sizes, context };

/** numpy's default (linear) percentile, written out here rather than taken from the package. */
function numpyPercentile(values: readonly number[], q: number): number {
  const s = [...values].sort((a, b) => a - b);
  const pos = (q / 100) * (s.length - 1);
  const lo = Math.floor(pos);
  return s[lo]! + (s[Math.min(lo + 1, s.length - 1)]! - s[lo]!) * (pos - lo);
}

describe("objective: 'reference' (fourth powers) against scipy least_squares", () => {
  // Golden fits: tools/growth-ode/make_reference_fits.py (scipy trf, tol 1e-15, 12 starts; normalised sizes).
  const fx = fixture('reference_objective.json');
  // Tolerances: cost 1e-6 relative, parameters and trajectory 1e-4 relative. The two objectives' optima differ
  // by more than 3e-3 in delay (checked below), so these tolerances tell them apart.
  for (const c of fx.cases) {
    for (const objective of ['reference', 'least-squares'] as const) {
      it(`${c.name}, ${objective}: same cost, parameters and trajectory`, () => {
        const want = c.fits[objective];
        const fit = fitGrowth(twoPhaseRtModel, fx.series, { objective, normalize: true, fixed: c.fixed });
        expect(fit.ok).toBe(true);
        expect(fit.objective).toBe(objective);
        expect(fit.scale).toBe(fx.series.sizes[0]);
        expect(Math.abs(fit.convergence.cost - want.cost) / want.cost).toBeLessThan(1e-6);
        // slope is not identifiable when free (the cost is flat in it): compare the other parameters
        for (const k of Object.keys(want.params)) {
          if (k === 'slope' && !('slope' in c.fixed)) continue;
          expect(Math.abs((fit.params as any)[k] - want.params[k]) / want.params[k]).toBeLessThan(1e-4);
        }
        const predicted = fit.predict(want.grid).map((v) => v / fit.scale);
        expect(maxRel(predicted, want.predicted)).toBeLessThan(1e-4);
      });
    }
  }

  it('differs from ordinary least squares by more than the tolerance', () => {
    const c = fx.cases.find((k: any) => k.name === 'slope-held');
    expect(Math.abs(c.fits.reference.params.delay - c.fits['least-squares'].params.delay) / c.fits.reference.params.delay).toBeGreaterThan(3e-3);
    const ols = fitGrowth(twoPhaseRtModel, fx.series, { normalize: true, fixed: c.fixed });
    expect(ols.objective).toBe('least-squares');
    expect(Math.abs(ols.params.delay - c.fits.reference.params.delay) / c.fits.reference.params.delay).toBeGreaterThan(3e-3);
  });

  it('rejects an unknown objective', () => {
    expect(() => fitGrowth(twoPhaseRtModel, series, { objective: 'l1' as never })).toThrow(/'options.objective' passed to 'fitGrowth' must be 'least-squares' or 'reference', got l1/);
  });
});

describe('retrospective radiotherapy in fits', () => {
  it('recovers the parameters of a series whose RT ended before the first scan', () => {
    const ts = [100, 110, 125, 150, 180, 220, 270, 330, 400];
    const ctx = { t0: 100, rtEnd: 95 }; // RT days 53..95, first scan on day 100
    const p = { ...truth, v0: 700 };
    const y = simulate(twoPhaseRtModel, p, ts, ctx);
    for (const form of ['closed', 'ode'] as const) {
      const fit = fitGrowth(twoPhaseRtModel, { times: ts, sizes: y, context: { rtEnd: 95 } }, { form, starts: form === 'ode' ? 1 : 5 });
      expect(fit.ok).toBe(true);
      expect(fit.context.t0).toBe(100);
      expect(fit.context.rtStart).toBe(53);
      expect(maxRel(fit.predict([100, 200, 500]), simulate(twoPhaseRtModel, p, [100, 200, 500], ctx))).toBeLessThan(1e-3);
      expect(Math.abs(fit.params.lambdaGr - p.lambdaGr) / p.lambdaGr).toBeLessThan(1e-2);
    }
  });
});

describe("bootstrapNoise: 'reference'", () => {
  it("multiplies by N(1, 0.1) clipped to [0.001, 1], with a floor of 0.05 x the first size when normalised", () => {
    // One size far below the floor: 0.05 x 1000 = 50.
    const tiny = { ...series, sizes: sizes.map((s, i) => (i === 6 ? 1 : s)) };
    const boot = bootstrapGrowth(twoPhaseRtModel, tiny, { bootstrapNoise: 'reference', normalize: true, replicates: 20, starts: 1, seed: 5 });
    expect(boot.bootstrapNoise).toBe('reference');
    let unchanged = 0;
    let n = 0;
    for (const f of boot.fits) {
      f.sizes.forEach((v, i) => {
        const orig = tiny.sizes[i]!;
        if (i === 6) return void expect(v).toBe(50);
        expect(v).toBeLessThanOrEqual(orig);
        expect(v).toBeGreaterThanOrEqual(Math.max(50, 1e-3 * orig) - 1e-9);
        n++;
        if (v === orig) unchanged++;
      });
    }
    // P(N(1, 0.1) >= 1) = 1/2: about half the factors are exactly 1 (n = 220: 0.5 +- 0.034 sd).
    expect(unchanged / n).toBeGreaterThan(0.35);
    expect(unchanged / n).toBeLessThan(0.65);
  });

  it('floors at 0.05 size units without normalisation; the symmetric default also raises sizes', () => {
    const small = { ...series, sizes: sizes.map((s, i) => (i === 6 ? 0.01 : s)) };
    const ref = bootstrapGrowth(twoPhaseRtModel, small, { bootstrapNoise: 'reference', replicates: 5, starts: 1 });
    for (const f of ref.fits) expect(f.sizes[6]).toBe(0.05);
    const sym = bootstrapGrowth(twoPhaseRtModel, series, { replicates: 5, starts: 1 });
    expect(sym.bootstrapNoise).toBe('symmetric');
    expect(sym.fits.some((f) => f.sizes.some((v, i) => v > sizes[i]!))).toBe(true);
    expect(() => bootstrapGrowth(twoPhaseRtModel, series, { bootstrapNoise: 'gaussian' as never })).toThrow(/'options.bootstrapNoise' passed to 'bootstrapGrowth' must be 'symmetric' or 'reference'/);
  });
});

describe('refineFromBootstrap', () => {
  it("re-bounds lambdaGr, lambdaDecay and delay from the first pass as the reference's second pass does", () => {
    const boot = bootstrapGrowth(twoPhaseRtModel, series, { refineFromBootstrap: true, replicates: 12, starts: 2, seed: 2, normalize: true });
    expect(boot.ok).toBe(true);
    const r = boot.refinement!;
    expect(r.firstPass.nFailed).toBe(0);
    for (const k of ['lambdaGr', 'lambdaDecay', 'delay']) {
      const values = r.firstPass.params[k]!;
      const p90 = numpyPercentile(values, 90);
      const want = 1.1 * Math.max(...values.filter((v) => v <= p90));
      expect(r.upper[k]).toBeCloseTo(want, 12);
      expect(boot.base.bounds.upper[k as keyof TwoPhaseParams]).toBeCloseTo(want, 12);
      for (const f of boot.fits) expect((f.params as any)[k]).toBeLessThanOrEqual(r.upper[k]! * (1 + 1e-12));
    }
    expect(r.lower.delay).toBe(0);
    expect(r.initial.delay).toBe(Math.min(60, r.upper.delay!));
    expect(r.lower.lambdaGr).toBeCloseTo(0.001 / 1.1, 15);
    // slope, survival and v0 keep the default bounds
    expect(boot.base.bounds.upper.slope).toBeCloseTo(660, 9);
    // the second pass sees the same noisy data (same seed)
    expect(boot.nFailed).toBe(0);
    boot.fits.forEach((f, i) => expect(f.sizes).toEqual(r.firstPass.fits[i]!.sizes));
  });

  it('needs a model with those parameters free', () => {
    const ctx = { rtStart: 14 };
    const t = [0, 7, 14, 21, 28, 35, 42];
    const y = simulate(exponentialLqModel, { lambda: 0.02, alpha: 0.06, v0: 500 }, t, ctx);
    expect(() => bootstrapGrowth(exponentialLqModel, { times: t, sizes: y, context: ctx }, { refineFromBootstrap: true })).toThrow(
      /'options.refineFromBootstrap' passed to 'bootstrapGrowth' re-bounds lambdaGr, lambdaDecay, delay .* model 'exponential-lq' has none of them free/,
    );
    expect(() => bootstrapGrowth(twoPhaseRtModel, series, { refineFromBootstrap: 'yes' as never })).toThrow(/must be true or false/);
  });
});

describe('short series', () => {
  const short = { id: 'p3', times: [0, 60, 150], sizes: simulate(twoPhaseRtModel, truth, [0, 60, 150], context), context };

  it('is an error by default, naming the series, the options that help and the parameters', () => {
    let err: unknown;
    try {
      fitGrowth(twoPhaseRtModel, short);
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(TooFewPointsError);
    expect(err).toBeInstanceOf(RangeError);
    const e = err as TooFewPointsError;
    expect(e.message).toMatch(/^series 'p3': 'series' passed to 'fitGrowth' has 3 fitted points but model 'two-phase-rt' has 6 free parameters \(lambdaGr, lambdaDecay, delay, slope, survival, v0\)/);
    expect(e.message).toMatch(/'options.fixed' \(e.g. \{ slope: 1 \}\), or pass shortSeries: 'population' to hold slope, delay, survival/);
    expect(e.points).toBe(3);
    expect(e.freeParams).toHaveLength(6);
    expect(e.fallbackParams).toEqual(['slope', 'delay', 'survival']);
    expect(e.fallbackUsed).toBe(false);
  });

  it("holds slope, delay and survival at the population values with shortSeries: 'population'", () => {
    const fit = fitGrowth(twoPhaseRtModel, short, { shortSeries: 'population' });
    expect(fit.ok).toBe(true);
    expect(fit.heldByFallback).toEqual(['slope', 'delay', 'survival']);
    expect(fit.freeParams).toEqual(['lambdaGr', 'lambdaDecay', 'v0']);
    expect(fit.params.slope).toBe(TWO_PHASE_SHORT_SERIES.values.slope);
    expect(fit.params.delay).toBe(5);
    expect(fit.params.survival).toBe(0.001);
    expect(fit.notice).toMatch(/3 fitted points for 6 free parameters of model 'two-phase-rt': held slope = 1, delay = 5, survival = 0.001/);
    expect(fit.convergence.converged).toBe(true);
    // four points hold only slope and delay; a user-held parameter counts too
    const four = fitGrowth(twoPhaseRtModel, { ...short, times: [0, 60, 100, 150], sizes: simulate(twoPhaseRtModel, truth, [0, 60, 100, 150], context) }, { shortSeries: 'population' });
    expect(four.heldByFallback).toEqual(['slope', 'delay']);
    const user = fitGrowth(twoPhaseRtModel, short, { shortSeries: 'population', fixed: { delay: 20 } });
    expect(user.heldByFallback).toEqual(['slope', 'survival']);
    expect(user.params.delay).toBe(20);
    // enough points: nothing held, no notice
    const full = fitGrowth(twoPhaseRtModel, series, { shortSeries: 'population', starts: 1 });
    expect(full.heldByFallback).toEqual([]);
    expect(full.notice).toBeUndefined();
  });

  it('fits a 3-point series with fixed parameters and no fallback', () => {
    const fit = fitGrowth(twoPhaseRtModel, short, { fixed: { slope: 0.3, delay: 25, survival: 0.1 } });
    expect(fit.heldByFallback).toEqual([]);
    expect(Math.abs(fit.params.lambdaGr - truth.lambdaGr) / truth.lambdaGr).toBeLessThan(1e-4);
  });

  it('gives a 3-point series a prediction with a wide band that covers the truth', () => {
    const opts = { shortSeries: 'population' as const, normalize: true, times: [150, 250], seed: 1 };
    const boot = bootstrapGrowth(twoPhaseRtModel, short, opts);
    expect(boot.ok).toBe(true);
    expect(boot.heldByFallback).toEqual(['slope', 'delay', 'survival']);
    expect(boot.notice).toMatch(/draws slope log-uniformly in \[0.001, 600\]/);
    // the held parameters vary over the replicates, within their ranges
    const delays = boot.params.delay!;
    expect(new Set(delays).size).toBe(delays.length);
    for (const k of ['slope', 'delay', 'survival'] as const) {
      const [lo, hi] = TWO_PHASE_SHORT_SERIES.ranges![k]!;
      for (const v of boot.params[k]!) {
        expect(v).toBeGreaterThanOrEqual(lo);
        expect(v).toBeLessThanOrEqual(hi);
      }
    }
    const want = simulate(twoPhaseRtModel, truth, [250], context)[0]!;
    expect(boot.lower[1]).toBeLessThan(want);
    expect(boot.upper[1]).toBeGreaterThan(want);
    // much wider than the band of the 12-point series at the same day
    const long = bootstrapGrowth(twoPhaseRtModel, series, { normalize: true, times: [150, 250], seed: 1 });
    expect((boot.upper[1]! - boot.lower[1]!) / boot.median[1]!).toBeGreaterThan(10 * ((long.upper[1]! - long.lower[1]!) / long.median[1]!));
  });

  it('is an error below what the population values can rescue, saying what to hold', () => {
    const two = { id: 'p2', times: [0, 60], sizes: [1000, 700], context };
    expect(() => fitGrowth(twoPhaseRtModel, two, { shortSeries: 'population' })).toThrow(
      /^series 'p2': .*has 2 fitted points but model 'two-phase-rt' has 3 free parameters \(lambdaGr, lambdaDecay, v0\).*even with the population values \(slope, delay, survival\) held; hold more parameters with 'options.fixed', e.g. \{ lambdaGr: <value> \}/,
    );
    expect(fitGrowth(twoPhaseRtModel, two, { shortSeries: 'population', fixed: { lambdaDecay: 0.03 } }).ok).toBe(true);
    // a model without population values
    const t = [0, 7];
    expect(() => bootstrapGrowth(exponentialLqModel, { times: t, sizes: [1, 1.1], context: { rtStart: 14 } }, { shortSeries: 'population' })).toThrow(
      /has 2 fitted points but model 'exponential-lq' has 3 free parameters \(lambda, alpha, v0\): need at least as many points as free parameters; hold parameters with 'options.fixed'$/,
    );
    expect(() => fitGrowth(twoPhaseRtModel, short, { shortSeries: 'guess' as never })).toThrow(/'options.shortSeries' passed to 'fitGrowth' must be 'error' or 'population'/);
  });
});

describe('errors name the series', () => {
  it('prefixes input errors with the series id', () => {
    expect(() => fitGrowth(twoPhaseRtModel, { ...series, id: 'patient-7', sizes: sizes.map((s, i) => (i === 2 ? NaN : s)) })).toThrow(
      /^series 'patient-7': 'series.sizes' passed to 'fitGrowth' must hold finite numbers, got NaN at index 2 \(day 20\)/,
    );
    expect(() => bootstrapGrowth(twoPhaseRtModel, { ...series, id: 'patient-8' }, { replicates: 0 })).toThrow(/^series 'patient-8': 'options.replicates'/);
    // no id: no prefix
    expect(() => fitGrowth(twoPhaseRtModel, { times, sizes: sizes.slice(1), context })).toThrow(/^'series' passed to 'fitGrowth' must have as many sizes as times/);
  });
});
