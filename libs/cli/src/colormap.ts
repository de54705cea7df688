/**
 * Colour maps for images with a scale: a diverging map for signed values
 * (negative blue, zero neutral, positive red), a sequential map for
 * probabilities, mask outlines, and SVG colour bars that label the scale.
 */
import type { PngImage, Rgb } from './png.js';

/**
 * A colour map as equally spaced anchor colours from the low end (t = 0) to
 * the high end (t = 1), interpolated linearly in RGB between neighbours.
 */
export type ColorStops = readonly Rgb[];

/**
 * Diverging blue-white-red: ColorBrewer's 11-class RdBu, reversed so that
 * negative values are blue and positive values red (matplotlib's `RdBu_r`).
 * The middle anchor (t = 0.5) is the neutral light gray #f7f7f7.
 */
export const DIVERGING_BLUE_RED: ColorStops = [
  [5, 48, 97], [33, 102, 172], [67, 147, 195], [146, 197, 222], [209, 229, 240], [247, 247, 247],
  [253, 219, 199], [244, 165, 130], [214, 96, 77], [178, 24, 43], [103, 0, 31],
];

/**
 * Sequential yellow-orange-red for probabilities: ColorBrewer's YlOrRd
 * without its two palest anchors, so that a low probability still shows
 * against a bright (FLAIR-hyperintense) background.
 */
export const SEQUENTIAL_YELLOW_RED: ColorStops = [
  [254, 217, 118], [254, 178, 76], [253, 141, 60], [252, 78, 42], [227, 26, 28], [189, 0, 38], [128, 0, 38],
];

function checkStops(stops: ColorStops, fn: string): void {
  if (!Array.isArray(stops) || stops.length < 2) throw new RangeError(`'stops' passed to '${fn}' must hold at least 2 colours`);
  stops.forEach((c, i) => {
    if (!Array.isArray(c) || c.length !== 3 || c.some((v) => !(v >= 0 && v <= 255))) {
      throw new RangeError(`'stops' passed to '${fn}': colour ${i} must be [r, g, b] with components in 0..255, got ${JSON.stringify(c)}`);
    }
  });
}

/**
 * The colour of `t` in [0, 1] (clamped; NaN gives the middle) on a colour map.
 *
 * @param stops - the map's anchors, see {@link ColorStops}.
 * @param t - position on the map.
 * @returns RGB components 0..255 (not rounded).
 */
export function colorAt(stops: ColorStops, t: number): [number, number, number] {
  checkStops(stops, 'colorAt');
  const u = Number.isNaN(t) ? 0.5 : Math.max(0, Math.min(1, t));
  const x = u * (stops.length - 1);
  const i = Math.min(stops.length - 2, Math.floor(x));
  const f = x - i;
  const a = stops[i]!, b = stops[i + 1]!;
  return [0, 1, 2].map((k) => a[k]! + f * (b[k]! - a[k]!)) as [number, number, number];
}

/** Options of {@link colorize}. */
export interface ColorizeOptions {
  /**
   * The colour map.
   * @defaultValue DIVERGING_BLUE_RED
   */
  stops?: ColorStops;
  /**
   * Value shown at the low end of the map.
   * @defaultValue -max
   */
  min?: number;
  /**
   * Value shown at the high end of the map (must exceed `min`).
   * @defaultValue 1
   */
  max?: number;
}

/**
 * Colours a single-channel value image with a colour map: values at `min`
 * get the first anchor, values at `max` the last, values outside are clamped.
 * With the default diverging map and range `[-max, max]`, 0 is neutral,
 * negative values blue and positive values red.
 *
 * @param values - `width*height` values, row-major (y slowest).
 * @param width - image width in pixels.
 * @param height - image height in pixels.
 * @param options - see {@link ColorizeOptions}.
 * @returns an RGB {@link PngImage}.
 */
export function colorize(values: ArrayLike<number>, width: number, height: number, options: ColorizeOptions = {}): PngImage {
  const fn = 'colorize';
  if (!Number.isInteger(width) || !Number.isInteger(height) || width <= 0 || height <= 0) {
    throw new RangeError(`'width'/'height' passed to '${fn}' must be positive integers, got ${width}x${height}`);
  }
  if (values.length !== width * height) throw new RangeError(`'values' passed to '${fn}' has ${values.length} values, expected ${width}x${height}`);
  const stops = options.stops ?? DIVERGING_BLUE_RED;
  checkStops(stops, fn);
  const max = options.max ?? 1;
  const min = options.min ?? -max;
  if (!Number.isFinite(min) || !Number.isFinite(max) || !(max > min)) throw new RangeError(`'min'/'max' passed to '${fn}' must be finite with max > min, got ${min}, ${max}`);
  const out = new Float32Array(3 * width * height);
  for (let i = 0; i < width * height; i++) {
    const v = values[i]!;
    const c = colorAt(stops, Number.isFinite(v) ? (v - min) / (max - min) : Number.NaN);
    for (let k = 0; k < 3; k++) out[3 * i + k] = c[k]! / 255;
  }
  return { width, height, data: out, channels: 3 };
}

/** Options of {@link overlayColormap}. */
export interface OverlayColormapOptions {
  /**
   * The colour map for values in (threshold, 1].
   * @defaultValue SEQUENTIAL_YELLOW_RED
   */
  stops?: ColorStops;
  /**
   * Opacity of the coloured pixels (0..1).
   * @defaultValue 0.9
   */
  alpha?: number;
  /**
   * Values at or below this stay transparent (the gray image shows).
   * @defaultValue 0
   */
  threshold?: number;
}

/**
 * Colours a map with values in [0, 1] (e.g. a growth probability) over a gray
 * image: a pixel above `threshold` gets the colour of its value on the map
 * (0 the first anchor, 1 the last), blended with the gray at `alpha`; the
 * others keep the gray value. Unlike `overlay`, the colour, not only the
 * opacity, encodes the value, so that a colour bar can label it.
 *
 * @param base - the gray (or RGB) background image.
 * @param map - `width*height` values in [0, 1] (clamped; non-finite as 0).
 * @param options - see {@link OverlayColormapOptions}.
 * @returns an RGB {@link PngImage}.
 */
export function overlayColormap(base: PngImage, map: ArrayLike<number>, options: OverlayColormapOptions = {}): PngImage {
  const fn = 'overlayColormap';
  const n = base.width * base.height;
  const c = base.channels ?? 1;
  if (base.data.length !== n * c) throw new RangeError(`'base' passed to '${fn}' has ${base.data.length} values, expected ${base.width}x${base.height}x${c}`);
  if (map.length !== n) throw new RangeError(`'map' passed to '${fn}' has ${map.length} values, expected ${n}`);
  const stops = options.stops ?? SEQUENTIAL_YELLOW_RED;
  checkStops(stops, fn);
  const alpha = options.alpha ?? 0.9;
  if (!(alpha >= 0 && alpha <= 1)) throw new RangeError(`'alpha' passed to '${fn}' must be in [0, 1], got ${alpha}`);
  const threshold = options.threshold ?? 0;
  const out = new Float32Array(3 * n);
  for (let i = 0; i < n; i++) {
    const raw = map[i]!;
    const v = Number.isFinite(raw) ? Math.max(0, Math.min(1, raw)) : 0;
    const col = v > threshold ? colorAt(stops, v) : undefined;
    for (let k = 0; k < 3; k++) {
      const g = Math.max(0, Math.min(1, base.data[c === 1 ? i : 3 * i + k]!));
      out[3 * i + k] = col ? g * (1 - alpha) + (col[k]! / 255) * alpha : g;
    }
  }
  return { width: base.width, height: base.height, data: out, channels: 3 };
}

function checkMask(mask: ArrayLike<number>, width: number, height: number, fn: string): void {
  if (!Number.isInteger(width) || !Number.isInteger(height) || width <= 0 || height <= 0) {
    throw new RangeError(`'width'/'height' passed to '${fn}' must be positive integers, got ${width}x${height}`);
  }
  if (mask.length !== width * height) throw new RangeError(`'mask' passed to '${fn}' has ${mask.length} values, expected ${width}x${height}`);
}

/**
 * Paints the outline of a mask (its pixels with a 4-neighbour outside the
 * mask or on the image border) in a colour onto a copy of an image.
 *
 * @param image - gray or RGB image.
 * @param mask - `width*height` values; > 0.5 is inside.
 * @param color - RGB 0..255.
 * @returns an RGB {@link PngImage}.
 */
export function drawOutline(image: PngImage, mask: ArrayLike<number>, color: Rgb): PngImage {
  const { width: w, height: h } = image;
  checkMask(mask, w, h, 'drawOutline');
  const c = image.channels ?? 1;
  if (image.data.length !== w * h * c) throw new RangeError(`'image' passed to 'drawOutline' has ${image.data.length} values, expected ${w}x${h}x${c}`);
  const out = new Float32Array(3 * w * h);
  for (let i = 0; i < w * h; i++) for (let k = 0; k < 3; k++) out[3 * i + k] = image.data[c === 1 ? i : 3 * i + k]!;
  const inside = (x: number, y: number) => x >= 0 && y >= 0 && x < w && y < h && mask[y * w + x]! > 0.5;
  for (let y = 0; y < h; y++) {
    for (let x = 0; x < w; x++) {
      if (!inside(x, y)) continue;
      if (inside(x - 1, y) && inside(x + 1, y) && inside(x, y - 1) && inside(x, y + 1)) continue;
      for (let k = 0; k < 3; k++) out[3 * (y * w + x) + k] = color[k]! / 255;
    }
  }
  return { width: w, height: h, data: out, channels: 3 };
}

/**
 * The boundary of a mask as an SVG path (`d` attribute) along pixel edges,
 * in pixel coordinates (pixel (x, y) covers [x, x+1] x [y, y+1]): drawn over
 * an image with `viewBox="0 0 width height"` it outlines the mask exactly.
 * Collinear edges are merged into runs, so the path stays short.
 *
 * @param mask - `width*height` values; > 0.5 is inside.
 * @param width - mask width.
 * @param height - mask height.
 * @returns the path data; '' for an empty mask.
 */
export function maskOutlinePath(mask: ArrayLike<number>, width: number, height: number): string {
  checkMask(mask, width, height, 'maskOutlinePath');
  const inside = (x: number, y: number) => x >= 0 && y >= 0 && x < width && y < height && mask[y * width + x]! > 0.5;
  const parts: string[] = [];
  // Horizontal edges: between rows y-1 and y, runs of x where exactly one side is inside.
  for (let y = 0; y <= height; y++) {
    let x = 0;
    while (x < width) {
      const edge = (xx: number) => inside(xx, y - 1) !== inside(xx, y);
      if (!edge(x)) { x++; continue; }
      const x0 = x;
      while (x < width && edge(x)) x++;
      parts.push(`M${x0} ${y}H${x}`);
    }
  }
  // Vertical edges: between columns x-1 and x.
  for (let x = 0; x <= width; x++) {
    let y = 0;
    while (y < height) {
      const edge = (yy: number) => inside(x - 1, yy) !== inside(x, yy);
      if (!edge(y)) { y++; continue; }
      const y0 = y;
      while (y < height && edge(y)) y++;
      parts.push(`M${x} ${y0}V${y}`);
    }
  }
  return parts.join('');
}

/** Options of {@link colorBarSvg}. */
export interface ColorBarOptions {
  /** Value at the left end. */
  min: number;
  /** Value at the right end (> min). */
  max: number;
  /**
   * Tick values to label (those outside [min, max] are dropped).
   * @defaultValue min, the middle and max
   */
  ticks?: readonly number[];
  /**
   * Formats tick labels.
   * @defaultValue 3 significant digits, a leading + on positive values when min < 0
   */
  format?: (v: number) => string;
  /**
   * Caption above the bar (what and which unit).
   * @defaultValue ''
   */
  label?: string;
  /**
   * Width in px.
   * @defaultValue 240
   */
  width?: number;
}

const escXml = (s: string) => s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/"/g, '&quot;');
const hex = (c: readonly number[]) => `#${c.map((v) => Math.round(v).toString(16).padStart(2, '0')).join('')}`;

/**
 * A horizontal colour bar as inline SVG: the colour map as a gradient (one
 * `<stop>` per anchor, so it matches {@link colorAt}), tick marks with their
 * values, and a caption.
 *
 * @param stops - the colour map.
 * @param options - range, ticks and caption, see {@link ColorBarOptions}.
 * @returns the SVG text (`class="colorbar"`).
 */
export function colorBarSvg(stops: ColorStops, options: ColorBarOptions): string {
  const fn = 'colorBarSvg';
  checkStops(stops, fn);
  const { min, max } = options;
  if (!Number.isFinite(min) || !Number.isFinite(max) || !(max > min)) throw new RangeError(`'min'/'max' passed to '${fn}' must be finite with max > min, got ${min}, ${max}`);
  const W = options.width ?? 240;
  if (!(W >= 60)) throw new RangeError(`'width' passed to '${fn}' must be at least 60, got ${W}`);
  const fmt = options.format ?? ((v: number) => `${min < 0 && v > 0 ? '+' : ''}${v === 0 ? '0' : String(Number(v.toPrecision(3)))}`);
  const ticks = (options.ticks ?? [min, (min + max) / 2, max]).filter((t) => t >= min - 1e-12 * Math.abs(max - min) && t <= max + 1e-12 * Math.abs(max - min));
  const pad = 14;
  const top = options.label ? 16 : 2;
  const barH = 12;
  const H = top + barH + 18;
  const id = `cb${Math.abs(hash(`${stops.map(hex).join('')}${min}${max}${options.label ?? ''}`)).toString(36)}`;
  const x = (v: number) => pad + ((v - min) / (max - min)) * (W - 2 * pad);
  const parts = [
    `<svg class="colorbar" xmlns="http://www.w3.org/2000/svg" width="${W}" height="${H}" viewBox="0 0 ${W} ${H}" font-family="sans-serif" font-size="10">`,
    `<defs><linearGradient id="${id}" x1="0" x2="1" y1="0" y2="0">${stops.map((c, i) => `<stop offset="${(i / (stops.length - 1)).toFixed(4)}" stop-color="${hex(c)}"/>`).join('')}</linearGradient></defs>`,
  ];
  if (options.label) parts.push(`<text x="${W / 2}" y="11" text-anchor="middle">${escXml(options.label)}</text>`);
  parts.push(`<rect x="${pad}" y="${top}" width="${W - 2 * pad}" height="${barH}" fill="url(#${id})" stroke="#666" stroke-width="0.5"/>`);
  for (const t of ticks) {
    const tx = x(t).toFixed(1);
    parts.push(`<line x1="${tx}" x2="${tx}" y1="${top + barH}" y2="${top + barH + 4}" stroke="#333"/><text class="tick" x="${tx}" y="${top + barH + 14}" text-anchor="middle">${escXml(fmt(t))}</text>`);
  }
  parts.push('</svg>');
  return parts.join('');
}

/** A small string hash for unique gradient ids within one HTML page. */
function hash(s: string): number {
  let h = 0;
  for (let i = 0; i < s.length; i++) h = (Math.imul(31, h) + s.charCodeAt(i)) | 0;
  return h;
}

/**
 * A "nice" upper limit at or above `v` > 0 (or within a relative 1e-6 below
 * it): 1, 2, 2.5 or 5 times a power of 10 (for symmetric colour scales such
 * as ±0.05).
 *
 * @param v - a positive value; 0 or non-finite give `fallback`.
 * @param fallback - returned when `v` is not positive and finite.
 * @defaultValue fallback 1
 */
export function niceCeil(v: number, fallback = 1): number {
  if (!(v > 0) || !Number.isFinite(v)) return fallback;
  const mag = 10 ** Math.floor(Math.log10(v));
  for (const m of [1, 2, 2.5, 5, 10]) {
    const c = +(m * mag).toPrecision(12);
    // Within float32 rounding of a nice value (0.6 - 0.5 = 0.100000024): that value.
    if (c >= v * (1 - 1e-6)) return c;
  }
  return 10 * mag;
}
