/**
 * Error type of `@tumorcast/dataset`. Every error names the folder or file
 * it is about and the problem, so that a user pointing tumorcast at their
 * own data can see at once what to fix.
 */

/**
 * A problem with the slice data set layout (docs/method.md section 1): a missing
 * folder or modality, an unexpected file name, slices of different shapes,
 * a file that cannot be read as NIfTI...
 * The message is `<path>: <problem>`.
 */
export class DatasetError extends Error {
  /** The folder or file the error is about. */
  readonly file: string;
  /** What is wrong, without the path. */
  readonly problem: string;

  /**
   * @param file - the folder or file path.
   * @param problem - what is wrong with it.
   * @param options - standard error options (`cause`).
   */
  constructor(file: string, problem: string, options?: { cause?: unknown }) {
    super(`${file}: ${problem}`, options);
    this.name = 'DatasetError';
    this.file = file;
    this.problem = problem;
  }
}
