/* eslint-disable @typescript-eslint/no-explicit-any -- untyped JSON fixtures and heterogeneous model lists in tests */
import { readFileSync } from 'node:fs';
import { describe, expect, it } from '@jest/globals';
import {
  createExponentialLqModel,
  exponentialLqModel,
  gompertzLqModel,
  logisticLqModel,
  simulate,
  standardSchedule,
  twoPhaseRtModel,
  type GrowthModel,
  type TwoPhaseParams,
} from './index.js';

const fixture = (name: string): any => JSON.parse(readFileSync(new URL(`../test/fixtures/${name}`, import.meta.url), 'utf8'));

function maxRel(a: number[], b: number[]): number {
  return Math.max(...a.map((x, i) => Math.abs(x - b[i]!) / Math.abs(b[i]!)));
}

const tp: TwoPhaseParams = { lambdaGr: 0.015, lambdaDecay: 0.04, delay: 20, slope: 0.5, survival: 0.08, v0: 1200 };

describe('standardSchedule', () => {
  it('gives 30 x 1.8 Gy on weekdays over six weeks', () => {
    const s = standardSchedule(100);
    expect(s).toHaveLength(30);
    expect(s.every((f) => f.dose === 1.8)).toBe(true);
    expect(s.slice(0, 6).map((f) => f.day)).toEqual([100, 101, 102, 103, 104, 107]);
    expect(s[29]!.day).toBe(139);
    expect(() => standardSchedule(NaN)).toThrow(/'rtStart' passed to 'standardSchedule'/);
    expect(() => standardSchedule(0, 2.5)).toThrow(/'fractions'/);
  });
});

describe('twoPhaseRtModel', () => {
  const times = [0, 5, 10, 29.9, 30, 31, 45, 60, 72, 100, 150, 300];
  it('closed form and ODE form agree to 1e-6 relative', () => {
    const sets: TwoPhaseParams[] = [
      tp,
      { lambdaGr: 0.02, lambdaDecay: 0.02, delay: 5, slope: 1, survival: 0.001, v0: 1 },
      { lambdaGr: 0.002, lambdaDecay: 1.5, delay: 100, slope: 300, survival: 0.2, v0: 50 },
      { lambdaGr: 1.9, lambdaDecay: 0.001, delay: 0.001, slope: 0.001, survival: 0.001, v0: 3 },
    ];
    for (const p of sets) {
      const ts = p.lambdaGr > 1 ? [0, 1, 2, 3, 4] : times;
      const ctx = { rtStart: p.lambdaGr > 1 ? 2 : 30 };
      const closed = simulate(twoPhaseRtModel, p, ts, ctx, { form: 'closed' });
      const ode = simulate(twoPhaseRtModel, p, ts, ctx, { form: 'ode' });
      expect(maxRel(ode, closed)).toBeLessThan(1e-6);
    }
  });

  it('is exponential before RT and continuous at the RT start', () => {
    const y = simulate(twoPhaseRtModel, tp, [0, 10, 30 - 1e-9, 30], { rtStart: 30 });
    expect(y[0]).toBe(1200);
    expect(y[1]).toBeCloseTo(1200 * Math.exp(0.15), 9);
    expect(Math.abs(y[3]! - y[2]!) / y[2]!).toBeLessThan(1e-9);
  });

  it('accepts rtEnd with the 42-day course', () => {
    const a = simulate(twoPhaseRtModel, tp, times, { rtStart: 30 });
    const b = simulate(twoPhaseRtModel, tp, times, { rtEnd: 72 });
    expect(b).toEqual(a);
    const c = simulate(twoPhaseRtModel, tp, times, { rtEnd: 60, courseDays: 30 });
    expect(c).toEqual(a);
  });

  it('uses t0 as the time origin', () => {
    const a = simulate(twoPhaseRtModel, tp, [0, 40, 90], { rtStart: 30 });
    const b = simulate(twoPhaseRtModel, tp, [100, 140, 190], { rtStart: 130, t0: 100 });
    expect(maxRel(b, a)).toBeLessThan(1e-12);
  });

  it('stays finite for extreme slopes and delays (no cosh overflow)', () => {
    const p = { ...tp, slope: 660, delay: 330, lambdaDecay: 0.5 };
    const y = simulate(twoPhaseRtModel, p, [0, 30, 100, 359, 361, 400], { rtStart: 30 });
    expect(y.every((v) => Number.isFinite(v) && v >= 0)).toBe(true);
  });

  it('matches the scipy solve_ivp/odeint golden trajectories to 1e-5', () => {
    for (const c of fixture('two_phase.json').cases) {
      for (const form of ['closed', 'ode'] as const) {
        const y = simulate(twoPhaseRtModel, c.params, c.times, c.context, { form });
        expect(maxRel(y, c.sizes)).toBeLessThan(1e-5);
      }
    }
  });

  describe('retrospective RT (RT start before t0)', () => {
    it('matches the scipy trajectories integrated from the RT start (1e-5)', () => {
      const cases = fixture('retrospective.json').cases.filter((c: any) => c.model === 'two-phase');
      expect(cases.length).toBe(3);
      for (const c of cases) {
        expect(c.context.rtStart).toBeLessThan(c.context.t0);
        for (const form of ['closed', 'ode'] as const) {
          const y = simulate(twoPhaseRtModel, c.params, c.times, c.context, { form });
          expect(maxRel(y, c.sizes)).toBeLessThan(1e-5);
        }
      }
    });

    it('keeps v0 as the size at t0 and differs from ignoring the earlier RT', () => {
      const y = simulate(twoPhaseRtModel, tp, [0, 60], { rtStart: -20 });
      expect(y[0]).toBeCloseTo(tp.v0, 9);
      // Without the event the series would grow exponentially from v0.
      expect(Math.abs(y[1]! - tp.v0 * Math.exp(tp.lambdaGr * 60)) / y[1]!).toBeGreaterThan(0.1);
    });

    it('is continuous as the RT start approaches t0 from below', () => {
      const ts = [0, 10, 50, 200];
      const at = simulate(twoPhaseRtModel, tp, ts, { rtStart: 0 });
      for (const form of ['closed', 'ode'] as const) {
        const before = simulate(twoPhaseRtModel, tp, ts, { rtStart: -1e-7 }, { form });
        expect(maxRel(before, at)).toBeLessThan(1e-6);
      }
    });

    it('accepts an RT end before the first scan (42-day course) and stays finite long after', () => {
      const a = simulate(twoPhaseRtModel, tp, [100, 150], { t0: 100, rtEnd: 90 });
      const b = simulate(twoPhaseRtModel, tp, [100, 150], { t0: 100, rtStart: 48 });
      expect(a).toEqual(b);
      const far = simulate(twoPhaseRtModel, { ...tp, lambdaGr: 2.2, slope: 660 }, [0, 10], { rtStart: -3000 });
      expect(far.every(Number.isFinite)).toBe(true);
      expect(far[0]).toBeCloseTo(tp.v0, 6);
    });
  });

  it('rejects bad times, parameters and RT dates', () => {
    expect(() => simulate(twoPhaseRtModel, tp, [0, 10], {})).toThrow(/'context' passed to 'simulate' must give 'rtStart' or 'rtEnd'/);
    expect(() => simulate(twoPhaseRtModel, tp, [0, 10], { rtStart: -3651 })).toThrow(/out of range: RT start -3651 is more than 3650 days before the first time t0=0/);
    expect(() => simulate(twoPhaseRtModel, tp, [0, 10], { rtEnd: -3610 })).toThrow(/out of range.*RT start -3652/);
    expect(() => simulate(twoPhaseRtModel, tp, [0, 10], { rtStart: 1e6 })).toThrow(/out of range/);
    expect(() => simulate(twoPhaseRtModel, tp, [0, 10], { rtStart: NaN })).toThrow(/finite/);
    expect(() => simulate(twoPhaseRtModel, tp, [10, 5], { rtStart: 0 })).toThrow(/'times' passed to 'simulate' must be sorted/);
    expect(() => simulate(twoPhaseRtModel, tp, [], { rtStart: 0 })).toThrow(/'times'/);
    expect(() => simulate(twoPhaseRtModel, tp, [-1, 5], { rtStart: 0 })).toThrow(/>= context.t0/);
    expect(() => simulate(twoPhaseRtModel, { ...tp, slope: NaN }, [0, 5], { rtStart: 0 })).toThrow(/'params.slope' passed to 'simulate'/);
    expect(() => simulate(twoPhaseRtModel, tp, [0, 5], { rtStart: 0 }, { form: 'x' as never })).toThrow(/'options.form'/);
  });
});

describe('simulate with a user model (ODE only)', () => {
  it('integrates the ODE with jumps when there is no closed form', () => {
    const model: GrowthModel<{ r: number; y0: number }> = {
      name: 'halving',
      paramNames: ['r', 'y0'],
      stateSize: 1,
      initialState: (p) => [p.y0],
      rhs: (_t, y, d, p) => void (d[0] = p.r * y[0]!),
      jumps: () => [{ t: 5, apply: (y) => void (y[0]! *= 0.5) }],
      output: (y) => y[0]!,
    };
    const y = simulate(model, { r: 0.1, y0: 2 }, [0, 4, 5, 10]);
    const want = [2, 2 * Math.exp(0.4), Math.exp(0.5), Math.exp(1)];
    expect(maxRel(y, want)).toBeLessThan(1e-8);
    expect(simulate(model, { r: 0.1, y0: 2 }, [0, 0])).toEqual([2, 2]);
    expect(() => simulate(model, { r: 0.1, y0: 2 }, [0, 1], undefined, { form: 'closed' })).toThrow(/has no closed form/);
  });
});

describe('LQ models', () => {
  const models: Record<string, GrowthModel<any>> = { exponential: exponentialLqModel, logistic: logisticLqModel, gompertz: gompertzLqModel };

  it('closed forms agree with the ODE forms and the scipy golden trajectories (1e-5)', () => {
    for (const c of fixture('lq_models.json').cases) {
      const model = models[c.model]!;
      const closed = simulate(model, c.params, c.times, c.context, { form: 'closed' });
      const ode = simulate(model, c.params, c.times, c.context, { form: 'ode' });
      expect(maxRel(closed, c.sizes)).toBeLessThan(1e-5);
      expect(maxRel(ode, c.sizes)).toBeLessThan(1e-5);
      expect(maxRel(ode, closed)).toBeLessThan(1e-6);
      // explicit schedule equals the default one
      const explicit = simulate(model, c.params, c.times, { t0: c.context.t0, schedule: c.schedule });
      expect(maxRel(explicit, closed)).toBeLessThan(1e-12);
    }
  });

  it('applies S = exp(-alpha d - beta d^2) per fraction', () => {
    const p = { lambda: 0, alpha: 0.3, v0: 10 };
    const m = createExponentialLqModel({ alphaBetaRatio: 3 });
    const [before, after] = simulate(m, p, [4.5, 200], { schedule: [{ day: 5, dose: 2 }, { day: 6, dose: 2 }] });
    expect(before).toBe(10);
    const s = Math.exp(-0.3 * 2 - 0.1 * 4);
    expect(after).toBeCloseTo(10 * s * s, 12);
    expect(() => createExponentialLqModel({ alphaBetaRatio: 0 })).toThrow(/alphaBetaRatio/);
  });

  it('start from v0 at t0 after fractions before it (retrospective RT), as scipy from a pre-RT size (1e-5)', () => {
    const cases = fixture('retrospective.json').cases.filter((c: any) => c.model !== 'two-phase');
    expect(cases.length).toBe(3);
    for (const c of cases) {
      const model = models[c.model]!;
      expect(c.schedule[0].day).toBeLessThan(c.context.t0);
      for (const form of ['closed', 'ode'] as const) {
        expect(maxRel(simulate(model, c.params, c.times, c.context, { form }), c.sizes)).toBeLessThan(1e-5);
        expect(maxRel(simulate(model, c.params, c.times, { t0: c.context.t0, schedule: c.schedule }, { form }), c.sizes)).toBeLessThan(1e-5);
      }
    }
  });

  it('rejects a bad schedule', () => {
    const p = { lambda: 0.01, alpha: 0.1, v0: 1 };
    expect(() => simulate(exponentialLqModel, p, [0, 10], { schedule: [{ day: -3651, dose: 2 }] })).toThrow(/out of range: fraction 0 on day -3651 is more than 3650 days before t0=0/);
    expect(() => simulate(exponentialLqModel, p, [0, 10], { schedule: [{ day: 3, dose: -2 }] })).toThrow(/doses >= 0/);
    expect(() => simulate(exponentialLqModel, p, [0, 10], {})).toThrow(/rtStart/);
  });
});
