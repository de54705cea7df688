/**
 * Surfaces (mask minus its erosion) and surface-distance metrics: Hausdorff,
 * HD95 (two documented variants) and ASSD.
 */
import { squaredEdtInto, edtScratch } from './edt.js';
import {
  type Grid,
  type MaskGrid,
  argError,
  checkGrid,
  checkFinite,
  checkSameShape,
  checkThreshold,
  resolveSpacing,
  toMask,
} from './grid.js';
import { type EmptyMaskPolicy, resolvePolicy } from './policy.js';
import { percentileInPlace } from './percentile.js';

/** Options of {@link surface}. */
export interface SurfaceOptions {
  /**
   * Neighbourhood of the erosion, as in
   * `scipy.ndimage.generate_binary_structure(rank, connectivity)`: 1 = face
   * neighbours (4 in 2-D, 6 in 3-D), 2 = faces and edges (8 / 18), 3 = all 26
   * (3-D only).
   * @defaultValue 1
   */
  connectivity?: number;
  /**
   * A voxel is in the mask when its value is greater than this.
   * @defaultValue 0
   */
  threshold?: number;
}

/** Options shared by the surface-distance metrics. */
export interface SurfaceDistanceOptions extends SurfaceOptions {
  /**
   * Voxel size per axis (e.g. mm); overrides the grids' `spacing`.
   * @defaultValue the grids' spacing (which must agree), else all ones
   */
  spacing?: readonly number[];
  /**
   * Overrides of the {@link DEFAULT_EMPTY_MASK_POLICY}.
   * @defaultValue DEFAULT_EMPTY_MASK_POLICY
   */
  emptyPolicy?: Partial<EmptyMaskPolicy>;
}

/** Options of {@link hausdorff95}. */
export interface Hausdorff95Options extends SurfaceDistanceOptions {
  /**
   * - `'max'`: `max(P95(d(S_P -> S_R)), P95(d(S_R -> S_P)))`, the larger of
   *   the two directed percentiles (MONAI, Metrics Reloaded).
   * - `'pooled'`: `P95(d(S_P -> S_R) ∪ d(S_R -> S_P))`, one percentile of
   *   both directed distance sets pooled (medpy's `hd95`).
   * @defaultValue 'max'
   */
  variant?: 'max' | 'pooled';
  /**
   * The percentile, in [0, 100] (numpy.percentile, linear interpolation).
   * @defaultValue 95
   */
  percentile?: number;
}

/** Options of {@link assd}. */
export interface AssdOptions extends SurfaceDistanceOptions {
  /**
   * - `'pooled'`: `(Σ d(S_P -> S_R) + Σ d(S_R -> S_P)) / (|S_P| + |S_R|)`
   *   (Heimann et al. 2009; MONAI `average_surface_distance(symmetric=True)`).
   * - `'mean'`: `(mean d(S_P -> S_R) + mean d(S_R -> S_P)) / 2` (medpy's `assd`).
   * @defaultValue 'pooled'
   */
  variant?: 'pooled' | 'mean';
}

/** The two directed surface-distance sets of {@link surfaceDistances}. */
export interface SurfaceDistances {
  /** For each surface voxel of the prediction (row-major order), the distance to the nearest reference surface voxel. */
  predictionToReference: Float64Array;
  /** For each surface voxel of the reference (row-major order), the distance to the nearest prediction surface voxel. */
  referenceToPrediction: Float64Array;
  /** Whether the prediction mask is empty. */
  predictionEmpty: boolean;
  /** Whether the reference mask is empty. */
  referenceEmpty: boolean;
}

/** @internal Flat offsets and per-axis deltas of a structuring element. */
function neighbourOffsets(shape: readonly number[], connectivity: number): number[] {
  const rank = shape.length;
  const strides: number[] = new Array(rank);
  let s = 1;
  for (let a = rank - 1; a >= 0; a--) {
    strides[a] = s;
    s *= shape[a]!;
  }
  const offsets: number[] = [];
  const total = 3 ** rank;
  for (let code = 0; code < total; code++) {
    let c = code;
    let nonzero = 0;
    let off = 0;
    for (let a = 0; a < rank; a++) {
      const d = (c % 3) - 1;
      c = Math.floor(c / 3);
      if (d !== 0) nonzero++;
      off += d * strides[a]!;
    }
    if (nonzero > 0 && nonzero <= connectivity) offsets.push(off);
  }
  return offsets;
}

/**
 * @internal Writes `mask AND NOT erosion(mask)` into `out`; outside the grid
 * counts as background (scipy's `binary_erosion(border_value=0)`), so mask
 * voxels on the grid's edge are surface voxels. Returns the surface count.
 */
export function surfaceInto(mask: Uint8Array, shape: readonly number[], connectivity: number, out: Uint8Array): number {
  const rank = shape.length;
  const offsets = neighbourOffsets(shape, connectivity);
  const no = offsets.length;
  const n2 = shape[rank - 1]!;
  const n1 = rank >= 2 ? shape[rank - 2]! : 1;
  const n0 = rank >= 3 ? shape[rank - 3]! : 1;
  const has0 = rank >= 3;
  const has1 = rank >= 2;
  let count = 0;
  let i = 0;
  for (let i0 = 0; i0 < n0; i0++) {
    const edge0 = has0 && (i0 === 0 || i0 === n0 - 1);
    for (let i1 = 0; i1 < n1; i1++) {
      const edge01 = edge0 || (has1 && (i1 === 0 || i1 === n1 - 1));
      for (let i2 = 0; i2 < n2; i2++, i++) {
        if (mask[i] === 0) {
          out[i] = 0;
          continue;
        }
        let isSurface = edge01 || i2 === 0 || i2 === n2 - 1;
        if (!isSurface) {
          for (let k = 0; k < no; k++) {
            if (mask[i + offsets[k]!] === 0) {
              isSurface = true;
              break;
            }
          }
        }
        if (isSurface) {
          out[i] = 1;
          count++;
        } else {
          out[i] = 0;
        }
      }
    }
  }
  return count;
}

function checkConnectivity(c: number, rank: number, fn: string): void {
  if (!Number.isInteger(c) || c < 1 || c > rank) {
    throw argError('options.connectivity', fn, `must be an integer from 1 to ${rank} for a ${rank}-D grid, got ${String(c)}`);
  }
}

/**
 * The surface (boundary) of a mask: the mask minus its binary erosion, like
 * `mask & ~scipy.ndimage.binary_erosion(mask, generate_binary_structure(rank, connectivity))`.
 * Outside the grid counts as background, so mask voxels touching the grid's
 * edge are surface voxels.
 *
 * @param mask - a 2-D or 3-D grid (foreground: value greater than `threshold`).
 * @param options - see {@link SurfaceOptions}.
 * @returns a 0/1 grid of the same shape (and spacing, if any).
 */
export function surface(mask: Grid, options: SurfaceOptions = {}): MaskGrid {
  const fn = 'surface';
  const n = checkGrid(mask, 'mask', fn);
  const connectivity = options.connectivity ?? 1;
  checkConnectivity(connectivity, mask.shape.length, fn);
  const threshold = options.threshold ?? 0;
  checkThreshold(threshold, 'options.threshold', fn);
  const m = toMask(mask.data, threshold, 'mask', fn);
  const out = new Uint8Array(n);
  surfaceInto(m, mask.shape, connectivity, out);
  return { data: out, shape: Array.from(mask.shape), ...(mask.spacing ? { spacing: Array.from(mask.spacing) } : {}) };
}

interface UnionBox {
  lo: number[];
  hi: number[];
  anyP: boolean;
  anyR: boolean;
  bad: boolean;
}

/** 32-bit view of a byte mask when it is 4-byte aligned, else null. */
function words(m: Uint8Array): Uint32Array | null {
  return m.byteOffset % 4 === 0 ? new Uint32Array(m.buffer, m.byteOffset, m.length >> 2) : null;
}

/** First index in [from, to) where `p | r` is non-zero, or -1; skips zeros four bytes at a time. */
function firstNonZero(p: Uint8Array, r: Uint8Array, p32: Uint32Array | null, r32: Uint32Array | null, from: number, to: number): number {
  let i = from;
  if (p32 !== null && r32 !== null) {
    while (i < to && (i & 3) !== 0) {
      if ((p[i]! | r[i]!) !== 0) return i;
      i++;
    }
    let wi = i >> 2;
    const wend = to >> 2;
    while (wi < wend && (p32[wi]! | r32[wi]!) === 0) wi++;
    i = wi << 2;
  }
  for (; i < to; i++) if ((p[i]! | r[i]!) !== 0) return i;
  return -1;
}

/**
 * {@link unionBox} for two `Uint8Array` masks and a threshold in [0, 1)
 * (`v > t` is `v !== 0`; integers are always finite): a tight OR scan.
 */
function unionBoxBytes(p: Uint8Array, r: Uint8Array, n0: number, n1: number, n2: number): UnionBox {
  const lo = [n0, n1, n2];
  const hi = [-1, -1, -1];
  let anyP = false;
  let anyR = false;
  const p32 = words(p);
  const r32 = p32 === null ? null : words(r);
  let base = 0;
  for (let i0 = 0; i0 < n0; i0++) {
    let sliceAny = false;
    for (let i1 = 0; i1 < n1; i1++, base += n2) {
      const hit = firstNonZero(p, r, p32, r32, base, base + n2);
      if (hit < 0) continue;
      const first = hit - base;
      let last = n2 - 1;
      while ((p[base + last]! | r[base + last]!) === 0) last--;
      if (!anyP) for (let k = first; k <= last && !anyP; k++) anyP = p[base + k] !== 0;
      if (!anyR) for (let k = first; k <= last && !anyR; k++) anyR = r[base + k] !== 0;
      sliceAny = true;
      if (i1 < lo[1]!) lo[1] = i1;
      if (i1 > hi[1]!) hi[1] = i1;
      if (first < lo[2]!) lo[2] = first;
      if (last > hi[2]!) hi[2] = last;
    }
    if (sliceAny) {
      if (i0 < lo[0]!) lo[0] = i0;
      hi[0] = i0;
    }
  }
  return { lo, hi, anyP, anyR, bad: false };
}

/** Bounding box (inclusive) of `p > t OR r > t` on an `[n0, n1, n2]` grid, and whether any value is NaN or infinite. */
function unionBox(p: ArrayLike<number>, r: ArrayLike<number>, t: number, n0: number, n1: number, n2: number): UnionBox {
  const lo = [n0, n1, n2];
  const hi = [-1, -1, -1];
  let anyP = false;
  let anyR = false;
  let bad = false;
  let i = 0;
  for (let i0 = 0; i0 < n0; i0++) {
    let sliceAny = false;
    for (let i1 = 0; i1 < n1; i1++, i += n2) {
      let first = -1;
      let last = -1;
      for (let k = 0; k < n2; k++) {
        const a = p[i + k]!;
        const b = r[i + k]!;
        const ia = a > t;
        const ib = b > t;
        if (ia || ib) {
          if (first < 0) first = k;
          last = k;
          if (ia) anyP = true;
          if (ib) anyR = true;
        }
        if (a - a !== 0 || b - b !== 0) bad = true;
      }
      if (first >= 0) {
        sliceAny = true;
        if (i1 < lo[1]!) lo[1] = i1;
        if (i1 > hi[1]!) hi[1] = i1;
        if (first < lo[2]!) lo[2] = first;
        if (last > hi[2]!) hi[2] = last;
      }
    }
    if (sliceAny) {
      if (i0 < lo[0]!) lo[0] = i0;
      hi[0] = i0;
    }
  }
  return { lo, hi, anyP, anyR, bad };
}

/**
 * @internal The directed surface distances of two thresholded masks. Work is
 * restricted to the bounding box of the union of both masks, which is exact:
 * every surface voxel lies inside it and voxels outside it are background.
 */
export function surfaceDistancesImpl(
  prediction: Grid,
  reference: Grid,
  options: SurfaceDistanceOptions,
  fn: string,
): SurfaceDistances {
  checkGrid(prediction, 'prediction', fn);
  checkGrid(reference, 'reference', fn);
  checkSameShape(prediction, reference, 'prediction', 'reference', fn);
  const shape = prediction.shape;
  const rank = shape.length;
  const spacing = resolveSpacing(options.spacing, prediction, reference, rank, fn, 'prediction', 'reference');
  const connectivity = options.connectivity ?? 1;
  checkConnectivity(connectivity, rank, fn);
  const threshold = options.threshold ?? 0;
  checkThreshold(threshold, 'options.threshold', fn);
  // One pass over both inputs: the bounding box of the union, whether each
  // mask is empty, and the finiteness check (no full-size mask is allocated).
  const pd = prediction.data;
  const rd = reference.data;
  const n2 = shape[rank - 1]!;
  const n1 = rank >= 2 ? shape[rank - 2]! : 1;
  const n0 = rank >= 3 ? shape[rank - 3]! : 1;
  const bytes = pd instanceof Uint8Array && rd instanceof Uint8Array && threshold >= 0 && threshold < 1;
  const box = bytes ? unionBoxBytes(pd, rd, n0, n1, n2) : unionBox(pd, rd, threshold, n0, n1, n2);
  if (box.bad) {
    checkFinite(pd, 'prediction', fn);
    checkFinite(rd, 'reference', fn);
  }
  if (!box.anyP || !box.anyR) {
    return {
      predictionToReference: new Float64Array(0),
      referenceToPrediction: new Float64Array(0),
      predictionEmpty: !box.anyP,
      referenceEmpty: !box.anyR,
    };
  }
  const { lo, hi } = box;
  // Crop and threshold both masks to the box (byte masks: any non-zero value
  // is foreground, which is all the surface extraction needs).
  const c0 = hi[0]! - lo[0]! + 1;
  const c1 = hi[1]! - lo[1]! + 1;
  const c2 = hi[2]! - lo[2]! + 1;
  const cn = c0 * c1 * c2;
  const cp = new Uint8Array(cn);
  const cr = new Uint8Array(cn);
  let o = 0;
  for (let i0 = lo[0]!; i0 <= hi[0]!; i0++) {
    for (let i1 = lo[1]!; i1 <= hi[1]!; i1++) {
      const src = (i0 * n1 + i1) * n2 + lo[2]!;
      if (bytes) {
        cp.set((pd as Uint8Array).subarray(src, src + c2), o);
        cr.set((rd as Uint8Array).subarray(src, src + c2), o);
        o += c2;
        continue;
      }
      for (let k = 0; k < c2; k++, o++) {
        cp[o] = pd[src + k]! > threshold ? 1 : 0;
        cr[o] = rd[src + k]! > threshold ? 1 : 0;
      }
    }
  }
  const cropShape = rank === 3 ? [c0, c1, c2] : [c1, c2];
  const sp = new Uint8Array(cn);
  const sr = new Uint8Array(cn);
  const np = surfaceInto(cp, cropShape, connectivity, sp);
  const nr = surfaceInto(cr, cropShape, connectivity, sr);
  const dist = new Float64Array(cn);
  const scratch = edtScratch(Math.max(c0, c1, c2));
  const pToR = new Float64Array(np);
  const rToP = new Float64Array(nr);
  squaredEdtInto(sr, 1, cropShape, spacing, dist, scratch, sp);
  for (let j = 0, k = 0; j < cn; j++) if (sp[j] === 1) pToR[k++] = Math.sqrt(dist[j]!);
  squaredEdtInto(sp, 1, cropShape, spacing, dist, scratch, sr);
  for (let j = 0, k = 0; j < cn; j++) if (sr[j] === 1) rToP[k++] = Math.sqrt(dist[j]!);
  return { predictionToReference: pToR, referenceToPrediction: rToP, predictionEmpty: false, referenceEmpty: false };
}

/**
 * The directed surface distances between two masks: for each surface voxel
 * of one mask ({@link surface}), the Euclidean distance (with spacing) to
 * the nearest surface voxel of the other. Empty arrays when a mask is empty.
 *
 * This is what every surface metric here is built on; use it to compute
 * variants not offered directly.
 *
 * @param prediction - the predicted mask.
 * @param reference - the reference mask, same shape.
 * @param options - see {@link SurfaceDistanceOptions} (`emptyPolicy` unused).
 * @returns both directed distance sets.
 */
export function surfaceDistances(prediction: Grid, reference: Grid, options: SurfaceDistanceOptions = {}): SurfaceDistances {
  return surfaceDistancesImpl(prediction, reference, options, 'surfaceDistances');
}

function emptyValue(d: SurfaceDistances, policy: EmptyMaskPolicy): number | undefined {
  if (d.predictionEmpty && d.referenceEmpty) return policy.distanceBothEmpty;
  if (d.predictionEmpty || d.referenceEmpty) return policy.worstDistance;
  return undefined;
}

function maxOf(a: Float64Array): number {
  let m = 0;
  for (let i = 0; i < a.length; i++) if (a[i]! > m) m = a[i]!;
  return m;
}

/**
 * The (symmetric) Hausdorff distance between the surfaces of two masks:
 * `max(max d(S_P -> S_R), max d(S_R -> S_P))`, in the units of the spacing.
 * Empty masks follow the {@link EmptyMaskPolicy}.
 *
 * @param prediction - the predicted mask.
 * @param reference - the reference mask, same shape.
 * @param options - see {@link SurfaceDistanceOptions}.
 * @returns the Hausdorff distance.
 */
export function hausdorff(prediction: Grid, reference: Grid, options: SurfaceDistanceOptions = {}): number {
  const policy = resolvePolicy(options.emptyPolicy, 'hausdorff');
  const d = surfaceDistancesImpl(prediction, reference, options, 'hausdorff');
  const e = emptyValue(d, policy);
  if (e !== undefined) return e;
  return Math.max(maxOf(d.predictionToReference), maxOf(d.referenceToPrediction));
}

/**
 * The 95th-percentile Hausdorff distance (HD95) between the surfaces of two
 * masks, in the units of the spacing. Variant `'max'` (default) is the larger
 * of the two directed 95th percentiles (MONAI, Metrics Reloaded); `'pooled'`
 * is the 95th percentile of both directed sets together (medpy). Percentiles
 * interpolate linearly like `numpy.percentile`. Empty masks follow the
 * {@link EmptyMaskPolicy}.
 *
 * @param prediction - the predicted mask.
 * @param reference - the reference mask, same shape.
 * @param options - see {@link Hausdorff95Options}.
 * @returns HD95.
 */
export function hausdorff95(prediction: Grid, reference: Grid, options: Hausdorff95Options = {}): number {
  const fn = 'hausdorff95';
  const policy = resolvePolicy(options.emptyPolicy, fn);
  const variant = options.variant ?? 'max';
  if (variant !== 'max' && variant !== 'pooled') {
    throw argError('options.variant', fn, `must be 'max' or 'pooled', got ${String(variant)}`);
  }
  const p = options.percentile ?? 95;
  if (typeof p !== 'number' || !(p >= 0 && p <= 100)) {
    throw argError('options.percentile', fn, `must be a number in [0, 100], got ${String(p)}`);
  }
  const d = surfaceDistancesImpl(prediction, reference, options, fn);
  const e = emptyValue(d, policy);
  if (e !== undefined) return e;
  if (variant === 'max') {
    return Math.max(percentileInPlace(d.predictionToReference, p), percentileInPlace(d.referenceToPrediction, p));
  }
  const all = new Float64Array(d.predictionToReference.length + d.referenceToPrediction.length);
  all.set(d.predictionToReference, 0);
  all.set(d.referenceToPrediction, d.predictionToReference.length);
  return percentileInPlace(all, p);
}

function sumOf(a: Float64Array): number {
  let s = 0;
  for (let i = 0; i < a.length; i++) s += a[i]!;
  return s;
}

/**
 * The average symmetric surface distance between two masks, in the units of
 * the spacing. Variant `'pooled'` (default) averages all surface distances
 * of both directions together; `'mean'` averages the two directed means
 * (medpy). Empty masks follow the {@link EmptyMaskPolicy}.
 *
 * @param prediction - the predicted mask.
 * @param reference - the reference mask, same shape.
 * @param options - see {@link AssdOptions}.
 * @returns ASSD.
 */
export function assd(prediction: Grid, reference: Grid, options: AssdOptions = {}): number {
  const fn = 'assd';
  const policy = resolvePolicy(options.emptyPolicy, fn);
  const variant = options.variant ?? 'pooled';
  if (variant !== 'pooled' && variant !== 'mean') {
    throw argError('options.variant', fn, `must be 'pooled' or 'mean', got ${String(variant)}`);
  }
  const d = surfaceDistancesImpl(prediction, reference, options, fn);
  const e = emptyValue(d, policy);
  if (e !== undefined) return e;
  const a = d.predictionToReference;
  const b = d.referenceToPrediction;
  if (variant === 'mean') return (sumOf(a) / a.length + sumOf(b) / b.length) / 2;
  return (sumOf(a) + sumOf(b)) / (a.length + b.length);
}
