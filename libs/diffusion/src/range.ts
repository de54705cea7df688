/**
 * The image value range a network was trained on, and the conversion between
 * the data on disk ([0, 1], background 0) and that range.
 *
 * tumorcast-trained networks default to `'[-1,1]'` (the DDPM convention: the
 * DDIM x0 clip to [-1, 1] and unit-variance noise are scaled for it). The
 * authors' reference code feeds the [0, 1] slices to both networks unchanged,
 * so its networks (and tumorcast's `paper` training presets) use `'[0,1]'`.
 */
import * as tf from '@tensorflow/tfjs';

/** The value range of a network's input images: `'[-1,1]'` (`2x - 1` of [0, 1] data) or `'[0,1]'` (the data unchanged). */
export type DataRange = '[-1,1]' | '[0,1]';

/** Every {@link DataRange}, for validation and choices. */
export const DATA_RANGES: readonly DataRange[] = Object.freeze(['[-1,1]', '[0,1]'] as const);

/** The range of tumorcast-trained networks when nothing else is said (and of checkpoints written before the range was recorded). */
export const DEFAULT_DATA_RANGE: DataRange = '[-1,1]';

/** The range of networks from the authors' PyTorch reference code (`.pt` state dicts), which feeds [0, 1] slices unchanged. */
export const REFERENCE_DATA_RANGE: DataRange = '[0,1]';

/** The safetensors metadata key under which tumorcast checkpoints record their {@link DataRange}. */
export const DATA_RANGE_KEY = 'tumorcast.data_range';

/** Whether `value` is a {@link DataRange}. */
export function isDataRange(value: unknown): value is DataRange {
  return value === '[-1,1]' || value === '[0,1]';
}

/**
 * Validates a data range argument.
 *
 * @param value - the value to check.
 * @param what - what it is, for the error (e.g. `"'dataRange' passed to 'guidedSampleKnown'"`).
 * @returns `value` as a {@link DataRange}.
 */
export function checkDataRange(value: unknown, what: string): DataRange {
  if (!isDataRange(value)) throw new RangeError(`${what} must be '[-1,1]' or '[0,1]', got ${JSON.stringify(value)}`);
  return value;
}

/**
 * The value of [0, 1] data's background (0) in `range`: -1 for `'[-1,1]'`, 0 for `'[0,1]'`.
 *
 * @param range - the network range.
 */
export function backgroundValue(range: DataRange): number {
  return checkDataRange(range, "'range' passed to 'backgroundValue'") === '[-1,1]' ? -1 : 0;
}

/**
 * Maps data in [0, 1] (the slices on disk) to a network's range: `x * 2 - 1`
 * for `'[-1,1]'` (background 0 becomes -1), a copy of `x` for `'[0,1]'`.
 * The result is a new tensor in both cases (the caller disposes it).
 *
 * @param x - a tensor in [0, 1].
 * @param range - the network's range (default `'[-1,1]'`).
 */
export function toModelRange<T extends tf.Tensor>(x: T, range: DataRange = DEFAULT_DATA_RANGE): T {
  checkDataRange(range, "'range' passed to 'toModelRange'");
  return tf.tidy(() => (range === '[-1,1]' ? tf.sub(tf.mul(x, 2), 1) : tf.clone(x))) as T;
}

/**
 * Maps network-range images back to [0, 1] (no clipping): `(x + 1) / 2` for
 * `'[-1,1]'`, a copy of `x` for `'[0,1]'`. The result is a new tensor.
 *
 * @param x - a tensor in the network's range.
 * @param range - the network's range (default `'[-1,1]'`).
 */
export function fromModelRange<T extends tf.Tensor>(x: T, range: DataRange = DEFAULT_DATA_RANGE): T {
  checkDataRange(range, "'range' passed to 'fromModelRange'");
  return tf.tidy(() => (range === '[-1,1]' ? tf.div(tf.add(x, 1), 2) : tf.clone(x))) as T;
}

/**
 * The data range recorded in a checkpoint's safetensors metadata
 * ({@link DATA_RANGE_KEY}); files without the key were written before the
 * range was recorded and are `'[-1,1]'` ({@link DEFAULT_DATA_RANGE}).
 *
 * @param metadata - the file's metadata.
 * @param file - the file, for errors.
 */
export function dataRangeFromMetadata(metadata: Readonly<Record<string, string>>, file: string): DataRange {
  const v = metadata[DATA_RANGE_KEY];
  if (v === undefined) return DEFAULT_DATA_RANGE;
  return checkDataRange(v, `${file}: metadata '${DATA_RANGE_KEY}'`);
}
