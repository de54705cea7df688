/**
 * The diffusion U-Net's training: trains the diffusion U-Net with the hybrid
 * loss (MSE on the noise + the variational bound for the learned variance),
 * class label = slice has tumour, AdamW, EMA, uniform timesteps.
 */
import * as tf from '@tensorflow/tfjs';
import { Rng } from '@tumorcast/random';
import { createUNet, estimateUNetTrainingMemory } from '@tumorcast/unet';
import type { UNet, UNetConfig } from '@tumorcast/unet';
import { createDiffusion, trainingLosses } from '@tumorcast/diffusion';
import type { DataRange, Diffusion } from '@tumorcast/diffusion';
import type { TrainLoopResult } from './loop.js';
import type { SliceSource } from './data.js';
import { drawNoise, noisedTensors, noisedValidationMean, runTraining } from './train-skeleton.js';
import type { TrainHooks } from './train-skeleton.js';
import { TRAINING_DEFAULTS, checkNumber, resolveDiffusionProcess, resolveTrainingOptions, withDefaults } from './options.js';
import type { DiffusionProcessOptions, Resolved, ResolvedDiffusionProcess, ResolvedTrainingOptions, TrainingOptions } from './options.js';
import { DATA_RANGE_KEY, DIFFUSION_CONFIG_KEY, UNET_CONFIG_KEY, assertResumable } from './metadata.js';

/** The diffusion U-Net's shape (guided-diffusion's `UNetModel` options). */
export interface DiffusionNetworkOptions {
  /** Network input size. @defaultValue 256 */
  imageSize?: number;
  /** Base channels (a multiple of 32). @defaultValue 128 */
  numChannels?: number;
  /** Residual blocks per level. @defaultValue 2 */
  numResBlocks?: number;
  /** Channel multiplier per level (empty: guided-diffusion's default for the size). @defaultValue [] */
  channelMult?: readonly number[];
  /** Feature-map sizes with attention. @defaultValue [16] */
  attentionResolutions?: readonly number[];
  /** Attention heads. @defaultValue 1 */
  numHeads?: number;
  /** Channels per head (-1: use `numHeads`). @defaultValue -1 */
  numHeadChannels?: number;
  /** Learn the variance (hybrid loss, 8 output channels). @defaultValue true */
  learnSigma?: boolean;
  /** Condition on slice-has-tumour (2 classes). @defaultValue true */
  classCond?: boolean;
  /** Scale-shift norm in the residual blocks. @defaultValue false */
  useScaleShiftNorm?: boolean;
  /** Residual up/down-sampling blocks. @defaultValue false */
  resblockUpdown?: boolean;
  /** Dropout rate. @defaultValue 0 */
  dropout?: number;
  /** Gradient checkpointing of every block (same gradients, far less memory, about a third more time). @defaultValue false */
  useCheckpoint?: boolean;
}

/** Options of {@link trainDiffusion}. */
export interface DiffusionTrainingOptions extends TrainingOptions, DiffusionProcessOptions, DiffusionNetworkOptions {
  /** EMA rate of the weights (an `emaNNNNNN.safetensors` beside each checkpoint). @defaultValue 0.9999 */
  emaRate?: number;
}

/** The defaults of {@link DiffusionNetworkOptions} and {@link DiffusionTrainingOptions}' own keys. */
export const DIFFUSION_TRAINING_DEFAULTS = {
  numChannels: 128,
  numResBlocks: 2,
  channelMult: [] as readonly number[],
  attentionResolutions: [16] as readonly number[],
  numHeads: 1,
  numHeadChannels: -1,
  learnSigma: true,
  classCond: true,
  useScaleShiftNorm: false,
  resblockUpdown: false,
  dropout: 0,
  useCheckpoint: false,
  emaRate: 0.9999,
};

/** {@link DiffusionTrainingOptions} after the defaults. */
export type ResolvedDiffusionTrainingOptions = ResolvedTrainingOptions & ResolvedDiffusionProcess
  & Resolved<Omit<DiffusionTrainingOptions, keyof TrainingOptions | keyof DiffusionProcessOptions>, keyof typeof DIFFUSION_TRAINING_DEFAULTS>;

/** The network options after the defaults, checked. */
function resolveNetwork(options: DiffusionNetworkOptions & { emaRate?: number }): Resolved<DiffusionNetworkOptions & { emaRate?: number }, keyof typeof DIFFUSION_TRAINING_DEFAULTS | 'imageSize'> {
  const o = withDefaults(withDefaults(options, DIFFUSION_TRAINING_DEFAULTS), { imageSize: TRAINING_DEFAULTS.imageSize });
  checkNumber('imageSize', o.imageSize, { integer: true, min: 8 });
  checkNumber('numChannels', o.numChannels, { integer: true, min: 32 });
  checkNumber('numResBlocks', o.numResBlocks, { integer: true, min: 1 });
  checkNumber('numHeads', o.numHeads, { integer: true, min: 1 });
  checkNumber('numHeadChannels', o.numHeadChannels, { integer: true, min: -1 });
  checkNumber('dropout', o.dropout, { min: 0, max: 1 });
  checkNumber('emaRate', o.emaRate, { min: 0, max: 0.999999 });
  return o;
}

/**
 * The options of a diffusion training run with the defaults filled in,
 * checked (each problem names the option).
 *
 * @param options - see {@link DiffusionTrainingOptions}.
 */
export function resolveDiffusionTrainingOptions(options: DiffusionTrainingOptions): ResolvedDiffusionTrainingOptions {
  return { ...resolveTrainingOptions(options), ...resolveDiffusionProcess(options), ...resolveNetwork(options) };
}

/**
 * The U-Net config the options describe (4 input channels; the defaults of
 * {@link DiffusionNetworkOptions} for keys not given).
 *
 * @param options - the network's shape.
 */
export function unetConfigOf(options: DiffusionNetworkOptions): UNetConfig {
  const c = resolveNetwork(options);
  return {
    imageSize: c.imageSize,
    inChannels: 4,
    modelChannels: c.numChannels,
    numResBlocks: c.numResBlocks,
    attentionResolutions: [...c.attentionResolutions],
    learnSigma: c.learnSigma,
    dropout: c.dropout,
    ...(c.channelMult.length ? { channelMult: [...c.channelMult] } : {}),
    numClasses: c.classCond ? 2 : null,
    numHeads: c.numHeads,
    numHeadChannels: c.numHeadChannels,
    useScaleShiftNorm: c.useScaleShiftNorm,
    resblockUpdown: c.resblockUpdown,
    useCheckpoint: c.useCheckpoint,
  };
}

/**
 * Peak bytes one U-Net training step adds to the weights: the activations
 * and the gradients made so far at the worst point of the backward pass
 * (@tumorcast/unet's estimate, which models checkpointing), AdamW's two
 * moments and the EMA copy of the weights.
 *
 * @param c - the network's shape and the batch size.
 * @param params - the network's parameter count.
 */
export function diffusionStepBytes(c: DiffusionNetworkOptions & { batchSize?: number }, params: number): number {
  return estimateUNetTrainingMemory(unetConfigOf(c), c.batchSize ?? TRAINING_DEFAULTS.batchSize).peakBytes + 3 * 4 * params;
}

/**
 * Per-image validation MSE of the noise prediction on `source` at seeded
 * timesteps (the stream `validation` of `seed`), images in `dataRange` (the network's).
 *
 * @param net - the U-Net.
 * @param diffusion - its diffusion process.
 * @param source - the slices.
 * @param batchSize - slices per batch.
 * @param seed - seed of the timesteps and the noise.
 * @param perSlice - noise levels per slice.
 * @param classCond - whether the U-Net takes the slice-has-tumour label.
 * @param dataRange - the network's data range.
 */
export function diffusionValidationMse(
  net: UNet, diffusion: Diffusion, source: SliceSource, batchSize: number, seed: number, perSlice = 1, classCond = true,
  dataRange: DataRange = '[-1,1]',
): Promise<number> {
  const options = { batchSize, passes: perSlice, seed, stream: 'validation', maxT: diffusion.numTimesteps, range: dataRange };
  return noisedValidationMean(source, options, (b, x0, t, eps) => {
    const y = classCond ? tf.tensor1d(b.hasTumour, 'int32') : undefined;
    return trainingLosses(diffusion, (x, tt, yy) => net.apply(x, tt, yy), x0, t, eps, { y }).mse.sum();
  });
}

/**
 * The diffusion U-Net and its hybrid loss as {@link TrainHooks}, for
 * {@link runTraining}.
 *
 * @param options - see {@link DiffusionTrainingOptions}.
 */
export function diffusionHooks(options: DiffusionTrainingOptions): TrainHooks<UNet> {
  const c = resolveDiffusionTrainingOptions(options);
  const diffusion = createDiffusion({ steps: c.diffusionSteps, schedule: c.noiseSchedule, learnSigma: c.learnSigma });
  return {
    kind: 'diffusion',
    title: 'U-Net',
    requireLabels: { training: c.classCond, validation: false },
    createNet: () => createUNet(unetConfigOf(c), { seed: c.seed }),
    memory: (net) => ({
      bytes: diffusionStepBytes(c, net.parameterCount),
      what: `a training step of batch ${c.batchSize} at ${c.imageSize}x${c.imageSize}`,
      hint: `reduce batch_size (--batch-size), image_size or num_channels${c.useCheckpoint ? '' : ', or set use_checkpoint (--use-checkpoint)'}`,
      // The U-Net's estimate is checked against measured peaks (the paper U-Net's step at batch 2 on wasm:
      // 1475 MiB of activations and gradients for 1470 estimated, a heap 9% above its tensors): 10% headroom.
      fraction: 0.9,
    }),
    emaRate: c.emaRate,
    checkResume: (file) => assertResumable(file, { dataRange: c.dataRange }),
    columns: ['loss', 'mse', 'vb', 'val_mse', 'lr'],
    objective: (net, b, rng, step) => {
      const draws = drawNoise(rng, b, diffusion.numTimesteps);
      const dropRng = new Rng(c.seed, `dropout-${step}`);
      return (metrics) => {
        const { x0, eps } = noisedTensors(b, draws, c.imageSize, c.dataRange);
        const y = c.classCond ? tf.tensor1d(b.hasTumour, 'int32') : undefined;
        const l = trainingLosses(diffusion, (x, tt, yy) => net.apply(x, tt, yy, { training: true, rng: dropRng }), x0, draws.t, eps, { y });
        // Kept unread (the training step reads them asynchronously after the update).
        metrics['mse'] = tf.keep(l.mse.mean() as tf.Scalar);
        if (l.vb) metrics['vb'] = tf.keep(l.vb.mean() as tf.Scalar);
        return l.loss.mean() as tf.Scalar;
      };
    },
    evaluate: (net, val) => diffusionValidationMse(net, diffusion, val, c.batchSize, c.seed, 1, c.classCond, c.dataRange).then((v) => ({ val_mse: v })),
    metadata: (net) => ({
      [UNET_CONFIG_KEY]: JSON.stringify(net.config),
      [DIFFUSION_CONFIG_KEY]: JSON.stringify({ steps: c.diffusionSteps, schedule: c.noiseSchedule, learnSigma: c.learnSigma }),
      [DATA_RANGE_KEY]: c.dataRange,
    }),
  };
}

/**
 * Trains the diffusion U-Net with the hybrid loss (MSE on the noise + the
 * variational bound for the learned variance), class label = slice has
 * tumour, AdamW, EMA and uniform timesteps. The checkpoints carry the U-Net
 * config in their metadata, so `loadModels` of @tumorcast/pipeline and
 * `tumorcast-predict` load them as they are.
 *
 * @param options - see {@link DiffusionTrainingOptions}.
 * @returns what the loop did (steps, whether a signal stopped it, the last checkpoint).
 */
export function trainDiffusion(options: DiffusionTrainingOptions): Promise<TrainLoopResult> {
  return runTraining(options, diffusionHooks(options));
}
