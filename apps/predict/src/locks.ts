/**
 * The locks on an output folder: each process holds
 * `tumorcast-predict.lock` (a run without `--shard`) or
 * `tumorcast-predict.shard-<i>-of-<n>.lock` while it runs, so that shards of
 * one run share a folder and nothing else does; the short steps that read
 * and rewrite the folder's record (setting up, merging the shards at the
 * end) hold `tumorcast-predict.setup.lock`, waiting for each other.
 */
import fs from 'node:fs';
import path from 'node:path';
import { CliError, ExitCode, lockFolder, lockHolderAlive, readLockInfo } from '@tumorcast/cli';
import type { FolderLock } from '@tumorcast/cli';
import type { FolderHolder, RunLocks } from '@tumorcast/pipeline/node';

/** The lock file name prefix. */
const LOCK_PREFIX = 'tumorcast-predict';
/** The setup lock (held for moments). */
export const SETUP_LOCK = `${LOCK_PREFIX}.setup.lock`;
/** How long a run waits for another's setup or merge step. */
const SETUP_WAIT_MS = 10 * 60 * 1000;

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
export function otherRunLocks(out: string, own: string): FolderHolder[] {
  let names: string[];
  try {
    names = fs.readdirSync(out);
  } catch {
    return [];
  }
  const found: FolderHolder[] = [];
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

/** The pipeline's {@link RunLocks} of a run into `out` by `owner` (e.g. `tumorcast-predict run --shard 2/8`). */
export function runLocks(out: string, shard: string | undefined, owner: string, log: (m: string) => void): RunLocks {
  return {
    acquire: () => lockRun(out, shard, owner, log),
    exclusive: (fn) => withSetupLock(out, owner, log, fn),
    others: () => otherRunLocks(out, runLockName(shard)),
  };
}
