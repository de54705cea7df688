/**
 * The learned segmenter as the guided sampler's pluggable `Segmenter`.
 */
import * as tf from '@tensorflow/tfjs';
import type { SegmenterNet } from './net.js';

/**
 * What a segmenter receives (structurally identical to @tumorcast/guided-sampler's
 * `SegmenterInput`). All images are NHWC in the diffusion networks' [-1, 1] range.
 */
export interface SegmenterInput {
  /** The scans to segment (generated follow-ups) `[B, H, W, C]`. */
  image: tf.Tensor4D;
  /** The baseline scans they were generated from `[B, H, W, C]`. */
  baseline: tf.Tensor4D;
  /** The baseline tumour masks `[B, H, W, 1]` in {0, 1}, when known. */
  baselineMask?: tf.Tensor4D;
}

/**
 * Segments tumour in scans (structurally identical to @tumorcast/guided-sampler's
 * `Segmenter`, so a {@link learnedSegmenter} can be passed to its growth
 * probability map): returns masks `[B, H, W, 1]` with values in [0, 1]. The
 * caller disposes the result; the inputs are not disposed.
 */
export interface Segmenter {
  /** A short name, for reports. */
  readonly name: string;
  /** Segments `input.image`. */
  segment(input: SegmenterInput): tf.Tensor4D | Promise<tf.Tensor4D>;
}

/** The value range of the images a {@link learnedSegmenter} receives. */
export type SegmenterInputRange = '[-1,1]' | '[0,1]';

/** Options of {@link learnedSegmenter}. */
export interface LearnedSegmenterOptions {
  /**
   * Pixels whose tumour probability is `>= threshold` are tumour.
   * @defaultValue 0.5
   */
  threshold?: number;
  /**
   * The range of `input.image`: `'[-1,1]'` (the guided sampler's convention;
   * mapped to [0, 1] by `(x + 1) / 2` before the net) or `'[0,1]'` (the data
   * set's, passed through).
   * @defaultValue '[-1,1]'
   */
  inputRange?: SegmenterInputRange;
  /**
   * The segmenter's {@link Segmenter.name}.
   * @defaultValue 'learned-unet'
   */
  name?: string;
}

/** The {@link Segmenter} that {@link learnedSegmenter} returns: synchronous, binary masks. */
export interface LearnedSegmenter extends Segmenter {
  /** The wrapped network (not owned: dispose it yourself). */
  readonly net: SegmenterNet;
  /** The probability threshold. */
  readonly threshold: number;
  /** The expected range of `input.image`. */
  readonly inputRange: SegmenterInputRange;
  /**
   * Segments `input.image` (`[B, H, W, 4]`, channels `t1n, t1c, t2w, t2f`,
   * values in {@link LearnedSegmenter.inputRange}; H and W divisible by the
   * net's `sizeFactor`): a float32 `[B, H, W, 1]` mask of 0 and 1. The baseline
   * and its mask are not used.
   */
  segment(input: SegmenterInput): tf.Tensor4D;
}

/**
 * Wraps a trained {@link SegmenterNet} as a {@link Segmenter}: `segment`
 * thresholds the net's tumour probabilities of `input.image`, each image on
 * its own (the baseline is ignored). The net is not copied: dispose it
 * yourself when the segmenter is no longer used.
 *
 * @param net - the trained network (its `inChannels` must be 4).
 * @param options - see {@link LearnedSegmenterOptions}.
 *
 * @example
 * ```ts
 * const net = await loadSegmenter('segmenter.safetensors');
 * const map = await growthProbabilityMap({ ...args, segmenter: learnedSegmenter(net) });
 * ```
 */
export function learnedSegmenter(net: SegmenterNet, options: LearnedSegmenterOptions = {}): LearnedSegmenter {
  const fn = 'learnedSegmenter';
  if (!net || typeof net.predictProbabilities !== 'function' || !net.config) throw new TypeError(`'net' passed to '${fn}' must be a SegmenterNet`);
  if (net.config.inChannels !== 4) throw new RangeError(`'net' passed to '${fn}' must take 4 input channels (t1n, t1c, t2w, t2f), got ${net.config.inChannels}`);
  const threshold = options.threshold ?? 0.5;
  if (typeof threshold !== 'number' || !(threshold > 0 && threshold < 1)) throw new RangeError(`'threshold' passed to '${fn}' must be in (0, 1), got ${threshold}`);
  const inputRange = options.inputRange ?? '[-1,1]';
  if (inputRange !== '[-1,1]' && inputRange !== '[0,1]') throw new RangeError(`'inputRange' passed to '${fn}' must be '[-1,1]' or '[0,1]', got ${String(inputRange)}`);
  const name = options.name ?? 'learned-unet';
  if (typeof name !== 'string' || name.length === 0) throw new TypeError(`'name' passed to '${fn}' must be a non-empty string`);
  return {
    name,
    net,
    threshold,
    inputRange,
    segment(input: SegmenterInput): tf.Tensor4D {
      if (!input || typeof input !== 'object') throw new TypeError(`'input' passed to 'Segmenter.segment' must be { image, baseline, baselineMask? }`);
      const image = input.image;
      net.checkInput(image, 'Segmenter.segment', 'input.image');
      return tf.tidy(() => {
        const x = inputRange === '[-1,1]' ? (tf.div(tf.add(image, 1), 2) as tf.Tensor4D) : image;
        return tf.cast(tf.greaterEqual(net.predictProbabilities(x), threshold), 'float32') as tf.Tensor4D;
      });
    },
  };
}
