/**
 * A guard against configurations that would not fit in the wasm heap (whose
 * size, `WASM_HEAP_LIMIT_BYTES`, is `@tumorcast/nn`'s, the backend package).
 */
import * as tf from '@tensorflow/tfjs';
import { WASM_HEAP_LIMIT_BYTES } from '@tumorcast/nn';

/**
 * Image-sized float32 tensors the sampler itself holds at once per image
 * (input, noisy input, latent, x_t, eps, x0, gradient, intermediates of a
 * step, difference map, ...), a generous count.
 */
export const SAMPLER_IMAGE_COPIES = 24;

/** What {@link estimateSamplerBytes} needs. */
export interface SamplerMemoryInput {
  /** Images processed at once (slices × samples per batch). */
  batch: number;
  /** Image height. */
  height: number;
  /** Image width. */
  width: number;
  /** Image channels. */
  channels: number;
  /**
   * Peak bytes of network activations per image: the denoiser's forward pass
   * plus the regressor's forward and backward pass (its activations are kept
   * for the gradient).
   * @defaultValue 256 float32 feature maps at full resolution (`height · width · 256 · 4`)
   */
  activationBytesPerImage?: number;
}

/**
 * Estimated peak bytes of a guided sampling run:
 * `batch · (24 · H·W·C·4 + activationBytesPerImage)`.
 *
 * @param input - see {@link SamplerMemoryInput}.
 */
export function estimateSamplerBytes(input: SamplerMemoryInput): number {
  const { batch, height, width, channels } = input;
  const act = input.activationBytesPerImage ?? height * width * 256 * 4;
  return batch * (SAMPLER_IMAGE_COPIES * height * width * channels * 4 + act);
}

const gib = (b: number) => (b / 1024 ** 3).toFixed(2);

/**
 * Throws when the estimated memory of a run exceeds the heap limit, saying
 * what to reduce. The default limit is the wasm heap when the wasm backend is
 * active, and no limit otherwise.
 *
 * @param input - the run's size.
 * @param fn - the calling function, for the error.
 * @param heapLimitBytes - the limit.
 * @defaultValue heapLimitBytes: {@link WASM_HEAP_LIMIT_BYTES} on wasm, Infinity otherwise
 */
export function checkSamplerMemory(input: SamplerMemoryInput, fn: string, heapLimitBytes?: number): void {
  const limit = heapLimitBytes ?? (tf.getBackend() === 'wasm' ? WASM_HEAP_LIMIT_BYTES : Infinity);
  if (!(limit > 0)) throw new RangeError(`'heapLimitBytes' passed to '${fn}' must be positive, got ${heapLimitBytes}`);
  if (input.activationBytesPerImage !== undefined && !(input.activationBytesPerImage >= 0)) {
    throw new RangeError(`'activationBytesPerImage' passed to '${fn}' must be >= 0, got ${input.activationBytesPerImage}`);
  }
  const need = estimateSamplerBytes(input);
  if (need > limit) {
    const per = need / input.batch;
    const fit = Math.floor(limit / per);
    throw new RangeError(
      `'${fn}' would need about ${gib(need)} GiB (${input.batch} image(s) of ${input.height}x${input.width}x${input.channels}, ` +
      `${gib(per)} GiB each incl. network activations), more than the ${gib(limit)} GiB heap: ` +
      (fit >= 1
        ? `reduce the batch (slices per call, 'batchSize' or 'samplesPerBatch') to at most ${fit}`
        : 'reduce the image size or the networks\' activation size (\'activationBytesPerImage\'); even one image does not fit') +
      ', or use a backend without this limit (tfjs-node)');
  }
}
