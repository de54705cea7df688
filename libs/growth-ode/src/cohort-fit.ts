/**
 * Per-patient fitting of a longitudinal cohort: the reference code's split
 * modes (which scans are fitted, which predicted), the bootstrap fit and the
 * follow-up prediction of one patient, and treatment scenarios — alternative
 * radiotherapy schedules simulated with a patient's fitted parameters.
 */
import { percentileInPlace } from '@tumorcast/metrics';
import { bootstrapGrowth, type BootstrapGrowthOptions, type BootstrapResult, type FitResult } from './fit.js';
import { checkTimes, simulate, standardSchedule, type GrowthContext, type GrowthModel, type ParamRecord } from './model.js';

/**
 * How a patient's series is split (the reference code's patient configurations):
 * - `last_n`: fit all but the last `n` scans, predict those;
 * - `remove_last_predict`: drop the last `removeLast` scans altogether, then
 *   fit all but the last `predictRemaining` of the rest and predict those;
 * - `pre_rt_points`: fit the scans on or before the RT start, predict the later ones.
 */
export type SeriesSplit =
  | { readonly mode: 'last_n'; readonly n: number }
  | { readonly mode: 'remove_last_predict'; readonly removeLast: number; readonly predictRemaining: number }
  | { readonly mode: 'pre_rt_points' };

/** Indices into a series of what {@link splitSeries} fits, predicts and drops. */
export interface SeriesSplitIndices {
  /** Fitted scans (a leading run). */
  readonly fit: number[];
  /** Held-out scans to predict (the run after the fitted ones). */
  readonly heldOut: number[];
  /** Scans dropped altogether (`remove_last_predict`). */
  readonly removed: number[];
}

/**
 * numpy-style percentile of values that may overflow: +-Infinity counts as
 * +-Number.MAX_VALUE (so that two infinite neighbours interpolate to it, not
 * to NaN) and NaN values are left out; NaN when none is left.
 */
function overflowPercentile(values: readonly number[], p: number): number {
  const v = values.filter((x) => !Number.isNaN(x)).map((x) => Math.max(-Number.MAX_VALUE, Math.min(Number.MAX_VALUE, x)));
  return v.length ? percentileInPlace(Float64Array.from(v), p) : Number.NaN;
}

function describeSplit(s: SeriesSplit): string {
  if (s.mode === 'last_n') return `last_n (n = ${s.n})`;
  if (s.mode === 'remove_last_predict') return `remove_last_predict (removeLast = ${s.removeLast}, predictRemaining = ${s.predictRemaining})`;
  return 'pre_rt_points';
}

/**
 * Splits a series into fitted, held-out and dropped scans. Unlike the
 * reference code, which falls back to fitting the first scan alone when a
 * series is too short for its split, a split that leaves no fitted or no
 * held-out scan is an error: a one-point fit predicts nothing.
 *
 * @example
 * ```ts
 * splitSeries([0, 10, 40, 90], { mode: 'last_n', n: 1 }, 5);        // { fit: [0, 1, 2], heldOut: [3], removed: [] }
 * splitSeries([0, 10, 40, 90], { mode: 'pre_rt_points' }, 10);      // { fit: [0, 1], heldOut: [2, 3], removed: [] }
 * ```
 *
 * @param times - the scan days, strictly increasing.
 * @param split - see {@link SeriesSplit}.
 * @param rtStart - the RT start day (for `pre_rt_points`).
 * @returns the indices.
 * @throws RangeError naming the split when it leaves no fitted or no held-out scan, or for a bad argument.
 */
export function splitSeries(times: readonly number[], split: SeriesSplit, rtStart: number): SeriesSplitIndices {
  const fn = 'splitSeries';
  checkTimes(times, 'times', fn, true);
  if (!split || typeof split !== 'object') throw new TypeError(`'split' passed to '${fn}' must be an object with a 'mode'`);
  const n = times.length;
  const idx = (a: number, b: number) => Array.from({ length: Math.max(0, b - a) }, (_, i) => a + i);
  let keep = n;
  let nFit: number;
  if (split.mode === 'last_n') {
    if (!Number.isInteger(split.n) || split.n < 1) throw new RangeError(`'split.n' passed to '${fn}' must be an integer >= 1, got ${split.n}`);
    nFit = n - split.n;
  } else if (split.mode === 'remove_last_predict') {
    const { removeLast: r, predictRemaining: k } = split;
    if (!Number.isInteger(r) || r < 0) throw new RangeError(`'split.removeLast' passed to '${fn}' must be an integer >= 0, got ${r}`);
    if (!Number.isInteger(k) || k < 1) throw new RangeError(`'split.predictRemaining' passed to '${fn}' must be an integer >= 1, got ${k}`);
    keep = n - r;
    nFit = keep - k;
  } else if (split.mode === 'pre_rt_points') {
    if (!Number.isFinite(rtStart)) throw new RangeError(`'rtStart' passed to '${fn}' must be a finite day, got ${rtStart}`);
    nFit = times.filter((t) => t <= rtStart).length;
  } else {
    throw new RangeError(`'split.mode' passed to '${fn}' must be 'last_n', 'remove_last_predict' or 'pre_rt_points', got ${JSON.stringify((split as { mode: unknown }).mode)}`);
  }
  if (nFit < 1 || keep - nFit < 1) {
    throw new RangeError(`split ${describeSplit(split)} of ${n} scans (days ${times.join(', ')}${split.mode === 'pre_rt_points' ? `; RT start ${rtStart}` : ''}) leaves `
      + `${Math.max(0, nFit)} fitted and ${Math.max(0, keep - Math.max(0, nFit))} held-out scans: it needs at least one of each`);
  }
  return { fit: idx(0, nFit), heldOut: idx(nFit, keep), removed: idx(keep, n) };
}

/** One patient's series for {@link fitPatient}. */
export interface PatientSeries {
  /** Patient id (in messages and results). */
  readonly id: string;
  /** Scan days, strictly increasing. */
  readonly times: readonly number[];
  /** Tumour sizes. */
  readonly sizes: readonly number[];
  /** First RT day (may lie before the first scan). */
  readonly rtStartDay: number;
  /** The split. */
  readonly split: SeriesSplit;
  /**
   * The day to predict: a held-out scan day.
   * @defaultValue the first held-out scan
   */
  readonly followupDay?: number;
}

/** Options of {@link fitPatient}: those of `bootstrapGrowth` but the hold-out and grid, which the split sets. */
export interface FitPatientOptions<P> extends Omit<BootstrapGrowthOptions<P>, 'holdOut' | 'times' | 'until' | 'gridPoints' | 'context'> {
  /**
   * Days of the trajectory grid beyond the scans (e.g. for plots), merged with every scan day.
   * @defaultValue 61 days evenly from the first scan to the last scan or follow-up
   */
  grid?: readonly number[];
}

/** The fit and follow-up prediction of one patient ({@link fitPatient}). */
export interface PatientFit<P extends ParamRecord<P> = Record<string, number>> {
  /** Patient id. */
  readonly id: string;
  /** The split used. */
  readonly split: SeriesSplit;
  /** Indices of fitted, held-out and dropped scans. */
  readonly indices: SeriesSplitIndices;
  /** The baseline: the last fitted scan's day. */
  readonly baselineDay: number;
  /** The predicted follow-up day. */
  readonly followupDay: number;
  /** Measured size at the baseline and follow-up scans. */
  readonly observed: { readonly baseline: number; readonly followup: number };
  /** Median size of the bootstrap fits at the baseline and follow-up days. */
  readonly predicted: { readonly baseline: number; readonly followup: number };
  /** 5th-95th percentile band of the follow-up size. */
  readonly followupBand: readonly [number, number];
  /** `predicted.followup / predicted.baseline - 1`: what guides the sampler. */
  readonly relativeChange: number;
  /** Band of the relative change over the bootstrap fits (the same percentiles, per fit). */
  readonly relativeChangeBand: readonly [number, number];
  /** The true relative change `observed.followup / observed.baseline - 1`. */
  readonly observedChange: number;
  /** Goodness of the fit to the unperturbed data on the fitted scans: R^2 and nRMSE (RMSE / mean size). */
  readonly quality: { readonly r2: number; readonly nrmse: number; readonly rmse: number };
  /** The held-out scans: predicted (median) vs observed, and their nRMSE. */
  readonly heldOut: { readonly times: number[]; readonly observed: number[]; readonly predicted: number[]; readonly nrmse: number };
  /** The bootstrap (fitted on the kept scans, the held-out ones not perturbed). */
  readonly result: BootstrapResult<P>;
}

/**
 * Fits one patient as the cohort evaluation does: split the series, bootstrap
 * the model on the fitted scans (the held-out ones predicted), and predict
 * the follow-up day from the baseline (the last fitted scan). Dropped scans
 * (`remove_last_predict`) take no part.
 *
 * @example
 * ```ts
 * const fit = fitPatient(twoPhaseRtModel, {
 *   id: 'P01', times: [0, 14, 35, 63, 100], sizes: [700, 760, 610, 380, 420], rtStartDay: 14, split: { mode: 'last_n', n: 1 },
 * }, { replicates: 30, normalize: true, shortSeries: 'population', seed: 1 });
 * fit.relativeChange; fit.followupBand; fit.quality.r2;
 * ```
 *
 * @param model - the growth model (e.g. `twoPhaseRtModel`).
 * @param patient - see {@link PatientSeries}.
 * @param options - see {@link FitPatientOptions}.
 * @returns the fit.
 * @throws RangeError (a `TooFewPointsError` for too short a series) naming the patient, for a bad split, follow-up day or series.
 */
export function fitPatient<P extends ParamRecord<P>>(model: GrowthModel<P, GrowthContext>, patient: PatientSeries, options: FitPatientOptions<P> = {}): PatientFit<P> {
  const fn = 'fitPatient';
  if (!patient || typeof patient !== 'object') throw new TypeError(`'patient' passed to '${fn}' must be an object`);
  const id = patient.id;
  const at = `patient '${id}': `;
  try {
    if (!Array.isArray(patient.sizes) || patient.sizes.length !== patient.times?.length) {
      throw new RangeError(`'patient.sizes' passed to '${fn}' must have one size per day (${patient.times?.length ?? 0}), got ${Array.isArray(patient.sizes) ? patient.sizes.length : typeof patient.sizes}`);
    }
    const ix = splitSeries(patient.times, patient.split, patient.rtStartDay);
    const keep = [...ix.fit, ...ix.heldOut];
    const times = keep.map((i) => patient.times[i]!);
    const sizes = keep.map((i) => patient.sizes[i]!);
    const baselineDay = times[ix.fit.length - 1]!;
    const heldDays = ix.heldOut.map((i) => patient.times[i]!);
    const followupDay = patient.followupDay ?? heldDays[0]!;
    if (!heldDays.includes(followupDay)) {
      throw new RangeError(`'patient.followupDay' passed to '${fn}' (${followupDay}) must be a held-out scan day of split ${describeSplit(patient.split)}: ${heldDays.join(', ')}`);
    }
    const last = times[times.length - 1]!;
    const grid = options.grid ?? Array.from({ length: 61 }, (_, i) => times[0]! + ((Math.max(last, followupDay) - times[0]!) * i) / 60);
    checkTimes([...grid].sort((a, b) => a - b), 'options.grid', fn, false);
    const gridDays = [...new Set([...grid, ...times])].filter((t) => t >= times[0]!).sort((a, b) => a - b);
    const { grid: _g, ...boot } = options;
    const result = bootstrapGrowth(model, { id, times, sizes, context: { rtStart: patient.rtStartDay } }, { ...boot, holdOut: ix.heldOut.length, times: gridDays });
    if (!result.ok) throw new RangeError(`the growth fit failed: ${result.reason}`);
    const [pb, pf] = result.predict([baselineDay, followupDay]) as [number, number];
    const pct = result.percentiles;
    const perFit = result.fits.map((f) => f.predict([baselineDay, followupDay]) as [number, number]);
    const q = overflowPercentile;
    const fu = perFit.map((x) => x[1]);
    const ch = perFit.map((x) => x[1] / x[0] - 1);
    const obs = (day: number) => patient.sizes[patient.times.indexOf(day)]!;
    const heldPred = result.predict(heldDays);
    const heldObs = heldDays.map(obs);
    const meanObs = heldObs.reduce((a, b) => a + b, 0) / heldObs.length;
    const heldRmse = Math.sqrt(heldObs.reduce((a, o, i) => a + (o - heldPred[i]!) ** 2, 0) / heldObs.length);
    return {
      id, split: patient.split, indices: ix, baselineDay, followupDay,
      observed: { baseline: obs(baselineDay), followup: obs(followupDay) },
      predicted: { baseline: pb, followup: pf },
      followupBand: [q(fu, pct[0]), q(fu, pct[1])],
      relativeChange: pf / pb - 1,
      relativeChangeBand: [q(ch, pct[0]), q(ch, pct[1])],
      observedChange: obs(followupDay) / obs(baselineDay) - 1,
      quality: { r2: result.base.r2, nrmse: result.base.nrmse, rmse: result.base.rmse },
      heldOut: { times: heldDays, observed: heldObs, predicted: heldPred, nrmse: heldRmse / meanObs },
      result,
    };
  } catch (e) {
    if (e instanceof Error && !e.message.startsWith(at) && !e.message.startsWith(`series '${id}': `)) e.message = `${at}${e.message}`;
    throw e;
  }
}

/**
 * An alternative radiotherapy schedule. Fields left out keep the fitted
 * patient's own: its RT start, course length and fitted parameters.
 */
export interface TreatmentScenario {
  /** Name shown in tables and plots, e.g. `'start 2 weeks later'`. */
  readonly name: string;
  /** Move the RT start by this many days (negative: earlier). */
  readonly rtStartShift?: number;
  /** The RT start day (instead of a shift). */
  readonly rtStartDay?: number;
  /**
   * Length of the course in days. The LQ models spread the same fractions
   * over it (their days scaled from the start); the two-phase model treats
   * radiotherapy as one event at its start, so the length does not enter it
   * (the prediction says so in its `caveats`).
   */
  readonly courseDays?: number;
  /** Surviving fraction `S` of the two-phase model (its `survival`), in (0, 1]. */
  readonly survival?: number;
  /** LQ models: `alpha` per Gy instead of the fitted one. */
  readonly alpha?: number;
  /** No radiotherapy at all: `survival = 1` (two-phase) or `alpha = 0` (LQ). */
  readonly noRt?: boolean;
}

/** The standard course length the LQ models' schedule spans (days from the first fraction to the end). */
const STANDARD_COURSE_DAYS = 42;

function checkScenario(s: TreatmentScenario, i: number, fn: string): void {
  const at = `'scenarios[${i}]' passed to '${fn}'`;
  if (!s || typeof s !== 'object' || typeof s.name !== 'string' || !s.name) throw new TypeError(`${at} must be an object with a non-empty 'name'`);
  const num = (k: keyof TreatmentScenario, ok: (v: number) => boolean, what: string) => {
    const v = s[k];
    if (v !== undefined && (typeof v !== 'number' || !Number.isFinite(v) || !ok(v))) throw new RangeError(`${at} ('${s.name}'): '${k}' must be ${what}, got ${String(v)}`);
  };
  num('rtStartShift', () => true, 'a finite number of days');
  num('rtStartDay', () => true, 'a finite day');
  num('courseDays', (v) => v > 0, 'a number of days > 0');
  num('survival', (v) => v > 0 && v <= 1, 'in (0, 1]');
  num('alpha', (v) => v >= 0, 'a number >= 0');
  if (s.rtStartShift !== undefined && s.rtStartDay !== undefined) throw new RangeError(`${at} ('${s.name}'): give 'rtStartShift' or 'rtStartDay', not both`);
  if (s.noRt && (s.rtStartShift !== undefined || s.rtStartDay !== undefined || s.survival !== undefined || s.alpha !== undefined || s.courseDays !== undefined)) {
    throw new RangeError(`${at} ('${s.name}'): 'noRt' takes no other treatment field`);
  }
}

/**
 * The model and context of a scenario: which parameters and context to
 * simulate with, and the caveats that apply.
 */
function applyScenario<P extends ParamRecord<P>>(
  model: GrowthModel<P, GrowthContext>, params: P, context: GrowthContext, s: TreatmentScenario, tMax: number,
): { params: P; context: GrowthContext; caveats: string[] } {
  const names = model.paramNames as readonly string[];
  const p: Record<string, number> = { ...(params as Record<string, number>) };
  const caveats: string[] = [];
  const isLq = names.includes('alpha');
  const hasSurvival = names.includes('survival');
  const rt0 = context.rtStart;
  if (rt0 === undefined) throw new RangeError(`the fitted context of model '${model.name}' has no RT start`);
  if (s.noRt) {
    if (rt0 < (context.t0 ?? 0)) caveats.push('radiotherapy started before the first scan: its effect up to that scan is in the fitted size there, so "no RT" only removes what it does after it');
    if (isLq) {
      p['alpha'] = 0;
      return { params: p as P, context, caveats };
    }
    if (!hasSurvival) throw new RangeError(`scenario '${s.name}': model '${model.name}' has neither 'survival' nor 'alpha': 'noRt' does not apply to it`);
    // Survival 1, with the RT event moved past the last day: the same sizes, without the 0 x overflow
    // (NaN) that the damaged part's factor gives for a replicate with an extreme decay rate.
    const { schedule: _s, ...rest } = context;
    return { params: p as P, context: { ...rest, rtStart: Math.max(tMax, context.t0 ?? 0) + 1 }, caveats };
  }
  const rt = s.rtStartDay ?? rt0 + (s.rtStartShift ?? 0);
  if (s.survival !== undefined) {
    if (!hasSurvival) throw new RangeError(`scenario '${s.name}': model '${model.name}' has no 'survival' parameter`);
    p['survival'] = s.survival;
  }
  if (s.alpha !== undefined) {
    if (!isLq) throw new RangeError(`scenario '${s.name}': model '${model.name}' has no 'alpha' parameter`);
    p['alpha'] = s.alpha;
  }
  const t0 = context.t0 ?? 0;
  if ((rt !== rt0) && (rt < t0 || rt0 < t0)) caveats.push('the RT start lies before the first scan: the fitted size at that scan is kept, so the scenario changes the course of an already observed tumour');
  const { schedule: oldSchedule, ...rest } = context;
  const ctx: GrowthContext = { ...rest, rtStart: rt };
  if (isLq) {
    const course = s.courseDays ?? STANDARD_COURSE_DAYS;
    const base = oldSchedule && rt === rt0 && s.courseDays === undefined ? [...oldSchedule] : standardSchedule(rt);
    (ctx as { schedule?: unknown }).schedule = s.courseDays === undefined ? base : base.map((f) => ({ day: rt + ((f.day - rt) * course) / STANDARD_COURSE_DAYS, dose: f.dose }));
  } else if (s.courseDays !== undefined) {
    caveats.push(`model '${model.name}' treats radiotherapy as one event at its start: the course length (${s.courseDays} days) does not change its prediction`);
  }
  return { params: p as P, context: ctx, caveats };
}

/**
 * The model's sizes under a treatment scenario for one parameter set: the
 * fitted parameters and context with the scenario's changes (see
 * {@link TreatmentScenario}). `times` must be `>= context.t0`.
 *
 * @param model - the model the parameters belong to.
 * @param params - its parameters (in the units the sizes should come out in).
 * @param context - the fitted (resolved) context: `t0`, `rtStart`.
 * @param scenario - the scenario.
 * @param times - non-decreasing days.
 * @returns the sizes and the caveats that apply.
 * @throws RangeError for a scenario field the model has no parameter for, or bad times.
 */
export function simulateScenario<P extends ParamRecord<P>>(
  model: GrowthModel<P, GrowthContext>, params: P, context: GrowthContext, scenario: TreatmentScenario, times: readonly number[],
): { sizes: number[]; caveats: string[] } {
  checkScenario(scenario, 0, 'simulateScenario');
  checkTimes(times, 'times', 'simulateScenario', false);
  const a = applyScenario(model, params, context, scenario, times[times.length - 1]!);
  return { sizes: simulate(model, a.params, times, a.context), caveats: a.caveats };
}

/** One scenario's prediction over the bootstrap fits ({@link predictScenarios}). */
export interface ScenarioPrediction {
  /** The scenario. */
  readonly scenario: TreatmentScenario;
  /** The RT start day it uses (undefined without RT). */
  readonly rtStartDay?: number;
  /** Days. */
  readonly times: number[];
  /** Pointwise median over the bootstrap fits. */
  readonly median: number[];
  /** Pointwise lower percentile. */
  readonly lower: number[];
  /** Pointwise upper percentile. */
  readonly upper: number[];
  /** Median size and band at the follow-up day. */
  readonly followup: { readonly day: number; readonly median: number; readonly lower: number; readonly upper: number };
  /** Median relative change from the baseline day to the follow-up day (the guidance target of this scenario). */
  readonly relativeChange: number;
  /** Why the scenario is shakier than usual (e.g. RT before the first scan), besides being a model extrapolation. */
  readonly caveats: string[];
  /** Bootstrap fits the median and band are over (those whose trajectory is a number throughout). */
  readonly fits: number;
}

/** Options of {@link predictScenarios}. */
export interface PredictScenariosOptions {
  /** Baseline day (the last scan the sampler starts from). */
  baselineDay: number;
  /** Follow-up day to predict. */
  followupDay: number;
  /**
   * Days of the trajectories (sorted; the baseline and follow-up days are added).
   * @defaultValue the bootstrap's own grid
   */
  times?: readonly number[];
}

/**
 * Treatment what-ifs for a fitted patient: every bootstrap fit is simulated
 * under each scenario (its own fitted parameters with the scenario's
 * changes), and the pointwise median and band over the fits are reported —
 * as the bootstrap reports the fitted course. These are extrapolations of
 * the model: nothing in the data tested how this patient's tumour would
 * have responded to another schedule.
 *
 * @example
 * ```ts
 * const fit = fitPatient(twoPhaseRtModel, patient, { normalize: true, shortSeries: 'population' });
 * const what = predictScenarios(fit.result, [
 *   { name: 'as treated' }, { name: '2 weeks later', rtStartShift: 14 }, { name: 'no RT', noRt: true }, { name: 'S = 0.05', survival: 0.05 },
 * ], { baselineDay: fit.baselineDay, followupDay: fit.followupDay });
 * what.map((w) => [w.scenario.name, w.followup.median, w.relativeChange]);
 * ```
 *
 * @param result - the bootstrap of the patient (e.g. `fitPatient(...).result`).
 * @param scenarios - the scenarios.
 * @param options - see {@link PredictScenariosOptions}.
 * @returns one prediction per scenario, in order.
 * @throws RangeError naming the scenario for a field the model has no parameter for; for a failed bootstrap or bad days.
 */
export function predictScenarios<P extends ParamRecord<P>>(result: BootstrapResult<P>, scenarios: readonly TreatmentScenario[], options: PredictScenariosOptions): ScenarioPrediction[] {
  const fn = 'predictScenarios';
  if (!result || typeof result !== 'object' || !Array.isArray(result.fits)) throw new TypeError(`'result' passed to '${fn}' must be a bootstrap result`);
  if (!result.ok || !result.fits.length) throw new RangeError(`'result' passed to '${fn}' has no successful fit${result.reason ? `: ${result.reason}` : ''}`);
  if (!Array.isArray(scenarios)) throw new TypeError(`'scenarios' passed to '${fn}' must be an array`);
  scenarios.forEach((s, i) => checkScenario(s, i, fn));
  const { baselineDay, followupDay } = options ?? ({} as PredictScenariosOptions);
  if (!Number.isFinite(baselineDay) || !Number.isFinite(followupDay) || !(followupDay > baselineDay)) {
    throw new RangeError(`'options.baselineDay' and 'options.followupDay' passed to '${fn}' must be finite days with the follow-up after the baseline, got ${baselineDay} and ${followupDay}`);
  }
  const t0 = result.context.t0 ?? result.seriesTimes[0]!;
  const times = [...new Set([...(options.times ?? result.times), baselineDay, followupDay])].sort((a, b) => a - b);
  if (times[0]! < t0) throw new RangeError(`'options.times' passed to '${fn}' must be >= the first scan day ${t0}, got ${times[0]}`);
  const [lo, hi] = result.percentiles;
  const ib = times.indexOf(baselineDay);
  const ifu = times.indexOf(followupDay);
  return scenarios.map((s) => {
    const caveats = new Set<string>();
    let rtStartDay: number | undefined;
    const all = result.fits.map((f: FitResult<P>) => {
      const a = applyScenario(result.model, f.params, f.context, s, times[times.length - 1]!);
      a.caveats.forEach((c) => caveats.add(c));
      rtStartDay = s.noRt ? undefined : a.context.rtStart;
      return simulate(result.model, a.params, times, a.context).map((y) => y * f.scale);
    });
    // A replicate whose trajectory is not a number anywhere (an overflow in its extreme parameters) is left out and counted.
    const runs = all.filter((r) => r.every((y) => !Number.isNaN(y)));
    if (!runs.length) throw new RangeError(`scenario '${s.name}': no bootstrap fit gives a trajectory without NaN`);
    const stat = (p: number) => times.map((_, j) => overflowPercentile(runs.map((r) => r[j]!), p));
    const median = stat(50);
    const lower = stat(lo);
    const upper = stat(hi);
    return {
      scenario: s, ...(rtStartDay !== undefined ? { rtStartDay } : {}), times, median, lower, upper,
      followup: { day: followupDay, median: median[ifu]!, lower: lower[ifu]!, upper: upper[ifu]! },
      relativeChange: median[ifu]! / median[ib]! - 1,
      caveats: [...caveats, ...(runs.length < all.length ? [`${all.length - runs.length} of ${all.length} bootstrap fits give no number under this scenario and are left out`] : [])],
      fits: runs.length,
    };
  });
}

/**
 * Parses a scenario from its command-line form `name:key=value,key=value`
 * (keys: `shift`, `start`, `course`, `survival`, `alpha`, or `no-rt` alone),
 * e.g. `later:shift=14`, `short:course=21`, `S0.3:survival=0.3`, `none:no-rt`.
 *
 * @param text - the scenario.
 * @returns the scenario.
 * @throws RangeError naming the text and the key for a bad one.
 */
export function parseScenario(text: string): TreatmentScenario {
  const fn = 'parseScenario';
  if (typeof text !== 'string') throw new TypeError(`'text' passed to '${fn}' must be a string`);
  const m = /^([^:]+):(.+)$/.exec(text.trim());
  const help = "name:key=value,... with keys shift (days), start (day), course (days), survival, alpha, or name:no-rt";
  if (!m) throw new RangeError(`scenario '${text}': expected ${help}`);
  const name = m[1]!.trim();
  const out: { -readonly [K in keyof TreatmentScenario]: TreatmentScenario[K] } = { name };
  const keys: Record<string, keyof TreatmentScenario> = { shift: 'rtStartShift', start: 'rtStartDay', course: 'courseDays', survival: 'survival', alpha: 'alpha' };
  for (const part of m[2]!.split(',').map((p) => p.trim()).filter(Boolean)) {
    if (part === 'no-rt') { out.noRt = true; continue; }
    const kv = /^([a-z-]+)=(.+)$/.exec(part);
    const key = kv ? keys[kv[1]!] : undefined;
    if (!kv || !key) throw new RangeError(`scenario '${text}': unknown part '${part}'; expected ${help}`);
    const v = Number(kv[2]);
    if (!Number.isFinite(v)) throw new RangeError(`scenario '${text}': '${kv[1]}' must be a number, got '${kv[2]}'`);
    (out as Record<string, unknown>)[key] = v;
  }
  checkScenario(out, 0, fn);
  return out;
}
