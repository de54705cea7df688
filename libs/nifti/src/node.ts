/**
 * @packageDocumentation
 * `@tumorcast/nifti/node`: the Node file-system side of `@tumorcast/nifti`,
 * loading and saving NIfTI files by path (`node:fs`). Everything else
 * (`readNifti`, `writeNifti`, `NiftiError`, the types) comes from the
 * browser-safe main entry `@tumorcast/nifti`.
 *
 * @module @tumorcast/nifti/node
 */
export { loadNifti, saveNifti } from './load.js';
