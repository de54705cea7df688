/**
 * What the three training commands share: open the training (and
 * validation) slices, build the network, check the memory a step needs,
 * load init weights when fine-tuning, create AdamW (and an EMA of the
 * weights), resume from a checkpoint, run {@link trainLoop} with seeded steps, save checkpoints with the network's
 * metadata, and free everything at the end. A command supplies only its
 * network and objective as {@link TrainHooks}.
 *
 * Every random choice of step k comes from the stream `<kind>-step-<k>` of
 * the run's seed (first the batch's slice indices, then whatever the
 * objective draws), so a resumed run repeats the steps of an uninterrupted one.
 */
import * as tf from '@tensorflow/tfjs';
import { AdamW, ExponentialMovingAverage, assertFitsMemory, trackPeakMemory, wasmHeapBytes } from '@tumorcast/nn';
import { Rng } from '@tumorcast/random';
import type { Module } from '@tumorcast/nn';
import { CliError } from '@tumorcast/cli';
import { loadCheckpoint, saveCheckpoint } from './checkpoint.js';
import type { TrainState } from './checkpoint.js';
import { trainLoop } from './loop.js';
import type { TrainLoopResult } from './loop.js';
import { openSlices, toModelBatch } from './data.js';
import type { SliceBatch, SliceSource } from './data.js';
import { resolveResume } from './resume.js';
import { INIT_WEIGHTS_KEY, loadInitWeights } from './init-weights.js';
import { readSafetensorsMetadata } from './metadata.js';
import { recordedConfig, resolveTrainingOptions } from './options.js';
import type { TrainingOptions } from './options.js';
import type { DataRange } from '@tumorcast/diffusion';

/**
 * The loss of one step, called inside the optimiser's update; it may record
 * extra per-step values (e.g. `mse`) in `metrics`, as numbers or, so that
 * nothing is read synchronously (impossible on `webgpu` in Node), as scalar
 * tensors kept with `tf.keep`, which the caller reads and disposes.
 */
export type StepLoss = (metrics: Record<string, number | tf.Scalar>) => tf.Scalar;

/**
 * A {@link StepLoss} with tensors prepared outside the optimiser's gradient
 * tape (e.g. an adversarial perturbation, which needs its own gradient), that
 * {@link runTraining} disposes after the step.
 */
export interface PreparedStepLoss {
  /** The step's loss. */
  loss: StepLoss;
  /** Tensors the loss reads; disposed after the update. */
  held: tf.Tensor[];
}

/** A training command's network and objective, plugged into {@link runTraining}. */
export interface TrainHooks<N extends Module> {
  /** The command: the progress label, the checkpoints' `tumorcast.kind`, and the name of each step's random stream. */
  kind: string;
  /** The network's name in the parameter-count line (e.g. `'U-Net'`). */
  title: string;
  /** Whether the training and the validation slices must have a segmentation. */
  requireLabels: { training: boolean; validation: boolean };
  /**
   * Whether the training batches carry {@link SliceBatch.maskFractions}.
   * @defaultValue false
   */
  labelFraction?: boolean;
  /** Builds the network with fresh, seeded weights. */
  createNet(): N;
  /**
   * The peak memory of one training step, what it is, what to reduce, and
   * the fraction of the heap it may plan to use (see `assertFitsMemory`;
   * default 0.8, leaving room for a rough estimate).
   */
  memory(net: N): { bytes: number; what: string; hint: string; fraction?: number };
  /**
   * EMA rate of the weights (an `emaNNNNNN.safetensors` beside each checkpoint).
   * @defaultValue no EMA
   */
  emaRate?: number;
  /**
   * Refuses a checkpoint this run must not continue (e.g. trained with another data range).
   * @defaultValue every checkpoint of the right files is accepted
   */
  checkResume?(file: string): void;
  /** log.csv columns after `step` (and before `seconds`). */
  columns: readonly string[];
  /**
   * Prepares step `step` on `batch`: draws what the objective needs
   * (timesteps, noise) from `rng`, which continues the step's stream after the
   * slice indices, and returns the loss, or the loss with tensors it prepared
   * outside the optimiser's tape ({@link PreparedStepLoss}, freed after the
   * step). Called inside the step's peak-memory measurement.
   */
  objective(net: N, batch: SliceBatch, rng: Rng, step: number): StepLoss | PreparedStepLoss;
  /**
   * Validation metrics (e.g. `val_mse`) on the validation slices, every `eval_interval` steps.
   * @defaultValue no validation
   */
  evaluate?(net: N, val: SliceSource): Promise<Record<string, number>>;
  /** Metadata stored in every checkpoint besides the kind, step and config (the network config, the data range). */
  metadata(net: N): Record<string, string>;
}

/**
 * Trains a network as the options say (see the module comment): the
 * skeleton under {@link trainDiffusion}, {@link trainRegressor} and
 * {@link trainSegmenter}, and the way to train a network of one's own.
 *
 * @param options - the data, optimiser, schedule and results folder; see {@link TrainingOptions}.
 * @param hooks - the network and its objective; see {@link TrainHooks}.
 * @returns what the loop did (steps, whether a signal stopped it, the last checkpoint).
 */
export async function runTraining<N extends Module>(options: TrainingOptions, hooks: TrainHooks<N>): Promise<TrainLoopResult> {
  const c = resolveTrainingOptions(options);
  const log = c.log ?? ((m: string) => void process.stderr.write(`${m}\n`));
  const config = c.config ?? recordedConfig(c);
  const common = { imageSize: c.imageSize, maxSlices: c.maxSlices };
  const train = await openSlices(c.dataDir, { ...common, split: 'training', requireLabels: hooks.requireLabels.training, labelFraction: hooks.labelFraction ?? false });
  const val = c.dataDirVal ? await openSlices(c.dataDirVal, { ...common, split: 'any', requireLabels: hooks.requireLabels.validation }) : undefined;
  log(`training slices: ${train.size}${val ? `, validation slices: ${val.size}` : ''}`);
  const evaluate = hooks.evaluate;
  const net = hooks.createNet();
  let optimizer: AdamW | undefined;
  let ema: ExponentialMovingAverage | undefined;
  try {
    const mem = hooks.memory(net);
    assertFitsMemory(mem.bytes, mem.what, { hint: mem.hint, ...(mem.fraction !== undefined ? { fraction: mem.fraction } : {}) });
    const extraMetadata: Record<string, string> = {};
    if (c.initWeights) {
      // Before the EMA is made, so that it starts from these weights too.
      const init = await loadInitWeights(c.initWeights, net, { kind: hooks.kind, metadata: hooks.metadata(net) });
      extraMetadata[INIT_WEIGHTS_KEY] = JSON.stringify(init);
      log(`initialised the ${hooks.title} from ${init.file} (sha256 ${init.sha256}); starting at step 0 with a fresh optimiser`);
    }
    optimizer = new AdamW({ learningRate: c.lr, weightDecay: c.weightDecay });
    const opt = optimizer;
    const vars = net.trainableVariables;
    if (hooks.emaRate !== undefined) ema = new ExponentialMovingAverage(vars, hooks.emaRate);
    const state: TrainState = { store: net.params, optimizer: opt, ema };
    const resume = resolveResume(c.resumeCheckpoint, c.resultsDir, log);
    let startStep = 0;
    if (resume) {
      hooks.checkResume?.(resume);
      startStep = await loadCheckpoint(resume, state);
      // A resumed fine-tuning run keeps naming the weights it started from.
      const init = readSafetensorsMetadata(resume)[INIT_WEIGHTS_KEY];
      if (init !== undefined) extraMetadata[INIT_WEIGHTS_KEY] = init;
      log(`resumed from ${resume} at step ${startStep}`);
    }
    log(`${hooks.title} parameters: ${net.parameterCount.toLocaleString('en')}`);
    return await trainLoop({
      label: hooks.kind,
      iterations: c.iterations,
      startStep,
      saveInterval: c.saveInterval,
      evalInterval: val ? c.evalInterval : 0,
      resultsDir: c.resultsDir,
      columns: [...hooks.columns, ...MEMORY_COLUMNS],
      log,
      ...(c.signal ? { signal: c.signal } : {}),
      step: async (step) => {
        const rng = new Rng(c.seed, `${hooks.kind}-step-${step}`);
        const idx = Array.from({ length: c.batchSize }, () => rng.int(train.size));
        const batch = await train.batch(idx);
        const recorded: Record<string, number | tf.Scalar> = {};
        const { result: lossTensor, peakBytes } = trackPeakMemory(() => {
          const prepared = hooks.objective(net, batch, rng, step);
          const { loss: lossOf, held } = typeof prepared === 'function' ? { loss: prepared, held: [] } : prepared;
          try {
            const l = opt.minimizeScalar(() => lossOf(recorded), vars);
            ema?.update(vars);
            return l;
          } finally {
            tf.dispose(held);
          }
        });
        // Read after the update, asynchronously: the webgpu backend in Node has no synchronous reads.
        const metrics: Record<string, number> = {};
        let loss: number;
        try {
          loss = (await lossTensor.data())[0] as number;
          for (const [k, v] of Object.entries(recorded)) metrics[k] = typeof v === 'number' ? v : ((await v.data())[0] as number);
        } finally {
          lossTensor.dispose();
          for (const v of Object.values(recorded)) if (typeof v !== 'number') v.dispose();
        }
        if (!Number.isFinite(loss)) throw new CliError(`the loss became ${loss} at step ${step + 1}; lower the learning rate (--lr)`, 1);
        return { loss, ...metrics, lr: c.lr, ...memoryColumns(peakBytes) };
      },
      evaluate: val && evaluate ? () => evaluate(net, val) : undefined,
      save: (stepsDone) => saveCheckpoint(c.resultsDir, stepsDone, state, config, hooks.kind, { ...hooks.metadata(net), ...extraMetadata }),
    });
  } finally {
    ema?.dispose();
    optimizer?.dispose();
    net.dispose();
  }
}

/**
 * log.csv's memory columns after each command's own: `peak_mib`, the most
 * tensor memory held during the step (distinct buffers: weights, optimiser
 * state, activations, gradients; MiB), and `heap_mib`, the wasm heap's size
 * after it (its high-water mark, what the heap limit applies to; empty on
 * other backends).
 */
export const MEMORY_COLUMNS = ['peak_mib', 'heap_mib'] as const;

function memoryColumns(peakBytes: number): Record<string, number> {
  const heap = wasmHeapBytes();
  const out: Record<string, number> = { peak_mib: Math.round((1000 * peakBytes) / 2 ** 20) / 1000 };
  if (heap !== null) out['heap_mib'] = Math.round(heap / 2 ** 20);
  return out;
}

/** Options of {@link meanOverSlices}. */
export interface MeanOverSlicesOptions {
  /** Slices per batch. */
  batchSize: number;
  /**
   * Passes over the slices (each with fresh random draws).
   * @defaultValue 1
   */
  passes?: number;
}

/**
 * The mean over every slice of `source` (in order, `passes` times) of a
 * per-slice score: `score` gets a batch and its slice indices and returns the
 * SUM of its slices' scores.
 *
 * @param source - the slices.
 * @param options - see {@link MeanOverSlicesOptions}.
 * @param score - the summed score of a batch.
 */
export async function meanOverSlices(
  source: SliceSource, options: MeanOverSlicesOptions, score: (batch: SliceBatch, indices: number[]) => number | Promise<number>,
): Promise<number> {
  let sum = 0;
  let n = 0;
  for (let pass = 0; pass < (options.passes ?? 1); pass++) {
    for (let start = 0; start < source.size; start += options.batchSize) {
      const idx = Array.from({ length: Math.min(options.batchSize, source.size - start) }, (_, i) => start + i);
      sum += await score(await source.batch(idx), idx);
      n += idx.length;
    }
  }
  return sum / Math.max(1, n);
}

/** The random part of a noised batch: one step index per slice, then the standard-normal noise. */
export interface NoiseDraws {
  /** Step indices, uniform in `[0, maxT)`. */
  t: number[];
  /** Noise values, one per image value (NHWC order). */
  noise: Float32Array;
}

/**
 * Draws a step index per slice of `batch` (uniform below `maxT`), then the
 * noise, from `rng`; the numbers only, so that the tensors can be made where
 * they are used (inside `optimizer.minimize` or a `tf.tidy`).
 *
 * @param rng - the step's (or the validation's) random stream.
 * @param batch - the slices.
 * @param maxT - the number of step indices to draw from.
 */
export function drawNoise(rng: Rng, batch: SliceBatch, maxT: number): NoiseDraws {
  const t = batch.ids.map(() => rng.int(maxT));
  return { t, noise: rng.normalArray(batch.images.length) };
}

/**
 * The clean images of `batch` in the network's `range` and the drawn noise,
 * as `[B, size, size, 4]` tensors (the caller's tidy scope owns them).
 *
 * @param batch - the slices.
 * @param draws - from {@link drawNoise}.
 * @param size - the image size.
 * @param range - the network's data range.
 */
export function noisedTensors(batch: SliceBatch, draws: NoiseDraws, size: number, range: DataRange): { x0: tf.Tensor4D; eps: tf.Tensor4D } {
  const x0 = toModelBatch(batch.images, batch.ids.length, size, range);
  return { x0, eps: tf.tensor4d(draws.noise, x0.shape) };
}

/** Options of {@link noisedValidationMean}. */
export interface NoisedValidationOptions extends MeanOverSlicesOptions {
  /** Seed of the draws. */
  seed: number;
  /** Name of the random stream (e.g. `'validation'`). */
  stream: string;
  /** The number of step indices drawn from (the diffusion's T). */
  maxT: number;
  /** The network's data range. */
  range: DataRange;
}

/**
 * The per-slice mean of a score on noised slices, as the validations of the
 * diffusion model and the regressor compute it: for each batch in order,
 * seeded step indices and noise ({@link drawNoise}), then `score` of the
 * clean images, the indices and the noise, which returns the batch's SUM.
 *
 * @param source - the slices.
 * @param options - see {@link NoisedValidationOptions}.
 * @param score - the summed score of a batch (a tensor with one value; computed in a tidy scope).
 */
export function noisedValidationMean(
  source: SliceSource, options: NoisedValidationOptions,
  score: (batch: SliceBatch, x0: tf.Tensor4D, t: number[], eps: tf.Tensor4D) => tf.Tensor,
): Promise<number> {
  const rng = new Rng(options.seed, options.stream);
  return meanOverSlices(source, options, async (b) => {
    const draws = drawNoise(rng, b, options.maxT);
    const sum = tf.tidy(() => {
      const { x0, eps } = noisedTensors(b, draws, source.imageSize, options.range);
      return score(b, x0, draws.t, eps);
    });
    try {
      return (await sum.data())[0] as number; // asynchronous: works on webgpu in Node
    } finally {
      sum.dispose();
    }
  });
}
