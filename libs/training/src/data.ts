/**
 * Training data: slices in the BraTS slice layout, read with
 * @tumorcast/dataset's reader, padded 240 -> 256 and resized to the
 * network size, kept in memory after the first read.
 */
import * as tf from '@tensorflow/tfjs';
import { toModelRange } from '@tumorcast/diffusion';
import type { DataRange } from '@tumorcast/diffusion';

/** A batch of slices: images `[B,H,W,4]` in [0,1] (t1n,t1c,t2w,t2f), tumour masks `[B,H,W]`. */
export interface SliceBatch {
  /** Row-major NHWC values in [0, 1]. */
  images: Float32Array;
  /** Binary tumour masks (seg > 0), NHW; zeros when the slice has no label. */
  masks: Float32Array;
  /**
   * The fraction of each pixel that is tumour (the resized label before its
   * 0.5 threshold), NHW; only from a source opened with
   * {@link OpenSlicesOptions.labelFraction}.
   */
  maskFractions?: Float32Array;
  /** Tumour burden per slice: count(seg>0)/count(t2f!=0). */
  burden: number[];
  /** 1 when the slice has tumour (the diffusion model's class label), else 0. */
  hasTumour: number[];
  /** Slice ids (`<pid>_<slice>`). */
  ids: string[];
}

/** Random access to a data set's slices. */
export interface SliceSource {
  /** Number of slices. */
  readonly size: number;
  /** Height = width of the images. */
  readonly imageSize: number;
  /** Loads the slices at `indices` (repeats allowed). */
  batch(indices: readonly number[]): Promise<SliceBatch>;
}

/** Options of {@link openSlices}. */
export interface OpenSlicesOptions {
  /** Network input size (slices are zero-padded 240 -> 256, then resized to this). @defaultValue 256 */
  imageSize?: number;
  /** Which split folders to read: 'training', or 'any' (validation/testing with test_labels, else training). @defaultValue 'training' */
  split?: 'training' | 'any';
  /** At most this many slices (0: all), taken in sorted order. @defaultValue 0 */
  maxSlices?: number;
  /** Refuse slices without a segmentation. @defaultValue false */
  requireLabels?: boolean;
  /** Give each batch {@link SliceBatch.maskFractions} too. @defaultValue false */
  labelFraction?: boolean;
}

/**
 * Converts [0,1] NHWC values to a network's data range as a tensor: `2x - 1`
 * for `'[-1,1]'`, unchanged for `'[0,1]'` (the authors' convention).
 */
export function toModelBatch(images: Float32Array, n: number, size: number, range: DataRange): tf.Tensor4D {
  return tf.tidy(() => toModelRange(tf.tensor4d(images, [n, size, size, 4]), range));
}

export { openSlices, OPEN_SLICES_DEFAULTS } from './data-nifti.js';
