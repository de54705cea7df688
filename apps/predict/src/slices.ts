/**
 * Slices for prediction: the baseline scans of a data folder in the seed
 * layout, at the networks' size (zero-padded 240 -> 256, then resized) and at
 * their native size (for outputs that keep the input's geometry), with the
 * NIfTI affine and spacing of the input.
 */
import fs from 'node:fs';
import path from 'node:path';
import { listSamples, loadSample, MODALITIES, SPLITS } from '@tumorcast/dataset';
import { loadNifti } from '@tumorcast/nifti/node';
import type { SliceSample, SliceSampleInfo, Split } from '@tumorcast/dataset';
import type { Affine } from '@tumorcast/nifti';
import { CliError } from '@tumorcast/cli';

/** A baseline slice ready for prediction. */
export interface PredictionSlice {
  /** `<pid>_<slice>`. */
  id: string;
  /** Where it came from. */
  info: SliceSampleInfo;
  /** Native size (e.g. 240). */
  width: number;
  /** Native size (e.g. 240). */
  height: number;
  /** Native image, HWC, [0, 1]. */
  native: Float32Array;
  /** Native label (seg > 0), when known. */
  nativeLabel?: Uint8Array;
  /** Image at the networks' size, HWC, [0, 1]. */
  model: Float32Array;
  /** Label at the networks' size, when known. */
  modelLabel?: Uint8Array;
  /** Tumour burden from the label, when known. */
  burden?: number;
  /** Affine of the input (from its t1n file). */
  affine: Affine;
  /** Voxel spacing [x, y] in mm. */
  spacing: [number, number];
}

/** Which splits to look in (in order) for baseline slices. */
export const PREDICTION_SPLITS: readonly Split[] = ['testing', 'validation', 'training'];

/** Lists the slices of `root`: testing/, validation/ and training/ folders. */
export async function listPredictionSlices(root: string): Promise<SliceSampleInfo[]> {
  if (!fs.existsSync(root)) throw new CliError(`data folder ${root} does not exist`, 2);
  const out: SliceSampleInfo[] = [];
  for (const split of SPLITS) {
    if (!fs.existsSync(path.join(root, split))) continue;
    try {
      out.push(...(await listSamples(root, { split })));
    } catch (e) {
      throw new CliError((e as Error).message, 1);
    }
  }
  if (!out.length) throw new CliError(`no slices found in ${root} (expected testing/, validation/ or training/ with <pid>_<slice>/ folders)`, 1);
  return out.sort((a, b) => PREDICTION_SPLITS.indexOf(a.split) - PREDICTION_SPLITS.indexOf(b.split) || a.id.localeCompare(b.id));
}

/** Keeps the slices of shard `index` of `count` (1-based `i/n`, round robin over the sorted ids). */
export function shardSlices<T extends { id: string }>(slices: readonly T[], shard: string | undefined): T[] {
  if (!shard) return [...slices];
  const m = /^(\d+)\/(\d+)$/.exec(shard);
  const i = m ? Number(m[1]) : Number.NaN;
  const n = m ? Number(m[2]) : Number.NaN;
  if (!m || n < 1 || i < 1 || i > n) throw new CliError(`--shard must be i/n with 1 <= i <= n (e.g. 2/8), got '${shard}'`);
  return [...slices].sort((a, b) => a.id.localeCompare(b.id)).filter((_, k) => k % n === i - 1);
}

/** What {@link checkSlices} found out about one slice. */
export interface CheckedSlice {
  /** `<pid>_<slice>`. */
  id: string;
  /** Native width. */
  width: number;
  /** Native height. */
  height: number;
  /** Tumour burden of its label (0 for an empty label); undefined without a label. */
  burden?: number;
}

/** The index of the first value that is NaN or infinite, or -1. */
export function firstNonFinite(values: ArrayLike<number>): number {
  for (let i = 0; i < values.length; i++) if (!Number.isFinite(values[i] as number)) return i;
  return -1;
}

/**
 * Loads every slice once at its native size, before any sampling, so that an
 * unreadable or inconsistent file (or label) stops a run at once with its
 * name; NaN or infinite voxels (which the networks would spread over the
 * whole predicted scan) are refused naming the file and the voxel. Returns
 * each slice's size and label burden.
 */
export async function checkSlices(infos: readonly SliceSampleInfo[]): Promise<CheckedSlice[]> {
  const out: CheckedSlice[] = [];
  for (const info of infos) {
    let s: SliceSample;
    try {
      s = await loadSample(info, { size: null, layout: 'hwc', label: true });
    } catch (e) {
      throw new CliError(`slice ${info.dir}: ${(e as Error).message}`, 1);
    }
    const bad = firstNonFinite(s.image);
    if (bad >= 0) {
      const c = bad % MODALITIES.length;
      const p = Math.floor(bad / MODALITIES.length);
      throw new CliError(`slice ${info.id}: ${info.files[MODALITIES[c]!]} holds ${s.image[bad]} at x ${p % s.width}, y ${Math.floor(p / s.width)}; `
        + 'every voxel must be a finite number: fix or leave out this slice (--slices)', 1);
    }
    if (info.label) {
      // loadSample binarises the label (NaN > 0 is false): check the file itself.
      const label = await loadNifti(info.label);
      const badLabel = firstNonFinite(label.data as ArrayLike<number>);
      if (badLabel >= 0) {
        throw new CliError(`slice ${info.id}: label ${info.label} holds ${(label.data as ArrayLike<number>)[badLabel]} at voxel ${badLabel}; every voxel must be a finite number`, 1);
      }
    }
    out.push({ id: info.id, width: s.width, height: s.height, ...(s.burden !== undefined ? { burden: s.burden } : {}) });
  }
  return out;
}

/** Loads one slice at native and model size. */
export async function loadPredictionSlice(info: SliceSampleInfo, modelSize: number): Promise<PredictionSlice> {
  let native: SliceSample;
  let model: SliceSample;
  try {
    native = await loadSample(info, { size: null, layout: 'hwc', label: true });
    model = await loadSample(info, { size: 256, resize: modelSize === 256 ? undefined : modelSize, layout: 'hwc', label: true });
  } catch (e) {
    throw new CliError(`slice ${info.dir}: ${(e as Error).message}`, 1);
  }
  const ref = await loadNifti(info.files.t1n);
  const sp = ref.spacing;
  return {
    id: info.id,
    info,
    width: native.width,
    height: native.height,
    native: native.image,
    nativeLabel: native.label,
    model: model.image,
    modelLabel: model.label,
    burden: native.burden,
    affine: ref.affine,
    spacing: [sp[0] ?? 1, sp[1] ?? 1],
  };
}

/**
 * Brings a model-size image (HWC, C channels) back to the native geometry:
 * bilinear upsampling to 256 (half-pixel centres), then the centre crop that
 * undoes the 240 -> 256 zero padding.
 */
export function toNative(img: Float32Array, size: number, channels: number, width: number, height: number): Float32Array {
  const S = 256;
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

/** One channel of an HWC image as an HW plane. */
export function channelOf(img: Float32Array, channels: number, c: number): Float32Array {
  const n = img.length / channels;
  const out = new Float32Array(n);
  for (let i = 0; i < n; i++) out[i] = img[i * channels + c] as number;
  return out;
}

export { MODALITIES };
