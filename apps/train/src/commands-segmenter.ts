/**
 * `tumorcast-train segmenter`: trains the learned tumour segmenter (a U-Net
 * without time embedding, @tumorcast/segmenter) on `seg > 0` with soft Dice +
 * binary cross-entropy; validation Dice every `eval_interval` steps. The
 * checkpoint files load with `loadSegmenter` and plug into growth
 * probability maps.
 */
import * as tf from '@tensorflow/tfjs';
import { createSegmenterNet, diceScore, segmentationLoss } from '@tumorcast/segmenter';
import type { SegmenterNet } from '@tumorcast/segmenter';
import type { TrainLoopResult } from './loop.js';
import type { SliceSource } from './data.js';
import { meanOverSlices, runTraining } from './train-skeleton.js';
import type { TrainHooks } from './train-skeleton.js';
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
export function segmenterDice(net: SegmenterNet, source: SliceSource, batchSize: number): Promise<number> {
  const s = source.imageSize;
  return meanOverSlices(source, { batchSize }, (b, idx) => {
    const scores = tf.tidy(() => {
      const probs = net.predictProbabilities(tf.tensor4d(b.images, [idx.length, s, s, 4]));
      return diceScore(probs, tf.tensor4d(b.masks, [idx.length, s, s, 1]));
    });
    return scores.reduce((a, v) => a + v, 0);
  });
}

/** The segmentation U-Net and its Dice + BCE loss as {@link TrainHooks}. */
export function segmenterHooks(c: SegmenterTrainConfig): TrainHooks<SegmenterNet> {
  const s = c.image_size;
  return {
    kind: 'segmenter',
    title: 'segmenter',
    requireLabels: { training: true, validation: true },
    createNet: () => createSegmenterNet(
      { imageSize: c.image_size, inChannels: 4, baseChannels: c.base_channels, channelMult: c.channel_mult, numResBlocks: c.num_res_blocks },
      { seed: c.seed },
    ),
    memory: (net) => ({
      bytes: 4 * (c.batch_size * 16 * c.image_size * c.image_size * c.base_channels * (c.num_res_blocks + 1) + 4 * net.parameterCount),
      what: `a segmenter training step of batch ${c.batch_size} at ${c.image_size}x${c.image_size}`,
      hint: 'reduce batch_size (--batch-size) or image_size',
    }),
    columns: ['loss', 'val_dice', 'lr'],
    // the step's stream goes on as the dropout masks
    objective: (net, b, rng) => () => {
      const n = b.ids.length;
      const logits = net.apply(tf.tensor4d(b.images, [n, s, s, 4]), { training: true, rng });
      return segmentationLoss(logits, tf.tensor4d(b.masks, [n, s, s, 1]), { diceWeight: c.dice_weight, bceWeight: c.bce_weight });
    },
    evaluate: (net, val) => segmenterDice(net, val, c.batch_size).then((v) => ({ val_dice: v })),
    metadata: (net) => ({ [SEGMENTER_CONFIG_KEY]: JSON.stringify(net.config) }),
  };
}

/** Runs the command; returns the loop's result. */
export function trainSegmenter(c: SegmenterTrainConfig, log: (m: string) => void): Promise<TrainLoopResult> {
  return runTraining(c, segmenterHooks(c), log);
}
