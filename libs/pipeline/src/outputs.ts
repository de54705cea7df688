/**
 * Writing predictions: NIfTI files named as in the BraTS slice layout, with the input's
 * affine and spacing, and PNG previews (all written atomically).
 */
import path from 'node:path';
import { MODALITIES } from '@tumorcast/dataset';
import { saveNifti } from '@tumorcast/nifti/node';
import { colorize, drawOutline, encodePng, niceCeil, overlayColormap, tileImages, writeFileAtomicSync } from '@tumorcast/cli';
import type { PngImage, Rgb } from '@tumorcast/cli';
import type { PredictionSlice } from './slices.js';
import { channelOf } from './geometry.js';

/**
 * Writes the predicted follow-up: one NIfTI per modality, `<dataset>_pred_<pid>_<mod>_<slice>_w.nii.gz`,
 * with the input's affine and spacing.
 *
 * @param dir - the folder.
 * @param slice - the baseline slice (names and geometry).
 * @param image - the follow-up, HWC at the slice's native size.
 * @param dataset - the file names' prefix.
 * @defaultValue dataset 'tumorcast'
 * @returns the files written, in channel order.
 */
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

/**
 * Writes a single-channel map (e.g. the growth probability) as NIfTI with the input's geometry.
 *
 * @param file - the file.
 * @param slice - the baseline slice (geometry).
 * @param map - HW values.
 */
export async function writeMapNifti(file: string, slice: PredictionSlice, map: ArrayLike<number>): Promise<void> {
  await saveNifti(file, { shape: [slice.width, slice.height], data: map, affine: slice.affine, spacing: slice.spacing });
}

/**
 * The four channels of an HWC image as gray PNG images.
 *
 * @param img - the image (HWC, 4 channels).
 * @param width - width.
 * @param height - height.
 */
export function channelImages(img: Float32Array, width: number, height: number): PngImage[] {
  return [0, 1, 2, 3].map((c) => ({ width, height, data: channelOf(img, 4, c) }));
}

/** Outline colours of the tumour masks drawn over the probability map (PNG and report alike). */
export const OUTLINE_COLORS: { readonly baseline: Rgb; readonly truth: Rgb } = { baseline: [0, 200, 255], truth: [40, 210, 70] };

/** A signed difference image with its colour scale. */
export interface DifferenceView {
  /** (a - b) averaged over the 4 channels, HW. */
  values: Float32Array;
  /** The values coloured blue (negative) - neutral (0) - red (positive) over [-limit, +limit]. */
  image: PngImage;
  /** The colour scale's end: a "nice" value at or above `maxAbs` (0.01 when nothing changed). */
  limit: number;
  /** The largest |a - b| of any pixel and channel. */
  maxAbs: number;
}

function checkHwc(name: string, img: Float32Array, width: number, height: number, fn: string): void {
  if (img.length !== width * height * 4) throw new RangeError(`'${name}' passed to '${fn}' has ${img.length} values, expected ${width}x${height}x4`);
}

/**
 * The signed change `a - b` (e.g. predicted follow-up minus baseline, both HWC
 * in [0, 1]) averaged over the 4 channels, coloured on a symmetric diverging
 * scale: brighter in `a` is red, darker is blue, unchanged is neutral.
 *
 * @param a - HWC image in [0, 1].
 * @param b - HWC image in [0, 1].
 * @param width - width.
 * @param height - height.
 */
export function differenceView(a: Float32Array, b: Float32Array, width: number, height: number): DifferenceView {
  checkHwc('a', a, width, height, 'differenceView');
  checkHwc('b', b, width, height, 'differenceView');
  const values = new Float32Array(width * height);
  let maxAbs = 0;
  let maxMean = 0;
  for (let p = 0; p < values.length; p++) {
    let s = 0;
    for (let c = 0; c < 4; c++) {
      const d = (a[p * 4 + c] as number) - (b[p * 4 + c] as number);
      s += d;
      maxAbs = Math.max(maxAbs, Math.abs(d));
    }
    values[p] = s / 4;
    maxMean = Math.max(maxMean, Math.abs(s / 4));
  }
  const limit = niceCeil(maxMean, 0.01);
  return { values, image: colorize(values, width, height, { min: -limit, max: limit }), limit, maxAbs };
}

/**
 * The signed difference image of {@link differenceView} (for previews).
 *
 * @param a - HWC image.
 * @param b - HWC image.
 * @param width - width.
 * @param height - height.
 */
export function differenceImage(a: Float32Array, b: Float32Array, width: number, height: number): PngImage {
  return differenceView(a, b, width, height).image;
}

/**
 * The growth probability over the baseline FLAIR: pixels with p > 0 coloured
 * by p (yellow at low, dark red at 1; see `SEQUENTIAL_YELLOW_RED` of
 * @tumorcast/cli), with optional mask outlines drawn on top.
 *
 * @param baseline - the baseline scan, HWC (channel 3 is FLAIR).
 * @param probability - HW values in [0, 1].
 * @param width - width.
 * @param height - height.
 * @param outlines - masks (HW, 0/1) to outline, with their colours, e.g. the baseline tumour in `OUTLINE_COLORS.baseline`.
 * @defaultValue outlines []
 */
export function probabilityOverlay(
  baseline: Float32Array, probability: ArrayLike<number>, width: number, height: number, outlines: readonly { mask: ArrayLike<number>; color: Rgb }[] = [],
): PngImage {
  checkHwc('baseline', baseline, width, height, 'probabilityOverlay');
  let img = overlayColormap({ width, height, data: channelOf(baseline, 4, 3) }, probability, { alpha: 0.85 });
  for (const o of outlines) img = drawOutline(img, o.mask, o.color);
  return img;
}

/**
 * Writes a PNG (atomically).
 *
 * @param file - the file.
 * @param image - the image.
 */
export function writePng(file: string, image: PngImage): void {
  writeFileAtomicSync(file, encodePng(image));
}

/**
 * A preview grid: rows baseline, predicted follow-up (and the real one), 4
 * channels each, plus the signed difference and the probability map (with
 * the baseline tumour's outline when the slice has a label).
 *
 * @param slice - the baseline slice.
 * @param followup - the predicted follow-up, HWC, native size.
 * @param probability - the growth probability, HW.
 * @param truth - the real follow-up (HWC), when known.
 */
export function previewGrid(
  slice: PredictionSlice, followup: Float32Array, probability: ArrayLike<number>, truth?: Float32Array,
): PngImage {
  const { width: w, height: h } = slice;
  const blank: PngImage = { width: w, height: h, data: new Float32Array(w * h) };
  const rows: PngImage[] = [
    ...channelImages(slice.native, w, h), differenceImage(followup, slice.native, w, h),
    ...channelImages(followup, w, h),
    probabilityOverlay(slice.native, probability, w, h, slice.nativeLabel ? [{ mask: slice.nativeLabel, color: OUTLINE_COLORS.baseline }] : []),
  ];
  if (truth) rows.push(...channelImages(truth, w, h), blank);
  return tileImages(rows, 5, 2);
}
