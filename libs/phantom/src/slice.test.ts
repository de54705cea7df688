import { describe, it, expect } from '@jest/globals';
import { generatePhantomSlice, PHANTOM_LABELS, PHANTOM_TISSUES, type PhantomSlice } from './slice.js';

/** Element-wise equality without Jest's slow deep comparison of large typed arrays. */
function same(a: ArrayLike<number>, b: ArrayLike<number>): boolean {
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false;
  return true;
}

function mean(img: Float32Array, mask: (i: number) => boolean): number {
  let s = 0, n = 0;
  for (let i = 0; i < img.length; i++) if (mask(i)) { s += img[i]!; n++; }
  return n ? s / n : NaN;
}

function centroid(s: PhantomSlice): [number, number] {
  let x = 0, y = 0, n = 0;
  for (let i = 0; i < s.label.length; i++) if (s.label[i]) { x += i % s.width; y += Math.floor(i / s.width); n++; }
  return [x / n, y / n];
}

describe('generatePhantomSlice', () => {
  const base = generatePhantomSlice({ seed: 11, size: 900 });

  it('is deterministic for a seed and changes with the seed', () => {
    const again = generatePhantomSlice({ seed: 11, size: 900 });
    expect(same(again.channels, base.channels)).toBe(true);
    expect(same(again.label, base.label)).toBe(true);
    const other = generatePhantomSlice({ seed: 12, size: 900 });
    expect(same(other.channels, base.channels)).toBe(false);
    // Scan noise alone changes the images, not the anatomy or the tumour.
    const rescan = generatePhantomSlice({ seed: 11, size: 900, scanSeed: 'other' });
    expect(same(rescan.label, base.label)).toBe(true);
    expect(same(rescan.channels, base.channels)).toBe(false);
  });

  it('has the documented layout, values in [0, 1] and background exactly 0', () => {
    const n = 240 * 240;
    expect(base.width).toBe(240);
    expect(base.height).toBe(240);
    expect(base.pixelSpacing).toBe(1);
    expect(base.channels.length).toBe(4 * n);
    expect(base.modalities.t1n.buffer).toBe(base.channels.buffer);
    expect(base.modalities.t2f[5]).toBe(base.channels[3 * n + 5]);
    let outOfRange = 0, maskMismatch = 0;
    for (let c = 0; c < 4; c++) {
      for (let i = 0; i < n; i++) {
        const v = base.channels[c * n + i]!;
        if (!(v >= 0 && v <= 1)) outOfRange++;
        // Non-zero exactly on the head mask, in every channel.
        if ((v !== 0) !== (base.headMask[i] === 1)) maskMismatch++;
      }
    }
    expect(outOfRange).toBe(0);
    expect(maskMismatch).toBe(0);
    expect(base.channels[0]).toBe(0); // a corner
    let head = 0, brain = 0;
    for (let i = 0; i < n; i++) {
      head += base.headMask[i]!;
      brain += base.brainMask[i]!;
      if (base.brainMask[i] && !base.headMask[i]) throw new Error('brain outside head');
    }
    expect(brain).toBeGreaterThan(0.25 * n);
    expect(head).toBeGreaterThan(brain); // skull ring
    expect(base.burden).toBeCloseTo(base.tumourPixels / head, 12);
  });

  it('renders the requested whole-tumour area exactly (tolerance: 1 pixel, for ties)', () => {
    for (const seed of [1, 2, 3, 4]) {
      for (const size of [0, 1, 40, 333, 1234.4, 2500]) {
        const s = generatePhantomSlice({ seed, size, noiseStd: 0 });
        const want = Math.round(size);
        expect(Math.abs(s.tumourPixels - want)).toBeLessThanOrEqual(1);
        expect(s.tumourArea).toBe(s.tumourPixels);
      }
    }
    // At 64x64 the spacing is 3.75 mm: area in mm^2, rounded to whole pixels.
    const small = generatePhantomSlice({ seed: 5, size: 1000, width: 64 });
    expect(small.pixelSpacing).toBe(3.75);
    expect(small.tumourPixels).toBe(Math.round(1000 / 3.75 ** 2));
    expect(small.tumourArea).toBeCloseTo(small.tumourPixels * 3.75 ** 2, 9);
  });

  it('has consistent labels: tumour inside the brain, all three compartments, contrasts as described', () => {
    const { label, modalities: m, brainMask, tissue } = base;
    const counts = [0, 0, 0, 0];
    for (let i = 0; i < label.length; i++) {
      const l = label[i]!;
      counts[l]!++;
      if (l && !brainMask[i]) throw new Error('tumour outside the brain');
    }
    expect(counts[PHANTOM_LABELS.necrosis]).toBeGreaterThan(10);
    expect(counts[PHANTOM_LABELS.oedema]).toBeGreaterThan(10);
    expect(counts[PHANTOM_LABELS.enhancing]).toBeGreaterThan(10);
    const healthyBrain = (i: number) => label[i] === 0 && (tissue[i] === PHANTOM_TISSUES.whiteMatter || tissue[i] === PHANTOM_TISSUES.greyMatter);
    const is = (l: number) => (i: number) => label[i] === l;
    // Enhancing rim bright in t1c, and brighter there than in t1n.
    expect(mean(m.t1c, is(3))).toBeGreaterThan(1.6 * mean(m.t1c, healthyBrain));
    expect(mean(m.t1c, is(3))).toBeGreaterThan(2 * mean(m.t1n, is(3)));
    // Necrosis dark in t1c compared with the rim.
    expect(mean(m.t1c, is(1))).toBeLessThan(0.6 * mean(m.t1c, is(3)));
    // Oedema bright in t2w and t2f.
    expect(mean(m.t2w, is(2))).toBeGreaterThan(1.3 * mean(m.t2w, healthyBrain));
    expect(mean(m.t2f, is(2))).toBeGreaterThan(1.3 * mean(m.t2f, healthyBrain));
    // Healthy tissue: WM brighter than GM in T1, darker in T2; CSF dark in T1/FLAIR, bright in T2.
    const t = (k: number) => (i: number) => label[i] === 0 && tissue[i] === k;
    const { whiteMatter: WM, greyMatter: GM, csf: CSF } = PHANTOM_TISSUES;
    expect(mean(m.t1n, t(WM))).toBeGreaterThan(1.2 * mean(m.t1n, t(GM)));
    expect(mean(m.t2w, t(WM))).toBeLessThan(mean(m.t2w, t(GM)));
    expect(mean(m.t1n, t(CSF))).toBeLessThan(0.6 * mean(m.t1n, t(GM)));
    expect(mean(m.t2f, t(CSF))).toBeLessThan(0.6 * mean(m.t2f, t(GM)));
    expect(mean(m.t2w, t(CSF))).toBeGreaterThan(1.4 * mean(m.t2w, t(GM)));
  });

  it('grows consistently: same centre and shape, nested outlines, drift along tumour.drift', () => {
    const sizes = [200, 500, 1000, 2000];
    const noDrift = sizes.map((size) => generatePhantomSlice({ seed: 3, size, noiseStd: 0, tumour: { drift: [0, 0] } }));
    for (let k = 1; k < sizes.length; k++) {
      const a = noDrift[k - 1]!, b = noDrift[k]!;
      for (let i = 0; i < a.label.length; i++) if (a.label[i] && !b.label[i]) throw new Error(`size ${sizes[k - 1]} not inside ${sizes[k]}`);
      const [ax, ay] = centroid(a), [bx, by] = centroid(b);
      expect(Math.hypot(ax - bx, ay - by)).toBeLessThan(3);
    }
    // With drift the centroid moves about drift * (radius change), mostly nested.
    const drift: [number, number] = [0.3, 0];
    const [s1, s2] = [500, 2000].map((size) => generatePhantomSlice({ seed: 3, size, noiseStd: 0, tumour: { drift, orientation: 0, anisotropy: 1 } }));
    const dr = Math.sqrt(2000 / Math.PI) - Math.sqrt(500 / Math.PI);
    expect(s2!.tumourCentre[0] - s1!.tumourCentre[0]).toBeCloseTo(0.3 * dr * Math.cos(0) /* rotation is small */, 0);
    let inside = 0;
    for (let i = 0; i < s1!.label.length; i++) if (s1!.label[i] && s2!.label[i]) inside++;
    expect(inside / s1!.tumourPixels).toBeGreaterThan(0.95);
  });

  it('without skull, the head mask is the brain mask', () => {
    const s = generatePhantomSlice({ seed: 2, skull: false, width: 96 });
    expect(same(s.headMask, s.brainMask)).toBe(true);
    expect(s.tumourPixels).toBe(0);
    expect(s.burden).toBe(0);
  });

  it('rejects bad options with the argument and the function named', () => {
    expect(() => generatePhantomSlice({ size: -1 })).toThrow(/'size' passed to 'generatePhantomSlice'/);
    expect(() => generatePhantomSlice({ width: 8 })).toThrow(/'width' passed to 'generatePhantomSlice'/);
    expect(() => generatePhantomSlice({ seed: -3 })).toThrow(/'seed' passed to 'generatePhantomSlice'/);
    expect(() => generatePhantomSlice({ noiseStd: Number.NaN })).toThrow(/'noiseStd'/);
    expect(() => generatePhantomSlice({ tumour: { centre: [2, 0] } })).toThrow(/'tumour.centre\[0\]'/);
    expect(() => generatePhantomSlice({ tumour: { anisotropy: 0.5 } })).toThrow(/'tumour.anisotropy'/);
    expect(() => generatePhantomSlice({ size: 30000 })).toThrow(/'size' passed to 'generatePhantomSlice' .* at most half the brain/);
    expect(() => generatePhantomSlice(null as never)).toThrow(/'options' passed to 'generatePhantomSlice' must be an object/);
  });
});
