/**
 * The paper's two-phase radiotherapy model (method section 6).
 */
import type { GrowthContext, GrowthModel, ParameterDefaults } from './model.js';
import { resolveRtStart } from './model.js';

/** Parameters of {@link twoPhaseRtModel} (a type alias, so it is assignable to `Record<string, number>`). */
export type TwoPhaseParams = {
  /** Growth rate of the living tumour (per day). */
  lambdaGr: number;
  /** Swelling / decay rate of the damaged tumour (per day). */
  lambdaDecay: number;
  /** Days after the RT start at which swelling turns into decay. */
  delay: number;
  /** Sharpness of that switch (per day). */
  slope: number;
  /** Fraction of living tumour that survives the radiotherapy, S. */
  survival: number;
  /** Size at `t0`. */
  v0: number;
};

/**
 * The paper's bounds: `initial`, `lower`, `upper` (before widening), with `v0`
 * given as factors of the first measurement.
 */
export const TWO_PHASE_PAPER_BOUNDS = {
  initial: { lambdaGr: 0.02, lambdaDecay: 0.02, delay: 5, slope: 1, survival: 0.001, v0: 1 },
  lower: { lambdaGr: 0.001, lambdaDecay: 0.001, delay: 0.001, slope: 0.001, survival: 0.001, v0: 0.9 },
  upper: { lambdaGr: 2.0, lambdaDecay: 100, delay: 300, slope: 600, survival: 0.2, v0: 1.1 },
} as const satisfies ParameterDefaults<TwoPhaseParams>;

/** The factor by which the reference code widens the upper bounds (not `v0`'s). */
export const TWO_PHASE_UPPER_WIDENING = 1.1;

/** `log(cosh(x))` without overflow. */
function logCosh(x: number): number {
  const a = Math.abs(x);
  return a + Math.log1p(Math.exp(-2 * a)) - Math.LN2;
}

function rtStartOf(context: GrowthContext): number {
  const rt = context.rtStart;
  if (rt === undefined) throw new RangeError(`the context of 'twoPhaseRtModel' has no 'rtStart': pass it through 'simulate' or 'fitGrowth'`);
  return rt;
}

/**
 * The paper's two-phase model with radiotherapy. State `[V_l, V_d]` (living,
 * damaged tumour):
 *
 * - `dV_l/dt = lambdaGr V_l`
 * - `dV_d/dt = -tanh(slope (t - rtStart - delay)) lambdaDecay V_d`
 * - at `rtStart`: `V_l <- S V_l`, `V_d <- V_d + (1 - S) V_l`
 * - `V_l(t0) = v0`, `V_d(t0) = 0`; output `V_l + V_d`.
 *
 * Closed form, with `A = v0 exp(lambdaGr (rtStart - t0))` and `tau = rtStart + delay`:
 * `y = v0 exp(lambdaGr (t - t0))` before `rtStart`, after it
 * `y = A [S exp(lambdaGr (t - rtStart)) + (1 - S) (cosh(slope delay) / cosh(slope (t - tau)))^(lambdaDecay / slope)]`.
 *
 * Context: `rtStart`, or `rtEnd` with the 42-day course (`rtStart = rtEnd - 42`).
 * Default bounds: {@link TWO_PHASE_PAPER_BOUNDS}, upper bounds widened by
 * {@link TWO_PHASE_UPPER_WIDENING} as in the reference; `v0` within +-10 % of the first measurement.
 */
export const twoPhaseRtModel: GrowthModel<TwoPhaseParams, GrowthContext> = {
  name: 'two-phase-rt',
  paramNames: ['lambdaGr', 'lambdaDecay', 'delay', 'slope', 'survival', 'v0'],
  stateSize: 2,
  initialState(p) {
    return [p.v0, 0];
  },
  rhs(t, y, dydt, p, ctx) {
    const rt = rtStartOf(ctx);
    dydt[0] = p.lambdaGr * y[0];
    dydt[1] = -Math.tanh(p.slope * (t - rt - p.delay)) * p.lambdaDecay * y[1];
  },
  jumps(p, ctx) {
    const s = p.survival;
    return [
      {
        t: rtStartOf(ctx),
        apply: (y) => {
          const vl = y[0];
          y[0] = s * vl;
          y[1] = y[1] + (1 - s) * vl;
        },
      },
    ];
  },
  output(y) {
    return y[0] + y[1];
  },
  closedForm(times, p, ctx) {
    const t0 = ctx.t0 ?? 0;
    const rt = rtStartOf(ctx);
    const a = p.v0 * Math.exp(p.lambdaGr * (rt - t0));
    const k = p.lambdaDecay / p.slope;
    const lc0 = logCosh(-p.slope * p.delay);
    const tau = rt + p.delay;
    const out = new Array<number>(times.length);
    for (let i = 0; i < times.length; i++) {
      const t = times[i];
      if (t < rt) {
        out[i] = p.v0 * Math.exp(p.lambdaGr * (t - t0));
      } else {
        const living = p.survival * Math.exp(p.lambdaGr * (t - rt));
        const damaged = (1 - p.survival) * Math.exp(-k * (logCosh(p.slope * (t - tau)) - lc0));
        out[i] = a * (living + damaged);
      }
    }
    return out;
  },
  resolveContext(context, span, caller) {
    const rtStart = resolveRtStart(context, span, caller);
    return { ...context, rtStart };
  },
  parameterDefaults(_times, sizes) {
    const first = sizes[0];
    const b = TWO_PHASE_PAPER_BOUNDS;
    const w = TWO_PHASE_UPPER_WIDENING;
    return {
      initial: { ...b.initial, v0: first },
      lower: { ...b.lower, v0: b.lower.v0 * first },
      upper: {
        lambdaGr: b.upper.lambdaGr * w,
        lambdaDecay: b.upper.lambdaDecay * w,
        delay: b.upper.delay * w,
        slope: b.upper.slope * w,
        survival: b.upper.survival * w,
        v0: b.upper.v0 * first,
      },
    };
  },
};
