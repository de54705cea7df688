/**
 * {@link SliceSource} over the BraTS slice layout, on @tumorcast/nifti's data set
 * reader; slices are cached in memory after their first load.
 *
 * Checked before training: every data root exists (a usage error
 * otherwise), every slice folder has the shape of the others (read from the
 * NIfTI headers at open, so a stray 200x200 slice is refused at once instead
 * of being padded silently), and every loaded slice is finite (NaN or
 * infinite voxels are reported with the file, not later as a NaN loss).
 */
import fs from 'node:fs';
import path from 'node:path';
import zlib from 'node:zlib';
import { MODALITIES, listSamples, loadSample, SPLITS } from '@tumorcast/dataset';
import type { SliceSample, SliceSampleInfo } from '@tumorcast/dataset';
import { CliError, ExitCode } from '@tumorcast/cli';
import type { OpenSlicesOptions, SliceBatch, SliceSource } from './data.js';

/** The defaults of {@link OpenSlicesOptions}. */
export const OPEN_SLICES_DEFAULTS = { imageSize: 256, split: 'training', maxSlices: 0, requireLabels: false, labelFraction: false } as const;

/** {@link OpenSlicesOptions} after the defaults. */
type Resolved = { [K in keyof OpenSlicesOptions]-?: Exclude<OpenSlicesOptions[K], undefined> };

async function listAll(roots: readonly string[], o: Resolved): Promise<SliceSampleInfo[]> {
  if (o.split === 'training') return listSamples(roots, { split: 'training', requireLabels: o.requireLabels });
  const out: SliceSampleInfo[] = [];
  for (const split of SPLITS) {
    for (const root of roots) {
      const found = await listSamples(root, { split, requireLabels: false }).catch(() => [] as SliceSampleInfo[]);
      out.push(...found);
    }
  }
  if (o.requireLabels) {
    const missing = out.filter((s) => !s.label);
    if (missing.length) throw new CliError(`${missing[0]!.dir}: no label (seg file or test_labels/${missing[0]!.id}-label.nii.gz), needed here`, 1);
  }
  return out;
}

function isDir(p: string): boolean {
  try {
    return fs.statSync(p).isDirectory();
  } catch {
    return false;
  }
}

/** Usage errors for data roots that are not there (the user named them). */
function checkRoots(roots: readonly string[], o: Resolved): void {
  for (const root of roots) {
    if (!isDir(root)) {
      const kind = fs.existsSync(root) ? 'is not a folder' : 'data set root folder not found';
      throw new CliError(`${root}: ${kind} (expected a folder with ${o.split === 'training' ? 'training/' : 'training/, validation/ or testing/'}<pid>_<slice>/ slice folders)`, ExitCode.usage);
    }
    if (o.split === 'training' && !isDir(path.join(root, 'training'))) {
      throw new CliError(`${root}: no training/ folder in this data set root (expected ${path.join(root, 'training')}/<pid>_<slice>/ slice folders)`, ExitCode.usage);
    }
  }
}

/**
 * The in-plane size (dim[1] x dim[2]) from a NIfTI-1/2 header, reading only
 * the start of the file; undefined when the header cannot be read (the full
 * load reports that file then).
 */
export function niftiSliceShape(file: string): [number, number] | undefined {
  try {
    const fd = fs.openSync(file, 'r');
    let head: Buffer;
    try {
      const buf = Buffer.alloc(4096);
      head = buf.subarray(0, fs.readSync(fd, buf, 0, buf.length, 0));
    } finally {
      fs.closeSync(fd);
    }
    // A partial gzip stream inflates as far as it goes with a sync flush.
    if (head[0] === 0x1f && head[1] === 0x8b) head = zlib.gunzipSync(head, { finishFlush: zlib.constants.Z_SYNC_FLUSH });
    if (head.length < 348) return undefined;
    const le = head.readInt32LE(0);
    const be = head.readInt32BE(0);
    if (le === 348 || be === 348) {
      const dim = (i: number) => (le === 348 ? head.readInt16LE(40 + 2 * i) : head.readInt16BE(40 + 2 * i));
      return [dim(1), dim(2)];
    }
    if (le === 540 || be === 540) {
      const dim = (i: number) => Number(le === 540 ? head.readBigInt64LE(16 + 8 * i) : head.readBigInt64BE(16 + 8 * i));
      return [dim(1), dim(2)];
    }
    return undefined;
  } catch {
    return undefined;
  }
}

/** Refuses slice folders whose shape differs from the others', naming the folder and both shapes. */
export function checkSameShape(infos: readonly SliceSampleInfo[]): void {
  const groups = new Map<string, SliceSampleInfo[]>();
  for (const info of infos) {
    const s = niftiSliceShape(info.files.t1n);
    if (!s) continue;
    const key = `${s[0]}x${s[1]}`;
    const g = groups.get(key);
    if (g) g.push(info);
    else groups.set(key, [info]);
  }
  if (groups.size <= 1) return;
  const sorted = [...groups.entries()].sort((a, b) => b[1].length - a[1].length);
  const [refShape, refInfos] = sorted[0]!;
  const [oddShape, oddInfos] = sorted[1]!;
  const others = oddInfos.length > 1 ? ` (and ${oddInfos.length - 1} more of that shape)` : '';
  throw new CliError(
    `slice folder ${oddInfos[0]!.dir} is ${oddShape}, but ${refInfos.length} other slice(s) are ${refShape} (e.g. ${refInfos[0]!.dir})${others}; `
    + 'all slices of a data set must have one shape: re-slice or remove the odd ones', 1,
  );
}

/** Refuses a slice with NaN or infinite values, naming the modality file. */
function checkFinite(s: SliceSample): void {
  const { image } = s;
  for (let i = 0; i < image.length; i++) {
    if (!Number.isFinite(image[i] as number)) {
      const mod = MODALITIES[i % 4]!;
      const file = s.info.files[mod];
      throw new CliError(`${file}: the ${mod} image has NaN or infinite voxel values; training needs finite data (fix or remove the slice folder ${s.info.dir})`, 1);
    }
  }
}

/**
 * Opens the slices under `roots` (see the module comment); a slice is read
 * when a batch first asks for it.
 *
 * @param roots - data set roots in the BraTS slice layout.
 * @param options - see {@link OpenSlicesOptions}.
 */
export async function openSlices(roots: readonly string[], options: OpenSlicesOptions = {}): Promise<SliceSource> {
  if (!Array.isArray(roots) || !roots.length) throw new CliError(`openSlices: roots must be a non-empty list of data set root folders, got ${JSON.stringify(roots)}`, ExitCode.usage);
  const o: Resolved = { ...OPEN_SLICES_DEFAULTS, ...Object.fromEntries(Object.entries(options).filter(([, v]) => v !== undefined)) };
  checkRoots(roots, o);
  let infos: SliceSampleInfo[];
  try {
    infos = await listAll(roots, o);
  } catch (e) {
    if (e instanceof CliError) throw e;
    throw new CliError((e as Error).message, 1);
  }
  if (o.maxSlices > 0) infos = infos.slice(0, o.maxSlices);
  if (!infos.length) throw new CliError(`no slices found under ${roots.join(', ')} (expected ${o.split === 'training' ? 'training/' : 'training/, validation/ or testing/'}<pid>_<slice>/ folders)`, 1);
  checkSameShape(infos);
  const size = o.imageSize;
  const cache = new Map<number, SliceSample>();
  const load = async (i: number): Promise<SliceSample> => {
    let s = cache.get(i);
    if (!s) {
      const info = infos[i] as SliceSampleInfo;
      try {
        s = await loadSample(info, { size: 256, resize: size === 256 ? undefined : size, layout: 'hwc', label: true, labelFraction: o.labelFraction });
      } catch (e) {
        throw new CliError(`slice ${info.dir}: ${(e as Error).message}`, 1);
      }
      checkFinite(s);
      cache.set(i, s);
    }
    return s;
  };
  return {
    size: infos.length,
    imageSize: size,
    async batch(indices: readonly number[]): Promise<SliceBatch> {
      const n = indices.length;
      const images = new Float32Array(n * size * size * 4);
      const masks = new Float32Array(n * size * size);
      const maskFractions = o.labelFraction ? new Float32Array(n * size * size) : undefined;
      const burden: number[] = [];
      const hasTumour: number[] = [];
      const ids: string[] = [];
      for (let k = 0; k < n; k++) {
        const s = await load(indices[k] as number);
        images.set(s.image, k * size * size * 4);
        if (s.label) masks.set(s.label, k * size * size);
        if (maskFractions && s.labelFraction) maskFractions.set(s.labelFraction, k * size * size);
        burden.push(s.burden ?? 0);
        hasTumour.push((s.burden ?? 0) > 0 ? 1 : 0);
        ids.push(s.info.id);
      }
      return { images, masks, ...(maskFractions ? { maskFractions } : {}), burden, hasTumour, ids };
    },
  };
}
