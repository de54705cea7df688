/**
 * The segmenter's soft tumour burden as a differentiable burden function for
 * guided sampling.
 */
import * as tf from '@tensorflow/tfjs';
import type { SegmenterNet } from './net.js';
import type { SegmenterInputRange } from './segmenter.js';

/**
 * A burden function `(x, t) => r`, one value per image (`[B]`): structurally
 * the guided sampler's `RegressorFn`, so that it can be passed as its
 * `regressor`. `t` is ignored.
 */
export type SegmenterBurdenFn = (x: tf.Tensor4D, t: tf.Tensor1D) => tf.Tensor1D;

/** Options of {@link segmenterBurden}. */
export interface SegmenterBurdenOptions {
  /**
   * The brain pixel count of the baseline, one number for all images or one
   * per image (each finite and > 0): the burden is divided by it, so that it
   * is in brain-fraction units, as the labels' burden r0 (the guided
   * sampler's `baselineBurden`).
   */
  brainPixels: number | readonly number[];
  /**
   * The range of the images: `'[-1,1]'` (the guided sampler's convention;
   * mapped to [0, 1] by `(x + 1) / 2` before the net, as
   * {@link learnedSegmenter} does) or `'[0,1]'` (passed through).
   * @defaultValue '[-1,1]'
   */
  inputRange?: SegmenterInputRange;
  /**
   * The temperature T of the gradient (not of the value). At 1 the gradient
   * is the burden's true gradient. Otherwise the value stays the calibrated
   * `sum(sigmoid(z)) / brainPixels` (z: the net's logits), but its gradient
   * with respect to z is `s (1 - s)` with `s = sigmoid(z / T)`: the
   * derivative of `T sigmoid(z / T)`, equal to the true one on the tumour
   * border (z = 0) and, for T > 1, vanishing further from it. Why: the true
   * sigmoid derivative dies a few pixels off the border, so guidance cannot
   * grow a tumour into tissue the net reads confidently as healthy; a wider
   * band lets it reach large growth targets. Finite, > 0.
   * @defaultValue 1
   */
  gradientTemperature?: number;
  /**
   * Keeps the gradient to pixels within this many pixels (a square window:
   * the Chebyshev distance) of the pixels the net reads as tumour (z >= 0)
   * in the same image; an image where it reads none keeps its whole
   * gradient. The value does not change. Why: a wider gradient band
   * (`gradientTemperature` > 1) reaches every pixel the net is not quite
   * sure of, and guidance then grows specks of tumour far from the tumour
   * (at tissue edges); kept near the tumour it grows the tumour itself.
   * An integer >= 0, or Infinity for everywhere.
   * @defaultValue Infinity
   */
  gradientMarginPixels?: number;
}

const FN = 'segmenterBurden';

/**
 * The soft tumour burden of a trained {@link SegmenterNet}: per image, the sum
 * of the net's tumour probabilities divided by that image's brain pixel count
 * (`options.brainPixels`). No threshold and no cast, so it is differentiable
 * (`tf.grad`) with respect to the images: the guided sampler can use it as its
 * regressor. The segmenter has no timestep input and was trained on clean
 * scans: `t` is ignored, so use it with the sampler's
 * `guidanceInput: 'denoised'` (evaluated on each step's x0 estimate, t = 0),
 * not on noisy x_t.
 *
 * `options.gradientTemperature` widens the band of pixels the gradient
 * reaches and `options.gradientMarginPixels` keeps it near the tumour,
 * without changing the value.
 *
 * The net is not copied: dispose it yourself when the function is no longer
 * used. The returned tensor belongs to the caller.
 *
 * @param net - the trained network.
 * @param options - see {@link SegmenterBurdenOptions}.
 * @returns `(x, t) => burden [B]`, `x` `[B, H, W, C]` in `options.inputRange`
 *   (H and W divisible by the net's size factor), B = 1 or the length of
 *   `brainPixels` when it is an array.
 *
 * @example
 * ```ts
 * const net = await loadSegmenter('segmenter.safetensors');
 * const out = await guidedSampleKnown({ ...args, regressor: segmenterBurden(net, { brainPixels }), guidanceInput: 'denoised' });
 * ```
 */
export function segmenterBurden(net: SegmenterNet, options: SegmenterBurdenOptions): SegmenterBurdenFn {
  if (!net || typeof net.predictProbabilities !== 'function' || typeof net.checkInput !== 'function') throw new TypeError(`'net' passed to '${FN}' must be a SegmenterNet`);
  if (!options || typeof options !== 'object') throw new TypeError(`'options' passed to '${FN}' must be an object { brainPixels, inputRange? }`);
  const bp = options.brainPixels;
  const list = typeof bp === 'number' ? [bp] : Array.isArray(bp) ? Array.from(bp as readonly unknown[]) : undefined;
  if (!list || list.length === 0 || list.some((v) => typeof v !== 'number' || !Number.isFinite(v) || v <= 0)) {
    throw new RangeError(`'options.brainPixels' passed to '${FN}' must be a finite number > 0 or a non-empty array of them (one per image: the baseline's brain pixel count), got ${JSON.stringify(bp)}`);
  }
  const perImage = typeof bp !== 'number';
  const pixels = Float32Array.from(list as number[]);
  const inputRange = options.inputRange ?? '[-1,1]';
  if (inputRange !== '[-1,1]' && inputRange !== '[0,1]') {
    throw new RangeError(`'options.inputRange' passed to '${FN}' must be '[-1,1]' or '[0,1]', got ${JSON.stringify(inputRange)}`);
  }
  const temperature: unknown = options.gradientTemperature === undefined ? 1 : options.gradientTemperature;
  if (typeof temperature !== 'number' || !Number.isFinite(temperature) || temperature <= 0) {
    throw new RangeError(`'options.gradientTemperature' passed to '${FN}' must be a finite number > 0 (1: the true gradient), got ${typeof temperature === 'number' ? String(temperature) : JSON.stringify(temperature)}`);
  }
  const margin: unknown = options.gradientMarginPixels === undefined ? Infinity : options.gradientMarginPixels;
  if (typeof margin !== 'number' || !(margin === Infinity || (Number.isInteger(margin) && margin >= 0))) {
    throw new RangeError(`'options.gradientMarginPixels' passed to '${FN}' must be an integer >= 0 or Infinity (everywhere), got ${typeof margin === 'number' ? String(margin) : JSON.stringify(margin)}`);
  }
  const softSum = temperature === 1 && margin === Infinity ? undefined : shapedSigmoidSum(temperature, margin);
  return (x: tf.Tensor4D): tf.Tensor1D => {
    net.checkInput(x, FN);
    const batch = x.shape[0];
    if (perImage && pixels.length !== batch) {
      throw new RangeError(`'options.brainPixels' passed to '${FN}' holds ${pixels.length} counts but 'x' holds ${batch} images: give one count per image (or one number for all)`);
    }
    return tf.tidy(() => {
      const x01 = inputRange === '[-1,1]' ? (tf.div(tf.add(x, 1), 2) as tf.Tensor4D) : x;
      const total = softSum ? softSum(net.apply(x01)) : tf.sum(net.predictProbabilities(x01), [1, 2, 3]);
      return tf.div(total, perImage ? tf.tensor1d(pixels) : pixels[0]!) as tf.Tensor1D;
    });
  };
}

/**
 * `z [B, H, W, 1] => sum(sigmoid(z)) [B]` whose gradient with respect to z is
 * `s (1 - s)`, `s = sigmoid(z / temperature)`, instead of the true one, and
 * zero further than `margin` pixels (Chebyshev) from every pixel with z >= 0
 * (in images that have such a pixel).
 */
function shapedSigmoidSum(temperature: number, margin: number): (z: tf.Tensor4D) => tf.Tensor1D {
  return tf.customGrad((...args: (tf.Tensor | tf.GradSaveFunc)[]) => {
    const z = args[0] as tf.Tensor4D;
    (args[1] as tf.GradSaveFunc)([z]);
    return {
      value: tf.sum(tf.sigmoid(z), [1, 2, 3]) as tf.Tensor1D,
      gradFunc: (dy: tf.Tensor, saved: tf.Tensor[]) => tf.tidy(() => {
        const z = saved[0] as tf.Tensor4D;
        const s = temperature === 1 ? tf.sigmoid(z) : tf.sigmoid(tf.div(z, temperature));
        const grad = tf.mul(tf.reshape(dy, [-1, 1, 1, 1]), tf.mul(s, tf.sub(1, s)));
        if (margin === Infinity) return grad;
        const tumour = tf.cast(tf.greaterEqual(z, 0), 'float32') as tf.Tensor4D;
        // Dilation by a (2 margin + 1)-pixel square; images without tumour pixels keep everything.
        const near = margin === 0 ? tumour : tf.maxPool(tumour, 2 * margin + 1, 1, 'same');
        const none = tf.sub(1, tf.max(tumour, [1, 2, 3], true));
        return tf.mul(grad, tf.maximum(near, none));
      }),
    };
  }) as (z: tf.Tensor4D) => tf.Tensor1D;
}
