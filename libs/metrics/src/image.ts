/**
 * Image similarity: MSE, MAE, PSNR and SSIM, with an optional mask and a
 * per-channel option.
 */
import { type Grid, argError, checkFinite, checkGrid, checkSameShape, checkThreshold, toMask } from './grid.js';

/** Options shared by the image-similarity metrics. */
export interface ImageMetricOptions {
  /**
   * Restricts the metric to the voxels where the mask's value is greater
   * than `maskThreshold`. Same shape as the images, or, with `channelAxis`,
   * either the full shape or the shape without the channel axis (shared by
   * all channels).
   * @defaultValue no mask (every voxel)
   */
  mask?: Grid;
  /**
   * Mask voxels with a value greater than this are used.
   * @defaultValue 0
   */
  maskThreshold?: number;
  /**
   * Treat this axis as channels: the metric is computed per channel and the
   * channel values are averaged (like skimage's `channel_axis`). Negative
   * values count from the end. Use {@link perChannel} for the values.
   * @defaultValue no channel axis
   */
  channelAxis?: number;
}

/** Options of {@link psnr}. */
export interface PsnrOptions extends ImageMetricOptions {
  /** The data range `R` (max possible value minus min possible value); required. */
  dataRange: number;
}

/** Options of {@link ssim}. */
export interface SsimOptions extends ImageMetricOptions {
  /** The data range `R` (max possible value minus min possible value); required. */
  dataRange: number;
  /**
   * Standard deviation of the Gaussian window; the window radius is
   * `floor(3.5 sigma + 0.5)` (5 for 1.5, an 11-tap window).
   * @defaultValue 1.5
   */
  sigma?: number;
  /**
   * The constant `K1` of `C1 = (K1 R)^2`.
   * @defaultValue 0.01
   */
  k1?: number;
  /**
   * The constant `K2` of `C2 = (K2 R)^2`.
   * @defaultValue 0.03
   */
  k2?: number;
}

/** A metric of two images, such as {@link mse} or {@link ssim}. */
export type ImageMetric<O extends ImageMetricOptions> = (image: Grid, reference: Grid, options: O) => number;

function normaliseAxis(axis: number, rank: number, fn: string): number {
  if (!Number.isInteger(axis) || axis < -rank || axis >= rank) {
    throw argError('options.channelAxis', fn, `must be an integer in [${-rank}, ${rank - 1}], got ${String(axis)}`);
  }
  return axis < 0 ? axis + rank : axis;
}

function splitChannels(grid: Grid, axis: number): Grid[] {
  const shape = grid.shape;
  const channels = shape[axis]!;
  let outer = 1;
  for (let a = 0; a < axis; a++) outer *= shape[a]!;
  let inner = 1;
  for (let a = axis + 1; a < shape.length; a++) inner *= shape[a]!;
  const spatial = Array.from(shape).filter((_, a) => a !== axis);
  const src = grid.data;
  const out: Grid[] = [];
  for (let c = 0; c < channels; c++) {
    const data = new Float64Array(outer * inner);
    for (let o = 0; o < outer; o++) {
      const s = (o * channels + c) * inner;
      const d = o * inner;
      for (let i = 0; i < inner; i++) data[d + i] = src[s + i]!;
    }
    out.push({ data, shape: spatial });
  }
  return out;
}

function perChannelImpl<O extends ImageMetricOptions>(
  metric: ImageMetric<O>,
  image: Grid,
  reference: Grid,
  options: O,
  fn: string,
): number[] {
  if (options.channelAxis === undefined) {
    throw argError('options.channelAxis', fn, 'is required');
  }
  checkGrid(image, 'image', fn, 3, 4);
  checkGrid(reference, 'reference', fn, 3, 4);
  checkSameShape(image, reference, 'image', 'reference', fn);
  const axis = normaliseAxis(options.channelAxis, image.shape.length, fn);
  const xs = splitChannels(image, axis);
  const ys = splitChannels(reference, axis);
  let masks: Grid[] | undefined;
  const mask = options.mask;
  if (mask !== undefined) {
    checkGrid(mask, 'options.mask', fn, 2, 4);
    if (mask.shape.length === image.shape.length) {
      checkSameShape(image, mask, 'image', 'options.mask', fn);
      masks = splitChannels(mask, axis);
    }
  }
  return xs.map((x, c) => metric(x, ys[c]!, { ...options, channelAxis: undefined, mask: masks ? masks[c] : mask }));
}

/**
 * Computes an image metric separately for each channel along
 * `options.channelAxis` and returns the per-channel values (the metrics
 * themselves return their mean when given `channelAxis`).
 *
 * @example
 * ```ts
 * const perModality = perChannel(ssim, generated, real, { channelAxis: 0, dataRange: 1 });
 * ```
 * @param metric - {@link mse}, {@link mae}, {@link psnr} or {@link ssim}.
 * @param image - a grid with a channel axis (3-D or 4-D in all).
 * @param reference - same shape.
 * @param options - the metric's options; `channelAxis` is required.
 * @returns one value per channel.
 */
export function perChannel<O extends ImageMetricOptions>(
  metric: ImageMetric<O>,
  image: Grid,
  reference: Grid,
  options: O & { channelAxis: number },
): number[] {
  if (typeof metric !== 'function') throw argError('metric', 'perChannel', 'must be a metric function such as ssim');
  return perChannelImpl(metric, image, reference, options, 'perChannel');
}

function mean(values: number[]): number {
  let s = 0;
  for (const v of values) s += v;
  return s / values.length;
}

/** Validates two images and the optional mask; returns the mask (or undefined). */
function prepare(image: Grid, reference: Grid, options: ImageMetricOptions, fn: string, finite = true): Uint8Array | undefined {
  checkGrid(image, 'image', fn);
  checkGrid(reference, 'reference', fn);
  checkSameShape(image, reference, 'image', 'reference', fn);
  if (finite) {
    checkFinite(image.data, 'image', fn);
    checkFinite(reference.data, 'reference', fn);
  }
  if (options.mask === undefined) return undefined;
  checkGrid(options.mask, 'options.mask', fn);
  checkSameShape(image, options.mask, 'image', 'options.mask', fn);
  const t = options.maskThreshold ?? 0;
  checkThreshold(t, 'options.maskThreshold', fn);
  return toMask(options.mask.data, t, 'options.mask', fn);
}

function squaredOrAbsError(image: Grid, reference: Grid, options: ImageMetricOptions, fn: string, squared: boolean): number {
  const mask = prepare(image, reference, options, fn);
  const x = image.data;
  const y = reference.data;
  const n = x.length;
  let sum = 0;
  let count = 0;
  if (mask === undefined) {
    if (squared) {
      for (let i = 0; i < n; i++) {
        const d = x[i]! - y[i]!;
        sum += d * d;
      }
    } else {
      for (let i = 0; i < n; i++) sum += Math.abs(x[i]! - y[i]!);
    }
    count = n;
  } else {
    for (let i = 0; i < n; i++) {
      if (mask[i] === 0) continue;
      const d = x[i]! - y[i]!;
      sum += squared ? d * d : Math.abs(d);
      count++;
    }
    if (count === 0) throw argError('options.mask', fn, 'selects no voxels');
  }
  return sum / count;
}

function checkOptions(options: unknown, fn: string): void {
  if (options === null || typeof options !== 'object') throw argError('options', fn, 'must be an object');
}

/**
 * Mean squared error `mean((image - reference)^2)` over all voxels or the
 * mask's voxels (like `skimage.metrics.mean_squared_error`).
 *
 * @param image - a 2-D or 3-D grid (one more axis with `channelAxis`).
 * @param reference - same shape.
 * @param options - see {@link ImageMetricOptions}.
 * @returns the MSE (mean over channels with `channelAxis`).
 */
export function mse(image: Grid, reference: Grid, options: ImageMetricOptions = {}): number {
  checkOptions(options, 'mse');
  if (options.channelAxis !== undefined) return mean(perChannelImpl(mse, image, reference, options, 'mse'));
  return squaredOrAbsError(image, reference, options, 'mse', true);
}

/**
 * Mean absolute error `mean(|image - reference|)` over all voxels or the
 * mask's voxels.
 *
 * @param image - a 2-D or 3-D grid (one more axis with `channelAxis`).
 * @param reference - same shape.
 * @param options - see {@link ImageMetricOptions}.
 * @returns the MAE (mean over channels with `channelAxis`).
 */
export function mae(image: Grid, reference: Grid, options: ImageMetricOptions = {}): number {
  checkOptions(options, 'mae');
  if (options.channelAxis !== undefined) return mean(perChannelImpl(mae, image, reference, options, 'mae'));
  return squaredOrAbsError(image, reference, options, 'mae', false);
}

function checkDataRange(r: unknown, fn: string): number {
  if (typeof r !== 'number' || !Number.isFinite(r) || r <= 0) {
    throw argError('options.dataRange', fn, `must be a finite positive number (the images' max minus min possible value), got ${String(r)}`);
  }
  return r;
}

/**
 * Peak signal-to-noise ratio `10 log10(dataRange^2 / MSE)` in dB, over all
 * voxels or the mask's voxels (like
 * `skimage.metrics.peak_signal_noise_ratio(data_range=dataRange)`);
 * `Infinity` for identical images. With `channelAxis`, the mean of the
 * per-channel PSNRs.
 *
 * @param image - a 2-D or 3-D grid (one more axis with `channelAxis`).
 * @param reference - same shape.
 * @param options - see {@link PsnrOptions}; `dataRange` is required.
 * @returns the PSNR in dB.
 */
export function psnr(image: Grid, reference: Grid, options: PsnrOptions): number {
  const fn = 'psnr';
  checkOptions(options, fn);
  const r = checkDataRange(options.dataRange, fn);
  if (options.channelAxis !== undefined) return mean(perChannelImpl(psnr, image, reference, options, fn));
  const e = squaredOrAbsError(image, reference, options, fn, true);
  return 10 * Math.log10((r * r) / e);
}

/** The normalised 1-D Gaussian kernel of scipy.ndimage (radius `floor(3.5 sigma + 0.5)`). */
function gaussianKernel(sigma: number): Float64Array {
  const r = Math.floor(3.5 * sigma + 0.5);
  const w = new Float64Array(2 * r + 1);
  let s = 0;
  for (let i = -r; i <= r; i++) {
    const v = Math.exp((-0.5 / (sigma * sigma)) * i * i);
    w[i + r] = v;
    s += v;
  }
  for (let i = 0; i < w.length; i++) w[i]! /= s;
  return w;
}

/**
 * Along the contiguous axis: `dst[dOff + j] = Σ_k w[k] src[j + k]` for
 * `j < n` (a symmetric kernel; the default 11-tap window is unrolled).
 */
function convolveRow(src: Float64Array, dst: Float64Array, dOff: number, n: number, w: Float64Array, r: number): void {
  if (r === 5) {
    const w0 = w[0]!;
    const w1 = w[1]!;
    const w2 = w[2]!;
    const w3 = w[3]!;
    const w4 = w[4]!;
    const w5 = w[5]!;
    for (let j = 0; j < n; j++) {
      dst[dOff + j] =
        w5 * src[j + 5]! +
        w0 * (src[j]! + src[j + 10]!) +
        w1 * (src[j + 1]! + src[j + 9]!) +
        w2 * (src[j + 2]! + src[j + 8]!) +
        w3 * (src[j + 3]! + src[j + 7]!) +
        w4 * (src[j + 4]! + src[j + 6]!);
    }
    return;
  }
  const wr = w[r]!;
  for (let j = 0; j < n; j++) {
    let s = wr * src[j + r]!;
    for (let k = 0; k < r; k++) s += w[k]! * (src[j + k]! + src[j + 2 * r - k]!);
    dst[dOff + j] = s;
  }
}

/**
 * Along the middle axis: `dst[dOff + j] = Σ_k w[k] src[offs[k] + j]` for
 * `j < n`, the `2r + 1` rows at `offs` being the last rows filtered along the
 * last axis (a ring buffer small enough to stay in cache).
 */
function combineRows(src: Float64Array, offs: Int32Array, dst: Float64Array, dOff: number, n: number, w: Float64Array, r: number): void {
  if (r === 5) {
    const w0 = w[0]!;
    const w1 = w[1]!;
    const w2 = w[2]!;
    const w3 = w[3]!;
    const w4 = w[4]!;
    const w5 = w[5]!;
    const a0 = offs[0]!;
    const a1 = offs[1]!;
    const a2 = offs[2]!;
    const a3 = offs[3]!;
    const a4 = offs[4]!;
    const a5 = offs[5]!;
    const a6 = offs[6]!;
    const a7 = offs[7]!;
    const a8 = offs[8]!;
    const a9 = offs[9]!;
    const a10 = offs[10]!;
    for (let j = 0; j < n; j++) {
      dst[dOff + j] =
        w5 * src[a5 + j]! +
        w0 * (src[a0 + j]! + src[a10 + j]!) +
        w1 * (src[a1 + j]! + src[a9 + j]!) +
        w2 * (src[a2 + j]! + src[a8 + j]!) +
        w3 * (src[a3 + j]! + src[a7 + j]!) +
        w4 * (src[a4 + j]! + src[a6 + j]!);
    }
    return;
  }
  const wr = w[r]!;
  const ar = offs[r]!;
  for (let j = 0; j < n; j++) dst[dOff + j] = wr * src[ar + j]!;
  for (let k = 0; k < r; k++) {
    const a = offs[k]!;
    const b = offs[2 * r - k]!;
    const wk = w[k]!;
    for (let j = 0; j < n; j++) dst[dOff + j]! += wk * (src[a + j]! + src[b + j]!);
  }
}

/** Number of filtered local statistics: E[x], E[y], E[x^2 + y^2], E[xy]. */
const NQ = 4;

/**
 * Adds the SSIM map of `n` voxels to `acc` (`[sum, count]`), from the four
 * filtered statistics `q` (E[x], E[y], E[x^2 + y^2], E[xy]; SSIM only needs
 * the sum of the two variances); with a mask,
 * only voxels `j` where `mask[mOff + j]` is non-zero.
 */
function accumulateRow(
  q: Float64Array[],
  n: number,
  mask: Uint8Array | undefined,
  mOff: number,
  c1: number,
  c2: number,
  acc: Float64Array,
): void {
  const ux = q[0]!;
  const uy = q[1]!;
  const uss = q[2]!;
  const uxy = q[3]!;
  let sum = 0;
  let count = 0;
  for (let i = 0; i < n; i++) {
    if (mask !== undefined && mask[mOff + i] === 0) continue;
    const mx = ux[i]!;
    const my = uy[i]!;
    const m2 = mx * mx + my * my;
    // vx + vy = E[x^2 + y^2] - mx^2 - my^2; vxy = E[xy] - mx my
    const vxy = uxy[i]! - mx * my;
    sum += ((2 * mx * my + c1) * (2 * vxy + c2)) / ((m2 + c1) * (uss[i]! - m2 + c2));
    count++;
  }
  acc[0]! += sum;
  acc[1]! += count;
}

/**
 * Mean of the SSIM map over the voxels at least `r` from every edge (and in
 * the mask). Only those voxels are computed: their Gaussian windows lie
 * inside the image, so no boundary mode is involved (skimage's result there
 * does not depend on its padding either). Separable filtering of the four
 * local statistics E[x], E[y], E[x^2 + y^2], E[xy] (SSIM needs only the sum
 * of the variances), each axis streamed through a ring buffer of the last
 * `2r + 1` filtered rows (2-D) or planes (3-D), so memory stays O(plane).
 */
function ssimCore(
  x: ArrayLike<number>,
  y: ArrayLike<number>,
  shape: readonly number[],
  mask: Uint8Array | undefined,
  dataRange: number,
  sigma: number,
  k1: number,
  k2: number,
  fn: string,
): number {
  const rank = shape.length;
  const D = rank === 3 ? shape[0]! : 1;
  const H = shape[rank - 2]!;
  const W = shape[rank - 1]!;
  const w = gaussianKernel(sigma);
  const r = (w.length - 1) / 2;
  const win = 2 * r + 1;
  for (let a = 0; a < rank; a++) {
    if (shape[a]! < win) {
      throw argError('image', fn, `must be at least ${win} voxels along every axis (the Gaussian window for sigma ${sigma}), got shape [${shape.join(', ')}]`);
    }
  }
  const Ho = H - 2 * r;
  const Wo = W - 2 * r;
  const plane = Ho * Wo;
  // 3-D: planes filtered along the two last axes, ring of the last 2r + 1.
  const ring: Float64Array[] = [];
  const rows: Float64Array[] = [];
  const tmp: Float64Array[] = [];
  const out: Float64Array[] = [];
  for (let q = 0; q < NQ; q++) {
    if (rank === 3) ring.push(new Float64Array(win * plane));
    rows.push(new Float64Array(W));
    tmp.push(new Float64Array(win * Wo));
    out.push(new Float64Array(Wo));
  }
  const rx = rows[0]!;
  const ry = rows[1]!;
  const rss = rows[2]!;
  const rxy = rows[3]!;
  const c1 = (k1 * dataRange) ** 2;
  const c2 = (k2 * dataRange) ** 2;
  const acc = new Float64Array(2);
  const slots = new Int32Array(win);
  const rowOffs = new Int32Array(win);
  let guard = 0; // stays 0 unless a value is NaN or infinite
  for (let d = 0; d < D; d++) {
    const slot = d % win;
    // Along the last axis, row by row (the products are formed here), into a
    // ring of the last 2r + 1 rows; then along the middle axis from that ring.
    for (let h = 0; h < H; h++) {
      const base = (d * H + h) * W;
      for (let c = 0; c < W; c++) {
        const xv = x[base + c]!;
        const yv = y[base + c]!;
        guard += xv - xv + (yv - yv);
        rx[c] = xv;
        ry[c] = yv;
        rss[c] = xv * xv + yv * yv;
        rxy[c] = xv * yv;
      }
      const rowSlot = (h % win) * Wo;
      for (let q = 0; q < NQ; q++) convolveRow(rows[q]!, tmp[q]!, rowSlot, Wo, w, r);
      if (h >= 2 * r) {
        const ho = h - 2 * r;
        for (let k = 0; k < win; k++) rowOffs[k] = ((ho + k) % win) * Wo;
        if (rank === 2) {
          for (let q = 0; q < NQ; q++) combineRows(tmp[q]!, rowOffs, out[q]!, 0, Wo, w, r);
          accumulateRow(out, Wo, mask, (ho + r) * W + r, c1, c2, acc);
        } else {
          for (let q = 0; q < NQ; q++) combineRows(tmp[q]!, rowOffs, ring[q]!, slot * plane + ho * Wo, Wo, w, r);
        }
      }
    }
    if (rank === 3 && d >= 2 * r) {
      // Along the first axis over the last 2r + 1 planes, row by row; output plane dOut.
      const dOut = d - 2 * r;
      for (let ho = 0; ho < Ho; ho++) {
        for (let k = 0; k < win; k++) slots[k] = ((dOut + k) % win) * plane + ho * Wo;
        for (let q = 0; q < NQ; q++) combineRows(ring[q]!, slots, out[q]!, 0, Wo, w, r);
        accumulateRow(out, Wo, mask, ((dOut + r) * H + ho + r) * W + r, c1, c2, acc);
      }
    }
  }
  if (guard !== 0) {
    checkFinite(x, 'image', fn);
    checkFinite(y, 'reference', fn);
  }
  if (acc[1] === 0) {
    throw argError('options.mask', fn, `selects no voxel at least ${r} voxels away from the image's edges (where SSIM is defined)`);
  }
  return acc[0]! / acc[1]!;
}

/**
 * The mean structural similarity index (SSIM), like
 * `skimage.metrics.structural_similarity(image, reference,
 * gaussian_weights=True, sigma=1.5, use_sample_covariance=False,
 * data_range=dataRange)` in 2-D and 3-D: local statistics under a Gaussian
 * window (sigma 1.5, 11 taps), `C1 = (0.01 R)^2`, `C2 = (0.03 R)^2`, and the
 * SSIM map averaged over the voxels at least 5 voxels away from every edge
 * (skimage's crop). With a mask, the average is over those voxels that are
 * also in the mask (the windows still see unmasked neighbours). With
 * `channelAxis`, the mean of the per-channel values (skimage's
 * `channel_axis`).
 *
 * @param image - a 2-D or 3-D grid, at least 11 voxels along every axis.
 * @param reference - same shape.
 * @param options - see {@link SsimOptions}; `dataRange` is required.
 * @returns the mean SSIM, at most 1.
 */
export function ssim(image: Grid, reference: Grid, options: SsimOptions): number {
  const fn = 'ssim';
  checkOptions(options, fn);
  const r = checkDataRange(options.dataRange, fn);
  const sigma = options.sigma ?? 1.5;
  if (typeof sigma !== 'number' || !Number.isFinite(sigma) || sigma <= 0) {
    throw argError('options.sigma', fn, `must be a finite positive number, got ${String(sigma)}`);
  }
  const k1 = options.k1 ?? 0.01;
  const k2 = options.k2 ?? 0.03;
  for (const [name, k] of [['options.k1', k1], ['options.k2', k2]] as const) {
    if (typeof k !== 'number' || !Number.isFinite(k) || k <= 0) throw argError(name, fn, `must be a finite positive number, got ${String(k)}`);
  }
  if (options.channelAxis !== undefined) return mean(perChannelImpl(ssim, image, reference, options, fn));
  // ssimCore reads every value once and reports non-finite input itself.
  const mask = prepare(image, reference, options, fn, false);
  return ssimCore(image.data, reference.data, image.shape, mask, r, sigma, k1, k2, fn);
}
