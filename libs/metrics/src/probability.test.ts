import { describe, expect, it } from '@jest/globals';
import { brierScore, evaluateProbabilityMap, type Grid } from './index.js';
import { loadFixture } from './test-utils/fixtures.js';

interface Case {
  name: string;
  shape: number[];
  spacing: number[];
  probability: number[];
  reference: number[];
  brier: number;
  thresholds: { threshold: number; predictedVoxels: number; dice: number; hd95: number }[];
}

describe('evaluateProbabilityMap vs numpy/scipy', () => {
  const { cases } = loadFixture<{ cases: Case[] }>('probability.json');
  it.each(cases.map((c) => [c.name, c] as const))('%s', (_name, c) => {
    const p: Grid = { data: c.probability, shape: c.shape, spacing: c.spacing };
    const r: Grid = { data: c.reference, shape: c.shape };
    const res = evaluateProbabilityMap(p, r, { thresholds: c.thresholds.map((t) => t.threshold) });
    expect(Math.abs(res.brier - c.brier)).toBeLessThan(1e-12);
    expect(Math.abs(brierScore(p, r) - c.brier)).toBeLessThan(1e-12);
    expect(res.thresholds).toHaveLength(c.thresholds.length);
    res.thresholds.forEach((t, i) => {
      const e = c.thresholds[i]!;
      expect(t.threshold).toBe(e.threshold);
      expect(t.predictedVoxels).toBe(e.predictedVoxels);
      expect(Math.abs(t.dice - e.dice)).toBeLessThan(1e-12);
      if (Number.isFinite(e.hd95)) expect(Math.abs(t.hd95 - e.hd95)).toBeLessThan(1e-6);
      else expect(t.hd95).toBe(e.hd95);
    });
    // worstDistance applies to thresholds that leave the prediction empty
    const capped = evaluateProbabilityMap(p, r, { thresholds: [0.99], emptyPolicy: { worstDistance: 374 } });
    expect(capped.thresholds[0]!.hd95).toBe(374);
    expect(evaluateProbabilityMap(p, r).thresholds.map((t) => t.threshold)).toEqual([0.5]);
  });

  it('computes the Brier score within a mask', () => {
    const p: Grid = { data: [0.1, 0.9, 0.5, 0.2], shape: [2, 2] };
    const r: Grid = { data: [0, 1, 1, 0], shape: [2, 2] };
    expect(brierScore(p, r, { mask: { data: [0, 0, 1, 1], shape: [2, 2] } })).toBeCloseTo((0.25 + 0.04) / 2, 15);
    expect(brierScore(p, r)).toBeCloseTo((0.01 + 0.01 + 0.25 + 0.04) / 4, 15);
  });

  it('rejects bad input', () => {
    const r: Grid = { data: [0, 1, 1, 0], shape: [2, 2] };
    expect(() => brierScore({ data: [0, 1.5, 0, 0], shape: [2, 2] }, r)).toThrow(
      "'probability' passed to 'brierScore' must contain probabilities in [0, 1], found 1.5 at index 1",
    );
    expect(() => evaluateProbabilityMap({ data: [0, NaN, 0, 0], shape: [2, 2] }, r)).toThrow("'probability' passed to 'evaluateProbabilityMap'");
    expect(() => evaluateProbabilityMap({ data: [0, 0, 0], shape: [1, 3] }, r)).toThrow("'reference' passed to 'evaluateProbabilityMap' must have the same shape");
    expect(() => evaluateProbabilityMap({ data: [0, 0, 0, 0], shape: [2, 2] }, r, { thresholds: [] })).toThrow("'options.thresholds'");
    expect(() => evaluateProbabilityMap({ data: [0, 0, 0, 0], shape: [2, 2] }, r, { thresholds: [2] })).toThrow("'options.thresholds'");
    expect(() => brierScore({ data: [0, 0, 0, 0], shape: [2, 2] }, r, { mask: { data: [0, 0, 0, 0], shape: [2, 2] } })).toThrow(
      "'options.mask' passed to 'brierScore' selects no voxels",
    );
  });
});
