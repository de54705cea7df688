/**
 * Error type of `@tumorcast/nifti`. Every error names the file (or the
 * argument) it is about and the problem, so that a user pointing tumorcast
 * at their own scans can see at once which file to fix.
 */

/**
 * A NIfTI file (or byte buffer) that cannot be read or written: truncated,
 * wrong magic, corrupt gzip, bad dims, unsupported datatype, ...
 *
 * The message is `<file>: <problem>`; both parts are also available as fields.
 */
export class NiftiError extends Error {
  /** The file (path, or the `name` given to {@link readNifti}) the error is about. */
  readonly file: string;
  /** What is wrong, without the file name. */
  readonly problem: string;

  /**
   * @param file - the file path or buffer name.
   * @param problem - what is wrong with it.
   * @param options - standard error options (`cause`).
   */
  constructor(file: string, problem: string, options?: { cause?: unknown }) {
    super(`${file}: ${problem}`, options);
    this.name = 'NiftiError';
    this.file = file;
    this.problem = problem;
  }
}
