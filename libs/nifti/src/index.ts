/**
 * @packageDocumentation
 * `@tumorcast/nifti`: NIfTI-1/NIfTI-2 reading and writing as nibabel does
 * it (on nifti-reader-js), the BraTS slice data set of the seed's layout
 * (docs/method.md section 1), and the conversion of full BraTS volumes into it.
 * See the package README.
 */
export { NiftiError, DatasetError } from './errors.js';
export { NIFTI_DATATYPES } from './datatypes.js';
export type { NiftiDatatype } from './datatypes.js';
export type { Affine } from './affine.js';
export type { NiftiHeader, NiftiExtension } from './header.js';
export type { NiftiImage, NiftiImageInput, NiftiData } from './image.js';
export { readNifti } from './read.js';
export type { ReadNiftiOptions } from './read.js';
export { writeNifti } from './write.js';
export type { WriteNiftiOptions } from './write.js';
export { loadNifti, saveNifti } from './load.js';
export { MODALITIES, SPLITS, listSamples, readSampleFolder, loadSample, shuffleSamples, iterateBatches } from './dataset.js';
export type {
  Modality,
  Split,
  SliceSampleInfo,
  ListSamplesOptions,
  ReadSampleFolderOptions,
  LoadSampleOptions,
  SliceSample,
  BatchOptions,
  SliceBatch,
} from './dataset.js';
export { convertBratsVolumes } from './convert.js';
export type { SliceSelection, ConvertProgress, ConvertBratsOptions, ConvertBratsResult } from './convert.js';
