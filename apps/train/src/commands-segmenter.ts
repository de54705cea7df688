/**
 * `tumorcast-train segmenter`: trains the learned tumour segmenter (a U-Net
 * without time embedding, @tumorcast/segmenter) on `seg > 0` with soft Dice +
 * binary cross-entropy; validation Dice every `eval_interval` steps. The
 * checkpoint files load with `loadSegmenter` and plug into growth
 * probability maps.
 */
import * as tf from '@tensorflow/tfjs';
import { AdamW, Rng, assertFitsMemory } from '@tumorcast/nn';
import { createSegmenterNet, diceScore, segmentationLoss } from '@tumorcast/segmenter';
import type { SegmenterNet } from '@tumorcast/segmenter';
import { CliError } from '@tumorcast/cli';
import { loadCheckpoint, saveCheckpoint } from './checkpoint.js';
import { trainLoop } from './loop.js';
import type { TrainLoopResult } from './loop.js';
import { openSlices } from './data.js';
import type { SliceSource } from './data.js';
import { resolveResume } from './resume.js';
import type { CommonTrainConfig } from './schema.js';
import { SEGMENTER_CONFIG_KEY } from './metadata.js';

/** The resolved `segmenter` config. */
export interface SegmenterTrainConfig extends CommonTrainConfig {
  base_channels: number;
  channel_mult: number[];
  num_res_blocks: number;
  dice_weight: number;
  bce_weight: number;
}

/** Mean Dice (threshold 0.5) of the segmenter on `source`. */
export async function segmenterDice(net: SegmenterNet, source: SliceSource, batchSize: number): Promise<number> {
  let sum = 0;
  for (let start = 0; start < source.size; start += batchSize) {
    const idx = Array.from({ length: Math.min(batchSize, source.size - start) }, (_, i) => start + i);
    const b = await source.batch(idx);
    const s = source.imageSize;
    const scores = tf.tidy(() => {
      const probs = net.predictProbabilities(tf.tensor4d(b.images, [idx.length, s, s, 4]));
      return diceScore(probs, tf.tensor4d(b.masks, [idx.length, s, s, 1]));
    });
    sum += scores.reduce((a, v) => a + v, 0);
  }
  return sum / Math.max(1, source.size);
}

/** Runs the command; returns the loop's result. */
export async function trainSegmenter(c: SegmenterTrainConfig, log: (m: string) => void): Promise<TrainLoopResult> {
  const train = await openSlices(c.data_dir, { imageSize: c.image_size, split: 'training', maxSlices: c.max_slices, requireLabels: true });
  const val = c.data_dir_val ? await openSlices(c.data_dir_val, { imageSize: c.image_size, split: 'any', maxSlices: c.max_slices, requireLabels: true }) : undefined;
  log(`training slices: ${train.size}${val ? `, validation slices: ${val.size}` : ''}`);
  const net = createSegmenterNet(
    { imageSize: c.image_size, inChannels: 4, baseChannels: c.base_channels, channelMult: c.channel_mult, numResBlocks: c.num_res_blocks },
    { seed: c.seed },
  );
  const est = 4 * (c.batch_size * 16 * c.image_size * c.image_size * c.base_channels * (c.num_res_blocks + 1) + 4 * net.parameterCount);
  assertFitsMemory(est, `a segmenter training step of batch ${c.batch_size} at ${c.image_size}x${c.image_size}`, { hint: 'reduce batch_size (--batch-size) or image_size' });
  const optimizer = new AdamW({ learningRate: c.lr, weightDecay: c.weight_decay });
  const vars = net.params.variables;
  const state = { store: net.params, optimizer };
  const resume = resolveResume(c.resume_checkpoint, c.results_dir);
  let startStep = 0;
  if (resume) {
    startStep = await loadCheckpoint(resume, state);
    log(`resumed from ${resume} at step ${startStep}`);
  }
  log(`segmenter parameters: ${net.parameterCount.toLocaleString('en')}`);
  const s = c.image_size;
  try {
    return await trainLoop({
      label: 'segmenter',
      iterations: c.iterations,
      startStep,
      saveInterval: c.save_interval,
      evalInterval: val ? c.eval_interval : 0,
      resultsDir: c.results_dir,
      columns: ['loss', 'val_dice', 'lr'],
      step: async (step) => {
        const rng = new Rng(c.seed, `segmenter-step-${step}`);
        const idx = Array.from({ length: c.batch_size }, () => rng.int(train.size));
        const b = await train.batch(idx);
        const loss = optimizer.minimize(() => {
          const logits = net.apply(tf.tensor4d(b.images, [idx.length, s, s, 4]), { training: true, rng });
          return segmentationLoss(logits, tf.tensor4d(b.masks, [idx.length, s, s, 1]), { diceWeight: c.dice_weight, bceWeight: c.bce_weight });
        }, vars);
        if (!Number.isFinite(loss)) throw new CliError(`the loss became ${loss} at step ${step + 1}; lower the learning rate (--lr)`, 1);
        return { loss, lr: c.lr };
      },
      evaluate: val ? async () => ({ val_dice: await segmenterDice(net, val, c.batch_size) }) : undefined,
      save: (stepsDone) => saveCheckpoint(c.results_dir, stepsDone, state, c as unknown as Record<string, unknown>, 'segmenter', {
        [SEGMENTER_CONFIG_KEY]: JSON.stringify(net.config),
      }),
    });
  } finally {
    optimizer.dispose();
    net.dispose();
  }
}
