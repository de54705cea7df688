/**
 * @packageDocumentation
 * `@tumorcast/phantom`: seeded synthetic longitudinal brain MRI phantoms
 * (4-channel axial slices with a tumour whose size follows the two-phase
 * growth model with radiotherapy), written in the BraTS slice layout.
 * Everything here is synthetic; see the package README.
 */


export { generatePhantomSlice, sampleTumourShape, PHANTOM_MODALITIES, PHANTOM_LABELS, PHANTOM_TISSUES } from './slice.js';
export type { PhantomSlice, PhantomSliceOptions, PhantomTumourShape, PhantomModality } from './slice.js';
export { twoPhaseSize, DEFAULT_TWO_PHASE_PARAMS, RT_COURSE_DAYS } from './growth.js';
export type { TwoPhaseParams } from './growth.js';
export { generatePhantomPatient } from './patient.js';
export type { PhantomPatient, PhantomPatientOptions, PhantomPatientSlice, PhantomRenderOptions } from './patient.js';
export { writePhantomDataset } from './dataset.js';
export type {
  PhantomDatasetOptions,
  PhantomDatasetPatientOptions,
  PhantomDatasetManifest,
  PhantomManifestPatient,
  PhantomManifestSlice,
  PhantomManifestTrainingScan,
  PhantomScanFiles,
} from './dataset.js';
export { generateSegmentationDataset } from './segmentation.js';
export type { SegmentationDataset, SegmentationDatasetOptions } from './segmentation.js';
export { renderPhantomPreview, writePhantomPreview, PREVIEW_COLUMNS } from './preview.js';
export type { PhantomPreviewOptions } from './preview.js';
export { sliceFileName, sliceLabelFileName, sliceKey, seedFileName, seedLabelFileName, seedSliceKey } from './layout.js';
export type { PhantomFileKind } from './layout.js';
export { writePhantomCohort, PHANTOM_COHORT_ARCHETYPES } from './cohort.js';
export type { PhantomCohortOptions, PhantomCohortResult, PhantomCohortTruth, PhantomCohortArchetype, PhantomCohortSplit } from './cohort.js';
