import { describe, expect, it } from '@jest/globals';
import { dice, jaccard, overlapCounts, sensitivity, specificity, volumeDifference, type Grid } from './index.js';
import { loadFixture } from './test-utils/fixtures.js';

interface Case {
  name: string;
  shape: number[];
  spacing: number[];
  prediction: number[];
  reference: number[];
  dice: number;
  jaccard: number;
  sensitivity: number;
  specificity: number;
  volumeDifference: number;
  relativeVolumeDifference: number;
}

function close(actual: number, expected: number): void {
  if (Number.isNaN(expected)) expect(actual).toBeNaN();
  else if (!Number.isFinite(expected)) expect(actual).toBe(expected);
  else expect(Math.abs(actual - expected)).toBeLessThan(1e-12);
}

describe('overlap metrics vs numpy', () => {
  const { cases } = loadFixture<{ cases: Case[] }>('surface.json');
  it.each(cases.map((c) => [c.name, c] as const))('%s', (_name, c) => {
    const p: Grid = { data: c.prediction, shape: c.shape, spacing: c.spacing };
    const r: Grid = { data: c.reference, shape: c.shape, spacing: c.spacing };
    close(dice(p, r), c.dice);
    close(jaccard(p, r), c.jaccard);
    close(sensitivity(p, r), c.sensitivity);
    close(specificity(p, r), c.specificity);
    close(volumeDifference(p, r), c.volumeDifference);
    close(volumeDifference(p, r, { relative: true }), c.relativeVolumeDifference);
  });
});

describe('overlap metrics: thresholds and policy', () => {
  const p: Grid = { data: [0, 0.2, 0.6, 0.9, 1, 0], shape: [2, 3] };
  const r: Grid = { data: [0, 0, 1, 1, 0, 1], shape: [2, 3] };
  it('uses value > threshold', () => {
    // threshold 0: P = {1,2,3,4}, R = {2,3,5}: TP 2, FP 2, FN 1, TN 1
    expect(overlapCounts(p, r)).toEqual({ truePositive: 2, falsePositive: 2, falseNegative: 1, trueNegative: 1 });
    expect(dice(p, r)).toBeCloseTo(4 / 7, 15);
    // threshold 0.5: P = {2,3,4}, R = {2,3,5}
    expect(dice(p, r, { threshold: 0.5 })).toBeCloseTo(4 / 6, 15);
    expect(jaccard(p, r, { threshold: 0.5 })).toBeCloseTo(2 / 4, 15);
    expect(sensitivity(p, r, { threshold: 0.5 })).toBeCloseTo(2 / 3, 15);
    expect(specificity(p, r, { threshold: 0.5 })).toBeCloseTo(2 / 3, 15);
  });
  it('follows the empty-mask policy', () => {
    const e: Grid = { data: [0, 0, 0, 0], shape: [2, 2] };
    const f: Grid = { data: [1, 1, 1, 1], shape: [2, 2] };
    expect(dice(e, e)).toBe(1);
    expect(jaccard(e, e)).toBe(1);
    expect(dice(e, e, { emptyPolicy: { overlapBothEmpty: NaN } })).toBeNaN();
    expect(dice(e, f)).toBe(0);
    expect(sensitivity(f, e)).toBeNaN();
    expect(specificity(e, f)).toBeNaN();
    expect(sensitivity(f, e, { emptyPolicy: { undefinedRatio: 1 } })).toBe(1);
    expect(volumeDifference(e, e, { relative: true })).toBe(0);
    expect(volumeDifference(f, e, { relative: true })).toBe(Infinity);
    expect(volumeDifference(f, e, { spacing: [0.5, 3] })).toBe(6);
  });
  it('rejects bad input with the argument and function named', () => {
    expect(() => dice(p, { data: [0, 1], shape: [1, 2] })).toThrow("'reference' passed to 'dice' must have the same shape as 'prediction'");
    expect(() => jaccard({ data: [NaN, 0, 0, 0, 0, 0], shape: [2, 3] }, r)).toThrow(
      "'prediction' passed to 'jaccard' must contain only finite values, found NaN at index 0",
    );
    expect(() => sensitivity(p, { data: [0, 0, 1, Infinity, 0, 1], shape: [2, 3] })).toThrow("'reference' passed to 'sensitivity' must contain only finite values");
    expect(() => specificity({ data: [], shape: [0, 3] }, { data: [], shape: [0, 3] })).toThrow('zero-size');
    expect(() => volumeDifference(p, r, { spacing: [1, 1, 1] })).toThrow("'options.spacing' passed to 'volumeDifference' must have 2 entries");
    expect(() => dice(p, r, { threshold: NaN })).toThrow("'options.threshold' passed to 'dice' must be a finite number");
    expect(() => dice(null as unknown as Grid, r)).toThrow("'prediction' passed to 'dice' must be a grid");
    expect(() => dice({ data: [1, 2], shape: 'ab' as unknown as number[] }, r)).toThrow("'prediction' passed to 'dice'");
  });
});
