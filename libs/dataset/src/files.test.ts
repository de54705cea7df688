import { createHash } from 'node:crypto';
import { readdirSync } from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from '@jest/globals';
import { loadNifti } from '@tumorcast/nifti/node';
import { SLICES_ROOT, fixtureJson } from './test-utils/fixtures.js';
import { SAMPLE_ROOT, describeWithSample } from '../test/brats-sample.js';

// Every file of the data sets this package reads, loaded by @tumorcast/nifti
// and compared with what nibabel reads from it (tools/nifti/make_fixtures.py).

interface SampleFile {
  shape: number[];
  dtype: string;
  affine: number[][];
  zooms: number[];
  sha256: string;
  sum: number;
  nonzero: number;
  min: number;
  max: number;
  /** A few values by index (only for made-up data: the repository holds no voxel of the real sample). */
  picks?: Record<string, number>;
}
const sample = fixtureJson<{ files: Record<string, SampleFile> }>('sample.json');
const slices = fixtureJson<{ files: Record<string, SampleFile> }>('slices.json');

/** Every file of a data set in the BraTS slice layout read as nibabel reads it (`want` from tools/nifti/make_fixtures.py). */
async function expectLikeNibabel(root: string, rel: string, want: SampleFile): Promise<void> {
  const img = await loadNifti(path.join(root, rel));
  expect(img.shape).toEqual(want.shape);
  expect(img.datatype).toBe(want.dtype);
  // every value: sha256 of the values as float64, x fastest (exact)
  const f64 = Float64Array.from(img.data as ArrayLike<number>);
  const hash = createHash('sha256').update(new Uint8Array(f64.buffer, f64.byteOffset, f64.byteLength)).digest('hex');
  expect(hash).toBe(want.sha256);
  for (const [i, v] of Object.entries(want.picks ?? {})) expect(f64[Number(i)]).toBe(v);
  let sum = 0, nz = 0, min = Infinity, max = -Infinity;
  for (const v of f64) {
    sum += v;
    if (v !== 0) nz++;
    if (v < min) min = v;
    if (v > max) max = v;
  }
  expect(Math.abs(sum - want.sum)).toBeLessThanOrEqual(1e-9 * Math.max(1, Math.abs(want.sum))); // summation order differs
  expect(nz).toBe(want.nonzero);
  expect(min).toBe(want.min);
  expect(max).toBe(want.max);
  expect(img.affine).toEqual(want.affine);
  expect(img.spacing).toEqual(want.zooms);
}

/** Relative paths of the files under `root`. */
function filesUnder(root: string, dir = ''): string[] {
  return readdirSync(path.join(root, dir), { withFileTypes: true })
    .flatMap((e) => (e.isDirectory() ? filesUnder(root, path.join(dir, e.name)) : [path.join(dir, e.name)]))
    .sort();
}

describe('readNifti on the committed slice data set (nibabel fixtures)', () => {
  const files = Object.keys(slices.files);
  it('covers every file of the data set', () => {
    expect(filesUnder(SLICES_ROOT)).toEqual([...files].sort());
    expect(files.length).toBe(25);
  });
  it.each(files)('%s matches nibabel exactly', async (rel) => {
    await expectLikeNibabel(SLICES_ROOT, rel, slices.files[rel]!);
  });
});

describeWithSample('readNifti on the BraTS sample (nibabel fixtures)', () => {
  const files = Object.keys(sample.files);
  it('covers every file of the sample folder', () => {
    expect(filesUnder(SAMPLE_ROOT)).toEqual([...files].sort());
    expect(files.length).toBe(85);
  });
  it.each(files)('%s matches nibabel exactly', async (rel) => {
    const img = await loadNifti(path.join(SAMPLE_ROOT, rel));
    expect(img.data).toBeInstanceOf(Float64Array);
    await expectLikeNibabel(SAMPLE_ROOT, rel, sample.files[rel]!);
  });
});
