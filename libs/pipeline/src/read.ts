/**
 * Guarded reads of the small text files a run takes (targets, size series,
 * run records), with the pipeline's errors.
 */
import { CliError, ExitCode, readTextFileChecked } from '@tumorcast/cli';
import { PipelineDataError, PipelineInputError } from './errors.js';

/**
 * Reads a text file through `readTextFileChecked` of `@tumorcast/cli` (a
 * size limit, no folders or devices), turning its errors into the
 * pipeline's: a file that is missing or cannot be read is a
 * PipelineInputError when the caller named it (`named`), else a
 * PipelineDataError.
 *
 * @param file - the file.
 * @param what - what it is, for messages (e.g. 'targets file').
 * @param maxBytes - the largest size read.
 * @param named - whether the caller named the file (its absence is then the caller's to fix).
 */
export function readTextFile(file: string, what: string, maxBytes: number, named: boolean): string {
  try {
    return readTextFileChecked(file, { what, maxBytes, exitCode: named ? ExitCode.usage : ExitCode.failure });
  } catch (e) {
    if (e instanceof CliError) throw named ? new PipelineInputError(e.message, { cause: e }) : new PipelineDataError(e.message, { cause: e });
    throw e;
  }
}
