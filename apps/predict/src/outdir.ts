/**
 * The output folder of `run`/`sample`/`probability-map`: its locks, its
 * record (`run.json`), what earlier runs left in it, and clearing it.
 *
 * Locks: each process holds `tumorcast-predict.lock` (a run without
 * `--shard`) or `tumorcast-predict.shard-<i>-of-<n>.lock` while it runs, so
 * that shards of one run share a folder and nothing else does; the short
 * steps that read and rewrite the folder's record (setting up, merging the
 * shards at the end) hold `tumorcast-predict.setup.lock`, waiting for each
 * other.
 */
import fs from 'node:fs';
import path from 'node:path';
import { CliError, ExitCode, lockFolder, lockHolderAlive, readLockInfo, readTextFileChecked, removeStaleTempFiles } from '@tumorcast/cli';
import type { FolderLock } from '@tumorcast/cli';
import type { ModelPaths } from './models.js';
import type { SampleSettings } from './predict.js';
import type { RunProvenance, SliceInputs } from './provenance.js';
import { provenanceDifferences, sliceDifferences } from './provenance.js';
import type { SliceResult, TargetSource } from './run.js';

/** The version of `run.json`'s layout. */
export const RUN_RECORD_FORMAT = 2;

/** The lock file name prefix. */
const LOCK_PREFIX = 'tumorcast-predict';
/** The setup lock (held for moments). */
export const SETUP_LOCK = `${LOCK_PREFIX}.setup.lock`;
/** How long a run waits for another's setup or merge step. */
const SETUP_WAIT_MS = 10 * 60 * 1000;

/** The files and folders tumorcast-predict writes into an output folder: what `--overwrite` may remove. */
export const RUN_OUTPUTS = ['slices', 'growth', 'run.json', 'metrics.csv', 'metrics.json', 'report.html'] as const;

/** `run.json`: what a run was asked to do, and what determines its outputs. */
export interface RunRecord {
  /** Always `'tumorcast-predict'`. */
  tool: 'tumorcast-predict';
  /** {@link RUN_RECORD_FORMAT}. */
  format: number;
  /** Data root. */
  data: string;
  /** `--truth`, or null. */
  truth: string | null;
  /** The preset the settings came from, or null. */
  preset: string | null;
  /** Report title and note (for `tumorcast-predict report`). */
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
  /** Whether `report.html` is written (`run`) or not (`sample`, `probability-map`). */
  report: boolean;
  /** What determines the outputs; a rerun resumes only when it matches. */
  provenance: RunProvenance;
  /** The slices asked for by the runs into this folder (all shards). */
  slices: string[];
  /** The slices with a finished result (at the last update). */
  finished: string[];
  /** Shard runs that have finished (`i/n`; `1/1` for a run without `--shard`). */
  finishedShards: string[];
}

/** The lock file name of a run (`shard` is `i/n` or undefined). */
export function runLockName(shard: string | undefined): string {
  if (!shard) return `${LOCK_PREFIX}.lock`;
  const [i, n] = shard.split('/');
  return `${LOCK_PREFIX}.shard-${i}-of-${n}.lock`;
}

/** The shard count of a lock file name (undefined: a run without shards; null: not a run lock). */
function lockShardCount(name: string): number | undefined | null {
  if (name === `${LOCK_PREFIX}.lock`) return undefined;
  const m = new RegExp(`^${LOCK_PREFIX}\\.shard-\\d+-of-(\\d+)\\.lock$`).exec(name);
  return m ? Number(m[1]) : null;
}

/** Live run locks in `out` other than `own`: their file names and holders. */
export function otherRunLocks(out: string, own: string): { name: string; pid: number; owner: string }[] {
  let names: string[];
  try {
    names = fs.readdirSync(out);
  } catch {
    return [];
  }
  const found: { name: string; pid: number; owner: string }[] = [];
  for (const name of names) {
    if (name === own || lockShardCount(name) === null) continue;
    const info = readLockInfo(path.join(out, name));
    // A dead holder's lock is no obstacle (its run will take it over when rerun).
    if (info && lockHolderAlive(info) === false) continue;
    found.push({ name, pid: info?.pid ?? 0, owner: info?.owner ?? 'unknown' });
  }
  return found;
}

/**
 * Takes this run's lock on `out`, then checks that no other run that could
 * write the same slices holds one: shards of one split (`i/n`, same n) may
 * share the folder; anything else may not.
 *
 * @throws CliError (exit code 2) naming the other run's pid and lock file.
 */
export function lockRun(out: string, shard: string | undefined, owner: string, log: (m: string) => void): FolderLock {
  const own = runLockName(shard);
  const lock = lockFolder(out, { name: own, owner, log });
  try {
    const setup = lockFolder(out, { name: SETUP_LOCK, owner, log, waitMs: SETUP_WAIT_MS });
    try {
      const n = shard ? Number(shard.split('/')[1]) : undefined;
      const clash = otherRunLocks(out, own).find((l) => n === undefined || lockShardCount(l.name) !== n);
      if (clash) {
        throw new CliError(`${out} is in use by another run (${clash.owner}, pid ${clash.pid}; lock file ${path.join(out, clash.name)}) whose slices may overlap this one's; `
          + `only shards i/n with the same n share a folder: wait for it to finish, or use another --out`, ExitCode.usage);
      }
    } finally {
      setup.release();
    }
  } catch (e) {
    lock.release();
    throw e;
  }
  return lock;
}

/** Runs `fn` holding the folder's setup lock (waiting for another run's setup or merge step). */
export async function withSetupLock<T>(out: string, owner: string, log: (m: string) => void, fn: () => T | Promise<T>): Promise<T> {
  const setup = lockFolder(out, { name: SETUP_LOCK, owner, log, waitMs: SETUP_WAIT_MS });
  try {
    return await fn();
  } finally {
    setup.release();
  }
}

/** Reads `out/run.json`; undefined when there is none. */
export function readRunRecord(out: string): RunRecord | undefined {
  const file = path.join(out, 'run.json');
  if (!fs.existsSync(file)) return undefined;
  const text = readTextFileChecked(file, { what: 'run record', maxBytes: 64 * 1024 * 1024, exitCode: ExitCode.failure });
  try {
    return JSON.parse(text) as RunRecord;
  } catch (e) {
    throw new CliError(`run record ${file}: not valid JSON (${(e as Error).message}); move the folder aside or use --overwrite`, ExitCode.failure);
  }
}

/** Reads a finished slice's `result.json`. */
export function readSliceResult(file: string): SliceResult {
  const text = readTextFileChecked(file, { what: 'slice result', maxBytes: 16 * 1024 * 1024, exitCode: ExitCode.failure });
  try {
    return JSON.parse(text) as SliceResult;
  } catch (e) {
    throw new CliError(`slice result ${file}: not valid JSON (${(e as Error).message})`, ExitCode.failure);
  }
}

/** The ids of the slices of `out` with a `result.json`, sorted. */
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
  /** Slices of this run whose finished result has other inputs (redone with --overwrite). */
  stale: string[];
  /** The folder's record. */
  record?: RunRecord;
}

/**
 * Compares what `out` holds with this run: the folder's record (settings,
 * networks, targets) and each finished slice's inputs.
 *
 * @param inputs - this run's slices and their inputs.
 */
export function inspectFolder(out: string, provenance: RunProvenance, inputs: ReadonlyMap<string, SliceInputs>): FolderState {
  const record = readRunRecord(out);
  const finished = finishedSlices(out);
  const differences: string[] = [];
  if (record) {
    if (record.format !== RUN_RECORD_FORMAT || !record.provenance) {
      if (finished.length) differences.push(`its results were written by an earlier tumorcast-predict that recorded no provenance in ${path.join(out, 'run.json')}`);
    } else if (finished.length) {
      differences.push(...provenanceDifferences(record.provenance, provenance));
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

/** The refusal of a folder whose results another run made. */
export function mismatchError(out: string, differences: readonly string[]): CliError {
  const shown = differences.slice(0, 8);
  return new CliError(
    `--out ${out} holds results made with other settings or inputs: ${shown.join('; ')}${differences.length > shown.length ? `; and ${differences.length - shown.length} more` : ''}. `
    + `Rerun with --overwrite to replace them (only tumorcast-predict's ${RUN_OUTPUTS.join(', ')} there are removed; results that match are kept), or give another --out.`,
    ExitCode.usage,
  );
}

/**
 * Removes the results of another run from `out`: all of tumorcast-predict's
 * outputs when the folder's record differs, else only the stale slices'
 * folders. Refuses while another run holds a lock on the folder.
 */
export function clearResults(out: string, ownLock: string, state: FolderState, log: (m: string) => void): void {
  const others = otherRunLocks(out, ownLock);
  if (others.length) {
    const o = others[0]!;
    throw new CliError(`--overwrite: ${out} is in use by another run (${o.owner}, pid ${o.pid}; lock file ${path.join(out, o.name)}); its results are not removed while it runs`, ExitCode.usage);
  }
  if (state.runWide) {
    for (const name of RUN_OUTPUTS) fs.rmSync(path.join(out, name), { recursive: true, force: true });
    log(`--overwrite: removed the earlier results in ${out}`);
    return;
  }
  for (const id of state.stale) fs.rmSync(path.join(out, 'slices', id), { recursive: true, force: true });
  if (state.stale.length) log(`--overwrite: removed the results of slice(s) ${state.stale.join(', ')} (other inputs)`);
}

/** Removes the temporary files killed runs left in `out`, `out/growth` and the slice folders of `ids`. */
export function removeStaleTemps(out: string, ids: readonly string[], log: (m: string) => void): void {
  const removed = [out, path.join(out, 'growth'), ...ids.map((id) => path.join(out, 'slices', id))].flatMap((d) => removeStaleTempFiles(d));
  if (removed.length) log(`removed ${removed.length} temporary file(s) an interrupted run left (${removed.slice(0, 3).map((f) => path.relative(out, f)).join(', ')}${removed.length > 3 ? ', ...' : ''})`);
}
