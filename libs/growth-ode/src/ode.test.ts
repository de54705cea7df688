import { describe, expect, it } from '@jest/globals';
import { OdeError, solveIvp } from './ode.js';

function relErr(a: number, b: number): number {
  return Math.abs(a - b) / Math.max(Math.abs(b), 1e-300);
}

describe('solveIvp', () => {
  it('integrates exponential growth to the requested tolerance', () => {
    const tEval = [0, 0.5, 1, 2.5, 5, 10];
    const sol = solveIvp((_t, y, d) => void (d[0] = 0.7 * y[0]!), [0, 10], [2], { rtol: 1e-10, atol: 1e-12, tEval });
    expect(sol.t).toEqual(tEval);
    sol.y.forEach((y, i) => expect(relErr(y[0]!, 2 * Math.exp(0.7 * tEval[i]!))).toBeLessThan(1e-8));
  });

  it('integrates logistic growth', () => {
    const r = 0.3;
    const k = 50;
    const exact = (t: number): number => (k * 1) / (1 + (k - 1) * Math.exp(-r * t));
    const sol = solveIvp((_t, y, d) => void (d[0] = r * y[0]! * (1 - y[0]! / k)), [0, 40], [1], { rtol: 1e-9, atol: 1e-12 });
    sol.t.forEach((t, i) => expect(relErr(sol.y[i]![0]!, exact(t))).toBeLessThan(1e-7));
    expect(sol.t[sol.t.length - 1]).toBe(40);
  });

  it('integrates a harmonic oscillator and keeps errors within tolerance scale', () => {
    const w = 2;
    const tEval = Array.from({ length: 21 }, (_, i) => i * 0.5);
    for (const rtol of [1e-4, 1e-7, 1e-10]) {
      const sol = solveIvp(
        (_t, y, d) => {
          d[0] = y[1]!;
          d[1] = -w * w * y[0]!;
        },
        [0, 10],
        [1, 0],
        { rtol, atol: rtol * 1e-2, tEval },
      );
      const err = Math.max(...sol.y.map((y, i) => Math.abs(y[0]! - Math.cos(w * tEval[i]!))));
      expect(err).toBeLessThan(rtol * 100);
    }
  });

  it('default tolerances match scipy RK45 accuracy class', () => {
    const sol = solveIvp((_t, y, d) => void (d[0] = -y[0]!), [0, 5], [1]);
    const last = sol.y[sol.y.length - 1]![0]!;
    expect(relErr(last, Math.exp(-5))).toBeLessThan(1e-2);
    expect(sol.nSteps).toBeGreaterThan(3);
    expect(sol.nfev).toBeGreaterThanOrEqual(6 * sol.nSteps);
  });

  it('provides dense output agreeing with the closed form', () => {
    const sol = solveIvp((_t, y, d) => void (d[0] = 0.2 * y[0]!), [0, 10], [1], { rtol: 1e-10, atol: 1e-14, denseOutput: true });
    for (const t of [0, 0.123, 3.3, 7.77, 10]) expect(relErr(sol.sol!(t)[0]!, Math.exp(0.2 * t))).toBeLessThan(1e-8);
    expect(() => sol.sol!(11)).toThrow(/within/);
  });

  it('respects maxStep and firstStep', () => {
    const sol = solveIvp((_t, y, d) => void (d[0] = 0 * y[0]!), [0, 10], [1], { maxStep: 0.5 });
    expect(sol.nSteps).toBeGreaterThanOrEqual(20);
    for (let i = 1; i < sol.t.length; i++) expect(sol.t[i]! - sol.t[i - 1]!).toBeLessThanOrEqual(0.5 + 1e-12);
    const s2 = solveIvp((_t, y, d) => void (d[0] = y[0]!), [0, 1], [1], { firstStep: 1e-3 });
    expect(s2.t[1]).toBeCloseTo(1e-3, 12);
  });

  it('applies state jumps exactly at their times (right-continuous)', () => {
    // y' = 0.1 y, halved at t=2 and t=5, and a jump at t1
    const jumps = [
      { t: 5, apply: (y: Float64Array) => void (y[0]! *= 0.5) },
      { t: 2, apply: (y: Float64Array) => void (y[0]! *= 0.5) },
      { t: 8, apply: (y: Float64Array) => void (y[0]! += 1) },
      { t: 20, apply: (y: Float64Array) => void (y[0] = NaN) }, // outside the span: ignored
    ];
    const exact = (t: number): number => Math.exp(0.1 * t) * (t >= 2 ? 0.5 : 1) * (t >= 5 ? 0.5 : 1) + (t >= 8 ? 1 : 0);
    const tEval = [0, 1.999, 2, 3, 5, 6, 7.5, 8];
    const sol = solveIvp((_t, y, d) => void (d[0] = 0.1 * y[0]!), [0, 8], [1], { rtol: 1e-10, atol: 1e-12, tEval, jumps, denseOutput: true });
    sol.y.forEach((y, i) => expect(relErr(y[0]!, exact(tEval[i]!))).toBeLessThan(1e-8));
    for (const t of [0, 1, 2, 2.5, 4.99, 5, 7, 8]) expect(relErr(sol.sol!(t)[0]!, exact(t))).toBeLessThan(1e-8);
    // without tEval, the jump time is reported twice
    const s2 = solveIvp((_t, y, d) => void (d[0] = 0.1 * y[0]!), [0, 8], [1], { jumps });
    expect(s2.t.filter((t) => t === 5)).toHaveLength(2);
  });

  it('applies a jump at t0 before integrating', () => {
    const sol = solveIvp((_t, y, d) => void (d[0] = 0), [0, 1], [1], { jumps: [{ t: 0, apply: (y) => void (y[0] = 3) }], tEval: [0, 1] });
    expect(sol.y).toEqual([[3], [3]]);
  });

  it('throws a clear error when the step size underflows (finite-time blow-up)', () => {
    // y' = y^2, y(0) = 1 blows up at t = 1
    let err: unknown;
    try {
      solveIvp((_t, y, d) => void (d[0] = y[0]! * y[0]!), [0, 2], [1], { rtol: 1e-6 });
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(OdeError);
    expect((err as OdeError).message).toMatch(/solveIvp/);
    expect(['step-underflow', 'non-finite']).toContain((err as OdeError).kind);
    expect((err as OdeError).t).toBeLessThan(1.0001);
  });

  it('throws on a non-finite derivative or state', () => {
    expect(() => solveIvp((_t, _y, d) => void (d[0] = NaN), [0, 1], [1])).toThrow(/non-finite/);
    expect(() => solveIvp((t, y, d) => void (d[0] = t > 0.5 ? NaN : y[0]!), [0, 1], [1])).toThrow(OdeError);
    expect(() => solveIvp((_t, y, d) => void (d[0] = y[0]!), [0, 1], [1], { jumps: [{ t: 0.5, apply: (y) => void (y[0] = Infinity) }] })).toThrow(
      /non-finite after the jump/,
    );
  });

  it('throws after maxSteps', () => {
    expect(() => solveIvp((_t, y, d) => void (d[0] = y[0]!), [0, 100], [1], { maxStep: 0.01, maxSteps: 50 })).toThrow(/maxSteps/);
  });

  it('validates its arguments', () => {
    const f = (_t: number, y: Float64Array, d: Float64Array): void => void (d[0] = y[0]!);
    expect(() => solveIvp(f, [1, 0], [1])).toThrow(/'tSpan' passed to 'solveIvp'/);
    expect(() => solveIvp(f, [0, 1], [])).toThrow(/'y0'/);
    expect(() => solveIvp(f, [0, 1], [NaN])).toThrow(/'y0'/);
    expect(() => solveIvp(f, [0, 1], [1], { rtol: 0 })).toThrow(/'rtol'/);
    expect(() => solveIvp(f, [0, 1], [1], { atol: [1, 2] })).toThrow(/'atol'/);
    expect(() => solveIvp(f, [0, 1], [1], { maxStep: -1 })).toThrow(/'maxStep'/);
    expect(() => solveIvp(f, [0, 1], [1], { tEval: [0.5, 0.2] })).toThrow(/'tEval'.*non-decreasing/);
    expect(() => solveIvp(f, [0, 1], [1], { tEval: [2] })).toThrow(/'tEval'.*within/);
  });
});
