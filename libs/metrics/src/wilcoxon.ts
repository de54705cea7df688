/**
 * The Wilcoxon signed-rank test of paired samples (e.g. a metric of the
 * predicted follow-ups against the same metric of the unchanged baselines),
 * as `scipy.stats.wilcoxon` computes it: exact null distribution for small
 * samples without ties or zeros, else the normal approximation with the tie
 * correction.
 */

/** How differences of exactly zero are treated (scipy's `zero_method`). */
export type WilcoxonZeroMethod = 'wilcox' | 'pratt' | 'zsplit';

/** The alternative hypothesis (scipy's `alternative`), about `x - y`. */
export type WilcoxonAlternative = 'two-sided' | 'greater' | 'less';

/** Options of {@link wilcoxon}. */
export interface WilcoxonOptions {
  /**
   * Zero differences: `'wilcox'` drops them before ranking; `'pratt'` ranks
   * them with the others, then drops them (Pratt 1959); `'zsplit'` ranks them
   * and splits their ranks evenly between the positive and negative sums.
   * @defaultValue 'wilcox'
   */
  zeroMethod?: WilcoxonZeroMethod;
  /**
   * `'two-sided'`, `'greater'` (x - y tends to be positive) or `'less'`.
   * @defaultValue 'two-sided'
   */
  alternative?: WilcoxonAlternative;
  /**
   * `'exact'`: the exact null distribution of the positive rank sum (only
   * without zeros or ties: otherwise the approximation is used and
   * `method` in the result says so); `'approx'`: the normal approximation
   * (with the tie correction of the variance); `'auto'`: exact for at most
   * 50 differences without zeros or ties, else the approximation.
   * @defaultValue 'auto'
   */
  method?: 'auto' | 'exact' | 'approx';
  /**
   * Continuity correction (0.5 towards the mean) in the normal approximation.
   * @defaultValue false
   */
  correction?: boolean;
}

/** The result of {@link wilcoxon}. */
export interface WilcoxonResult {
  /** The statistic: `min(R+, R-)` two-sided, `R+` one-sided (as scipy). */
  readonly statistic: number;
  /** The p-value (NaN when there are no pairs). */
  readonly pValue: number;
  /** The sum of the ranks of the positive differences (with `'zsplit'`, half of the zeros' ranks). */
  readonly rPlus: number;
  /** The sum of the ranks of the negative differences. */
  readonly rMinus: number;
  /** The z statistic of the normal approximation (NaN for the exact method). */
  readonly z: number;
  /** Pairs used. */
  readonly n: number;
  /** Differences of exactly zero. */
  readonly zeros: number;
  /** Whether the absolute differences had ties. */
  readonly ties: boolean;
  /** The method actually used. */
  readonly method: 'exact' | 'approx';
}

/** `erfc(x)` for `x >= 0` to about 1e-15 relative: series for `x < 2`, continued fraction beyond. */
function erfc(x: number): number {
  if (x < 2) {
    // erf(x) = 2/sqrt(pi) sum (-1)^n x^(2n+1) / (n! (2n+1))
    let term = x;
    let sum = x;
    const x2 = x * x;
    for (let n = 1; n < 200; n++) {
      term *= -x2 / n;
      const add = term / (2 * n + 1);
      sum += add;
      if (Math.abs(add) < 1e-17 * Math.abs(sum)) break;
    }
    return 1 - (2 / Math.sqrt(Math.PI)) * sum;
  }
  // erfc(x) = exp(-x^2)/sqrt(pi) / (x + (1/2)/(x + 1/(x + (3/2)/(x + ...)))), modified Lentz.
  const tiny = 1e-300;
  let f = x;
  let c = x;
  let d = 0;
  for (let k = 1; k < 500; k++) {
    const a = k / 2;
    d = x + a * d;
    d = Math.abs(d) < tiny ? tiny : d;
    c = x + a / c;
    c = Math.abs(c) < tiny ? tiny : c;
    d = 1 / d;
    const delta = c * d;
    f *= delta;
    if (Math.abs(delta - 1) < 1e-16) break;
  }
  return Math.exp(-x * x) / Math.sqrt(Math.PI) / f;
}

/** The standard normal survival function `P(Z > z)`. */
export function normalSf(z: number): number {
  if (Number.isNaN(z)) return Number.NaN;
  return z >= 0 ? 0.5 * erfc(z / Math.SQRT2) : 1 - 0.5 * erfc(-z / Math.SQRT2);
}

/** Average ranks (1-based) of `values`, ties sharing their mean rank, and whether there were ties; plus each tie group's size. */
function rankAbs(values: readonly number[]): { ranks: number[]; groups: number[] } {
  const order = values.map((v, i) => [v, i] as const).sort((a, b) => a[0] - b[0]);
  const ranks = new Array<number>(values.length);
  const groups: number[] = [];
  for (let i = 0; i < order.length;) {
    let j = i;
    while (j + 1 < order.length && order[j + 1]![0] === order[i]![0]) j++;
    const r = (i + j + 2) / 2;
    for (let k = i; k <= j; k++) ranks[order[k]![1]] = r;
    if (j > i) groups.push(j - i + 1);
    i = j + 1;
  }
  return { ranks, groups };
}

/** The exact null distribution of `R+` for `n` untied ranks: counts of each sum 0..n(n+1)/2, as probabilities. */
function exactPmf(n: number): Float64Array {
  const max = (n * (n + 1)) / 2;
  let counts = new Float64Array(max + 1);
  counts[0] = 1;
  for (let k = 1; k <= n; k++) {
    const next = Float64Array.from(counts);
    for (let s = k; s <= max; s++) next[s]! += counts[s - k]!;
    counts = next;
  }
  const total = 2 ** n;
  return counts.map((c) => c / total);
}

/**
 * The Wilcoxon signed-rank test of paired samples `x` and `y` (or of the
 * differences `x` alone when `y` is omitted): is the distribution of
 * `x - y` symmetric about zero?
 *
 * Computes what `scipy.stats.wilcoxon` computes (checked against scipy 1.10
 * in the tests), with one deliberate difference: `method: 'auto'` uses the
 * exact distribution only without ties as well as without zeros (scipy 1.10
 * uses it with ties, rounding the tied rank sum down; later scipy versions
 * also switch to the approximation with ties). Zeros follow `zeroMethod`;
 * ties get average ranks and the tie correction of the normal variance
 * `n(n+1)(2n+1)/24 - sum(t^3 - t)/48` (with `'pratt'`, the zeros' part
 * `z(z+1)(2z+1)/24` is subtracted as in Cureton 1967). Pairs with a NaN are
 * an error, not dropped silently.
 *
 * @example
 * ```ts
 * const pred = [0.71, 0.64, 0.80, 0.55, 0.68]; // Dice of the predictions, per patient
 * const base = [0.62, 0.60, 0.71, 0.58, 0.61]; // Dice of the unchanged baselines
 * const { statistic, pValue } = wilcoxon(pred, base); // exact: 5 pairs, no ties
 * ```
 *
 * @param x - first sample (or the differences).
 * @param y - second sample, the same length.
 * @param options - see {@link WilcoxonOptions}.
 * @returns the statistic, p-value and what went into them.
 * @throws RangeError for samples of different lengths, non-finite values, bad options, or only zero differences with `'wilcox'`/`'pratt'`.
 */
export function wilcoxon(x: readonly number[], y?: readonly number[], options: WilcoxonOptions = {}): WilcoxonResult {
  const fn = 'wilcoxon';
  if (!Array.isArray(x) && !ArrayBuffer.isView(x)) throw new TypeError(`'x' passed to '${fn}' must be an array of numbers`);
  if (y !== undefined && !Array.isArray(y) && !ArrayBuffer.isView(y)) throw new TypeError(`'y' passed to '${fn}' must be an array of numbers`);
  if (y !== undefined && y.length !== x.length) throw new RangeError(`'x' and 'y' passed to '${fn}' must have the same length, got ${x.length} and ${y.length}`);
  const zeroMethod = options.zeroMethod ?? 'wilcox';
  const alternative = options.alternative ?? 'two-sided';
  const method = options.method ?? 'auto';
  if (!['wilcox', 'pratt', 'zsplit'].includes(zeroMethod)) throw new RangeError(`'options.zeroMethod' passed to '${fn}' must be 'wilcox', 'pratt' or 'zsplit', got ${String(zeroMethod)}`);
  if (!['two-sided', 'greater', 'less'].includes(alternative)) throw new RangeError(`'options.alternative' passed to '${fn}' must be 'two-sided', 'greater' or 'less', got ${String(alternative)}`);
  if (!['auto', 'exact', 'approx'].includes(method)) throw new RangeError(`'options.method' passed to '${fn}' must be 'auto', 'exact' or 'approx', got ${String(method)}`);
  const d: number[] = [];
  for (let i = 0; i < x.length; i++) {
    const v = (x[i] as number) - (y ? (y[i] as number) : 0);
    if (!Number.isFinite(v)) throw new RangeError(`'${y ? 'x - y' : 'x'}' passed to '${fn}' must be finite, got ${v} at index ${i} (leave that pair out first)`);
    d.push(v);
  }
  const empty = { statistic: Number.NaN, pValue: Number.NaN, rPlus: 0, rMinus: 0, z: Number.NaN, n: 0, zeros: 0, ties: false, method: 'approx' as const };
  if (!d.length) return empty;
  const zeros = d.filter((v) => v === 0).length;
  if (zeros === d.length && zeroMethod !== 'zsplit') {
    throw new RangeError(`every difference passed to '${fn}' is zero: zeroMethod '${zeroMethod}' leaves nothing to test (use 'zsplit', or report no difference)`);
  }
  const used = zeroMethod === 'wilcox' ? d.filter((v) => v !== 0) : d;
  const { ranks, groups } = rankAbs(used.map(Math.abs));
  let rPlus = 0;
  let rMinus = 0;
  let rZero = 0;
  used.forEach((v, i) => {
    if (v > 0) rPlus += ranks[i]!;
    else if (v < 0) rMinus += ranks[i]!;
    else rZero += ranks[i]!;
  });
  if (zeroMethod === 'zsplit') {
    rPlus += rZero / 2;
    rMinus += rZero / 2;
  }
  const n = used.length;
  const statistic = alternative === 'two-sided' ? Math.min(rPlus, rMinus) : rPlus;
  // Ties among the non-zero differences (zeros tied with each other do not count against the exact method: they are dropped or split).
  const ties = groups.length > 0;
  const exact = method !== 'approx' && zeros === 0 && !ties && (method === 'exact' || n <= 50);
  if (exact) {
    const pmf = exactPmf(n);
    const r = Math.round(rPlus);
    const cdf = (k: number) => { let s = 0; for (let i = 0; i <= k; i++) s += pmf[i]!; return s; };
    const sf = (k: number) => { let s = 0; for (let i = k; i < pmf.length; i++) s += pmf[i]!; return s; };
    let p: number;
    if (alternative === 'two-sided') p = r === (pmf.length - 1) / 2 ? 1 : 2 * Math.min(cdf(r), sf(r));
    else if (alternative === 'greater') p = sf(r);
    else p = cdf(r);
    return { statistic, pValue: Math.min(1, Math.max(0, p)), rPlus, rMinus, z: Number.NaN, n, zeros, ties, method: 'exact' };
  }
  let mean = (n * (n + 1)) / 4;
  let v24 = n * (n + 1) * (2 * n + 1);
  if (zeroMethod === 'pratt') {
    mean -= (zeros * (zeros + 1)) / 4;
    v24 -= zeros * (zeros + 1) * (2 * zeros + 1);
  }
  // Tie correction over the ranks of the non-zero differences (with 'pratt', as scipy: zero ranks dropped first).
  const tieRanks = zeroMethod === 'pratt' ? rankGroups(ranks.filter((_, i) => used[i] !== 0)) : groups;
  for (const t of tieRanks) v24 -= 0.5 * t * (t * t - 1);
  const se = Math.sqrt(v24 / 24);
  let c = 0;
  if (options.correction ?? false) c = alternative === 'two-sided' ? 0.5 * Math.sign(statistic - mean) : alternative === 'less' ? -0.5 : 0.5;
  const z = (statistic - mean - c) / se;
  const p = alternative === 'two-sided' ? 2 * normalSf(Math.abs(z)) : alternative === 'greater' ? normalSf(z) : normalSf(-z);
  return { statistic, pValue: Math.min(1, p), rPlus, rMinus, z, n, zeros, ties, method: 'approx' };
}

/** Sizes of the groups of equal values (of size > 1) in `values`. */
function rankGroups(values: readonly number[]): number[] {
  const counts = new Map<number, number>();
  for (const v of values) counts.set(v, (counts.get(v) ?? 0) + 1);
  return [...counts.values()].filter((c) => c > 1);
}
