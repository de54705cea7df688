/**
 * Recognising the files a user drops: which of the four modalities (or the
 * segmentation) each NIfTI file is, from its name.
 */
import { MODALITIES } from '@tumorcast/dataset';
import type { Modality } from '@tumorcast/dataset';

/** What a dropped file is. */
export type InputKind = Modality | 'seg' | 'csv' | 'weights';

/** The modality aliases accepted in free-form names (BraTS 2021 and earlier used these words). */
const ALIASES: Readonly<Record<string, Modality | 'seg'>> = {
  t1n: 't1n', t1: 't1n', t1c: 't1c', t1ce: 't1c', t1gd: 't1c', t2w: 't2w', t2: 't2w', t2f: 't2f', flair: 't2f', seg: 'seg', label: 'seg', mask: 'seg',
};

/** `<dataset>_<split>_<pid>_<kind>_<slice>_w.nii[.gz]`: the BraTS slice layout's image names. */
const SLICE_LAYOUT_RE = /^[^_]+_[^_]+_[^_]+_(t1n|t1c|t2w|t2f|seg)_\d+_w\.nii(\.gz)?$/i;
/** `<pid>_<slice>-label.nii[.gz]`: the BraTS slice layout's label names. */
const LABEL_RE = /-label\.nii(\.gz)?$/i;

/**
 * What a file is, from its name: a modality or the segmentation for
 * `.nii`/`.nii.gz` (the BraTS slice layout's names, or a name with one of
 * the words t1n/t1, t1c/t1ce, t2w/t2, t2f/flair, seg/label/mask separated
 * by `_`, `-` or `.`), a size CSV for `.csv`, network weights for
 * `.safetensors`/`.pt`/`.pth`; `undefined` when the name says nothing.
 *
 * @param name - the file name (no folders).
 */
export function kindOfFile(name: string): InputKind | undefined {
  if (typeof name !== 'string') throw new TypeError(`'name' passed to 'kindOfFile' must be a string, got ${typeof name}`);
  const lower = name.toLowerCase();
  if (lower.endsWith('.csv')) return 'csv';
  if (/\.(safetensors|pt|pth)$/.test(lower)) return 'weights';
  if (!/\.nii(\.gz)?$/.test(lower)) return undefined;
  const m = SLICE_LAYOUT_RE.exec(name);
  if (m) return m[1]!.toLowerCase() as Modality | 'seg';
  if (LABEL_RE.test(name)) return 'seg';
  const words = lower.replace(/\.nii(\.gz)?$/, '').split(/[_.\- ]+/);
  const found = new Set(words.map((w) => ALIASES[w]).filter((k): k is Modality | 'seg' => k !== undefined));
  return found.size === 1 ? [...found][0] : undefined;
}

/** Files sorted by what they are (see {@link sortInputFiles}). */
export interface SortedInputs<F> {
  /** One file per modality found. */
  images: Partial<Record<Modality, F>>;
  /** The segmentation, when given. */
  seg?: F;
  /** The size CSV, when given. */
  csv?: F;
  /** Files whose names say nothing, and files of a kind given twice (the later ones). */
  unknown: F[];
}

/**
 * Sorts dropped files by {@link kindOfFile}; weights files count as unknown here (they are picked elsewhere).
 *
 * @param files - anything with a `name` (e.g. `File`s).
 */
export function sortInputFiles<F extends { name: string }>(files: readonly F[]): SortedInputs<F> {
  const out: SortedInputs<F> = { images: {}, unknown: [] };
  for (const f of files) {
    const kind = kindOfFile(f.name);
    if (kind === 'csv') {
      if (out.csv) out.unknown.push(f);
      else out.csv = f;
    } else if (kind === 'seg') {
      if (out.seg) out.unknown.push(f);
      else out.seg = f;
    } else if (kind !== undefined && kind !== 'weights' && !out.images[kind]) out.images[kind] = f;
    else out.unknown.push(f);
  }
  return out;
}

/** The modalities {@link sortInputFiles} did not find. */
export function missingModalities(images: Partial<Record<Modality, unknown>>): Modality[] {
  return MODALITIES.filter((m) => !images[m]);
}
