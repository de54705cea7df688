/**
 * The BraTS slice data set (docs/method.md section 1): one folder per axial
 * slice `<pid>_<slice>` under `training/`, `validation/`, `testing/` of a
 * root folder, four modality files plus `seg` in training, labels of the
 * validation/testing slices in `test_labels/<pid>_<slice>-label.nii[.gz]`.
 */
import { readdir, stat } from 'node:fs/promises';
import path from 'node:path';
import { NiftiError, type NiftiImage } from '@tumorcast/nifti';
import { loadNifti } from '@tumorcast/nifti/node';
import { Rng, type Seed } from '@tumorcast/random';
import { DatasetError } from './errors.js';

/** The four MRI channels in their fixed order (docs/method.md section 1). */
export const MODALITIES = Object.freeze(['t1n', 't1c', 't2w', 't2f'] as const);

/** One of {@link MODALITIES}. */
export type Modality = (typeof MODALITIES)[number];

/** The split folders of a data set root. */
export const SPLITS = Object.freeze(['training', 'validation', 'testing'] as const);

/** One of {@link SPLITS}. */
export type Split = (typeof SPLITS)[number];

/** A slice sample found by {@link listSamples} (paths only; nothing is loaded). */
export interface SliceSampleInfo {
  /** The folder name, `<pid>_<slice>`. */
  id: string;
  /** Patient id (the folder name before the last `_`). */
  patientId: string;
  /** Axial slice index (the folder name after the last `_`). */
  slice: number;
  /** The split folder it was found in. */
  split: Split;
  /** The data set root it was found under. */
  root: string;
  /** The sample folder. */
  dir: string;
  /** The modality files. */
  files: Record<Modality, string>;
  /** The label file: `seg` in the sample folder, else `test_labels/<id>-label.nii[.gz]`; undefined when there is none. */
  label?: string;
}

/** Options of {@link listSamples}. */
export interface ListSamplesOptions {
  /**
   * The split folder to list.
   * @defaultValue `'training'`
   */
  split?: Split;
  /**
   * Fail (DatasetError) when a sample has no label file.
   * @defaultValue false
   */
  requireLabels?: boolean;
}

const FILE_RE = /_(t1n|t1c|t2w|t2f|seg)_(\d+)(?:_w)?\.nii(?:\.gz)?$/;
const DIR_RE = /^(.+)_(\d+)$/;

async function isDir(p: string): Promise<boolean> {
  try {
    return (await stat(p)).isDirectory();
  } catch {
    return false;
  }
}

async function isFile(p: string): Promise<boolean> {
  try {
    return (await stat(p)).isFile();
  } catch {
    return false;
  }
}

function naturalCompare(a: SliceSampleInfo, b: SliceSampleInfo): number {
  if (a.patientId !== b.patientId) return a.patientId < b.patientId ? -1 : 1;
  return a.slice - b.slice;
}

/** Options of {@link readSampleFolder}. */
export interface ReadSampleFolderOptions {
  /**
   * The split recorded in the sample's {@link SliceSampleInfo.split}.
   * @defaultValue `'testing'`
   */
  split?: Split;
  /**
   * The data set root: recorded in the sample, and where `test_labels/` is
   * looked for when the folder has no `seg` file.
   * @defaultValue the folder's parent's parent (`<root>/<split>/<pid>_<slice>`)
   */
  root?: string;
  /**
   * Fail (DatasetError) when the sample has no label file.
   * @defaultValue false
   */
  requireLabel?: boolean;
}

/**
 * Reads one sample folder `<pid>_<slice>` (paths only; nothing is loaded):
 * its four modality files and its label, the folder's `seg` file or else
 * `<root>/test_labels/<pid>_<slice>-label.nii[.gz]`. {@link listSamples}
 * reads every folder of a split with it; use it directly for a folder that
 * is not under a split folder (e.g. real follow-ups kept apart).
 *
 * @param dir - the sample folder.
 * @param options - see {@link ReadSampleFolderOptions}.
 * @returns the sample.
 * @throws DatasetError naming the folder: not a folder, a name other than
 *   `<pid>_<slice>`, a missing or duplicated modality, a missing label with
 *   `requireLabel`.
 */
export async function readSampleFolder(dir: string, options: ReadSampleFolderOptions = {}): Promise<SliceSampleInfo> {
  const fn = 'readSampleFolder';
  if (typeof dir !== 'string' || dir === '') throw new TypeError(`'dir' passed to '${fn}' must be a folder path`);
  const split = options.split ?? 'testing';
  if (!SPLITS.includes(split)) throw new RangeError(`'options.split' passed to '${fn}' must be one of ${SPLITS.join(', ')}, got ${JSON.stringify(split)}`);
  const root = options.root ?? path.dirname(path.dirname(dir));
  if (!(await isDir(dir))) throw new DatasetError(dir, 'sample folder not found');
  const name = path.basename(dir);
  const m = DIR_RE.exec(name);
  if (!m) throw new DatasetError(dir, 'sample folder name must be <pid>_<slice> (e.g. 00004000_27)');
  const files: Partial<Record<Modality | 'seg', string>> = {};
  for (const f of await readdir(dir)) {
    const fm = FILE_RE.exec(f);
    if (!fm) continue;
    const mod = fm[1] as Modality | 'seg';
    if (files[mod]) throw new DatasetError(dir, `two files for modality '${mod}': ${path.basename(files[mod])} and ${f}`);
    files[mod] = path.join(dir, f);
  }
  for (const mod of MODALITIES) {
    if (!files[mod]) throw new DatasetError(dir, `missing modality '${mod}' (expected a file named <dataset>_<split>_<pid>_${mod}_<slice>_w.nii[.gz])`);
  }
  let label = files.seg;
  if (!label) {
    for (const cand of [`${name}-label.nii.gz`, `${name}-label.nii`].map((n) => path.join(root, 'test_labels', n))) {
      if (await isFile(cand)) {
        label = cand;
        break;
      }
    }
  }
  if (!label && (options.requireLabel ?? false)) {
    throw new DatasetError(dir, `no label: neither a '_seg_' file in the folder nor test_labels/${name}-label.nii[.gz] in ${root}`);
  }
  const info: SliceSampleInfo = {
    id: name,
    patientId: m[1]!,
    slice: Number(m[2]),
    split,
    root,
    dir,
    files: Object.fromEntries(MODALITIES.map((k) => [k, files[k]!])) as Record<Modality, string>,
  };
  if (label) info.label = label;
  return info;
}

/**
 * Lists the slice samples of one or several data set roots (combined in the
 * order given; within a root sorted by patient id, then slice), without
 * loading any image.
 *
 * @param roots - one root folder (containing `training/`, ...) or several.
 * @param options - see {@link ListSamplesOptions}.
 * @returns the samples.
 * @throws DatasetError naming the folder or file: a missing root or split
 *   folder, a sample folder not named `<pid>_<slice>`, a missing or
 *   duplicated modality, a missing label with `requireLabels`.
 *
 * @example
 * ```ts
 * const train = await listSamples(['/data/brats-adult', '/data/brats-ped'], { split: 'training' });
 * ```
 */
export async function listSamples(roots: string | readonly string[], options: ListSamplesOptions = {}): Promise<SliceSampleInfo[]> {
  const fn = 'listSamples';
  const list = typeof roots === 'string' ? [roots] : roots;
  if (!Array.isArray(list) || list.length === 0 || !list.every((r) => typeof r === 'string' && r !== '')) {
    throw new TypeError(`'roots' passed to '${fn}' must be a folder path or a non-empty array of folder paths`);
  }
  const split = options.split ?? 'training';
  if (!SPLITS.includes(split)) throw new RangeError(`'options.split' passed to '${fn}' must be one of ${SPLITS.join(', ')}, got ${JSON.stringify(split)}`);
  const requireLabels = options.requireLabels ?? false;
  const out: SliceSampleInfo[] = [];
  for (const root of list) {
    if (!(await isDir(root))) throw new DatasetError(root, 'data set root folder not found');
    const splitDir = path.join(root, split);
    if (!(await isDir(splitDir))) throw new DatasetError(splitDir, `the '${split}' folder is missing from this data set root`);
    const found: SliceSampleInfo[] = [];
    for (const entry of await readdir(splitDir, { withFileTypes: true })) {
      if (entry.name.startsWith('.')) continue;
      const dir = path.join(splitDir, entry.name);
      if (!entry.isDirectory()) throw new DatasetError(dir, `expected only sample folders <pid>_<slice> in '${split}/', found a file`);
      found.push(await readSampleFolder(dir, { split, root, requireLabel: requireLabels }));
    }
    found.sort(naturalCompare);
    out.push(...found);
  }
  return out;
}

/** Options of {@link loadSample}. */
export interface LoadSampleOptions {
  /**
   * Zero-pad or centre-crop both axes to this many pixels (the paper pads
   * 240 -> 256, 8 pixels each side); `null` keeps the native size.
   * @defaultValue 256
   */
  size?: number | null;
  /**
   * Resize the (padded) square slice to this side length, e.g. 64 for CPU
   * models: area averaging when it divides the size, else bilinear
   * (half-pixel centres). Labels: 1 where the resized label is >= 0.5.
   * @defaultValue none
   */
  resize?: number;
  /**
   * Load the label (binarised, `seg > 0`) and compute the tumour burden when
   * the sample has a label file.
   * @defaultValue true
   */
  label?: boolean;
  /**
   * Also keep {@link SliceSample.labelFraction}: the resized label before
   * its 0.5 threshold, the fraction of each pixel that is tumour. A
   * segmenter trained on it reads a tumour's border to a fraction of a
   * pixel, which a binary label at 64x64 cannot teach.
   * @defaultValue false
   */
  labelFraction?: boolean;
  /**
   * Memory layout of `image`: `'chw'` (channel-major: channel c at
   * `[c*H*W, (c+1)*H*W)`) or `'hwc'` (channels interleaved, as tfjs's NHWC).
   * @defaultValue `'chw'`
   */
  layout?: 'chw' | 'hwc';
}

/** A loaded slice sample. */
export interface SliceSample {
  /** Where it came from. */
  info: SliceSampleInfo;
  /** Rows (the NIfTI j axis). */
  height: number;
  /** Columns (the NIfTI i axis). */
  width: number;
  /**
   * The four channels t1n, t1c, t2w, t2f (float32), pixel (row r, column c)
   * = NIfTI voxel (i = c, j = r), in the requested layout.
   */
  image: Float32Array;
  /** 1 where `seg > 0`, else 0 (`height * width`); undefined without a label. */
  label?: Uint8Array;
  /**
   * The fraction of each pixel that is tumour (`height * width`, in [0, 1]):
   * the label resized as the image is (area average when resizing), before
   * the 0.5 threshold that gives `label`. Only with
   * {@link LoadSampleOptions.labelFraction} and a label; equal to `label`
   * without resizing.
   */
  labelFraction?: Float32Array;
  /**
   * Tumour burden `count(seg > 0) / count(t2f != 0)` at native resolution
   * (0 when there is no tumour); undefined without a label.
   */
  burden?: number;
}

interface Plane {
  w: number;
  h: number;
  v: Float64Array;
}

function toPlane(img: NiftiImage, file: string): Plane {
  const s = img.shape;
  if (img.channels !== 1) throw new DatasetError(file, `expected a scalar slice, got ${img.datatype} with ${img.channels} channels`);
  if (!(s.length === 2 || (s.length === 3 && s[2] === 1))) {
    throw new DatasetError(file, `expected a 2-D slice (or X x Y x 1), got shape ${JSON.stringify(s)}`);
  }
  const v = img.data instanceof Float64Array ? img.data : Float64Array.from(img.data);
  return { w: s[0]!, h: s[1]!, v };
}

/** Zero-pads / centre-crops a plane to size x size. @internal */
export function padOrCrop(p: Plane, size: number): Plane {
  if (p.w === size && p.h === size) return p;
  const out = new Float64Array(size * size);
  const ox = Math.floor((size - p.w) / 2); // > 0: pad, < 0: crop
  const oy = Math.floor((size - p.h) / 2);
  for (let y = 0; y < size; y++) {
    const sy = y - oy;
    if (sy < 0 || sy >= p.h) continue;
    for (let x = 0; x < size; x++) {
      const sx = x - ox;
      if (sx < 0 || sx >= p.w) continue;
      out[y * size + x] = p.v[sy * p.w + sx]!;
    }
  }
  return { w: size, h: size, v: out };
}

/** Resizes a plane: area average for integer factors, else bilinear (half-pixel centres). @internal */
export function resizePlane(p: Plane, w: number, h: number): Plane {
  if (p.w === w && p.h === h) return p;
  const out = new Float64Array(w * h);
  if (p.w % w === 0 && p.h % h === 0) {
    const fx = p.w / w, fy = p.h / h;
    const inv = 1 / (fx * fy);
    for (let y = 0; y < h; y++) {
      for (let x = 0; x < w; x++) {
        let s = 0;
        for (let dy = 0; dy < fy; dy++) {
          const row = (y * fy + dy) * p.w + x * fx;
          for (let dx = 0; dx < fx; dx++) s += p.v[row + dx]!;
        }
        out[y * w + x] = s * inv;
      }
    }
    return { w, h, v: out };
  }
  const sx = p.w / w, sy = p.h / h;
  for (let y = 0; y < h; y++) {
    const fy = Math.min(Math.max((y + 0.5) * sy - 0.5, 0), p.h - 1);
    const y0 = Math.floor(fy), y1 = Math.min(y0 + 1, p.h - 1), ty = fy - y0;
    for (let x = 0; x < w; x++) {
      const fx = Math.min(Math.max((x + 0.5) * sx - 0.5, 0), p.w - 1);
      const x0 = Math.floor(fx), x1 = Math.min(x0 + 1, p.w - 1), tx = fx - x0;
      const a = p.v[y0 * p.w + x0]!, b = p.v[y0 * p.w + x1]!;
      const c = p.v[y1 * p.w + x0]!, d = p.v[y1 * p.w + x1]!;
      out[y * w + x] = (a * (1 - tx) + b * tx) * (1 - ty) + (c * (1 - tx) + d * tx) * ty;
    }
  }
  return { w, h, v: out };
}

async function loadForDataset(file: string): Promise<NiftiImage> {
  try {
    return await loadNifti(file);
  } catch (e) {
    if (e instanceof NiftiError) throw new DatasetError(file, e.problem, { cause: e });
    throw e;
  }
}

function checkSide(v: unknown, name: string, fn: string): void {
  if (!(typeof v === 'number' && Number.isInteger(v) && v >= 1)) throw new RangeError(`'${name}' passed to '${fn}' must be a positive integer, got ${String(v)}`);
}

/** The decoded NIfTI files of one slice sample (see {@link readSampleFiles}). */
export interface SliceSampleFiles {
  /** Where they came from. */
  info: SliceSampleInfo;
  /** The four modalities, decoded. */
  images: Readonly<Record<Modality, NiftiImage>>;
  /** The label file, decoded, when it was read. */
  label?: NiftiImage;
}

/**
 * Reads and decodes the files of one slice sample (no checks of their
 * content: {@link sampleFromFiles} makes those), so that a caller can build
 * several sizes of the sample, or look at the files' headers and raw values,
 * from one decoding.
 *
 * @param info - a sample from {@link listSamples}.
 * @param options - `label`: also read the label file, when the sample has one.
 * @defaultValue options.label true
 * @throws DatasetError naming a file that `@tumorcast/nifti` cannot read.
 */
export async function readSampleFiles(info: SliceSampleInfo, options: { label?: boolean } = {}): Promise<SliceSampleFiles> {
  if (info === null || typeof info !== 'object' || typeof info.files !== 'object') {
    throw new TypeError(`'info' passed to 'readSampleFiles' must be a sample from listSamples`);
  }
  const images = {} as Record<Modality, NiftiImage>;
  for (const mod of MODALITIES) images[mod] = await loadForDataset(info.files[mod]);
  const out: SliceSampleFiles = { info, images };
  if ((options.label ?? true) && info.label) out.label = await loadForDataset(info.label);
  return out;
}

/**
 * Loads one slice sample: the four modalities as one float32 image (channel
 * order t1n, t1c, t2w, t2f), padded/cropped and optionally resized, plus the
 * binary label and tumour burden when there is a label.
 *
 * @param info - a sample from {@link listSamples}.
 * @param options - see {@link LoadSampleOptions}.
 * @returns the sample.
 * @throws DatasetError naming the file: unreadable NIfTI, not a 2-D slice,
 *   modalities (or the label) of different shapes, a tumour in an empty brain.
 */
export async function loadSample(info: SliceSampleInfo, options: LoadSampleOptions = {}): Promise<SliceSample> {
  if (info === null || typeof info !== 'object' || typeof info.files !== 'object') {
    throw new TypeError(`'info' passed to 'loadSample' must be a sample from listSamples`);
  }
  checkLoadOptions(options, 'loadSample');
  return buildSample(await readSampleFiles(info, { label: options.label ?? true }), options);
}

function checkLoadOptions(options: LoadSampleOptions, fn: string): void {
  if (options.size !== undefined && options.size !== null) checkSide(options.size, 'options.size', fn);
  if (options.resize !== undefined) checkSide(options.resize, 'options.resize', fn);
  const layout = options.layout ?? 'chw';
  if (layout !== 'chw' && layout !== 'hwc') throw new RangeError(`'options.layout' passed to '${fn}' must be 'chw' or 'hwc', got ${JSON.stringify(layout)}`);
  if (options.labelFraction !== undefined && typeof options.labelFraction !== 'boolean') {
    throw new TypeError(`'options.labelFraction' passed to '${fn}' must be true or false, got ${JSON.stringify(options.labelFraction)}`);
  }
}

/**
 * The sample {@link loadSample} would load, from files already decoded by
 * {@link readSampleFiles} (the label only when `files` holds it and
 * `options.label` is not false).
 *
 * @param files - the decoded files.
 * @param options - see {@link LoadSampleOptions}.
 * @throws DatasetError as {@link loadSample} does for the files' content.
 */
export function sampleFromFiles(files: SliceSampleFiles, options: LoadSampleOptions = {}): SliceSample {
  if (files === null || typeof files !== 'object' || typeof files.images !== 'object' || typeof files.info !== 'object') {
    throw new TypeError(`'files' passed to 'sampleFromFiles' must come from readSampleFiles`);
  }
  checkLoadOptions(options, 'sampleFromFiles');
  return buildSample(files, options);
}

function buildSample(files: SliceSampleFiles, options: LoadSampleOptions): SliceSample {
  const { info } = files;
  const size = options.size === undefined ? 256 : options.size;
  const layout = options.layout ?? 'chw';
  const wantLabel = options.label ?? true;

  const planes: Plane[] = [];
  for (const mod of MODALITIES) {
    const file = info.files[mod];
    const p = toPlane(files.images[mod], file);
    const first = planes[0];
    if (first && (p.w !== first.w || p.h !== first.h)) {
      throw new DatasetError(file, `shape ${p.w}x${p.h} differs from t1n's ${first.w}x${first.h}`);
    }
    planes.push(p);
  }
  const t2f = planes[3]!;
  let seg: { plane: Plane; burden: number } | undefined;
  if (wantLabel && info.label && files.label) {
    const lp = toPlane(files.label, info.label);
    if (lp.w !== t2f.w || lp.h !== t2f.h) throw new DatasetError(info.label, `label shape ${lp.w}x${lp.h} differs from the image's ${t2f.w}x${t2f.h}`);
    let tumour = 0, brain = 0;
    const bin = new Float64Array(lp.v.length);
    for (let i = 0; i < bin.length; i++) {
      if (lp.v[i]! > 0) {
        bin[i] = 1;
        tumour++;
      }
      if (t2f.v[i] !== 0) brain++;
    }
    if (tumour > 0 && brain === 0) throw new DatasetError(info.label, `${tumour} tumour pixels but t2f is zero everywhere (no brain to compute the burden against)`);
    seg = { plane: { w: lp.w, h: lp.h, v: bin }, burden: tumour === 0 ? 0 : tumour / brain };
  }
  const fit = (p: Plane): Plane => {
    let q = size === null ? p : padOrCrop(p, size);
    if (options.resize !== undefined) q = resizePlane(q, options.resize, options.resize);
    return q;
  };
  const fitted = planes.map(fit);
  const { w, h } = fitted[0]!;
  const n = w * h;
  const image = new Float32Array(4 * n);
  fitted.forEach((p, c) => {
    if (layout === 'chw') image.set(p.v, c * n);
    else for (let i = 0; i < n; i++) image[4 * i + c] = p.v[i]!;
  });
  const sample: SliceSample = { info, height: h, width: w, image };
  if (seg) {
    const lf = fit(seg.plane);
    const label = new Uint8Array(n);
    for (let i = 0; i < n; i++) label[i] = lf.v[i]! >= 0.5 ? 1 : 0;
    sample.label = label;
    if (options.labelFraction) sample.labelFraction = Float32Array.from(lf.v);
    sample.burden = seg.burden;
  }
  return sample;
}

/**
 * A seeded shuffle of `samples` (a new array; the input is untouched).
 * The same seed and epoch always give the same order; each epoch gets its
 * own, independent order (the epoch selects the {@link Rng} stream).
 *
 * @param samples - the samples.
 * @param seed - the seed.
 * @param epoch - the epoch (a non-negative integer).
 * @defaultValue epoch 0
 */
export function shuffleSamples<T>(samples: readonly T[], seed: Seed, epoch = 0): T[] {
  if (!Array.isArray(samples)) throw new TypeError(`'samples' passed to 'shuffleSamples' must be an array`);
  if (!Number.isSafeInteger(epoch) || epoch < 0) throw new RangeError(`'epoch' passed to 'shuffleSamples' must be a non-negative integer, got ${epoch}`);
  return new Rng(seed, epoch).shuffle(samples.slice());
}

/** Options of {@link iterateBatches}. */
export interface BatchOptions extends LoadSampleOptions {
  /**
   * Samples per batch.
   * @defaultValue 8
   */
  batchSize?: number;
  /**
   * Shuffle (seeded, see {@link shuffleSamples}) before batching.
   * @defaultValue true
   */
  shuffle?: boolean;
  /**
   * Shuffle seed.
   * @defaultValue 0
   */
  seed?: Seed;
  /**
   * Epoch: selects an independent shuffle order for the same seed.
   * @defaultValue 0
   */
  epoch?: number;
  /**
   * Drop the last batch when it is smaller than `batchSize`.
   * @defaultValue false
   */
  dropLast?: boolean;
}

/** A batch of loaded samples, stacked. */
export interface SliceBatch {
  /** The samples, in batch order. */
  infos: SliceSampleInfo[];
  /** Rows per image. */
  height: number;
  /** Columns per image. */
  width: number;
  /** `infos.length` images of `4 * height * width` values each, in the sample layout. */
  images: Float32Array;
  /** `infos.length` labels of `height * width` (only when every sample has one). */
  labels?: Uint8Array;
  /** Tumour burdens (only when every sample has a label). */
  burdens?: Float32Array;
}

/**
 * Loads `samples` batch by batch (optionally shuffled with a seed).
 *
 * @param samples - samples from {@link listSamples}.
 * @param options - see {@link BatchOptions} (and {@link LoadSampleOptions}).
 * @returns an async iterator of batches.
 * @throws DatasetError when some samples of a batch have labels and others
 *   not (use `requireLabels` or `label: false`), and every loading error.
 *
 * @example
 * ```ts
 * for await (const b of iterateBatches(train, { batchSize: 16, seed: 1, epoch, resize: 64 })) {
 *   const x = tf.tensor4d(b.images, [b.infos.length, 4, b.height, b.width]);
 * }
 * ```
 */
export async function* iterateBatches(samples: readonly SliceSampleInfo[], options: BatchOptions = {}): AsyncGenerator<SliceBatch> {
  const fn = 'iterateBatches';
  if (!Array.isArray(samples)) throw new TypeError(`'samples' passed to '${fn}' must be an array of samples from listSamples`);
  const batchSize = options.batchSize ?? 8;
  checkSide(batchSize, 'options.batchSize', fn);
  const order = options.shuffle ?? true ? shuffleSamples(samples, options.seed ?? 0, options.epoch ?? 0) : samples.slice();
  for (let start = 0; start < order.length; start += batchSize) {
    const infos = order.slice(start, start + batchSize);
    if (infos.length < batchSize && (options.dropLast ?? false)) break;
    const loaded = await Promise.all(infos.map((i) => loadSample(i, options)));
    const first = loaded[0]!;
    const per = first.image.length;
    const n = first.height * first.width;
    const images = new Float32Array(per * loaded.length);
    loaded.forEach((s, k) => {
      if (s.image.length !== per) throw new DatasetError(s.info.dir, `image size ${s.width}x${s.height} differs from the batch's ${first.width}x${first.height} (set 'size')`);
      images.set(s.image, k * per);
    });
    const batch: SliceBatch = { infos, height: first.height, width: first.width, images };
    const withLabel = loaded.filter((s) => s.label).length;
    if (withLabel === loaded.length) {
      batch.labels = new Uint8Array(n * loaded.length);
      batch.burdens = new Float32Array(loaded.length);
      loaded.forEach((s, k) => {
        (batch.labels as Uint8Array).set(s.label as Uint8Array, k * n);
        (batch.burdens as Float32Array)[k] = s.burden!; // set with the label
      });
    } else if (withLabel > 0) {
      const missing = loaded.find((s) => !s.label) as SliceSample;
      throw new DatasetError(missing.info.dir, `has no label while other samples of the batch do (list with requireLabels, or load with label: false)`);
    }
    yield batch;
  }
}
