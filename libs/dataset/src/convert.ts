/**
 * Full 3-D BraTS volumes (`BraTS-GLI-xxxxx-xxx-t1n.nii.gz`, ...) -> the
 * BraTS slice layout (docs/method.md section 1).
 */
import { mkdir, readdir, rename, rm, stat } from 'node:fs/promises';
import path from 'node:path';
import { tempPathFor } from '@tumorcast/cli/files';
import { percentileInPlace } from '@tumorcast/metrics';
import { NiftiError, type NiftiImage } from '@tumorcast/nifti';
import { loadNifti, saveNifti } from '@tumorcast/nifti/node';
import { MODALITIES, SPLITS, type Modality, type Split } from './dataset.js';
import { DatasetError } from './errors.js';

/** Which axial slices to convert: all, those with tumour (`seg > 0`), or `k` in `[start, end)`. */
export type SliceSelection = 'all' | 'tumour' | { start: number; end: number };

/** Progress of {@link convertBratsVolumes}, reported after each case. */
export interface ConvertProgress {
  /** The case just converted (folder name, e.g. `BraTS-GLI-00004-000`). */
  caseName: string;
  /** 1-based index of that case. */
  caseIndex: number;
  /** Number of cases. */
  caseCount: number;
  /** Slices written for this case. */
  slices: number;
  /** Slices written so far, all cases. */
  totalSlices: number;
}

/** Options of {@link convertBratsVolumes}. */
export interface ConvertBratsOptions {
  /**
   * Split folder to write into; for `validation`/`testing` the labels go to
   * `test_labels/<pid>_<slice>-label.nii.gz`.
   * @defaultValue `'training'`
   */
  split?: Split;
  /**
   * Slices to write (`'tumour'` needs the seg volume).
   * @defaultValue `'all'`
   */
  slices?: SliceSelection;
  /**
   * Skip slices whose t2f is zero everywhere (no brain).
   * @defaultValue true
   */
  skipEmpty?: boolean;
  /**
   * Upper clipping percentile (of the non-zero voxels of each modality
   * volume); it maps to 1.
   * @defaultValue 99.5
   */
  upperPercentile?: number;
  /**
   * Lower clipping percentile; 0 means the lower bound is the value 0 (no
   * lower clipping), which keeps every positive brain voxel positive so the
   * brain mask `t2f != 0` (and the tumour burden) is unchanged.
   * @defaultValue 0
   */
  lowerPercentile?: number;
  /**
   * The `<dataset>` part of the file names.
   * @defaultValue `'brats'`
   */
  dataset?: string;
  /**
   * Datatype of the written slices (BraTS slice data sets are usually float64).
   * @defaultValue `'float64'`
   */
  datatype?: 'float32' | 'float64';
  /**
   * Replace sample folders that already exist (else they are an error).
   * @defaultValue false
   */
  overwrite?: boolean;
  /**
   * Called after each case.
   * @defaultValue none
   */
  onProgress?: (progress: ConvertProgress) => void;
}

/** What {@link convertBratsVolumes} wrote. */
export interface ConvertBratsResult {
  /** Cases converted. */
  cases: number;
  /** Sample ids (`<pid>_<slice>`) written, in order. */
  samples: string[];
}

const VOLUME_RE = /^(.*)-(t1n|t1c|t2w|t2f|seg)\.nii(?:\.gz)?$/;
const SPLIT_TOKEN: Record<Split, string> = { training: 'train', validation: 'val', testing: 'test' };

interface Case {
  name: string;
  dir: string;
  files: Partial<Record<Modality | 'seg', string>>;
}

async function findCases(inputs: readonly string[]): Promise<Case[]> {
  const cases: Case[] = [];
  const scan = async (dir: string): Promise<Case | undefined> => {
    const files: Case['files'] = {};
    let name: string | undefined;
    for (const f of (await readdir(dir)).sort()) {
      const m = VOLUME_RE.exec(f);
      if (!m) continue;
      const mod = m[2] as Modality | 'seg';
      if (files[mod]) throw new DatasetError(dir, `two '${mod}' volumes: ${path.basename(files[mod])} and ${f}`);
      files[mod] = path.join(dir, f);
      name ??= m[1];
    }
    return name === undefined ? undefined : { name, dir, files };
  };
  for (const input of inputs) {
    let st;
    try {
      st = await stat(input);
    } catch {
      throw new DatasetError(input, 'input folder not found');
    }
    if (!st.isDirectory()) throw new DatasetError(input, 'input must be a BraTS case folder or a folder of case folders');
    const direct = await scan(input);
    if (direct) {
      cases.push(direct);
      continue;
    }
    const before = cases.length;
    for (const e of (await readdir(input, { withFileTypes: true })).sort((a, b) => (a.name < b.name ? -1 : 1))) {
      if (!e.isDirectory() || e.name.startsWith('.')) continue;
      const c = await scan(path.join(input, e.name));
      if (c) cases.push(c);
    }
    if (cases.length === before) throw new DatasetError(input, 'no BraTS volumes found (expected <case>-t1n.nii.gz, -t1c, -t2w, -t2f[, -seg] here or in sub-folders)');
  }
  return cases;
}

/** BraTS-GLI-00004-000 -> 00004000 (patient ids of the BraTS slice layout); else the name without non-alphanumerics. @internal */
export function patientIdOf(caseName: string): string {
  const m = /-(\d+)-(\d+)$/.exec(caseName);
  if (m) return `${m[1]}${m[2]}`;
  const s = caseName.replace(/[^A-Za-z0-9]/g, '');
  if (!s) throw new DatasetError(caseName, 'cannot derive a patient id from this case name');
  return s;
}

/**
 * Normalises a modality volume to [0, 1] in place (documented in the
 * README): `v' = clip((v - a) / (b - a), 0, 1)` for `v != 0`, 0 elsewhere,
 * with b the `upper` percentile of the non-zero voxels and a the `lower`
 * percentile (a = 0 when `lower` is 0). A constant volume maps to 1 where
 * non-zero. @internal
 */
export function normaliseVolume(v: Float64Array, lower: number, upper: number): { a: number; b: number } {
  let n = 0;
  for (let i = 0; i < v.length; i++) if (v[i] !== 0 && !Number.isNaN(v[i])) n++;
  const nz = new Float64Array(n);
  n = 0;
  for (let i = 0; i < v.length; i++) if (v[i] !== 0 && !Number.isNaN(v[i])) nz[n++] = v[i]!;
  // numpy.percentile (linear), bit for bit; an all-zero volume has bounds 0.
  const b = n === 0 ? 0 : percentileInPlace(nz, upper);
  const a = lower === 0 || n === 0 ? 0 : percentileInPlace(nz, lower);
  const range = b - a;
  for (let i = 0; i < v.length; i++) {
    const x = v[i]!;
    if (x === 0 || Number.isNaN(x)) {
      v[i] = 0;
      continue;
    }
    const y = range > 0 ? (x - a) / range : 1;
    v[i] = y < 0 ? 0 : y > 1 ? 1 : y;
  }
  return { a, b };
}

async function loadVolume(file: string, ref?: NiftiImage): Promise<NiftiImage> {
  let img: NiftiImage;
  try {
    img = await loadNifti(file);
  } catch (e) {
    if (e instanceof NiftiError) throw new DatasetError(file, e.problem, { cause: e });
    throw e;
  }
  const s = img.shape;
  if (img.channels !== 1 || !(s.length === 3 || (s.length === 4 && s[3] === 1))) {
    throw new DatasetError(file, `expected a 3-D scalar volume, got shape ${JSON.stringify(s)} (${img.datatype})`);
  }
  if (ref && (ref.shape[0] !== s[0] || ref.shape[1] !== s[1] || ref.shape[2] !== s[2])) {
    throw new DatasetError(file, `shape ${JSON.stringify(s.slice(0, 3))} differs from the t1n volume's ${JSON.stringify(ref.shape.slice(0, 3))}`);
  }
  return img;
}

function float64(img: NiftiImage): Float64Array {
  return img.data instanceof Float64Array ? img.data : Float64Array.from(img.data);
}

async function exists(p: string): Promise<boolean> {
  try {
    await stat(p);
    return true;
  } catch {
    return false;
  }
}

/**
 * Converts full 3-D BraTS volumes into the BraTS slice layout under
 * `outputRoot`: for each selected axial slice k of a case
 * `BraTS-GLI-00004-000`, a folder `<split>/00004000_<k>/` with
 * `<dataset>_<train|val|test>_00004000_<modality>_<k>_w.nii.gz` for t1n, t1c,
 * t2w, t2f (each modality normalised to [0, 1] over its whole volume, see
 * {@link ConvertBratsOptions.upperPercentile}) and, in training, `_seg_`
 * (labels kept as 0..3); for validation/testing the label goes to
 * `test_labels/00004000_<k>-label.nii.gz`. Slices are 2-D
 * (X x Y, identity affine, as usual in the BraTS slice layout).
 *
 * Each sample folder is written to a temporary folder and renamed into
 * place, and every file is written atomically: an interrupted run leaves no
 * partial sample behind.
 *
 * @param inputs - a case folder, a folder of case folders, or several.
 * @param outputRoot - the data set root to write into.
 * @param options - see {@link ConvertBratsOptions}.
 * @returns the cases converted and the sample ids written.
 * @throws DatasetError naming the folder or file: no volumes found, a
 *   missing modality (or seg for `'tumour'`), volumes of different shapes, a
 *   slice range outside the volume, an existing sample without `overwrite`.
 */
export async function convertBratsVolumes(
  inputs: string | readonly string[],
  outputRoot: string,
  options: ConvertBratsOptions = {},
): Promise<ConvertBratsResult> {
  const fn = 'convertBratsVolumes';
  const list = typeof inputs === 'string' ? [inputs] : inputs;
  if (!Array.isArray(list) || list.length === 0 || !list.every((r) => typeof r === 'string' && r !== '')) {
    throw new TypeError(`'inputs' passed to '${fn}' must be a folder path or a non-empty array of folder paths`);
  }
  if (typeof outputRoot !== 'string' || outputRoot === '') throw new TypeError(`'outputRoot' passed to '${fn}' must be a folder path`);
  const split = options.split ?? 'training';
  if (!SPLITS.includes(split)) throw new RangeError(`'options.split' passed to '${fn}' must be one of ${SPLITS.join(', ')}, got ${JSON.stringify(split)}`);
  const selection = options.slices ?? 'all';
  if (!(selection === 'all' || selection === 'tumour' || (typeof selection === 'object' && selection !== null && Number.isInteger(selection.start) && Number.isInteger(selection.end) && selection.start >= 0 && selection.end > selection.start))) {
    throw new RangeError(`'options.slices' passed to '${fn}' must be 'all', 'tumour' or { start, end } with 0 <= start < end, got ${JSON.stringify(selection)}`);
  }
  const upper = options.upperPercentile ?? 99.5;
  const lower = options.lowerPercentile ?? 0;
  if (!(upper > 0 && upper <= 100)) throw new RangeError(`'options.upperPercentile' passed to '${fn}' must be in (0, 100], got ${upper}`);
  if (!(lower >= 0 && lower < upper)) throw new RangeError(`'options.lowerPercentile' passed to '${fn}' must be in [0, upperPercentile), got ${lower}`);
  const dataset = options.dataset ?? 'brats';
  if (!/^[A-Za-z0-9-]+$/.test(dataset)) throw new RangeError(`'options.dataset' passed to '${fn}' must be letters, digits or '-', got ${JSON.stringify(dataset)}`);
  const datatype = options.datatype ?? 'float64';
  if (datatype !== 'float32' && datatype !== 'float64') throw new RangeError(`'options.datatype' passed to '${fn}' must be 'float32' or 'float64'`);
  const skipEmpty = options.skipEmpty ?? true;
  const overwrite = options.overwrite ?? false;

  const cases = await findCases(list);
  const samples: string[] = [];
  const token = SPLIT_TOKEN[split];
  for (const [ci, c] of cases.entries()) {
    const volumes = {} as Record<Modality, string>;
    for (const mod of MODALITIES) {
      const file = c.files[mod];
      if (!file) throw new DatasetError(c.dir, `case ${c.name} is missing its '${mod}' volume (${c.name}-${mod}.nii.gz)`);
      volumes[mod] = file;
    }
    if (selection === 'tumour' && !c.files.seg) throw new DatasetError(c.dir, `slices: 'tumour' needs the seg volume (${c.name}-seg.nii.gz)`);
    const pid = patientIdOf(c.name);
    const ref = await loadVolume(volumes.t1n);
    const [X, Y, Z] = ref.shape as [number, number, number];
    const vols: Float64Array[] = [];
    for (const mod of MODALITIES) {
      const img = mod === 't1n' ? ref : await loadVolume(volumes[mod], ref);
      const v = float64(img);
      normaliseVolume(v, lower, upper);
      vols.push(v);
    }
    const seg = c.files.seg ? float64(await loadVolume(c.files.seg, ref)) : undefined;
    const n = X * Y;
    let ks: number[];
    if (selection === 'all') ks = Array.from({ length: Z }, (_, k) => k);
    else if (selection === 'tumour') {
      ks = [];
      for (let k = 0; k < Z; k++) {
        const s = (seg as Float64Array).subarray(k * n, (k + 1) * n);
        if (s.some((x) => x > 0)) ks.push(k);
      }
    } else {
      if (selection.end > Z) throw new DatasetError(volumes.t1n, `slice range [${selection.start}, ${selection.end}) is outside the volume's ${Z} axial slices`);
      ks = Array.from({ length: selection.end - selection.start }, (_, i) => selection.start + i);
    }
    if (skipEmpty) ks = ks.filter((k) => vols[3]!.subarray(k * n, (k + 1) * n).some((x) => x !== 0));
    const splitDir = path.join(outputRoot, split);
    await mkdir(splitDir, { recursive: true });
    let written = 0;
    for (const k of ks) {
      const id = `${pid}_${k}`;
      const finalDir = path.join(splitDir, id);
      if ((await exists(finalDir)) && !overwrite) throw new DatasetError(finalDir, 'sample folder already exists (pass overwrite: true to replace it)');
      const tmpDir = tempPathFor(finalDir);
      try {
        await mkdir(tmpDir, { recursive: true });
        const slice = (v: Float64Array) => v.slice(k * n, (k + 1) * n);
        for (const [m, mod] of MODALITIES.entries()) {
          await saveNifti(path.join(tmpDir, `${dataset}_${token}_${pid}_${mod}_${k}_w.nii.gz`), { shape: [X, Y], data: slice(vols[m]!) }, { datatype });
        }
        if (seg && split === 'training') {
          await saveNifti(path.join(tmpDir, `${dataset}_${token}_${pid}_seg_${k}_w.nii.gz`), { shape: [X, Y], data: slice(seg) }, { datatype });
        }
        if (overwrite) await rm(finalDir, { recursive: true, force: true });
        await rename(tmpDir, finalDir);
      } catch (e) {
        await rm(tmpDir, { recursive: true, force: true });
        throw e;
      }
      if (seg && split !== 'training') {
        await saveNifti(path.join(outputRoot, 'test_labels', `${id}-label.nii.gz`), { shape: [X, Y], data: seg.slice(k * n, (k + 1) * n) }, { datatype });
      }
      samples.push(id);
      written++;
    }
    options.onProgress?.({ caseName: c.name, caseIndex: ci + 1, caseCount: cases.length, slices: written, totalSlices: samples.length });
  }
  return { cases: cases.length, samples };
}
