/**
 * The pipeline's errors: whose problem it is (the call, the data, or the
 * output folder), so that a caller — the CLI, or a lab's own script — can
 * react without parsing messages. Messages name the file, the slice or the
 * option and say what to do.
 */

/** Which kind of problem a {@link PipelineError} reports. */
export type PipelineErrorKind = 'input' | 'data' | 'output-folder';

/** The base class of every error the pipeline throws on purpose. */
export class PipelineError extends Error {
  /** Which kind of problem this is. */
  readonly kind: PipelineErrorKind;

  /**
   * @param kind - which kind of problem.
   * @param message - what is wrong and what to do about it.
   * @param options - `cause`: the underlying error, when there is one.
   */
  constructor(kind: PipelineErrorKind, message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'PipelineError';
    this.kind = kind;
  }
}

/**
 * An option, or a file or folder the caller named, is missing, malformed or
 * does not fit (e.g. a noise level above the diffusion model's timesteps):
 * fix the call.
 */
export class PipelineInputError extends PipelineError {
  /**
   * @param message - what is wrong and what to do about it.
   * @param options - `cause`: the underlying error, when there is one.
   */
  constructor(message: string, options?: { cause?: unknown }) {
    super('input', message, options);
    this.name = 'PipelineInputError';
  }
}

/**
 * The content of a data, network, target or result file is wrong, or a step
 * gave no usable result (a failed growth fit, non-finite network outputs):
 * fix the data.
 */
export class PipelineDataError extends PipelineError {
  /**
   * @param message - what is wrong and what to do about it.
   * @param options - `cause`: the underlying error, when there is one.
   */
  constructor(message: string, options?: { cause?: unknown }) {
    super('data', message, options);
    this.name = 'PipelineDataError';
  }
}

/** The output folder is in use by another run, or holds results that another run made. */
export class OutputFolderError extends PipelineError {
  /**
   * @param message - what is wrong and what to do about it.
   * @param options - `cause`: the underlying error, when there is one.
   */
  constructor(message: string, options?: { cause?: unknown }) {
    super('output-folder', message, options);
    this.name = 'OutputFolderError';
  }
}

/**
 * How messages and log lines name an option (optionally with a value), so
 * that each caller's users read their own words: the library's default
 * ({@link apiOptionName}) gives the option path of the API (`'settings.noiseLevel'`),
 * a command line gives its flag (`--noise-level`).
 *
 * Options are named by their path in `RunDatasetOptions` (`'out'`,
 * `'shard'`, `'slices'`, `'truth'`, `'overwrite'`, `'maps'`,
 * `'settings.<key>'`, `'models.<key>'`), by `'targets.relativeChange'`,
 * `'targets.json'` and `'targets.series'` for the three kinds of
 * `TargetSource`, `'targets.<key>'` for the growth fit's options,
 * `'fixed'` and `'shortSeries'` for those of `fitGrowthSeries`, and
 * `'report'` for writing the report of a folder (with the folder as value).
 */
export type OptionNamer = (option: string, value?: string) => string;

/** The default {@link OptionNamer}: the API's option path, quoted, with ` = value`. */
export const apiOptionName: OptionNamer = (option, value) => {
  if (option === 'report') return `reportFolder('${value ?? ''}')`;
  return value === undefined ? `'${option}'` : `'${option}' = ${value}`;
};
