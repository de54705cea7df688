/**
 * The paper's two-phase radiotherapy model (method section 6).
 */
import type { GrowthContext, GrowthModel, ParameterDefaults, ShortSeriesFallback } from './model.js';
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
 * The paper's bounds: `initial`, `lower`, `upper` (before the noise factor
 * {@link TWO_PHASE_NOISE_FACTOR}), with `v0` given as factors of the first measurement.
 */
export const TWO_PHASE_PAPER_BOUNDS = {
  initial: { lambdaGr: 0.02, lambdaDecay: 0.02, delay: 5, slope: 1, survival: 0.001, v0: 1 },
  lower: { lambdaGr: 0.001, lambdaDecay: 0.001, delay: 0.001, slope: 0.001, survival: 0.001, v0: 0.9 },
  upper: { lambdaGr: 2.0, lambdaDecay: 100, delay: 300, slope: 600, survival: 0.2, v0: 1.1 },
} as const satisfies ParameterDefaults<TwoPhaseParams>;

/**
 * The reference code's bound factor `1 + noise level` (noise level 0.1): the
 * upper bounds are multiplied by it (not `v0`'s), and the lower bounds of the
 * two rates (`lambdaGr`, `lambdaDecay`) divided by it.
 */
export const TWO_PHASE_NOISE_FACTOR = 1.1;

/**
 * The factor by which the upper bounds are widened.
 * @deprecated the same number as {@link TWO_PHASE_NOISE_FACTOR}, which also narrows the two rates' lower bounds
 */
export const TWO_PHASE_UPPER_WIDENING = TWO_PHASE_NOISE_FACTOR;

/**
 * Population values of {@link twoPhaseRtModel} for short series
 * (`shortSeries: 'population'`): hold `slope`, then `delay`, then `survival`,
 * so that a series of 5, 4 or 3 points fits 5, 4 or 3 parameters. The held
 * values are the paper's starting point (no cohort estimates of the model's
 * parameters are published with the paper or its code). In a bootstrap each
 * replicate draws the held parameters instead, so that the band carries their
 * uncertainty: `slope` and `survival` log-uniformly within the paper's bounds,
 * `delay` uniformly in [0, 126] days: the 42-day course plus the 12 weeks after
 * it within which the RANO criteria place pseudo-progression.
 */
export const TWO_PHASE_SHORT_SERIES: ShortSeriesFallback<TwoPhaseParams> = {
  order: ['slope', 'delay', 'survival'],
  values: { slope: 1, delay: 5, survival: 0.001 },
  ranges: { slope: [0.001, 600], delay: [0, 126], survival: [0.001, 0.2] },
  source: "the paper's starting values",
};

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

/** `log` of the damaged part's factor since the RT start: `-(lambdaDecay/slope) (logcosh(slope (t - rt - delay)) - logcosh(slope delay))`. */
function logDamaged(p: TwoPhaseParams, rt: number, t: number): number {
  return -(p.lambdaDecay / p.slope) * (logCosh(p.slope * (t - rt - p.delay)) - logCosh(p.slope * p.delay));
}

/**
 * The state `[V_l, V_d]` at `t0` for an RT start `rt < t0` (retrospective RT)
 * with total size `v0` at `t0`: the event split `A` into `S A` and `(1 - S) A`
 * at `rt`, which then grew and swelled/decayed until `t0`; `A` follows from
 * `V_l(t0) + V_d(t0) = v0`. Computed from log weights (no overflow).
 */
function retrospectiveState(p: TwoPhaseParams, rt: number, t0: number): [number, number] {
  const a = Math.log(p.survival) + p.lambdaGr * (t0 - rt);
  const b = Math.log1p(-p.survival) + logDamaged(p, rt, t0);
  return [p.v0 / (1 + Math.exp(b - a)), p.v0 / (1 + Math.exp(a - b))];
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
 * Retrospective RT (`rtStart < t0`: the course started, or even ended, before
 * the first scan): `v0` stays the size at `t0`, and the state at `t0` is the one
 * the event at `rtStart` left, `V_l(t0) = v0 w_l / (w_l + w_d)`,
 * `V_d(t0) = v0 w_d / (w_l + w_d)` with `w_l = S exp(lambdaGr (t0 - rtStart))`
 * and `w_d = (1 - S) (cosh(slope delay) / cosh(slope (t0 - tau)))^(lambdaDecay / slope)`;
 * from there both parts evolve as above (no jump after `t0`).
 *
 * Context: `rtStart`, or `rtEnd` with the 42-day course (`rtStart = rtEnd - 42`).
 * Default bounds: {@link TWO_PHASE_PAPER_BOUNDS}, upper bounds multiplied and the
 * two rates' lower bounds divided by {@link TWO_PHASE_NOISE_FACTOR} as in the
 * reference; `v0` within +-10 % of the first measurement. Short series:
 * {@link TWO_PHASE_SHORT_SERIES}.
 */
export const twoPhaseRtModel: GrowthModel<TwoPhaseParams, GrowthContext> = {
  name: 'two-phase-rt',
  paramNames: ['lambdaGr', 'lambdaDecay', 'delay', 'slope', 'survival', 'v0'],
  stateSize: 2,
  initialState(p, ctx) {
    const t0 = ctx.t0 ?? 0;
    const rt = ctx.rtStart;
    return rt !== undefined && rt < t0 ? retrospectiveState(p, rt, t0) : [p.v0, 0];
  },
  rhs(t, y, dydt, p, ctx) {
    const rt = rtStartOf(ctx);
    dydt[0] = p.lambdaGr * y[0]!;
    dydt[1] = -Math.tanh(p.slope * (t - rt - p.delay)) * p.lambdaDecay * y[1]!;
  },
  jumps(p, ctx) {
    const s = p.survival;
    // A retrospective event is already in the state at t0.
    if (rtStartOf(ctx) < (ctx.t0 ?? 0)) return [];
    return [
      {
        t: rtStartOf(ctx),
        apply: (y) => {
          const vl = y[0]!;
          y[0] = s * vl;
          y[1] = y[1]! + (1 - s) * vl;
        },
      },
    ];
  },
  output(y) {
    return y[0]! + y[1]!;
  },
  closedForm(times, p, ctx) {
    const t0 = ctx.t0 ?? 0;
    const rt = rtStartOf(ctx);
    if (rt < t0) {
      const [vl, vd] = retrospectiveState(p, rt, t0);
      const ld0 = logDamaged(p, rt, t0);
      return times.map((t) => vl * Math.exp(p.lambdaGr * (t - t0)) + vd * Math.exp(logDamaged(p, rt, t) - ld0));
    }
    const a = p.v0 * Math.exp(p.lambdaGr * (rt - t0));
    const k = p.lambdaDecay / p.slope;
    const lc0 = logCosh(-p.slope * p.delay);
    const tau = rt + p.delay;
    const out = new Array<number>(times.length);
    for (let i = 0; i < times.length; i++) {
      const t = times[i]!;
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
    const first = sizes[0]!;
    const b = TWO_PHASE_PAPER_BOUNDS;
    const w = TWO_PHASE_NOISE_FACTOR;
    return {
      initial: { ...b.initial, v0: first },
      lower: { ...b.lower, lambdaGr: b.lower.lambdaGr / w, lambdaDecay: b.lower.lambdaDecay / w, v0: b.lower.v0 * first },
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
  shortSeriesFallback: TWO_PHASE_SHORT_SERIES,
};
