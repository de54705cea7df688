/**
 * A phantom patient: one anatomy, one tumour shape, a tumour-size series
 * that follows the two-phase growth model with radiotherapy, and the scans
 * (one {@link PhantomSlice} per slice and time point).
 */
import { Rng, type Seed } from '@tumorcast/random';
import { DEFAULT_TWO_PHASE_PARAMS, RT_COURSE_DAYS, checkTwoPhaseParams, twoPhaseSize, type TwoPhaseParams } from './growth.js';
import { generatePhantomSlice, type PhantomSlice, type PhantomSliceOptions } from './slice.js';
import { checkInt, checkNumber, checkOptions, checkSeed } from './validate.js';

const M = Math;

/** Rendering options passed through to {@link generatePhantomSlice}. */
export type PhantomRenderOptions = Pick<PhantomSliceOptions, 'width' | 'height' | 'pixelSpacing' | 'skull' | 'noiseStd' | 'tumour'>;

/** Options of {@link generatePhantomPatient}. */
export interface PhantomPatientOptions {
  /**
   * Patient seed: anatomy, tumour shape, measurement noise and scan noise derive from it.
   * @defaultValue 0
   */
  seed?: Seed;
  /**
   * Patient identifier used in file names (BraTS style: 5-digit subject +
   * 3-digit time point).
   * @defaultValue `'90000000'`
   */
  patientId?: string;
  /**
   * Scan days, strictly increasing, the first one >= 0 (day 0 is where the
   * model starts from `initialSize`).
   * @defaultValue [0, 21, 90, 150, 210]
   */
  days?: number[];
  /**
   * Last day of radiotherapy; RT starts 42 days earlier (docs/method.md section 6).
   * @defaultValue 63
   */
  rtEndDay?: number;
  /**
   * Two-phase model parameters (missing fields from the defaults).
   * @defaultValue {@link DEFAULT_TWO_PHASE_PARAMS}
   */
  params?: Partial<TwoPhaseParams>;
  /**
   * Whole-tumour area at day 0 in the tumour's central slice, mm^2.
   * @defaultValue 600
   */
  initialSize?: number;
  /**
   * Relative std of multiplicative measurement noise on the rendered sizes
   * (`size * (1 + N(0, measurementNoise))`, clamped at 0); 0 for exact model sizes.
   * @defaultValue 0
   */
  measurementNoise?: number;
  /**
   * Slice indices (BraTS-like axial index, 1 mm apart); the anatomy changes
   * with the distance from slice 80 (the level of the lateral ventricles).
   * @defaultValue [80]
   */
  sliceIds?: number[];
  /**
   * Slice index of the tumour's centre; a slice `k` slices away shows a cross
   * section scaled by `max(0.15, 1 - (k / tumourHalfHeight)^2)`.
   * @defaultValue the middle of `sliceIds`
   */
  tumourCentreSlice?: number;
  /**
   * Tumour half height in slices, for the per-slice scale above.
   * @defaultValue 12
   */
  tumourHalfHeight?: number;
  /**
   * Index into `days` of the baseline scan.
   * @defaultValue `days.length - 2`
   */
  baselineIndex?: number;
  /**
   * Index into `days` of the follow-up scan (> baselineIndex).
   * @defaultValue `days.length - 1`
   */
  followupIndex?: number;
  /**
   * Which time points to render: all, only baseline and follow-up, or none
   * (sizes only).
   * @defaultValue 'all'
   */
  render?: 'all' | 'baseline-followup' | 'none';
  /**
   * Passed to {@link generatePhantomSlice} (size and seeds are set per scan).
   * @defaultValue {}
   */
  slice?: PhantomRenderOptions;
}

/** One slice of a {@link PhantomPatient}: its size series and scans. */
export interface PhantomPatientSlice {
  /** Slice index. */
  sliceId: number;
  /** Cross-section scale of this slice relative to the tumour's central slice. */
  weight: number;
  /** Noise-free model size per day, mm^2 (`weight * initialSize * model`). */
  modelSizes: number[];
  /** Rendered (observed) whole-tumour area per day, mm^2: model size with measurement noise, rounded to whole pixels. */
  sizes: number[];
  /** Tumour burden `count(seg > 0) / count(t2f != 0)` per day (`NaN` for days not rendered). */
  burdens: number[];
  /** The scan per day; `undefined` for days not rendered (see `render`). */
  scans: (PhantomSlice | undefined)[];
}

/** A generated patient (see {@link generatePhantomPatient}). */
export interface PhantomPatient {
  /** Identifier used in file names. */
  patientId: string;
  /** Scan days. */
  days: number[];
  /** Last RT day. */
  rtEndDay: number;
  /** First RT day (`rtEndDay - 42`), the model's `t_RT`. */
  rtStartDay: number;
  /** The model parameters used. */
  params: TwoPhaseParams;
  /** Day-0 size in the central slice, mm^2. */
  initialSize: number;
  /** Index of the baseline day. */
  baselineIndex: number;
  /** Index of the follow-up day. */
  followupIndex: number;
  /** Per-slice series and scans. */
  slices: PhantomPatientSlice[];
}

const FN = 'generatePhantomPatient';

/**
 * Generates a phantom patient whose tumour size follows the two-phase
 * growth model with RT (docs/method.md section 6, closed form) at the given
 * days, and renders the scans. All slices and days share the anatomy and
 * the tumour shape; only the tumour size and the acquisition noise change,
 * so baseline and follow-up differ by tumour growth alone.
 *
 * @param options - see {@link PhantomPatientOptions}.
 * @returns the patient; sizes are in mm^2.
 * @throws RangeError naming the option when an option is invalid.
 *
 * @example
 * ```ts
 * const p = generatePhantomPatient({ seed: 3, render: 'baseline-followup' });
 * const s = p.slices[0];
 * s.sizes;                                        // one area per day
 * s.scans[p.baselineIndex]?.modalities.t2f;       // the baseline FLAIR
 * ```
 */
export function generatePhantomPatient(options?: PhantomPatientOptions): PhantomPatient {
  const o = checkOptions(FN, 'options', options);
  const seed = checkSeed(FN, 'seed', o.seed ?? 0);
  const patientId = o.patientId ?? '90000000';
  if (typeof patientId !== 'string' || !/^[A-Za-z0-9-]+$/.test(patientId)) {
    throw new RangeError(`'patientId' passed to '${FN}' must be a non-empty string of letters, digits and '-', got ${String(patientId)}`);
  }
  const days = o.days ?? [0, 21, 90, 150, 210];
  if (!Array.isArray(days) || days.length < 2) throw new RangeError(`'days' passed to '${FN}' must be an array of at least 2 days`);
  days.forEach((d, i) => {
    checkNumber(FN, `days[${i}]`, d, 0, 1e5);
    if (i > 0 && !(d > days[i - 1]!)) throw new RangeError(`'days' passed to '${FN}' must be strictly increasing, got ${days.join(', ')}`);
  });
  const rtEndDay = checkNumber(FN, 'rtEndDay', o.rtEndDay ?? 63, -1e5, 1e5);
  const rtStartDay = rtEndDay - RT_COURSE_DAYS;
  const params = checkTwoPhaseParams(FN, { ...DEFAULT_TWO_PHASE_PARAMS, ...checkOptions(FN, 'params', o.params) });
  const initialSize = checkNumber(FN, 'initialSize', o.initialSize ?? 600, 0, 1e6);
  const measurementNoise = checkNumber(FN, 'measurementNoise', o.measurementNoise ?? 0, 0, 1);
  const sliceIds = o.sliceIds ?? [80];
  if (!Array.isArray(sliceIds) || sliceIds.length === 0) throw new RangeError(`'sliceIds' passed to '${FN}' must be a non-empty array of integers`);
  sliceIds.forEach((s, i) => checkInt(FN, `sliceIds[${i}]`, s, 0, 1000));
  if (new Set(sliceIds).size !== sliceIds.length) throw new RangeError(`'sliceIds' passed to '${FN}' must not repeat, got ${sliceIds.join(', ')}`);
  const sortedIds = [...sliceIds].sort((a, b) => a - b);
  const tumourCentreSlice = checkNumber(FN, 'tumourCentreSlice', o.tumourCentreSlice ?? sortedIds[M.floor((sortedIds.length - 1) / 2)]!, 0, 1000);
  const tumourHalfHeight = checkNumber(FN, 'tumourHalfHeight', o.tumourHalfHeight ?? 12, 1, 1000);
  const baselineIndex = checkInt(FN, 'baselineIndex', o.baselineIndex ?? days.length - 2, 0, days.length - 2);
  const followupIndex = checkInt(FN, 'followupIndex', o.followupIndex ?? days.length - 1, baselineIndex + 1, days.length - 1);
  const render = o.render ?? 'all';
  if (render !== 'all' && render !== 'baseline-followup' && render !== 'none') {
    throw new RangeError(`'render' passed to '${FN}' must be 'all', 'baseline-followup' or 'none', got ${String(render)}`);
  }
  const sliceOpts = checkOptions(FN, 'slice', o.slice);
  // Resolve the pixel spacing once, for rounding sizes to whole pixels.
  const width = sliceOpts.width ?? 240;
  const sp = sliceOpts.pixelSpacing ?? 240 / width;

  const root = new Rng(seed);
  const anatomySeed = root.fork('anatomy').seedInt();
  const tumourSeed = root.fork('tumour').seedInt();
  const noiseRng = root.fork('measurement');
  const scanBase = root.fork('scans').seedInt();

  const slices: PhantomPatientSlice[] = sliceIds.map((sliceId) => {
    const k = (sliceId - tumourCentreSlice) / tumourHalfHeight;
    const weight = M.max(0.15, 1 - k * k);
    const modelSizes = days.map((d) => weight * twoPhaseSize(d, initialSize, rtStartDay, params));
    const sizes = modelSizes.map((s) => {
      const noisy = measurementNoise > 0 ? M.max(0, s * (1 + noiseRng.normal(0, measurementNoise))) : s;
      return M.round(noisy / (sp * sp)) * sp * sp;
    });
    const scans = days.map((_, t) => {
      const wanted = render === 'all' || (render === 'baseline-followup' && (t === baselineIndex || t === followupIndex));
      if (!wanted) return undefined;
      return generatePhantomSlice({
        ...sliceOpts,
        seed: anatomySeed,
        tumourSeed,
        scanSeed: `${scanBase}:${sliceId}:${t}`,
        size: sizes[t]!,
        sliceOffset: M.max(-80, M.min(80, sliceId - 80)),
      });
    });
    return { sliceId, weight, modelSizes, sizes, burdens: scans.map((s) => (s ? s.burden : NaN)), scans };
  });
  return { patientId, days: [...days], rtEndDay, rtStartDay, params, initialSize, baselineIndex, followupIndex, slices };
}
