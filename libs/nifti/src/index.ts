/**
 * @packageDocumentation
 * `@tumorcast/nifti`: NIfTI-1/NIfTI-2 reading and writing as nibabel does
 * it (on nifti-reader-js), from and to bytes. This entry imports no Node
 * API and works in browsers; the file-system side (`loadNifti`,
 * `saveNifti`) is the `@tumorcast/nifti/node` subpath. See the package
 * README.
 *
 * @module @tumorcast/nifti
 */
export { NiftiError } from './errors.js';
export { NIFTI_DATATYPES } from './datatypes.js';
export type { NiftiDatatype } from './datatypes.js';
export type { Affine } from './affine.js';
export type { NiftiHeader, NiftiExtension } from './header.js';
export type { NiftiImage, NiftiImageInput, NiftiData } from './image.js';
export { readNifti } from './read.js';
export type { ReadNiftiOptions } from './read.js';
export { writeNifti } from './write.js';
export type { WriteNiftiOptions } from './write.js';
