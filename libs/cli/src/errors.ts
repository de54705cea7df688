/**
 * Errors and exit codes of the tumorcast command-line tools.
 */

/** Exit codes used by the tumorcast CLIs. */
export const ExitCode = {
  /** Success (also after Ctrl-C when the work was saved). */
  ok: 0,
  /** A runtime failure (bad data, a failed computation). */
  failure: 1,
  /** Bad usage: unknown command or option, invalid value, invalid config. */
  usage: 2,
} as const;

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
 * Runs a CLI main function: prints errors on stderr (a {@link CliError} or any
 * error whose name ends in `Error` from tumorcast's libraries as one line, others
 * with their stack when `TUMORCAST_DEBUG` is set) and sets `process.exitCode`.
 */
export async function runMain(main: () => Promise<number | void>, programName: string): Promise<void> {
  try {
    const code = await main();
    process.exitCode = code ?? ExitCode.ok;
  } catch (e) {
    const err = e as Error;
    const debug = !!process.env['TUMORCAST_DEBUG'];
    process.stderr.write(`${programName}: error: ${err.message}\n`);
    if (debug && err.stack) process.stderr.write(`${err.stack}\n`);
    else if (!(err instanceof CliError)) process.stderr.write('(set TUMORCAST_DEBUG=1 for a stack trace)\n');
    process.exitCode = err instanceof CliError ? err.exitCode : ExitCode.failure;
  }
}
