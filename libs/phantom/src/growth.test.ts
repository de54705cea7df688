import { describe, it, expect } from '@jest/globals';
import { DEFAULT_TWO_PHASE_PARAMS, RT_COURSE_DAYS, checkTwoPhaseParams, twoPhaseSize, type TwoPhaseParams } from './growth.js';

/** Independent oracle: classical RK4 on the ODE system with a fine fixed step, with the RT event. */
function rk4Size(tEnd: number, v0: number, tRt: number, p: TwoPhaseParams, h = 0.01): number {
  let vl = v0, vd = 0, t = 0, treated = false;
  const f = (tt: number, l: number, d: number): [number, number] => [
    p.lambdaGr * l,
    treated ? -Math.tanh(p.slope * (tt - tRt - p.delay)) * p.lambdaDecay * d : 0,
  ];
  while (t < tEnd - 1e-12) {
    if (!treated && t >= tRt - 1e-12) {
      vd += (1 - p.survival) * vl;
      vl *= p.survival;
      treated = true;
    }
    let step = Math.min(h, tEnd - t);
    if (!treated && t + step > tRt) step = tRt - t;
    const k1 = f(t, vl, vd);
    const k2 = f(t + step / 2, vl + (step / 2) * k1[0], vd + (step / 2) * k1[1]);
    const k3 = f(t + step / 2, vl + (step / 2) * k2[0], vd + (step / 2) * k2[1]);
    const k4 = f(t + step, vl + step * k3[0], vd + step * k3[1]);
    vl += (step / 6) * (k1[0] + 2 * k2[0] + 2 * k3[0] + k4[0]);
    vd += (step / 6) * (k1[1] + 2 * k2[1] + 2 * k3[1] + k4[1]);
    t += step;
  }
  if (!treated && t >= tRt) {
    vd += (1 - p.survival) * vl;
    vl *= p.survival;
  }
  return vl + vd;
}

describe('twoPhaseSize', () => {
  const cases: TwoPhaseParams[] = [
    { ...DEFAULT_TWO_PHASE_PARAMS },
    { lambdaGr: 0.02, lambdaDecay: 0.05, delay: 5, slope: 1, survival: 0.001 },
    { lambdaGr: 0.003, lambdaDecay: 0.01, delay: 40, slope: 0.05, survival: 0.2 },
  ];
  it.each(cases.map((c, i) => [i, c] as const))('matches an RK4 integration of the ODE (case %i, rel. tol. 1e-6)', (_i, p) => {
    for (const t of [0, 10, 20.5, 21, 30, 60, 100, 200, 300]) {
      const exact = twoPhaseSize(t, 500, 21, p);
      const ref = rk4Size(t, 500, 21, p);
      expect(Math.abs(exact - ref) / ref).toBeLessThan(1e-6);
    }
  });

  it('is exponential before RT, continuous at RT, and linear in V0', () => {
    const p = DEFAULT_TWO_PHASE_PARAMS;
    expect(twoPhaseSize(10, 100, 21, p)).toBeCloseTo(100 * Math.exp(p.lambdaGr * 10), 10);
    expect(twoPhaseSize(21, 100, 21, p)).toBeCloseTo(twoPhaseSize(21 - 1e-9, 100, 21, p), 5);
    expect(twoPhaseSize(120, 300, 21, p)).toBeCloseTo(3 * twoPhaseSize(120, 100, 21, p), 8);
    expect(RT_COURSE_DAYS).toBe(42);
  });

  it('swells after RT until the delay, then decays (pseudo-progression)', () => {
    const p = DEFAULT_TWO_PHASE_PARAMS;
    const at = (t: number) => twoPhaseSize(t, 100, 21, p);
    expect(at(21 + p.delay)).toBeGreaterThan(at(21));
    expect(at(150)).toBeLessThan(at(21 + p.delay));
  });

  it('rejects invalid parameters with the argument named', () => {
    expect(() => checkTwoPhaseParams('f', { ...DEFAULT_TWO_PHASE_PARAMS, slope: 0 })).toThrow(/'params.slope' passed to 'f'/);
    expect(() => checkTwoPhaseParams('f', { ...DEFAULT_TWO_PHASE_PARAMS, survival: 1.5 })).toThrow(/'params.survival'/);
  });
});
