/**
 * The output folder of a run: its record (`run.json`), what earlier runs
 * left in it, and clearing it. (Locking the folder against other processes
 * is the caller's: see `RunLocks`.)
 */
import fs from 'node:fs';
import path from 'node:path';
import { removeStaleTempFiles, writeFileAtomicSync } from '@tumorcast/cli';
import { OutputFolderError, PipelineDataError, apiOptionName } from './errors.js';
import type { OptionNamer } from './errors.js';
import type { ModelPaths } from './models.js';
import { recordJson, settingsFromRecord } from './settings.js';
import type { SampleSettings } from './settings.js';
import type { RunProvenance, SliceInputs } from './provenance.js';
import { provenanceDifferences, sliceDifferences } from './provenance.js';
import type { TargetSource } from './targets.js';
import type { SliceScores } from './evaluate.js';
import { readTextFile } from './read.js';

/** The version of `run.json`'s layout. */
export const RUN_RECORD_FORMAT = 2;

/** The files and folders a run writes into an output folder: what `overwrite` may remove. */
export const RUN_OUTPUTS = ['slices', 'growth', 'run.json', 'metrics.csv', 'metrics.json', 'report.html'] as const;

/** What one finished slice recorded (`slices/<id>/result.json`). */
export interface SliceResult {
  /** The slice id. */
  id: string;
  /** The relative change d that guided it. */
  relativeChange: number;
  /** Baseline burden r0. */
  baselineBurden: number;
  /** Where r0 came from: 'label', the segmenter's name (no label), or 'regressor' / 'segmenter' (the guiding network's reading, `settings.baselineBurden`). */
  baselineBurdenSource: string;
  /** r* = r0 (1 + d). */
  targetBurden: number;
  /** The regressor's burden of the generated follow-up. */
  predictedBurden: number;
  /** The regressor's prediction per decoding step. */
  trajectory: number[];
  /** The original timestep of each decoding step, in the order run (older results lack it). */
  trajectoryTimesteps?: number[];
  /** The target the guidance steered each decoding step to (older results lack it). */
  trajectoryTargets?: number[];
  /** The segmenter's burden of the generated follow-up: its tumour mask over the baseline's brain pixels (older results lack it). */
  segmentedBurden?: number;
  /** Files written, relative to the output folder. */
  files: { followup: string[]; probability?: string; preview: string };
  /** Metrics against the real follow-up, when given. */
  scores?: SliceScores;
  /** Seconds the slice took. */
  seconds: number;
  /** What determined this slice's outputs besides the run's settings: its input files' content and its relative change. */
  inputs?: SliceInputs;
  /** Caveats about this slice's result (e.g. a baseline burden of 0), also shown in the report. */
  warnings?: string[];
}

/** `run.json`: what a run was asked to do, and what determines its outputs. */
export interface RunRecord {
  /** Always `'tumorcast-predict'` (the folder's format, whoever wrote it). */
  tool: 'tumorcast-predict';
  /** {@link RUN_RECORD_FORMAT}. */
  format: number;
  /** Data root. */
  data: string;
  /** The real follow-ups' folder, or null. */
  truth: string | null;
  /** The preset the settings came from, or null. */
  preset: string | null;
  /** Report title (for a report written later). */
  title: string | null;
  /** A note shown in the report. */
  note: string | null;
  /** Unit of the sizes in the size CSV, for the report's growth plot. */
  sizeUnit?: string;
  /** The real follow-up size per series, marked in the report's growth plot. */
  followupSizes?: Record<string, number>;
  /** Network paths as given. */
  models: ModelPaths;
  /** Where the relative changes come from, as given. */
  targets: TargetSource;
  /** Sampling settings in effect. */
  settings: SampleSettings;
  /** Whether `report.html` is written. */
  report: boolean;
  /** What determines the outputs; a rerun resumes only when it matches. */
  provenance: RunProvenance;
  /** The slices asked for by the runs into this folder (all shards). */
  slices: string[];
  /** The slices with a finished result (at the last update). */
  finished: string[];
  /** Shard runs that have finished (`i/n`; `1/1` for a run without shards). */
  finishedShards: string[];
}

/**
 * Reads `out/run.json`; settings it lacks (added later, or the margin left
 * out at Infinity) read as the values older runs were made with
 * (`settingsFromRecord`).
 *
 * @param out - the output folder.
 * @param names - how messages name the options.
 * @defaultValue names apiOptionName
 * @returns the record; undefined when there is none.
 * @throws PipelineDataError for an unreadable or invalid file.
 */
export function readRunRecord(out: string, names: OptionNamer = apiOptionName): RunRecord | undefined {
  const file = path.join(out, 'run.json');
  if (!fs.existsSync(file)) return undefined;
  const text = readTextFile(file, 'run record', 64 * 1024 * 1024, false);
  let record: RunRecord;
  try {
    record = JSON.parse(text) as RunRecord;
  } catch (e) {
    throw new PipelineDataError(`run record ${file}: not valid JSON (${(e as Error).message}); move the folder aside or use ${names('overwrite')}`, { cause: e });
  }
  // saveRunRecord leaves settings out at their defaults, as records from before them do: both read as those values.
  if (record && typeof record === 'object') {
    if (record.settings && typeof record.settings === 'object') record.settings = settingsFromRecord(record.settings);
    if (record.provenance?.settings && typeof record.provenance.settings === 'object') record.provenance.settings = settingsFromRecord(record.provenance.settings);
  }
  return record;
}

/**
 * Writes `out/run.json` (atomically), leaving `gradientMarginPixels` out
 * where it is Infinity (JSON has no Infinity).
 *
 * @param out - the output folder.
 * @param record - the record.
 */
export function saveRunRecord(out: string, record: RunRecord): void {
  writeFileAtomicSync(path.join(out, 'run.json'), recordJson(record));
}

/**
 * Reads a finished slice's `result.json`.
 *
 * @param file - the file.
 * @throws PipelineDataError for an unreadable or invalid file.
 */
export function readSliceResult(file: string): SliceResult {
  const text = readTextFile(file, 'slice result', 16 * 1024 * 1024, false);
  try {
    return JSON.parse(text) as SliceResult;
  } catch (e) {
    throw new PipelineDataError(`slice result ${file}: not valid JSON (${(e as Error).message})`, { cause: e });
  }
}

/**
 * The ids of the slices of `out` with a `result.json`, sorted.
 *
 * @param out - the output folder.
 */
export function finishedSlices(out: string): string[] {
  const dir = path.join(out, 'slices');
  let names: string[];
  try {
    names = fs.readdirSync(dir);
  } catch {
    return [];
  }
  return names.filter((id) => fs.existsSync(path.join(dir, id, 'result.json'))).sort();
}

/** What a run finds in its output folder. */
export interface FolderState {
  /** Why the folder's results cannot be resumed by this run (empty: they can): the run-wide ones, then the slices'. */
  differences: string[];
  /** Whether some differences are run-wide (settings, networks, targets): then no result of the folder can be kept. */
  runWide: boolean;
  /** Slices of this run whose finished result matches (nothing to do). */
  done: string[];
  /** Slices of this run whose finished result has other inputs (redone with `overwrite`). */
  stale: string[];
  /** The folder's record. */
  record?: RunRecord;
}

/**
 * Compares what `out` holds with this run: the folder's record (settings,
 * networks, targets) and each finished slice's inputs.
 *
 * @param out - the output folder.
 * @param provenance - this run's provenance.
 * @param inputs - this run's slices and their inputs.
 * @param names - how the options are named in the differences.
 * @defaultValue names apiOptionName
 */
export function inspectFolder(out: string, provenance: RunProvenance, inputs: ReadonlyMap<string, SliceInputs>, names: OptionNamer = apiOptionName): FolderState {
  const record = readRunRecord(out, names);
  const finished = finishedSlices(out);
  const differences: string[] = [];
  if (record) {
    if (record.format !== RUN_RECORD_FORMAT || !record.provenance) {
      if (finished.length) differences.push(`its results were written by an earlier tumorcast-predict that recorded no provenance in ${path.join(out, 'run.json')}`);
    } else if (finished.length) {
      // Settings a record leaves out (added later, or at their defaults) are those values (readRunRecord fills them too).
      const there = { ...record.provenance, settings: settingsFromRecord(record.provenance.settings as Partial<RunProvenance['settings']>) };
      differences.push(...provenanceDifferences(there, provenance, names));
    }
  } else if (finished.length) {
    differences.push(`it holds ${finished.length} finished slice(s) but no run.json saying how they were made`);
  }
  const runWide = differences.length > 0;
  const done: string[] = [];
  const stale: string[] = [];
  for (const id of finished) {
    const now = inputs.get(id);
    if (!now) continue;
    const there = readSliceResult(path.join(out, 'slices', id, 'result.json')).inputs;
    const diff = sliceDifferences(id, there, now);
    if (diff.length) {
      stale.push(id);
      differences.push(...diff);
    } else {
      done.push(id);
    }
  }
  return { differences, runWide, done: runWide ? [] : done, stale, ...(record ? { record } : {}) };
}

/**
 * The refusal of a folder whose results another run made.
 *
 * @param out - the output folder.
 * @param differences - from {@link inspectFolder}.
 * @param names - how messages name the options.
 * @defaultValue names apiOptionName
 */
export function mismatchError(out: string, differences: readonly string[], names: OptionNamer = apiOptionName): OutputFolderError {
  const shown = differences.slice(0, 8);
  return new OutputFolderError(
    `${names('out', out)} holds results made with other settings or inputs: ${shown.join('; ')}${differences.length > shown.length ? `; and ${differences.length - shown.length} more` : ''}. `
    + `Rerun with ${names('overwrite')} to replace them (only tumorcast-predict's ${RUN_OUTPUTS.join(', ')} there are removed; results that match are kept), or give another ${names('out')}.`,
  );
}

/** Another run that holds a lock on an output folder (see `RunLocks.others`). */
export interface FolderHolder {
  /** Its lock file's name. */
  name: string;
  /** Its process id. */
  pid: number;
  /** What it is (e.g. its command line). */
  owner: string;
}

/**
 * Removes the results of another run from `out`: all of the run outputs
 * ({@link RUN_OUTPUTS}) when the folder's record differs, else only the
 * stale slices' folders. Refuses while another run holds a lock on the folder.
 *
 * @param out - the output folder.
 * @param state - from {@link inspectFolder}.
 * @param others - the other runs holding a lock on `out` now.
 * @param log - receives what was removed.
 * @param names - how messages name the options.
 * @defaultValue names apiOptionName
 * @throws OutputFolderError while another run holds a lock.
 */
export function clearResults(out: string, state: FolderState, others: readonly FolderHolder[], log: (m: string) => void, names: OptionNamer = apiOptionName): void {
  if (others.length) {
    const o = others[0]!;
    throw new OutputFolderError(`${names('overwrite')}: ${out} is in use by another run (${o.owner}, pid ${o.pid}; lock file ${path.join(out, o.name)}); its results are not removed while it runs`);
  }
  if (state.runWide) {
    for (const name of RUN_OUTPUTS) fs.rmSync(path.join(out, name), { recursive: true, force: true });
    log(`${names('overwrite')}: removed the earlier results in ${out}`);
    return;
  }
  for (const id of state.stale) fs.rmSync(path.join(out, 'slices', id), { recursive: true, force: true });
  if (state.stale.length) log(`${names('overwrite')}: removed the results of slice(s) ${state.stale.join(', ')} (other inputs)`);
}

/**
 * Removes the temporary files killed runs left in `out`, `out/growth` and the slice folders of `ids`.
 *
 * @param out - the output folder.
 * @param ids - the slices.
 * @param log - receives what was removed.
 */
export function removeStaleTemps(out: string, ids: readonly string[], log: (m: string) => void): void {
  const removed = [out, path.join(out, 'growth'), ...ids.map((id) => path.join(out, 'slices', id))].flatMap((d) => removeStaleTempFiles(d));
  if (removed.length) log(`removed ${removed.length} temporary file(s) an interrupted run left (${removed.slice(0, 3).map((f) => path.relative(out, f)).join(', ')}${removed.length > 3 ? ', ...' : ''})`);
}
