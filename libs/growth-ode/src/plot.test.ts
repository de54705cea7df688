import { describe, expect, it } from '@jest/globals';
import { bootstrapGrowth, exampleSeries, plotGrowth, twoPhaseRtModel } from './index.js';

const ex = exampleSeries();
const boot = bootstrapGrowth(twoPhaseRtModel, ex, { starts: 1, replicates: 5, until: 450 });

/** [cx, cy] of the data points (black circles), in drawing order. */
function dataCircles(svg: string): [number, number][] {
  return [...svg.matchAll(/<circle cx="([\d.]+)" cy="([\d.]+)" r="4.5" fill="#111111"\/>/g)].map((m) => [Number(m[1]), Number(m[2])]);
}

describe('plotGrowth points', () => {
  it('draws labelled points where data of the same day and size would be, with their value and a legend entry', () => {
    const i = 3;
    const svg = plotGrowth(boot, {
      points: [
        { day: ex.times[i]!, size: ex.sizes[i]!, label: 'predicted follow-up', shape: 'diamond' },
        { day: 450, size: 1234.5, label: 'real <follow-up>', shape: 'square', color: '#2a9d8f' },
      ],
    });
    const groups = [...svg.matchAll(/<g class="plot-point">(.*?)<\/g>/g)].map((m) => m[1]!);
    expect(groups).toHaveLength(2);
    // The diamond's vertices are centred on the data point's position.
    const [cx, cy] = dataCircles(svg)[i]!;
    const verts = /<polygon points="([^"]+)"/.exec(groups[0]!)![1]!.split(' ').map((v) => v.split(',').map(Number));
    expect((verts[1]![0]! + verts[3]![0]!) / 2).toBeCloseTo(cx, 1);
    expect((verts[0]![1]! + verts[2]![1]!) / 2).toBeCloseTo(cy, 1);
    expect(groups[1]).toMatch(/<rect [^>]*fill="#2a9d8f"/);
    expect(groups[1]).toContain('>1235<'); // value beside it (4 significant digits)
    expect(svg).toContain('>predicted follow-up</text>');
    expect(svg).toContain('>real &lt;follow-up&gt;</text>');
  });

  it('keeps the value labels of points on one day apart', () => {
    const svg = plotGrowth(boot, { points: [{ day: 450, size: 2000, label: 'a' }, { day: 450, size: 2001, label: 'b' }, { day: 450, size: 1999, label: 'c' }] });
    const ys = [...svg.matchAll(/<g class="plot-point">.*?<text x="[\d.]+" y="([\d.]+)"/g)].map((m) => Number(m[1])).sort((a, b) => a - b);
    expect(ys).toHaveLength(3);
    expect(ys[1]! - ys[0]!).toBeGreaterThanOrEqual(13 - 1e-9);
    expect(ys[2]! - ys[1]!).toBeGreaterThanOrEqual(13 - 1e-9);
  });

  it('yScale changes the values and ticks, not the picture', () => {
    const plain = plotGrowth(boot, { points: [{ day: 450, size: 2000, label: 'p' }] });
    const rel = plotGrowth(boot, { yScale: 1 / ex.sizes[0]!, yLabel: 'relative to the first scan', points: [{ day: 450, size: 2000, label: 'p' }] });
    expect(dataCircles(rel)).toEqual(dataCircles(plain));
    expect(rel).toContain(`>${Number((2000 / ex.sizes[0]!).toPrecision(4))}<`);
    expect(rel).toContain('>relative to the first scan</text>');
  });

  it('refuses bad points and scales', () => {
    expect(() => plotGrowth(boot, { points: [{ day: Number.NaN, size: 1, label: 'x' }] })).toThrow(/'options.points' passed to 'plotGrowth' must hold finite days and sizes, bad entry 0/);
    expect(() => plotGrowth(boot, { yScale: 0 })).toThrow(/'options.yScale' passed to 'plotGrowth' must be a positive finite number, got 0/);
  });
});
