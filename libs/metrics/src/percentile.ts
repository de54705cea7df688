/**
 * Percentiles with numpy's default (linear) interpolation, by selection
 * instead of sorting.
 */
import { argError } from './grid.js';

function swap(a: Float64Array, i: number, j: number): void {
  const t = a[i]!;
  a[i] = a[j]!;
  a[j] = t;
}

/**
 * Rearranges `a[left..right]` so that `a[k]` is the k-th smallest value, with
 * no larger value before it and no smaller value after it (Floyd-Rivest).
 */
function select(a: Float64Array, k: number, left: number, right: number): void {
  while (right > left) {
    if (right - left > 600) {
      const n = right - left + 1;
      const m = k - left + 1;
      const z = Math.log(n);
      const s = 0.5 * Math.exp((2 * z) / 3);
      const sd = 0.5 * Math.sqrt((z * s * (n - s)) / n) * (m - n / 2 < 0 ? -1 : 1);
      const newLeft = Math.max(left, Math.floor(k - (m * s) / n + sd));
      const newRight = Math.min(right, Math.floor(k + ((n - m) * s) / n + sd));
      select(a, k, newLeft, newRight);
    }
    const t = a[k]!;
    let i = left;
    let j = right;
    swap(a, left, k);
    if (a[right]! > t) swap(a, left, right);
    while (i < j) {
      swap(a, i, j);
      i++;
      j--;
      while (a[i]! < t) i++;
      while (a[j]! > t) j--;
    }
    if (a[left] === t) swap(a, left, j);
    else {
      j++;
      swap(a, j, right);
    }
    if (j <= k) left = j + 1;
    if (k <= j) right = j - 1;
  }
}

/** The `p`-th percentile of a non-empty NaN-free `a`, reordered in place (no argument checks). */
function percentileOf(a: Float64Array, p: number): number {
  const n = a.length;
  if (n === 1) return a[0]!;
  const q = p / 100;
  // numpy's virtual index for method 'linear': (n - 1) * q, operation for operation.
  const virtual = (n - 1) * q;
  let lo = Math.floor(virtual);
  if (lo > n - 1) lo = n - 1;
  const gamma = virtual - lo;
  select(a, lo, 0, n - 1);
  const below = a[lo]!;
  // The next order statistic (numpy clips its index to n - 1). No shortcut
  // for gamma = 0: numpy interpolates then too, which gives NaN next to an
  // infinity.
  let above = below;
  if (lo < n - 1) {
    above = Infinity;
    for (let i = lo + 1; i < n; i++) if (a[i]! < above) above = a[i]!;
  }
  // numpy's _lerp
  const diff = above - below;
  return gamma >= 0.5 ? above - diff * (1 - gamma) : below + diff * gamma;
}

function checkP(p: unknown, fn: string): void {
  if (typeof p !== 'number' || !(p >= 0 && p <= 100)) {
    throw argError('p', fn, `must be a number in [0, 100], got ${String(p)}`);
  }
}

/**
 * {@link percentile} without the copy, for large arrays: the `p`-th
 * percentile of `a` with numpy's linear interpolation, bit for bit, found by
 * selection (linear time). `a` is reordered. Unlike {@link percentile},
 * infinite values are allowed and give what `numpy.percentile` gives (`NaN`
 * wherever its interpolation meets an infinity); NaN is refused.
 *
 * @param a - a non-empty Float64Array without NaN; it is reordered.
 * @param p - the percentile in [0, 100].
 * @returns the percentile.
 */
export function percentileInPlace(a: Float64Array, p: number): number {
  const fn = 'percentileInPlace';
  if (!(a instanceof Float64Array)) throw argError('a', fn, 'must be a Float64Array');
  if (a.length === 0) throw argError('a', fn, 'must not be empty');
  checkP(p, fn);
  for (let i = 0; i < a.length; i++) {
    if (Number.isNaN(a[i])) throw argError('a', fn, `must not contain NaN, found at index ${i}`);
  }
  return percentileOf(a, p);
}

/**
 * The `p`-th percentile of `values` with linear interpolation, exactly like
 * `numpy.percentile(values, p)` (default method `'linear'`): with the values
 * sorted, `v[floor(h)] + (h - floor(h)) (v[floor(h) + 1] - v[floor(h)])`
 * where `h = (n - 1) p / 100`. Runs in linear time (selection, no sort);
 * `values` is not modified.
 *
 * @param values - a non-empty list of finite numbers.
 * @param p - the percentile in [0, 100].
 * @returns the percentile.
 */
export function percentile(values: ArrayLike<number>, p: number): number {
  const fn = 'percentile';
  if (values === null || typeof values !== 'object' || typeof values.length !== 'number') {
    throw argError('values', fn, 'must be an array of numbers');
  }
  if (values.length === 0) throw argError('values', fn, 'must not be empty');
  checkP(p, fn);
  const a = Float64Array.from(values);
  for (let i = 0; i < a.length; i++) {
    if (!Number.isFinite(a[i])) throw argError('values', fn, `must contain only finite values, found ${a[i]} at index ${i}`);
  }
  return percentileOf(a, p);
}
