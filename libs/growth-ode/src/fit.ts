/**
 * Fitting growth models to a size series: bounded least squares with several
 * starts, hold-out validation, bootstrap uncertainty and the relative change.
 */
import { percentileInPlace } from '@tumorcast/metrics';
import { Rng, type Seed } from '@tumorcast/random';
import { leastSquaresBounded, type LeastSquaresStatus } from './lm.js';
import {
  checkTimes,
  evaluateModel,
  resolveModelContext,
  type GrowthContext,
  type GrowthModel,
  type ParamRecord,
  type SimulateForm,
} from './model.js';

/** A tumour size series of one patient (or slice). */
export interface GrowthSeries {
  /** Identifier, e.g. `'patient-7'` or `'patient-7/slice-80'`. */
  readonly id?: string;
  /** Days, strictly increasing. */
  readonly times: readonly number[];
  /** Sizes (area or volume), finite and `>= 0`, the first `> 0`. */
  readonly sizes: readonly number[];
  /** Radiotherapy dates etc.; merged under `options.context`. */
  readonly context?: GrowthContext;
}

/**
 * The objective of {@link fitGrowth}: `'least-squares'` minimises
 * `0.5 sum (y_i - m_i)^2`; `'reference'` hands the squared residuals
 * `(y_i - m_i)^2` to the least-squares solver, i.e. minimises
 * `0.5 sum (y_i - m_i)^4`, as the reference code does.
 */
export type FitObjective = 'least-squares' | 'reference';

/**
 * What {@link fitGrowth} does with a series that has fewer fitted points than
 * free parameters: `'error'` throws a {@link TooFewPointsError};
 * `'population'` holds parameters at the model's population values
 * (`GrowthModel.shortSeriesFallback`, e.g. `TWO_PHASE_SHORT_SERIES`) until
 * the points suffice, and says so in the result's `notice`.
 */
export type ShortSeriesMode = 'error' | 'population';

/**
 * The multiplicative noise of {@link bootstrapGrowth}'s replicates:
 * `'symmetric'`: `y * max(0, N(1, noiseStd))`;
 * `'reference'`: the reference code's `max(y * clip(N(1, noiseStd), 0.001, 1), 0.05)`
 * (the floor 0.05 in fitting units: 5 % of the first size when normalised).
 */
export type BootstrapNoise = 'symmetric' | 'reference';

/** Options of {@link fitGrowth}. */
export interface FitGrowthOptions<P> {
  /**
   * Context (RT dates, time origin), merged over `series.context`. `t0`
   * defaults to the first time of the series.
   * @defaultValue series.context
   */
  context?: GrowthContext;
  /**
   * Starting values overriding the model's defaults (fitting units: divided by
   * the first size when `normalize`).
   * @defaultValue the model's `parameterDefaults` (the paper's for the two-phase model)
   */
  initial?: Partial<ParamRecord<P>>;
  /**
   * Lower bounds overriding the model's defaults (fitting units).
   * @defaultValue the model's defaults
   */
  lower?: Partial<ParamRecord<P>>;
  /**
   * Upper bounds overriding the model's defaults (fitting units).
   * @defaultValue the model's defaults
   */
  upper?: Partial<ParamRecord<P>>;
  /**
   * Parameters held at the given values (not fitted), in fitting units (`v0`
   * divided by the first size when `normalize`), e.g. `{ slope: 1, delay: 5 }`.
   * Each held parameter lowers the number of points a series needs by one.
   * @defaultValue {}
   */
  fixed?: Partial<ParamRecord<P>>;
  /**
   * A series with fewer fitted points than free parameters: `'error'` throws a
   * {@link TooFewPointsError} (naming `fixed` and this option);
   * `'population'` holds the model's population parameters (for the two-phase
   * model `slope`, then `delay`, then `survival`: `TWO_PHASE_SHORT_SERIES`)
   * until the points suffice, and explains it in the result's `notice`.
   * @defaultValue 'error'
   */
  shortSeries?: ShortSeriesMode;
  /**
   * `'least-squares'` (ordinary least squares on `data - model`) or
   * `'reference'` (the reference code's squared residuals handed to a
   * least-squares solver: minimises fourth powers; for reproducing the paper's fits).
   * @defaultValue 'least-squares'
   */
  objective?: FitObjective;
  /**
   * Number of starts: the initial point, then points drawn in the bounds
   * (log-uniform where the bounds span more than two decades). The lowest cost wins.
   * @defaultValue 5
   */
  starts?: number;
  /**
   * Seed of the random starts.
   * @defaultValue 0
   */
  seed?: Seed;
  /**
   * Fit the sizes divided by the first measurement (parameters then are in
   * those units; predictions are scaled back).
   * @defaultValue false
   */
  normalize?: boolean;
  /**
   * Hold out the last `holdOut` points: fit the others, predict these.
   * @defaultValue 0
   */
  holdOut?: number;
  /**
   * Closed form or ODE (see {@link simulate}).
   * @defaultValue 'auto'
   */
  form?: SimulateForm;
  /**
   * Relative tolerance of the ODE form while fitting.
   * @defaultValue 1e-8
   */
  odeRtol?: number;
  /**
   * Iteration limit per start.
   * @defaultValue 300
   */
  maxIterations?: number;
  /**
   * Least-squares stopping tolerances `ftol`, `xtol`, `gtol` (see `leastSquaresBounded`), scipy's defaults.
   * @defaultValue 1e-8
   */
  tol?: number;
  /**
   * Broyden secant updates of the Jacobian between finite-difference ones (see
   * `leastSquaresBounded`): fewer model evaluations, and steadier steps for the
   * ODE form whose finite differences are noisy. 0 disables.
   * @defaultValue 3
   */
  secantUpdates?: number;
}

/** Goodness of fit. */
export interface FitMetrics {
  /** Coefficient of determination `1 - SS_res / SS_tot` (NaN when the data are constant). */
  readonly r2: number;
  /** Root mean squared error (size units). */
  readonly rmse: number;
  /** RMSE divided by the mean of the data. */
  readonly nrmse: number;
}

/** Prediction of held-out points. */
export interface HeldOutResult extends FitMetrics {
  /** Held-out days. */
  readonly times: number[];
  /** Observed sizes. */
  readonly observed: number[];
  /** Predicted sizes (median trajectory for a bootstrap). */
  readonly predicted: number[];
  /** `observed - predicted`. */
  readonly residuals: number[];
}

/** Convergence information of {@link fitGrowth}. */
export interface FitConvergence {
  /** The best start met a convergence test. */
  readonly converged: boolean;
  /** Why the best start stopped. */
  readonly status: LeastSquaresStatus;
  /** Description of `status`. */
  readonly message: string;
  /** Iterations of the best start. */
  readonly iterations: number;
  /** Model evaluations over all starts. */
  readonly nfev: number;
  /** Number of starts run. */
  readonly starts: number;
  /** Index of the best start (0 = the initial point). */
  readonly bestStart: number;
  /** `0.5 * sum(r^2)` in fitting units (`0.5 * sum(r^4)` with the `'reference'` objective). */
  readonly cost: number;
}

/** The result of {@link fitGrowth}; `ok: false` with a `reason` when no start gave a usable fit. */
export interface FitResult<P extends ParamRecord<P> = Record<string, number>> extends FitMetrics {
  /** Whether the fit produced usable parameters. */
  readonly ok: boolean;
  /** Why the fit failed (when `ok` is false). */
  readonly reason?: string;
  /** The model. */
  readonly model: GrowthModel<P, GrowthContext>;
  /** The series id. */
  readonly seriesId?: string;
  /** The resolved context (with `t0`, `rtStart`). */
  readonly context: GrowthContext;
  /** Fitted parameters (fitting units; NaN when the fit failed). */
  readonly params: P;
  /** Names of the fitted (not fixed) parameters. */
  readonly freeParams: string[];
  /** Parameters held at population values because the series was short (`shortSeries: 'population'`). */
  readonly heldByFallback: string[];
  /** Why and at which values parameters were held for a short series (absent otherwise). */
  readonly notice?: string;
  /** The objective minimised. */
  readonly objective: FitObjective;
  /** Starting point and bounds used (fitting units). */
  readonly bounds: { readonly initial: P; readonly lower: P; readonly upper: P };
  /** Divisor of the sizes during fitting (the first size when normalised, else 1). */
  readonly scale: number;
  /** Days of the whole series. */
  readonly times: number[];
  /** Sizes of the whole series. */
  readonly sizes: number[];
  /** Number of fitted (leading) points; the rest are held out. */
  readonly nFit: number;
  /** Model sizes at every series time. */
  readonly fitted: number[];
  /** `data - model` at the fitted points (size units). */
  readonly residuals: number[];
  /** Prediction of the held-out points (when `holdOut > 0`). */
  readonly heldOut?: HeldOutResult;
  /** Optimiser information. */
  readonly convergence: FitConvergence;
  /** The model sizes (original units) at non-decreasing `times >= t0`. */
  predict(times: readonly number[]): number[];
}

/** Options of {@link bootstrapGrowth}. */
export interface BootstrapGrowthOptions<P> extends FitGrowthOptions<P> {
  /**
   * Number of bootstrap fits.
   * @defaultValue 30
   */
  replicates?: number;
  /**
   * Standard deviation of the multiplicative N(1, noiseStd) noise on the fitted sizes.
   * @defaultValue 0.1
   */
  noiseStd?: number;
  /**
   * The replicates' noise: `'symmetric'` multiplies each fitted size by
   * `max(0, N(1, noiseStd))`; `'reference'` by `clip(N(1, noiseStd), 0.001, 1)`
   * with a floor of 0.05 (fitting units) on the product, as the reference code
   * does. The reference's factors never exceed 1 (half of them are exactly 1),
   * so its replicates only shrink the data and its band leans below the data;
   * the symmetric noise is the default for that reason, the reference's is
   * there to reproduce the paper.
   * @defaultValue 'symmetric'
   */
  bootstrapNoise?: BootstrapNoise;
  /**
   * The reference's second pass: after the bootstrap, set the upper bounds of
   * `lambdaGr`, `lambdaDecay` and `delay` to 1.1 x the largest replicate value
   * not above that parameter's 90th percentile, the lower bound of `delay` to 0
   * and its starting value to 60 days (clamped into the new bounds), and run
   * the whole bootstrap again with the same seed (so on the same noisy data).
   * The result is the second pass's, with the first in `refinement`.
   * @defaultValue false
   */
  refineFromBootstrap?: boolean;
  /**
   * Lower and upper percentiles of the band.
   * @defaultValue [5, 95]
   */
  percentiles?: readonly [number, number];
  /**
   * Days of the trajectories; by default `gridPoints` days from `t0` to `until`.
   * @defaultValue undefined
   */
  times?: readonly number[];
  /**
   * Number of grid days when `times` is not given.
   * @defaultValue 121
   */
  gridPoints?: number;
  /**
   * Last grid day when `times` is not given (e.g. the follow-up date).
   * @defaultValue the last day of the series
   */
  until?: number;
}

/** A parameter's bootstrap distribution summary. */
export interface ParamSummary {
  /** Median over the successful fits. */
  readonly median: number;
  /** Lower percentile. */
  readonly lower: number;
  /** Upper percentile. */
  readonly upper: number;
}

/** The bounds the second pass of `refineFromBootstrap` used, and the first pass. */
export interface BootstrapRefinement<P extends ParamRecord<P> = Record<string, number>> {
  /** The refined lower bounds (fitting units). */
  readonly lower: Record<string, number>;
  /** The refined upper bounds. */
  readonly upper: Record<string, number>;
  /** The refined starting values. */
  readonly initial: Record<string, number>;
  /** The first pass (default bounds). */
  readonly firstPass: BootstrapResult<P>;
}

/** The result of {@link bootstrapGrowth}. */
export interface BootstrapResult<P extends ParamRecord<P> = Record<string, number>> {
  /** At least one replicate fit succeeded. */
  readonly ok: boolean;
  /** Why the bootstrap failed (when `ok` is false). */
  readonly reason?: string;
  /** The model. */
  readonly model: GrowthModel<P, GrowthContext>;
  /** The series id. */
  readonly seriesId?: string;
  /** The resolved context. */
  readonly context: GrowthContext;
  /** The fit to the unperturbed data. */
  readonly base: FitResult<P>;
  /** The successful replicate fits. */
  readonly fits: FitResult<P>[];
  /** Replicates attempted. */
  readonly replicates: number;
  /** Replicates whose fit failed (excluded). */
  readonly nFailed: number;
  /** The percentiles of the band. */
  readonly percentiles: readonly [number, number];
  /** Days of the trajectories. */
  readonly times: number[];
  /** Pointwise median trajectory (the prediction). */
  readonly median: number[];
  /** Pointwise lower percentile. */
  readonly lower: number[];
  /** Pointwise upper percentile. */
  readonly upper: number[];
  /** Each parameter's values over the successful fits. */
  readonly params: Record<string, number[]>;
  /** Each parameter's median and percentiles. */
  readonly paramSummary: Record<string, ParamSummary>;
  /** Days of the whole series. */
  readonly seriesTimes: number[];
  /** Sizes of the whole series. */
  readonly seriesSizes: number[];
  /** Number of fitted (leading) points. */
  readonly nFit: number;
  /** Median-trajectory prediction of the held-out points. */
  readonly heldOut?: HeldOutResult & { readonly lower: number[]; readonly upper: number[] };
  /** The replicates' noise. */
  readonly bootstrapNoise: BootstrapNoise;
  /** Parameters held at population values because the series was short (drawn per replicate where the model gives a range). */
  readonly heldByFallback: string[];
  /** Why and how parameters were held for a short series (absent otherwise). */
  readonly notice?: string;
  /** With `refineFromBootstrap`: the refined bounds and the first pass. */
  readonly refinement?: BootstrapRefinement<P>;
  /** The pointwise median of the replicate trajectories at non-decreasing `times >= t0`. */
  predict(times: readonly number[]): number[];
}

/**
 * A series has fewer fitted points than the model has free parameters (after
 * `fixed` and, with `shortSeries: 'population'`, the population values). The
 * message says how many points there are, which parameters are free and which
 * option helps; the fields let a CLI name its own flags.
 */
export class TooFewPointsError extends RangeError {
  /** Fitted points of the series. */
  readonly points: number;
  /** The parameters left free. */
  readonly freeParams: string[];
  /** The model's name. */
  readonly modelName: string;
  /** What the population fallback holds (or would hold), in order; empty when the model has none. */
  readonly fallbackParams: string[];
  /** Whether `shortSeries: 'population'` was in effect. */
  readonly fallbackUsed: boolean;

  /**
   * @param message - the full message
   * @param info - the fields
   */
  constructor(message: string, info: { points: number; freeParams: string[]; modelName: string; fallbackParams: string[]; fallbackUsed: boolean }) {
    super(message);
    this.name = 'TooFewPointsError';
    this.points = info.points;
    this.freeParams = info.freeParams;
    this.modelName = info.modelName;
    this.fallbackParams = info.fallbackParams;
    this.fallbackUsed = info.fallbackUsed;
  }
}

/**
 * Prefixes the message of an error thrown by `fn` with the series id, so that
 * a failure in a batch names the series it came from.
 */
function forSeries<T>(id: string | undefined, fn: () => T): T {
  try {
    return fn();
  } catch (e) {
    if (id !== undefined && e instanceof Error && !e.message.startsWith(`series '${id}': `)) e.message = `series '${id}': ${e.message}`;
    throw e;
  }
}

/**
 * Checks a size series and returns plain copies.
 * @internal
 */
export function checkSeries(series: GrowthSeries, caller: string): { times: number[]; sizes: number[] } {
  if (series === null || typeof series !== 'object') throw new TypeError(`'series' passed to '${caller}' must be an object { times, sizes }`);
  const { times, sizes } = series;
  if (!Array.isArray(times) || !Array.isArray(sizes)) throw new RangeError(`'series' passed to '${caller}' must have arrays 'times' and 'sizes'`);
  if (times.length !== sizes.length) {
    throw new RangeError(`'series' passed to '${caller}' must have as many sizes as times, got ${sizes.length} sizes for ${times.length} times`);
  }
  checkTimes(times, 'series.times', caller, true);
  sizes.forEach((s, i) => {
    if (typeof s !== 'number' || Number.isNaN(s) || !Number.isFinite(s)) {
      throw new RangeError(`'series.sizes' passed to '${caller}' must hold finite numbers, got ${s} at index ${i} (day ${times[i]})`);
    }
    if (s < 0) throw new RangeError(`'series.sizes' passed to '${caller}' must be >= 0, got ${s} at index ${i} (day ${times[i]})`);
  });
  if (!(sizes[0] > 0)) throw new RangeError(`'series.sizes' passed to '${caller}' must start with a size > 0, got ${sizes[0]}`);
  return { times: [...times], sizes: [...sizes] };
}

function checkPositiveInt(v: number, name: string, caller: string, min = 1): void {
  if (!Number.isInteger(v) || v < min) throw new RangeError(`'${name}' passed to '${caller}' must be an integer >= ${min}, got ${v}`);
}

/** Pointwise metrics. */
function metrics(observed: readonly number[], predicted: readonly number[]): FitMetrics {
  const n = observed.length;
  const mean = observed.reduce((a, b) => a + b, 0) / n;
  let ssRes = 0;
  let ssTot = 0;
  for (let i = 0; i < n; i++) {
    ssRes += (observed[i]! - predicted[i]!) ** 2;
    ssTot += (observed[i]! - mean) ** 2;
  }
  const rmse = Math.sqrt(ssRes / n);
  return { r2: ssTot > 0 ? 1 - ssRes / ssTot : NaN, rmse, nrmse: rmse / mean };
}

/**
 * `numpy.percentile` of bootstrap values (`@tumorcast/metrics`): NaN for no
 * values (every fit failed) or for any NaN among them, as numpy gives. @internal
 */
export function samplePercentile(values: readonly number[], q: number): number {
  if (values.length === 0 || values.some(Number.isNaN)) return NaN;
  return percentileInPlace(Float64Array.from(values), q);
}

interface Prepared<P> {
  heldByFallback: string[];
  notice?: string;
  objective: FitObjective;
  times: number[];
  sizes: number[];
  nFit: number;
  holdOut: number;
  ctx: GrowthContext;
  names: (keyof P & string)[];
  freeIdx: number[];
  fixed: Partial<ParamRecord<P>>;
  initial: P;
  lower: P;
  upper: P;
  scale: number;
  form: SimulateForm;
  odeRtol: number;
}

function prepareFit<P extends ParamRecord<P>>(
  model: GrowthModel<P, GrowthContext>,
  series: GrowthSeries,
  options: FitGrowthOptions<P>,
  caller: string,
  checkedSeries?: { times: number[]; sizes: number[] },
  clampInitial = false,
): Prepared<P> {
  if (model === null || typeof model !== 'object' || !Array.isArray(model.paramNames)) {
    throw new TypeError(`'model' passed to '${caller}' must be a GrowthModel`);
  }
  const { times, sizes } = checkedSeries ?? checkSeries(series, caller);
  const n = times.length;
  const holdOut = options.holdOut ?? 0;
  if (!Number.isInteger(holdOut) || holdOut < 0 || holdOut >= n) {
    throw new RangeError(`'options.holdOut' passed to '${caller}' must be an integer in [0, ${n - 1}], got ${holdOut}`);
  }
  const nFit = n - holdOut;
  const fixed = { ...(options.fixed ?? {}) } as Partial<ParamRecord<P>>;
  const names = [...model.paramNames];
  for (const key of Object.keys(fixed)) {
    if (!names.includes(key as keyof P & string)) throw new RangeError(`'options.fixed.${key}' passed to '${caller}' is not a parameter of model '${model.name}' (${names.join(', ')})`);
    const v = (fixed as Record<string, number>)[key];
    if (!Number.isFinite(v)) throw new RangeError(`'options.fixed.${key}' passed to '${caller}' must be finite, got ${v}`);
  }
  const shortSeries = options.shortSeries ?? 'error';
  if (shortSeries !== 'error' && shortSeries !== 'population') {
    throw new RangeError(`'options.shortSeries' passed to '${caller}' must be 'error' or 'population', got ${String(shortSeries)}`);
  }
  const objective = options.objective ?? 'least-squares';
  if (objective !== 'least-squares' && objective !== 'reference') {
    throw new RangeError(`'options.objective' passed to '${caller}' must be 'least-squares' or 'reference', got ${String(objective)}`);
  }
  const fb = model.shortSeriesFallback;
  const fallbackParams = fb ? fb.order.filter((k) => !(k in fixed)) : [];
  const heldByFallback: string[] = [];
  const freeCount = (): number => names.filter((k) => !(k in fixed)).length;
  if (nFit < freeCount() && shortSeries === 'population' && fb) {
    for (const k of fallbackParams) {
      if (nFit >= freeCount()) break;
      const v = fb.values[k];
      if (v === undefined || !Number.isFinite(v)) throw new TypeError(`model '${model.name}' has no finite population value for '${k}' in its shortSeriesFallback`);
      (fixed as Record<string, number>)[k] = v;
      heldByFallback.push(k);
    }
  }
  const freeIdx = names.map((_, i) => i).filter((i) => !(names[i]! in fixed));
  if (nFit < freeIdx.length) {
    const free = freeIdx.map((i) => names[i]!);
    const pts = `${nFit} fitted points${holdOut ? ` (${n} minus ${holdOut} held out)` : ''}`;
    let help: string;
    if (shortSeries === 'population' && fb) {
      help = `even with the population values (${heldByFallback.join(', ') || 'none left'}) held; hold more parameters with 'options.fixed', e.g. { ${free.filter((k) => !fallbackParams.includes(k))[0] ?? free[0]}: <value> }`;
    } else if (fb && fallbackParams.length > 0) {
      help = `hold parameters with 'options.fixed' (e.g. { ${fallbackParams[0]}: ${fb.values[fallbackParams[0]!]} }), or pass shortSeries: 'population' to hold ${fallbackParams.join(', ')} at population values as needed`;
    } else {
      help = `hold parameters with 'options.fixed'`;
    }
    throw new TooFewPointsError(
      `'series' passed to '${caller}' has ${pts} but model '${model.name}' has ${free.length} free parameters (${free.join(', ')}): need at least as many points as free parameters; ${help}`,
      { points: nFit, freeParams: free, modelName: model.name, fallbackParams: heldByFallback.length ? heldByFallback : fallbackParams, fallbackUsed: shortSeries === 'population' },
    );
  }
  let notice: string | undefined;
  if (heldByFallback.length && fb) {
    const values = fb.values as Record<string, number | undefined>;
    const ranges = (fb.ranges ?? {}) as Record<string, readonly [number, number] | undefined>;
    const held = heldByFallback.map((k) => `${k} = ${values[k]}`).join(', ');
    const ranged = heldByFallback.filter((k) => ranges[k] !== undefined);
    notice =
      `${nFit} fitted points for ${names.length - Object.keys(options.fixed ?? {}).length} free parameters of model '${model.name}': held ${held} (population values: ${fb.source})` +
      (ranged.length ? `; a bootstrap draws ${ranged.map((k) => `${k} ${ranges[k]![0] > 0 ? 'log-uniformly' : 'uniformly'} in [${ranges[k]![0]}, ${ranges[k]![1]}]`).join(', ')} per replicate, so its band includes their uncertainty` : '');
  }
  const form = options.form ?? 'auto';
  if (form !== 'auto' && form !== 'closed' && form !== 'ode') throw new RangeError(`'options.form' passed to '${caller}' must be 'auto', 'closed' or 'ode', got ${String(form)}`);
  if (form === 'closed' && !model.closedForm) throw new RangeError(`'options.form' passed to '${caller}' is 'closed' but model '${model.name}' has no closed form`);
  const normalize = options.normalize ?? false;
  // checkSeries: at least one time, and sizes[0] > 0.
  const first = times[0]!;
  const scale = normalize ? sizes[0]! : 1;
  const ctxIn: GrowthContext = { ...(series.context ?? {}), ...(options.context ?? {}) };
  const t0 = ctxIn.t0 ?? first;
  if (!Number.isFinite(t0) || t0 > first) throw new RangeError(`'context.t0' passed to '${caller}' must be finite and <= the first day ${first}, got ${t0}`);
  const ctx = resolveModelContext(model, ctxIn, t0, times[n - 1]!, caller);
  const fitSizes = sizes.slice(0, nFit).map((s) => s / scale);
  const defaults = model.parameterDefaults?.(times.slice(0, nFit), fitSizes, ctx);
  const pick = (which: 'initial' | 'lower' | 'upper', fallback: number): P => {
    const out = {} as Record<string, number>;
    const user = (options[which] ?? {}) as Record<string, number | undefined>;
    for (const k of Object.keys(user)) {
      if (!names.includes(k as keyof P & string)) throw new RangeError(`'options.${which}.${k}' passed to '${caller}' is not a parameter of model '${model.name}'`);
    }
    for (const k of names) {
      const v = user[k] ?? (defaults ? (defaults[which] as Record<string, number>)[k]! : fallback);
      out[k] = (fixed as Record<string, number | undefined>)[k] ?? v;
    }
    return out as P;
  };
  const lower = pick('lower', -Infinity);
  const upper = pick('upper', Infinity);
  const initial = pick('initial', NaN);
  const rec = (o: P): Record<string, number> => o as unknown as Record<string, number>;
  for (const k of names as string[]) {
    const lo = rec(lower)[k]!;
    const hi = rec(upper)[k]!;
    if (Number.isNaN(lo) || Number.isNaN(hi) || lo > hi) throw new RangeError(`bounds of '${k}' passed to '${caller}' must satisfy lower <= upper, got [${lo}, ${hi}]`);
    if (clampInitial) rec(initial)[k] = Math.min(hi, Math.max(lo, rec(initial)[k]!));
    const init = rec(initial)[k]!;
    if (!Number.isFinite(init)) throw new RangeError(`'options.initial.${k}' passed to '${caller}' must be given (model '${model.name}' has no default), got ${init}`);
    if (init < lo || init > hi) throw new RangeError(`'options.initial.${k}' passed to '${caller}' must lie within its bounds [${lo}, ${hi}], got ${init}`);
  }
  const starts = options.starts ?? 5;
  checkPositiveInt(starts, 'options.starts', caller);
  const odeRtol = options.odeRtol ?? 1e-8;
  if (!(odeRtol > 0)) throw new RangeError(`'options.odeRtol' passed to '${caller}' must be > 0, got ${odeRtol}`);
  return { heldByFallback, ...(notice !== undefined ? { notice } : {}), objective, times, sizes, nFit, holdOut, ctx, names, freeIdx, fixed, initial, lower, upper, scale, form, odeRtol };
}

function makePredict<P extends ParamRecord<P>>(
  model: GrowthModel<P, GrowthContext>,
  params: P,
  ctx: GrowthContext,
  scale: number,
  form: SimulateForm,
  caller: string,
): (times: readonly number[]) => number[] {
  return (ts: readonly number[]): number[] => {
    checkTimes(ts, 'times', caller, false);
    const t0 = ctx.t0 ?? 0;
    if (ts[0]! < t0) throw new RangeError(`'times' passed to '${caller}' must be >= t0 (${t0}), got ${ts[0]}`);
    return evaluateModel(model, params, ts, ctx, form, 1e-10, 1e-12 / scale, caller).map((v) => v * scale);
  };
}

function runFit<P extends ParamRecord<P>>(model: GrowthModel<P, GrowthContext>, prep: Prepared<P>, options: FitGrowthOptions<P>, seriesId: string | undefined): FitResult<P> {
  const { names, freeIdx, fixed, initial, lower, upper, ctx, scale, form, nFit, times, sizes } = prep;
  const fitTimes = times.slice(0, nFit);
  const fitY = sizes.slice(0, nFit).map((s) => s / scale);
  const yMax = fitY.reduce((m, v) => Math.max(m, Math.abs(v)), 0);
  const atol = 1e-12 * Math.max(yMax, 1e-300);
  const useOde = form === 'ode' || !model.closedForm;
  const toParams = (x: readonly number[]): P => {
    const p = { ...initial, ...fixed } as Record<string, number>;
    // freeIdx indexes names; x holds one value per free parameter.
    freeIdx.forEach((i, j) => (p[names[i]!] = x[j]!));
    return p as P;
  };
  const squared = prep.objective === 'reference';
  const residual = (x: readonly number[]): number[] => {
    const m = evaluateModel(model, toParams(x), fitTimes, ctx, form, prep.odeRtol, atol, 'fitGrowth');
    // The reference objective squares the residuals before the solver squares them again.
    return squared ? fitY.map((y, i) => (y - m[i]!) ** 2) : fitY.map((y, i) => y - m[i]!);
  };
  const lo = freeIdx.map((i) => lower[names[i]!]);
  const hi = freeIdx.map((i) => upper[names[i]!]);
  const x0 = freeIdx.map((i) => initial[names[i]!]);
  const starts = options.starts ?? 5;
  const rng = new Rng(options.seed ?? 0, 'fitGrowth-starts');
  const tol = options.tol ?? 1e-8;
  const lmOptions = {
    maxIterations: options.maxIterations ?? 300,
    ftol: tol,
    xtol: tol,
    gtol: tol,
    secantUpdates: options.secantUpdates ?? 3,
    diffStep: useOde ? Math.max(Math.sqrt(Number.EPSILON), Math.sqrt(prep.odeRtol) * 0.1) : undefined,
  };
  let best: ReturnType<typeof leastSquaresBounded> | null = null;
  let bestStart = -1;
  let nfev = 0;
  for (let s = 0; s < starts; s++) {
    const xs = s === 0 ? x0 : lo.map((l, j) => sampleIn(rng, l, hi[j]!, x0[j]!));
    const res = leastSquaresBounded(residual, xs, lo, hi, lmOptions);
    nfev += res.nfev;
    if (res.status === 'failed') continue;
    if (best === null || res.cost < best.cost) {
      best = res;
      bestStart = s;
    }
  }
  const nanParams = Object.fromEntries(names.map((k) => [k, NaN])) as P;
  const base = {
    model,
    ...(seriesId !== undefined ? { seriesId } : {}),
    context: ctx,
    freeParams: freeIdx.map((i) => names[i]!),
    heldByFallback: [...prep.heldByFallback],
    ...(prep.notice !== undefined ? { notice: prep.notice } : {}),
    objective: prep.objective,
    bounds: { initial, lower, upper },
    scale,
    times: [...times],
    sizes: [...sizes],
    nFit,
  };
  if (best === null) {
    const reason = `the model could not be evaluated (non-finite output or ODE failure) at any of the ${starts} starting points`;
    return {
      ...base,
      ok: false,
      reason,
      params: nanParams,
      fitted: times.map(() => NaN),
      residuals: fitTimes.map(() => NaN),
      r2: NaN,
      rmse: NaN,
      nrmse: NaN,
      convergence: { converged: false, status: 'failed', message: reason, iterations: 0, nfev, starts, bestStart: -1, cost: NaN },
      predict: () => {
        throw new Error(`'predict' of a failed fit of model '${model.name}': ${reason}`);
      },
    };
  }
  const params = toParams(best.x);
  const predict = makePredict(model, params, ctx, scale, form, 'predict');
  let fitted: number[];
  try {
    fitted = evaluateModel(model, params, times, ctx, form, 1e-10, atol, 'fitGrowth').map((v) => v * scale);
  } catch {
    fitted = times.map(() => NaN);
  }
  const residuals = sizes.slice(0, nFit).map((y, i) => y - fitted[i]!);
  const m = metrics(sizes.slice(0, nFit), fitted.slice(0, nFit));
  let heldOut: HeldOutResult | undefined;
  if (prep.holdOut > 0) {
    const obs = sizes.slice(nFit);
    const pred = fitted.slice(nFit);
    heldOut = { times: times.slice(nFit), observed: obs, predicted: pred, residuals: obs.map((o, i) => o - pred[i]!), ...metrics(obs, pred) };
  }
  return {
    ...base,
    ok: true,
    params,
    fitted,
    residuals,
    ...m,
    ...(heldOut ? { heldOut } : {}),
    convergence: {
      converged: best.converged,
      status: best.status,
      message: best.message,
      iterations: best.iterations,
      nfev,
      starts,
      bestStart,
      cost: best.cost,
    },
    predict,
  };
}

function sampleIn(rng: Rng, lo: number, hi: number, around: number): number {
  if (Number.isFinite(lo) && Number.isFinite(hi)) {
    if (lo > 0 && hi / lo > 100) return Math.exp(rng.uniformRange(Math.log(lo), Math.log(hi)));
    return rng.uniformRange(lo, hi);
  }
  const span = Math.max(Math.abs(around), 1);
  const v = around + rng.normal(0, span);
  return Math.min(hi, Math.max(lo, v));
}

/**
 * Fits a growth model to a size series by bounded nonlinear least squares on
 * the residuals `data - model` (ordinary least squares; `objective: 'reference'`
 * squares the residuals first, as the reference code does, i.e. minimises
 * their fourth powers). Several starts (the model's defaults, then random
 * points in the bounds); optional normalisation to the first measurement;
 * optional hold-out of the last points for validation; parameters held with
 * `fixed`, or for short series at population values (`shortSeries: 'population'`).
 *
 * @param model - the growth model, e.g. {@link twoPhaseRtModel}
 * @param series - days and sizes (strictly increasing days, sizes >= 0), with RT context
 * @param options - bounds, held parameters, starts, objective, normalisation, hold-out, ODE or closed form
 * @returns the fit; `ok: false` with a `reason` when no start gave finite model output
 * @throws TooFewPointsError when the series has fewer fitted points than free
 *   parameters; RangeError on other bad input: unsorted or duplicate days, NaN or
 *   negative sizes, RT dates out of range, bad options. Messages start with
 *   `series '<id>': ` when the series has an id.
 */
export function fitGrowth<P extends ParamRecord<P>>(
  model: GrowthModel<P, GrowthContext>,
  series: GrowthSeries,
  options: FitGrowthOptions<P> = {},
): FitResult<P> {
  return forSeries(seriesIdOf(series), () => {
    const prep = prepareFit(model, series, options, 'fitGrowth');
    return runFit(model, prep, options, series.id);
  });
}

function seriesIdOf(series: GrowthSeries): string | undefined {
  return series !== null && typeof series === 'object' && typeof series.id === 'string' ? series.id : undefined;
}

/** The parameters `refineFromBootstrap` re-bounds, and the reference's factor on their bootstrap maxima. */
const REFINED_PARAMS = ['lambdaGr', 'lambdaDecay', 'delay'] as const;
const REFINE_FACTOR = 1.1;
/** The reference's starting delay (days) and lower delay bound in its second pass. */
const REFINED_DELAY_INITIAL = 60;
const REFINED_DELAY_LOWER = 0;

/** The reference's multiplicative noise: factors clipped to [0.001, 1], then a floor of 0.05 (fitting units). */
const REFERENCE_NOISE_MIN_FACTOR = 1e-3;
const REFERENCE_NOISE_MAX_FACTOR = 1;
const REFERENCE_NOISE_FLOOR = 0.05;

interface BootstrapSettings {
  caller: string;
  replicates: number;
  noiseStd: number;
  noise: BootstrapNoise;
  pct: readonly [number, number];
  grid: number[];
}

function runBootstrap<P extends ParamRecord<P>>(
  model: GrowthModel<P, GrowthContext>,
  series: GrowthSeries,
  options: BootstrapGrowthOptions<P>,
  prep: Prepared<P>,
  set: BootstrapSettings,
): BootstrapResult<P> {
  const { caller, replicates, noiseStd, noise, pct, grid } = set;
  const t0 = prep.ctx.t0 ?? prep.times[0]!; // checkSeries: at least one time
  const base = runFit(model, prep, options, series.id);
  const rng = new Rng(options.seed ?? 0, 'bootstrapGrowth-noise');
  const fb = model.shortSeriesFallback;
  const floor = REFERENCE_NOISE_FLOOR * prep.scale;
  const fits: FitResult<P>[] = [];
  let nFailed = 0;
  for (let b = 0; b < replicates; b++) {
    const noisy =
      noise === 'reference'
        ? prep.sizes.map((s, i) =>
            i < prep.nFit ? Math.max(floor, s * Math.min(REFERENCE_NOISE_MAX_FACTOR, Math.max(REFERENCE_NOISE_MIN_FACTOR, rng.normal(1, noiseStd)))) : s,
          )
        : prep.sizes.map((s, i) => (i < prep.nFit ? s * Math.max(0, rng.normal(1, noiseStd)) : s));
    const seed = rng.seedInt();
    // Parameters held for a short series: drawn per replicate where the model gives a range.
    const held: Record<string, number> = {};
    for (const k of prep.heldByFallback) {
      const range = fb?.ranges?.[k as keyof P];
      const v = fb!.values[k as keyof P]!; // held only with a finite population value (prepareFit)
      held[k] = range ? drawIn(rng, range[0], range[1]) : v;
    }
    if (!(noisy[0]! > 0)) {
      nFailed++;
      continue;
    }
    const repOptions: BootstrapGrowthOptions<P> = {
      ...options,
      seed,
      ...(prep.heldByFallback.length ? { fixed: { ...(options.fixed ?? {}), ...held } as Partial<ParamRecord<P>> } : {}),
    };
    // Bounds that follow the data (e.g. v0 within +-10 % of the first size) follow the noisy sizes; a user's
    // starting value outside them is clamped rather than rejected.
    const repPrep = prepareFit(model, { ...series, sizes: noisy }, repOptions, caller, { times: prep.times, sizes: noisy }, true);
    const fit = runFit(model, repPrep, repOptions, series.id);
    if (fit.ok) fits.push(fit);
    else nFailed++;
  }
  const names = [...model.paramNames] as string[];
  // Every successful fit has every parameter.
  const params: Record<string, number[]> = Object.fromEntries(names.map((k) => [k, fits.map((f) => (f.params as Record<string, number>)[k]!)]));
  const paramSummary: Record<string, ParamSummary> = Object.fromEntries(
    names.map((k) => [k, { median: samplePercentile(params[k]!, 50), lower: samplePercentile(params[k]!, pct[0]), upper: samplePercentile(params[k]!, pct[1]) }]),
  );
  const band = (ts: readonly number[]): { median: number[]; lower: number[]; upper: number[] } => {
    const traj = fits.map((f) => f.predict(ts));
    const col = (i: number): number[] => traj.map((tr) => tr[i]!); // one value per time of ts
    return {
      median: ts.map((_, i) => samplePercentile(col(i), 50)),
      lower: ts.map((_, i) => samplePercentile(col(i), pct[0])),
      upper: ts.map((_, i) => samplePercentile(col(i), pct[1])),
    };
  };
  const ok = fits.length > 0;
  const g = band(grid);
  let heldOut: BootstrapResult<P>['heldOut'];
  if (prep.holdOut > 0 && ok) {
    const ht = prep.times.slice(prep.nFit);
    const obs = prep.sizes.slice(prep.nFit);
    const hb = band(ht);
    heldOut = { times: ht, observed: obs, predicted: hb.median, lower: hb.lower, upper: hb.upper, residuals: obs.map((o, i) => o - hb.median[i]!), ...metrics(obs, hb.median) };
  }
  return {
    ok,
    ...(ok ? {} : { reason: `all ${replicates} bootstrap fits failed` }),
    model,
    ...(series.id !== undefined ? { seriesId: series.id } : {}),
    context: prep.ctx,
    base,
    fits,
    replicates,
    nFailed,
    percentiles: [pct[0], pct[1]],
    times: grid,
    ...g,
    params,
    paramSummary,
    seriesTimes: [...prep.times],
    seriesSizes: [...prep.sizes],
    nFit: prep.nFit,
    ...(heldOut ? { heldOut } : {}),
    bootstrapNoise: noise,
    heldByFallback: [...prep.heldByFallback],
    ...(prep.notice !== undefined ? { notice: prep.notice } : {}),
    predict: (ts: readonly number[]): number[] => {
      if (!ok) throw new Error(`'predict' of a failed bootstrap of model '${model.name}': all ${replicates} bootstrap fits failed`);
      checkTimes(ts, 'times', 'predict', false);
      if (ts[0]! < t0) throw new RangeError(`'times' passed to 'predict' must be >= t0 (${t0}), got ${ts[0]}`);
      return band(ts).median;
    },
  };
}

/** Log-uniform in `[lo, hi]` when `lo > 0`, else uniform. */
function drawIn(rng: Rng, lo: number, hi: number): number {
  return lo > 0 ? Math.exp(rng.uniformRange(Math.log(lo), Math.log(hi))) : rng.uniformRange(lo, hi);
}

/**
 * Bootstrap uncertainty: `replicates` fits to the fitted sizes multiplied by
 * seeded noise (`bootstrapNoise`: symmetric N(1, noiseStd) factors clamped at 0
 * by default, or the reference code's one-sided factors), then the pointwise
 * median trajectory (the prediction) and a percentile band, and each
 * parameter's distribution. Held-out points (options.holdOut) are not perturbed
 * and are predicted by the median trajectory. With `refineFromBootstrap`, a
 * second pass with bootstrap-informed bounds, as in the reference.
 *
 * @param model - the growth model
 * @param series - days, sizes and RT context
 * @param options - {@link fitGrowth}'s options plus replicates, noise, refinement, band and grid
 * @returns the median trajectory, band, parameter distributions and all fits
 * @throws TooFewPointsError or RangeError on bad input (as {@link fitGrowth}) or bad bootstrap options
 */
export function bootstrapGrowth<P extends ParamRecord<P>>(
  model: GrowthModel<P, GrowthContext>,
  series: GrowthSeries,
  options: BootstrapGrowthOptions<P> = {},
): BootstrapResult<P> {
  return forSeries(seriesIdOf(series), () => bootstrapChecked(model, series, options));
}

function bootstrapChecked<P extends ParamRecord<P>>(model: GrowthModel<P, GrowthContext>, series: GrowthSeries, options: BootstrapGrowthOptions<P>): BootstrapResult<P> {
  const caller = 'bootstrapGrowth';
  const prep = prepareFit(model, series, options, caller);
  const replicates = options.replicates ?? 30;
  checkPositiveInt(replicates, 'options.replicates', caller);
  const noiseStd = options.noiseStd ?? 0.1;
  if (!(noiseStd >= 0) || !Number.isFinite(noiseStd)) throw new RangeError(`'options.noiseStd' passed to '${caller}' must be a finite number >= 0, got ${noiseStd}`);
  const noise = options.bootstrapNoise ?? 'symmetric';
  if (noise !== 'symmetric' && noise !== 'reference') {
    throw new RangeError(`'options.bootstrapNoise' passed to '${caller}' must be 'symmetric' or 'reference', got ${String(noise)}`);
  }
  const refine = options.refineFromBootstrap ?? false;
  if (typeof refine !== 'boolean') throw new RangeError(`'options.refineFromBootstrap' passed to '${caller}' must be true or false, got ${String(refine)}`);
  const refined = REFINED_PARAMS.filter((k) => (model.paramNames as readonly string[]).includes(k) && !(k in prep.fixed));
  if (refine && refined.length === 0) {
    throw new RangeError(
      `'options.refineFromBootstrap' passed to '${caller}' re-bounds ${REFINED_PARAMS.join(', ')} (the two-phase model's), but model '${model.name}' has none of them free`,
    );
  }
  const pct = options.percentiles ?? [5, 95];
  if (!Array.isArray(pct) || pct.length !== 2 || !(pct[0] >= 0 && pct[0] < pct[1] && pct[1] <= 100)) {
    throw new RangeError(`'options.percentiles' passed to '${caller}' must be [low, high] with 0 <= low < high <= 100, got ${JSON.stringify(pct)}`);
  }
  const t0 = prep.ctx.t0 ?? prep.times[0]!; // checkSeries: at least one time
  let grid: number[];
  if (options.times !== undefined) {
    checkTimes(options.times, 'options.times', caller, false);
    if (options.times[0]! < t0) throw new RangeError(`'options.times' passed to '${caller}' must be >= t0 (${t0}), got ${options.times[0]}`);
    grid = [...options.times];
  } else {
    const gridPoints = options.gridPoints ?? 121;
    checkPositiveInt(gridPoints, 'options.gridPoints', caller, 2);
    const until = options.until ?? prep.times[prep.times.length - 1]!;
    if (!Number.isFinite(until) || until <= t0) throw new RangeError(`'options.until' passed to '${caller}' must be a finite day after t0 (${t0}), got ${until}`);
    grid = Array.from({ length: gridPoints }, (_, i) => t0 + ((until - t0) * i) / (gridPoints - 1));
  }
  const set: BootstrapSettings = { caller, replicates, noiseStd, noise, pct: [pct[0], pct[1]], grid };
  const first = runBootstrap(model, series, options, prep, set);
  if (!refine) return first;
  if (!first.ok) return { ...first, reason: `the first pass of 'refineFromBootstrap' failed: ${first.reason}` };
  // The reference's second pass: upper bound = 1.1 x the largest value not above the 90th percentile.
  const lower: Record<string, number> = {};
  const upper: Record<string, number> = {};
  const initial: Record<string, number> = {};
  const rec = (o: P): Record<string, number> => o as unknown as Record<string, number>;
  for (const k of refined) {
    const values = first.params[k]!;
    const p90 = samplePercentile(values, 90);
    const hi = REFINE_FACTOR * values.filter((v) => v <= p90).reduce((m, v) => Math.max(m, v), -Infinity);
    // k is one of the model's parameters (refined is filtered by paramNames).
    const lo = k === 'delay' ? REFINED_DELAY_LOWER : rec(prep.lower)[k]!;
    const init = k === 'delay' ? REFINED_DELAY_INITIAL : rec(prep.initial)[k]!;
    upper[k] = hi;
    lower[k] = lo;
    initial[k] = Math.min(hi, Math.max(lo, init));
  }
  const options2: BootstrapGrowthOptions<P> = {
    ...options,
    lower: { ...(options.lower ?? {}), ...lower } as Partial<ParamRecord<P>>,
    upper: { ...(options.upper ?? {}), ...upper } as Partial<ParamRecord<P>>,
    initial: { ...(options.initial ?? {}), ...initial } as Partial<ParamRecord<P>>,
  };
  const prep2 = prepareFit(model, series, options2, caller);
  const second = runBootstrap(model, series, options2, prep2, set);
  return { ...second, refinement: { lower, upper, initial, firstPass: first } };
}

/** What {@link relativeChange} needs: a {@link FitResult} or a {@link BootstrapResult}. */
export interface GrowthPrediction {
  /** Whether the fit succeeded. */
  readonly ok: boolean;
  /** Why it failed. */
  readonly reason?: string;
  /** The resolved context (its `t0`). */
  readonly context: GrowthContext;
  /** Sizes at non-decreasing days. */
  predict(times: readonly number[]): number[];
}

/**
 * The relative change of the predicted size, `y(tFollowup) / y(tBaseline) - 1`:
 * the number the guided sampler needs. For a bootstrap, `y` is the pointwise
 * median trajectory.
 *
 * @param fit - a successful {@link fitGrowth} or {@link bootstrapGrowth} result
 * @param tBaseline - baseline day (`>= t0`)
 * @param tFollowup - follow-up day (`>= t0`)
 * @returns the relative change (e.g. -0.25 for a 25 % shrinkage)
 * @throws Error if the fit failed; RangeError on bad days or a zero baseline size
 */
export function relativeChange(fit: GrowthPrediction, tBaseline: number, tFollowup: number): number {
  const caller = 'relativeChange';
  if (fit === null || typeof fit !== 'object' || typeof (fit as { predict?: unknown }).predict !== 'function') {
    throw new TypeError(`'fit' passed to '${caller}' must be a result of fitGrowth or bootstrapGrowth`);
  }
  if (!fit.ok) throw new Error(`'fit' passed to '${caller}' is a failed fit: ${fit.reason}`);
  const t0 = fit.context.t0 ?? 0;
  for (const [name, t] of [
    ['tBaseline', tBaseline],
    ['tFollowup', tFollowup],
  ] as const) {
    if (!Number.isFinite(t)) throw new RangeError(`'${name}' passed to '${caller}' must be a finite day, got ${t}`);
    if (t < t0) throw new RangeError(`'${name}' passed to '${caller}' must be >= t0 (${t0}), got ${t}`);
  }
  const [a, b] = tBaseline <= tFollowup ? [tBaseline, tFollowup] : [tFollowup, tBaseline];
  const pred = fit.predict([a, b]);
  const ya = pred[0]!;
  const yb = pred[1]!;
  const [yBase, yFollow] = tBaseline <= tFollowup ? [ya, yb] : [yb, ya];
  if (!(yBase > 0)) throw new RangeError(`the predicted size at 'tBaseline' passed to '${caller}' is ${yBase}: the relative change is undefined`);
  return yFollow / yBase - 1;
}
