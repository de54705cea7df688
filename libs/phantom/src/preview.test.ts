import { describe, it, expect } from '@jest/globals';
import { inflateSync } from 'node:zlib';
import { renderPhantomPreview } from './preview.js';
import { generatePhantomSlice } from './slice.js';

/** Independent minimal PNG decoder for 8-bit RGB (all five row filters); checks the chunk structure. */
function decode(png: Uint8Array): { w: number; h: number; colorType: number; rgb: Uint8Array } {
  expect(Array.from(png.subarray(0, 8))).toEqual([137, 80, 78, 71, 13, 10, 26, 10]);
  const dv = new DataView(png.buffer, png.byteOffset, png.byteLength);
  let off = 8, w = 0, h = 0, colorType = -1;
  const idat: Uint8Array[] = [];
  const types: string[] = [];
  while (off < png.length) {
    const len = dv.getUint32(off);
    const type = String.fromCharCode(...png.subarray(off + 4, off + 8));
    types.push(type);
    const data = png.subarray(off + 8, off + 8 + len);
    if (type === 'IHDR') { w = dv.getUint32(off + 8); h = dv.getUint32(off + 12); colorType = data[9]!; }
    if (type === 'IDAT') idat.push(data);
    off += 12 + len;
  }
  expect(types).toEqual(['IHDR', 'IDAT', 'IEND']);
  const raw = inflateSync(Buffer.concat(idat));
  const rgb = new Uint8Array(w * h * 3);
  const stride = w * 3;
  for (let y = 0; y < h; y++) {
    const f = raw[y * (stride + 1)]!;
    expect(f).toBeLessThanOrEqual(4);
    for (let i = 0; i < stride; i++) {
      const x = raw[y * (stride + 1) + 1 + i]!;
      const a = i >= 3 ? rgb[y * stride + i - 3]! : 0;
      const b = y > 0 ? rgb[(y - 1) * stride + i]! : 0;
      const c = y > 0 && i >= 3 ? rgb[(y - 1) * stride + i - 3]! : 0;
      const p = a + b - c, pa = Math.abs(p - a), pb = Math.abs(p - b), pc = Math.abs(p - c);
      const pred = [0, a, b, (a + b) >> 1, pa <= pb && pa <= pc ? a : pb <= pc ? b : c][f]!;
      rgb[y * stride + i] = (x + pred) & 0xff;
    }
  }
  return { w, h, colorType, rgb };
}

describe('renderPhantomPreview', () => {
  it('renders a 5-column grid, one row per slice, grey channels and coloured labels', async () => {
    const a = generatePhantomSlice({ seed: 1, size: 600, width: 64 });
    const b = generatePhantomSlice({ seed: 1, size: 900, width: 64 });
    const png = await renderPhantomPreview([a, b], { gap: 2, scale: 2 });
    const { w, h, colorType, rgb } = decode(png);
    expect([w, h, colorType]).toEqual([5 * 128 + 4 * 2, 2 * 128 + 2, 2]);
    // Top-left tile pixel (x, y) = 2x2 block of t1n at (x/2, y/2).
    const x = 70, y = 60;
    const g = Math.round(255 * a.modalities.t1n[(y >> 1) * 64 + (x >> 1)]!);
    expect(Array.from(rgb.subarray((y * w + x) * 3, (y * w + x) * 3 + 3))).toEqual([g, g, g]);
    // Some coloured (label) pixels exist in the last column.
    let coloured = 0;
    for (let yy = 0; yy < 128; yy++) for (let xx = 4 * 130; xx < w; xx++) {
      const o = (yy * w + xx) * 3;
      if (rgb[o] !== rgb[o + 1] || rgb[o + 1] !== rgb[o + 2]) coloured++;
    }
    expect(coloured).toBe(4 * a.tumourPixels);
  });

  it('crops to the heads plus a margin on request', async () => {
    const a = generatePhantomSlice({ seed: 3, size: 300, width: 64 });
    let x0 = 64, x1 = -1, y0 = 64, y1 = -1;
    for (let i = 0; i < 64 * 64; i++) if (a.headMask[i]) {
      const x = i % 64, y = Math.floor(i / 64);
      x0 = Math.min(x0, x); x1 = Math.max(x1, x); y0 = Math.min(y0, y); y1 = Math.max(y1, y);
    }
    const cw = Math.min(63, x1 + 4) - Math.max(0, x0 - 4) + 1, ch = Math.min(63, y1 + 4) - Math.max(0, y0 - 4) + 1;
    const { w, h } = decode(await renderPhantomPreview([a], { crop: true, gap: 0 }));
    expect([w, h]).toEqual([5 * cw, ch]);
  });

  it('rejects bad arguments', async () => {
    await expect(renderPhantomPreview([])).rejects.toThrow(/'rows' passed to 'renderPhantomPreview'/);
    const a = generatePhantomSlice({ width: 32 });
    const b = generatePhantomSlice({ width: 48 });
    await expect(renderPhantomPreview([a, b])).rejects.toThrow(/must all be 32x32/);
    await expect(renderPhantomPreview([a], { scale: 0 })).rejects.toThrow(/'scale'/);
  });
});
