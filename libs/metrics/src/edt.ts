/**
 * Exact Euclidean distance transform with anisotropic spacing
 * (Felzenszwalb & Huttenlocher 2012, separable lower envelopes of parabolas).
 */
import { type Float64Grid, type Grid, checkGrid, checkThreshold, resolveSpacing, toMask } from './grid.js';

/** Options of {@link euclideanDistanceTransform}. */
export interface EdtOptions {
  /**
   * Voxel size per axis; overrides `mask.spacing`.
   * @defaultValue `mask.spacing`, else all ones
   */
  spacing?: readonly number[];
  /**
   * A voxel is foreground when its value is greater than this.
   * @defaultValue 0
   */
  threshold?: number;
  /**
   * Return squared distances (skips the square roots).
   * @defaultValue false
   */
  squared?: boolean;
}

/** Reusable work buffers for {@link squaredEdtInto}. */
export interface EdtScratch {
  f: Float64Array;
  d: Float64Array;
  z: Float64Array;
  v: Int32Array;
}

/** @internal Allocates work buffers for lines of up to `n` voxels. */
export function edtScratch(n: number): EdtScratch {
  return { f: new Float64Array(n), d: new Float64Array(n), z: new Float64Array(n + 1), v: new Int32Array(n) };
}

/**
 * 1-D squared distance transform of a sampled function `f` (Infinity where
 * there is no feature) with squared spacing `w`: `d[q] = min_p w (q - p)^2 + f[p]`.
 */
function envelope(f: Float64Array, d: Float64Array, n: number, w: number, v: Int32Array, z: Float64Array): void {
  let k = -1;
  for (let q = 0; q < n; q++) {
    const fq = f[q]!;
    if (fq === Infinity) continue;
    if (k < 0) {
      k = 0;
      v[0] = q;
      z[0] = -Infinity;
      z[1] = Infinity;
      continue;
    }
    const gq = fq + w * q * q;
    let s = 0;
    for (;;) {
      const p = v[k]!;
      s = (gq - (f[p]! + w * p * p)) / (2 * w * (q - p));
      if (s <= z[k]!) k--;
      else break;
    }
    k++;
    v[k] = q;
    z[k] = s;
    z[k + 1] = Infinity;
  }
  if (k < 0) {
    d.fill(Infinity, 0, n);
    return;
  }
  k = 0;
  for (let q = 0; q < n; q++) {
    while (z[k + 1]! < q) k++;
    const p = v[k]!;
    const dq = q - p;
    d[q] = w * dq * dq + f[p]!;
  }
}

/**
 * @internal Squared Euclidean distance from every voxel to the nearest voxel
 * whose mask value equals `featureValue`, on a row-major grid of rank 1 to 3
 * with the given spacing. Voxels are Infinity when there is no feature.
 * With `query`, the result is only guaranteed where `query` is non-zero (the
 * last pass skips lines without a query voxel).
 */
export function squaredEdtInto(
  mask: Uint8Array,
  featureValue: 0 | 1,
  shape: readonly number[],
  spacing: ArrayLike<number>,
  out: Float64Array,
  scratch?: EdtScratch,
  query?: Uint8Array,
): Float64Array {
  const rank = shape.length;
  const n2 = shape[rank - 1]!;
  const n1 = rank >= 2 ? shape[rank - 2]! : 1;
  const n0 = rank >= 3 ? shape[rank - 3]! : 1;
  const w2 = spacing[rank - 1]! * spacing[rank - 1]!;
  const maxLine = Math.max(n0, n1, n2);
  const sc = scratch && scratch.f.length >= maxLine ? scratch : edtScratch(maxLine);
  const { f, d, z, v } = sc;
  const lines = n0 * n1;
  // Pass 1, along the contiguous last axis: two linear scans.
  for (let line = 0; line < lines; line++) {
    const base = line * n2;
    let last = -1;
    for (let i = 0; i < n2; i++) {
      if (mask[base + i] === featureValue) {
        last = i;
        out[base + i] = 0;
      } else {
        out[base + i] = last < 0 ? Infinity : i - last;
      }
    }
    last = -1;
    for (let i = n2 - 1; i >= 0; i--) {
      const o = base + i;
      if (out[o] === 0) {
        last = i;
      } else {
        if (last >= 0) {
          const dd = last - i;
          if (dd < out[o]!) out[o] = dd;
        }
        const x = out[o]!;
        out[o] = x === Infinity ? Infinity : w2 * x * x;
      }
    }
  }
  // Pass 2, along axis rank-2 (stride n2).
  if (rank >= 2 && n1 > 1) {
    const w1 = spacing[rank - 2]! * spacing[rank - 2]!;
    const q2 = rank === 2 ? query : undefined;
    for (let i0 = 0; i0 < n0; i0++) {
      const sliceBase = i0 * n1 * n2;
      for (let i2 = 0; i2 < n2; i2++) {
        const base = sliceBase + i2;
        let any = false;
        let all = true;
        let wanted = q2 === undefined;
        for (let i1 = 0, o = base; i1 < n1; i1++, o += n2) {
          const x = out[o]!;
          f[i1] = x;
          if (x !== Infinity) any = true;
          if (x !== 0) all = false;
          if (!wanted && q2 !== undefined && q2[o] !== 0) wanted = true;
        }
        if (!any || all || !wanted) continue;
        envelope(f, d, n1, w1, v, z);
        for (let i1 = 0, o = base; i1 < n1; i1++, o += n2) out[o] = d[i1]!;
      }
    }
  }
  // Pass 3, along axis rank-3 (stride n1 * n2).
  if (rank >= 3 && n0 > 1) {
    const w0 = spacing[rank - 3]! * spacing[rank - 3]!;
    const stride = n1 * n2;
    for (let base = 0; base < stride; base++) {
      let any = false;
      let all = true;
      let wanted = query === undefined;
      for (let i0 = 0, o = base; i0 < n0; i0++, o += stride) {
        const x = out[o]!;
        f[i0] = x;
        if (x !== Infinity) any = true;
        if (x !== 0) all = false;
        if (!wanted && query !== undefined && query[o] !== 0) wanted = true;
      }
      if (!any || all || !wanted) continue;
      envelope(f, d, n0, w0, v, z);
      for (let i0 = 0, o = base; i0 < n0; i0++, o += stride) out[o] = d[i0]!;
    }
  }
  return out;
}

/**
 * The exact Euclidean distance transform, like
 * `scipy.ndimage.distance_transform_edt(mask, sampling=spacing)`: every
 * foreground voxel (value greater than `threshold`) gets its distance to the
 * nearest background voxel, in the units of `spacing`; background voxels get
 * 0. If the grid has no background voxel at all, every voxel is `Infinity`
 * (scipy returns meaningless values there).
 *
 * Linear time (Felzenszwalb & Huttenlocher's lower envelope of parabolas,
 * one pass per axis), typed arrays only.
 *
 * @param mask - a 2-D or 3-D grid.
 * @param options - see {@link EdtOptions}.
 * @returns a grid of the same shape and spacing holding the distances.
 */
export function euclideanDistanceTransform(mask: Grid, options: EdtOptions = {}): Float64Grid {
  const fn = 'euclideanDistanceTransform';
  const n = checkGrid(mask, 'mask', fn);
  const threshold = options.threshold ?? 0;
  checkThreshold(threshold, 'options.threshold', fn);
  const spacing = resolveSpacing(options.spacing, mask, undefined, mask.shape.length, fn, 'mask');
  const m = toMask(mask.data, threshold, 'mask', fn);
  const out = new Float64Array(n);
  squaredEdtInto(m, 0, mask.shape, spacing, out);
  if (!options.squared) for (let i = 0; i < n; i++) out[i] = Math.sqrt(out[i]!);
  return { data: out, shape: Array.from(mask.shape), spacing: Array.from(spacing) };
}
