/**
 * Test-only helpers: golden fixtures, the slice sets the tests read (a
 * committed synthetic set, and the BraTS sample when it is there) and a
 * minimal NIfTI-1 reader (gunzip + the 348-byte header), so that the tests do
 * not depend on @tumorcast/nifti.
 */
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { gunzipSync } from 'node:zlib';
import { describe } from '@jest/globals';

const here = path.dirname(fileURLToPath(import.meta.url));
const FIXTURES = path.resolve(here, '../../test/fixtures');
/** The repository root. */
export const REPO_ROOT = path.resolve(here, '../../../..');
/** The BraTS sample slices, outside the repository (a user's clone has none). */
export const SAMPLE_ROOT = path.resolve(REPO_ROOT, '../shared/data/brats-sample');
/** Whether the BraTS sample is there. */
export const HAVE_SAMPLE = fs.existsSync(SAMPLE_ROOT);
// Kept in a variable: a literal `describe.skip` call reads as a forgotten skip.
const skippedDescribe = describe.skip;

/** Reads a JSON fixture; the strings "Infinity", "-Infinity" and "NaN" become numbers. */
// eslint-disable-next-line @typescript-eslint/no-explicit-any
export function loadFixture<T = any>(name: string): T {
  const text = fs.readFileSync(path.join(FIXTURES, name), 'utf8');
  return JSON.parse(text, (_k, v) => {
    if (v === 'Infinity') return Infinity;
    if (v === '-Infinity') return -Infinity;
    if (v === 'NaN') return NaN;
    return v;
  }) as T;
}

/** A decoded NIfTI-1 image: x-fastest data, `[nx, ny, ...]` shape, pixdim spacing. */
export interface TestNifti {
  data: Float64Array;
  shape: number[];
  spacing: number[];
}

/** Minimal NIfTI-1 reader (.nii or .nii.gz, little or big endian, common datatypes). */
export function readNifti(file: string): TestNifti {
  let buf = fs.readFileSync(file);
  if (buf[0] === 0x1f && buf[1] === 0x8b) buf = gunzipSync(buf);
  const view = new DataView(buf.buffer, buf.byteOffset, buf.byteLength);
  let le = true;
  if (view.getInt32(0, true) !== 348) {
    if (view.getInt32(0, false) !== 348) throw new Error(`${file}: not a NIfTI-1 file`);
    le = false;
  }
  const rank = view.getInt16(40, le);
  const shape: number[] = [];
  const spacing: number[] = [];
  for (let i = 1; i <= rank; i++) {
    shape.push(view.getInt16(40 + 2 * i, le));
    spacing.push(view.getFloat32(76 + 4 * i, le));
  }
  const datatype = view.getInt16(70, le);
  const offset = Math.max(352, Math.round(view.getFloat32(108, le)));
  const slope = view.getFloat32(112, le);
  const inter = view.getFloat32(116, le);
  const n = shape.reduce((a, b) => a * b, 1);
  const data = new Float64Array(n);
  const readers: Record<number, [number, (o: number) => number]> = {
    2: [1, (o) => view.getUint8(o)],
    4: [2, (o) => view.getInt16(o, le)],
    8: [4, (o) => view.getInt32(o, le)],
    16: [4, (o) => view.getFloat32(o, le)],
    64: [8, (o) => view.getFloat64(o, le)],
    512: [2, (o) => view.getUint16(o, le)],
  };
  const r = readers[datatype];
  if (!r) throw new Error(`${file}: unsupported NIfTI datatype ${datatype}`);
  const [size, get] = r;
  const scale = Number.isFinite(slope) && slope !== 0;
  for (let i = 0; i < n; i++) {
    const v = get(offset + i * size);
    data[i] = scale ? v * slope + inter : v;
  }
  return { data, shape, spacing };
}

/** Slices in the BraTS slice layout with golden metric values from tools/metrics/make_fixtures.py. */
export interface SliceSet {
  /** Name used in test titles. */
  name: string;
  /** Folder of the slices. */
  root: string;
  /** Golden values (labels, pairs, edt, ssim, volume). */
  // eslint-disable-next-line @typescript-eslint/no-explicit-any
  fixture: any;
  /** Whether the folder is there. */
  present: boolean;
  /** A training slice's file: slice `i`, modality `mod`. */
  file(i: number, mod: string): string;
  /** Reads a file of the set (path relative to `root`). */
  read(rel: string): TestNifti;
}

function sliceSet(name: string, root: string, fixtureName: string, pattern: string, present: boolean): SliceSet {
  return {
    name,
    root,
    fixture: loadFixture(fixtureName),
    present,
    file: (i, mod) => pattern.replaceAll('{i}', String(i)).replaceAll('{mod}', mod),
    read: (rel) => readNifti(path.join(root, rel)),
  };
}

const committed = loadFixture<{ pattern: string }>('slices.json');

/**
 * The slice sets: a small synthetic one committed in test/fixtures/slices
 * (always there), and the real BraTS sample outside the repository.
 */
export const SLICE_SETS: readonly SliceSet[] = [
  sliceSet('committed synthetic slices', path.join(FIXTURES, 'slices'), 'slices.json', committed.pattern, true),
  sliceSet('real BraTS slices', SAMPLE_ROOT, 'brats.json', 'training/00004000_{i}/brats_train_00004000_{mod}_{i}_w.nii.gz', HAVE_SAMPLE),
];

/**
 * One `describe` block per slice set, named `title` with `%s` replaced by the
 * set's name; a set that is not there (the BraTS sample, in a user's clone)
 * gets a skipped block whose name, and a console notice, say why.
 */
export function describeSliceSets(title: string, fn: (set: SliceSet) => void): void {
  for (const set of SLICE_SETS) {
    const name = title.replace('%s', set.name);
    if (set.present) {
      describe(name, () => fn(set));
    } else {
      const reason = `skipped: BraTS sample not found at ${set.root}`;
      console.info(`${reason}: '${name}'`);
      skippedDescribe(`${name} [${reason}]`, () => fn(set));
    }
  }
}
