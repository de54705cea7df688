/**
 * Argument checks and conversions shared by the networks' forward passes:
 * NHWC image batches and diffusion timesteps.
 */
import * as tf from '@tensorflow/tfjs';

/** Timesteps of a forward pass: one per image (`[B]` tensor or array), or one number for the whole batch. */
export type TimestepInput = tf.Tensor1D | readonly number[] | number;

/**
 * `t` as a float32 `[batch]` tensor (a number is repeated for every image),
 * validated: a number must be finite, a tensor or array must have one entry
 * per image. The result belongs to the caller.
 *
 * @param t - the timesteps.
 * @param batch - the batch size.
 * @param fn - the function named in errors.
 */
export function timestepTensor(t: TimestepInput, batch: number, fn: string): tf.Tensor1D {
  if (typeof t === 'number') {
    if (!Number.isFinite(t)) throw new RangeError(`'t' passed to '${fn}' must be finite, got ${t}`);
    return tf.fill([batch], t, 'float32') as tf.Tensor1D;
  }
  const tt = t instanceof tf.Tensor ? tf.cast(t, 'float32') : tf.tensor1d(t as number[], 'float32');
  if (tt.rank !== 1 || tt.shape[0] !== batch) {
    const shape = t instanceof tf.Tensor ? t.shape : [(t as readonly number[]).length];
    tt.dispose();
    throw new RangeError(`'t' passed to '${fn}' must have one timestep per image (${batch}), got shape [${shape}]`);
  }
  return tt as tf.Tensor1D;
}

/** What {@link checkImageBatch} requires of an image batch. */
export interface ImageBatchSpec {
  /** The function named in errors (e.g. `'UNet.apply'`). */
  fn: string;
  /**
   * The argument named in errors.
   * @defaultValue 'x'
   */
  arg?: string;
  /** Channels (the last axis). */
  channels: number;
  /** Levels of the network: height and width must be divisible by `2^(levels - 1)`. */
  levels: number;
  /**
   * The exact height and width required, if any, and why (e.g. `"the attention pool's size"`).
   * @defaultValue any size the levels divide
   */
  size?: { value: number; reason: string };
  /**
   * Refuse batches with a zero-length axis.
   * @defaultValue false
   */
  nonEmpty?: boolean;
}

/**
 * Throws a RangeError naming the function and the argument unless `x` is a
 * 4-D NHWC tensor with the channels, size and divisibility of `spec`.
 *
 * @param x - the value to check.
 * @param spec - see {@link ImageBatchSpec}.
 */
export function checkImageBatch(x: unknown, spec: ImageBatchSpec): asserts x is tf.Tensor4D {
  const where = `'${spec.arg ?? 'x'}' passed to '${spec.fn}'`;
  if (!(x instanceof tf.Tensor) || x.rank !== 4) {
    throw new RangeError(`${where} must be a 4-D NHWC tensor [B, H, W, ${spec.channels}], got ${x instanceof tf.Tensor ? `shape [${x.shape}]` : typeof x}`);
  }
  const [b, h, w, c] = x.shape as [number, number, number, number];
  if (c !== spec.channels) throw new RangeError(`${where} must have ${spec.channels} channels (NHWC, last axis), got shape [${x.shape}]`);
  if (spec.nonEmpty && (b < 1 || h < 1 || w < 1)) throw new RangeError(`${where} must not be empty, got shape [${x.shape}]`);
  if (spec.size && (h !== spec.size.value || w !== spec.size.value)) {
    throw new RangeError(`${where} must be ${spec.size.value}x${spec.size.value} (${spec.size.reason}), got ${h}x${w}`);
  }
  const f = 2 ** (spec.levels - 1);
  if (h % f !== 0 || w % f !== 0) {
    throw new RangeError(`${where} must have height and width divisible by ${f} (2^(levels-1) with ${spec.levels} levels), got ${h}x${w}`);
  }
}
