/**
 * What the user downloads: the predicted follow-up, the difference and the
 * probability map as NIfTI files in the baseline's geometry, and the
 * numbers as CSV and JSON.
 */
import { writeNifti } from '@tumorcast/nifti';
import { channelOf } from '@tumorcast/pipeline';
import type { BaselineSlice } from './slice.js';
import type { GrowthPrediction } from './growth.js';

/** The prediction's images in the baseline's geometry (HW planes, x fastest as in the input files). */
export interface PredictionImages {
  /** Predicted follow-up, HWC (t1n, t1c, t2w, t2f), [0, 1]. */
  followup: Float32Array;
  /** Growth probability map, HW, [0, 1]. */
  probability: Float32Array;
  /** Tumour mask of the predicted follow-up, HW, 0/1. */
  followupMask: Uint8Array;
  /** Baseline tumour mask, HW, 0/1. */
  baselineMask: Uint8Array;
}

/** The numbers of one prediction. */
export interface PredictionNumbers {
  /** The growth prediction (days, sizes, relative change and band). */
  growth: GrowthPrediction;
  /** Baseline tumour burden r0. */
  baselineBurden: number;
  /** Where r0 came from ('label' or the segmenter). */
  baselineBurdenSource: string;
  /** Target burden r* = r0 (1 + d). */
  targetBurden: number;
  /** The guiding network's burden of the generated follow-up (the regressor's, or the segmenter's with `settings.guidance` 'segmenter'). */
  predictedBurden: number;
  /** Tumour pixels of the baseline and predicted follow-up masks. */
  baselineTumourPixels: number;
  /** Tumour pixels of the predicted follow-up's mask. */
  followupTumourPixels: number;
  /** The sampling settings used. */
  settings: Record<string, unknown>;
  /** The compute backend used. */
  backend: string;
}

/** One channel name per index of the HWC images. */
export const CHANNELS = ['t1n', 't1c', 't2w', 't2f'] as const;

/**
 * A 2-D plane as a NIfTI file with the baseline's geometry.
 *
 * @param base - the baseline (affine and size).
 * @param plane - `width * height` values, x fastest.
 * @param description - the header's description.
 */
export function planeToNifti(base: Pick<BaselineSlice, 'width' | 'height' | 'affine'>, plane: ArrayLike<number>, description: string): Uint8Array {
  if (plane.length !== base.width * base.height) {
    throw new RangeError(`'plane' passed to 'planeToNifti' has ${plane.length} values, expected ${base.width}x${base.height}`);
  }
  return writeNifti({ shape: [base.width, base.height], data: plane, affine: base.affine, header: { descrip: description.slice(0, 79) } }, { gzip: true });
}

/**
 * The four output volumes of a prediction, as NIfTI bytes: one channel of
 * the baseline, the same channel of the predicted follow-up, their
 * difference, and the probability map.
 *
 * @param base - the baseline.
 * @param images - the prediction.
 * @param channel - which modality (0-3, t1n t1c t2w t2f).
 */
export function outputVolumes(base: BaselineSlice, images: PredictionImages, channel: number): Record<'baseline' | 'followup' | 'difference' | 'probability', Uint8Array> {
  if (!Number.isInteger(channel) || channel < 0 || channel > 3) throw new RangeError(`'channel' passed to 'outputVolumes' must be 0-3, got ${channel}`);
  const name = CHANNELS[channel]!;
  const b = channelOf(base.native, 4, channel);
  const f = channelOf(images.followup, 4, channel);
  const d = new Float32Array(b.length);
  for (let i = 0; i < d.length; i++) d[i] = f[i]! - b[i]!;
  return {
    baseline: planeToNifti(base, b, `tumorcast baseline ${name}`),
    followup: planeToNifti(base, f, `tumorcast predicted follow-up ${name}`),
    difference: planeToNifti(base, d, `tumorcast follow-up minus baseline ${name}`),
    probability: planeToNifti(base, images.probability, 'tumorcast growth probability map'),
  };
}

/**
 * The numbers as a JSON document. Numbers JSON cannot hold (a gradient margin
 * of Infinity: everywhere) are written as strings ("Infinity"), not null.
 */
export function numbersToJson(n: PredictionNumbers): string {
  return `${JSON.stringify(n, (_, v) => (typeof v === 'number' && !Number.isFinite(v) ? String(v) : v), 2)}\n`;
}

/** The numbers as a two-column CSV (`quantity,value`). */
export function numbersToCsv(n: PredictionNumbers): string {
  const g = n.growth;
  const rows: [string, string | number][] = [
    ['baseline_day', g.baselineDay], ['followup_day', g.followupDay],
    ['size_baseline', g.sizeBaseline], ['size_followup', g.sizeFollowup],
    ['relative_change', g.relativeChange], ['relative_change_p5', g.relativeChangeBand[0]], ['relative_change_p95', g.relativeChangeBand[1]],
    ['baseline_burden', n.baselineBurden], ['baseline_burden_source', n.baselineBurdenSource], ['target_burden', n.targetBurden],
    ['predicted_burden', n.predictedBurden], ['baseline_tumour_pixels', n.baselineTumourPixels], ['followup_tumour_pixels', n.followupTumourPixels],
    ['backend', n.backend],
    ...Object.entries(n.settings).map(([k, v]) => [`settings.${k}`, String(v)] as [string, string]),
  ];
  const cell = (v: string | number) => (typeof v === 'number' ? String(v) : /[",\n]/.test(v) ? `"${v.replace(/"/g, '""')}"` : v);
  return `quantity,value\n${rows.map(([k, v]) => `${k},${cell(v)}`).join('\n')}\n`;
}
