/**
 * The pipeline's errors and option names in `tumorcast-predict`'s words:
 * options are named by their flags, and each error kind has its exit code.
 */
import { CliError, ExitCode } from '@tumorcast/cli';
import { PipelineError } from '@tumorcast/pipeline';
import type { OptionNamer } from '@tumorcast/pipeline';

/** Options whose flag is not the kebab-case of the option's last name. */
const FLAGS: Readonly<Record<string, string>> = {
  'maps': 'the command (sample writes no probability maps)',
  'targets.json': '--targets',
  'targets.series': '--series',
  'targets.replicates': '--bootstrap',
  'targets.objective': '--growth-objective',
  'fixed': '--fix',
  'settings.gradientMarginPixels': '--gradient-margin',
};

/** The pipeline's options as `tumorcast-predict` flags (`settings.noiseLevel` is `--noise-level`), with a value after a space. */
export const flagName: OptionNamer = (option, value) => {
  if (option === 'report') return `tumorcast-predict report --out ${value ?? ''}`;
  const last = option.slice(option.lastIndexOf('.') + 1);
  const flag = FLAGS[option] ?? `--${last.replace(/[A-Z]/g, (c) => `-${c.toLowerCase()}`)}`;
  return value === undefined ? flag : `${flag} ${value}`;
};

/**
 * A pipeline error as the CLI's error: a bad call or an output folder in use
 * is a usage error (exit code 2), bad data a failure (1); other errors pass.
 *
 * @param e - the error.
 */
export function toCliError(e: unknown): unknown {
  if (!(e instanceof PipelineError)) return e;
  return new CliError(e.message, e.kind === 'data' ? ExitCode.failure : ExitCode.usage);
}

/**
 * Runs `fn`, turning the pipeline's errors into CLI errors.
 *
 * @param fn - the work.
 */
export async function cliErrors<T>(fn: () => T | Promise<T>): Promise<T> {
  try {
    return await fn();
  } catch (e) {
    throw toCliError(e);
  }
}
