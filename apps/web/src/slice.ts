/**
 * A baseline slice from the user's NIfTI files: decoded with
 * `@tumorcast/nifti`, checked and brought to the networks' size by
 * `@tumorcast/dataset` (zero padding to 256, then a resize), exactly as the
 * command-line tools load a slice of a data folder.
 */
import { MODALITIES, sampleFromFiles } from '@tumorcast/dataset';
import type { Modality, SliceSampleFiles, SliceSampleInfo } from '@tumorcast/dataset';
import { readNifti } from '@tumorcast/nifti';
import type { Affine, NiftiImage } from '@tumorcast/nifti';
import { PADDED_SIZE } from '@tumorcast/pipeline';
import type { SliceImages } from '@tumorcast/pipeline';

/** A named file's bytes. */
export interface NamedBytes {
  /** The file name, used in messages. */
  name: string;
  /** Its content. */
  bytes: Uint8Array;
}

/** A decoded baseline: the slice at both sizes and what outputs need to keep the input's geometry. */
export interface BaselineSlice extends SliceImages {
  /** The t1n file's affine (outputs are written with it). */
  affine: Affine;
  /** Voxel spacing [x, y], mm. */
  spacing: [number, number];
  /** The file names, for the report. */
  files: Record<Modality, string> & { seg?: string };
}

/** A problem with the user's input files; the message names the file and what to fix. */
export class InputFileError extends Error {
  /** @param message - what is wrong and what to do. */
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'InputFileError';
  }
}

function decode(f: NamedBytes): NiftiImage {
  try {
    return readNifti(f.bytes, { name: f.name });
  } catch (e) {
    // the reader's message may start with the file name already
    const why = (e as Error).message.replace(`${f.name}: `, '');
    throw new InputFileError(`${f.name} is not a readable NIfTI file: ${why}`, { cause: e });
  }
}

function firstNonFinite(a: ArrayLike<number>): number {
  for (let i = 0; i < a.length; i++) if (!Number.isFinite(a[i])) return i;
  return -1;
}

/**
 * Decodes the four modalities (and the optional segmentation) of one
 * baseline slice and loads it at its own size and at the networks' size.
 *
 * @param images - one file per modality.
 * @param seg - the segmentation (tumour where > 0), when known.
 * @param modelSize - the networks' input size (e.g. 64 for the demo models).
 * @throws InputFileError naming the file: missing modality, unreadable NIfTI, not a 2-D slice, shapes that differ, non-finite values.
 */
export function loadBaselineSlice(images: Partial<Record<Modality, NamedBytes>>, seg: NamedBytes | undefined, modelSize: number): BaselineSlice {
  if (!Number.isInteger(modelSize) || modelSize < 1) throw new RangeError(`'modelSize' passed to 'loadBaselineSlice' must be a positive integer, got ${modelSize}`);
  const missing = MODALITIES.filter((m) => !images[m]);
  if (missing.length) {
    throw new InputFileError(`missing modality ${missing.join(', ')}: drop all four slices (t1n, t1c, t2w, t2f), named as in the BraTS slice layout (e.g. brats_test_00001000_t2f_80_w.nii.gz) or with the modality in the name`);
  }
  const decoded = {} as Record<Modality, NiftiImage>;
  for (const m of MODALITIES) {
    const f = images[m]!;
    const img = decode(f);
    const bad = firstNonFinite(img.data as ArrayLike<number>);
    if (bad >= 0) throw new InputFileError(`${f.name} holds ${String((img.data as ArrayLike<number>)[bad])} at voxel ${bad}: every voxel must be a finite number`);
    decoded[m] = img;
  }
  const label = seg ? decode(seg) : undefined;
  const info: SliceSampleInfo = {
    id: 'baseline', patientId: 'patient', slice: 0, split: 'testing', root: '', dir: 'baseline',
    files: Object.fromEntries(MODALITIES.map((m) => [m, images[m]!.name])) as Record<Modality, string>,
    ...(seg ? { label: seg.name } : {}),
  };
  const files: SliceSampleFiles = { info, images: decoded, ...(label ? { label } : {}) };
  let native, model;
  try {
    native = sampleFromFiles(files, { size: null, layout: 'hwc', label: true });
    model = sampleFromFiles(files, { size: PADDED_SIZE, resize: modelSize === PADDED_SIZE ? undefined : modelSize, layout: 'hwc', label: true });
  } catch (e) {
    // the data set's messages name the file; say it in the user's terms
    throw new InputFileError((e as Error).message, { cause: e });
  }
  const ref = decoded.t1n;
  return {
    width: native.width, height: native.height, native: native.image, model: model.image,
    ...(native.label ? { nativeLabel: native.label } : {}),
    ...(model.label ? { modelLabel: model.label } : {}),
    ...(native.burden !== undefined ? { burden: native.burden } : {}),
    affine: ref.affine, spacing: [ref.spacing[0] ?? 1, ref.spacing[1] ?? 1],
    files: { ...info.files, ...(seg ? { seg: seg.name } : {}) },
  };
}
