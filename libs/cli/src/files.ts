/**
 * File input and output: atomic writes (temporary file in the same folder,
 * flushed, then renamed, so that a crash or Ctrl-C never leaves a
 * half-written output), the removal of temporary files a killed run left
 * behind, and a guarded text reader for configs, CSV and JSON files that
 * refuses folders, devices and pipes and files too big to be what was asked.
 *
 * Also the `@tumorcast/cli/files` subpath: it loads only `node:fs` and
 * `node:path` (no YAML or PNG code), so that the libraries that write files
 * (`nifti`'s `saveNifti`, `nn`'s `saveSafetensors`, `phantom`, `growth-ode`)
 * take their atomic writes from here.
 */
import { createHash } from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { CliError, ERRNO_WORDS, ExitCode } from './errors.js';

let counter = 0;

/** A temporary path beside `target` (same folder, so rename is atomic): `.<name>.tmp-<pid>-<n>`. */
export function tempPathFor(target: string): string {
  counter++;
  return path.join(path.dirname(target), `.${path.basename(target)}.tmp-${process.pid}-${counter}`);
}

/** Options of {@link writeFileAtomic} and {@link writeFileAtomicSync}. */
export interface WriteFileAtomicOptions {
  /**
   * Create the target's folder (and its parents) when missing. With `false`
   * a missing folder is an error (ENOENT), as with `fs.writeFile`.
   * @defaultValue true
   */
  createFolder?: boolean;
}

function checkWriteArgs(fn: string, target: unknown, data: unknown, options: unknown): boolean {
  if (typeof target !== 'string' || target === '') throw new TypeError(`'target' passed to '${fn}' must be a non-empty path, got ${JSON.stringify(target)}`);
  if (typeof data !== 'string' && !(data instanceof Uint8Array)) throw new TypeError(`'data' passed to '${fn}' must be a string or a Uint8Array`);
  if (options === null || typeof options !== 'object') throw new TypeError(`'options' passed to '${fn}' must be an object`);
  const createFolder = (options as WriteFileAtomicOptions).createFolder ?? true;
  if (typeof createFolder !== 'boolean') throw new TypeError(`'options.createFolder' passed to '${fn}' must be a boolean`);
  return createFolder;
}

/**
 * Writes `data` to `target` atomically: a temporary file in the same folder
 * ({@link tempPathFor}), flushed to disk, then renamed over `target`. A crash
 * or Ctrl-C leaves either the old file or the new one, never a partial one,
 * and a failed write removes its temporary file.
 *
 * @param target - the file to write.
 * @param data - its contents (a string is written as UTF-8).
 * @param options - see {@link WriteFileAtomicOptions}.
 */
export function writeFileAtomicSync(target: string, data: string | Uint8Array, options: WriteFileAtomicOptions = {}): void {
  if (checkWriteArgs('writeFileAtomicSync', target, data, options)) fs.mkdirSync(path.dirname(target), { recursive: true });
  const tmp = tempPathFor(target);
  try {
    const fd = fs.openSync(tmp, 'w');
    try {
      fs.writeFileSync(fd, data);
      // Flushed before the rename: after a power loss the target is the old or the new file, never an empty one.
      fs.fsyncSync(fd);
    } finally {
      fs.closeSync(fd);
    }
    fs.renameSync(tmp, target);
  } catch (e) {
    fs.rmSync(tmp, { force: true });
    throw e;
  }
}

/** Asynchronous {@link writeFileAtomicSync}. */
export async function writeFileAtomic(target: string, data: string | Uint8Array, options: WriteFileAtomicOptions = {}): Promise<void> {
  if (checkWriteArgs('writeFileAtomic', target, data, options)) await fs.promises.mkdir(path.dirname(target), { recursive: true });
  const tmp = tempPathFor(target);
  try {
    const fh = await fs.promises.open(tmp, 'w');
    try {
      await fh.writeFile(data);
      await fh.sync();
    } finally {
      await fh.close();
    }
    await fs.promises.rename(tmp, target);
  } catch (e) {
    await fs.promises.rm(tmp, { force: true });
    throw e;
  }
}

/** Appends a line to a text file (creating it with `header` first when new). */
export function appendLine(file: string, line: string, header?: string): void {
  fs.mkdirSync(path.dirname(file), { recursive: true });
  if (header !== undefined && !fs.existsSync(file)) fs.writeFileSync(file, `${header}\n`);
  fs.appendFileSync(file, `${line}\n`);
}

/** Matches the temporary files of {@link tempPathFor} (`.<name>.tmp-<pid>-<n>`; older `@tumorcast/nn` versions wrote `<name>.tmp-<pid>-<n>`). */
const TEMP_RE = /\.tmp-(\d+)-\d+$/;

/** Whether process `pid` runs on this host (this process counts as running). @internal */
export function processAlive(pid: number): boolean {
  if (pid === process.pid) return true;
  try {
    process.kill(pid, 0);
    return true;
  } catch (e) {
    // EPERM: the process exists but belongs to someone else.
    return (e as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/**
 * Removes the temporary files that atomic writes of a killed process left in
 * `dir` (not recursive): regular files named `*.tmp-<pid>-<n>` whose process
 * is no longer running. Files of live processes (this one included) are kept,
 * so that two runs sharing a folder do not break each other's writes.
 *
 * @param dir - the folder; a missing folder is fine (nothing to remove).
 * @returns the paths removed.
 */
export function removeStaleTempFiles(dir: string): string[] {
  let names: string[];
  try {
    names = fs.readdirSync(dir);
  } catch {
    return [];
  }
  const removed: string[] = [];
  for (const name of names) {
    const m = TEMP_RE.exec(name);
    if (!m || processAlive(Number(m[1]))) continue;
    const p = path.join(dir, name);
    try {
      if (!fs.lstatSync(p).isFile()) continue;
      fs.rmSync(p);
      removed.push(p);
    } catch {
      // Gone already, or not ours to remove: leave it.
    }
  }
  return removed;
}

/** Options of {@link readTextFileChecked}. */
export interface ReadTextFileOptions {
  /**
   * Refuse files larger than this many bytes (a guard against pointing a
   * config option at a disk image, `/dev/zero` or a multi-gigabyte log).
   * @defaultValue 16 MiB
   */
  maxBytes?: number;
  /**
   * What the file is, for messages: `config file`, `size series CSV`, ...
   * @defaultValue 'file'
   */
  what?: string;
  /**
   * Exit code of the {@link CliError}s thrown.
   * @defaultValue {@link ExitCode}.usage (the file was named by the user)
   */
  exitCode?: number;
}

/** Human-readable byte count (`1.5 MiB`). @internal */
export function formatBytes(n: number): string {
  const units = ['bytes', 'KiB', 'MiB', 'GiB', 'TiB'];
  let v = n;
  let u = 0;
  while (v >= 1024 && u < units.length - 1) {
    v /= 1024;
    u++;
  }
  return u === 0 ? `${n} bytes` : `${v.toFixed(1)} ${units[u]}`;
}

/** What a non-regular file is, for messages. */
function kindOf(st: fs.Stats): string {
  if (st.isDirectory()) return 'a folder';
  if (st.isCharacterDevice()) return 'a character device';
  if (st.isBlockDevice()) return 'a block device';
  if (st.isFIFO()) return 'a named pipe';
  if (st.isSocket()) return 'a socket';
  return 'not a regular file';
}

/**
 * Reads a UTF-8 text file that a user named (a YAML or JSON config, a CSV),
 * refusing what cannot be such a file before reading any of it: a missing
 * path, a folder, a device or pipe (`--config /dev/zero` would otherwise
 * read forever), or a file over `maxBytes`. Every refusal is a one-line
 * {@link CliError} `<what> <path>: <problem>`.
 *
 * @param file - the path.
 * @param options - see {@link ReadTextFileOptions}.
 * @returns the text (a leading byte-order mark removed).
 *
 * @example
 * ```ts
 * const text = readTextFileChecked(flags.config, { what: 'config file', maxBytes: 1 << 20 });
 * ```
 */
export function readTextFileChecked(file: string, options: ReadTextFileOptions = {}): string {
  const what = options.what ?? 'file';
  const maxBytes = options.maxBytes ?? 16 * 1024 * 1024;
  const exitCode = options.exitCode ?? ExitCode.usage;
  if (typeof file !== 'string' || file === '') throw new CliError(`${what}: expected a file path, got ${JSON.stringify(file)}`, exitCode);
  if (!Number.isInteger(maxBytes) || maxBytes < 0) throw new RangeError(`'maxBytes' passed to 'readTextFileChecked' must be a non-negative integer, got ${maxBytes}`);
  const fail = (problem: string): never => {
    throw new CliError(`${what} ${file}: ${problem}`, exitCode);
  };
  const errno = (e: unknown): never => {
    const code = (e as NodeJS.ErrnoException).code ?? '';
    return fail(`cannot read (${ERRNO_WORDS[code] ?? (e as Error).message})`);
  };
  let st: fs.Stats;
  try {
    // Stat by path first: opening a named pipe would block until a writer appears.
    st = fs.statSync(file);
  } catch (e) {
    return errno(e);
  }
  if (!st.isFile()) fail(`${kindOf(st)}, expected a file`);
  if (st.size > maxBytes) fail(`${formatBytes(st.size)}, more than the ${formatBytes(maxBytes)} a ${what} may have; is this the right file?`);
  let fd: number;
  try {
    fd = fs.openSync(file, 'r');
  } catch (e) {
    return errno(e);
  }
  try {
    // Re-checked on the open file (the path could have been swapped) and read at most maxBytes + 1 bytes.
    const st2 = fs.fstatSync(fd);
    if (!st2.isFile()) fail(`${kindOf(st2)}, expected a file`);
    const buf = Buffer.alloc(Math.min(maxBytes + 1, Math.max(st2.size, 0) + 1));
    let n = 0;
    for (;;) {
      const r = fs.readSync(fd, buf, n, buf.length - n, null);
      if (r === 0) break;
      n += r;
      if (n === buf.length) break;
    }
    if (n > maxBytes) fail(`more than the ${formatBytes(maxBytes)} a ${what} may have; is this the right file?`);
    const text = buf.subarray(0, n).toString('utf8');
    return text.charCodeAt(0) === 0xfeff ? text.slice(1) : text;
  } catch (e) {
    if (e instanceof CliError) throw e;
    return errno(e);
  } finally {
    fs.closeSync(fd);
  }
}

/**
 * The SHA-256 of a file's bytes, hex, read 1 MiB at a time (checkpoints may
 * be hundreds of MB).
 *
 * @param file - the file.
 */
export function sha256File(file: string): string {
  const h = createHash('sha256');
  const fd = fs.openSync(file, 'r');
  try {
    const buf = Buffer.alloc(1 << 20);
    for (;;) {
      const n = fs.readSync(fd, buf, 0, buf.length, null);
      if (n === 0) break;
      h.update(buf.subarray(0, n));
    }
  } finally {
    fs.closeSync(fd);
  }
  return h.digest('hex');
}
