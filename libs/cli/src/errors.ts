/**
 * Errors and exit codes of the tumorcast command-line tools.
 */

/** Exit codes used by the tumorcast CLIs. */
export const ExitCode = {
  /** Success (also after Ctrl-C when the work was saved). */
  ok: 0,
  /** A runtime failure (bad data, a failed computation). */
  failure: 1,
  /** Bad usage: unknown command or option, invalid value, invalid config, a named path that is missing or of the wrong kind. */
  usage: 2,
} as const;

/**
 * The conventional exit code of a process that stopped because of `signal`:
 * 128 + the signal number (130 for SIGINT, 143 for SIGTERM).
 */
export function signalExitCode(signal: 'SIGINT' | 'SIGTERM' | 'SIGHUP'): number {
  return 128 + ({ SIGHUP: 1, SIGINT: 2, SIGTERM: 15 } as const)[signal];
}

/** An error meant for the user of a CLI: printed without a stack trace, with an exit code. */
export class CliError extends Error {
  /** The process exit code to use. */
  readonly exitCode: number;
  /**
   * @param message - what is wrong and what to do about it.
   * @param exitCode - the exit code.
   * @defaultValue exitCode {@link ExitCode}.usage
   */
  constructor(message: string, exitCode: number = ExitCode.usage) {
    super(message);
    this.name = 'CliError';
    this.exitCode = exitCode;
  }
}

/**
 * Runs a CLI main function: prints errors on stderr as one line (a
 * {@link CliError}, a Node file-system error rephrased by
 * {@link describeFsError} to name the path, any other error's message; the
 * stack when `TUMORCAST_DEBUG` is set) and sets `process.exitCode`.
 */
export async function runMain(main: () => Promise<number | void>, programName: string): Promise<void> {
  try {
    const code = await main();
    process.exitCode = code ?? ExitCode.ok;
  } catch (e) {
    const err = e as Error;
    const debug = !!process.env['TUMORCAST_DEBUG'];
    const message = err instanceof CliError ? err.message : (describeFsError(err) ?? err?.message ?? String(e));
    process.stderr.write(`${programName}: error: ${message}\n`);
    if (debug && err.stack) process.stderr.write(`${err.stack}\n`);
    else if (!(err instanceof CliError)) process.stderr.write('(set TUMORCAST_DEBUG=1 for a stack trace)\n');
    process.exitCode = err instanceof CliError ? err.exitCode : ExitCode.failure;
  }
}

/** Plain words for the file-system error codes a user can fix. @internal */
export const ERRNO_WORDS: Record<string, string> = {
  ENOENT: 'no such file or folder',
  ENOTDIR: 'a part of the path is a file, not a folder',
  EISDIR: 'is a folder, expected a file',
  EEXIST: 'already exists',
  EACCES: 'permission denied',
  EPERM: 'operation not permitted',
  EROFS: 'read-only file system',
  ENOSPC: 'no space left on the device',
  EDQUOT: 'disk quota exceeded',
  EMFILE: 'too many open files',
  ENAMETOOLONG: 'the name is too long',
  ELOOP: 'too many symbolic links (a link loop?)',
  EBUSY: 'busy',
  EIO: 'input/output error',
};

/**
 * A one-line message for a Node file-system error (`ENOENT`, `EISDIR`,
 * `EEXIST`, ...) that names the path(s) and says what went wrong in words,
 * e.g. `results/model000100.safetensors: cannot write (no space left on the device)`.
 * Returns undefined for any other error.
 *
 * @param error - anything thrown.
 */
export function describeFsError(error: unknown): string | undefined {
  const e = error as NodeJS.ErrnoException & { dest?: string };
  if (!e || typeof e !== 'object' || typeof e.code !== 'string' || !/^E[A-Z]+$/.test(e.code) || typeof e.syscall !== 'string') return undefined;
  const words = e.code === 'EEXIST' && e.syscall === 'mkdir' ? 'a file of that name is in the way' : (ERRNO_WORDS[e.code] ?? e.code);
  const verb: Record<string, string> = {
    open: 'cannot open', read: 'cannot read', write: 'cannot write', mkdir: 'cannot create the folder', rename: 'cannot move into place',
    unlink: 'cannot remove', rmdir: 'cannot remove', scandir: 'cannot list the folder', stat: 'cannot access', lstat: 'cannot access',
    copyfile: 'cannot copy', fsync: 'cannot write', close: 'cannot write', access: 'cannot access', realpath: 'cannot resolve',
  };
  const action = verb[e.syscall] ?? `${e.syscall} failed`;
  const target = e.dest ?? e.path;
  if (typeof target !== 'string') return `${action} (${words})`;
  return `${target}: ${action} (${words})`;
}
