/**
 * The growth-model interface, the shared radiotherapy context, and `simulate`.
 */
import { solveIvp, type StateJump } from './ode.js';

/** Model parameters: a record of named numbers. */
export type ParamRecord<P> = { [K in keyof P]: number };

/** One radiotherapy fraction. */
export interface RtFraction {
  /** Day of the fraction (same time axis as the series). */
  readonly day: number;
  /** Dose in Gy. */
  readonly dose: number;
}

/**
 * Radiotherapy and time-origin context shared by the built-in models.
 * Give `rtStart`, or `rtEnd` (then `rtStart = rtEnd - courseDays`), or an
 * explicit fraction `schedule` (LQ models).
 */
export interface GrowthContext {
  /**
   * Time at which the state equals its initial value (`v0`). `fitGrowth` uses
   * the first fitted observation time when omitted.
   * @defaultValue 0
   */
  readonly t0?: number;
  /** First day of radiotherapy. */
  readonly rtStart?: number;
  /** Last day of radiotherapy; `rtStart = rtEnd - courseDays` when `rtStart` is not given. */
  readonly rtEnd?: number;
  /**
   * Length of the radiotherapy course in days.
   * @defaultValue 42
   */
  readonly courseDays?: number;
  /**
   * Explicit fractions (LQ models); by default the standard schedule
   * ({@link standardSchedule}) from `rtStart`.
   * @defaultValue undefined
   */
  readonly schedule?: readonly RtFraction[];
}

/** Default values, lower and upper bounds of a model's parameters for a given series. */
export interface ParameterDefaults<P> {
  /** Starting point of the first fit start. */
  readonly initial: ParamRecord<P>;
  /** Lower bounds. */
  readonly lower: ParamRecord<P>;
  /** Upper bounds. */
  readonly upper: ParamRecord<P>;
}

/**
 * Population values a model offers for series too short to fit all its
 * parameters (`shortSeries: 'population'` of `fitGrowth` / `bootstrapGrowth`).
 */
export interface ShortSeriesFallback<P> {
  /**
   * Parameters to hold, in the order they are held (least identifiable first):
   * a series with `n` fitted points holds the first ones until at most `n`
   * parameters are free. At most all of them, so a series needs at least
   * `paramNames.length - order.length` points.
   */
  readonly order: readonly (keyof P & string)[];
  /** The value each of them is held at in the fit to the data. */
  readonly values: { readonly [K in keyof P]?: number };
  /**
   * Where a bootstrap replicate draws each held parameter from: log-uniform in
   * `[low, high]` when `low > 0`, uniform otherwise, so that the band includes
   * the uncertainty of the held values. A parameter without a range keeps its
   * value in every replicate.
   */
  readonly ranges?: { readonly [K in keyof P]?: readonly [number, number] };
  /** Why these values, for the notice of a fallback fit. */
  readonly source: string;
}

/**
 * A growth model: an ODE system with optional state jumps, a scalar output (the
 * tumour size) and, optionally, a closed form. Implement it to fit your own model
 * with {@link fitGrowth}.
 *
 * @typeParam P - the parameter record, e.g. `{ lambda: number; v0: number }`
 * @typeParam C - the context (radiotherapy dates etc.)
 */
export interface GrowthModel<P extends ParamRecord<P> = Record<string, number>, C extends GrowthContext = GrowthContext> {
  /** Short identifier, e.g. `'two-phase-rt'`. */
  readonly name: string;
  /** The parameter names, in the order used for fitting. */
  readonly paramNames: readonly (keyof P & string)[];
  /** Number of state components. */
  readonly stateSize: number;
  /** The state at `t0` (`context.t0 ?? 0`). */
  initialState(params: P, context: C): number[];
  /** Writes `dy/dt` at `(t, y)` into `dydt`. */
  rhs(t: number, y: Float64Array, dydt: Float64Array, params: P, context: C): void;
  /** Instantaneous state changes (e.g. radiotherapy), optional. */
  jumps?(params: P, context: C): StateJump[];
  /** The model output (tumour size) of a state. */
  output(y: ArrayLike<number>, params: P, context: C): number;
  /** The exact output at `times` (non-decreasing, `>= t0`), when known. */
  closedForm?(times: readonly number[], params: P, context: C): number[];
  /**
   * Checks and completes a context for a series spanning `[t0, tMax]` (e.g. RT
   * date in range, `rtEnd` turned into `rtStart`). Throws an Error naming
   * `caller` on a bad context.
   */
  resolveContext?(context: C | undefined, span: { t0: number; tMax: number }, caller: string): C;
  /** Starting point and bounds for fitting, from the (fitting-unit) series. */
  parameterDefaults?(times: readonly number[], sizes: readonly number[], context: C): ParameterDefaults<P>;
  /** Population values for series with fewer points than parameters (optional). */
  readonly shortSeriesFallback?: ShortSeriesFallback<P>;
}

/** Which form `simulate` evaluates. */
export type SimulateForm = 'auto' | 'closed' | 'ode';

/** Options of {@link simulate}. */
export interface SimulateOptions {
  /**
   * `'closed'` uses the closed form (error if the model has none), `'ode'`
   * integrates with {@link solveIvp}, `'auto'` prefers the closed form.
   * @defaultValue 'auto'
   */
  form?: SimulateForm;
  /**
   * Relative tolerance of the ODE form.
   * @defaultValue 1e-10
   */
  rtol?: number;
  /**
   * Absolute tolerance of the ODE form.
   * @defaultValue 1e-12
   */
  atol?: number;
}

/**
 * The standard fractionation: `fractions` doses of `dose` Gy on weekdays
 * (five per week, `rtStart` taken as a Monday), e.g. 30 x 1.8 Gy over days
 * `rtStart + {0..4, 7..11, ..., 35..39}`.
 *
 * @param rtStart - day of the first fraction
 * @param fractions - number of fractions (default 30)
 * @param dose - dose per fraction in Gy (default 1.8)
 * @returns the fractions in time order
 */
export function standardSchedule(rtStart: number, fractions = 30, dose = 1.8): RtFraction[] {
  if (!Number.isFinite(rtStart)) throw new RangeError(`'rtStart' passed to 'standardSchedule' must be finite, got ${rtStart}`);
  if (!Number.isInteger(fractions) || fractions < 0) {
    throw new RangeError(`'fractions' passed to 'standardSchedule' must be a non-negative integer, got ${fractions}`);
  }
  if (!(dose >= 0) || !Number.isFinite(dose)) throw new RangeError(`'dose' passed to 'standardSchedule' must be a finite number >= 0, got ${dose}`);
  const out: RtFraction[] = [];
  for (let k = 0; k < fractions; k++) out.push({ day: rtStart + 7 * Math.floor(k / 5) + (k % 5), dose });
  return out;
}

/** Longest sensible distance (days) of the RT start after the last observation. */
export const RT_MAX_DAYS_AFTER_LAST = 3650;

/**
 * Longest sensible distance (days) of the RT start before `t0` (retrospective
 * radiotherapy: a course that started, or even ended, before the first scan).
 */
export const RT_MAX_DAYS_BEFORE_FIRST = 3650;

/**
 * Resolves `rtStart` from a context (`rtStart`, else `rtEnd - courseDays`) and
 * checks it lies in `[t0 - RT_MAX_DAYS_BEFORE_FIRST, tMax + RT_MAX_DAYS_AFTER_LAST]`.
 * An RT start before `t0` is retrospective radiotherapy: the models then put
 * its effect into the state at `t0` (see `twoPhaseRtModel`).
 *
 * @param context - the context
 * @param span - the observation span
 * @param caller - the public function, for error messages
 * @returns the RT start day
 */
export function resolveRtStart(context: GrowthContext | undefined, span: { t0: number; tMax: number }, caller: string): number {
  if (context === undefined || (context.rtStart === undefined && context.rtEnd === undefined)) {
    throw new RangeError(`'context' passed to '${caller}' must give 'rtStart' or 'rtEnd' (the radiotherapy dates)`);
  }
  const course = context.courseDays ?? 42;
  if (!(course > 0) || !Number.isFinite(course)) {
    throw new RangeError(`'context.courseDays' passed to '${caller}' must be a finite number > 0, got ${course}`);
  }
  let rtStart: number;
  let which: string;
  if (context.rtStart !== undefined) {
    rtStart = context.rtStart;
    which = 'rtStart';
  } else {
    rtStart = context.rtEnd! - course; // defined: checked above
    which = `rtEnd (RT start = rtEnd - ${course} = ${rtStart})`;
  }
  if (!Number.isFinite(rtStart)) throw new RangeError(`'context.${which}' passed to '${caller}' must be a finite day, got ${rtStart}`);
  if (rtStart < span.t0 - RT_MAX_DAYS_BEFORE_FIRST) {
    throw new RangeError(
      `'context.${which}' passed to '${caller}' is out of range: RT start ${rtStart} is more than ${RT_MAX_DAYS_BEFORE_FIRST} days before the first time t0=${span.t0}`,
    );
  }
  if (rtStart > span.tMax + RT_MAX_DAYS_AFTER_LAST) {
    throw new RangeError(
      `'context.${which}' passed to '${caller}' is out of range: RT start ${rtStart} is more than ${RT_MAX_DAYS_AFTER_LAST} days after the last time ${span.tMax}`,
    );
  }
  return rtStart;
}

/**
 * Checks that `times` is a non-empty array of finite, non-decreasing numbers.
 * @internal
 */
export function checkTimes(times: readonly number[], name: string, caller: string, strict: boolean): void {
  if (!Array.isArray(times) || times.length === 0) throw new RangeError(`'${name}' passed to '${caller}' must be a non-empty array of days`);
  for (let i = 0; i < times.length; i++) {
    const t = times[i];
    if (typeof t !== 'number' || !Number.isFinite(t)) throw new RangeError(`'${name}' passed to '${caller}' must hold finite numbers, got ${t} at index ${i}`);
    if (i > 0) {
      const prev = times[i - 1];
      if (strict && t === prev) throw new RangeError(`'${name}' passed to '${caller}' must not contain duplicate times, got ${t} twice (index ${i})`);
      if (t < prev) throw new RangeError(`'${name}' passed to '${caller}' must be sorted in increasing order, got ${prev} then ${t} at index ${i}`);
    }
  }
}

/**
 * Checks `params` holds a finite number for each of the model's parameters.
 * @internal
 */
export function checkParams<P extends ParamRecord<P>>(model: GrowthModel<P, GrowthContext>, params: P, caller: string): void {
  if (params === null || typeof params !== 'object') throw new TypeError(`'params' passed to '${caller}' must be an object`);
  for (const k of model.paramNames) {
    const v = params[k] as unknown;
    if (typeof v !== 'number' || !Number.isFinite(v)) {
      throw new RangeError(`'params.${k}' passed to '${caller}' must be a finite number, got ${String(v)}`);
    }
  }
}

/**
 * Resolves a context for `times` through the model's `resolveContext`, filling `t0`.
 * @internal
 */
export function resolveModelContext<P extends ParamRecord<P>, C extends GrowthContext>(
  model: GrowthModel<P, C>,
  context: C | undefined,
  t0: number,
  tMax: number,
  caller: string,
): C {
  const withT0 = { ...(context ?? {}), t0 } as C;
  return model.resolveContext ? model.resolveContext(withT0, { t0, tMax }, caller) : withT0;
}

/**
 * Evaluates a model without validation (the hot path of fitting). `times` must be
 * non-decreasing and `>= t0`; `ctx` resolved.
 * @internal
 */
export function evaluateModel<P extends ParamRecord<P>, C extends GrowthContext>(
  model: GrowthModel<P, C>,
  params: P,
  times: readonly number[],
  ctx: C,
  form: SimulateForm,
  rtol: number,
  atol: number,
  caller: string,
): number[] {
  if (form !== 'ode' && model.closedForm) return model.closedForm(times, params, ctx);
  if (form === 'closed') throw new RangeError(`'options.form' passed to '${caller}' is 'closed' but model '${model.name}' has no closed form`);
  const t0 = ctx.t0 ?? 0;
  const y0 = model.initialState(params, ctx);
  const tMax = times[times.length - 1]!;
  const jumps = model.jumps ? model.jumps(params, ctx) : [];
  if (!(tMax > t0)) {
    // All requested times equal t0: apply the jumps at t0 only.
    const y = Float64Array.from(y0);
    for (const j of jumps) if (j.t === t0) j.apply(y);
    const v = model.output(y, params, ctx);
    return times.map(() => v);
  }
  const rhs = (t: number, y: Float64Array, dydt: Float64Array): void => model.rhs(t, y, dydt, params, ctx);
  const sol = solveIvp(rhs, [t0, tMax], y0, { rtol, atol, tEval: times, jumps });
  return sol.y.map((y) => model.output(y, params, ctx));
}

/**
 * The model output (tumour size) at `times`.
 *
 * @param model - the growth model
 * @param params - its parameters
 * @param times - non-decreasing days, all `>= context.t0` (default 0)
 * @param context - radiotherapy dates and time origin, as the model needs
 * @param options - closed form or ODE, ODE tolerances
 * @returns one size per time
 * @throws RangeError on bad times, parameters or context; OdeError if the ODE integration fails
 */
export function simulate<P extends ParamRecord<P>, C extends GrowthContext>(
  model: GrowthModel<P, C>,
  params: P,
  times: readonly number[],
  context?: C,
  options: SimulateOptions = {},
): number[] {
  const caller = 'simulate';
  const form = options.form ?? 'auto';
  const rtol = options.rtol ?? 1e-10;
  const atol = options.atol ?? 1e-12;
  if (form !== 'auto' && form !== 'closed' && form !== 'ode') {
    throw new RangeError(`'options.form' passed to 'simulate' must be 'auto', 'closed' or 'ode', got ${String(form)}`);
  }
  checkParams(model as unknown as GrowthModel<P, GrowthContext>, params, caller);
  checkTimes(times, 'times', caller, false);
  const t0 = context?.t0 ?? 0;
  if (!Number.isFinite(t0)) throw new RangeError(`'context.t0' passed to 'simulate' must be finite, got ${t0}`);
  if (times[0]! < t0) throw new RangeError(`'times' passed to 'simulate' must be >= context.t0 (${t0}), got ${times[0]}`);
  const ctx = resolveModelContext(model, context, t0, times[times.length - 1]!, caller);
  return evaluateModel(model, params, times, ctx, form, rtol, atol, caller);
}
