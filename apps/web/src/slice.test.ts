import { describe, expect, it } from '@jest/globals';
import { generatePhantomSlice } from '@tumorcast/phantom';
import { writeNifti } from '@tumorcast/nifti';
import { InputFileError, loadBaselineSlice } from './slice.js';
import type { NamedBytes } from './slice.js';

const W = 48, H = 40;
const scan = generatePhantomSlice({ seed: 3, width: W, height: H, size: 60 });
const nii = (name: string, data: ArrayLike<number>, shape = [W, H]): NamedBytes => ({ name, bytes: writeNifti({ shape, data }, { gzip: name.endsWith('.gz') }) });
const images = () => ({
  t1n: nii('a_t1n.nii.gz', scan.modalities.t1n), t1c: nii('a_t1c.nii', scan.modalities.t1c),
  t2w: nii('a_t2w.nii.gz', scan.modalities.t2w), t2f: nii('a_t2f.nii.gz', scan.modalities.t2f),
});

describe('loadBaselineSlice', () => {
  it('keeps the native image, pads to 256 and resizes for the networks', () => {
    const s = loadBaselineSlice(images(), nii('a_seg.nii.gz', scan.label), 64);
    expect([s.width, s.height]).toEqual([W, H]);
    // HWC at native size: the phantom's planes, interleaved, to float32 precision
    for (const [c, m] of (['t1n', 't1c', 't2w', 't2f'] as const).entries()) {
      for (const i of [0, 17, 555, W * H - 1]) expect(s.native[i * 4 + c]).toBeCloseTo(scan.modalities[m][i]!, 6);
    }
    expect(s.model.length).toBe(64 * 64 * 4);
    // 48x40 padded to 256 is mostly zero: the border of the 64x64 image is empty
    expect(s.model.slice(0, 64 * 4).every((v) => v === 0)).toBe(true);
    // burden = tumour pixels / brain (t2f != 0) pixels, counted here independently
    let tumour = 0, brain = 0;
    for (let i = 0; i < W * H; i++) {
      if (scan.label[i]! > 0) tumour++;
      if (scan.modalities.t2f[i] !== 0) brain++;
    }
    expect(s.burden).toBeCloseTo(tumour / brain, 12);
    expect(s.nativeLabel?.reduce((a, b) => a + b, 0)).toBe(tumour);
    expect(s.files.seg).toBe('a_seg.nii.gz');
  });

  it('works without a segmentation', () => {
    const s = loadBaselineSlice(images(), undefined, 32);
    expect(s.burden).toBeUndefined();
    expect(s.nativeLabel).toBeUndefined();
    expect(s.model.length).toBe(32 * 32 * 4);
  });

  it('names a file that is not NIfTI', () => {
    const bad = { ...images(), t2f: { name: 'broken_t2f.nii.gz', bytes: new TextEncoder().encode('this is not a NIfTI file') } };
    expect(() => loadBaselineSlice(bad, undefined, 64)).toThrow(InputFileError);
    expect(() => loadBaselineSlice(bad, undefined, 64)).toThrow(/^broken_t2f\.nii\.gz is not a readable NIfTI file/);
  });

  it('names the missing modalities', () => {
    const { t1c: _c, t2w: _w, ...some } = images();
    expect(() => loadBaselineSlice(some, undefined, 64)).toThrow(/^missing modality t1c, t2w: drop all four slices/);
  });

  it('refuses slices of different shapes and non-finite values, naming the file', () => {
    const other = { ...images(), t2w: nii('small_t2w.nii', new Float32Array(W * (H - 1)), [W, H - 1]) };
    expect(() => loadBaselineSlice(other, undefined, 64)).toThrow(/small_t2w\.nii.*differs/);
    const nan = Float32Array.from(scan.modalities.t1c);
    nan[5] = Number.NaN;
    expect(() => loadBaselineSlice({ ...images(), t1c: nii('nan_t1c.nii', nan) }, undefined, 64)).toThrow(/^nan_t1c\.nii holds NaN at voxel 5/);
  });

  it('refuses a bad model size', () => {
    expect(() => loadBaselineSlice(images(), undefined, 0)).toThrow("'modelSize' passed to 'loadBaselineSlice' must be a positive integer, got 0");
  });
});
