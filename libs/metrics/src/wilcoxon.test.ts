import { readFileSync } from 'node:fs';
import { describe, expect, it } from '@jest/globals';
import { normalSf, wilcoxon, type WilcoxonOptions } from './index.js';

interface Case { name: string; x: number[]; y: number[]; options: WilcoxonOptions; statistic: number; pvalue: number }
const fixture = JSON.parse(readFileSync(new URL('../test/fixtures/wilcoxon.json', import.meta.url), 'utf8')) as { cases: Case[] };

describe('wilcoxon against scipy.stats.wilcoxon (tools/metrics/make_wilcoxon_fixtures.py)', () => {
  for (const c of fixture.cases) {
    it(`${c.name}: statistic exact, p-value to 1e-10 relative`, () => {
      const r = wilcoxon(c.x, c.y, c.options);
      expect(r.statistic).toBe(c.statistic);
      expect(Math.abs(r.pValue - c.pvalue)).toBeLessThanOrEqual(1e-10 * c.pvalue + 1e-15);
    });
  }

  it('chooses the method as documented: exact without ties or zeros up to 50 pairs, else the approximation', () => {
    const byName = (n: string) => fixture.cases.find((c) => c.name === n)!;
    expect(wilcoxon(byName('exact n=20').x, byName('exact n=20').y).method).toBe('exact');
    const ties = wilcoxon(byName('ties n=14').x, byName('ties n=14').y);
    expect(ties).toMatchObject({ method: 'approx', ties: true, zeros: 0, n: 14 });
    expect(wilcoxon(byName('zeros wilcox').x, byName('zeros wilcox').y)).toMatchObject({ method: 'approx', zeros: 3, n: 11 });
    expect(wilcoxon(byName('zeros pratt').x, byName('zeros pratt').y, { zeroMethod: 'pratt' }).n).toBe(14);
    expect(wilcoxon(byName('approx n=64 two-sided').x, byName('approx n=64 two-sided').y).method).toBe('approx');
    // Differences alone, as the second argument left out.
    expect(wilcoxon([1, -2, 3, 4, 5]).pValue).toBeCloseTo(wilcoxon([1, -2, 3, 4, 5], [0, 0, 0, 0, 0]).pValue, 15);
  });

  it('refuses what it cannot test', () => {
    expect(() => wilcoxon([1, 2], [1])).toThrow(/same length/);
    expect(() => wilcoxon([1, Number.NaN], [0, 0])).toThrow(/must be finite, got NaN at index 1/);
    expect(() => wilcoxon([1, 1], [1, 1])).toThrow(/every difference .* is zero/);
    expect(wilcoxon([1, 1], [1, 1], { zeroMethod: 'zsplit' }).pValue).toBeCloseTo(1, 12);
    expect(() => wilcoxon([1], [0], { method: 'fast' as never })).toThrow(/'options.method'/);
    expect(() => wilcoxon([1], [0], { alternative: 'bigger' as never })).toThrow(/'options.alternative'/);
    expect(Number.isNaN(wilcoxon([], []).pValue)).toBe(true);
  });
});

describe('normalSf', () => {
  it('matches scipy.stats.norm.sf (values from scipy 1.10) to 1e-13 relative', () => {
    const golden: [number, number][] = [
      [0, 0.5], [0.5, 0.3085375387259869], [1.96, 0.024997895148220435], [3, 0.0013498980316300933],
      [6, 9.865876450376946e-10], [10, 7.61985302416047e-24], [-1, 0.8413447460685429],
    ];
    for (const [z, p] of golden) expect(Math.abs(normalSf(z) - p) / p).toBeLessThan(1e-13);
  });
});
