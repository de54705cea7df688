import { describe, it, expect } from '@jest/globals';
import { generateSegmentationDataset } from './segmentation.js';

describe('generateSegmentationDataset', () => {
  const ds = generateSegmentationDataset({ count: 40, seed: 9 });

  it('has the documented shapes (64x64 NHWC by default) and value ranges', () => {
    expect([ds.count, ds.width, ds.height, ds.layout, ds.pixelSpacing]).toEqual([40, 64, 64, 'nhwc', 3.75]);
    expect(ds.images.length).toBe(40 * 64 * 64 * 4);
    expect(ds.labels.length).toBe(40 * 64 * 64);
    let bad = 0;
    for (const v of ds.images) if (!(v >= 0 && v <= 1)) bad++;
    for (const l of ds.labels) if (l > 3) bad++;
    expect(bad).toBe(0);
  });

  it('mixes slices with and without tumour, with varied sizes, and consistent burdens', () => {
    const hw = 64 * 64;
    let empty = 0;
    for (let n = 0; n < ds.count; n++) {
      let tumour = 0, head = 0;
      for (let i = 0; i < hw; i++) {
        if (ds.labels[n * hw + i]) tumour++;
        if (ds.images[(n * hw + i) * 4 + 3] !== 0) head++; // t2f != 0
      }
      expect(ds.sizes[n]).toBeCloseTo(tumour * 3.75 ** 2, 3);
      expect(ds.burdens[n]).toBeCloseTo(tumour / head, 6);
      if (tumour === 0) empty++;
    }
    expect(empty).toBeGreaterThan(2);
    expect(empty).toBeLessThan(20);
    const nonEmpty = Array.from(ds.sizes).filter((s) => s > 0);
    expect(Math.max(...nonEmpty) / Math.min(...nonEmpty)).toBeGreaterThan(5);
  });

  it('is deterministic, and NCHW holds the same values as NHWC', () => {
    const a = generateSegmentationDataset({ count: 3, seed: 4 });
    const b = generateSegmentationDataset({ count: 3, seed: 4, layout: 'nchw' });
    expect(Array.from(a.labels)).toEqual(Array.from(b.labels));
    const hw = 64 * 64;
    let diff = 0;
    for (let n = 0; n < 3; n++) for (let c = 0; c < 4; c++) for (let i = 0; i < hw; i++) {
      if (a.images[(n * hw + i) * 4 + c] !== b.images[(n * 4 + c) * hw + i]) diff++;
    }
    expect(diff).toBe(0);
    const a2 = generateSegmentationDataset({ count: 3, seed: 4 });
    expect(Array.from(a2.burdens)).toEqual(Array.from(a.burdens));
  });

  it('rejects bad options with the argument named', () => {
    expect(() => generateSegmentationDataset({ count: 0 })).toThrow(/'count' passed to 'generateSegmentationDataset'/);
    expect(() => generateSegmentationDataset({ minSize: 100, maxSize: 50 })).toThrow(/'maxSize'/);
    expect(() => generateSegmentationDataset({ tumourProbability: 2 })).toThrow(/'tumourProbability'/);
    expect(() => generateSegmentationDataset({ layout: 'hwc' as never })).toThrow(/'layout'/);
  });
});
