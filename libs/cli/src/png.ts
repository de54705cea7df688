/**
 * PNG output for previews: grayscale images, RGB overlays and tiled grids,
 * from float arrays in [0, 1] (row-major, y slowest).
 */
import { PNG } from 'pngjs';

/** An RGB colour, components 0..255. */
export type Rgb = readonly [number, number, number];

/** An image to put in a PNG: row-major float values (y slowest). */
export interface PngImage {
  /** Width in pixels. */
  width: number;
  /** Height in pixels. */
  height: number;
  /** Values: `width*height` gray values, or `width*height*3` interleaved RGB, in [0, 1] (clamped). */
  data: ArrayLike<number>;
  /** 1 for gray, 3 for RGB. @defaultValue 1 */
  channels?: 1 | 3;
}

function check(img: PngImage, fn: string): 1 | 3 {
  const c = img.channels ?? 1;
  if (!Number.isInteger(img.width) || !Number.isInteger(img.height) || img.width <= 0 || img.height <= 0) {
    throw new RangeError(`'image' passed to '${fn}' must have positive integer width and height, got ${img.width}x${img.height}`);
  }
  if (img.data.length !== img.width * img.height * c) {
    throw new RangeError(`'image' passed to '${fn}' has ${img.data.length} values, expected ${img.width}x${img.height}x${c}`);
  }
  return c;
}

const to8 = (v: number) => (Number.isFinite(v) ? Math.max(0, Math.min(255, Math.round(v * 255))) : 0);

/** Encodes an image as PNG bytes (8-bit RGBA, opaque). */
export function encodePng(img: PngImage): Uint8Array {
  const c = check(img, 'encodePng');
  const png = new PNG({ width: img.width, height: img.height });
  const n = img.width * img.height;
  for (let i = 0; i < n; i++) {
    const o = 4 * i;
    if (c === 1) {
      const g = to8(img.data[i]!);
      png.data[o] = g; png.data[o + 1] = g; png.data[o + 2] = g;
    } else {
      png.data[o] = to8(img.data[3 * i]!);
      png.data[o + 1] = to8(img.data[3 * i + 1]!);
      png.data[o + 2] = to8(img.data[3 * i + 2]!);
    }
    png.data[o + 3] = 255;
  }
  return new Uint8Array(PNG.sync.write(png));
}

/**
 * Encodes 8-bit pixels as a PNG of the same layout: gray (colour type 0) or
 * RGB (colour type 2), 8 bits per sample, no alpha, adaptive row filters and
 * one zlib stream (pngjs). For pixels already in bytes, e.g. a rendered
 * preview grid; {@link encodePng} takes floats in [0, 1] instead.
 *
 * @param width - width in pixels (a positive integer).
 * @param height - height in pixels (a positive integer).
 * @param channels - 1 for gray, 3 for RGB.
 * @param pixels - `width * height * channels` bytes, row-major (y slowest), channels interleaved.
 * @returns the PNG file's bytes.
 */
export function encodePngUint8(width: number, height: number, channels: 1 | 3, pixels: Uint8Array): Uint8Array {
  const fn = 'encodePngUint8';
  if (!Number.isInteger(width) || !Number.isInteger(height) || width <= 0 || height <= 0) {
    throw new RangeError(`'width' and 'height' passed to '${fn}' must be positive integers, got ${width}x${height}`);
  }
  if (channels !== 1 && channels !== 3) throw new RangeError(`'channels' passed to '${fn}' must be 1 or 3, got ${String(channels)}`);
  if (!(pixels instanceof Uint8Array)) throw new TypeError(`'pixels' passed to '${fn}' must be a Uint8Array`);
  if (pixels.length !== width * height * channels) {
    throw new RangeError(`'pixels' passed to '${fn}' must have ${width}x${height}x${channels} = ${width * height * channels} bytes, got ${pixels.length}`);
  }
  const colorType = channels === 1 ? 0 : 2;
  const png = new PNG({ width, height });
  png.data = Buffer.from(pixels.buffer, pixels.byteOffset, pixels.byteLength);
  return new Uint8Array(PNG.sync.write(png, { colorType, inputColorType: colorType, inputHasAlpha: false }));
}

/** Decodes PNG bytes to RGB floats in [0,1] (for tests and tools). */
export function decodePng(bytes: Uint8Array): PngImage {
  const png = PNG.sync.read(Buffer.from(bytes));
  const n = png.width * png.height;
  const data = new Float32Array(3 * n);
  for (let i = 0; i < n; i++) for (let k = 0; k < 3; k++) data[3 * i + k] = png.data[4 * i + k]! / 255;
  return { width: png.width, height: png.height, data, channels: 3 };
}

/**
 * Overlays a map in [0, 1] (e.g. a growth probability) on a gray image with a
 * colour ramp (transparent at 0, `color` at 1, scaled by `alpha`).
 */
export function overlay(base: PngImage, map: ArrayLike<number>, color: Rgb = [255, 40, 40], alpha = 0.7): PngImage {
  check(base, 'overlay');
  const n = base.width * base.height;
  if (map.length !== n) throw new RangeError(`'map' passed to 'overlay' has ${map.length} values, expected ${n}`);
  const out = new Float32Array(3 * n);
  for (let i = 0; i < n; i++) {
    const g = Math.max(0, Math.min(1, base.data[(base.channels ?? 1) === 1 ? i : 3 * i]!));
    const a = Math.max(0, Math.min(1, map[i]! || 0)) * alpha;
    for (let k = 0; k < 3; k++) out[3 * i + k] = g * (1 - a) + (color[k]! / 255) * a;
  }
  return { width: base.width, height: base.height, data: out, channels: 3 };
}

/** Tiles same-sized images in a grid with a gap (RGB result). */
export function tileImages(images: PngImage[], columns = images.length, gap = 2): PngImage {
  if (images.length === 0) throw new RangeError("'images' passed to 'tileImages' must not be empty");
  const { width: w, height: h } = images[0]!;
  images.forEach((im) => {
    check(im, 'tileImages');
    if (im.width !== w || im.height !== h) throw new RangeError(`'images' passed to 'tileImages' must share one size; got ${im.width}x${im.height} and ${w}x${h}`);
  });
  const rows = Math.ceil(images.length / columns);
  const W = columns * w + (columns - 1) * gap;
  const H = rows * h + (rows - 1) * gap;
  const out = new Float32Array(3 * W * H).fill(1);
  images.forEach((im, k) => {
    const ox = (k % columns) * (w + gap);
    const oy = Math.floor(k / columns) * (h + gap);
    const c = im.channels ?? 1;
    for (let y = 0; y < h; y++) {
      for (let x = 0; x < w; x++) {
        const o = 3 * ((oy + y) * W + ox + x);
        const i = y * w + x;
        for (let q = 0; q < 3; q++) out[o + q] = c === 1 ? im.data[i]! : im.data[3 * i + q]!;
      }
    }
  });
  return { width: W, height: H, data: out, channels: 3 };
}
