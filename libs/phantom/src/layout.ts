/**
 * File naming of the BraTS slice layout (docs/method.md section 1).
 */
import type { PhantomModality } from './slice.js';

/** A modality name or `'seg'` (the label map, training slices). */
export type PhantomFileKind = PhantomModality | 'seg';

/**
 * File name of one slice image in the BraTS slice layout:
 * `<dataset>_<split>_<pid>_<kind>_<slice>_w.nii[.gz]`.
 *
 * @param dataset - dataset name, e.g. `'phantom'` (the sample uses `'brats'`).
 * @param split - `'train'` or `'test'` as in the BraTS slice layout's names.
 * @param pid - patient id, e.g. `'90000000'`.
 * @param kind - modality or `'seg'`.
 * @param sliceId - slice index.
 * @param gzip - append `.gz`.
 * @defaultValue gzip true
 */
export function seedFileName(dataset: string, split: string, pid: string, kind: PhantomFileKind, sliceId: number, gzip = true): string {
  return `${dataset}_${split}_${pid}_${kind}_${sliceId}_w.nii${gzip ? '.gz' : ''}`;
}

/** Folder name of one slice in the BraTS slice layout: `<pid>_<slice>`. */
export function seedSliceKey(pid: string, sliceId: number): string {
  return `${pid}_${sliceId}`;
}

/** Label file name (BraTS slice layout) of a testing/validation slice: `<pid>_<slice>-label.nii[.gz]`. */
export function seedLabelFileName(pid: string, sliceId: number, gzip = true): string {
  return `${pid}_${sliceId}-label.nii${gzip ? '.gz' : ''}`;
}
