/**
 * The image value convention: data in [0, 1] on disk, [-1, 1] for the networks.
 */
import * as tf from '@tensorflow/tfjs';

/**
 * Maps data in [0, 1] (the slices on disk) to the networks' range [-1, 1]:
 * `x * 2 - 1`. Background 0 becomes -1.
 *
 * @param x - a tensor in [0, 1].
 */
export function toModelRange<T extends tf.Tensor>(x: T): T {
  return tf.tidy(() => tf.sub(tf.mul(x, 2), 1)) as T;
}

/**
 * Maps network-range images [-1, 1] back to [0, 1]: `(x + 1) / 2` (no clipping).
 *
 * @param x - a tensor in [-1, 1].
 */
export function fromModelRange<T extends tf.Tensor>(x: T): T {
  return tf.tidy(() => tf.div(tf.add(x, 1), 2)) as T;
}
