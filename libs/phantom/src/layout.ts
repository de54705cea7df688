/**
 * File naming of the seed layout (docs/method.md section 1).
 */
import type { PhantomModality } from './slice.js';

/** A modality name or `'seg'` (the label map, training slices). */
export type PhantomFileKind = PhantomModality | 'seg';

/**
 * The seed's file name of one slice image:
 * `<dataset>_<split>_<pid>_<kind>_<slice>_w.nii[.gz]`.
 *
 * @param dataset - dataset name, e.g. `'phantom'` (the sample uses `'brats'`).
 * @param split - `'train'` or `'test'` as in the seed's names.
 * @param pid - patient id, e.g. `'90000000'`.
 * @param kind - modality or `'seg'`.
 * @param sliceId - slice index.
 * @param gzip - append `.gz`.
 * @defaultValue gzip true
 */
export function seedFileName(dataset: string, split: string, pid: string, kind: PhantomFileKind, sliceId: number, gzip = true): string {
  return `${dataset}_${split}_${pid}_${kind}_${sliceId}_w.nii${gzip ? '.gz' : ''}`;
}

/** The seed's folder name of one slice: `<pid>_<slice>`. */
export function seedSliceKey(pid: string, sliceId: number): string {
  return `${pid}_${sliceId}`;
}

/** The seed's label file name of a testing/validation slice: `<pid>_<slice>-label.nii[.gz]`. */
export function seedLabelFileName(pid: string, sliceId: number, gzip = true): string {
  return `${pid}_${sliceId}-label.nii${gzip ? '.gz' : ''}`;
}
