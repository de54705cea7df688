/**
 * Folder locks for the CLIs: a lock file created atomically (O_CREAT |
 * O_EXCL) that records the process holding it, so that two runs cannot write
 * into one output folder at the same time. A lock whose process has died
 * (same host, pid no longer running) is taken over with a notice; a live one
 * is refused with a message naming the pid.
 */
import { randomUUID } from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { CliError, ExitCode } from './errors.js';
import { processAlive } from './files.js';

/** What a lock file records. */
export interface LockInfo {
  /** The process holding the lock. */
  pid: number;
  /** The host it runs on (a pid says nothing about another host's processes). */
  hostname: string;
  /** What holds it, for messages (e.g. `tumorcast-predict run --shard 1/2`). */
  owner: string;
  /** When it was taken (ISO 8601). */
  started: string;
  /** Unique per acquisition: a release removes the file only while it is still this one. */
  token: string;
}

/** Options of {@link lockFolder}. */
export interface LockFolderOptions {
  /**
   * The lock file's name inside the folder.
   * @defaultValue '.lock'
   */
  name?: string;
  /**
   * What takes the lock, recorded in the file and named when another process finds it.
   * @defaultValue `process.argv[1]`'s base name and the pid
   */
  owner?: string;
  /**
   * How long to wait (ms) for a live holder to release the lock before refusing.
   * @defaultValue 0 (refuse at once)
   */
  waitMs?: number;
  /**
   * Receives the notice when the lock of a dead process is taken over.
   * @defaultValue no notice
   */
  log?: (message: string) => void;
  /**
   * Exit code of the {@link FolderLockedError} thrown.
   * @defaultValue {@link ExitCode}.usage
   */
  exitCode?: number;
}

/** A held lock. */
export interface FolderLock {
  /** The lock file. */
  readonly file: string;
  /** What this process wrote into it. */
  readonly info: LockInfo;
  /** The dead process's record, when this lock was taken over from it. */
  readonly tookOver?: LockInfo;
  /** Removes the lock file (if it is still this lock's); also done at process exit. Idempotent. */
  release(): void;
}

/** The lock is held by another live process (or one on another host, or an unreadable lock file). */
export class FolderLockedError extends CliError {
  /** The lock file. */
  readonly file: string;
  /** Its record, when readable. */
  readonly holder?: LockInfo;
  /**
   * @param file - the lock file.
   * @param holder - its record, when readable.
   * @param message - the message.
   * @param exitCode - the exit code.
   */
  constructor(file: string, holder: LockInfo | undefined, message: string, exitCode: number) {
    super(message, exitCode);
    this.name = 'FolderLockedError';
    this.file = file;
    this.holder = holder;
  }
}

const sleepCell = new Int32Array(new SharedArrayBuffer(4));
/** Blocks this thread for `ms` (lock waits are short; the CLIs have nothing else to do meanwhile). */
function sleepSync(ms: number): void {
  Atomics.wait(sleepCell, 0, 0, ms);
}

function isLockInfo(v: unknown): v is LockInfo {
  const o = v as LockInfo;
  return !!o && typeof o === 'object' && Number.isInteger(o.pid) && o.pid > 0 && typeof o.hostname === 'string' && typeof o.token === 'string';
}

/**
 * Reads a lock file's record.
 *
 * @param file - the lock file.
 * @returns the record; `null` when the file is gone; `undefined` when it exists but holds no record
 *   (being written this instant, or not a lock file this module wrote).
 */
export function readLockInfo(file: string): LockInfo | null | undefined {
  let text: string;
  try {
    text = fs.readFileSync(file, 'utf8');
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT') return null;
    throw e;
  }
  try {
    const v = JSON.parse(text) as unknown;
    return isLockInfo(v) ? v : undefined;
  } catch {
    return undefined;
  }
}

/**
 * Whether the process of a lock record is running: `true`/`false` on this
 * host, `undefined` for another host's process (a pid cannot be checked there).
 */
export function lockHolderAlive(info: LockInfo): boolean | undefined {
  if (info.hostname !== os.hostname()) return undefined;
  return processAlive(info.pid);
}

/** Creates `file` with O_CREAT | O_EXCL and writes `info`; false when it exists. */
function createExclusive(file: string, info: LockInfo): boolean {
  let fd: number;
  try {
    fd = fs.openSync(file, 'wx');
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'EEXIST') return false;
    throw e;
  }
  try {
    fs.writeSync(fd, `${JSON.stringify(info)}\n`);
    fs.fsyncSync(fd);
  } finally {
    fs.closeSync(fd);
  }
  return true;
}

/** A lock file's record, re-read for a moment while it is empty (created, not yet written). */
function readSettled(file: string): LockInfo | null | undefined {
  let info = readLockInfo(file);
  for (let i = 0; i < 20 && info === undefined; i++) {
    sleepSync(25);
    info = readLockInfo(file);
  }
  return info;
}

/** Removes `file` if it still holds the lock with `token`. */
function removeIfToken(file: string, token: string): boolean {
  const cur = readLockInfo(file);
  if (!cur || cur.token !== token) return false;
  fs.rmSync(file, { force: true });
  return true;
}

/**
 * Removes the lock file of a dead process. A second O_EXCL file guards the
 * read-check-remove, so that two processes that both found the dead lock
 * cannot remove each other's fresh one.
 */
function takeOver(file: string, dead: LockInfo, me: LockInfo): boolean {
  const guard = `${file}.takeover`;
  if (!createExclusive(guard, me)) {
    const g = readLockInfo(guard);
    // A guard whose process died between its two steps: remove it and try again.
    if (g && lockHolderAlive(g) === false) removeIfToken(guard, g.token);
    return false;
  }
  try {
    const cur = readLockInfo(file);
    if (cur && cur.token === dead.token) {
      fs.rmSync(file, { force: true });
      return true;
    }
    return false;
  } finally {
    removeIfToken(guard, me.token);
  }
}

function describeHolder(h: LockInfo): string {
  return `${h.owner ? `${h.owner}, ` : ''}pid ${h.pid}${h.hostname !== os.hostname() ? ` on host ${h.hostname}` : ''}, since ${h.started}`;
}

/**
 * Locks folder `dir` (created if missing) for this process: creates
 * `dir/<name>` with O_CREAT | O_EXCL, holding this process's pid, host, owner
 * and a token. A lock left by a process that is no longer running on this
 * host is taken over (with a notice through `log`); a live holder's lock is
 * waited for up to `waitMs`, then refused. The lock is released by
 * {@link FolderLock.release} or at process exit (not after SIGKILL: the next
 * run then finds a dead holder and takes over).
 *
 * @param dir - the folder to lock.
 * @param options - see {@link LockFolderOptions}.
 * @returns the held lock.
 * @throws FolderLockedError naming the holder's pid (and host) and the lock file, when it is held
 *   by a live process, by a process on another host, or the file holds no lock record.
 *
 * @example
 * ```ts
 * const lock = lockFolder(out, { name: 'tumorcast-predict.lock', owner: 'tumorcast-predict run', log });
 * try { work(); } finally { lock.release(); }
 * ```
 */
export function lockFolder(dir: string, options: LockFolderOptions = {}): FolderLock {
  const name = options.name ?? '.lock';
  if (typeof dir !== 'string' || dir === '') throw new TypeError(`'dir' passed to 'lockFolder' must be a folder path, got ${JSON.stringify(dir)}`);
  if (typeof name !== 'string' || name === '' || name.includes('/') || name.includes(path.sep)) {
    throw new TypeError(`'options.name' passed to 'lockFolder' must be a file name, got ${JSON.stringify(name)}`);
  }
  const waitMs = options.waitMs ?? 0;
  if (!(waitMs >= 0)) throw new RangeError(`'options.waitMs' passed to 'lockFolder' must be >= 0, got ${waitMs}`);
  const exitCode = options.exitCode ?? ExitCode.usage;
  fs.mkdirSync(dir, { recursive: true });
  const file = path.join(dir, name);
  const info: LockInfo = {
    pid: process.pid,
    hostname: os.hostname(),
    owner: options.owner ?? `${path.basename(process.argv[1] ?? 'node')} (pid ${process.pid})`,
    started: new Date().toISOString(),
    token: randomUUID(),
  };
  const deadline = Date.now() + waitMs;
  let tookOver: LockInfo | undefined;
  for (;;) {
    if (createExclusive(file, info)) break;
    const held = readSettled(file);
    if (held === null) continue; // released meanwhile: try again
    const alive = held ? lockHolderAlive(held) : undefined;
    if (held && alive === false) {
      if (takeOver(file, held, info)) {
        tookOver = held;
        options.log?.(`notice: ${file} was left by ${describeHolder(held)}, which is no longer running; taking the lock over`);
      } else {
        sleepSync(10);
      }
      continue;
    }
    if (Date.now() < deadline) {
      sleepSync(Math.min(100, Math.max(1, deadline - Date.now())));
      continue;
    }
    const message = !held
      ? `${dir} is locked: ${file} exists but holds no lock record; if no other run uses this folder, remove that file`
      : alive === undefined
        ? `${dir} is in use by ${describeHolder(held)} (lock file ${file}); a process on another host cannot be checked from here: if it is no longer running, remove the lock file`
        : `${dir} is in use by ${describeHolder(held)} (lock file ${file}); wait for it to finish or stop it (kill ${held.pid}), or use another folder`;
    throw new FolderLockedError(file, held ?? undefined, message, exitCode);
  }
  let released = false;
  const release = (): void => {
    if (released) return;
    released = true;
    process.removeListener('exit', release);
    try {
      removeIfToken(file, info.token);
    } catch {
      // The folder is gone or unreadable: nothing left to release.
    }
  };
  process.on('exit', release);
  return { file, info, ...(tookOver ? { tookOver } : {}), release };
}
