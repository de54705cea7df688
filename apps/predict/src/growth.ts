/**
 * `tumorcast-predict fit-growth`: fits the two-phase radiotherapy growth model
 * to each series of a tidy CSV (patient_id,day,size[,slice_id][,rt_end_day]),
 * bootstraps it, and turns the predicted sizes into the relative change per
 * slice that guides sampling (the seed's `targets_dict`).
 */
import fs from 'node:fs';
import path from 'node:path';
import {
  bootstrapGrowth, parseSeriesCsv, plotGrowth, relativeChange, TooFewPointsError, twoPhaseRtModel, TWO_PHASE_SHORT_SERIES, writeParamsCsv, writeResultsCsv, writeResultsJson,
} from '@tumorcast/growth-ode';
import type { BootstrapResult, CsvSeries, GrowthSeries, TwoPhaseParams } from '@tumorcast/growth-ode';
import { CliError, ExitCode, readTextFileChecked, writeFileAtomicSync } from '@tumorcast/cli';
import type { ConfigSchema } from '@tumorcast/cli';

/**
 * The growth-model flags of `fit-growth` (`--fix`, `--short-series`,
 * `--refine-from-bootstrap`); {@link fitGrowthModelOptionsOf} turns their
 * resolved values into {@link FitGrowthCommandOptions}.
 */
export const FIT_GROWTH_KEYS: ConfigSchema = {
  fix: {
    type: 'string[]',
    description: `hold two-phase parameters at values: name=value,... (names ${twoPhaseRtModel.paramNames.join(', ')}; v0 in units of the first size), e.g. slope=1,delay=5; each lowers the points a series needs by one`,
    optional: true,
  },
  short_series: {
    type: 'string',
    description: 'a series with fewer points than free parameters: hold slope, then delay, then survival at population values (slope=1, delay=5, survival=0.001; the bootstrap draws them over their plausible ranges, so the band is wide), or fail',
    default: 'population',
    choices: ['population', 'error'],
  },
  refine_from_bootstrap: {
    type: 'boolean',
    description: "the reference code's second pass: upper bounds of lambdaGr, lambdaDecay, delay from the bootstrap (1.1 x the largest value <= the 90th percentile), then bootstrap again",
    default: false,
  },
};

/**
 * Parses `--fix` entries (`name=value`) into held two-phase parameters.
 *
 * @param entries - the comma-separated items of `--fix`
 * @returns the held values by parameter name
 * @throws CliError (usage) naming the bad entry, an unknown name or a non-finite value
 */
export function parseFixFlag(entries: readonly string[]): Partial<TwoPhaseParams> {
  const names = twoPhaseRtModel.paramNames as readonly string[];
  const out: Record<string, number> = {};
  for (const e of entries) {
    const m = /^\s*([A-Za-z0-9_]+)\s*=\s*(\S+)\s*$/.exec(e);
    if (!m) throw new CliError(`--fix: '${e}' is not name=value (e.g. --fix slope=1,delay=5)`);
    const [, name, raw] = m as unknown as [string, string, string];
    if (!names.includes(name)) throw new CliError(`--fix: unknown parameter '${name}'; the two-phase model's parameters are ${names.join(', ')}`);
    const v = Number(raw);
    if (!Number.isFinite(v)) throw new CliError(`--fix: the value of '${name}' must be a finite number, got '${raw}'`);
    if (name in out) throw new CliError(`--fix: '${name}' is given twice`);
    out[name] = v;
  }
  return out as Partial<TwoPhaseParams>;
}

/** The growth-model options of a resolved `fit-growth` config (keys of {@link FIT_GROWTH_KEYS}). */
export function fitGrowthModelOptionsOf(c: Record<string, unknown>): Pick<FitGrowthCommandOptions, 'fixed' | 'shortSeries' | 'refineFromBootstrap'> {
  const fix = c['fix'] as string[] | undefined;
  return {
    ...(fix !== undefined ? { fixed: parseFixFlag(fix) } : {}),
    shortSeries: (c['short_series'] as 'population' | 'error' | undefined) ?? 'population',
    refineFromBootstrap: (c['refine_from_bootstrap'] as boolean | undefined) ?? false,
  };
}

/** Options of {@link fitGrowthSeries}. */
export interface FitGrowthCommandOptions {
  /** The follow-up day to predict. */
  followupDay: number;
  /** Baseline day (default: each series' last measurement). */
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
   * `'error'` fails naming `--fix` and `--short-series population`.
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

/** The CLI's message for a series with too few points: the flags that help. */
function tooFewPointsMessage(id: string, e: TooFewPointsError): string {
  const head = `series '${id}': ${e.points} fitted points but ${e.freeParams.length} free parameters of the two-phase model (${e.freeParams.join(', ')}); a fit needs at least as many points as free parameters`;
  if (e.fallbackUsed) {
    return `${head}, even with ${e.fallbackParams.join(', ')} held at population values: hold more with --fix, e.g. --fix ${e.freeParams[0]}=<value>`;
  }
  const values = TWO_PHASE_SHORT_SERIES.values as Record<string, number | undefined>;
  const example = e.fallbackParams.length ? e.fallbackParams.map((k) => `${k}=${values[k]}`).join(',') : `${e.freeParams[0]}=<value>`;
  return `${head}: hold parameters with --fix name=value,... (e.g. --fix ${example}) or use --short-series population`;
}

/** Below this fraction of the largest measured size, the tumour counts as vanished at the baseline. */
const VANISHED_FRACTION = 1e-3;

/**
 * Refuses a prediction that is not a number (sizes near the largest double
 * overflow) or whose baseline size is (almost) zero, where a relative change
 * y(follow-up) / y(baseline) - 1 means nothing.
 */
function checkPrediction(what: string, s: { times: readonly number[]; sizes: readonly number[] }, baselineDay: number, yb: number, rest: number[]): void {
  const largest = Math.max(...s.sizes);
  if (![yb, ...rest].every(Number.isFinite)) {
    throw new CliError(`${what}: the predicted sizes or relative change are not finite numbers (the largest size in the series is ${largest.toExponential(3)}, `
      + `near the largest number a double holds, 1.8e308, so the growth model's sizes overflow); give the sizes in a larger unit (e.g. divided by a power of ten)`, 1);
  }
  const at = s.times.indexOf(baselineDay);
  const measured = at >= 0 ? s.sizes[at] as number : undefined;
  if (measured === 0 || !(yb > VANISHED_FRACTION * largest)) {
    throw new CliError(`${what}: the tumour has vanished by the baseline day ${baselineDay} (${measured !== undefined ? `measured size ${measured}, ` : ''}fitted size ${yb.toPrecision(3)}, `
      + `largest measured size ${largest}): a relative change from a size of (almost) zero means nothing. Leave this series out of the CSV, `
      + `or give its slices a relative change with --targets or --relative-change`, 1);
  }
}

/** Fits and bootstraps each series; returns one prediction per series. */
export function fitGrowthSeries(series: readonly (CsvSeries | GrowthSeries & { id: string; patientId?: string; sliceId?: string })[], o: FitGrowthCommandOptions): SeriesPrediction[] {
  const out: SeriesPrediction[] = [];
  const where = o.source !== undefined ? `${o.source}: ` : '';
  for (const s of series) {
    const last = s.times[s.times.length - 1] as number;
    const baselineDay = o.baselineDay ?? last;
    if (!(o.followupDay > baselineDay)) throw new CliError(`${where}series '${s.id}': the follow-up day (${o.followupDay}) must be after the baseline day (${baselineDay})`);
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
      if (e instanceof TooFewPointsError) throw new CliError(`${where}${tooFewPointsMessage(s.id, e)}`, 1);
      // Bad data or options (the message names the series): a user error, not a crash.
      if (e instanceof RangeError || e instanceof TypeError) throw new CliError(`${where}${e.message}`, 1);
      throw e;
    }
    if (!result.ok) throw new CliError(`${where}series '${s.id}': the growth fit failed: ${result.reason}`, 1);
    if (result.notice !== undefined) o.log?.(`series '${s.id}': ${result.notice}`);
    const d = relativeChange(result, baselineDay, o.followupDay);
    const [yb, yf] = result.predict([baselineDay, o.followupDay]) as [number, number];
    const perFit = result.fits.map((f) => {
      const [a, b] = f.predict([baselineDay, o.followupDay]) as [number, number];
      return b / a - 1;
    }).sort((a, b) => a - b);
    const q = (p: number) => perFit.length ? perFit[Math.min(perFit.length - 1, Math.max(0, Math.round((p / 100) * (perFit.length - 1))))] as number : d;
    checkPrediction(`${where}series '${s.id}'`, s, baselineDay, yb, [yf, d, q(5), q(95)]);
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

/** The guidance targets (`{ sliceId: { relativeChange } }`) for slices, from per-patient or per-slice predictions. */
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
 * Reads a size series CSV (see `parseSeriesCsv` of `@tumorcast/growth-ode`):
 * a missing file, a folder or device, or a file over {@link MAX_SERIES_CSV_BYTES}
 * is a usage error (exit code 2); bad content, an unknown column included,
 * is an error naming the file and the line (exit code 1).
 */
export function readSizeSeries(csv: string, rtEndDay?: number): CsvSeries[] {
  const text = readTextFileChecked(csv, { what: 'size series CSV', maxBytes: MAX_SERIES_CSV_BYTES, exitCode: ExitCode.usage });
  let series: CsvSeries[];
  try {
    series = parseSeriesCsv(text, { ...(rtEndDay !== undefined ? { rtEndDay } : {}), unknownColumns: 'error' }, csv);
  } catch (e) {
    throw new CliError((e as Error).message.replace(/ passed to 'parseSeriesCsv'/g, ''), ExitCode.failure);
  }
  if (!series.length) throw new CliError(`${csv}: no series found`, ExitCode.failure);
  return series;
}

/** Reads the CSV, fits, and writes growth.json, growth.csv, params.csv, targets.json and one SVG per series into `outDir`. */
export async function fitGrowthCommand(csv: string, outDir: string, o: FitGrowthCommandOptions & { rtEndDay?: number }): Promise<SeriesPrediction[]> {
  const series = readSizeSeries(csv, o.rtEndDay);
  const predictions = fitGrowthSeries(series, { source: csv, ...o });
  await writeGrowthOutputs(outDir, predictions);
  return predictions;
}

/** Writes growth.json, growth.csv, params.csv, predictions.json, targets.json and one SVG per series into `outDir`. */
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
