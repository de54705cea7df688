/**
 * The segmenter's training: the learned tumour segmenter (a U-Net
 * without time embedding, @tumorcast/segmenter) on `seg > 0` (or the fraction
 * of each pixel that is tumour, `softLabels`) with soft Dice +
 * binary cross-entropy; validation Dice every `evalInterval` steps. The
 * checkpoint files load with `loadSegmenter` and plug into growth
 * probability maps.
 */
import * as tf from '@tensorflow/tfjs';
import { createSegmenterNet, diceScoreAsync, segmentationLoss } from '@tumorcast/segmenter';
import type { SegmenterNet } from '@tumorcast/segmenter';
import type { TrainLoopResult } from './loop.js';
import type { SliceSource } from './data.js';
import { meanOverSlices, runTraining } from './train-skeleton.js';
import type { TrainHooks } from './train-skeleton.js';
import { checkNumber, resolveTrainingOptions, withDefaults } from './options.js';
import type { Resolved, ResolvedTrainingOptions, TrainingOptions } from './options.js';
import { SEGMENTER_CONFIG_KEY } from './metadata.js';

/** Options of {@link trainSegmenter}. */
export interface SegmenterTrainingOptions extends TrainingOptions {
  /** Base channels (a multiple of 32). @defaultValue 32 */
  baseChannels?: number;
  /** Channel multiplier per level. @defaultValue [1, 2, 2] */
  channelMult?: readonly number[];
  /** Conv blocks per level. @defaultValue 1 */
  numResBlocks?: number;
  /** Weight of the soft Dice loss. @defaultValue 1 */
  diceWeight?: number;
  /** Weight of the binary cross-entropy. @defaultValue 1 */
  bceWeight?: number;
  /**
   * Train on the fraction of each pixel that is tumour (the label resized
   * as the image is, before its 0.5 threshold) instead of the binary label.
   * At a grid coarser than the label (64x64 for 240x240 slices) the net
   * then learns where the border lies within a pixel, and a probability map
   * brought back to the native grid (bilinear, >= 0.5) places the border to
   * a fraction of a pixel. Validation Dice still thresholds the targets.
   * @defaultValue false
   */
  softLabels?: boolean;
}

/** The defaults of {@link SegmenterTrainingOptions}' own keys. */
export const SEGMENTER_TRAINING_DEFAULTS = {
  baseChannels: 32,
  channelMult: [1, 2, 2] as readonly number[],
  numResBlocks: 1,
  diceWeight: 1,
  bceWeight: 1,
  softLabels: false,
};

/** {@link SegmenterTrainingOptions} after the defaults. */
export type ResolvedSegmenterTrainingOptions = ResolvedTrainingOptions
  & Resolved<Omit<SegmenterTrainingOptions, keyof TrainingOptions>, keyof typeof SEGMENTER_TRAINING_DEFAULTS>;

/**
 * The options of a segmenter training run with the defaults filled in,
 * checked (each problem names the option).
 *
 * @param options - see {@link SegmenterTrainingOptions}.
 */
export function resolveSegmenterTrainingOptions(options: SegmenterTrainingOptions): ResolvedSegmenterTrainingOptions {
  const o = withDefaults({ ...options, ...resolveTrainingOptions(options) }, SEGMENTER_TRAINING_DEFAULTS);
  checkNumber('baseChannels', o.baseChannels, { integer: true, min: 32 });
  checkNumber('numResBlocks', o.numResBlocks, { integer: true, min: 1 });
  checkNumber('diceWeight', o.diceWeight, { min: 0 });
  checkNumber('bceWeight', o.bceWeight, { min: 0 });
  if (typeof o.softLabels !== 'boolean') throw new RangeError(`'softLabels' must be true or false, got ${JSON.stringify(o.softLabels)}`);
  return o;
}

/**
 * Mean Dice (threshold 0.5) of the segmenter on `source`.
 *
 * @param net - the segmenter.
 * @param source - the slices (with segmentations).
 * @param batchSize - slices per batch.
 */
export function segmenterDice(net: SegmenterNet, source: SliceSource, batchSize: number): Promise<number> {
  const s = source.imageSize;
  return meanOverSlices(source, { batchSize }, async (b, idx) => {
    const [probs, masks] = tf.tidy(() => [
      net.predictProbabilities(tf.tensor4d(b.images, [idx.length, s, s, 4])),
      tf.tensor4d(b.masks, [idx.length, s, s, 1]),
    ]);
    try {
      const scores = await diceScoreAsync(probs as tf.Tensor4D, masks as tf.Tensor4D); // asynchronous: works on webgpu in Node
      return scores.reduce((a, v) => a + v, 0);
    } finally {
      tf.dispose([probs, masks]);
    }
  });
}

/**
 * The segmentation U-Net and its Dice + BCE loss as {@link TrainHooks}, for
 * {@link runTraining}.
 *
 * @param options - see {@link SegmenterTrainingOptions}.
 */
export function segmenterHooks(options: SegmenterTrainingOptions): TrainHooks<SegmenterNet> {
  const c = resolveSegmenterTrainingOptions(options);
  const s = c.imageSize;
  return {
    kind: 'segmenter',
    title: 'segmenter',
    requireLabels: { training: true, validation: true },
    labelFraction: c.softLabels,
    createNet: () => createSegmenterNet(
      { imageSize: c.imageSize, inChannels: 4, baseChannels: c.baseChannels, channelMult: [...c.channelMult], numResBlocks: c.numResBlocks },
      { seed: c.seed },
    ),
    memory: (net) => ({
      bytes: 4 * (c.batchSize * 16 * c.imageSize * c.imageSize * c.baseChannels * (c.numResBlocks + 1) + 4 * net.parameterCount),
      what: `a segmenter training step of batch ${c.batchSize} at ${c.imageSize}x${c.imageSize}`,
      hint: 'reduce batch_size (--batch-size) or image_size',
    }),
    columns: ['loss', 'val_dice', 'lr'],
    // the step's stream goes on as the dropout masks
    objective: (net, b, rng) => () => {
      const n = b.ids.length;
      const targets = c.softLabels ? b.maskFractions : b.masks;
      if (!targets) throw new Error('softLabels needs batches with maskFractions (a source opened with labelFraction)');
      const logits = net.apply(tf.tensor4d(b.images, [n, s, s, 4]), { training: true, rng });
      return segmentationLoss(logits, tf.tensor4d(targets, [n, s, s, 1]), { diceWeight: c.diceWeight, bceWeight: c.bceWeight });
    },
    evaluate: (net, val) => segmenterDice(net, val, c.batchSize).then((v) => ({ val_dice: v })),
    metadata: (net) => ({ [SEGMENTER_CONFIG_KEY]: JSON.stringify(net.config) }),
  };
}

/**
 * Trains the tumour segmenter on `seg > 0` with soft Dice + binary
 * cross-entropy; the checkpoints load with `loadSegmenter` of
 * @tumorcast/segmenter.
 *
 * @param options - see {@link SegmenterTrainingOptions}.
 * @returns what the loop did (steps, whether a signal stopped it, the last checkpoint).
 */
export function trainSegmenter(options: SegmenterTrainingOptions): Promise<TrainLoopResult> {
  return runTraining(options, segmenterHooks(options));
}
