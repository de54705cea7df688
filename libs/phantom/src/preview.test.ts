import { describe, it, expect } from '@jest/globals';
import { inflateSync } from 'node:zlib';
import { renderPhantomPreview } from './preview.js';
import { generatePhantomSlice } from './slice.js';

/** Independent minimal PNG decoder for 8-bit RGB, filter type 0 rows (what the encoder writes); checks CRC-free structure. */
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
    if (type === 'IHDR') { w = dv.getUint32(off + 8); h = dv.getUint32(off + 12); colorType = data[9] as number; }
    if (type === 'IDAT') idat.push(data);
    off += 12 + len;
  }
  expect(types).toEqual(['IHDR', 'IDAT', 'IEND']);
  const raw = inflateSync(Buffer.concat(idat));
  const rgb = new Uint8Array(w * h * 3);
  for (let y = 0; y < h; y++) {
    expect(raw[y * (w * 3 + 1)]).toBe(0);
    rgb.set(raw.subarray(y * (w * 3 + 1) + 1, (y + 1) * (w * 3 + 1)), y * w * 3);
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
    const g = Math.round(255 * (a.modalities.t1n[(y >> 1) * 64 + (x >> 1)] as number));
    expect(Array.from(rgb.subarray((y * w + x) * 3, (y * w + x) * 3 + 3))).toEqual([g, g, g]);
    // Some coloured (label) pixels exist in the last column.
    let coloured = 0;
    for (let yy = 0; yy < 128; yy++) for (let xx = 4 * 130; xx < w; xx++) {
      const o = (yy * w + xx) * 3;
      if (rgb[o] !== rgb[o + 1] || rgb[o + 1] !== rgb[o + 2]) coloured++;
    }
    expect(coloured).toBe(4 * a.tumourPixels);
  });

  it('rejects bad arguments', async () => {
    await expect(renderPhantomPreview([])).rejects.toThrow(/'rows' passed to 'renderPhantomPreview'/);
    const a = generatePhantomSlice({ width: 32 });
    const b = generatePhantomSlice({ width: 48 });
    await expect(renderPhantomPreview([a, b])).rejects.toThrow(/must all be 32x32/);
    await expect(renderPhantomPreview([a], { scale: 0 })).rejects.toThrow(/'scale'/);
  });
});
