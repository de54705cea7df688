/**
 * Error thrown when a PyTorch `.pt`/`.pth` file cannot be read: a truncated or
 * corrupt zip archive, a missing `data/` entry, an unsupported pickle opcode
 * or an unsupported (and therefore never executed) pickled global.
 *
 * @example
 * ```ts
 * try { await loadTorchStateDict('model.pt'); }
 * catch (e) { if (e instanceof TorchFileError) console.error(e.file, e.problem); }
 * ```
 */
export class TorchFileError extends Error {
  /** The file (path, or the `fileName` option for in-memory bytes) that could not be read. */
  readonly file: string;
  /** What is wrong with it, without the file name. */
  readonly problem: string;

  /**
   * @param file - the file name or path, for the message
   * @param problem - what is wrong, as a sentence fragment
   * @param options - standard `Error` options (`cause`)
   */
  constructor(file: string, problem: string, options?: { cause?: unknown }) {
    super(`cannot read PyTorch file '${file}': ${problem}`, options);
    this.name = 'TorchFileError';
    this.file = file;
    this.problem = problem;
  }
}
