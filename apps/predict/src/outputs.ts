/**
 * Writing predictions: NIfTI files in the seed's naming with the input's
 * affine and spacing, and PNG previews (all written atomically).
 */
import path from 'node:path';
import { saveNifti, MODALITIES } from '@tumorcast/nifti';
import { encodePng, overlay, tileImages, writeFileAtomicSync } from '@tumorcast/cli';
import type { PngImage } from '@tumorcast/cli';
import type { PredictionSlice } from './slices.js';
import { channelOf } from './slices.js';

/** Writes the predicted follow-up: one NIfTI per modality, `<dataset>_pred_<pid>_<mod>_<slice>_w.nii.gz`. */
export async function writeFollowupNifti(dir: string, slice: PredictionSlice, image: Float32Array, dataset = 'tumorcast'): Promise<string[]> {
  const files: string[] = [];
  for (let c = 0; c < MODALITIES.length; c++) {
    const f = path.join(dir, `${dataset}_pred_${slice.info.patientId}_${MODALITIES[c]}_${slice.info.slice}_w.nii.gz`);
    // HW row-major with rows = NIfTI j and columns = NIfTI i is exactly NIfTI's x-fastest order.
    await saveNifti(f, { shape: [slice.width, slice.height], data: channelOf(image, 4, c), affine: slice.affine, spacing: slice.spacing });
    files.push(f);
  }
  return files;
}

/** Writes a single-channel map (e.g. the growth probability) as NIfTI with the input's geometry. */
export async function writeMapNifti(file: string, slice: PredictionSlice, map: ArrayLike<number>): Promise<void> {
  await saveNifti(file, { shape: [slice.width, slice.height], data: map, affine: slice.affine, spacing: slice.spacing });
}

/** The four channels of an HWC image as gray PNG images. */
export function channelImages(img: Float32Array, width: number, height: number): PngImage[] {
  return [0, 1, 2, 3].map((c) => ({ width, height, data: channelOf(img, 4, c) }));
}

/** |a - b| averaged over channels, scaled so that 0.25 is white. */
export function differenceImage(a: Float32Array, b: Float32Array, width: number, height: number): PngImage {
  const d = new Float32Array(width * height);
  for (let p = 0; p < d.length; p++) {
    let s = 0;
    for (let c = 0; c < 4; c++) s += Math.abs((a[p * 4 + c] as number) - (b[p * 4 + c] as number));
    d[p] = Math.min(1, s / 4 / 0.25);
  }
  return { width, height, data: d };
}

/** Probability map over the baseline FLAIR (red), as an image. */
export function probabilityOverlay(baseline: Float32Array, probability: ArrayLike<number>, width: number, height: number): PngImage {
  return overlay({ width, height, data: channelOf(baseline, 4, 3) }, probability, [255, 40, 40], 0.8);
}

/** Writes a PNG. */
export function writePng(file: string, image: PngImage): void {
  writeFileAtomicSync(file, encodePng(image));
}

/** A preview grid: rows baseline, predicted follow-up (and the real one), 4 channels each, plus difference and map. */
export function previewGrid(
  slice: PredictionSlice, followup: Float32Array, probability: ArrayLike<number>, truth?: Float32Array,
): PngImage {
  const { width: w, height: h } = slice;
  const blank: PngImage = { width: w, height: h, data: new Float32Array(w * h) };
  const rows: PngImage[] = [
    ...channelImages(slice.native, w, h), differenceImage(followup, slice.native, w, h),
    ...channelImages(followup, w, h), probabilityOverlay(slice.native, probability, w, h),
  ];
  if (truth) rows.push(...channelImages(truth, w, h), blank);
  return tileImages(rows, 5, 2);
}
