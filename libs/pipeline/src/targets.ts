/**
 * Where a run's relative changes come from: one for every slice, a targets
 * JSON (slice id to relative change), or the growth model fitted to a size CSV.
 */
import { parseGrowthTargets } from '@tumorcast/guided-sampler';
import type { GrowthTargets } from '@tumorcast/guided-sampler';
import { PipelineDataError } from './errors.js';
import type { OptionNamer } from './errors.js';
import { fitGrowthSeries, readSizeSeries, targetsFor } from './growth.js';
import type { SeriesPrediction } from './growth.js';
import { readTextFile } from './read.js';

/** The growth fit of a run whose relative changes come from a size CSV. */
export interface SeriesTargetSource {
  /** From a size CSV. */
  kind: 'series';
  /** The CSV (patient_id,day,size[,slice_id][,rt_end_day]). */
  file: string;
  /** The follow-up day to predict. */
  followupDay: number;
  /** Baseline day. @defaultValue each series' last measurement */
  baselineDay?: number;
  /** Radiotherapy end day where the CSV has none. @defaultValue undefined */
  rtEndDay?: number;
  /** Bootstrap fits. @defaultValue 30 */
  replicates?: number;
  /** Growth fit objective. @defaultValue 'least-squares' */
  objective?: 'least-squares' | 'reference';
  /** Bootstrap noise. @defaultValue 'symmetric' */
  bootstrapNoise?: 'symmetric' | 'reference';
}

/** Where the relative changes come from: one for every slice, a targets JSON, or a size CSV. */
export type TargetSource =
  | { kind: 'constant'; relativeChange: number }
  | { kind: 'json'; file: string }
  | SeriesTargetSource;

/** The largest targets JSON read (a relative change per slice is some 40 bytes). */
const MAX_TARGETS_BYTES = 64 * 1024 * 1024;

/**
 * The growth fit of a `series` target source (nothing written).
 *
 * @param t - the source.
 * @param names - how messages name the options.
 */
export function fitSeriesTargets(t: SeriesTargetSource, names?: OptionNamer): SeriesPrediction[] {
  return fitGrowthSeries(readSizeSeries(t.file, t.rtEndDay), {
    source: t.file, followupDay: t.followupDay, baselineDay: t.baselineDay, replicates: t.replicates, objective: t.objective, bootstrapNoise: t.bootstrapNoise, names,
  });
}

/**
 * Reads a targets JSON `{ "<slice id>": { "relativeChange": <number> }, ... }`.
 *
 * @param file - the file.
 * @throws PipelineInputError for a missing or unreadable file; PipelineDataError naming the file and the slice for bad content.
 */
export function readTargetsJson(file: string): GrowthTargets {
  const text = readTextFile(file, 'targets file', MAX_TARGETS_BYTES, true);
  let v: unknown;
  try {
    v = JSON.parse(text);
  } catch (e) {
    throw new PipelineDataError(`targets file ${file}: not valid JSON (${(e as Error).message})`, { cause: e });
  }
  if (!v || typeof v !== 'object' || Array.isArray(v)) {
    throw new PipelineDataError(`targets file ${file}: must be a JSON object { "<slice id>": { "relativeChange": <number> }, ... }`);
  }
  for (const [id, e] of Object.entries(v as Record<string, unknown>)) {
    const d = (e as { relativeChange?: unknown } | null)?.relativeChange;
    if (typeof d !== 'number' || !Number.isFinite(d)) {
      throw new PipelineDataError(`targets file ${file}: slice ${id} needs a finite number "relativeChange", got ${JSON.stringify(d ?? null)}`);
    }
    if (d < -1) throw new PipelineDataError(`targets file ${file}: the relative change of slice ${id} is ${d}: it must be >= -1 (-1 is a vanished tumour)`);
  }
  try {
    return parseGrowthTargets(v);
  } catch (e) {
    throw new PipelineDataError(`targets file ${file}: ${(e as Error).message.replace(/'json' passed to 'parseGrowthTargets':?\s*/, '')}`, { cause: e });
  }
}

/**
 * The relative change per slice, read or fitted (nothing is written).
 *
 * @param source - where they come from.
 * @param ids - the slices.
 * @param names - how messages name the options.
 * @returns the targets by slice id, and the growth fits of a `series` source.
 */
export function resolveTargets(source: TargetSource, ids: readonly string[], names?: OptionNamer): { targets: GrowthTargets; growth: SeriesPrediction[] } {
  if (source.kind === 'constant') return { targets: Object.fromEntries(ids.map((id) => [id, { relativeChange: source.relativeChange }])), growth: [] };
  if (source.kind === 'json') return { targets: readTargetsJson(source.file), growth: [] };
  const growth = fitSeriesTargets(source, names);
  return { targets: targetsFor(growth, ids), growth };
}
