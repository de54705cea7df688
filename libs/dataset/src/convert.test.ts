import { existsSync, mkdtempSync, readdirSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from '@jest/globals';
import { loadNifti } from '@tumorcast/nifti/node';
import { convertBratsVolumes, listSamples, loadSample, type ConvertProgress } from './index.js';
import { normaliseVolume, patientIdOf } from './convert.js';
import { FIXTURES, fixtureJson } from './test-utils/fixtures.js';
import { expectDatasetError } from './test-utils/errors.js';

interface Expected {
  case: string;
  pid: string;
  shape: number[];
  default: Record<string, { a: number; b: number; slices: number[][] }>;
  lower5: Record<string, { a: number; b: number; slices: number[][] }>;
  burden: Record<string, number>;
  seg: number[][];
}
const exp = fixtureJson<Expected>('brats-case.json');
const caseParent = path.join(FIXTURES, 'brats-case');
const caseDir = path.join(caseParent, exp.case);
const tmp = mkdtempSync(path.join(os.tmpdir(), 'tumorcast-convert-'));
afterAll(() => rmSync(tmp, { recursive: true, force: true }));
const MODS = ['t1n', 't1c', 't2w', 't2f'] as const;

describe('convertBratsVolumes (numpy-normalised fixtures)', () => {
  it('writes tumour-bearing slices in the BraTS slice layout, normalised like numpy (exact)', async () => {
    const out = path.join(tmp, 'tumour');
    const progress: ConvertProgress[] = [];
    const res = await convertBratsVolumes(caseParent, out, { slices: 'tumour', onProgress: (p) => progress.push(p) });
    expect(res).toEqual({ cases: 1, samples: ['00042001_1', '00042001_2'] });
    expect(progress).toEqual([{ caseName: exp.case, caseIndex: 1, caseCount: 1, slices: 2, totalSlices: 2 }]);
    expect(readdirSync(path.join(out, 'training')).sort()).toEqual(['00042001_1', '00042001_2']);
    for (const k of [1, 2]) {
      const dir = path.join(out, 'training', `00042001_${k}`);
      expect(readdirSync(dir).sort()).toEqual(
        ['seg', 't1c', 't1n', 't2f', 't2w'].map((m) => `brats_train_00042001_${m}_${k}_w.nii.gz`),
      );
      for (const m of MODS) {
        const img = await loadNifti(path.join(dir, `brats_train_00042001_${m}_${k}_w.nii.gz`));
        expect(img.shape).toEqual([6, 5]);
        expect(img.datatype).toBe('float64');
        expect(img.affine).toEqual([[1, 0, 0, 0], [0, 1, 0, 0], [0, 0, 1, 0], [0, 0, 0, 1]]);
        expect(Array.from(img.data)).toEqual(exp.default[m]?.slices[k]);
      }
      const seg = await loadNifti(path.join(dir, `brats_train_00042001_seg_${k}_w.nii.gz`));
      expect(Array.from(seg.data)).toEqual(exp.seg[k]);
    }
    const samples = await listSamples(out, { requireLabels: true });
    for (const s of samples) expect((await loadSample(s)).burden).toBe(exp.burden[String(s.slice)]);
  });

  it("'all' skips brain-less slices unless skipEmpty is false; a range selects [start, end)", async () => {
    expect((await convertBratsVolumes(caseDir, path.join(tmp, 'all'))).samples).toEqual(['00042001_0', '00042001_1', '00042001_2']);
    expect((await convertBratsVolumes(caseDir, path.join(tmp, 'all2'), { skipEmpty: false })).samples).toHaveLength(4);
    expect((await convertBratsVolumes(caseDir, path.join(tmp, 'range'), { slices: { start: 0, end: 2 } })).samples).toEqual(['00042001_0', '00042001_1']);
    await expectDatasetError(convertBratsVolumes(caseDir, path.join(tmp, 'range2'), { slices: { start: 2, end: 9 } }), path.join(caseDir, `${exp.case}-t1n.nii.gz`), /slice range \[2, 9\) is outside the volume's 4 axial slices/);
  });

  it('validation: labels go to test_labels/, lower percentile clipping like numpy', async () => {
    const out = path.join(tmp, 'val');
    await convertBratsVolumes(caseDir, out, { split: 'validation', slices: 'tumour', lowerPercentile: 5, dataset: 'ped' });
    expect(readdirSync(path.join(out, 'test_labels')).sort()).toEqual(['00042001_1-label.nii.gz', '00042001_2-label.nii.gz']);
    const dir = path.join(out, 'validation', '00042001_2');
    expect(readdirSync(dir).sort()).toEqual(['t1c', 't1n', 't2f', 't2w'].map((m) => `ped_val_00042001_${m}_2_w.nii.gz`));
    for (const m of MODS) {
      const img = await loadNifti(path.join(dir, `ped_val_00042001_${m}_2_w.nii.gz`));
      expect(Array.from(img.data)).toEqual(exp.lower5[m]?.slices[2]);
    }
    const [s] = await listSamples(out, { split: 'validation', requireLabels: true });
    expect(s?.label).toBe(path.join(out, 'test_labels', '00042001_1-label.nii.gz'));
  });

  it('percentiles agree with numpy bit for bit', async () => {
    for (const m of MODS) {
      const v = Float64Array.from((await loadNifti(path.join(caseDir, `${exp.case}-${m}.nii.gz`))).data);
      expect(normaliseVolume(v.slice(), 0, 99.5)).toEqual({ a: 0, b: exp.default[m]?.b });
      expect(normaliseVolume(v.slice(), 5, 99.5)).toEqual({ a: exp.lower5[m]?.a, b: exp.lower5[m]?.b });
    }
    expect(patientIdOf('BraTS-GLI-00004-000')).toBe('00004000');
    expect(patientIdOf('BraTS-PED-00123-001')).toBe('00123001');
  });

  it('refuses to overwrite unless asked, and leaves no temporary folders', async () => {
    const out = path.join(tmp, 'twice');
    await convertBratsVolumes(caseDir, out, { slices: 'tumour' });
    await expectDatasetError(convertBratsVolumes(caseDir, out, { slices: 'tumour' }), path.join(out, 'training', '00042001_1'), /already exists/);
    await convertBratsVolumes(caseDir, out, { slices: 'tumour', overwrite: true, datatype: 'float32' });
    expect(readdirSync(path.join(out, 'training')).sort()).toEqual(['00042001_1', '00042001_2']);
    expect((await loadNifti(path.join(out, 'training', '00042001_1', 'brats_train_00042001_t1n_1_w.nii.gz'))).datatype).toBe('float32');
  });

  it('errors: no volumes, a missing modality, tumour slices without seg', async () => {
    await expectDatasetError(convertBratsVolumes(tmp, path.join(tmp, 'x')), tmp, /no BraTS volumes found/);
    await expectDatasetError(convertBratsVolumes(path.join(tmp, 'nope'), path.join(tmp, 'x')), path.join(tmp, 'nope'), /input folder not found/);
    // a case with only some modalities
    const partial = path.join(tmp, 'partial', exp.case);
    const { cpSync } = await import('node:fs');
    cpSync(caseDir, partial, { recursive: true });
    rmSync(path.join(partial, `${exp.case}-t2w.nii.gz`));
    await expectDatasetError(convertBratsVolumes(partial, path.join(tmp, 'y')), partial, /missing its 't2w' volume/);
    rmSync(path.join(partial, `${exp.case}-seg.nii.gz`));
    cpSync(path.join(caseDir, `${exp.case}-t2w.nii.gz`), path.join(partial, `${exp.case}-t2w.nii.gz`));
    await expectDatasetError(convertBratsVolumes(partial, path.join(tmp, 'y'), { slices: 'tumour' }), partial, /'tumour' needs the seg volume/);
    expect(existsSync(path.join(tmp, 'y', 'training'))).toBe(false);
  });
});
