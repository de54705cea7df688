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
export function sliceFileName(dataset: string, split: string, pid: string, kind: PhantomFileKind, sliceId: number, gzip = true): string {
  return `${dataset}_${split}_${pid}_${kind}_${sliceId}_w.nii${gzip ? '.gz' : ''}`;
}

/** Folder name of one slice in the BraTS slice layout: `<pid>_<slice>`. */
export function sliceKey(pid: string, sliceId: number): string {
  return `${pid}_${sliceId}`;
}

/** Label file name (BraTS slice layout) of a testing/validation slice: `<pid>_<slice>-label.nii[.gz]`. */
export function sliceLabelFileName(pid: string, sliceId: number, gzip = true): string {
  return `${pid}_${sliceId}-label.nii${gzip ? '.gz' : ''}`;
}

/**
 * Former name of {@link sliceFileName}, after the layout's original name.
 * @deprecated Use {@link sliceFileName}; this alias will be removed in a later version.
 */
export const seedFileName = sliceFileName;

/**
 * Former name of {@link sliceKey}, after the layout's original name.
 * @deprecated Use {@link sliceKey}; this alias will be removed in a later version.
 */
export const seedSliceKey = sliceKey;

/**
 * Former name of {@link sliceLabelFileName}, after the layout's original name.
 * @deprecated Use {@link sliceLabelFileName}; this alias will be removed in a later version.
 */
export const seedLabelFileName = sliceLabelFileName;
