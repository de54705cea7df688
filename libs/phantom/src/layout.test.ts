/**
 * File and folder names of the BraTS slice layout. The expected names are
 * those of the real BraTS sample slices (e.g.
 * `training/00004000_20/brats_train_00004000_seg_20_w.nii.gz` and
 * `test_labels/00002000_25-label.nii.gz`), written out here by hand.
 */
import { describe, expect, it } from '@jest/globals';
import { seedFileName, seedLabelFileName, seedSliceKey, sliceFileName, sliceKey, sliceLabelFileName } from './index.js';

describe('BraTS slice layout names', () => {
  it('name slice files, slice folders and label files as the BraTS sample does', () => {
    expect(sliceFileName('brats', 'train', '00004000', 'seg', 20)).toBe('brats_train_00004000_seg_20_w.nii.gz');
    expect(sliceFileName('brats', 'test', '00002000', 't2f', 25, false)).toBe('brats_test_00002000_t2f_25_w.nii');
    expect(sliceKey('00004000', 20)).toBe('00004000_20');
    expect(sliceLabelFileName('00002000', 25)).toBe('00002000_25-label.nii.gz');
    expect(sliceLabelFileName('00002000', 25, false)).toBe('00002000_25-label.nii');
  });

  it('keep the former names as aliases of the same functions', () => {
    expect(seedFileName).toBe(sliceFileName);
    expect(seedSliceKey).toBe(sliceKey);
    expect(seedLabelFileName).toBe(sliceLabelFileName);
  });
});
