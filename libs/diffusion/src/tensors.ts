/**
 * Small tensor helpers shared by the process functions.
 */
import * as tf from '@tensorflow/tfjs';
import type { Rng } from '@tumorcast/random';
import type { Diffusion } from './diffusion.js';

/**
 * Step indices of the (respaced) process: one number for the whole batch or
 * one per image.
 */
export type Timesteps = number | ArrayLike<number>;

/**
 * A denoising network: `(x, t, y?) => output`, NHWC. `t` holds the ORIGINAL
 * timesteps (float32 holding integers, guided-diffusion's `timestep_map`
 * applied, no rescaling); `y` the int32 class labels when the model is
 * class-conditional. The output has C channels (eps) or, when the diffusion
 * learns sigma, 2C channels: eps, then the variance interpolation v in [-1, 1].
 */
export type DiffusionModel = (x: tf.Tensor4D, t: tf.Tensor1D, y?: tf.Tensor1D) => tf.Tensor4D;

/** Class labels: one for the whole batch, one per image, or an int32 tensor. */
export type ClassLabels = number | ArrayLike<number> | tf.Tensor1D;

/**
 * Expands `t` to one valid step index per image.
 *
 * @param diffusion - the process.
 * @param t - the step indices.
 * @param batch - the batch size.
 * @param fn - the calling function, for errors.
 */
export function stepIndices(diffusion: Diffusion, t: Timesteps, batch: number, fn: string): number[] {
  const out: number[] = typeof t === 'number' ? new Array<number>(batch).fill(t) : Array.from(t);
  if (out.length !== batch) {
    throw new RangeError(`'t' passed to '${fn}' must hold one step per image (${batch}), got ${out.length}`);
  }
  for (const v of out) {
    if (!Number.isInteger(v) || v < 0 || v >= diffusion.numTimesteps) {
      throw new RangeError(`'t' passed to '${fn}' must hold integers in [0, ${diffusion.numTimesteps}), got ${v}`);
    }
  }
  return out;
}

/**
 * `arr[t]` per image as a float32 `[B, 1, 1, 1]` tensor (guided-diffusion's
 * `_extract_into_tensor`: float64 lookup, then cast).
 */
export function extract(arr: Float64Array, idx: readonly number[]): tf.Tensor4D {
  // idx comes from stepIndices (validated), arr has one value per step.
  return tf.tensor4d(Float32Array.from(idx, (i) => arr[i]!), [idx.length, 1, 1, 1]);
}

/**
 * The original timesteps of step indices, as the float32 tensor the networks get.
 *
 * @param diffusion - the process.
 * @param idx - step indices, integers in `[0, diffusion.numTimesteps)`.
 * @throws RangeError when an index is not a step of `diffusion`.
 */
export function originalTimesteps(diffusion: Diffusion, idx: readonly number[]): tf.Tensor1D {
  const map = diffusion.timestepMap;
  return tf.tensor1d(Float32Array.from(idx, (i) => {
    const v = map[i];
    if (v === undefined) throw new RangeError(`'idx' passed to 'originalTimesteps' must hold step indices (integers in [0, ${map.length})), got ${i}`);
    return v;
  }), 'float32');
}

/**
 * Validates a 4-D NHWC tensor argument.
 *
 * @param x - the value to check.
 * @param name - the argument's name, for errors.
 * @param fn - the calling function, for errors.
 */
export function check4d(x: unknown, name: string, fn: string): asserts x is tf.Tensor4D {
  if (!(x instanceof tf.Tensor) || x.rank !== 4) {
    const what = x instanceof tf.Tensor ? `a rank-${x.rank} tensor` : typeof x;
    throw new TypeError(`'${name}' passed to '${fn}' must be a 4-D NHWC tensor, got ${what}`);
  }
  if (x.isDisposed) throw new Error(`'${name}' passed to '${fn}' has been disposed`);
}

/** Checks that `b` has the same shape as `a`. */
export function checkSameShape(a: tf.Tensor, b: tf.Tensor, name: string, fn: string): void {
  if (a.shape.length !== b.shape.length || a.shape.some((d, i) => d !== b.shape[i])) {
    throw new RangeError(`'${name}' passed to '${fn}' must have shape [${a.shape}], got [${b.shape}]`);
  }
}

/** Class labels as an int32 tensor of length `batch` (undefined stays undefined). */
export function classLabels(y: ClassLabels | undefined, batch: number, fn: string): tf.Tensor1D | undefined {
  if (y === undefined) return undefined;
  if (y instanceof tf.Tensor) {
    if (y.rank !== 1 || y.shape[0] !== batch) {
      throw new RangeError(`'y' passed to '${fn}' must be a 1-D tensor of length ${batch}, got shape [${y.shape}]`);
    }
    return y.dtype === 'int32' ? y.clone() : tf.cast(y, 'int32');
  }
  const arr = typeof y === 'number' ? new Array<number>(batch).fill(y) : Array.from(y);
  if (arr.length !== batch || arr.some((v) => !Number.isInteger(v))) {
    throw new RangeError(`'y' passed to '${fn}' must be an integer or ${batch} integers`);
  }
  return tf.tensor1d(arr, 'int32');
}

/**
 * Calls the model with original timesteps and checks its output shape.
 *
 * @returns `eps` (C channels) and, when the diffusion learns sigma, `v`.
 */
export function callModel(
  diffusion: Diffusion, model: DiffusionModel, x: tf.Tensor4D, idx: readonly number[],
  y: ClassLabels | undefined, fn: string,
): { eps: tf.Tensor4D; v?: tf.Tensor4D } {
  if (typeof model !== 'function') throw new TypeError(`'model' passed to '${fn}' must be a function`);
  const [b, h, w, c] = x.shape;
  const out = model(x, originalTimesteps(diffusion, idx), classLabels(y, b, fn));
  const want = diffusion.learnSigma ? 2 * c : c;
  if (!(out instanceof tf.Tensor) || out.rank !== 4 || out.shape[0] !== b || out.shape[1] !== h ||
    out.shape[2] !== w || out.shape[3] !== want) {
    const got = out instanceof tf.Tensor ? `[${out.shape}]` : typeof out;
    throw new RangeError(`'model' passed to '${fn}' must return shape [${b},${h},${w},${want}]${diffusion.learnSigma ? ' (learnSigma: eps then v)' : ''}, got ${got}`);
  }
  if (!diffusion.learnSigma) return { eps: out };
  const [eps, v] = tf.split(out, 2, 3) as [tf.Tensor4D, tf.Tensor4D];
  return { eps, v };
}

/**
 * A standard-normal tensor drawn from a seeded `Rng` (`@tumorcast/random`). With one Rng per
 * image, image b's values come from `rngs[b]` only, so results do not depend
 * on how images are batched.
 *
 * @param shape - the NHWC shape.
 * @param rng - one generator, or one per image (length `shape[0]`).
 */
export function normalTensor(shape: readonly [number, number, number, number], rng: Rng | readonly Rng[]): tf.Tensor4D {
  const per = shape[1] * shape[2] * shape[3];
  const data = new Float32Array(shape[0] * per);
  if (Array.isArray(rng)) {
    if (rng.length !== shape[0]) {
      throw new RangeError(`'rng' passed to 'normalTensor' must hold one Rng per image (${shape[0]}), got ${rng.length}`);
    }
    for (let b = 0; b < shape[0]; b++) (rng[b] as Rng).normalArray(per, data.subarray(b * per, (b + 1) * per));
  } else {
    (rng as Rng).normalArray(data.length, data);
  }
  return tf.tensor4d(data, [shape[0], shape[1], shape[2], shape[3]]);
}
