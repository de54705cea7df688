/**
 * @packageDocumentation
 * `@tumorcast/dataset`: data sets in the BraTS slice layout
 * (docs/method.md section 1) — listing, loading, burden, seeded shuffling
 * and batching — and the conversion of full 3-D BraTS volumes into it.
 * Files are read and written with `@tumorcast/nifti`. Node only (`node:fs`).
 * See the package README.
 */
export { DatasetError } from './errors.js';
export { MODALITIES, SPLITS, listSamples, readSampleFolder, loadSample, readSampleFiles, sampleFromFiles, shuffleSamples, iterateBatches } from './dataset.js';
export type {
  Modality,
  Split,
  SliceSampleInfo,
  ListSamplesOptions,
  ReadSampleFolderOptions,
  LoadSampleOptions,
  SliceSample,
  SliceSampleFiles,
  BatchOptions,
  SliceBatch,
} from './dataset.js';
export { convertBratsVolumes } from './convert.js';
export type { SliceSelection, ConvertProgress, ConvertBratsOptions, ConvertBratsResult } from './convert.js';
export {
  COHORT_FORMAT, COHORT_VERSION, COHORT_SLICE_KINDS, COHORT_SPLIT_MODES, DEFAULT_COHORT_SPLIT, CohortError, formatCohortProblem, parseCohort, readCohort,
} from './cohort.js';
export type { Cohort, CohortPatient, CohortScan, CohortSlice, CohortSliceKind, CohortSplit, CohortProblem, ReadCohortOptions } from './cohort.js';
