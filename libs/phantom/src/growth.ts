/**
 * The two-phase tumour growth model with radiotherapy (docs/method.md section 6),
 * in closed form. This is a deliberately small local copy of what the phantom
 * needs; `@tumorcast/growth-ode` is the package that fits and validates the
 * model (against an adaptive Runge-Kutta solver).
 *
 * Model, time `t` in days from the first scan, RT start `tRT`:
 * - before `tRT`: `V_l = V0 exp(lambdaGr t)`, `V_d = 0`;
 * - at `tRT`: `V_l <- S V_l`, `V_d <- (1 - S) V_l`;
 * - after: `V_l = S V_l(tRT) exp(lambdaGr (t - tRT))` and
 *   `dV_d/dt = -tanh(slope (t - tRT - delay)) lambdaDecay V_d`, whose solution is
 *   `V_d(t) = V_d(tRT) [cosh(slope delay) / cosh(slope (t - tRT - delay))]^(lambdaDecay / slope)`.
 * - size = `V_l + V_d`.
 */
import { checkNumber, checkPositive } from './validate.js';

/** Parameters of the two-phase growth model (docs/method.md section 6), time unit: day. */
export interface TwoPhaseParams {
  /** Proliferation rate of the living tumour `lambda_gr` (1/day). */
  lambdaGr: number;
  /** Decay rate of the damaged tumour `lambda_decay` (1/day). */
  lambdaDecay: number;
  /** Days after RT start at which the damaged compartment turns from swelling to decay. */
  delay: number;
  /** Steepness of the tanh switch (1/day). */
  slope: number;
  /** Surviving fraction `S` of the living tumour at RT start, in [0, 1]. */
  survival: number;
}

/** Defaults: growth, pseudo-progression swelling for 20 days after RT start, then decay and slow regrowth. */
export const DEFAULT_TWO_PHASE_PARAMS: Readonly<TwoPhaseParams> = Object.freeze({
  lambdaGr: 0.008,
  lambdaDecay: 0.03,
  delay: 20,
  slope: 0.1,
  survival: 0.1,
});

/** Standard RT course length: RT start = RT end - 42 days (docs/method.md section 6). */
export const RT_COURSE_DAYS = 42;

/** Validates a full parameter set for `fn`. */
export function checkTwoPhaseParams(fn: string, p: TwoPhaseParams): TwoPhaseParams {
  checkNumber(fn, 'params.lambdaGr', p.lambdaGr, -10, 10);
  checkNumber(fn, 'params.lambdaDecay', p.lambdaDecay, 0, 1000);
  checkNumber(fn, 'params.delay', p.delay, 0, 10000);
  checkPositive(fn, 'params.slope', p.slope);
  checkNumber(fn, 'params.survival', p.survival, 0, 1);
  return p;
}

/** ln(cosh(x)) without overflow. */
function logCosh(x: number): number {
  const a = Math.abs(x);
  return a + Math.log1p(Math.exp(-2 * a)) - Math.LN2;
}

/**
 * Size of the two-phase model at day `t` (closed form; see the module comment).
 *
 * @param t - day (from the first scan, where `V_l = v0`).
 * @param v0 - initial size (any unit: area or volume; the model is linear in `v0`).
 * @param rtStartDay - RT start day (`rtEndDay - 42`).
 * @param params - model parameters.
 * @returns `V_l(t) + V_d(t)`.
 */
export function twoPhaseSize(t: number, v0: number, rtStartDay: number, params: TwoPhaseParams): number {
  const { lambdaGr, lambdaDecay, delay, slope, survival } = params;
  if (t < rtStartDay) return v0 * Math.exp(lambdaGr * t);
  const vRt = v0 * Math.exp(lambdaGr * rtStartDay);
  const dt = t - rtStartDay;
  const living = survival * vRt * Math.exp(lambdaGr * dt);
  const logRatio = (lambdaDecay / slope) * (logCosh(slope * delay) - logCosh(slope * (dt - delay)));
  const damaged = (1 - survival) * vRt * Math.exp(logRatio);
  return living + damaged;
}
