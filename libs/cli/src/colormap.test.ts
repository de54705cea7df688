import { describe, expect, it } from '@jest/globals';
import fs from 'node:fs';
import {
  DIVERGING_BLUE_RED, SEQUENTIAL_YELLOW_RED, colorAt, colorBarSvg, colorize, decodePng, drawOutline, encodePng, maskOutlinePath, niceCeil, overlayColormap,
} from './index.js';
import type { PngImage } from './index.js';

/** matplotlib's anchors and interpolated colours (tools/cli/make_colormap_fixture.py). */
const golden = JSON.parse(fs.readFileSync(new URL('../test/fixtures/colormaps.json', import.meta.url), 'utf8')) as {
  t: number[]; diverging: { anchors: number[][]; rgb: number[][] }; sequential: { anchors: number[][]; rgb: number[][] };
};

/** The 8-bit RGB of pixel i after a PNG round trip. */
function pixel(img: PngImage, i: number): number[] {
  const back = decodePng(encodePng(img));
  return [0, 1, 2].map((k) => Math.round(back.data[3 * i + k]! * 255));
}

describe('colour maps against matplotlib', () => {
  it('use ColorBrewer RdBu (reversed) and YlOrRd (less its two palest) anchors', () => {
    expect(DIVERGING_BLUE_RED.map((c) => [...c])).toEqual(golden.diverging.anchors);
    expect(SEQUENTIAL_YELLOW_RED.map((c) => [...c])).toEqual(golden.sequential.anchors);
  });

  it('interpolate between anchors as matplotlib does', () => {
    // matplotlib's 65536-entry table quantises t by 1/65535: at most 255 x 10 / 65535 = 0.04 of an 8-bit level here.
    golden.t.forEach((t, i) => {
      colorAt(DIVERGING_BLUE_RED, t).forEach((v, k) => expect(Math.abs(v - golden.diverging.rgb[i]![k]!)).toBeLessThan(0.05));
      colorAt(SEQUENTIAL_YELLOW_RED, t).forEach((v, k) => expect(Math.abs(v - golden.sequential.rgb[i]![k]!)).toBeLessThan(0.05));
    });
  });
});

describe('colorize (diverging, a known 3x2 image)', () => {
  // -0.1, 0, +0.1, +0.05, NaN, +0.2 on the scale [-0.1, +0.1].
  const img = colorize([-0.1, 0, 0.1, 0.05, Number.NaN, 0.2], 3, 2, { max: 0.1 });

  it('puts 0 at the neutral middle, negative values in blue and positive ones in red', () => {
    expect(pixel(img, 0)).toEqual([5, 48, 97]); // -max: darkest blue
    expect(pixel(img, 1)).toEqual([247, 247, 247]); // 0: neutral gray-white
    expect(pixel(img, 2)).toEqual([103, 0, 31]); // +max: darkest red
    // +max/2: t = 0.75, halfway between anchors 7 (244,165,130) and 8 (214,96,77).
    pixel(img, 3).forEach((v, k) => expect(Math.abs(v - [229, 130.5, 103.5][k]!)).toBeLessThanOrEqual(0.5));
    expect(pixel(img, 4)).toEqual([247, 247, 247]); // NaN: neutral
    expect(pixel(img, 5)).toEqual([103, 0, 31]); // clamped
  });

  it('refuses bad sizes and ranges', () => {
    expect(() => colorize([0, 1], 3, 1)).toThrow(/'values' passed to 'colorize' has 2 values, expected 3x1/);
    expect(() => colorize([0], 1, 1, { min: 1, max: 1 })).toThrow(/max > min/);
    expect(() => colorize([0], 1, 1, { stops: [[0, 0, 0]] })).toThrow(/at least 2 colours/);
    expect(() => colorize([0], 1, 1, { stops: [[0, 0, 0], [0, 300, 0]] })).toThrow(/colour 1 must be \[r, g, b\]/);
  });
});

describe('overlayColormap', () => {
  it('leaves p = 0 gray and colours p > 0 by value', () => {
    const base = { width: 3, height: 1, data: [0.5, 0.5, 0.5] };
    const o = overlayColormap(base, [0, 1, 0.5], { alpha: 1 });
    expect(pixel(o, 0)).toEqual([128, 128, 128]);
    expect(pixel(o, 1)).toEqual([128, 0, 38]); // last anchor
    expect(pixel(o, 2)).toEqual([252, 78, 42]); // t = 0.5: anchor 3 of 7
    // alpha blends with the gray: 0.5 * 0.5 + 0.5 * colour.
    const half = overlayColormap(base, [0, 1, 0], { alpha: 0.5 });
    pixel(half, 1).forEach((v, k) => expect(Math.abs(v - (0.5 * 127.5 + 0.5 * [128, 0, 38][k]!))).toBeLessThanOrEqual(0.5));
    expect(() => overlayColormap(base, [0, 1])).toThrow(/'map' passed to 'overlayColormap' has 2 values, expected 3/);
    expect(() => overlayColormap(base, [0, 1, 0], { alpha: 2 })).toThrow(/'alpha' .* \[0, 1\]/);
  });
});

describe('mask outlines', () => {
  // A 3x3 block at x, y = 1..3 in a 5x5 mask.
  const mask = Array.from({ length: 25 }, (_, i) => (i % 5 >= 1 && i % 5 <= 3 && Math.floor(i / 5) >= 1 && Math.floor(i / 5) <= 3 ? 1 : 0));

  it('drawOutline paints the block\'s 8 border pixels, not its centre', () => {
    const out = drawOutline({ width: 5, height: 5, data: new Float32Array(25) }, mask, [0, 255, 0]);
    const green: number[] = [];
    for (let i = 0; i < 25; i++) if (out.data[3 * i + 1]! === 1) green.push(i);
    expect(green).toEqual([6, 7, 8, 11, 13, 16, 17, 18]);
    expect(() => drawOutline({ width: 5, height: 5, data: new Float32Array(25) }, [1], [0, 0, 0])).toThrow(/'mask' passed to 'drawOutline' has 1 values, expected 5x5/);
  });

  it('maskOutlinePath traces pixel edges as merged runs', () => {
    expect(maskOutlinePath(mask, 5, 5)).toBe('M1 1H4M1 4H4M1 1V4M4 1V4');
    // One pixel at (1, 0) of a 2x2 mask: its four edges, the top one on the image border.
    expect(maskOutlinePath([0, 1, 0, 0], 2, 2)).toBe('M1 0H2M1 1H2M1 0V1M2 0V1');
    expect(maskOutlinePath([0, 0, 0, 0], 2, 2)).toBe('');
  });
});

describe('colorBarSvg', () => {
  it('draws the map as gradient stops with labelled ticks and a caption', () => {
    const svg = colorBarSvg(DIVERGING_BLUE_RED, { min: -0.05, max: 0.05, ticks: [-0.05, 0, 0.05], label: 'predicted − baseline' });
    const stops = [...svg.matchAll(/<stop offset="([\d.]+)" stop-color="(#[0-9a-f]{6})"\/>/g)];
    expect(stops).toHaveLength(11);
    expect(stops[0]![2]).toBe('#053061');
    expect(stops[5]![1]).toBe('0.5000');
    expect(stops[5]![2]).toBe('#f7f7f7');
    expect(stops[10]![2]).toBe('#67001f');
    expect([...svg.matchAll(/<text class="tick"[^>]*>([^<]*)<\/text>/g)].map((m) => m[1])).toEqual(['-0.05', '0', '+0.05']);
    expect(svg).toContain('>predicted − baseline</text>');
    expect(() => colorBarSvg(DIVERGING_BLUE_RED, { min: 1, max: 0 })).toThrow(/max > min/);
  });
});

describe('niceCeil', () => {
  it('rounds up to 1, 2, 2.5 or 5 times a power of ten', () => {
    expect([0.037, 0.05, 0.2, 0.21, 0.6, 7, 1e-4].map((v) => niceCeil(v))).toEqual([0.05, 0.05, 0.2, 0.25, 1, 10, 1e-4]);
    expect(niceCeil(0.1000000238)).toBe(0.1); // float32 0.6 - 0.5
    expect(niceCeil(0.10001)).toBe(0.2);
    expect(niceCeil(0, 0.01)).toBe(0.01);
    expect(niceCeil(Number.NaN)).toBe(1);
  });
});
