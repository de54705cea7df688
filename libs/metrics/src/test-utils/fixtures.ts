/**
 * Test-only helpers: golden fixtures, the BraTS sample folder and a minimal
 * NIfTI-1 reader (gunzip + the 348-byte header), so that the tests do not
 * depend on @tumorcast/nifti.
 */
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { gunzipSync } from 'node:zlib';

const here = path.dirname(fileURLToPath(import.meta.url));
/** The repository root. */
export const REPO_ROOT = path.resolve(here, '../../../..');
/** The BraTS sample slices, outside the repository. */
export const BRATS_DIR = path.resolve(REPO_ROOT, '../shared/data/brats-sample');
const FIXTURES = path.resolve(here, '../../test/fixtures');

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

/** Reads a file of the BraTS sample (path relative to {@link BRATS_DIR}). */
export function readBrats(rel: string): TestNifti {
  return readNifti(path.join(BRATS_DIR, rel));
}

/** Whether the BraTS sample folder is present. */
export const HAVE_BRATS = fs.existsSync(BRATS_DIR);
