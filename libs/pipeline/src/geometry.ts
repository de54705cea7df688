/**
 * A baseline slice at two sizes — the networks' and its own (native) — and
 * the way back from the networks' size to the native geometry.
 */

/** A baseline slice for `predictSlice`: its scan (and label) at its native size and at the networks' size. */
export interface SliceImages {
  /** Native width (e.g. 240). */
  width: number;
  /** Native height (e.g. 240). */
  height: number;
  /** Native image, HWC (t1n, t1c, t2w, t2f), [0, 1]. */
  native: Float32Array;
  /** Native label (seg > 0, HW, 0/1), when known. */
  nativeLabel?: Uint8Array;
  /** Image at the networks' size, HWC, [0, 1]: zero-padded to 256 and resized (see {@link toNative}). */
  model: Float32Array;
  /** Label at the networks' size, when known. */
  modelLabel?: Uint8Array;
  /** Tumour burden of the native label, when known. */
  burden?: number;
}

/** The side the data set pads a slice to before resizing it to the networks' size (the paper's 240 -> 256). */
export const PADDED_SIZE = 256;

/**
 * Brings a model-size image (HWC, C channels) back to the native geometry:
 * the inverse of the data set's loading (zero padding or centre crop to
 * {@link PADDED_SIZE}, then a resize to the networks' size): bilinear
 * upsampling to 256 with half-pixel centres (as `F.interpolate(...,
 * mode='bilinear', align_corners=False)`), then the centre crop that undoes
 * the padding.
 *
 * @param img - the image, `size` x `size` x `channels`, HWC.
 * @param size - its side.
 * @param channels - channels per pixel.
 * @param width - the native width.
 * @param height - the native height.
 * @returns `height` x `width` x `channels`, HWC.
 */
export function toNative(img: Float32Array, size: number, channels: number, width: number, height: number): Float32Array {
  const fn = 'toNative';
  for (const [name, v] of [['size', size], ['channels', channels], ['width', width], ['height', height]] as const) {
    if (!Number.isInteger(v) || v < 1) throw new RangeError(`'${name}' passed to '${fn}' must be a positive integer, got ${v}`);
  }
  if (img.length !== size * size * channels) throw new RangeError(`'img' passed to '${fn}' has ${img.length} values, expected ${size}x${size}x${channels}`);
  const S = PADDED_SIZE;
  const up = new Float32Array(S * S * channels);
  const scale = size / S;
  for (let y = 0; y < S; y++) {
    const fy = Math.min(Math.max((y + 0.5) * scale - 0.5, 0), size - 1);
    const y0 = Math.floor(fy), y1 = Math.min(y0 + 1, size - 1), ty = fy - y0;
    for (let x = 0; x < S; x++) {
      const fx = Math.min(Math.max((x + 0.5) * scale - 0.5, 0), size - 1);
      const x0 = Math.floor(fx), x1 = Math.min(x0 + 1, size - 1), tx = fx - x0;
      for (let c = 0; c < channels; c++) {
        const a = img[(y0 * size + x0) * channels + c] as number;
        const b = img[(y0 * size + x1) * channels + c] as number;
        const d = img[(y1 * size + x0) * channels + c] as number;
        const e = img[(y1 * size + x1) * channels + c] as number;
        up[(y * S + x) * channels + c] = (a * (1 - tx) + b * tx) * (1 - ty) + (d * (1 - tx) + e * tx) * ty;
      }
    }
  }
  const ox = Math.floor((S - width) / 2);
  const oy = Math.floor((S - height) / 2);
  const out = new Float32Array(width * height * channels);
  for (let y = 0; y < height; y++) {
    for (let x = 0; x < width; x++) {
      const sy = y + oy, sx = x + ox;
      if (sy < 0 || sy >= S || sx < 0 || sx >= S) continue;
      for (let c = 0; c < channels; c++) out[(y * width + x) * channels + c] = up[(sy * S + sx) * channels + c] as number;
    }
  }
  return out;
}

/**
 * Brings a model-size mask (or probability map) back to the native geometry
 * as a prediction's tumour mask is: {@link toNative}, then >= 0.5.
 *
 * @param mask - `size` x `size` values in [0, 1].
 * @param size - its side.
 * @param width - the native width.
 * @param height - the native height.
 * @returns `height` x `width` 0/1 values.
 */
export function maskToNative(mask: ArrayLike<number>, size: number, width: number, height: number): Uint8Array {
  return Uint8Array.from(toNative(Float32Array.from(mask), size, 1, width, height), (v) => (v >= 0.5 ? 1 : 0));
}

/**
 * One channel of an HWC image as an HW plane.
 *
 * @param img - the image.
 * @param channels - channels per pixel.
 * @param c - the channel (0-based).
 */
export function channelOf(img: Float32Array, channels: number, c: number): Float32Array {
  const n = img.length / channels;
  const out = new Float32Array(n);
  for (let i = 0; i < n; i++) out[i] = img[i * channels + c] as number;
  return out;
}
