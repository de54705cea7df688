/**
 * Many independent phantom slices in memory, for training small networks
 * (segmenter, burden regressor, small diffusion U-Net).
 */
import { Rng, type Seed } from '@tumorcast/random';
import { generatePhantomSlice } from './slice.js';
import { checkBool, checkInt, checkNumber, checkOptions, checkPositive, checkSeed } from './validate.js';

const M = Math;

/** Options of {@link generateSegmentationDataset}. */
export interface SegmentationDatasetOptions {
  /**
   * Number of slices.
   * @defaultValue 64
   */
  count?: number;
  /**
   * Seed; sample `i` uses independent anatomy, tumour and noise seeds derived from it.
   * @defaultValue 0
   */
  seed?: Seed;
  /**
   * Width in pixels (the 240 mm field of view is kept, so 64 gives 3.75 mm pixels).
   * @defaultValue 64
   */
  width?: number;
  /**
   * Height in pixels.
   * @defaultValue `width`
   */
  height?: number;
  /**
   * Probability that a slice has a tumour (otherwise size 0).
   * @defaultValue 0.8
   */
  tumourProbability?: number;
  /**
   * Smallest whole-tumour area, mm^2 (sizes are log-uniform in [minSize, maxSize]).
   * @defaultValue 80
   */
  minSize?: number;
  /**
   * Largest whole-tumour area, mm^2.
   * @defaultValue 3500
   */
  maxSize?: number;
  /**
   * Slice levels are uniform in [-range, range] mm around the ventricles.
   * @defaultValue 20
   */
  sliceOffsetRange?: number;
  /**
   * Draw the skull ring.
   * @defaultValue true
   */
  skull?: boolean;
  /**
   * Acquisition noise std.
   * @defaultValue 0.01
   */
  noiseStd?: number;
  /**
   * Memory layout of `images`: `'nhwc'` (tfjs's default for conv2d) or `'nchw'`.
   * @defaultValue 'nhwc'
   */
  layout?: 'nhwc' | 'nchw';
}

/** In-memory training slices (see {@link generateSegmentationDataset}). */
export interface SegmentationDataset {
  /** Number of slices N. */
  count: number;
  /** W. */
  width: number;
  /** H. */
  height: number;
  /** Pixel spacing, mm. */
  pixelSpacing: number;
  /** Layout of `images`. */
  layout: 'nhwc' | 'nchw';
  /**
   * Images, N x H x W x 4 (`'nhwc'`: index `((n*H + y)*W + x)*4 + c`) or
   * N x 4 x H x W (`'nchw'`: `((n*4 + c)*H + y)*W + x`); channels
   * t1n, t1c, t2w, t2f; values in [0, 1], background 0.
   */
  images: Float32Array;
  /** BraTS labels, N x H x W (`(n*H + y)*W + x`). */
  labels: Uint8Array;
  /** Tumour burden `count(seg > 0) / count(t2f != 0)` per slice (the regressor's target). */
  burdens: Float32Array;
  /** Whole-tumour area per slice, mm^2 (0 = no tumour). */
  sizes: Float32Array;
}

const FN = 'generateSegmentationDataset';

/**
 * Generates `count` independent phantom slices (a new anatomy, tumour shape,
 * size and noise each; about 1 - `tumourProbability` of them without
 * tumour), by default at 64x64.
 *
 * @param options - see {@link SegmentationDatasetOptions}.
 * @returns images, labels, burdens and sizes; see {@link SegmentationDataset}.
 *
 * @example
 * ```ts
 * const ds = generateSegmentationDataset({ count: 256, seed: 1 });
 * // tf.tensor4d(ds.images, [ds.count, ds.height, ds.width, 4])
 * ```
 */
export function generateSegmentationDataset(options?: SegmentationDatasetOptions): SegmentationDataset {
  const o = checkOptions(FN, 'options', options);
  const count = checkInt(FN, 'count', o.count ?? 64, 1, 1_000_000);
  const seed = checkSeed(FN, 'seed', o.seed ?? 0);
  const width = checkInt(FN, 'width', o.width ?? 64, 16, 4096);
  const height = checkInt(FN, 'height', o.height ?? width, 16, 4096);
  const p = checkNumber(FN, 'tumourProbability', o.tumourProbability ?? 0.8, 0, 1);
  const minSize = checkPositive(FN, 'minSize', o.minSize ?? 80);
  const maxSize = checkNumber(FN, 'maxSize', o.maxSize ?? 3500, minSize, 1e6);
  const range = checkNumber(FN, 'sliceOffsetRange', o.sliceOffsetRange ?? 20, 0, 80);
  const skull = checkBool(FN, 'skull', o.skull ?? true);
  const noiseStd = checkNumber(FN, 'noiseStd', o.noiseStd ?? 0.01, 0, 1);
  const layout = o.layout ?? 'nhwc';
  if (layout !== 'nhwc' && layout !== 'nchw') throw new RangeError(`'layout' passed to '${FN}' must be 'nhwc' or 'nchw', got ${String(layout)}`);
  if (count * width * height * 4 > 2 ** 31) throw new RangeError(`'count' passed to '${FN}' is too large for one Float32Array (${count} x ${height} x ${width} x 4)`);

  const hw = width * height;
  const images = new Float32Array(count * hw * 4);
  const labels = new Uint8Array(count * hw);
  const burdens = new Float32Array(count);
  const sizes = new Float32Array(count);
  const rng = new Rng(seed);
  const pixelSpacing = 240 / width;
  for (let n = 0; n < count; n++) {
    const r = rng.fork(n);
    const hasTumour = r.uniform() < p;
    const size = hasTumour ? M.exp(M.log(minSize) + (M.log(maxSize) - M.log(minSize)) * r.uniform()) : 0;
    const s = generatePhantomSlice({
      seed: r.seedInt(),
      tumourSeed: r.seedInt(),
      scanSeed: r.seedInt(),
      size,
      width,
      height,
      skull,
      noiseStd,
      sliceOffset: range * (2 * r.uniform() - 1),
    });
    labels.set(s.label, n * hw);
    burdens[n] = s.burden;
    sizes[n] = s.tumourArea;
    if (layout === 'nchw') images.set(s.channels, n * hw * 4);
    else {
      const base = n * hw * 4;
      for (let c = 0; c < 4; c++) {
        const off = c * hw;
        for (let i = 0; i < hw; i++) images[base + i * 4 + c] = s.channels[off + i]!;
      }
    }
  }
  return { count, width, height, pixelSpacing, layout, images, labels, burdens, sizes };
}
