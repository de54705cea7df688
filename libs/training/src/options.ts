/**
 * The options every training run takes, their defaults and their checks.
 * The names are the camelCase forms of `tumorcast-train`'s config keys
 * (`batch_size` is `batchSize`), and the defaults are the same.
 */
import { CliError, ExitCode } from '@tumorcast/cli';
import type { DataRange } from '@tumorcast/diffusion';
import { LINEAR_SCHEDULE_MIN_STEPS } from '@tumorcast/diffusion';

/** Options of every training run ({@link runTraining} and the three networks' `train*` functions). */
export interface TrainingOptions {
  /** Data roots in the BraTS slice layout (`training/<pid>_<slice>/` under each). */
  dataDir: readonly string[];
  /**
   * Validation data roots (`validation/` and `testing/` with `test_labels/`, or `training/`).
   * @defaultValue no validation
   */
  dataDirVal?: readonly string[];
  /** Network input size: slices are zero-padded 240 -> 256, then resized to this. @defaultValue 256 */
  imageSize?: number;
  /** AdamW learning rate. @defaultValue 1e-4 */
  lr?: number;
  /** AdamW decoupled weight decay. @defaultValue 0 */
  weightDecay?: number;
  /** Slices per step. @defaultValue 10 */
  batchSize?: number;
  /** Train until this many steps in total. @defaultValue 100000 */
  iterations?: number;
  /** Save a checkpoint every this many steps (0: only at the end). @defaultValue 5000 */
  saveInterval?: number;
  /** Validate every this many steps (0: never). @defaultValue 0 */
  evalInterval?: number;
  /** Where checkpoints, `log.csv` and `loss.svg` go. @defaultValue './results' */
  resultsDir?: string;
  /**
   * A `modelNNNNNN.safetensors` to resume from, or `'latest'` (the newest intact one in `resultsDir`).
   * @defaultValue start from scratch
   */
  resumeCheckpoint?: string;
  /**
   * Fine-tune: start at step 0, with a fresh optimiser (and EMA), from the
   * weights in this file instead of a random initialisation: a tumorcast
   * checkpoint (`modelNNNNNN` / `emaNNNNNN.safetensors`), an exported model
   * (float16 widened to float32) or a PyTorch `state_dict` (`.pt`, `.pth`).
   * It must fit the run's network (every parameter's shape, and the network
   * config, diffusion process and data range its metadata records), and
   * cannot be combined with `resumeCheckpoint`. Its path and SHA-256 are
   * recorded in every checkpoint (metadata `tumorcast.init_weights`).
   * @defaultValue a random initialisation from `seed`
   */
  initWeights?: string;
  /** Seed of the initialisation, the batches and the noise. @defaultValue 0 */
  seed?: number;
  /** Use at most this many slices of the data, in sorted order (0: all). @defaultValue 0 */
  maxSlices?: number;
  /** Notices (slice counts, resume, parameter count, signals). @defaultValue a line on stderr */
  log?: (message: string) => void;
  /** Stops the run after the current step, with a checkpoint, like SIGINT. @defaultValue none */
  signal?: AbortSignal;
  /**
   * The config recorded in every checkpoint (metadata `tumorcast.config`),
   * e.g. the app's resolved YAML config.
   * @defaultValue the resolved options (without `log`, `signal` and `config`)
   */
  config?: Record<string, unknown>;
}

/** The defaults of {@link TrainingOptions}. */
export const TRAINING_DEFAULTS = {
  imageSize: 256,
  lr: 1e-4,
  weightDecay: 0,
  batchSize: 10,
  iterations: 100000,
  saveInterval: 5000,
  evalInterval: 0,
  resultsDir: './results',
  seed: 0,
  maxSlices: 0,
} as const;

/** Options of the diffusion process, for the diffusion model and the regressor. */
export interface DiffusionProcessOptions {
  /** T, the number of diffusion steps. @defaultValue 1000 */
  diffusionSteps?: number;
  /** The beta schedule. @defaultValue 'linear' */
  noiseSchedule?: 'linear' | 'cosine';
  /**
   * The value range the network sees (`'[-1,1]'`: 2x - 1 of the [0,1]
   * slices; `'[0,1]'`: unchanged, as the authors' code), recorded in the checkpoint.
   * @defaultValue '[-1,1]'
   */
  dataRange?: DataRange;
}

/** The defaults of {@link DiffusionProcessOptions}. */
export const DIFFUSION_PROCESS_DEFAULTS = { diffusionSteps: 1000, noiseSchedule: 'linear', dataRange: '[-1,1]' } as const;

/** `T` with the keys in `K` filled in (what a function works with after applying the defaults). */
export type Resolved<T, K extends keyof T> = Omit<T, K> & { [P in K]-?: Exclude<T[P], undefined> };

/** {@link TrainingOptions} after the defaults. */
export type ResolvedTrainingOptions = Resolved<TrainingOptions, keyof typeof TRAINING_DEFAULTS>;

/** {@link DiffusionProcessOptions} after the defaults. */
export type ResolvedDiffusionProcess = Resolved<DiffusionProcessOptions, keyof DiffusionProcessOptions>;

/**
 * Fills in the defaults of `options` (keys set to `undefined` get the
 * default too).
 *
 * @param options - the caller's options.
 * @param defaults - the defaults of the keys that have one.
 */
export function withDefaults<T extends object, D extends Partial<T>>(options: T, defaults: D): T & { [K in keyof D]-?: Exclude<T[K & keyof T], undefined> } {
  const out = { ...options } as Record<string, unknown>;
  for (const [k, v] of Object.entries(defaults)) if (out[k] === undefined) out[k] = v;
  return out as T & { [K in keyof D]-?: Exclude<T[K & keyof T], undefined> };
}

/**
 * Refuses a numeric option that is not a finite number, not an integer
 * where one is needed, or below `min` (or above `max`), naming it.
 *
 * @param name - the option's name in the message.
 * @param value - its value.
 * @param check - `integer`, `min`, `max`.
 */
export function checkNumber(name: string, value: unknown, check: { integer?: boolean; min?: number; max?: number }): void {
  const fail = (what: string) => {
    throw new CliError(`${name} must be ${what}, got ${JSON.stringify(value)}`, ExitCode.usage);
  };
  if (typeof value !== 'number' || !Number.isFinite(value)) fail('a finite number');
  const v = value as number;
  if (check.integer && !Number.isInteger(v)) fail('an integer');
  if (check.min !== undefined && v < check.min) fail(`>= ${check.min}`);
  if (check.max !== undefined && v > check.max) fail(`<= ${check.max}`);
}

/** The resolved common options, checked (the networks' functions check their own keys). */
export function resolveTrainingOptions(options: TrainingOptions): ResolvedTrainingOptions {
  if (!Array.isArray(options.dataDir) || !options.dataDir.length || !options.dataDir.every((d) => typeof d === 'string' && d !== '')) {
    throw new CliError(`dataDir must be a non-empty list of data set root folders, got ${JSON.stringify(options.dataDir)}`, ExitCode.usage);
  }
  const o = withDefaults(options, TRAINING_DEFAULTS);
  if (o.initWeights !== undefined && typeof o.initWeights !== 'string') throw new CliError(`initWeights must be a file path, got ${JSON.stringify(o.initWeights)}`, ExitCode.usage);
  if (o.initWeights && o.resumeCheckpoint) {
    throw new CliError(
      `initWeights (--init-weights ${o.initWeights}) and resumeCheckpoint (--resume-checkpoint ${o.resumeCheckpoint}) cannot be combined: `
      + 'init weights start a new run at step 0, a resume continues one; to continue a fine-tuning run, resume it without initWeights (its checkpoints keep naming the weights it started from)',
      ExitCode.usage,
    );
  }
  checkNumber('imageSize', o.imageSize, { integer: true, min: 8 });
  checkNumber('lr', o.lr, { min: 0 });
  checkNumber('weightDecay', o.weightDecay, { min: 0 });
  checkNumber('batchSize', o.batchSize, { integer: true, min: 1 });
  checkNumber('iterations', o.iterations, { integer: true, min: 1 });
  for (const k of ['saveInterval', 'evalInterval', 'seed', 'maxSlices'] as const) checkNumber(k, o[k], { integer: true, min: 0 });
  return o;
}

/** The resolved diffusion-process options, checked. */
export function resolveDiffusionProcess(options: DiffusionProcessOptions): ResolvedDiffusionProcess {
  const o = withDefaults(options, DIFFUSION_PROCESS_DEFAULTS);
  checkNumber('diffusionSteps', o.diffusionSteps, { integer: true, min: 1 });
  if (o.noiseSchedule !== 'linear' && o.noiseSchedule !== 'cosine') throw new CliError(`noiseSchedule must be 'linear' or 'cosine', got '${String(o.noiseSchedule)}'`, ExitCode.usage);
  if (o.noiseSchedule === 'linear' && o.diffusionSteps < LINEAR_SCHEDULE_MIN_STEPS) {
    // The linear schedule's betas scale with 1000 / steps: below this they exceed 1.
    throw new CliError(`diffusionSteps must be >= ${LINEAR_SCHEDULE_MIN_STEPS} with the linear noise schedule (its betas exceed 1 below that), got ${o.diffusionSteps}; use more steps or noiseSchedule 'cosine'`, ExitCode.usage);
  }
  if (o.dataRange !== '[-1,1]' && o.dataRange !== '[0,1]') throw new CliError(`dataRange must be '[-1,1]' or '[0,1]', got '${String(o.dataRange)}'`, ExitCode.usage);
  return { diffusionSteps: o.diffusionSteps, noiseSchedule: o.noiseSchedule, dataRange: o.dataRange };
}

/** What a checkpoint records as the run's config when the caller gives none: the options without functions and signals. */
export function recordedConfig(options: object): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(options)) if (v !== undefined && typeof v !== 'function' && k !== 'signal' && k !== 'config') out[k] = v;
  return out;
}
