/**
 * `tumorcast-predict fit-growth`: fits the two-phase radiotherapy growth model
 * to each series of a tidy CSV (patient_id,day,size[,slice_id][,rt_end_day]),
 * bootstraps it, and turns the predicted sizes into the relative change per
 * slice that guides sampling (the seed's `targets_dict`).
 */
import fs from 'node:fs';
import path from 'node:path';
import {
  bootstrapGrowth, plotGrowth, readSeriesCsv, relativeChange, twoPhaseRtModel, writeParamsCsv, writeResultsCsv, writeResultsJson,
} from '@tumorcast/growth-ode';
import type { BootstrapResult, CsvSeries, GrowthSeries } from '@tumorcast/growth-ode';
import { CliError, writeFileAtomicSync } from '@tumorcast/cli';

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
  /** The bootstrap result (for plots and reports). */
  result: BootstrapResult;
  /** The SVG plot. */
  svg: string;
}

/** Fits and bootstraps each series; returns one prediction per series. */
export function fitGrowthSeries(series: readonly (CsvSeries | GrowthSeries & { id: string; patientId?: string; sliceId?: string })[], o: FitGrowthCommandOptions): SeriesPrediction[] {
  const out: SeriesPrediction[] = [];
  for (const s of series) {
    const last = s.times[s.times.length - 1] as number;
    const baselineDay = o.baselineDay ?? last;
    if (!(o.followupDay > baselineDay)) throw new CliError(`series '${s.id}': the follow-up day (${o.followupDay}) must be after the baseline day (${baselineDay})`);
    const until = Math.max(o.followupDay, last);
    const result = bootstrapGrowth(twoPhaseRtModel, s, {
      replicates: o.replicates ?? 30,
      seed: o.seed ?? 0,
      normalize: o.normalize ?? true,
      holdOut: o.holdOut ?? 0,
      until,
      objective: o.objective ?? 'least-squares',
      bootstrapNoise: o.bootstrapNoise ?? 'symmetric',
    }) as unknown as BootstrapResult;
    if (!result.ok) throw new CliError(`series '${s.id}': the growth fit failed: ${result.reason}`, 1);
    const d = relativeChange(result, baselineDay, o.followupDay);
    const [yb, yf] = result.predict([baselineDay, o.followupDay]) as [number, number];
    const perFit = result.fits.map((f) => {
      const [a, b] = f.predict([baselineDay, o.followupDay]) as [number, number];
      return b / a - 1;
    }).sort((a, b) => a - b);
    const q = (p: number) => perFit.length ? perFit[Math.min(perFit.length - 1, Math.max(0, Math.round((p / 100) * (perFit.length - 1))))] as number : d;
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

/** Reads the CSV, fits, and writes growth.json, growth.csv, params.csv, targets.json and one SVG per series into `outDir`. */
export async function fitGrowthCommand(csv: string, outDir: string, o: FitGrowthCommandOptions & { rtEndDay?: number }): Promise<SeriesPrediction[]> {
  const series = await readSeriesCsv(csv, o.rtEndDay !== undefined ? { rtEndDay: o.rtEndDay } : {}).catch((e: Error) => {
    throw new CliError(e.message, 1);
  });
  if (!series.length) throw new CliError(`${csv}: no series found`, 1);
  const predictions = fitGrowthSeries(series, o);
  fs.mkdirSync(outDir, { recursive: true });
  const results = predictions.map((p) => p.result);
  await writeResultsJson(path.join(outDir, 'growth.json'), results as never);
  await writeResultsCsv(path.join(outDir, 'growth.csv'), results as never);
  await writeParamsCsv(path.join(outDir, 'params.csv'), results as never);
  for (const p of predictions) writeFileAtomicSync(path.join(outDir, `growth-${p.id.replace(/[^A-Za-z0-9_.-]+/g, '_')}.svg`), p.svg);
  const summary = predictions.map(({ result: _r, svg: _s, ...rest }) => rest);
  writeFileAtomicSync(path.join(outDir, 'predictions.json'), `${JSON.stringify(summary, null, 2)}\n`);
  writeFileAtomicSync(path.join(outDir, 'targets.json'), `${JSON.stringify(targetsFor(predictions), null, 2)}\n`);
  return predictions;
}
