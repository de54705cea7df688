/**
 * Evaluation of a probability map against a reference mask: Dice and HD95 at
 * probability thresholds, and the Brier score.
 */
import { type Grid, argError, checkGrid, checkSameShape, checkThreshold, toMask } from './grid.js';
import { dice } from './overlap.js';
import { type EmptyMaskPolicy } from './policy.js';
import { hausdorff95 } from './surface.js';

/** Options of {@link brierScore}. */
export interface BrierOptions {
  /**
   * A reference voxel is positive when its value is greater than this.
   * @defaultValue 0
   */
  referenceThreshold?: number;
  /**
   * Restricts the score to voxels whose mask value is greater than 0.
   * @defaultValue no mask (every voxel)
   */
  mask?: Grid;
}

/** Options of {@link evaluateProbabilityMap}. */
export interface ProbabilityMapOptions extends BrierOptions {
  /**
   * Probability thresholds; a voxel is predicted positive when its
   * probability is greater than or equal to the threshold.
   * @defaultValue [0.5]
   */
  thresholds?: readonly number[];
  /**
   * Voxel size per axis; overrides the grids' `spacing`.
   * @defaultValue the grids' spacing, else all ones
   */
  spacing?: readonly number[];
  /**
   * Surface connectivity for HD95 (see {@link SurfaceOptions}).
   * @defaultValue 1
   */
  connectivity?: number;
  /**
   * The HD95 variant (see {@link Hausdorff95Options}).
   * @defaultValue 'max'
   */
  hd95Variant?: 'max' | 'pooled';
  /**
   * Overrides of the {@link DEFAULT_EMPTY_MASK_POLICY} for Dice and HD95.
   * @defaultValue DEFAULT_EMPTY_MASK_POLICY
   */
  emptyPolicy?: Partial<EmptyMaskPolicy>;
}

/** Dice and HD95 of a probability map thresholded at one probability. */
export interface ThresholdResult {
  /** The probability threshold (`probability >= threshold` is positive). */
  threshold: number;
  /** Dice of the thresholded map against the reference. */
  dice: number;
  /** HD95 of the thresholded map against the reference. */
  hd95: number;
  /** Number of voxels predicted positive. */
  predictedVoxels: number;
}

/** The result of {@link evaluateProbabilityMap}. */
export interface ProbabilityMapEvaluation {
  /** The Brier score (mean squared difference between probability and the 0/1 reference). */
  brier: number;
  /** One entry per threshold, in the order given. */
  thresholds: ThresholdResult[];
}

function checkProbability(probability: Grid, fn: string): void {
  const p = probability.data;
  for (let i = 0; i < p.length; i++) {
    const v = p[i]!;
    if (!(v >= 0 && v <= 1)) {
      throw argError('probability', fn, `must contain probabilities in [0, 1], found ${v} at index ${i}`);
    }
  }
}

function brierImpl(probability: Grid, reference: Grid, options: BrierOptions, fn: string): number {
  const rt = options.referenceThreshold ?? 0;
  checkThreshold(rt, 'options.referenceThreshold', fn);
  const ref = toMask(reference.data, rt, 'reference', fn);
  let mask: Uint8Array | undefined;
  if (options.mask !== undefined) {
    checkGrid(options.mask, 'options.mask', fn);
    checkSameShape(probability, options.mask, 'probability', 'options.mask', fn);
    mask = toMask(options.mask.data, 0, 'options.mask', fn);
  }
  const p = probability.data;
  let sum = 0;
  let count = 0;
  for (let i = 0; i < p.length; i++) {
    if (mask !== undefined && mask[i] === 0) continue;
    const d = p[i]! - ref[i]!;
    sum += d * d;
    count++;
  }
  if (count === 0) throw argError('options.mask', fn, 'selects no voxels');
  return sum / count;
}

/**
 * The Brier score `mean((p - r)^2)` of a probability map `p` against a binary
 * reference `r` (1 where the reference is greater than `referenceThreshold`).
 *
 * @param probability - probabilities in [0, 1], 2-D or 3-D.
 * @param reference - the reference mask, same shape.
 * @param options - see {@link BrierOptions}.
 * @returns the Brier score in [0, 1].
 */
export function brierScore(probability: Grid, reference: Grid, options: BrierOptions = {}): number {
  const fn = 'brierScore';
  checkGrid(probability, 'probability', fn);
  checkGrid(reference, 'reference', fn);
  checkSameShape(probability, reference, 'probability', 'reference', fn);
  checkProbability(probability, fn);
  return brierImpl(probability, reference, options, fn);
}

/**
 * Evaluates a probability map against a reference mask: the Brier score, and
 * Dice and HD95 ({@link hausdorff95}, in the units of the spacing) of the map
 * thresholded at each of `thresholds` (`probability >= threshold`). Empty
 * masks follow the {@link EmptyMaskPolicy}.
 *
 * @param probability - probabilities in [0, 1], 2-D or 3-D.
 * @param reference - the reference mask, same shape.
 * @param options - see {@link ProbabilityMapOptions}.
 * @returns the Brier score and one {@link ThresholdResult} per threshold.
 */
export function evaluateProbabilityMap(
  probability: Grid,
  reference: Grid,
  options: ProbabilityMapOptions = {},
): ProbabilityMapEvaluation {
  const fn = 'evaluateProbabilityMap';
  checkGrid(probability, 'probability', fn);
  checkGrid(reference, 'reference', fn);
  checkSameShape(probability, reference, 'probability', 'reference', fn);
  checkProbability(probability, fn);
  const thresholds = options.thresholds ?? [0.5];
  if (!Array.isArray(thresholds) || thresholds.length === 0) {
    throw argError('options.thresholds', fn, 'must be a non-empty array of numbers in [0, 1]');
  }
  for (const t of thresholds) {
    if (typeof t !== 'number' || !(t >= 0 && t <= 1)) {
      throw argError('options.thresholds', fn, `must contain numbers in [0, 1], got ${String(t)}`);
    }
  }
  const brier = brierImpl(probability, reference, options, fn);
  const rt = options.referenceThreshold ?? 0;
  const ref: Grid = { data: toMask(reference.data, rt, 'reference', fn), shape: reference.shape, ...(reference.spacing ? { spacing: reference.spacing } : {}) };
  const p = probability.data;
  const bin = new Uint8Array(p.length);
  const results: ThresholdResult[] = [];
  for (const t of thresholds) {
    let count = 0;
    for (let i = 0; i < p.length; i++) {
      const b = p[i]! >= t ? 1 : 0;
      bin[i] = b;
      count += b;
    }
    const pred: Grid = { data: bin, shape: probability.shape, ...(probability.spacing ? { spacing: probability.spacing } : {}) };
    const common = { emptyPolicy: options.emptyPolicy };
    results.push({
      threshold: t,
      dice: dice(pred, ref, common),
      hd95: hausdorff95(pred, ref, {
        ...common,
        variant: options.hd95Variant ?? 'max',
        connectivity: options.connectivity ?? 1,
        ...(options.spacing ? { spacing: options.spacing } : {}),
      }),
      predictedVoxels: count,
    });
  }
  return { brier, thresholds: results };
}
