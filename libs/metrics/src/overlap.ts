/**
 * Overlap metrics of two binary segmentations: Dice, Jaccard, sensitivity,
 * specificity and volume difference.
 */
import { type Grid, argError, checkGrid, checkSameShape, checkThreshold, resolveSpacing } from './grid.js';
import { type EmptyMaskPolicy, resolvePolicy } from './policy.js';

/** Options shared by the overlap metrics. */
export interface OverlapOptions {
  /**
   * A voxel belongs to a mask when its value is greater than this.
   * @defaultValue 0
   */
  threshold?: number;
  /**
   * Overrides of the {@link DEFAULT_EMPTY_MASK_POLICY}.
   * @defaultValue DEFAULT_EMPTY_MASK_POLICY
   */
  emptyPolicy?: Partial<EmptyMaskPolicy>;
}

/** Options of {@link volumeDifference}. */
export interface VolumeDifferenceOptions extends OverlapOptions {
  /**
   * Voxel size per axis; overrides the grids' `spacing`.
   * @defaultValue the grids' spacing, else all ones
   */
  spacing?: readonly number[];
  /**
   * Return `(Vp - Vr) / Vr` instead of `Vp - Vr` (physical units).
   * @defaultValue false
   */
  relative?: boolean;
}

/** The confusion counts of a prediction against a reference (voxels). */
export interface OverlapCounts {
  /** Voxels in both masks. */
  truePositive: number;
  /** Voxels in the prediction only. */
  falsePositive: number;
  /** Voxels in the reference only. */
  falseNegative: number;
  /** Voxels in neither mask. */
  trueNegative: number;
}

function countsImpl(prediction: Grid, reference: Grid, threshold: number | undefined, fn: string): OverlapCounts {
  checkGrid(prediction, 'prediction', fn);
  checkGrid(reference, 'reference', fn);
  checkSameShape(prediction, reference, 'prediction', 'reference', fn);
  const t = threshold ?? 0;
  checkThreshold(t, 'options.threshold', fn);
  const p = prediction.data;
  const r = reference.data;
  const n = p.length;
  let tp = 0;
  let np = 0;
  let nr = 0;
  for (let i = 0; i < n; i++) {
    const a = p[i]!;
    const b = r[i]!;
    if (a - a !== 0) throw argError('prediction', fn, `must contain only finite values, found ${a} at index ${i}`);
    if (b - b !== 0) throw argError('reference', fn, `must contain only finite values, found ${b} at index ${i}`);
    const pa = a > t;
    const rb = b > t;
    if (pa) np++;
    if (rb) nr++;
    if (pa && rb) tp++;
  }
  return { truePositive: tp, falsePositive: np - tp, falseNegative: nr - tp, trueNegative: n - np - nr + tp };
}

/**
 * Counts true/false positives/negatives of `prediction` against `reference`
 * (a voxel is in a mask when its value is greater than `threshold`).
 *
 * @param prediction - the predicted mask.
 * @param reference - the reference mask, same shape.
 * @param options - see {@link OverlapOptions} (`emptyPolicy` is unused).
 * @returns the four counts.
 */
export function overlapCounts(prediction: Grid, reference: Grid, options: OverlapOptions = {}): OverlapCounts {
  return countsImpl(prediction, reference, options.threshold, 'overlapCounts');
}

/**
 * The Dice coefficient `2 |P ∩ R| / (|P| + |R|)`. Both masks empty:
 * `emptyPolicy.overlapBothEmpty` (default 1); one empty: 0.
 *
 * @param prediction - the predicted mask.
 * @param reference - the reference mask, same shape.
 * @param options - see {@link OverlapOptions}.
 * @returns Dice in [0, 1].
 */
export function dice(prediction: Grid, reference: Grid, options: OverlapOptions = {}): number {
  const policy = resolvePolicy(options.emptyPolicy, 'dice');
  const c = countsImpl(prediction, reference, options.threshold, 'dice');
  const den = 2 * c.truePositive + c.falsePositive + c.falseNegative;
  return den === 0 ? policy.overlapBothEmpty : (2 * c.truePositive) / den;
}

/**
 * The Jaccard index (IoU) `|P ∩ R| / |P ∪ R|`. Both masks empty:
 * `emptyPolicy.overlapBothEmpty` (default 1); one empty: 0.
 *
 * @param prediction - the predicted mask.
 * @param reference - the reference mask, same shape.
 * @param options - see {@link OverlapOptions}.
 * @returns Jaccard in [0, 1].
 */
export function jaccard(prediction: Grid, reference: Grid, options: OverlapOptions = {}): number {
  const policy = resolvePolicy(options.emptyPolicy, 'jaccard');
  const c = countsImpl(prediction, reference, options.threshold, 'jaccard');
  const den = c.truePositive + c.falsePositive + c.falseNegative;
  return den === 0 ? policy.overlapBothEmpty : c.truePositive / den;
}

/**
 * Sensitivity (recall, true-positive rate) `TP / (TP + FN)`. Empty reference:
 * `emptyPolicy.undefinedRatio` (default NaN).
 *
 * @param prediction - the predicted mask.
 * @param reference - the reference mask, same shape.
 * @param options - see {@link OverlapOptions}.
 * @returns sensitivity in [0, 1].
 */
export function sensitivity(prediction: Grid, reference: Grid, options: OverlapOptions = {}): number {
  const policy = resolvePolicy(options.emptyPolicy, 'sensitivity');
  const c = countsImpl(prediction, reference, options.threshold, 'sensitivity');
  const den = c.truePositive + c.falseNegative;
  return den === 0 ? policy.undefinedRatio : c.truePositive / den;
}

/**
 * Specificity (true-negative rate) `TN / (TN + FP)`. Reference covering the
 * whole grid: `emptyPolicy.undefinedRatio` (default NaN).
 *
 * @param prediction - the predicted mask.
 * @param reference - the reference mask, same shape.
 * @param options - see {@link OverlapOptions}.
 * @returns specificity in [0, 1].
 */
export function specificity(prediction: Grid, reference: Grid, options: OverlapOptions = {}): number {
  const policy = resolvePolicy(options.emptyPolicy, 'specificity');
  const c = countsImpl(prediction, reference, options.threshold, 'specificity');
  const den = c.trueNegative + c.falsePositive;
  return den === 0 ? policy.undefinedRatio : c.trueNegative / den;
}

/**
 * The signed volume difference `Vp - Vr` in physical units (voxel count times
 * the product of the spacing), or `(Vp - Vr) / Vr` with `relative: true`
 * (both empty: 0; empty reference only: `Infinity`).
 *
 * @param prediction - the predicted mask.
 * @param reference - the reference mask, same shape.
 * @param options - see {@link VolumeDifferenceOptions}.
 * @returns the volume difference.
 */
export function volumeDifference(prediction: Grid, reference: Grid, options: VolumeDifferenceOptions = {}): number {
  const fn = 'volumeDifference';
  const c = countsImpl(prediction, reference, options.threshold, fn);
  const spacing = resolveSpacing(options.spacing, prediction, reference, prediction.shape.length, fn, 'prediction', 'reference');
  const vp = c.truePositive + c.falsePositive;
  const vr = c.truePositive + c.falseNegative;
  if (options.relative) {
    if (vr === 0) return vp === 0 ? 0 : Infinity;
    return (vp - vr) / vr;
  }
  let voxel = 1;
  for (const s of spacing) voxel *= s;
  return (vp - vr) * voxel;
}
