import { describe, expect, it } from '@jest/globals';
import { kindOfFile, missingModalities, sortInputFiles } from './layout.js';

describe('kindOfFile', () => {
  it.each([
    ['brats_test_00001000_t2f_80_w.nii.gz', 't2f'],
    ['brats_train_00004000_seg_27_w.nii.gz', 'seg'],
    ['phantom_test_90000000_t1c_80_w.nii', 't1c'],
    ['00001000_80-label.nii.gz', 'seg'],
    ['BraTS2021_00001_flair.nii.gz', 't2f'],
    ['patient-T1ce.nii.gz', 't1c'],
    ['case.t2.nii', 't2w'],
    ['sub01_t1.nii.gz', 't1n'],
    ['sizes.CSV', 'csv'],
    ['model100000.pt', 'weights'],
    ['diffusion.safetensors', 'weights'],
  ])('%s is %s', (name, kind) => {
    expect(kindOfFile(name)).toBe(kind);
  });

  it.each([['scan.nii.gz'], ['t1_and_flair.nii.gz'], ['notes.txt'], ['t2f.png']])('%s says nothing', (name) => {
    expect(kindOfFile(name)).toBeUndefined();
  });

  it('refuses a non-string', () => {
    expect(() => kindOfFile(3 as unknown as string)).toThrow("'name' passed to 'kindOfFile' must be a string");
  });
});

describe('sortInputFiles', () => {
  it('sorts by kind, keeps the first of a kind given twice and lists the rest as unknown', () => {
    const f = (name: string) => ({ name });
    const s = sortInputFiles([f('a_t1n.nii'), f('a_t1c.nii'), f('b_t1n.nii'), f('x.csv'), f('y.csv'), f('a_seg.nii'), f('odd.nii'), f('w.pt')]);
    expect(s.images).toEqual({ t1n: f('a_t1n.nii'), t1c: f('a_t1c.nii') });
    expect(s.csv).toEqual(f('x.csv'));
    expect(s.seg).toEqual(f('a_seg.nii'));
    expect(s.unknown.map((u) => u.name)).toEqual(['b_t1n.nii', 'y.csv', 'odd.nii', 'w.pt']);
    expect(missingModalities(s.images)).toEqual(['t2w', 't2f']);
  });
});
