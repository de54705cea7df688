/**
 * Preview grids of phantom slices as PNG: one row per slice, columns t1n,
 * t1c, t2w, t2f and the label map (BraTS colours: necrosis red, oedema green,
 * enhancing yellow) over the grey t2f.
 */
import { PHANTOM_MODALITIES, type PhantomSlice } from './slice.js';
import { checkBool, checkInt, checkOptions } from './validate.js';

// Global lookups are slow inside Jest's VM contexts; alias Math once per module.
const M = Math;

/** Options of {@link renderPhantomPreview} and {@link writePhantomPreview}. */
export interface PhantomPreviewOptions {
  /**
   * Gap between tiles, pixels.
   * @defaultValue 2
   */
  gap?: number;
  /**
   * Upscaling factor (nearest neighbour), useful for 64x64 slices.
   * @defaultValue 1
   */
  scale?: number;
  /**
   * Crop every tile to the bounding box of the heads (union over rows) plus a 4-pixel margin.
   * @defaultValue false
   */
  crop?: boolean;
}

const LABEL_RGB: Record<number, [number, number, number]> = { 1: [230, 40, 40], 2: [40, 200, 60], 3: [250, 220, 30] };

/**
 * Renders slices as one RGB PNG grid: a row per slice (e.g. baseline and
 * follow-up), five columns (the four modalities, each displayed over
 * [0, 1], then the label overlay).
 *
 * @param rows - slices of equal size, at least one.
 * @param options - see {@link PhantomPreviewOptions}.
 * @returns the PNG file's bytes.
 */
export async function renderPhantomPreview(rows: readonly PhantomSlice[], options?: PhantomPreviewOptions): Promise<Uint8Array> {
  const fn = 'renderPhantomPreview';
  if (!Array.isArray(rows) || rows.length === 0) throw new TypeError(`'rows' passed to '${fn}' must be a non-empty array of slices`);
  const o = checkOptions(fn, 'options', options);
  const gap = checkInt(fn, 'gap', o.gap ?? 2, 0, 64);
  const scale = checkInt(fn, 'scale', o.scale ?? 1, 1, 16);
  const crop = checkBool(fn, 'crop', o.crop ?? false);
  const { width: w, height: h } = rows[0] as PhantomSlice;
  for (const r of rows) {
    if (r.width !== w || r.height !== h) throw new RangeError(`'rows' passed to '${fn}' must all be ${w}x${h}, got ${r.width}x${r.height}`);
  }
  let x0 = 0, y0 = 0, x1 = w - 1, y1 = h - 1;
  if (crop) {
    [x0, y0, x1, y1] = [w, h, -1, -1];
    for (const r of rows) {
      for (let i = 0; i < w * h; i++) {
        if (!r.headMask[i]) continue;
        const x = i % w, y = (i - x) / w;
        x0 = M.min(x0, x); x1 = M.max(x1, x); y0 = M.min(y0, y); y1 = M.max(y1, y);
      }
    }
    if (x1 < 0) [x0, y0, x1, y1] = [0, 0, w - 1, h - 1];
    [x0, y0, x1, y1] = [M.max(0, x0 - 4), M.max(0, y0 - 4), M.min(w - 1, x1 + 4), M.min(h - 1, y1 + 4)];
  }
  const cw = x1 - x0 + 1, ch = y1 - y0 + 1;
  const tw = cw * scale, th = ch * scale;
  const cols = 5;
  const W = cols * tw + (cols - 1) * gap;
  const H = rows.length * th + (rows.length - 1) * gap;
  const px = new Uint8Array(W * H * 3).fill(255);
  const n = w * h;
  rows.forEach((s, r) => {
    for (let c = 0; c < cols; c++) {
      for (let y = 0; y < th; y++) {
        for (let x = 0; x < tw; x++) {
          const i = (y0 + M.floor(y / scale)) * w + x0 + M.floor(x / scale);
          let rgb: [number, number, number];
          if (c < 4) {
            const g = M.round(255 * M.min(1, M.max(0, s.channels[c * n + i]!)));
            rgb = [g, g, g];
          } else {
            const g = M.round(255 * M.min(1, M.max(0, s.modalities.t2f[i]! * 1.2)));
            const col = LABEL_RGB[s.label[i]!];
            rgb = col ? [M.round(0.35 * g + 0.65 * col[0]), M.round(0.35 * g + 0.65 * col[1]), M.round(0.35 * g + 0.65 * col[2])] : [g, g, g];
          }
          const o3 = ((r * (th + gap) + y) * W + c * (tw + gap) + x) * 3;
          px[o3] = rgb[0];
          px[o3 + 1] = rgb[1];
          px[o3 + 2] = rgb[2];
        }
      }
    }
  });
  // Loaded on first use (pngjs needs Node's zlib): rendering the grid itself does not.
  const { encodePngUint8 } = await import('@tumorcast/cli');
  return encodePngUint8(W, H, 3, px);
}

/** Column titles of the preview grid, left to right. */
export const PREVIEW_COLUMNS: readonly string[] = [...PHANTOM_MODALITIES, 'label'];

/**
 * Writes {@link renderPhantomPreview}'s PNG to `file` atomically.
 *
 * @param file - output path (parent folders are created).
 * @param rows - slices, one row each.
 * @param options - see {@link PhantomPreviewOptions}.
 */
export async function writePhantomPreview(file: string, rows: readonly PhantomSlice[], options?: PhantomPreviewOptions): Promise<void> {
  if (typeof file !== 'string' || file.length === 0) throw new TypeError(`'file' passed to 'writePhantomPreview' must be a non-empty path`);
  const png = await renderPhantomPreview(rows, options);
  const { writeFileAtomic } = await import('@tumorcast/cli/files');
  await writeFileAtomic(file, png);
}
