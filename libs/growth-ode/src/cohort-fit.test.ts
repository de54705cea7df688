/* eslint-disable @typescript-eslint/no-explicit-any -- untyped JSON fixtures */
import { readFileSync } from 'node:fs';
import { describe, expect, it } from '@jest/globals';
import {
  exponentialLqModel, fitPatient, parseScenario, predictScenarios, simulateScenario, splitSeries, twoPhaseRtModel,
  type GrowthModel, type TreatmentScenario,
} from './index.js';

const fixture = JSON.parse(readFileSync(new URL('../test/fixtures/scenarios.json', import.meta.url), 'utf8')) as { cases: any[] };

describe('splitSeries (the reference code\'s patient configurations)', () => {
  const days = [0, 10, 20, 40, 80, 120];
  it('last_n fits all but the last n', () => {
    expect(splitSeries(days, { mode: 'last_n', n: 1 }, 5)).toEqual({ fit: [0, 1, 2, 3, 4], heldOut: [5], removed: [] });
    expect(splitSeries(days, { mode: 'last_n', n: 2 }, 5)).toEqual({ fit: [0, 1, 2, 3], heldOut: [4, 5], removed: [] });
  });
  it('remove_last_predict drops the last removeLast, then holds out predictRemaining', () => {
    expect(splitSeries(days, { mode: 'remove_last_predict', removeLast: 2, predictRemaining: 1 }, 5)).toEqual({ fit: [0, 1, 2], heldOut: [3], removed: [4, 5] });
    expect(splitSeries(days, { mode: 'remove_last_predict', removeLast: 0, predictRemaining: 2 }, 5)).toEqual({ fit: [0, 1, 2, 3], heldOut: [4, 5], removed: [] });
  });
  it('pre_rt_points fits the scans on or before the RT start', () => {
    expect(splitSeries(days, { mode: 'pre_rt_points' }, 20)).toEqual({ fit: [0, 1, 2], heldOut: [3, 4, 5], removed: [] });
    expect(splitSeries(days, { mode: 'pre_rt_points' }, 19.9)).toEqual({ fit: [0, 1], heldOut: [2, 3, 4, 5], removed: [] });
  });
  it('refuses a split that leaves no fitted or no held-out scan, and bad arguments', () => {
    expect(() => splitSeries([0, 10], { mode: 'last_n', n: 2 }, 5)).toThrow(/leaves 0 fitted and 2 held-out scans/);
    expect(() => splitSeries(days, { mode: 'pre_rt_points' }, -3)).toThrow(/RT start -3\) leaves 0 fitted/);
    expect(() => splitSeries(days, { mode: 'pre_rt_points' }, 500)).toThrow(/leaves 6 fitted and 0 held-out/);
    expect(() => splitSeries(days, { mode: 'remove_last_predict', removeLast: 5, predictRemaining: 1 }, 5)).toThrow(/leaves 0 fitted/);
    expect(() => splitSeries(days, { mode: 'last_n', n: 0 }, 5)).toThrow(/'split.n' passed to 'splitSeries'/);
    expect(() => splitSeries(days, { mode: 'first' } as never, 5)).toThrow(/'split.mode'/);
    expect(() => splitSeries([0, 0], { mode: 'last_n', n: 1 }, 5)).toThrow(/duplicate/);
  });
});

describe('simulateScenario against scipy (tools/growth-ode/make_scenario_fixtures.py)', () => {
  const models: Record<string, GrowthModel<any>> = { 'two-phase': twoPhaseRtModel as GrowthModel<any>, 'exponential-lq': exponentialLqModel as GrowthModel<any> };
  for (const c of fixture.cases) {
    it(`${c.model}: ${c.scenario.name} (1e-6 relative)`, () => {
      const model = models[c.model]!;
      // The context as a fit resolves it (the LQ models' schedule from the RT start).
      const ctx = model.resolveContext!(c.context, { t0: c.context.t0, tMax: 300 }, 'test');
      const { sizes } = simulateScenario(model, c.params, ctx, c.scenario as TreatmentScenario, c.times);
      sizes.forEach((y: number, i: number) => expect(Math.abs(y - c.sizes[i]) / c.sizes[i]).toBeLessThan(1e-6));
    });
  }

  it('no RT is plain exponential growth even where the damaged part overflows (a swelling (cosh ratio)^(1e5))', () => {
    const p = { lambdaGr: 0.01, lambdaDecay: 100, delay: 300, slope: 0.001, survival: 0.1, v0: 2 };
    const { sizes } = simulateScenario(twoPhaseRtModel, p, { t0: 0, rtStart: 20 }, { name: 'none', noRt: true }, [0, 50, 100]);
    [0, 50, 100].forEach((t, i) => expect(sizes[i]! / (2 * Math.exp(0.01 * t))).toBeCloseTo(1, 12));
    expect(simulateScenario(twoPhaseRtModel, p, { t0: 0, rtStart: 20 }, { name: 'as is' }, [100]).sizes[0]).toBe(Infinity);
  });

  it('says when a scenario field does not enter the model, or RT lies before the first scan', () => {
    const ctx = { t0: 0, rtStart: 20 };
    const p = { lambdaGr: 0.01, lambdaDecay: 0.04, delay: 15, slope: 0.3, survival: 0.1, v0: 1000 };
    expect(simulateScenario(twoPhaseRtModel, p, ctx, { name: 'short', courseDays: 21 }, [0, 50]).caveats[0]).toMatch(/one event at its start/);
    expect(simulateScenario(twoPhaseRtModel, p, { t0: 60, rtStart: 20 }, { name: 'later', rtStartShift: 5 }, [60]).caveats[0]).toMatch(/before the first scan/);
    expect(() => simulateScenario(twoPhaseRtModel, p, ctx, { name: 'a', alpha: 0.1 }, [0])).toThrow(/has no 'alpha'/);
    expect(() => simulateScenario(exponentialLqModel, { lambda: 0.01, alpha: 0.05, v0: 1 }, ctx, { name: 's', survival: 0.5 }, [0])).toThrow(/has no 'survival'/);
    expect(() => simulateScenario(twoPhaseRtModel, p, ctx, { name: 'x', survival: 1.5 }, [0])).toThrow(/'survival' must be in \(0, 1\]/);
    expect(() => simulateScenario(twoPhaseRtModel, p, ctx, { name: 'x', noRt: true, survival: 0.5 }, [0])).toThrow(/'noRt' takes no other/);
    expect(() => simulateScenario(twoPhaseRtModel, p, ctx, { name: 'x', rtStartShift: 1, rtStartDay: 3 }, [0])).toThrow(/not both/);
  });
});

describe('fitPatient and predictScenarios', () => {
  // The scipy trajectory of the two-phase model as treated: a noise-free patient.
  const truth = fixture.cases[0];
  const patient = { id: 'P1', times: truth.times, sizes: truth.sizes, rtStartDay: 20, split: { mode: 'last_n', n: 1 } as const };
  const fit = fitPatient(twoPhaseRtModel, patient, { replicates: 12, normalize: true, seed: 3 });

  it('fits the scans before the last one and predicts the last within its band', () => {
    expect(fit.baselineDay).toBe(240);
    expect(fit.followupDay).toBe(300);
    expect(fit.indices.heldOut).toEqual([13]);
    expect(fit.observed.followup).toBeCloseTo(truth.sizes[13], 9);
    expect(fit.followupBand[0]).toBeLessThanOrEqual(fit.observed.followup);
    expect(fit.followupBand[1]).toBeGreaterThanOrEqual(fit.observed.followup);
    // Noise-free data: the fit to the data predicts 60 days beyond the last fitted scan within 2 %;
    // the bootstrap median (replicates with 10 % noise) within 20 %.
    expect(Math.abs(fit.result.base.predict([300])[0]! / fit.observed.followup - 1)).toBeLessThan(0.02);
    expect(Math.abs(fit.predicted.followup / fit.observed.followup - 1)).toBeLessThan(0.2);
    expect(fit.quality.r2).toBeGreaterThan(0.99);
    expect(fit.quality.nrmse).toBeLessThan(0.05);
    expect(fit.relativeChange).toBeCloseTo(fit.predicted.followup / fit.predicted.baseline - 1, 12);
    expect(fit.observedChange).toBeCloseTo(truth.sizes[13] / truth.sizes[12] - 1, 12);
    expect(fit.heldOut.times).toEqual([300]);
  });

  it('scenarios: as treated is the bootstrap median; no RT grows more, a lower survival less', () => {
    const s = predictScenarios(fit.result, [{ name: 'as treated' }, { name: 'no RT', noRt: true }, { name: 'S 0.02', survival: 0.02 }, { name: 'later', rtStartShift: 14 }],
      { baselineDay: fit.baselineDay, followupDay: fit.followupDay });
    const [asIs, none, lowS, later] = s as [typeof s[0], typeof s[0], typeof s[0], typeof s[0]];
    expect(asIs.followup.median).toBeCloseTo(fit.predicted.followup, 6);
    expect(asIs.relativeChange).toBeCloseTo(fit.relativeChange, 6);
    expect(none.followup.median).toBeGreaterThan(2 * asIs.followup.median);
    expect(lowS.followup.median).toBeLessThan(asIs.followup.median);
    expect(later.rtStartDay).toBe(34);
    expect(none.rtStartDay).toBeUndefined();
    for (const x of s) {
      expect(x.lower.every((v, i) => v <= x.median[i]! && x.median[i]! <= x.upper[i]!)).toBe(true);
      expect(x.times).toContain(300);
    }
    expect(() => predictScenarios(fit.result, [{ name: 'x' }], { baselineDay: 300, followupDay: 240 })).toThrow(/follow-up after the baseline/);
    expect(() => predictScenarios(fit.result, [{ name: '' }], { baselineDay: 240, followupDay: 300 })).toThrow(/non-empty 'name'/);
  });

  it('overflowing replicates: infinite sizes count as the largest double (no NaN band), NaN runs are left out and counted', () => {
    const huge = { lambdaGr: 0.01, lambdaDecay: 100, delay: 300, slope: 0.001, survival: 0.1, v0: 1 };
    const tame = { lambdaGr: 0.01, lambdaDecay: 0.04, delay: 15, slope: 0.3, survival: 0.1, v0: 1 };
    const fitOf = (params: typeof huge) => ({ params, context: { t0: 0, rtStart: 20 }, scale: 1000 });
    const fake = { ...fit.result, fits: [fitOf(huge), fitOf(huge), fitOf(tame)], percentiles: [5, 95] as const };
    const [asIs, none] = predictScenarios(fake as never, [{ name: 'as is' }, { name: 'none', noRt: true }], { baselineDay: 10, followupDay: 100, times: [0, 10, 100] });
    expect(asIs!.followup.median).toBe(Number.MAX_VALUE);
    expect(asIs!.followup.upper).toBe(Number.MAX_VALUE);
    expect(Number.isFinite(asIs!.followup.lower)).toBe(true);
    expect(asIs!.fits).toBe(3);
    expect(none!.followup.median).toBeCloseTo(1000 * Math.exp(1), 9);
    // survival 0 x an overflowing damaged part is NaN: that replicate is left out.
    const [s0] = predictScenarios(fake as never, [{ name: 'S 1', survival: 1 }], { baselineDay: 10, followupDay: 100, times: [0, 10, 100] });
    expect(s0!.fits).toBe(1);
    expect(s0!.caveats).toContainEqual('2 of 3 bootstrap fits give no number under this scenario and are left out');
  });

  it('uses the population values for a short series and the pre-RT split', () => {
    const short = fitPatient(twoPhaseRtModel, { id: 'S', times: [0, 5, 10, 19.5, 60], sizes: [1000, 1051, 1105, 1216, 470], rtStartDay: 20, split: { mode: 'pre_rt_points' } },
      { replicates: 5, normalize: true, shortSeries: 'population', seed: 1 });
    expect(short.indices.fit).toEqual([0, 1, 2, 3]);
    expect(short.result.heldByFallback).toEqual(['slope', 'delay']);
    expect(Number.isFinite(short.relativeChange)).toBe(true);
  });

  it('names the patient in its errors', () => {
    expect(() => fitPatient(twoPhaseRtModel, { ...patient, followupDay: 240 })).toThrow(/^patient 'P1': 'patient.followupDay' passed to 'fitPatient' \(240\) must be a held-out scan day/);
    expect(() => fitPatient(twoPhaseRtModel, { ...patient, split: { mode: 'last_n', n: 14 } })).toThrow(/^patient 'P1': split last_n \(n = 14\)/);
    expect(() => fitPatient(twoPhaseRtModel, { ...patient, times: [0, 10, 20, 30], sizes: [1, 2, 3, 4], split: { mode: 'last_n', n: 1 } })).toThrow(/series 'P1'.*fitted points/);
    expect(() => fitPatient(twoPhaseRtModel, { ...patient, sizes: [1, 2] })).toThrow(/^patient 'P1': 'patient.sizes'/);
  });
});

describe('parseScenario', () => {
  it('reads the command-line form', () => {
    expect(parseScenario('later:shift=14')).toEqual({ name: 'later', rtStartShift: 14 });
    expect(parseScenario('x:start=3,course=21,survival=0.3')).toEqual({ name: 'x', rtStartDay: 3, courseDays: 21, survival: 0.3 });
    expect(parseScenario('none:no-rt')).toEqual({ name: 'none', noRt: true });
    expect(() => parseScenario('later')).toThrow(/expected name:key=value/);
    expect(() => parseScenario('a:speed=3')).toThrow(/unknown part 'speed=3'/);
    expect(() => parseScenario('a:shift=soon')).toThrow(/'shift' must be a number/);
    expect(() => parseScenario('a:survival=0')).toThrow(/\(0, 1\]/);
  });
});
