/** loadNifti / saveNifti: the Node file-system side of the reader and writer. */
import { readFile } from 'node:fs/promises';
import { writeFileAtomic } from '@tumorcast/cli/files';
import { NiftiError } from './errors.js';
import type { NiftiImage, NiftiImageInput } from './image.js';
import { readNifti } from './read.js';
import { writeNifti, type WriteNiftiOptions } from './write.js';

async function readBytes(file: string): Promise<Uint8Array> {
  try {
    return await readFile(file);
  } catch (e) {
    const err = e as NodeJS.ErrnoException;
    const why = err.code === 'ENOENT' ? 'file not found' : err.code === 'EISDIR' ? 'is a folder, not a file' : `cannot read file (${err.message})`;
    throw new NiftiError(file, why, { cause: e });
  }
}

async function firstExisting(candidates: string[]): Promise<{ file: string; bytes: Uint8Array } | undefined> {
  for (const c of candidates) {
    try {
      return { file: c, bytes: await readFile(c) };
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== 'ENOENT') throw new NiftiError(c, `cannot read file (${(e as Error).message})`, { cause: e });
    }
  }
  return undefined;
}

/**
 * Loads a NIfTI file from disk: `.nii`, `.nii.gz`, or a `.hdr`/`.img` pair
 * (given either file's path; `.hdr.gz`/`.img.gz` too). See {@link readNifti}
 * for what is read and how.
 *
 * @param file - path of the file.
 * @returns the image.
 * @throws NiftiError naming the file and the problem (missing file, missing
 *   pair partner, and every problem {@link readNifti} reports).
 *
 * @example
 * ```ts
 * const img = await loadNifti('BraTS-GLI-00000-000-t1n.nii.gz');
 * console.log(img.shape, img.datatype, img.affine);
 * ```
 */
export async function loadNifti(file: string): Promise<NiftiImage> {
  if (typeof file !== 'string' || file === '') throw new TypeError(`'file' passed to 'loadNifti' must be a non-empty path string`);
  const pair = /^(.*)\.(hdr|img)(\.gz)?$/i.exec(file);
  if (pair) {
    const [, stem, ext, gz = ''] = pair as unknown as [string, string, string, string | undefined];
    const isHdr = ext.toLowerCase() === 'hdr';
    const partnerExt = isHdr ? (ext === 'HDR' ? 'IMG' : 'img') : ext === 'IMG' ? 'HDR' : 'hdr';
    const partners = [`${stem}.${partnerExt}${gz}`, `${stem}.${partnerExt}${gz ? '' : '.gz'}`];
    const mine = await readBytes(file);
    const other = await firstExisting(partners);
    if (!other) throw new NiftiError(file, `the ${isHdr ? 'image' : 'header'} file of this .hdr/.img pair is missing (looked for ${partners.join(', ')})`);
    const [hdrName, hdr, imgName, img] = isHdr ? [file, mine, other.file, other.bytes] : [other.file, other.bytes, file, mine];
    return readNifti(hdr, { name: hdrName, image: img, imageName: imgName, imageGzip: /\.gz$/i.test(imgName) });
  }
  return readNifti(await readBytes(file), { name: file });
}

/**
 * Writes an image to `file` atomically (temp file + rename: no partial file
 * is ever left at `file`). `.nii.gz` is gzipped, `.nii` is not; other
 * extensions are refused.
 *
 * @param file - destination path, ending in `.nii` or `.nii.gz`.
 * @param image - the image (see {@link writeNifti}).
 * @param options - see {@link WriteNiftiOptions}; `gzip` defaults to the extension and must agree with it.
 * @throws NiftiError naming the file, for a bad extension, bad image
 *   arguments or data the datatype cannot hold (the message of
 *   {@link writeNifti}'s error after the file name).
 */
export async function saveNifti(file: string, image: NiftiImageInput, options: WriteNiftiOptions = {}): Promise<void> {
  if (typeof file !== 'string' || file === '') throw new TypeError(`'file' passed to 'saveNifti' must be a non-empty path string`);
  const gz = /\.nii\.gz$/i.test(file);
  if (!gz && !/\.nii$/i.test(file)) throw new NiftiError(file, `'file' passed to 'saveNifti' must end in .nii or .nii.gz`);
  if (options?.gzip !== undefined && options.gzip !== gz) {
    throw new NiftiError(file, `'options.gzip' is ${options.gzip} but the file name ends in ${gz ? '.nii.gz' : '.nii'}`);
  }
  let bytes: Uint8Array;
  try {
    bytes = writeNifti(image, { ...options, gzip: gz });
  } catch (e) {
    throw new NiftiError(file, e instanceof NiftiError ? e.problem : (e as Error).message, { cause: e });
  }
  await writeFileAtomic(file, bytes);
}
