/**
 * The explicit policy for metrics that are undefined when a mask is empty.
 */
import { argError } from './grid.js';

/**
 * What the overlap and distance metrics return when a mask is empty.
 *
 * | case                              | metric                         | field                | default    |
 * |-----------------------------------|--------------------------------|----------------------|------------|
 * | both masks empty                  | `dice`, `jaccard`              | `overlapBothEmpty`   | `1`        |
 * | one mask empty                    | `dice`, `jaccard`              | (formula)            | `0`        |
 * | both masks empty                  | `hausdorff`, `hausdorff95`, `assd` | `distanceBothEmpty` | `0`     |
 * | exactly one mask empty            | `hausdorff`, `hausdorff95`, `assd` | `worstDistance`  | `Infinity` |
 * | reference empty (TP + FN = 0)     | `sensitivity`                  | `undefinedRatio`     | `NaN`      |
 * | reference full (TN + FP = 0)      | `specificity`                  | `undefinedRatio`     | `NaN`      |
 *
 * BraTS-style evaluation sets `worstDistance` to 374 (mm, about the diagonal of
 * a 240 x 240 x 155 volume at 1 mm). `worstDistance` only replaces the
 * undefined case; distances between two non-empty masks are never clipped.
 */
export interface EmptyMaskPolicy {
  /**
   * Dice and Jaccard when both masks are empty.
   * @defaultValue 1
   */
  overlapBothEmpty: number;
  /**
   * Hausdorff distance, HD95 and ASSD when both masks are empty.
   * @defaultValue 0
   */
  distanceBothEmpty: number;
  /**
   * Hausdorff distance, HD95 and ASSD when exactly one mask is empty.
   * @defaultValue Infinity
   */
  worstDistance: number;
  /**
   * Sensitivity when the reference is empty, specificity when the reference
   * covers the whole grid (a 0/0 ratio).
   * @defaultValue NaN
   */
  undefinedRatio: number;
}

/** The default {@link EmptyMaskPolicy} (both empty: Dice 1, HD95 0; one empty: Dice 0, HD95 Infinity). */
export const DEFAULT_EMPTY_MASK_POLICY: Readonly<EmptyMaskPolicy> = Object.freeze({
  overlapBothEmpty: 1,
  distanceBothEmpty: 0,
  worstDistance: Infinity,
  undefinedRatio: NaN,
});

/** @internal Merges a partial policy with the defaults, validating it. */
export function resolvePolicy(policy: Partial<EmptyMaskPolicy> | undefined, fn: string): EmptyMaskPolicy {
  if (policy === undefined) return DEFAULT_EMPTY_MASK_POLICY;
  if (policy === null || typeof policy !== 'object') {
    throw argError('options.emptyPolicy', fn, 'must be an object (a partial EmptyMaskPolicy)');
  }
  const out: EmptyMaskPolicy = { ...DEFAULT_EMPTY_MASK_POLICY, ...policy };
  for (const key of ['overlapBothEmpty', 'distanceBothEmpty', 'worstDistance', 'undefinedRatio'] as const) {
    if (typeof out[key] !== 'number') {
      throw argError(`options.emptyPolicy.${key}`, fn, `must be a number, got ${String(out[key])}`);
    }
  }
  return out;
}
