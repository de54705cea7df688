/**
 * The learned segmenter as the guided sampler's pluggable `Segmenter`.
 */
import * as tf from '@tensorflow/tfjs';
import type { SegmenterNet } from './net.js';

/** What a {@link Segmenter} may use besides the images (a segmenter may ignore it). */
export interface SegmenterContext {
  /** The baseline scan `[B, H, W, 4]` in [0, 1] that the images were generated from. */
  baseline?: tf.Tensor4D;
  /** The baseline tumour mask `[B, H, W, 1]` (0/1). */
  baselineMask?: tf.Tensor4D;
}

/**
 * A tumour segmenter, structurally the interface that growth probability maps
 * accept (@tumorcast/guided-sampler): it maps images to binary masks.
 */
export interface Segmenter {
  /** A short name for logs and reports. */
  readonly name: string;
  /**
   * Segments a batch of slices.
   *
   * @param images - `[B, H, W, 4]` in [0, 1], channels `t1n, t1c, t2w, t2f`.
   * @param context - optional baseline information.
   * @returns `[B, H, W, 1]` float32 mask of 0 and 1 (a new tensor the caller disposes).
   */
  segment(images: tf.Tensor4D, context?: SegmenterContext): tf.Tensor4D;
}

/** Options of {@link learnedSegmenter}. */
export interface LearnedSegmenterOptions {
  /**
   * Pixels whose tumour probability is `>= threshold` are tumour.
   * @defaultValue 0.5
   */
  threshold?: number;
  /**
   * The segmenter's {@link Segmenter.name}.
   * @defaultValue 'learned-unet'
   */
  name?: string;
}

/**
 * Wraps a trained {@link SegmenterNet} as a {@link Segmenter}: `segment`
 * thresholds the net's tumour probabilities. The context is ignored (the net
 * segments each image on its own). The net is not copied: dispose it yourself
 * when the segmenter is no longer used.
 *
 * @param net - the trained network (its `inChannels` must be 4).
 * @param options - see {@link LearnedSegmenterOptions}.
 */
export function learnedSegmenter(net: SegmenterNet, options: LearnedSegmenterOptions = {}): Segmenter {
  const fn = 'learnedSegmenter';
  if (!net || typeof net.predictProbabilities !== 'function' || !net.config) throw new TypeError(`'net' passed to '${fn}' must be a SegmenterNet`);
  if (net.config.inChannels !== 4) throw new RangeError(`'net' passed to '${fn}' must take 4 input channels (t1n, t1c, t2w, t2f), got ${net.config.inChannels}`);
  const threshold = options.threshold ?? 0.5;
  if (typeof threshold !== 'number' || !(threshold > 0 && threshold < 1)) throw new RangeError(`'threshold' passed to '${fn}' must be in (0, 1), got ${threshold}`);
  const name = options.name ?? 'learned-unet';
  if (typeof name !== 'string' || name.length === 0) throw new TypeError(`'name' passed to '${fn}' must be a non-empty string`);
  return {
    name,
    segment(images: tf.Tensor4D, _context?: SegmenterContext): tf.Tensor4D {
      net.checkInput(images, 'Segmenter.segment', 'images');
      return tf.tidy(() => tf.cast(tf.greaterEqual(net.predictProbabilities(images), threshold), 'float32') as tf.Tensor4D);
    },
  };
}
