/**
 * Metrics of a prediction against the real follow-up (docs/method.md section 7):
 * MSE, PSNR and SSIM (mean over the four channels; over the whole slice and
 * within the brain mask), Dice and HD95 (mm) of the tumour masks, and the
 * probability map's Dice/HD95 at thresholds and Brier score. The unchanged
 * baseline is scored the same way, as the reference a prediction must beat.
 */
import { dice, evaluateProbabilityMap, hausdorff95, mse, psnr, ssim } from '@tumorcast/metrics';
import type { Grid } from '@tumorcast/metrics';

/** The real follow-up of a slice. */
export interface FollowupTruth {
  /** HWC image in [0, 1] at the native size. */
  image: Float32Array;
  /** Tumour mask (seg > 0), HW. */
  label: Uint8Array;
}

/** Image and mask metrics of one image against the truth. */
export interface ImageScores {
  /** Mean squared error, whole slice, mean over channels. */
  mse: number;
  /** PSNR (data range 1), whole slice. */
  psnr: number;
  /** SSIM (Gaussian window, data range 1), mean over channels. */
  ssim: number;
  /** MSE within the brain mask (truth t2f != 0). */
  mseBrain: number;
  /** Dice of the tumour mask against the true follow-up tumour. */
  dice: number;
  /** HD95 in mm of the tumour mask (max of the two directed 95th percentiles). */
  hd95: number;
  /** Relative error of the tumour area: |area(mask) - area(true mask)| / area(true mask). */
  areaError: number;
}

/** Metrics of one slice. */
export interface SliceScores {
  /** Slice id. */
  id: string;
  /** The predicted follow-up. */
  predicted: ImageScores;
  /** The unchanged baseline (the reference to beat). */
  baseline: ImageScores;
  /** Growth probability map: Brier score and Dice/HD95 at thresholds. */
  map: { brier: number; thresholds: { threshold: number; dice: number; hd95: number }[] };
}

function count(m: Uint8Array): number {
  let n = 0;
  for (const v of m) if (v) n++;
  return n;
}

/**
 * Scores an image and its tumour mask against the truth.
 *
 * @param image - HWC image in [0, 1].
 * @param mask - its tumour mask (HW, 0/1).
 * @param truth - the real follow-up.
 * @param width - width.
 * @param height - height.
 * @param spacing - pixel spacing [x, y] in mm.
 */
export function scoreImage(image: Float32Array, mask: Uint8Array, truth: FollowupTruth, width: number, height: number, spacing: [number, number]): ImageScores {
  const shape3 = [height, width, 4];
  const a: Grid = { data: image, shape: shape3 };
  const b: Grid = { data: truth.image, shape: shape3 };
  const brain = new Uint8Array(width * height);
  for (let p = 0; p < brain.length; p++) brain[p] = (truth.image[p * 4 + 3] as number) !== 0 ? 1 : 0;
  const sp = [spacing[1], spacing[0]];
  const m: Grid = { data: mask, shape: [height, width], spacing: sp };
  const t: Grid = { data: truth.label, shape: [height, width], spacing: sp };
  return {
    mse: mse(a, b, { channelAxis: -1 }),
    psnr: psnr(a, b, { dataRange: 1, channelAxis: -1 }),
    ssim: ssim(a, b, { dataRange: 1, channelAxis: -1 }),
    mseBrain: mse(a, b, { channelAxis: -1, mask: { data: brain, shape: [height, width] } }),
    dice: dice(m, t),
    hd95: hausdorff95(m, t),
    areaError: Math.abs(count(mask) - count(truth.label)) / Math.max(1, count(truth.label)),
  };
}

/**
 * Scores a slice's prediction (and the unchanged baseline) against its real follow-up.
 *
 * @example
 * ```ts
 * const scores = scoreSlice(id, { image: p.followupNative, mask: p.followupMaskNative, probability: p.probabilityNative },
 *   { image: slice.native, mask: p.baselineMaskNative }, truth, slice.width, slice.height, slice.spacing);
 * scores.predicted.dice; scores.baseline.dice; scores.map.thresholds;
 * ```
 *
 * @param id - the slice id.
 * @param predicted - the predicted follow-up (HWC), its tumour mask and growth probability (HW), native size.
 * @param baseline - the baseline scan and its tumour mask.
 * @param truth - the real follow-up.
 * @param width - native width.
 * @param height - native height.
 * @param spacing - pixel spacing [x, y] in mm (for HD95).
 * @param thresholds - probability thresholds for the map's Dice and HD95.
 * @defaultValue thresholds [0.25, 0.5, 0.75]
 */
export function scoreSlice(
  id: string, predicted: { image: Float32Array; mask: Uint8Array; probability: Float32Array },
  baseline: { image: Float32Array; mask: Uint8Array }, truth: FollowupTruth, width: number, height: number, spacing: [number, number],
  thresholds: readonly number[] = [0.25, 0.5, 0.75],
): SliceScores {
  const sp = [spacing[1], spacing[0]];
  const ev = evaluateProbabilityMap(
    { data: predicted.probability, shape: [height, width], spacing: sp },
    { data: truth.label, shape: [height, width], spacing: sp },
    { thresholds },
  );
  return {
    id,
    predicted: scoreImage(predicted.image, predicted.mask, truth, width, height, spacing),
    baseline: scoreImage(baseline.image, baseline.mask, truth, width, height, spacing),
    map: { brier: ev.brier, thresholds: ev.thresholds.map((r) => ({ threshold: r.threshold, dice: r.dice, hd95: r.hd95 })) },
  };
}

const COLUMNS = ['mse', 'psnr', 'ssim', 'mseBrain', 'dice', 'hd95', 'areaError'] as const;

/** Per-slice rows plus a mean row, as CSV. */
export function scoresToCsv(scores: readonly SliceScores[]): string {
  const thresholds = scores[0]?.map.thresholds.map((t) => t.threshold) ?? [];
  const head = ['slice', ...COLUMNS.map((c) => `pred_${c}`), ...COLUMNS.map((c) => `base_${c}`), 'map_brier',
    ...thresholds.flatMap((t) => [`map_dice@${t}`, `map_hd95@${t}`])];
  const row = (s: SliceScores) => [s.id, ...COLUMNS.map((c) => s.predicted[c]), ...COLUMNS.map((c) => s.baseline[c]), s.map.brier,
    ...s.map.thresholds.flatMap((t) => [t.dice, t.hd95])];
  const rows = scores.map(row);
  {
    const mean = head.slice(1).map((_, j) => {
      const vals = rows.map((r) => r[j + 1] as number).filter(Number.isFinite);
      return vals.length ? vals.reduce((a, b) => a + b, 0) / vals.length : Number.NaN;
    });
    rows.push(['mean', ...mean]);
  }
  return [head.join(','), ...rows.map((r) => r.join(','))].join('\n') + '\n';
}

/** The mean metrics over slices (see {@link summarise}). */
export interface ScoreSummary {
  /** Mean of each {@link ImageScores} metric of the predicted follow-ups. */
  predicted: Record<string, number>;
  /** The same for the unchanged baselines. */
  baseline: Record<string, number>;
  /** Slices averaged. */
  slices: number;
}

/** Mean of each predicted/baseline metric over slices (finite values only). */
export function summarise(scores: readonly SliceScores[]): ScoreSummary {
  const mean = (get: (s: SliceScores) => number) => {
    const v = scores.map(get).filter(Number.isFinite);
    return v.length ? v.reduce((a, b) => a + b, 0) / v.length : Number.NaN;
  };
  const predicted: Record<string, number> = {};
  const baseline: Record<string, number> = {};
  for (const c of COLUMNS) {
    predicted[c] = mean((s) => s.predicted[c]);
    baseline[c] = mean((s) => s.baseline[c]);
  }
  return { predicted, baseline, slices: scores.length };
}
