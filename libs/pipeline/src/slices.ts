/**
 * Baseline slices of a data folder in the BraTS slice layout: listed, split into
 * shards, checked before any sampling, and loaded for prediction at the
 * networks' size (zero-padded 240 -> 256, then resized) and at their native
 * size (for outputs that keep the input's geometry), with the NIfTI affine
 * and spacing of the input — each slice's files decoded once.
 */
import fs from 'node:fs';
import path from 'node:path';
import { MODALITIES, SPLITS, listSamples, readSampleFiles, sampleFromFiles } from '@tumorcast/dataset';
import type { SliceSample, SliceSampleFiles, SliceSampleInfo, Split } from '@tumorcast/dataset';
import type { Affine } from '@tumorcast/nifti';
import { PipelineDataError, PipelineInputError, apiOptionName } from './errors.js';
import type { OptionNamer } from './errors.js';
import { PADDED_SIZE } from './geometry.js';
import type { SliceImages } from './geometry.js';

/** A baseline slice of a data folder, ready for prediction. */
export interface PredictionSlice extends SliceImages {
  /** `<pid>_<slice>`. */
  id: string;
  /** Where it came from. */
  info: SliceSampleInfo;
  /** Affine of the input (from its t1n file). */
  affine: Affine;
  /** Voxel spacing [x, y] in mm. */
  spacing: [number, number];
}

/** Which splits to look in (in order) for baseline slices. */
export const PREDICTION_SPLITS: readonly Split[] = ['testing', 'validation', 'training'];

/**
 * Lists the slices of `root`: its testing/, validation/ and training/ folders, in that order.
 *
 * @param root - the data root (BraTS slice layout).
 * @throws PipelineInputError when `root` does not exist; PipelineDataError when its layout is wrong or it holds no slice.
 */
export async function listPredictionSlices(root: string): Promise<SliceSampleInfo[]> {
  if (!fs.existsSync(root)) throw new PipelineInputError(`data folder ${root} does not exist`);
  const out: SliceSampleInfo[] = [];
  for (const split of SPLITS) {
    if (!fs.existsSync(path.join(root, split))) continue;
    try {
      out.push(...(await listSamples(root, { split })));
    } catch (e) {
      throw new PipelineDataError((e as Error).message, { cause: e });
    }
  }
  if (!out.length) throw new PipelineDataError(`no slices found in ${root} (expected testing/, validation/ or training/ with <pid>_<slice>/ folders)`);
  return out.sort((a, b) => PREDICTION_SPLITS.indexOf(a.split) - PREDICTION_SPLITS.indexOf(b.split) || a.id.localeCompare(b.id));
}

/**
 * Keeps the slices of shard `i/n` (1-based, round robin over the sorted ids),
 * so that n processes split a data set between them.
 *
 * @param slices - the slices (anything with an `id`).
 * @param shard - `i/n`, or undefined for all.
 * @param names - how messages name the options.
 * @defaultValue names apiOptionName
 * @throws PipelineInputError for a malformed shard.
 */
export function shardSlices<T extends { id: string }>(slices: readonly T[], shard: string | undefined, names: OptionNamer = apiOptionName): T[] {
  if (!shard) return [...slices];
  const m = /^(\d+)\/(\d+)$/.exec(shard);
  const i = m ? Number(m[1]) : Number.NaN;
  const n = m ? Number(m[2]) : Number.NaN;
  if (!m || n < 1 || i < 1 || i > n) throw new PipelineInputError(`${names('shard')} must be i/n with 1 <= i <= n (e.g. 2/8), got '${shard}'`);
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
  /** The decoded files, when kept for the prediction (see {@link CheckSlicesOptions.keepBytes}). */
  files?: SliceSampleFiles;
}

/** Options of {@link checkSlices}. */
export interface CheckSlicesOptions {
  /**
   * Keep the decoded files of the slices (in order) while their total stays
   * within this many bytes, so that the prediction need not decode them again.
   * @defaultValue 0
   */
  keepBytes?: number;
  /**
   * How messages name the options.
   * @defaultValue apiOptionName
   */
  names?: OptionNamer;
}

/** The index of the first value that is NaN or infinite, or -1. */
export function firstNonFinite(values: ArrayLike<number>): number {
  for (let i = 0; i < values.length; i++) if (!Number.isFinite(values[i] as number)) return i;
  return -1;
}

/** Bytes of a slice's decoded files. */
export function decodedBytes(files: SliceSampleFiles): number {
  const size = (d: ArrayLike<number>) => (d as Partial<ArrayBufferView>).byteLength ?? d.length * 8;
  return Object.values(files.images).reduce((s, img) => s + size(img.data as ArrayLike<number>), 0) + (files.label ? size(files.label.data as ArrayLike<number>) : 0);
}

/**
 * Reads and decodes a slice's files.
 *
 * @param info - the slice.
 * @throws PipelineDataError naming the slice's folder and the file.
 */
export async function readSliceFiles(info: SliceSampleInfo): Promise<SliceSampleFiles> {
  try {
    return await readSampleFiles(info, { label: true });
  } catch (e) {
    throw new PipelineDataError(`slice ${info.dir}: ${(e as Error).message}`, { cause: e });
  }
}

function nativeSample(files: SliceSampleFiles): SliceSample {
  try {
    return sampleFromFiles(files, { size: null, layout: 'hwc', label: true });
  } catch (e) {
    throw new PipelineDataError(`slice ${files.info.dir}: ${(e as Error).message}`, { cause: e });
  }
}

/**
 * Decodes every slice at its native size, before any sampling, so that an
 * unreadable or inconsistent file (or label) stops a run at once with its
 * name; NaN or infinite voxels (which the networks would spread over the
 * whole predicted scan) are refused naming the file and the voxel. Returns
 * each slice's size and label burden, and its decoded files while they fit
 * in {@link CheckSlicesOptions.keepBytes}.
 *
 * @param infos - the slices.
 * @param options - see {@link CheckSlicesOptions}.
 * @throws PipelineDataError naming the slice and the file.
 */
export async function checkSlices(infos: readonly SliceSampleInfo[], options: CheckSlicesOptions = {}): Promise<CheckedSlice[]> {
  const names = options.names ?? apiOptionName;
  let budget = options.keepBytes ?? 0;
  const out: CheckedSlice[] = [];
  for (const info of infos) {
    const files = await readSliceFiles(info);
    const s = nativeSample(files);
    const bad = firstNonFinite(s.image);
    if (bad >= 0) {
      const c = bad % MODALITIES.length;
      const p = Math.floor(bad / MODALITIES.length);
      throw new PipelineDataError(`slice ${info.id}: ${info.files[MODALITIES[c]!]} holds ${s.image[bad]} at x ${p % s.width}, y ${Math.floor(p / s.width)}; `
        + `every voxel must be a finite number: fix or leave out this slice (${names('slices')})`);
    }
    if (info.label && files.label) {
      // The sample binarises the label (NaN > 0 is false): check the file's values.
      const label = files.label.data as ArrayLike<number>;
      const badLabel = firstNonFinite(label);
      if (badLabel >= 0) throw new PipelineDataError(`slice ${info.id}: label ${info.label} holds ${label[badLabel]} at voxel ${badLabel}; every voxel must be a finite number`);
    }
    const bytes = decodedBytes(files);
    const keep = bytes <= budget;
    if (keep) budget -= bytes;
    out.push({ id: info.id, width: s.width, height: s.height, ...(s.burden !== undefined ? { burden: s.burden } : {}), ...(keep ? { files } : {}) });
  }
  return out;
}

/**
 * A slice at native and model size, from its decoded files.
 *
 * @param files - from {@link readSliceFiles} (or kept by {@link checkSlices}).
 * @param modelSize - the networks' input size.
 * @throws PipelineDataError naming the slice and the file.
 */
export function predictionSliceOf(files: SliceSampleFiles, modelSize: number): PredictionSlice {
  const { info } = files;
  const native = nativeSample(files);
  let model: SliceSample;
  try {
    model = sampleFromFiles(files, { size: PADDED_SIZE, resize: modelSize === PADDED_SIZE ? undefined : modelSize, layout: 'hwc', label: true });
  } catch (e) {
    throw new PipelineDataError(`slice ${info.dir}: ${(e as Error).message}`, { cause: e });
  }
  const ref = files.images.t1n;
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
 * Loads one slice at native and model size (its files decoded once).
 *
 * @param info - the slice.
 * @param modelSize - the networks' input size.
 * @throws PipelineDataError naming the slice and the file.
 */
export async function loadPredictionSlice(info: SliceSampleInfo, modelSize: number): Promise<PredictionSlice> {
  return predictionSliceOf(await readSliceFiles(info), modelSize);
}

/**
 * Loads one slice at its native size only (scan, label, affine, spacing),
 * e.g. for scoring or a report.
 *
 * @param info - the slice.
 * @throws PipelineDataError naming the slice and the file.
 */
export async function loadNativeSlice(info: SliceSampleInfo): Promise<Omit<PredictionSlice, 'model' | 'modelLabel'>> {
  const files = await readSliceFiles(info);
  const native = nativeSample(files);
  const sp = files.images.t1n.spacing;
  return {
    id: info.id, info, width: native.width, height: native.height, native: native.image, nativeLabel: native.label, burden: native.burden,
    affine: files.images.t1n.affine, spacing: [sp[0] ?? 1, sp[1] ?? 1],
  };
}
