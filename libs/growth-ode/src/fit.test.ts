/* eslint-disable @typescript-eslint/no-explicit-any -- untyped JSON fixtures and heterogeneous model lists in tests */
import { describe, expect, it } from '@jest/globals';
import { Rng } from '@tumorcast/random';
import {
  bootstrapGrowth,
  exponentialLqModel,
  fitGrowth,
  gompertzLqModel,
  leastSquaresBounded,
  logisticLqModel,
  relativeChange,
  simulate,
  twoPhaseRtModel,
  type GrowthModel,
  type TwoPhaseParams,
} from './index.js';
import { samplePercentile } from './fit.js';

const truth: TwoPhaseParams = { lambdaGr: 0.012, lambdaDecay: 0.03, delay: 25, slope: 0.3, survival: 0.1, v0: 1000 };
const times = [0, 8, 20, 35, 50, 70, 95, 120, 160, 200, 250, 300];
const context = { rtStart: 10 };
const sizes = simulate(twoPhaseRtModel, truth, times, context);
const series = { id: 'synthetic', times, sizes, context };

function expectParamsClose(got: Record<string, number>, want: Record<string, number>, rel: number): void {
  for (const k of Object.keys(want)) expect(Math.abs(got[k]! - want[k]!) / Math.abs(want[k]!)).toBeLessThan(rel);
}

describe('leastSquaresBounded', () => {
  it('solves a linear problem and respects bounds', () => {
    // r = A x - b with solution (1, 2); bound x1 <= 1.5 makes x1 active
    const res = (x: readonly number[]): number[] => [x[0]! + x[1]! - 3, x[0]! - x[1]! + 1, 2 * x[0]! - 2];
    const free = leastSquaresBounded(res, [0, 0], [-10, -10], [10, 10]);
    expect(free.converged).toBe(true);
    expect(free.x[0]).toBeCloseTo(1, 8);
    expect(free.x[1]).toBeCloseTo(2, 8);
    const bounded = leastSquaresBounded(res, [0, 0], [-10, -10], [10, 1.5]);
    expect(bounded.x[1]).toBe(1.5);
    // x0 minimising with x1 = 1.5: r = [x-1.5, x-0.5, 2x-2] -> 6x = 2 + 4 -> x = 1
    expect(bounded.x[0]).toBeCloseTo(1, 8);
  });

  it('fits Rosenbrock-style curved valleys', () => {
    const res = (x: readonly number[]): number[] => [10 * (x[1]! - x[0]! * x[0]!), 1 - x[0]!];
    const r = leastSquaresBounded(res, [-1.2, 1], [-5, -5], [5, 5]);
    expect(r.x[0]).toBeCloseTo(1, 6);
    expect(r.x[1]).toBeCloseTo(1, 6);
  });

  it('converges with Broyden secant updates and confirms with a fresh Jacobian', () => {
    const res = (x: readonly number[]): number[] => [10 * (x[1]! - x[0]! * x[0]!), 1 - x[0]!, 0.5 * (x[0]! + x[1]! - 2)];
    const fd = leastSquaresBounded(res, [-1.2, 1], [-5, -5], [5, 5]);
    const sec = leastSquaresBounded(res, [-1.2, 1], [-5, -5], [5, 5], { secantUpdates: 3 });
    expect(sec.converged).toBe(true);
    expect(sec.x[0]).toBeCloseTo(1, 6);
    expect(sec.x[1]).toBeCloseTo(1, 6);
    expect(sec.cost).toBeLessThan(1e-12);
    expect(fd.x[0]).toBeCloseTo(1, 6);
  });

  it('reports a non-finite start as failed and rejects bad bounds', () => {
    expect(leastSquaresBounded(() => [NaN], [1], [0], [2]).status).toBe('failed');
    expect(() => leastSquaresBounded(() => [1], [1], [2], [0])).toThrow(/lower <= upper/);
    expect(() => leastSquaresBounded(() => [1], [1], [0, 1], [2])).toThrow(/length/);
  });
});

describe('fitGrowth', () => {
  it('recovers the two-phase parameters from a noise-free series', () => {
    const fit = fitGrowth(twoPhaseRtModel, series);
    expect(fit.ok).toBe(true);
    expect(fit.convergence.converged).toBe(true);
    expectParamsClose(fit.params, truth, 1e-5);
    expect(fit.r2).toBeGreaterThan(1 - 1e-12);
    expect(fit.rmse).toBeLessThan(1e-6);
    expect(fit.residuals).toHaveLength(times.length);
    expect(fit.seriesId).toBe('synthetic');
    expect(fit.context.t0).toBe(0);
    expect(fit.context.rtStart).toBe(10);
  });

  it('recovers the two-phase parameters with the ODE form too', () => {
    const fit = fitGrowth(twoPhaseRtModel, series, { form: 'ode', starts: 1 });
    expect(fit.ok).toBe(true);
    expectParamsClose(fit.params, truth, 1e-4);
  });

  it('recovers the parameters approximately from a noisy series', () => {
    const rng = new Rng(7);
    const noisy = sizes.map((s) => s * rng.normal(1, 0.03));
    const fit = fitGrowth(twoPhaseRtModel, { ...series, sizes: noisy }, { starts: 8 });
    expect(fit.ok).toBe(true);
    expect(fit.r2).toBeGreaterThan(0.99);
    expect(fit.nrmse).toBeLessThan(0.05);
    expectParamsClose(fit.params, { lambdaGr: truth.lambdaGr, delay: truth.delay, v0: truth.v0 }, 0.15);
    expect(Math.abs(fit.params.survival - truth.survival)).toBeLessThan(0.05);
  });

  it('normalises to the first measurement and predicts in the original units', () => {
    const fit = fitGrowth(twoPhaseRtModel, series, { normalize: true });
    expect(fit.scale).toBe(1000);
    expect(fit.params.v0).toBeCloseTo(1, 5);
    expect(fit.bounds.lower.v0).toBeCloseTo(0.9, 12);
    const y = fit.predict([0, 150, 300]);
    const want = simulate(twoPhaseRtModel, truth, [0, 150, 300], context);
    y.forEach((v, i) => expect(Math.abs(v - want[i]!) / want[i]!).toBeLessThan(1e-5));
  });

  it("uses the paper bounds (upper x 1.1, the rates' lower / 1.1) as defaults", () => {
    const fit = fitGrowth(twoPhaseRtModel, series, { starts: 1 });
    expect(fit.bounds.lower).toEqual({ lambdaGr: 0.001 / 1.1, lambdaDecay: 0.001 / 1.1, delay: 0.001, slope: 0.001, survival: 0.001, v0: 900 });
    expect(fit.bounds.upper.lambdaGr).toBeCloseTo(2.2, 12);
    expect(fit.bounds.upper.slope).toBeCloseTo(660, 9);
    expect(fit.bounds.upper.survival).toBeCloseTo(0.22, 12);
    expect(fit.bounds.upper.v0).toBeCloseTo(1100, 9);
    expect(fit.bounds.initial).toEqual({ lambdaGr: 0.02, lambdaDecay: 0.02, delay: 5, slope: 1, survival: 0.001, v0: 1000 });
  });

  it('holds parameters fixed and keeps the fit within user bounds', () => {
    const fit = fitGrowth(twoPhaseRtModel, series, { fixed: { slope: 0.3 }, upper: { delay: 20 }, starts: 2 });
    expect(fit.params.slope).toBe(0.3);
    expect(fit.freeParams).not.toContain('slope');
    expect(fit.params.delay).toBeLessThanOrEqual(20);
  });

  it('holds out the last points and predicts them', () => {
    const fit = fitGrowth(twoPhaseRtModel, series, { holdOut: 2 });
    expect(fit.nFit).toBe(10);
    expect(fit.residuals).toHaveLength(10);
    expect(fit.heldOut!.times).toEqual([250, 300]);
    expect(fit.heldOut!.rmse).toBeLessThan(1e-3);
    expect(fit.heldOut!.predicted[1]).toBeCloseTo(sizes[11]!, 3);
  });

  it('fits the LQ models to their own synthetic data', () => {
    const ctx = { rtStart: 14 };
    const t = [0, 7, 14, 21, 28, 35, 42, 56, 84, 120, 180];
    const cases: [GrowthModel<any>, Record<string, number>][] = [
      [exponentialLqModel, { lambda: 0.02, alpha: 0.06, v0: 500 }],
      [logisticLqModel, { lambda: 0.03, capacity: 4000, alpha: 0.08, v0: 500 }],
      [gompertzLqModel, { lambda: 0.01, capacity: 6000, alpha: 0.07, v0: 500 }],
    ];
    for (const [model, p] of cases) {
      const y = simulate(model, p, t, ctx);
      const fit = fitGrowth(model, { times: t, sizes: y, context: ctx });
      expect(fit.ok).toBe(true);
      expectParamsClose(fit.params, p, 1e-4);
    }
  });

  it('returns a failed result with a reason when the model cannot be evaluated', () => {
    const broken: GrowthModel<{ a: number }> = {
      name: 'broken',
      paramNames: ['a'],
      stateSize: 1,
      initialState: (p) => [p.a],
      rhs: (_t, _y, d) => void (d[0] = NaN),
      output: (y) => y[0]!,
      parameterDefaults: () => ({ initial: { a: 1 }, lower: { a: 0 }, upper: { a: 2 } }),
    };
    const fit = fitGrowth(broken, { times: [0, 1, 2], sizes: [1, 2, 3] }, { starts: 2 });
    expect(fit.ok).toBe(false);
    expect(fit.reason).toMatch(/could not be evaluated/);
    expect(fit.convergence.status).toBe('failed');
    expect(() => relativeChange(fit, 0, 1)).toThrow(/failed fit/);
  });

  it('fits a user-defined model without defaults when initial and bounds are given', () => {
    const decay: GrowthModel<{ k: number; y0: number }> = {
      name: 'decay',
      paramNames: ['k', 'y0'],
      stateSize: 1,
      initialState: (p) => [p.y0],
      rhs: (_t, y, d, p) => void (d[0] = -p.k * y[0]!),
      output: (y) => y[0]!,
    };
    const t = [0, 1, 2, 4, 8];
    const y = t.map((x) => 5 * Math.exp(-0.3 * x));
    const fit = fitGrowth(decay, { times: t, sizes: y }, { initial: { k: 1, y0: 1 }, lower: { k: 0, y0: 0 }, upper: { k: 5, y0: 50 }, starts: 1 });
    expectParamsClose(fit.params, { k: 0.3, y0: 5 }, 1e-4);
    expect(() => fitGrowth(decay, { times: t, sizes: y })).toThrow(/'options.initial.k' passed to 'fitGrowth' must be given/);
  });

  describe('bad input', () => {
    it('rejects fewer points than free parameters', () => {
      expect(() => fitGrowth(twoPhaseRtModel, { times: [0, 20, 40, 60, 80], sizes: [1, 2, 1, 1, 1], context })).toThrow(
        /'series' passed to 'fitGrowth' has 5 fitted points but model 'two-phase-rt' has 6 free parameters/,
      );
      expect(() => fitGrowth(twoPhaseRtModel, series, { holdOut: 7 })).toThrow(/5 fitted points \(12 minus 7 held out\)/);
      // fixing parameters lowers the requirement
      expect(fitGrowth(twoPhaseRtModel, { times: [0, 20, 40, 60, 80], sizes: sizes.slice(0, 5), context }, { fixed: { slope: 1 }, starts: 1 }).ok).toBe(true);
    });

    it('rejects unsorted and duplicate times', () => {
      expect(() => fitGrowth(twoPhaseRtModel, { ...series, times: [0, 20, 8, ...times.slice(3)] })).toThrow(/'series.times' passed to 'fitGrowth' must be sorted/);
      expect(() => fitGrowth(twoPhaseRtModel, { ...series, times: [0, 8, 8, ...times.slice(3)] })).toThrow(/duplicate times, got 8 twice/);
      expect(() => fitGrowth(twoPhaseRtModel, { ...series, times: [NaN, ...times.slice(1)] })).toThrow(/finite/);
    });

    it('rejects NaN, negative and mismatched sizes', () => {
      const bad = (i: number, v: number): number[] => sizes.map((s, j) => (j === i ? v : s));
      expect(() => fitGrowth(twoPhaseRtModel, { ...series, sizes: bad(3, NaN) })).toThrow(/'series.sizes' passed to 'fitGrowth' must hold finite numbers, got NaN at index 3/);
      expect(() => fitGrowth(twoPhaseRtModel, { ...series, sizes: bad(4, -1) })).toThrow(/must be >= 0, got -1 at index 4/);
      expect(() => fitGrowth(twoPhaseRtModel, { ...series, sizes: bad(0, 0) })).toThrow(/start with a size > 0/);
      expect(() => fitGrowth(twoPhaseRtModel, { ...series, sizes: sizes.slice(1) })).toThrow(/as many sizes as times/);
    });

    it('rejects RT dates out of range', () => {
      expect(() => fitGrowth(twoPhaseRtModel, { ...series, context: { rtStart: -3700 } })).toThrow(/series 'synthetic': 'context.rtStart' passed to 'fitGrowth' is out of range/);
      expect(() => fitGrowth(twoPhaseRtModel, { ...series, context: { rtEnd: -3610 } })).toThrow(/out of range.*RT start -3652/);
      expect(() => fitGrowth(twoPhaseRtModel, { ...series, context: { rtStart: 10000 } })).toThrow(/out of range/);
      expect(() => fitGrowth(twoPhaseRtModel, { ...series, context: {} })).toThrow(/must give 'rtStart' or 'rtEnd'/);
    });

    it('rejects bad options', () => {
      expect(() => fitGrowth(twoPhaseRtModel, series, { starts: 0 })).toThrow(/'options.starts'/);
      expect(() => fitGrowth(twoPhaseRtModel, series, { holdOut: -1 })).toThrow(/'options.holdOut'/);
      expect(() => fitGrowth(twoPhaseRtModel, series, { fixed: { nope: 1 } as never })).toThrow(/not a parameter/);
      expect(() => fitGrowth(twoPhaseRtModel, series, { lower: { delay: 50 }, upper: { delay: 40 } })).toThrow(/lower <= upper/);
      expect(() => fitGrowth(twoPhaseRtModel, series, { initial: { delay: 500 } })).toThrow(/within its bounds/);
      expect(() => fitGrowth(null as never, series)).toThrow(/'model' passed to 'fitGrowth'/);
      expect(() => fitGrowth(twoPhaseRtModel, series, { context: { t0: 5 } })).toThrow(/'context.t0'/);
    });
  });
});

describe('bootstrapGrowth', () => {
  it('gives a seeded median trajectory, a band and parameter distributions', () => {
    const boot = bootstrapGrowth(twoPhaseRtModel, series, { starts: 1, seed: 3 });
    expect(boot.ok).toBe(true);
    expect(boot.replicates).toBe(30);
    expect(boot.fits.length + boot.nFailed).toBe(30);
    expect(boot.times).toHaveLength(121);
    expect(boot.times[120]).toBe(300);
    for (let i = 0; i < boot.times.length; i++) {
      expect(boot.lower[i]).toBeLessThanOrEqual(boot.median[i]!);
      expect(boot.median[i]).toBeLessThanOrEqual(boot.upper[i]!);
    }
    // the band covers the truth for most of the span
    const truthGrid = simulate(twoPhaseRtModel, truth, boot.times, context);
    const covered = truthGrid.filter((v, i) => v >= boot.lower[i]! && v <= boot.upper[i]!).length;
    expect(covered / truthGrid.length).toBeGreaterThan(0.8);
    expect(boot.params.delay).toHaveLength(boot.fits.length);
    const lambdaGr = boot.paramSummary.lambdaGr!;
    expect(lambdaGr.lower).toBeLessThanOrEqual(lambdaGr.median);
    expect(Math.abs(lambdaGr.median - truth.lambdaGr) / truth.lambdaGr).toBeLessThan(0.2);
    // deterministic for a seed
    const again = bootstrapGrowth(twoPhaseRtModel, series, { starts: 1, seed: 3 });
    expect(again.median).toEqual(boot.median);
    const other = bootstrapGrowth(twoPhaseRtModel, series, { starts: 1, seed: 4, replicates: 5 });
    expect(other.median).not.toEqual(boot.median.slice(0, 5));
  });

  it('clamps a user starting value into the bounds that follow the noisy data', () => {
    // v0 = 1099 is inside +-10 % of 1000 but outside it for many noisy replicates
    const boot = bootstrapGrowth(twoPhaseRtModel, series, { starts: 1, replicates: 10, initial: { v0: 1099 }, noiseStd: 0.2 });
    expect(boot.ok).toBe(true);
    expect(boot.fits.length + boot.nFailed).toBe(10);
  });

  it('predicts held-out points with the median and honours the grid options', () => {
    const boot = bootstrapGrowth(twoPhaseRtModel, series, { starts: 1, replicates: 8, holdOut: 1, until: 400, gridPoints: 11, percentiles: [10, 90] });
    expect(boot.times).toEqual([0, 40, 80, 120, 160, 200, 240, 280, 320, 360, 400]);
    expect(boot.heldOut!.times).toEqual([300]);
    expect(boot.heldOut!.lower[0]).toBeLessThanOrEqual(boot.heldOut!.upper[0]!);
    expect(boot.percentiles).toEqual([10, 90]);
    expect(() => bootstrapGrowth(twoPhaseRtModel, series, { replicates: 0 })).toThrow(/'options.replicates' passed to 'bootstrapGrowth'/);
    expect(() => bootstrapGrowth(twoPhaseRtModel, series, { percentiles: [95, 5] })).toThrow(/'options.percentiles'/);
    expect(() => bootstrapGrowth(twoPhaseRtModel, series, { noiseStd: -1 })).toThrow(/'options.noiseStd'/);
    expect(() => bootstrapGrowth(twoPhaseRtModel, series, { times: [-5, 10] })).toThrow(/'options.times'/);
  });
});

describe('relativeChange', () => {
  it('is y(tf) / y(tb) - 1 of the fitted trajectory', () => {
    const fit = fitGrowth(twoPhaseRtModel, series, { starts: 1 });
    const [yb, yf] = simulate(twoPhaseRtModel, truth, [50, 120], context);
    expect(relativeChange(fit, 50, 120)).toBeCloseTo(yf! / yb! - 1, 6);
    expect(relativeChange(fit, 120, 50)).toBeCloseTo(yb! / yf! - 1, 6);
    expect(relativeChange(fit, 70, 70)).toBe(0);
    expect(() => relativeChange(fit, -1, 5)).toThrow(/'tBaseline' passed to 'relativeChange' must be >= t0/);
    expect(() => relativeChange(fit, 0, NaN)).toThrow(/'tFollowup'/);
    expect(() => relativeChange({} as never, 0, 1)).toThrow(/'fit' passed to 'relativeChange'/);
  });

  it('uses the median trajectory of a bootstrap', () => {
    const boot = bootstrapGrowth(twoPhaseRtModel, series, { starts: 1, replicates: 10 });
    const [mb, mf] = boot.predict([0, 200]);
    expect(relativeChange(boot, 0, 200)).toBeCloseTo(mf! / mb! - 1, 12);
  });
});

describe('bootstrap percentiles', () => {
  it('interpolate linearly like numpy; NaN without values or with a NaN among them (numpy gives NaN too)', () => {
    expect(samplePercentile([1, 2, 3, 4], 50)).toBe(2.5);
    expect(samplePercentile([4, 1, 3, 2], 5)).toBeCloseTo(1.15, 12);
    expect(samplePercentile([], 50)).toBeNaN();
    expect(samplePercentile([1, Number.NaN, 3], 50)).toBeNaN();
  });
});
