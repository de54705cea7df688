/**
 * `tumorcast-train diffusion`: trains the diffusion U-Net with the hybrid
 * loss (MSE on the noise + the variational bound for the learned variance),
 * class label = slice has tumour, AdamW, EMA, uniform timesteps.
 */
import * as tf from '@tensorflow/tfjs';
import { AdamW, ExponentialMovingAverage, Rng, assertFitsMemory } from '@tumorcast/nn';
import { createUNet } from '@tumorcast/unet';
import type { UNet, UNetConfig } from '@tumorcast/unet';
import { createDiffusion, trainingLosses } from '@tumorcast/diffusion';
import type { DataRange, Diffusion } from '@tumorcast/diffusion';
import { CliError } from '@tumorcast/cli';
import { loadCheckpoint, saveCheckpoint } from './checkpoint.js';
import { trainLoop } from './loop.js';
import type { TrainLoopResult } from './loop.js';
import { openSlices, toModelBatch } from './data.js';
import type { SliceSource } from './data.js';
import { resolveResume } from './resume.js';
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
  };
}

/** Rough peak bytes of one U-Net training step (activations kept for backprop). */
export function diffusionStepBytes(c: DiffusionTrainConfig, params: number): number {
  const mult = c.channel_mult.length ? c.channel_mult : [1, 1, 2, 2, 4, 4];
  let act = 0;
  let res = c.image_size;
  for (const m of mult) {
    // Per level and block: a handful of feature maps (norm, act, conv outputs) on the way down and up.
    act += 2 * (c.num_res_blocks + 1) * 8 * res * res * c.num_channels * m;
    res = Math.max(1, Math.floor(res / 2));
  }
  return 4 * (c.batch_size * act + 4 * params);
}

/** Per-image validation MSE of the noise prediction on `source` at seeded timesteps, images in `dataRange` (the network's). */
export function diffusionValidationMse(
  net: UNet, diffusion: Diffusion, source: SliceSource, batchSize: number, seed: number, perSlice = 1, classCond = true,
  dataRange: DataRange = '[-1,1]',
): Promise<number> {
  return (async () => {
    const rng = new Rng(seed, 'validation');
    let sum = 0;
    let n = 0;
    for (let rep = 0; rep < perSlice; rep++) {
      for (let start = 0; start < source.size; start += batchSize) {
        const idx = Array.from({ length: Math.min(batchSize, source.size - start) }, (_, i) => start + i);
        const b = await source.batch(idx);
        const t = idx.map(() => rng.int(diffusion.numTimesteps));
        const noise = rng.normalArray(b.images.length);
        const value = tf.tidy(() => {
          const x0 = toModelBatch(b.images, idx.length, source.imageSize, dataRange);
          const eps = tf.tensor4d(noise, x0.shape);
          const y = classCond ? tf.tensor1d(b.hasTumour, 'int32') : undefined;
          const l = trainingLosses(diffusion, (x, tt, yy) => net.apply(x, tt, yy), x0, t, eps, { y });
          return l.mse.sum().dataSync()[0] as number;
        });
        sum += value;
        n += idx.length;
      }
    }
    return sum / Math.max(1, n);
  })();
}

/** Runs the command; returns the loop's result. */
export async function trainDiffusion(c: DiffusionTrainConfig, log: (m: string) => void): Promise<TrainLoopResult> {
  const train = await openSlices(c.data_dir, { imageSize: c.image_size, split: 'training', maxSlices: c.max_slices, requireLabels: c.class_cond });
  const val = c.data_dir_val ? await openSlices(c.data_dir_val, { imageSize: c.image_size, split: 'any', maxSlices: c.max_slices, requireLabels: false }) : undefined;
  log(`training slices: ${train.size}${val ? `, validation slices: ${val.size}` : ''}`);
  const diffusion = createDiffusion({ steps: c.diffusion_steps, schedule: c.noise_schedule, learnSigma: c.learn_sigma });
  const net = createUNet(unetConfigOf(c), { seed: c.seed });
  assertFitsMemory(diffusionStepBytes(c, net.parameterCount), `a training step of batch ${c.batch_size} at ${c.image_size}x${c.image_size}`, { hint: 'reduce batch_size (--batch-size), image_size or num_channels' });
  const optimizer = new AdamW({ learningRate: c.lr, weightDecay: c.weight_decay });
  const vars = net.params.variables;
  const ema = new ExponentialMovingAverage(vars, c.ema_rate);
  const state = { store: net.params, optimizer, ema };
  const resume = resolveResume(c.resume_checkpoint, c.results_dir);
  let startStep = 0;
  if (resume) {
    assertResumable(resume, { dataRange: c.data_range });
    startStep = await loadCheckpoint(resume, state);
    log(`resumed from ${resume} at step ${startStep}`);
  }
  log(`U-Net parameters: ${net.parameterCount.toLocaleString('en')}`);
  try {
    return await trainLoop({
      label: 'diffusion',
      iterations: c.iterations,
      startStep,
      saveInterval: c.save_interval,
      evalInterval: val ? c.eval_interval : 0,
      resultsDir: c.results_dir,
      columns: ['loss', 'mse', 'vb', 'val_mse', 'lr'],
      step: async (step) => {
        // Every random choice of step k comes from (seed, k): a resumed run repeats it exactly.
        const rng = new Rng(c.seed, `diffusion-step-${step}`);
        const idx = Array.from({ length: c.batch_size }, () => rng.int(train.size));
        const b = await train.batch(idx);
        const t = idx.map(() => rng.int(diffusion.numTimesteps));
        const noise = rng.normalArray(b.images.length);
        const dropRng = new Rng(c.seed, `dropout-${step}`);
        let mse = 0;
        let vb = 0;
        const loss = optimizer.minimize(() => {
          const x0 = toModelBatch(b.images, idx.length, train.imageSize, c.data_range);
          const eps = tf.tensor4d(noise, x0.shape);
          const y = c.class_cond ? tf.tensor1d(b.hasTumour, 'int32') : undefined;
          const l = trainingLosses(diffusion, (x, tt, yy) => net.apply(x, tt, yy, { training: true, rng: dropRng }), x0, t, eps, { y });
          mse = l.mse.mean().dataSync()[0] as number;
          vb = l.vb ? (l.vb.mean().dataSync()[0] as number) : 0;
          return l.loss.mean() as tf.Scalar;
        }, vars);
        ema.update(vars);
        if (!Number.isFinite(loss)) throw new CliError(`the loss became ${loss} at step ${step + 1}; lower the learning rate (--lr)`, 1);
        const metrics: Record<string, number> = { loss, mse, lr: c.lr };
        if (c.learn_sigma) metrics['vb'] = vb;
        return metrics;
      },
      evaluate: val ? async () => ({ val_mse: await diffusionValidationMse(net, diffusion, val, c.batch_size, c.seed, 1, c.class_cond, c.data_range) }) : undefined,
      save: (stepsDone) => saveCheckpoint(c.results_dir, stepsDone, state, c as unknown as Record<string, unknown>, 'diffusion', {
        [UNET_CONFIG_KEY]: JSON.stringify(net.config),
        [DIFFUSION_CONFIG_KEY]: JSON.stringify({ steps: c.diffusion_steps, schedule: c.noise_schedule, learnSigma: c.learn_sigma }),
        [DATA_RANGE_KEY]: c.data_range,
      }),
    });
  } finally {
    ema.dispose();
    optimizer.dispose();
    net.dispose();
  }
}
