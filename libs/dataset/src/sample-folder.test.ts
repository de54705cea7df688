import { mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from '@jest/globals';
import { saveNifti } from '@tumorcast/nifti/node';
import { DatasetError, listSamples, readSampleFolder } from './index.js';

// Self-made 4x4 slices: only the paths matter here, not the pixels.
const tmp = mkdtempSync(path.join(os.tmpdir(), 'tumorcast-sample-folder-'));
afterAll(() => rmSync(tmp, { recursive: true, force: true }));

const plane = () => ({ data: new Float32Array(16), shape: [4, 4] });

async function writeSlice(dir: string, kinds: readonly string[]): Promise<void> {
  mkdirSync(dir, { recursive: true });
  const [pid, slice] = path.basename(dir).split('_') as [string, string];
  for (const k of kinds) await saveNifti(path.join(dir, `ds_test_${pid}_${k}_${slice}_w.nii.gz`), plane());
}

const MODS = ['t1n', 't1c', 't2w', 't2f'];

describe('readSampleFolder', () => {
  it('finds the label in <root>/test_labels/ for a folder under a split, as listSamples does', async () => {
    const root = path.join(tmp, 'seed');
    await writeSlice(path.join(root, 'testing', '0007_3'), MODS);
    await saveNifti(path.join(root, 'test_labels', '0007_3-label.nii.gz'), plane());
    const info = await readSampleFolder(path.join(root, 'testing', '0007_3'));
    expect(info.root).toBe(root); // default root: the folder's grandparent
    expect(info.split).toBe('testing');
    expect(info.label).toBe(path.join(root, 'test_labels', '0007_3-label.nii.gz'));
    expect(info.files.t2f).toBe(path.join(root, 'testing', '0007_3', 'ds_test_0007_t2f_3_w.nii.gz'));
    expect(info.patientId).toBe('0007');
    expect(info.slice).toBe(3);
    const [listed] = await listSamples(root, { split: 'testing' });
    expect(listed).toEqual(info);
  });

  it("prefers the folder's seg file, and takes an explicit root for a folder outside a split", async () => {
    const root = path.join(tmp, 'flat');
    await writeSlice(path.join(root, '0008_5'), [...MODS, 'seg']);
    await saveNifti(path.join(root, 'test_labels', '0008_5-label.nii'), plane());
    const withSeg = await readSampleFolder(path.join(root, '0008_5'), { root, split: 'validation' });
    expect(withSeg.label).toBe(path.join(root, '0008_5', 'ds_test_0008_seg_5_w.nii.gz'));
    expect(withSeg.split).toBe('validation');

    await writeSlice(path.join(root, '0009_6'), MODS);
    await saveNifti(path.join(root, 'test_labels', '0009_6-label.nii'), plane());
    expect((await readSampleFolder(path.join(root, '0009_6'), { root })).label).toBe(path.join(root, 'test_labels', '0009_6-label.nii'));
  });

  it('errors name the folder: missing folder, bad name, missing modality, missing label when required', async () => {
    const root = path.join(tmp, 'bad');
    const expectError = async (p: Promise<unknown>, dir: string, re: RegExp) => {
      const e = await p.then(() => undefined, (x: unknown) => x);
      expect(e).toBeInstanceOf(DatasetError);
      expect((e as DatasetError).file).toBe(dir);
      expect((e as DatasetError).problem).toMatch(re);
    };
    await expectError(readSampleFolder(path.join(root, 'testing', '1_1')), path.join(root, 'testing', '1_1'), /sample folder not found/);
    await writeSlice(path.join(root, 'testing', 'x-1'), MODS);
    await expectError(readSampleFolder(path.join(root, 'testing', 'x-1')), path.join(root, 'testing', 'x-1'), /must be <pid>_<slice>/);
    await writeSlice(path.join(root, 'testing', '2_1'), ['t1n', 't1c', 't2f']);
    await expectError(readSampleFolder(path.join(root, 'testing', '2_1')), path.join(root, 'testing', '2_1'), /missing modality 't2w'/);
    await writeSlice(path.join(root, 'testing', '3_1'), MODS);
    expect((await readSampleFolder(path.join(root, 'testing', '3_1'))).label).toBeUndefined();
    await expectError(readSampleFolder(path.join(root, 'testing', '3_1'), { requireLabel: true }), path.join(root, 'testing', '3_1'), /no label: .*test_labels\/3_1-label/);
    await expect(readSampleFolder('')).rejects.toThrow(TypeError);
    await expect(readSampleFolder(path.join(root, 'testing', '3_1'), { split: 'nope' as never })).rejects.toThrow(/'options.split' passed to 'readSampleFolder'/);
  });
});
