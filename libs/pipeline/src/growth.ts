/**
 * The growth model's part of a prediction: the two-phase radiotherapy growth
 * model fitted to each series of a tidy size CSV
 * (patient_id,day,size[,slice_id][,rt_end_day]), bootstrapped, and turned
 * into the relative change per slice that guides sampling (a targets JSON:
 * slice id to relative change).
 */
import fs from 'node:fs';
import path from 'node:path';
import {
  bootstrapGrowth, parseSeriesCsv, plotGrowth, relativeChange, TooFewPointsError, twoPhaseRtModel, TWO_PHASE_SHORT_SERIES, writeParamsCsv, writeResultsCsv, writeResultsJson,
} from '@tumorcast/growth-ode';
import type { BootstrapResult, CsvSeries, GrowthSeries, TwoPhaseParams } from '@tumorcast/growth-ode';
import { writeFileAtomicSync } from '@tumorcast/cli';
import { PipelineDataError, PipelineInputError, apiOptionName } from './errors.js';
import type { OptionNamer } from './errors.js';
import { readTextFile } from './read.js';

/** Options of {@link fitGrowthSeries}. */
export interface FitGrowthOptions {
  /** The follow-up day to predict. */
  followupDay: number;
  /** Baseline day. @defaultValue each series' last measurement */
  baselineDay?: number;
  /** Bootstrap replicates. @defaultValue 30 */
  replicates?: number;
  /** Hold out the last k points for validation. @defaultValue 0 */
  holdOut?: number;
  /** Seed of the bootstrap noise and fit starts. @defaultValue 0 */
  seed?: number;
  /** Normalise sizes to the first measurement while fitting. @defaultValue true */
  normalize?: boolean;
  /** Fit objective: ordinary least squares, or the reference code's squared residuals (`'reference'`). @defaultValue 'least-squares' */
  objective?: 'least-squares' | 'reference';
  /** Bootstrap noise: `'symmetric'` N(1, 0.1), or the reference code's clipped noise (`'reference'`). @defaultValue 'symmetric' */
  bootstrapNoise?: 'symmetric' | 'reference';
  /**
   * Two-phase parameters held at these values (fitting units: `v0` in units of the first size).
   * @defaultValue {}
   */
  fixed?: Partial<TwoPhaseParams>;
  /**
   * Series with fewer points than free parameters: `'population'` holds slope, delay, survival at
   * the package's population values (`TWO_PHASE_SHORT_SERIES`) as needed, with a notice;
   * `'error'` fails naming `fixed` and `shortSeries: 'population'` (through `names`).
   * @defaultValue 'population'
   */
  shortSeries?: 'population' | 'error';
  /**
   * The reference code's second pass with bootstrap-informed bounds (see `refineFromBootstrap` of `bootstrapGrowth`).
   * @defaultValue false
   */
  refineFromBootstrap?: boolean;
  /**
   * The CSV file, named in error messages.
   * @defaultValue undefined
   */
  source?: string;
  /**
   * Receives the notice of each series fitted with population values.
   * @defaultValue undefined
   */
  log?: (message: string) => void;
  /**
   * How messages name the options.
   * @defaultValue apiOptionName
   */
  names?: OptionNamer;
}

/** One fitted series and its guidance target. */
export interface SeriesPrediction {
  /** The series id (`patient` or `patient/slice`). */
  id: string;
  /** The patient. */
  patientId: string;
  /** The slice, when the CSV is per slice. */
  sliceId?: string;
  /** Baseline day used. */
  baselineDay: number;
  /** Follow-up day. */
  followupDay: number;
  /** Median predicted size at baseline and follow-up. */
  sizeBaseline: number;
  /** Median predicted size at the follow-up day. */
  sizeFollowup: number;
  /** The relative change y(follow-up)/y(baseline) - 1 that guides sampling. */
  relativeChange: number;
  /** 5th-95th percentile band of the relative change over the bootstrap fits. */
  relativeChangeBand: [number, number];
  /** Parameters held at population values because the series was short. */
  heldByFallback: string[];
  /** Which parameters were held at which values, and why (short series only). */
  notice?: string;
  /** The bootstrap result (for plots and reports). */
  result: BootstrapResult;
  /** The SVG plot. */
  svg: string;
}

/** The message for a series with too few points: the options that help. */
function tooFewPointsMessage(id: string, e: TooFewPointsError, names: OptionNamer): string {
  const head = `series '${id}': ${e.points} fitted points but ${e.freeParams.length} free parameters of the two-phase model (${e.freeParams.join(', ')}); a fit needs at least as many points as free parameters`;
  if (e.fallbackUsed) {
    return `${head}, even with ${e.fallbackParams.join(', ')} held at population values: hold more with ${names('fixed')}, e.g. ${names('fixed', `${e.freeParams[0]}=<value>`)}`;
  }
  const values = TWO_PHASE_SHORT_SERIES.values as Record<string, number | undefined>;
  const example = e.fallbackParams.length ? e.fallbackParams.map((k) => `${k}=${values[k]}`).join(',') : `${e.freeParams[0]}=<value>`;
  return `${head}: hold parameters with ${names('fixed', 'name=value,...')} (e.g. ${names('fixed', example)}) or use ${names('shortSeries', 'population')}`;
}

/** Below this fraction of the largest measured size, the tumour counts as vanished at the baseline. */
const VANISHED_FRACTION = 1e-3;

/**
 * Refuses a prediction that is not a number (sizes near the largest double
 * overflow) or whose baseline size is (almost) zero, where a relative change
 * y(follow-up) / y(baseline) - 1 means nothing.
 */
function checkPrediction(what: string, s: { times: readonly number[]; sizes: readonly number[] }, baselineDay: number, yb: number, rest: number[], names: OptionNamer): void {
  const largest = Math.max(...s.sizes);
  if (![yb, ...rest].every(Number.isFinite)) {
    throw new PipelineDataError(`${what}: the predicted sizes or relative change are not finite numbers (the largest size in the series is ${largest.toExponential(3)}, `
      + `near the largest number a double holds, 1.8e308, so the growth model's sizes overflow); give the sizes in a larger unit (e.g. divided by a power of ten)`);
  }
  const at = s.times.indexOf(baselineDay);
  const measured = at >= 0 ? s.sizes[at] as number : undefined;
  if (measured === 0 || !(yb > VANISHED_FRACTION * largest)) {
    throw new PipelineDataError(`${what}: the tumour has vanished by the baseline day ${baselineDay} (${measured !== undefined ? `measured size ${measured}, ` : ''}fitted size ${yb.toPrecision(3)}, `
      + `largest measured size ${largest}): a relative change from a size of (almost) zero means nothing. Leave this series out of the CSV, `
      + `or give its slices a relative change with ${names('targets.json')} or ${names('targets.relativeChange')}`);
  }
}

/**
 * Fits and bootstraps the two-phase radiotherapy growth model to each series
 * and predicts the relative change from the baseline day to the follow-up
 * day (the median over the bootstrap fits, with its 5th-95th percentile band).
 *
 * @example
 * ```ts
 * const series = readSizeSeries('sizes.csv', 63); // radiotherapy ends on day 63
 * const growth = fitGrowthSeries(series, { followupDay: 210, replicates: 30 });
 * const targets = targetsFor(growth, ['00002000_25']); // { '00002000_25': { relativeChange: 0.31 } }
 * ```
 *
 * @param series - the series (e.g. from {@link readSizeSeries}).
 * @param o - see {@link FitGrowthOptions}.
 * @returns one prediction per series.
 * @throws PipelineInputError for a follow-up day not after the baseline day; PipelineDataError for a series that cannot be fitted or predicted.
 */
export function fitGrowthSeries(series: readonly (CsvSeries | GrowthSeries & { id: string; patientId?: string; sliceId?: string })[], o: FitGrowthOptions): SeriesPrediction[] {
  const names = o.names ?? apiOptionName;
  const out: SeriesPrediction[] = [];
  const where = o.source !== undefined ? `${o.source}: ` : '';
  for (const s of series) {
    const last = s.times[s.times.length - 1] as number;
    const baselineDay = o.baselineDay ?? last;
    if (!(o.followupDay > baselineDay)) throw new PipelineInputError(`${where}series '${s.id}': the follow-up day (${o.followupDay}) must be after the baseline day (${baselineDay})`);
    const until = Math.max(o.followupDay, last);
    let result: BootstrapResult;
    try {
      result = bootstrapGrowth(twoPhaseRtModel, s, {
        replicates: o.replicates ?? 30,
        seed: o.seed ?? 0,
        normalize: o.normalize ?? true,
        holdOut: o.holdOut ?? 0,
        until,
        objective: o.objective ?? 'least-squares',
        bootstrapNoise: o.bootstrapNoise ?? 'symmetric',
        fixed: o.fixed ?? {},
        shortSeries: o.shortSeries ?? 'population',
        refineFromBootstrap: o.refineFromBootstrap ?? false,
      }) as unknown as BootstrapResult;
    } catch (e) {
      if (e instanceof TooFewPointsError) throw new PipelineDataError(`${where}${tooFewPointsMessage(s.id, e, names)}`, { cause: e });
      // Bad data or options (the message names the series): a user error, not a crash.
      if (e instanceof RangeError || e instanceof TypeError) throw new PipelineDataError(`${where}${e.message}`, { cause: e });
      throw e;
    }
    if (!result.ok) throw new PipelineDataError(`${where}series '${s.id}': the growth fit failed: ${result.reason}`);
    if (result.notice !== undefined) o.log?.(`series '${s.id}': ${result.notice}`);
    const d = relativeChange(result, baselineDay, o.followupDay);
    const [yb, yf] = result.predict([baselineDay, o.followupDay]) as [number, number];
    const perFit = result.fits.map((f) => {
      const [a, b] = f.predict([baselineDay, o.followupDay]) as [number, number];
      return b / a - 1;
    }).sort((a, b) => a - b);
    const q = (p: number) => perFit.length ? perFit[Math.min(perFit.length - 1, Math.max(0, Math.round((p / 100) * (perFit.length - 1))))] as number : d;
    checkPrediction(`${where}series '${s.id}'`, s, baselineDay, yb, [yf, d, q(5), q(95)], names);
    const svg = plotGrowth(result, { until, markers: [{ day: baselineDay, label: 'baseline' }, { day: o.followupDay, label: 'follow-up' }] });
    out.push({
      id: s.id,
      patientId: (s as CsvSeries).patientId ?? s.id,
      sliceId: (s as CsvSeries).sliceId,
      baselineDay,
      followupDay: o.followupDay,
      sizeBaseline: yb,
      sizeFollowup: yf,
      relativeChange: d,
      relativeChangeBand: [q(5), q(95)],
      heldByFallback: [...result.heldByFallback],
      ...(result.notice !== undefined ? { notice: result.notice } : {}),
      result,
      svg,
    });
  }
  return out;
}

/**
 * The guidance targets (`{ sliceId: { relativeChange } }`) for slices, from
 * per-patient or per-slice predictions: a slice takes its own series'
 * change, else its patient's.
 *
 * @param predictions - from {@link fitGrowthSeries}.
 * @param sliceIds - the slices (`<pid>_<slice>`); without them, one entry per series.
 * @defaultValue sliceIds []
 */
export function targetsFor(predictions: readonly SeriesPrediction[], sliceIds: readonly string[] = []): Record<string, { relativeChange: number }> {
  const targets: Record<string, { relativeChange: number }> = {};
  for (const p of predictions) if (p.sliceId) targets[`${p.patientId}_${p.sliceId}`] = { relativeChange: p.relativeChange };
  for (const id of sliceIds) {
    if (targets[id]) continue;
    const pid = id.replace(/_[^_]+$/, '');
    const p = predictions.find((q) => !q.sliceId && q.patientId === pid);
    if (p) targets[id] = { relativeChange: p.relativeChange };
  }
  if (!sliceIds.length) for (const p of predictions) if (!p.sliceId) targets[p.patientId] = { relativeChange: p.relativeChange };
  return targets;
}

/** The largest size series CSV read (a CSV of sizes is kilobytes; this refuses devices and wrong files). */
export const MAX_SERIES_CSV_BYTES = 64 * 1024 * 1024;

/**
 * Reads a size series CSV (see `parseSeriesCsv` of `@tumorcast/growth-ode`).
 *
 * @param csv - the file.
 * @param rtEndDay - the radiotherapy end day for series without an `rt_end_day` column.
 * @throws PipelineInputError for a missing file, a folder or device, or a file over {@link MAX_SERIES_CSV_BYTES};
 *   PipelineDataError for bad content (an unknown column included), naming the file and the line.
 */
export function readSizeSeries(csv: string, rtEndDay?: number): CsvSeries[] {
  const text = readTextFile(csv, 'size series CSV', MAX_SERIES_CSV_BYTES, true);
  let series: CsvSeries[];
  try {
    series = parseSeriesCsv(text, { ...(rtEndDay !== undefined ? { rtEndDay } : {}), unknownColumns: 'error' }, csv);
  } catch (e) {
    throw new PipelineDataError((e as Error).message.replace(/ passed to 'parseSeriesCsv'/g, ''), { cause: e });
  }
  if (!series.length) throw new PipelineDataError(`${csv}: no series found`);
  return series;
}

/**
 * Writes growth.json, growth.csv, params.csv, predictions.json, targets.json and one SVG per series into `outDir`.
 *
 * @param outDir - the folder (created when missing).
 * @param predictions - from {@link fitGrowthSeries}.
 */
export async function writeGrowthOutputs(outDir: string, predictions: readonly SeriesPrediction[]): Promise<void> {
  fs.mkdirSync(outDir, { recursive: true });
  const results = predictions.map((p) => p.result);
  await writeResultsJson(path.join(outDir, 'growth.json'), results as never);
  await writeResultsCsv(path.join(outDir, 'growth.csv'), results as never);
  await writeParamsCsv(path.join(outDir, 'params.csv'), results as never);
  for (const p of predictions) writeFileAtomicSync(path.join(outDir, `growth-${p.id.replace(/[^A-Za-z0-9_.-]+/g, '_')}.svg`), p.svg);
  const summary = predictions.map(({ result: _r, svg: _s, ...rest }) => rest);
  writeFileAtomicSync(path.join(outDir, 'predictions.json'), `${JSON.stringify(summary, null, 2)}\n`);
  writeFileAtomicSync(path.join(outDir, 'targets.json'), `${JSON.stringify(targetsFor(predictions), null, 2)}\n`);
}
