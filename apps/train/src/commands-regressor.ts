/**
 * `tumorcast-train regressor`: trains the tumour-burden regressor on noised
 * slices x_t = q_sample(x0, t) at uniform t (x0 in `data_range`), target =
 * the burden of the clean slice (count(seg>0)/count(t2f!=0)), MSE
 * (`regressorTrainingLoss` of @tumorcast/regressor), AdamW;
 * validation MSE on held-out slices every `eval_interval` steps.
 * `regressor_head` picks the attention-pool head.
 */
import * as tf from '@tensorflow/tfjs';
import { createRegressor, regressorTrainingLoss } from '@tumorcast/regressor';
import type { Regressor, RegressorConfig, RegressorHead } from '@tumorcast/regressor';
import { createDiffusion } from '@tumorcast/diffusion';
import type { DataRange, Diffusion } from '@tumorcast/diffusion';
import type { TrainLoopResult } from './loop.js';
import type { SliceSource } from './data.js';
import { drawNoise, noisedTensors, noisedValidationMean, runTraining } from './train-skeleton.js';
import type { TrainHooks } from './train-skeleton.js';
import type { CommonTrainConfig, DiffusionProcessKeys } from './schema.js';
import { DATA_RANGE_KEY, DIFFUSION_CONFIG_KEY, REGRESSOR_CONFIG_KEY, assertResumable } from './metadata.js';

/** The resolved `regressor` config. */
export interface RegressorTrainConfig extends CommonTrainConfig, DiffusionProcessKeys {
  regressor_width: number;
  regressor_depth: number;
  regressor_channel_mult: number[];
  regressor_attention_resolutions: number[];
  regressor_num_head_channels: number;
  regressor_use_scale_shift_norm: boolean;
  regressor_resblock_updown: boolean;
  regressor_pool: 'attention';
  regressor_head: RegressorHead;
  regressor_use_checkpoint: boolean;
  max_timestep: number;
}

/** The regressor config a training config describes. */
export function regressorConfigOf(c: RegressorTrainConfig): RegressorConfig {
  return {
    imageSize: c.image_size,
    inChannels: 4,
    modelChannels: c.regressor_width,
    outChannels: 1,
    numResBlocks: c.regressor_depth,
    attentionResolutions: c.regressor_attention_resolutions,
    ...(c.regressor_channel_mult.length ? { channelMult: c.regressor_channel_mult } : {}),
    numHeadChannels: c.regressor_num_head_channels,
    useScaleShiftNorm: c.regressor_use_scale_shift_norm,
    resblockUpdown: c.regressor_resblock_updown,
    pool: c.regressor_pool,
    head: c.regressor_head,
    useCheckpoint: c.regressor_use_checkpoint,
  };
}

/**
 * Rough peak bytes one regressor training step adds to the weights: the
 * activations, per image k * size^2 * width * (depth + 1) floats, and the
 * gradients and AdamW's moments. k is twice what was measured on wasm for
 * the paper regressor (about 20 without checkpointing at 128x128, batch 2;
 * about 2 with it at 256x256, batches 2 and 4).
 */
export function regressorStepBytes(c: RegressorTrainConfig, params: number): number {
  const k = c.regressor_use_checkpoint ? 4 : 40;
  return 4 * (c.batch_size * k * c.image_size * c.image_size * c.regressor_width * (c.regressor_depth + 1) + 4 * params);
}

/** Mean squared error of the regressor's burden prediction on `source` at seeded timesteps, images in `dataRange` (the network's). */
export function regressorMse(
  net: Regressor, diffusion: Diffusion, source: SliceSource, batchSize: number, seed: number, perSlice = 1,
  dataRange: DataRange = '[-1,1]',
): Promise<number> {
  const options = { batchSize, passes: perSlice, seed, stream: 'regressor-validation', maxT: diffusion.numTimesteps, range: dataRange };
  return noisedValidationMean(source, options, (b, x0, t, eps) => regressorTrainingLoss(diffusion, net, x0, t, eps, b.burden).loss.sum());
}

/** The burden regressor and its loss on noised slices as {@link TrainHooks}. */
export function regressorHooks(c: RegressorTrainConfig): TrainHooks<Regressor> {
  const diffusion = createDiffusion({ steps: c.diffusion_steps, schedule: c.noise_schedule, learnSigma: false });
  const tMax = c.max_timestep > 0 ? Math.min(c.max_timestep, diffusion.numTimesteps) : diffusion.numTimesteps;
  return {
    kind: 'regressor',
    title: 'regressor',
    requireLabels: { training: true, validation: true },
    createNet: () => createRegressor(regressorConfigOf(c), { seed: c.seed }),
    memory: (net) => ({
      bytes: regressorStepBytes(c, net.parameterCount),
      what: `a regressor training step of batch ${c.batch_size} at ${c.image_size}x${c.image_size}`,
      hint: `reduce batch_size (--batch-size) or image_size${c.regressor_use_checkpoint ? '' : ', or set regressor_use_checkpoint (--regressor-use-checkpoint)'}`,
    }),
    checkResume: (file) => assertResumable(file, { dataRange: c.data_range, head: c.regressor_head }),
    columns: ['loss', 'val_mse', 'lr'],
    objective: (net, b, rng) => {
      const draws = drawNoise(rng, b, tMax);
      return () => {
        const { x0, eps } = noisedTensors(b, draws, c.image_size, c.data_range);
        return regressorTrainingLoss(diffusion, net, x0, draws.t, eps, b.burden).loss.mean() as tf.Scalar;
      };
    },
    evaluate: (net, val) => regressorMse(net, diffusion, val, c.batch_size, c.seed, 1, c.data_range).then((v) => ({ val_mse: v })),
    metadata: (net) => ({
      [REGRESSOR_CONFIG_KEY]: JSON.stringify(net.config),
      [DIFFUSION_CONFIG_KEY]: JSON.stringify({ steps: c.diffusion_steps, schedule: c.noise_schedule, learnSigma: false }),
      [DATA_RANGE_KEY]: c.data_range,
    }),
  };
}

/** Runs the command; returns the loop's result. */
export function trainRegressor(c: RegressorTrainConfig, log: (m: string) => void): Promise<TrainLoopResult> {
  return runTraining(c, regressorHooks(c), log);
}
