import { describe, it, expect } from '@jest/globals';
import { generatePhantomPatient } from './patient.js';
import { DEFAULT_TWO_PHASE_PARAMS, twoPhaseSize } from './growth.js';
import type { PhantomSlice } from './slice.js';

describe('generatePhantomPatient', () => {
  const p = generatePhantomPatient({ seed: 5, sliceIds: [79, 80], slice: { width: 120 } });

  it('follows the two-phase model: rendered areas match the model within half a pixel', () => {
    expect(p.rtStartDay).toBe(p.rtEndDay - 42);
    expect(p.baselineIndex).toBe(p.days.length - 2);
    expect(p.followupIndex).toBe(p.days.length - 1);
    const px = 2 ** 2; // 120 px over 240 mm: 2 mm pixels
    for (const s of p.slices) {
      p.days.forEach((d, t) => {
        const model = s.weight * twoPhaseSize(d, p.initialSize, p.rtStartDay, p.params);
        expect(s.modelSizes[t]).toBeCloseTo(model, 9);
        expect(Math.abs(s.sizes[t]! - model)).toBeLessThanOrEqual(px / 2 + 1e-9);
        const scan = s.scans[t]!;
        // Exact up to a one-pixel tie.
        expect(Math.abs(scan.tumourArea - s.sizes[t]!)).toBeLessThanOrEqual(px);
        expect(s.burdens[t]).toBe(scan.burden);
      });
    }
  });

  it('keeps anatomy and tumour centre across time points; only the tumour and noise change', () => {
    const q = generatePhantomPatient({ seed: 5, slice: { width: 120, noiseStd: 0 } });
    const s = q.slices[0]!;
    const a = s.scans[0]!, b = s.scans[s.scans.length - 1]!;
    const w = a.width, n = w * a.height;
    // Pixels farther than 3 pixels from any tumour pixel at either time point are identical.
    const near = new Uint8Array(n);
    for (let i = 0; i < n; i++) {
      if (!a.label[i] && !b.label[i]) continue;
      const x = i % w, y = Math.floor(i / w);
      for (let dy = -3; dy <= 3; dy++) for (let dx = -3; dx <= 3; dx++) {
        const xx = x + dx, yy = y + dy;
        if (xx >= 0 && yy >= 0 && xx < w && yy < a.height) near[yy * w + xx] = 1;
      }
    }
    let diff = 0, far = 0;
    for (let c = 0; c < 4; c++) for (let i = 0; i < n; i++) if (!near[i]) { far++; if (a.channels[c * n + i] !== b.channels[c * n + i]) diff++; }
    expect(far).toBeGreaterThan(3 * n);
    expect(diff).toBe(0);
    expect(a.tumour).toEqual(b.tumour);
  });

  it('is deterministic; measurement noise is seeded', () => {
    const again = generatePhantomPatient({ seed: 5, sliceIds: [79, 80], slice: { width: 120 }, render: 'none' });
    expect(again.slices.map((s) => s.sizes)).toEqual(p.slices.map((s) => s.sizes));
    expect(again.slices[0]!.scans.every((x) => x === undefined)).toBe(true);
    const noisy = (seed: number) => generatePhantomPatient({ seed, measurementNoise: 0.1, render: 'none' }).slices[0]!.sizes;
    expect(noisy(1)).toEqual(noisy(1));
    expect(noisy(1)).not.toEqual(noisy(2));
    const clean = generatePhantomPatient({ seed: 1, render: 'none' }).slices[0]!;
    expect(noisy(1)).not.toEqual(clean.sizes);
  });

  it('grows monotonically where the model is monotone', () => {
    // No RT effect (S = 1): pure exponential growth over all days.
    const g = generatePhantomPatient({ seed: 2, params: { survival: 1 }, days: [0, 30, 60, 90, 120], slice: { width: 120 } });
    const areas = g.slices[0]!.scans.map((s) => (s as PhantomSlice).tumourPixels);
    for (let t = 1; t < areas.length; t++) expect(areas[t]).toBeGreaterThan(areas[t - 1]!);
    // Default parameters: increasing before RT start, and from the nadir onwards (regrowth).
    const d = generatePhantomPatient({ seed: 2, days: [0, 7, 14, 20], render: 'none' }).slices[0]!.sizes;
    for (let t = 1; t < d.length; t++) expect(d[t]).toBeGreaterThan(d[t - 1]!);
    expect(DEFAULT_TWO_PHASE_PARAMS.survival).toBeLessThan(1);
  });

  it('renders only baseline and follow-up on request, and scales off-centre slices', () => {
    const q = generatePhantomPatient({ seed: 1, sliceIds: [70, 80, 90], render: 'baseline-followup', slice: { width: 64 } });
    for (const s of q.slices) {
      expect(s.scans.filter((x) => x !== undefined).length).toBe(2);
      expect(s.scans[q.baselineIndex]).toBeDefined();
      expect(s.scans[q.followupIndex]).toBeDefined();
    }
    expect(q.slices[1]!.weight).toBe(1);
    expect(q.slices[0]!.weight).toBeCloseTo(1 - (10 / 12) ** 2, 12);
  });

  it('rejects bad options with the argument named', () => {
    const fn = /passed to 'generatePhantomPatient'/;
    expect(() => generatePhantomPatient({ days: [0, 10, 5] })).toThrow(/'days' .*strictly increasing/);
    expect(() => generatePhantomPatient({ days: [0] })).toThrow(fn);
    expect(() => generatePhantomPatient({ baselineIndex: 4 })).toThrow(/'baselineIndex'/);
    expect(() => generatePhantomPatient({ baselineIndex: 2, followupIndex: 2 })).toThrow(/'followupIndex'/);
    expect(() => generatePhantomPatient({ params: { slope: -1 } })).toThrow(/'params.slope' passed to 'generatePhantomPatient'/);
    expect(() => generatePhantomPatient({ patientId: 'a/b' })).toThrow(/'patientId'/);
    expect(() => generatePhantomPatient({ sliceIds: [3, 3] })).toThrow(/'sliceIds'/);
    expect(() => generatePhantomPatient({ render: 'some' as never })).toThrow(/'render'/);
    expect(() => generatePhantomPatient({ initialSize: -5 })).toThrow(/'initialSize'/);
  });
});
