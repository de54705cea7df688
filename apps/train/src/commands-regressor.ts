/**
 * `tumorcast-train regressor`: trains the tumour-burden regressor on noised
 * slices x_t = q_sample(x0, t) at uniform t (x0 in `data_range`), target =
 * the burden of the clean slice (count(seg>0)/count(t2f!=0)), MSE, AdamW;
 * validation MSE on held-out slices every `eval_interval` steps (the seed's
 * `regressor_test`). `regressor_head` picks the attention-pool head.
 */
import * as tf from '@tensorflow/tfjs';
import { AdamW, Rng, assertFitsMemory } from '@tumorcast/nn';
import { createRegressor } from '@tumorcast/regressor';
import type { Regressor, RegressorConfig, RegressorHead } from '@tumorcast/regressor';
import { createDiffusion, qSample } from '@tumorcast/diffusion';
import type { DataRange, Diffusion } from '@tumorcast/diffusion';
import { CliError } from '@tumorcast/cli';
import { loadCheckpoint, saveCheckpoint } from './checkpoint.js';
import { trainLoop } from './loop.js';
import type { TrainLoopResult } from './loop.js';
import { openSlices, toModelBatch } from './data.js';
import type { SliceSource } from './data.js';
import { resolveResume } from './resume.js';
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
  };
}

/** Mean squared error of the regressor's burden prediction on `source` at seeded timesteps, images in `dataRange` (the network's). */
export async function regressorMse(
  net: Regressor, diffusion: Diffusion, source: SliceSource, batchSize: number, seed: number, perSlice = 1,
  dataRange: DataRange = '[-1,1]',
): Promise<number> {
  const rng = new Rng(seed, 'regressor-validation');
  let sum = 0;
  let n = 0;
  for (let rep = 0; rep < perSlice; rep++) {
    for (let start = 0; start < source.size; start += batchSize) {
      const idx = Array.from({ length: Math.min(batchSize, source.size - start) }, (_, i) => start + i);
      const b = await source.batch(idx);
      const t = idx.map(() => rng.int(diffusion.numTimesteps));
      const noise = rng.normalArray(b.images.length);
      sum += tf.tidy(() => {
        const x0 = toModelBatch(b.images, idx.length, source.imageSize, dataRange);
        const xt = qSample(diffusion, x0, t, tf.tensor4d(noise, x0.shape));
        const pred = net.predict(xt, t);
        return tf.sub(pred, tf.tensor1d(b.burden)).square().sum().dataSync()[0] as number;
      });
      n += idx.length;
    }
  }
  return sum / Math.max(1, n);
}

/** Runs the command; returns the loop's result. */
export async function trainRegressor(c: RegressorTrainConfig, log: (m: string) => void): Promise<TrainLoopResult> {
  const train = await openSlices(c.data_dir, { imageSize: c.image_size, split: 'training', maxSlices: c.max_slices, requireLabels: true });
  const val = c.data_dir_val ? await openSlices(c.data_dir_val, { imageSize: c.image_size, split: 'any', maxSlices: c.max_slices, requireLabels: true }) : undefined;
  log(`training slices: ${train.size}${val ? `, validation slices: ${val.size}` : ''}`);
  const diffusion = createDiffusion({ steps: c.diffusion_steps, schedule: c.noise_schedule, learnSigma: false });
  const net = createRegressor(regressorConfigOf(c), { seed: c.seed });
  // Activations of an encoder are about half a U-Net's.
  const est = 4 * (c.batch_size * 40 * c.image_size * c.image_size * c.regressor_width * (c.regressor_depth + 1) + 4 * net.parameterCount);
  assertFitsMemory(est, `a regressor training step of batch ${c.batch_size} at ${c.image_size}x${c.image_size}`, { hint: 'reduce batch_size (--batch-size) or image_size' });
  const optimizer = new AdamW({ learningRate: c.lr, weightDecay: c.weight_decay });
  const vars = net.params.variables;
  const state = { store: net.params, optimizer };
  const resume = resolveResume(c.resume_checkpoint, c.results_dir);
  let startStep = 0;
  if (resume) {
    assertResumable(resume, { dataRange: c.data_range, head: c.regressor_head });
    startStep = await loadCheckpoint(resume, state);
    log(`resumed from ${resume} at step ${startStep}`);
  }
  log(`regressor parameters: ${net.parameterCount.toLocaleString('en')}`);
  try {
    return await trainLoop({
      label: 'regressor',
      iterations: c.iterations,
      startStep,
      saveInterval: c.save_interval,
      evalInterval: val ? c.eval_interval : 0,
      resultsDir: c.results_dir,
      columns: ['loss', 'val_mse', 'lr'],
      step: async (step) => {
        const rng = new Rng(c.seed, `regressor-step-${step}`);
        const idx = Array.from({ length: c.batch_size }, () => rng.int(train.size));
        const b = await train.batch(idx);
        const tMax = c.max_timestep > 0 ? Math.min(c.max_timestep, diffusion.numTimesteps) : diffusion.numTimesteps;
        const t = idx.map(() => rng.int(tMax));
        const noise = rng.normalArray(b.images.length);
        const loss = optimizer.minimize(() => {
          const x0 = toModelBatch(b.images, idx.length, train.imageSize, c.data_range);
          const xt = qSample(diffusion, x0, t, tf.tensor4d(noise, x0.shape));
          const pred = net.predict(xt, t);
          return tf.losses.meanSquaredError(tf.tensor1d(b.burden), pred) as tf.Scalar;
        }, vars);
        if (!Number.isFinite(loss)) throw new CliError(`the loss became ${loss} at step ${step + 1}; lower the learning rate (--lr)`, 1);
        return { loss, lr: c.lr };
      },
      evaluate: val ? async () => ({ val_mse: await regressorMse(net, diffusion, val, c.batch_size, c.seed, 1, c.data_range) }) : undefined,
      save: (stepsDone) => saveCheckpoint(c.results_dir, stepsDone, state, c as unknown as Record<string, unknown>, 'regressor', {
        [REGRESSOR_CONFIG_KEY]: JSON.stringify(net.config),
        [DIFFUSION_CONFIG_KEY]: JSON.stringify({ steps: c.diffusion_steps, schedule: c.noise_schedule, learnSigma: false }),
        [DATA_RANGE_KEY]: c.data_range,
      }),
    });
  } finally {
    optimizer.dispose();
    net.dispose();
  }
}
