/**
 * The growth model's part in the browser: the size CSV parsed and the
 * two-phase radiotherapy model fitted and bootstrapped with
 * `@tumorcast/growth-ode`, then read at any follow-up day without refitting
 * (the fit runs to a horizon past the baseline, so moving the follow-up day
 * only reads the curve again).
 */
import { bootstrapGrowth, parseSeriesCsv, plotGrowth, relativeChange, TooFewPointsError, twoPhaseRtModel } from '@tumorcast/growth-ode';
import type { BootstrapResult, CsvSeries } from '@tumorcast/growth-ode';

/** A problem with the size CSV or the growth fit; the message says what to fix. */
export class GrowthInputError extends Error {
  /** @param message - what is wrong and what to do. */
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'GrowthInputError';
  }
}

/** One tumour-size series (day, size), the radiotherapy's last day aside. */
export interface SizeSeries {
  /** The series id (`patient` or `patient/slice`). */
  id: string;
  /** Measurement days, increasing. */
  times: number[];
  /** Tumour sizes (any unit). */
  sizes: number[];
  /** Last radiotherapy day from the CSV's `rt_end_day`, when it has one. */
  rtEndDay?: number;
}

/**
 * Parses a size CSV (`patient_id,day,size`, optionally `slice_id`,
 * `rt_end_day`, `rt_start_day`; see `parseSeriesCsv` of
 * `@tumorcast/growth-ode`).
 *
 * @param text - the file's text.
 * @param name - the file name, for messages.
 * @returns every series of the file.
 * @throws GrowthInputError naming the file and line.
 */
export function parseSizeCsv(text: string, name: string): SizeSeries[] {
  let series: CsvSeries[];
  try {
    // an RT day is needed to parse; the app sets the real one on the series (rtEndDay below)
    series = parseSeriesCsv(text, { rtEndDay: Number.NaN, unknownColumns: 'error' }, name);
  } catch (e) {
    throw new GrowthInputError((e as Error).message.replace(/ passed to 'parseSeriesCsv'/g, ''), { cause: e });
  }
  if (!series.length) throw new GrowthInputError(`${name}: no series found (expected rows of patient_id,day,size)`);
  return series.map((s) => {
    // a file's rt_start_day means a standard 42-day course ending 42 days later
    const end = Number.isFinite(s.context.rtEnd) ? s.context.rtEnd : Number.isFinite(s.context.rtStart) ? (s.context.rtStart as number) + 42 : undefined;
    return { id: s.id, times: [...s.times], sizes: [...s.sizes], ...(end !== undefined ? { rtEndDay: end } : {}) };
  });
}

/** Options of {@link fitGrowth}. */
export interface FitGrowthOptions {
  /** Last radiotherapy day (the course starts `rtCourseDays` earlier). */
  rtEndDay: number;
  /** Length of the radiotherapy course, days. @defaultValue 42 */
  rtCourseDays?: number;
  /** Fit the curve to this day at least (later follow-up days need a refit). @defaultValue the last measurement + 365 */
  horizon?: number;
  /** Bootstrap replicates. @defaultValue 30 */
  replicates?: number;
  /** Seed of the bootstrap noise and the fit starts. @defaultValue 0 */
  seed?: number;
}

/** A fitted series (see {@link fitGrowth}). */
export interface GrowthFit {
  /** The series. */
  series: SizeSeries;
  /** The bootstrap of `@tumorcast/growth-ode`. */
  result: BootstrapResult;
  /** The day the curve is fitted to. */
  horizon: number;
  /** The options used. */
  rtEndDay: number;
  /** The course length used. */
  rtCourseDays: number;
}

/**
 * Fits and bootstraps the two-phase radiotherapy model to a series
 * (normalised to its first size, least squares, symmetric bootstrap noise,
 * population values for a short series: the command-line defaults).
 *
 * @param series - the series.
 * @param o - see {@link FitGrowthOptions}.
 * @throws GrowthInputError for a series the model cannot be fitted to.
 */
export function fitGrowth(series: SizeSeries, o: FitGrowthOptions): GrowthFit {
  if (!Number.isFinite(o.rtEndDay)) throw new GrowthInputError(`the radiotherapy end day must be a number, got ${o.rtEndDay}`);
  const rtCourseDays = o.rtCourseDays ?? 42;
  if (!(rtCourseDays > 0)) throw new GrowthInputError(`the radiotherapy course must last more than 0 days, got ${rtCourseDays}`);
  const last = series.times[series.times.length - 1] ?? 0;
  const horizon = Math.max(o.horizon ?? last + 365, last);
  let result: BootstrapResult;
  try {
    result = bootstrapGrowth(twoPhaseRtModel, { id: series.id, times: series.times, sizes: series.sizes, context: { rtEnd: o.rtEndDay, courseDays: rtCourseDays } }, {
      replicates: o.replicates ?? 30, seed: o.seed ?? 0, until: horizon, shortSeries: 'population',
    }) as unknown as BootstrapResult;
  } catch (e) {
    if (e instanceof TooFewPointsError) {
      throw new GrowthInputError(`series '${series.id}': ${e.points} sizes are too few to fit the growth model (${e.freeParams.length} free parameters): add measurements to the CSV`, { cause: e });
    }
    throw new GrowthInputError(`series '${series.id}': ${(e as Error).message}`, { cause: e });
  }
  if (!result.ok) throw new GrowthInputError(`series '${series.id}': the growth fit failed: ${result.reason}`);
  return { series, result, horizon, rtEndDay: o.rtEndDay, rtCourseDays };
}

/** The growth prediction between two days (see {@link growthBetween}). */
export interface GrowthPrediction {
  /** Baseline day. */
  baselineDay: number;
  /** Follow-up day. */
  followupDay: number;
  /** Median predicted size at the baseline. */
  sizeBaseline: number;
  /** Median predicted size at the follow-up. */
  sizeFollowup: number;
  /** y(follow-up) / y(baseline) - 1 of the median curve: what guides the sampling. */
  relativeChange: number;
  /** 5th-95th percentile of the relative change over the bootstrap fits. */
  relativeChangeBand: [number, number];
}

/**
 * Reads the fitted curve at the baseline and follow-up days.
 *
 * @param fit - from {@link fitGrowth}.
 * @param baselineDay - the baseline scan's day.
 * @param followupDay - the day to predict (after the baseline, at most the fit's horizon).
 * @throws GrowthInputError for days out of order or past the horizon, or a tumour that has vanished by the baseline.
 */
export function growthBetween(fit: GrowthFit, baselineDay: number, followupDay: number): GrowthPrediction {
  if (!(followupDay > baselineDay)) throw new GrowthInputError(`the follow-up day (${followupDay}) must be after the baseline day (${baselineDay})`);
  if (followupDay > fit.horizon) throw new GrowthInputError(`the follow-up day (${followupDay}) is past the fitted horizon (day ${fit.horizon})`);
  const [yb, yf] = fit.result.predict([baselineDay, followupDay]) as [number, number];
  const largest = Math.max(...fit.series.sizes);
  if (!(yb > 1e-3 * largest)) throw new GrowthInputError(`the fitted tumour size at the baseline day ${baselineDay} is (almost) zero: a relative change from it means nothing`);
  const d = relativeChange(fit.result, baselineDay, followupDay);
  const perFit = fit.result.fits.map((f) => {
    const [a, b] = f.predict([baselineDay, followupDay]) as [number, number];
    return b / a - 1;
  }).filter(Number.isFinite).sort((a, b) => a - b);
  const q = (p: number) => (perFit.length ? perFit[Math.min(perFit.length - 1, Math.max(0, Math.round((p / 100) * (perFit.length - 1))))]! : d);
  return { baselineDay, followupDay, sizeBaseline: yb, sizeFollowup: yf, relativeChange: d, relativeChangeBand: [q(5), q(95)] };
}

/**
 * The growth plot (SVG): data, median curve, bootstrap band, the
 * radiotherapy window, and the baseline and follow-up days.
 *
 * @param fit - from {@link fitGrowth}.
 * @param p - from {@link growthBetween}.
 */
export function growthSvg(fit: GrowthFit, p: GrowthPrediction): string {
  return plotGrowth(fit.result, {
    until: Math.min(fit.horizon, Math.max(p.followupDay + 30, ...fit.series.times)),
    title: `series ${fit.series.id}: two-phase growth model, 5-95% bootstrap band`,
    markers: [{ day: p.baselineDay, label: 'baseline' }, { day: p.followupDay, label: 'follow-up' }],
    points: [{ day: p.followupDay, size: p.sizeFollowup, label: 'predicted' }],
  });
}
