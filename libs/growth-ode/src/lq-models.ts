/**
 * Classic growth laws (exponential, logistic, Gompertz) with linear-quadratic
 * radiotherapy applied per fraction.
 */
import type { GrowthContext, GrowthModel, ParamRecord, ParameterDefaults, RtFraction } from './model.js';
import { RT_MAX_DAYS_AFTER_LAST, RT_MAX_DAYS_BEFORE_FIRST, resolveRtStart, standardSchedule } from './model.js';

/** Parameters of {@link exponentialLqModel}. */
export type ExponentialLqParams = {
  /** Growth rate (per day). */
  lambda: number;
  /** LQ alpha (per Gy); `beta = alpha / alphaBetaRatio`. */
  alpha: number;
  /** Size at `t0`. */
  v0: number;
};

/** Parameters of {@link logisticLqModel} and {@link gompertzLqModel}. */
export type SaturatingLqParams = {
  /** Growth rate (per day). */
  lambda: number;
  /** Carrying capacity (size units). */
  capacity: number;
  /** LQ alpha (per Gy); `beta = alpha / alphaBetaRatio`. */
  alpha: number;
  /** Size at `t0`. */
  v0: number;
};

/** Options of the LQ model factories. */
export interface LqModelOptions {
  /**
   * The alpha/beta ratio in Gy (`beta = alpha / alphaBetaRatio`).
   * @defaultValue 10
   */
  alphaBetaRatio?: number;
}

type Flow = (v: number, dt: number, lambda: number, capacity: number) => number;

/**
 * The fractions on or after `t0`. The state is the size alone, so fractions
 * before the first scan (retrospective RT) are already in `v0`, the size at `t0`.
 */
function scheduleOf(ctx: GrowthContext): readonly RtFraction[] {
  if (ctx.schedule === undefined) throw new RangeError(`the context of an LQ model has no 'schedule': pass it through 'simulate' or 'fitGrowth'`);
  const t0 = ctx.t0 ?? 0;
  return ctx.schedule[0] !== undefined && ctx.schedule[0].day < t0 ? ctx.schedule.filter((f) => f.day >= t0) : ctx.schedule;
}

/** Resolves the fraction schedule: explicit, or the standard one from rtStart/rtEnd. */
function resolveSchedule(context: GrowthContext | undefined, span: { t0: number; tMax: number }, caller: string): GrowthContext {
  if (context?.schedule !== undefined) {
    const s = context.schedule;
    if (!Array.isArray(s)) throw new RangeError(`'context.schedule' passed to '${caller}' must be an array of { day, dose }`);
    s.forEach((f, i) => {
      if (!Number.isFinite(f?.day) || !Number.isFinite(f?.dose) || f.dose < 0) {
        throw new RangeError(`'context.schedule' passed to '${caller}' must hold finite days and doses >= 0, bad fraction at index ${i}`);
      }
      if (f.day < span.t0 - RT_MAX_DAYS_BEFORE_FIRST || f.day > span.tMax + RT_MAX_DAYS_AFTER_LAST) {
        throw new RangeError(
          `'context.schedule' passed to '${caller}' is out of range: fraction ${i} on day ${f.day} is more than ${RT_MAX_DAYS_BEFORE_FIRST} days before t0=${span.t0} or more than ${RT_MAX_DAYS_AFTER_LAST} days after the last time ${span.tMax}`,
        );
      }
    });
    return { ...context, schedule: [...s].sort((a, b) => a.day - b.day) };
  }
  const rtStart = resolveRtStart(context, span, caller);
  return { ...context, rtStart, schedule: standardSchedule(rtStart) };
}

function makeLqModel<P extends ParamRecord<P> & { lambda: number; alpha: number; v0: number }>(
  name: string,
  paramNames: readonly (keyof P & string)[],
  rate: (v: number, lambda: number, capacity: number) => number,
  flow: Flow,
  defaults: (times: readonly number[], sizes: readonly number[]) => ParameterDefaults<P>,
  options: LqModelOptions,
): GrowthModel<P, GrowthContext> {
  const ab = options.alphaBetaRatio ?? 10;
  if (!(ab > 0) || !Number.isFinite(ab)) throw new RangeError(`'options.alphaBetaRatio' passed to the '${name}' model factory must be a finite number > 0, got ${ab}`);
  const capOf = (p: P): number => (p as { capacity?: number }).capacity ?? Infinity;
  const survival = (alpha: number, dose: number): number => Math.exp(-alpha * dose - (alpha / ab) * dose * dose);
  return {
    name,
    paramNames,
    stateSize: 1,
    initialState: (p) => [p.v0],
    rhs: (_t, y, dydt, p) => {
      dydt[0] = rate(y[0]!, p.lambda, capOf(p));
    },
    jumps: (p, ctx) =>
      scheduleOf(ctx).map((f) => {
        const s = survival(p.alpha, f.dose);
        return { t: f.day, apply: (y: Float64Array) => void (y[0]! *= s) };
      }),
    output: (y) => y[0]!,
    closedForm: (times, p, ctx) => {
      const sched = scheduleOf(ctx);
      const cap = capOf(p);
      let tc = ctx.t0 ?? 0;
      let v = p.v0;
      let k = 0;
      const out = new Array<number>(times.length);
      for (let i = 0; i < times.length; i++) {
        const t = times[i]!;
        while (k < sched.length && sched[k]!.day <= t) {
          const f = sched[k]!;
          v = flow(v, f.day - tc, p.lambda, cap) * survival(p.alpha, f.dose);
          tc = f.day;
          k++;
        }
        v = flow(v, t - tc, p.lambda, cap);
        tc = t;
        out[i] = v;
      }
      return out;
    },
    resolveContext: (context, span, caller) => resolveSchedule(context, span, caller),
    parameterDefaults: (times, sizes) => defaults(times, sizes),
  };
}

function maxOf(a: readonly number[]): number {
  return a.reduce((m, x) => Math.max(m, x), -Infinity);
}

/**
 * Exponential growth `dV/dt = lambda V` with LQ radiotherapy: at each fraction
 * (dose d) `V <- V exp(-alpha d - beta d^2)`. Parameters
 * {@link ExponentialLqParams}; context `rtStart`/`rtEnd` (standard schedule,
 * 30 x 1.8 Gy on weekdays) or an explicit `schedule`. Has a closed form.
 * Fractions before `t0` (retrospective RT) are already in `v0`, the size at `t0`.
 *
 * @param options - the alpha/beta ratio
 * @returns the model
 */
export function createExponentialLqModel(options: LqModelOptions = {}): GrowthModel<ExponentialLqParams, GrowthContext> {
  return makeLqModel<ExponentialLqParams>(
    'exponential-lq',
    ['lambda', 'alpha', 'v0'],
    (v, lambda) => lambda * v,
    (v, dt, lambda) => v * Math.exp(lambda * dt),
    (_t, sizes) => ({
      initial: { lambda: 0.01, alpha: 0.05, v0: sizes[0]! },
      lower: { lambda: 1e-4, alpha: 0, v0: 0.9 * sizes[0]! },
      upper: { lambda: 1, alpha: 1, v0: 1.1 * sizes[0]! },
    }),
    options,
  );
}

/**
 * Logistic growth `dV/dt = lambda V (1 - V / capacity)` with LQ radiotherapy per
 * fraction (see {@link createExponentialLqModel}). Has a closed form.
 *
 * @param options - the alpha/beta ratio
 * @returns the model
 */
export function createLogisticLqModel(options: LqModelOptions = {}): GrowthModel<SaturatingLqParams, GrowthContext> {
  return makeLqModel<SaturatingLqParams>(
    'logistic-lq',
    ['lambda', 'capacity', 'alpha', 'v0'],
    (v, lambda, cap) => lambda * v * (1 - v / cap),
    (v, dt, lambda, cap) => (cap * v) / (v + (cap - v) * Math.exp(-lambda * dt)),
    saturatingDefaults,
    options,
  );
}

/**
 * Gompertz growth `dV/dt = lambda V ln(capacity / V)` with LQ radiotherapy per
 * fraction (see {@link createExponentialLqModel}). Has a closed form.
 *
 * @param options - the alpha/beta ratio
 * @returns the model
 */
export function createGompertzLqModel(options: LqModelOptions = {}): GrowthModel<SaturatingLqParams, GrowthContext> {
  return makeLqModel<SaturatingLqParams>(
    'gompertz-lq',
    ['lambda', 'capacity', 'alpha', 'v0'],
    (v, lambda, cap) => (v > 0 ? lambda * v * Math.log(cap / v) : 0),
    (v, dt, lambda, cap) => (v > 0 ? cap * Math.exp(Math.log(v / cap) * Math.exp(-lambda * dt)) : 0),
    saturatingDefaults,
    options,
  );
}

function saturatingDefaults(_times: readonly number[], sizes: readonly number[]): ParameterDefaults<SaturatingLqParams> {
  const m = maxOf(sizes);
  return {
    initial: { lambda: 0.01, capacity: 2 * m, alpha: 0.05, v0: sizes[0]! },
    lower: { lambda: 1e-4, capacity: 0.5 * m, alpha: 0, v0: 0.9 * sizes[0]! },
    upper: { lambda: 1, capacity: 100 * m, alpha: 1, v0: 1.1 * sizes[0]! },
  };
}

/** {@link createExponentialLqModel} with alpha/beta = 10 Gy. */
export const exponentialLqModel = createExponentialLqModel();
/** {@link createLogisticLqModel} with alpha/beta = 10 Gy. */
export const logisticLqModel = createLogisticLqModel();
/** {@link createGompertzLqModel} with alpha/beta = 10 Gy. */
export const gompertzLqModel = createGompertzLqModel();
