/**
 * The learned segmenter as the guided sampler's pluggable `Segmenter`. That
 * interface has one home, `@tumorcast/guided-sampler` (which takes it); this
 * package sits below the sampler and cannot import it, so
 * {@link LearnedSegmenter} has the same members and the tests check that it
 * is one.
 */
import * as tf from '@tensorflow/tfjs';
import type { SegmenterNet } from './net.js';

/**
 * What {@link LearnedSegmenter.segment} takes: the guided sampler's
 * `SegmenterInput` (`image`, `baseline`, `baselineMask?`), of which this
 * segmenter reads `image` only, so the others may be left out.
 */
export interface LearnedSegmenterInput {
  /** The scans to segment (generated follow-ups) `[B, H, W, C]`. */
  readonly image: tf.Tensor4D;
  /** The baseline scans (not used). */
  readonly baseline?: tf.Tensor4D;
  /** The baseline tumour masks (not used). */
  readonly baselineMask?: tf.Tensor4D;
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
   * The segmenter's {@link LearnedSegmenter.name}.
   * @defaultValue 'learned-unet'
   */
  name?: string;
}

/**
 * What {@link learnedSegmenter} returns: a `Segmenter` of
 * `@tumorcast/guided-sampler` (a `name` and a `segment` method), synchronous,
 * with binary masks.
 */
export interface LearnedSegmenter {
  /** A short name, for reports. */
  readonly name: string;
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
   * and its mask are not used. The caller disposes the result; the input is
   * not disposed.
   */
  segment(input: LearnedSegmenterInput): tf.Tensor4D;
  /**
   * The net's tumour probabilities of `input.image` (same input as
   * {@link LearnedSegmenter.segment}), `[B, H, W, 1]` in (0, 1): `segment`'s
   * mask is `probabilities >= threshold`. The caller disposes the result.
   */
  probabilities(input: LearnedSegmenterInput): tf.Tensor4D;
}

/**
 * Wraps a trained {@link SegmenterNet} as a guided-sampler `Segmenter`: `segment`
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
  const checkedImage = (input: LearnedSegmenterInput, method: string): tf.Tensor4D => {
    if (!input || typeof input !== 'object') throw new TypeError(`'input' passed to '${method}' must be { image, baseline, baselineMask? }`);
    net.checkInput(input.image, method, 'input.image');
    return input.image;
  };
  const probabilitiesOf = (image: tf.Tensor4D): tf.Tensor4D => tf.tidy(() => {
    const x = inputRange === '[-1,1]' ? (tf.div(tf.add(image, 1), 2) as tf.Tensor4D) : image;
    return net.predictProbabilities(x);
  });
  return {
    name,
    net,
    threshold,
    inputRange,
    segment(input: LearnedSegmenterInput): tf.Tensor4D {
      const image = checkedImage(input, 'Segmenter.segment');
      return tf.tidy(() => tf.cast(tf.greaterEqual(probabilitiesOf(image), threshold), 'float32') as tf.Tensor4D);
    },
    probabilities(input: LearnedSegmenterInput): tf.Tensor4D {
      return probabilitiesOf(checkedImage(input, 'Segmenter.probabilities'));
    },
  };
}
