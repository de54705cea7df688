import { describe, expect, it } from '@jest/globals';
import { guidanceTargets, renderReport, reportSlice, sliceFlags, trajectoryFigure } from './report.js';

describe('guidanceTargets', () => {
  it("is r* x 1.15 while t > 20 when amplified (the reference code's early target), else r*", () => {
    expect(guidanceTargets([40, 30, 20, 10, 0], 0.02, true)).toEqual([0.02 * 1.15, 0.02 * 1.15, 0.02, 0.02, 0.02]);
    expect(guidanceTargets([40, 0], 0.02, false)).toEqual([0.02, 0.02]);
  });
});

describe('sliceFlags: the segmented tumour', () => {
  const moved = 2; // any pixel change above a grey level
  it('flags a prediction whose segmented burden did not move although the regressor reached the target', () => {
    const flags = sliceFlags(moved, undefined, { baseline: 0.02, target: 0.03, predicted: 0.0299, segmented: 0.0203 });
    expect(flags).toHaveLength(1);
    expect(flags[0]).toMatch(/^The segmented tumour did not move towards the target although the regressor reads a change/);
    expect(flags[0]).toContain('0.0203');
  });

  it('does not flag a segmented burden that moved a tenth of the way or more, nor a target that asks for no change', () => {
    expect(sliceFlags(moved, undefined, { baseline: 0.02, target: 0.03, predicted: 0.03, segmented: 0.021 })).toEqual([]);
    expect(sliceFlags(moved, undefined, { baseline: 0.02, target: 0.0205, predicted: 0.02, segmented: 0.02 })).toEqual([]);
    // Without the segmented burden (an older result), only the regressor is judged.
    expect(sliceFlags(moved, undefined, { baseline: 0.02, target: 0.03, predicted: 0.03 })).toEqual([]);
  });

  it('names only the segmenter when the regressor did not move either (both flags)', () => {
    const flags = sliceFlags(moved, undefined, { baseline: 0.02, target: 0.03, predicted: 0.02, segmented: 0.02 });
    expect(flags).toHaveLength(2);
    expect(flags[1]).toMatch(/^The segmented tumour did not move towards the target: /);
  });
});

describe('trajectoryFigure', () => {
  const t = { timesteps: [30, 20, 10, 0], predictions: [0.02, 0.024, 0.027, 0.029], targets: guidanceTargets([30, 20, 10, 0], 0.03, true) };

  it('draws the readings and the targets per step, and the result beside the target (positions from the axis mapping)', () => {
    const svg = trajectoryFigure(t, { baseline: 0.02, target: 0.03, predicted: 0.029, segmented: 0.021 });
    expect(svg.startsWith('<svg')).toBe(true);
    const lines = [...svg.matchAll(/<polyline class="(\w+)" points="([^"]+)"/g)].map((m) => [m[1], m[2]!.split(' ')]);
    expect(lines.map((l) => l[0])).toEqual(['tgt', 'reg']);
    expect(lines[1]![1]).toHaveLength(4);
    // y axis: lo = max(0, 0 - pad) = 0, hi = 0.0345 (the amplified target) x 1.08; plot rows 12 .. 166.
    const hi = 0.03 * 1.15 * 1.08;
    const y = (v: number) => 12 + 154 * (1 - v / hi);
    const first = (lines[1]![1] as string[])[0]!.split(',').map(Number);
    expect(first[0]).toBeCloseTo(52, 6);
    expect(first[1]).toBeCloseTo(y(0.02), 1);
    // The segmented burden (diamond) sits at x = 52 + 212 x 4/4 = 264, at its burden's height.
    const d = /<path class="seg" d="M([\d.]+) ([\d.]+)L/.exec(svg)!;
    expect(Number(d[1])).toBeCloseTo(264, 6);
    expect(Number(d[2]) + 5).toBeCloseTo(y(0.021), 1);
    expect(svg).toContain('segmented');
  });

  it('names the network that guided: the regressor by default, the segmenter when it guided (legend and flags)', () => {
    expect(trajectoryFigure(t)).toMatch(/<text x="14" y="4">regressor<\/text>/);
    const svg = trajectoryFigure({ ...t, guide: 'segmenter' });
    expect(svg).toMatch(/<text x="14" y="4">segmenter<\/text>/);
    expect(svg).toContain('aria-label="tumour burden during decoding: segmenter against target"');
    const flags = sliceFlags(2, undefined, { baseline: 0.02, target: 0.03, predicted: 0.02, segmented: 0.02, guide: 'segmenter' });
    expect(flags[0]).toMatch(/^The segmenter sees \(almost\) no change of tumour burden: /);
  });

  it('refuses steps without as many targets and timesteps as readings', () => {
    expect(() => trajectoryFigure({ ...t, targets: [0.03] })).toThrow(/'t' passed to 'trajectoryFigure' must hold as many timesteps and targets as predictions \(4\)/);
  });

  it('appears in the report section of a slice that has one, and not otherwise', () => {
    const img = new Float32Array(4 * 4 * 4).fill(0.5);
    const input = { id: 's1', width: 4, height: 4, baseline: img, predicted: img, probability: new Float32Array(16), facts: {} };
    const withTraj = reportSlice({ ...input, trajectory: t, burdens: { baseline: 0.02, target: 0.03, predicted: 0.029, segmented: 0.029 } });
    expect(withTraj.trajectorySvg).toContain('<polyline');
    expect(reportSlice(input).trajectorySvg).toBeUndefined();
    const html = renderReport({ title: 'x', summary: [], growth: [], slices: [withTraj] });
    expect(html).toContain('tumour burden during guided decoding');
  });
});
