/**
 * `tumorcast-train diffusion`: trains the diffusion U-Net with the hybrid
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
import type { CommonTrainConfig, DiffusionProcessKeys } from './schema.js';
import { DATA_RANGE_KEY, DIFFUSION_CONFIG_KEY, UNET_CONFIG_KEY, assertResumable } from './metadata.js';

/** The resolved `diffusion` config. */
export interface DiffusionTrainConfig extends CommonTrainConfig, DiffusionProcessKeys {
  num_channels: number;
  num_res_blocks: number;
  channel_mult: number[];
  attention_resolutions: number[];
  num_heads: number;
  num_head_channels: number;
  learn_sigma: boolean;
  class_cond: boolean;
  use_scale_shift_norm: boolean;
  resblock_updown: boolean;
  dropout: number;
  use_checkpoint: boolean;
  ema_rate: number;
}

/** The U-Net config a diffusion training config describes. */
export function unetConfigOf(c: DiffusionTrainConfig): UNetConfig {
  return {
    imageSize: c.image_size,
    inChannels: 4,
    modelChannels: c.num_channels,
    numResBlocks: c.num_res_blocks,
    attentionResolutions: c.attention_resolutions,
    learnSigma: c.learn_sigma,
    dropout: c.dropout,
    ...(c.channel_mult.length ? { channelMult: c.channel_mult } : {}),
    numClasses: c.class_cond ? 2 : null,
    numHeads: c.num_heads,
    numHeadChannels: c.num_head_channels,
    useScaleShiftNorm: c.use_scale_shift_norm,
    resblockUpdown: c.resblock_updown,
    useCheckpoint: c.use_checkpoint,
  };
}

/**
 * Peak bytes one U-Net training step adds to the weights: the activations
 * and the gradients made so far at the worst point of the backward pass
 * (@tumorcast/unet's estimate, which models checkpointing), AdamW's two
 * moments and the EMA copy of the weights.
 */
export function diffusionStepBytes(c: DiffusionTrainConfig, params: number): number {
  return estimateUNetTrainingMemory(unetConfigOf(c), c.batch_size).peakBytes + 3 * 4 * params;
}

/** Per-image validation MSE of the noise prediction on `source` at seeded timesteps, images in `dataRange` (the network's). */
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

/** The diffusion U-Net and its hybrid loss as {@link TrainHooks}. */
export function diffusionHooks(c: DiffusionTrainConfig): TrainHooks<UNet> {
  const diffusion = createDiffusion({ steps: c.diffusion_steps, schedule: c.noise_schedule, learnSigma: c.learn_sigma });
  return {
    kind: 'diffusion',
    title: 'U-Net',
    requireLabels: { training: c.class_cond, validation: false },
    createNet: () => createUNet(unetConfigOf(c), { seed: c.seed }),
    memory: (net) => ({
      bytes: diffusionStepBytes(c, net.parameterCount),
      what: `a training step of batch ${c.batch_size} at ${c.image_size}x${c.image_size}`,
      hint: `reduce batch_size (--batch-size), image_size or num_channels${c.use_checkpoint ? '' : ', or set use_checkpoint (--use-checkpoint)'}`,
      // The U-Net's estimate is checked against measured peaks (the paper U-Net's step at batch 2 on wasm:
      // 1475 MiB of activations and gradients for 1470 estimated, a heap 9% above its tensors): 10% headroom.
      fraction: 0.9,
    }),
    emaRate: c.ema_rate,
    checkResume: (file) => assertResumable(file, { dataRange: c.data_range }),
    columns: ['loss', 'mse', 'vb', 'val_mse', 'lr'],
    objective: (net, b, rng, step) => {
      const draws = drawNoise(rng, b, diffusion.numTimesteps);
      const dropRng = new Rng(c.seed, `dropout-${step}`);
      return (metrics) => {
        const { x0, eps } = noisedTensors(b, draws, c.image_size, c.data_range);
        const y = c.class_cond ? tf.tensor1d(b.hasTumour, 'int32') : undefined;
        const l = trainingLosses(diffusion, (x, tt, yy) => net.apply(x, tt, yy, { training: true, rng: dropRng }), x0, draws.t, eps, { y });
        metrics['mse'] = l.mse.mean().dataSync()[0] as number;
        if (l.vb) metrics['vb'] = l.vb.mean().dataSync()[0] as number;
        return l.loss.mean() as tf.Scalar;
      };
    },
    evaluate: (net, val) => diffusionValidationMse(net, diffusion, val, c.batch_size, c.seed, 1, c.class_cond, c.data_range).then((v) => ({ val_mse: v })),
    metadata: (net) => ({
      [UNET_CONFIG_KEY]: JSON.stringify(net.config),
      [DIFFUSION_CONFIG_KEY]: JSON.stringify({ steps: c.diffusion_steps, schedule: c.noise_schedule, learnSigma: c.learn_sigma }),
      [DATA_RANGE_KEY]: c.data_range,
    }),
  };
}

/** Runs the command; returns the loop's result. */
export function trainDiffusion(c: DiffusionTrainConfig, log: (m: string) => void): Promise<TrainLoopResult> {
  return runTraining(c, diffusionHooks(c), log);
}
