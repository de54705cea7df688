/**
 * Tuning the guidance for a pair of networks: guided samples of held-out
 * slices over a grid of noise levels, guidance scales and respacings
 * (decoding steps), and the segmented tumour of each result scored against
 * the target burden and, when known, the real follow-up (area error, Dice)
 * beside the unchanged baseline. The regressor steers by its own reading;
 * what the method promises is the segmented tumour, so that is what is
 * scored. Also reads the regressor's accuracy on noised scans per timestep
 * bucket (`tune-regressor.ts`).
 */
import fs from 'node:fs';
import path from 'node:path';
import * as tf from '@tensorflow/tfjs';
import { toModelRange } from '@tumorcast/diffusion';
import { writeFileAtomicSync } from '@tumorcast/cli';
import { dice } from '@tumorcast/metrics';
import type { SliceSampleInfo } from '@tumorcast/dataset';
import { PipelineDataError, PipelineInputError, apiOptionName } from './errors.js';
import type { OptionNamer } from './errors.js';
import { loadModels } from './models.js';
import type { ModelPaths } from './models.js';
import type { PredictionNetworks } from './networks.js';
import { segmenterOf, segmenterReading } from './networks.js';
import { DEFAULT_SAMPLE_SETTINGS, GUIDANCE_NETWORKS, checkSettingsFit, gradientShaping, samplingDiffusion } from './settings.js';
import { learnedSegmenter, loadSegmenter } from '@tumorcast/segmenter';
import type { SegmenterNet } from '@tumorcast/segmenter';
import type { SampleSettings } from './settings.js';
import { listPredictionSlices, loadPredictionSlice } from './slices.js';
import type { PredictionSlice } from './slices.js';
import { brainCount, predictSlice, regressorBaselineReading } from './predict.js';
import { maskToNative } from './geometry.js';
import { findTruth, loadTruth } from './truth.js';
import type { FollowupTruth } from './evaluate.js';
import { resolveTargets } from './targets.js';
import type { TargetSource } from './targets.js';
import { REGRESSOR_NOISE_EDGES, regressorNoiseAccuracy, regressorNoiseCsv } from './tune-regressor.js';
import type { RegressorNoiseBucket } from './tune-regressor.js';

/**
 * Where the tuning's relative changes come from: a {@link TargetSource}, or
 * `{ kind: 'truth' }`, the true change of each slice (the real follow-up's
 * burden over the baseline label's, minus 1), which scores the guidance
 * alone, without the growth model's error.
 */
export type TuneTargetSource = TargetSource | { kind: 'truth' };

/** Options of {@link tuneGuidance}. */
export interface TuneOptions {
  /** Data root in the BraTS slice layout (held-out slices, not used to train the networks). */
  data: string;
  /** Output folder (created when missing): tune.csv, tune-summary.csv, tune.json, tune.md, regressor-noise.csv. */
  out: string;
  /** The network files. */
  models: ModelPaths;
  /**
   * Real follow-ups (a folder of `<pid>_<slice>/` folders, or a data root with labels in `test_labels/`): scores Dice and area error against them.
   * @defaultValue undefined (only the target burden is scored)
   */
  truth?: string;
  /** Where the relative changes come from (see {@link TuneTargetSource}; `'truth'` needs {@link TuneOptions.truth}). */
  targets: TuneTargetSource;
  /**
   * Noise levels L to try (original timesteps).
   * @defaultValue [100, 200, 300]
   */
  noiseLevels?: number[];
  /**
   * Guidance scales s to try.
   * @defaultValue [50000, 200000, 800000]
   */
  scales?: number[];
  /**
   * Respacings to try (they set the number of decoding steps below L: 'ddim100' runs L / 10).
   * @defaultValue [DEFAULT_SAMPLE_SETTINGS.respacing]
   */
  respacings?: string[];
  /**
   * Where the r0 of the guidance's target r0 (1 + d) comes from, tried in
   * turn as `SampleSettings.baselineBurden`: `'label'` (the baseline's
   * label) or `'regressor'` (the regressor's own reading of the unchanged
   * baseline at t = 0: the target is then in the regressor's scale, so that
   * a bias of its readings does not eat the requested change). Scores always
   * use the label's r0 (1 + d).
   * @defaultValue ['label']
   */
  baselineBurdens?: ('label' | 'regressor')[];
  /**
   * The guiding networks to try in turn as `SampleSettings.guidance`:
   * `'regressor'` (the paper's) and/or `'segmenter'` (the learned
   * segmenter's soft burden of the denoised estimate; needs `models.segmenter`).
   * @defaultValue ['regressor']
   */
  guidances?: SampleSettings['guidance'][];
  /**
   * The gradient temperatures to try in turn as
   * `SampleSettings.gradientTemperature` (finite, > 0), with guidance
   * 'segmenter' only: the regressor's guidance has no temperature, so it runs
   * once (at 1) whatever this list holds.
   * @defaultValue [1]
   */
  gradientTemperatures?: number[];
  /**
   * The gradient margins to try in turn as
   * `SampleSettings.gradientMarginPixels` (integers >= 0, or Infinity for
   * the gradient everywhere), each with every gradient temperature, with
   * guidance 'segmenter' only: the regressor's guidance has no margin, so it
   * runs once (everywhere) whatever this list holds.
   * @defaultValue [Infinity]
   */
  gradientMargins?: number[];
  /**
   * A learned segmenter's weights to score the results with, in place of
   * `models.segmenter`: with guidance 'segmenter' the guiding segmenter would
   * score its own work (a result can satisfy it without showing the tumour
   * to another reader); a segmenter trained apart (another seed or data)
   * keeps the scores honest.
   * @defaultValue undefined (`models.segmenter`, or the FLAIR segmenter without one)
   */
  scoringSegmenter?: string;
  /**
   * The other sampling settings (seed, eta, ...); `noiseLevel`, `scale`, `respacing`, `baselineBurden`, `guidance`, `gradientTemperature`, `gradientMarginPixels` and `samples` are the grid's.
   * @defaultValue DEFAULT_SAMPLE_SETTINGS
   */
  settings?: Partial<SampleSettings>;
  /**
   * Only these slice ids.
   * @defaultValue undefined (every slice of `data`)
   */
  slices?: string[];
  /**
   * Read the regressor's accuracy on noised scans (baselines and real follow-ups) per timestep bucket first.
   * @defaultValue true
   */
  regressorCheck?: boolean;
  /** Receives log lines. @defaultValue none */
  log?: (message: string) => void;
  /** How messages name the options. @defaultValue apiOptionName */
  names?: OptionNamer;
}

/** One guided sample of the tuning grid. */
export interface TuneRow {
  /** Noise level L. */
  noiseLevel: number;
  /** Guidance scale s. */
  scale: number;
  /** Respacing. */
  respacing: string;
  /** Decoding steps run. */
  steps: number;
  /** Where the guidance's r0 came from (see {@link TuneOptions.baselineBurdens}). */
  baselineFrom: 'label' | 'regressor';
  /** The guiding network (see {@link TuneOptions.guidances}). @defaultValue 'regressor' */
  guidance?: SampleSettings['guidance'];
  /** The segmenter guidance's gradient temperature (see {@link TuneOptions.gradientTemperatures}; 1 with the regressor's). @defaultValue 1 */
  gradientTemperature?: number;
  /**
   * The segmenter guidance's gradient margin in pixels (see
   * {@link TuneOptions.gradientMargins}; Infinity, everywhere, with the
   * regressor's). In the CSVs Infinity is written `inf`.
   * @defaultValue Infinity
   */
  gradientMarginPixels?: number;
  /** Slice id. */
  id: string;
  /** Relative change d. */
  relativeChange: number;
  /** Baseline burden r0 (the label's). */
  baselineBurden: number;
  /** Target burden r* = r0 (1 + d), r0 the label's. */
  targetBurden: number;
  /** The regressor's reading of the unchanged baseline (t = 0): its bias against r0 is what it sees as change before any. */
  regressorBaselineBurden: number;
  /** The target the guidance steered the guiding network to (r*, or that network's reading of the baseline times 1 + d: the regressor's, or the segmenter's with guidance 'segmenter'). */
  guidedTarget: number;
  /** The guiding network's reading of the result (t = 0): the regressor's, or the segmenter's soft burden with guidance 'segmenter' (the column keeps its name). */
  regressorBurden: number;
  /** The segmenter's burden of the unchanged baseline (what the result's burden moves from). */
  segmentedBaselineBurden: number;
  /** The segmenter's burden of the result (its mask over the baseline's brain pixels, input geometry). */
  segmentedBurden: number;
  /** |segmentedBurden - targetBurden| / targetBurden (NaN for a target of 0). */
  targetError: number;
  /** (segmentedBurden - segmentedBaselineBurden) / (targetBurden - segmentedBaselineBurden): 1 is the whole way to the target, 0 not moved (NaN when the target equals the segmented baseline). */
  moved: number;
  /** The largest |result - baseline| of any pixel and channel ([0, 1] intensities). */
  maxChange: number;
  /** The real follow-up's burden, when known. */
  trueBurden?: number;
  /** Dice of the result's tumour mask against the real follow-up's. */
  dice?: number;
  /** |area(result mask) - area(true mask)| / area(true mask). */
  areaError?: number;
  /** Dice of the baseline label against the real follow-up's (the unchanged baseline). */
  baselineDice?: number;
  /** Area error of the baseline label. */
  baselineAreaError?: number;
  /** Dice of the segmenter's mask of the unchanged baseline against the real follow-up's: what the segmenter alone scores without any change. */
  segmentedBaselineDice?: number;
  /** Area error of the segmenter's mask of the unchanged baseline. */
  segmentedBaselineAreaError?: number;
  /**
   * Dice of the segmenter's mask of the real follow-up scan against the real
   * follow-up's label (segmented as a prediction is): what a prediction
   * identical to the real follow-up would score, the ceiling this segmenter
   * sets.
   */
  segmentedFollowupDice?: number;
  /** Area error of the segmenter's mask of the real follow-up scan. */
  segmentedFollowupAreaError?: number;
  /**
   * Dice of the real follow-up's label brought to the networks' grid as a
   * binary label (padded, area-averaged, >= 0.5) and back (bilinear,
   * >= 0.5) against itself: what a prediction that reproduces that binary
   * label scores, the cost of a binary grid (1 when the grid is the native
   * one, e.g. 256 for 240x240 slices). Not a bound: a segmenter's
   * probabilities (above all one trained on the fraction of each pixel that
   * is tumour) can place a border between grid pixels and beat it.
   */
  gridFollowupDice?: number;
  /** Area error of that grid round trip of the real follow-up's label. */
  gridFollowupAreaError?: number;
  /**
   * Dice of the label moved by what the segmenter sees change: the baseline
   * label, plus the pixels the segmenter finds tumour in the result but not
   * in the baseline, minus those it finds in the baseline but not in the
   * result (the mask's analogue of the 'residual' output mode: the
   * segmenter's own error on the unchanged anatomy cancels).
   */
  residualDice?: number;
  /** Area error of that residual mask. */
  residualAreaError?: number;
  /**
   * The area error of a prediction whose tumour had exactly the target
   * burden: |r* - true burden| / true burden. With the growth model's
   * targets it is the growth model's own error, which no guidance beats.
   */
  targetAreaError?: number;
  /** Seconds the sample took. */
  seconds: number;
}

/** The means of one setting of the grid over the slices. */
export interface TuneSettingSummary {
  /** Noise level L. */
  noiseLevel: number;
  /** Guidance scale s. */
  scale: number;
  /** Respacing. */
  respacing: string;
  /** Where the guidance's r0 came from. */
  baselineFrom: 'label' | 'regressor';
  /** The guiding network. */
  guidance: SampleSettings['guidance'];
  /** The segmenter guidance's gradient temperature (1 with the regressor's). */
  gradientTemperature: number;
  /** The segmenter guidance's gradient margin in pixels (Infinity, everywhere, with the regressor's; `inf` in the CSV). */
  gradientMarginPixels: number;
  /** Decoding steps. */
  steps: number;
  /** Slices. */
  slices: number;
  /** Mean {@link TuneRow.targetError}. */
  targetError: number;
  /** Mean |guiding network's reading - guided target| / guided target: small here but large in `targetError` means the guiding network is fooled. */
  regressorError: number;
  /** Mean {@link TuneRow.moved}. */
  moved: number;
  /** Mean Dice against the real follow-up (NaN without truth). */
  dice: number;
  /** Mean Dice of the unchanged baseline. */
  baselineDice: number;
  /** Mean area error against the real follow-up. */
  areaError: number;
  /** Mean area error of the unchanged baseline. */
  baselineAreaError: number;
  /** Mean Dice of the segmenter's mask of the unchanged baseline (a prediction's Dice is capped near it when the segmenter, not the guidance, errs). */
  segmentedBaselineDice: number;
  /** Mean area error of the segmenter's mask of the unchanged baseline. */
  segmentedBaselineAreaError: number;
  /** Mean {@link TuneRow.segmentedFollowupDice}. */
  segmentedFollowupDice: number;
  /** Mean {@link TuneRow.segmentedFollowupAreaError}. */
  segmentedFollowupAreaError: number;
  /**
   * areaError / segmentedBaselineAreaError: the area ratio with the unchanged
   * baseline read by the same segmenter as the prediction (its label is
   * exact, a segmented scan is not; this ratio leaves the segmenter's own
   * error on both sides).
   */
  sameScorerAreaRatio: number;
  /** (1 - dice) / (1 - segmentedBaselineDice): the miss ratio with the unchanged baseline read by the same segmenter. */
  sameScorerMissRatio: number;
  /**
   * The area and miss ratios (against the baseline's label, as
   * {@link TuneSettingSummary.areaRatio} and {@link TuneSettingSummary.missRatio})
   * that the real follow-up scan itself scores when segmented: the best any
   * prediction can score with this segmenter. A miss ratio above 0.8 here
   * means the label-based acceptance cannot be met whatever the guidance does.
   */
  followupScanAreaRatio: number;
  /** See {@link TuneSettingSummary.followupScanAreaRatio}. */
  followupScanMissRatio: number;
  /** Mean {@link TuneRow.gridFollowupDice}. */
  gridFollowupDice: number;
  /** Mean {@link TuneRow.gridFollowupAreaError}. */
  gridFollowupAreaError: number;
  /**
   * The area and miss ratios against the baseline's label that the real
   * follow-up's own label scores after the round trip through the networks'
   * grid ({@link TuneRow.gridFollowupDice}): what the grid costs a
   * prediction that is right at that grid. Between it and
   * {@link TuneSettingSummary.followupScanMissRatio} lies the scoring
   * segmenter's error; beyond that, the guidance's.
   */
  followupGridAreaRatio: number;
  /** See {@link TuneSettingSummary.followupGridAreaRatio}. */
  followupGridMissRatio: number;
  /** sameScorerAreaRatio <= 0.5 and sameScorerMissRatio <= 0.8. */
  meetsAcceptanceSameScorer: boolean;
  /** Mean {@link TuneRow.residualDice}. */
  residualDice: number;
  /** Mean {@link TuneRow.residualAreaError}. */
  residualAreaError: number;
  /** areaError / baselineAreaError (below 1: closer in size than the baseline). */
  areaRatio: number;
  /**
   * Mean {@link TuneRow.targetAreaError} / baselineAreaError: the area ratio
   * of predictions that hit their targets exactly, the best the targets allow
   * (0 with the true change; the growth model's error otherwise).
   */
  targetAreaRatio: number;
  /** (1 - dice) / (1 - baselineDice) (below 1: better placed than the baseline). */
  missRatio: number;
  /** areaRatio <= 0.5 and missRatio <= 0.8: the size halves the baseline's error without buying it with the wrong place. */
  meetsAcceptance: boolean;
  /** What is ranked (lower is better): areaRatio + missRatio with truth (2 is the baseline), else targetError. */
  objective: number;
  /** Mean seconds per slice. */
  secondsPerSlice: number;
}

/** What {@link tuneGuidance} returns (also written to `tune.json`). */
export interface TuneResult {
  /** Every sample. */
  rows: TuneRow[];
  /** One summary per setting, best first. */
  summaries: TuneSettingSummary[];
  /** The best setting (lowest objective). */
  best: TuneSettingSummary;
  /** The regressor's accuracy on noised scans, when checked. */
  regressor?: RegressorNoiseBucket[];
  /** Whether the objective used real follow-ups. */
  scoredAgainstTruth: boolean;
}

const count = (m: ArrayLike<number>) => {
  let n = 0;
  for (let i = 0; i < m.length; i++) if ((m[i] as number) > 0.5) n++;
  return n;
};

/**
 * The baseline label moved by the segmenter's change: `label | (after & !before)`, minus `before & !after`.
 *
 * @param label - the baseline's label (HW, 0/1).
 * @param before - the segmenter's mask of the baseline.
 * @param after - the segmenter's mask of the result.
 */
export function residualMask(label: Uint8Array, before: Uint8Array, after: Uint8Array): Uint8Array {
  if (before.length !== label.length || after.length !== label.length) {
    throw new RangeError(`'before' and 'after' passed to 'residualMask' must have the label's ${label.length} pixels, got ${before.length} and ${after.length}`);
  }
  return Uint8Array.from(label, (l, i) => {
    const b = before[i]! > 0, a = after[i]! > 0;
    if (a && !b) return 1;
    if (b && !a) return 0;
    return l > 0 ? 1 : 0;
  });
}

const mean = (v: readonly number[]) => {
  const f = v.filter(Number.isFinite);
  return f.length ? f.reduce((a, b) => a + b, 0) / f.length : NaN;
};

function checkGrid(name: string, v: unknown, integer: boolean, min: number, fn: string): number[] {
  if (!Array.isArray(v) || !v.length || v.some((x) => typeof x !== 'number' || !Number.isFinite(x) || x < min || (integer && !Number.isInteger(x)))) {
    throw new PipelineInputError(`'${name}' passed to '${fn}' must be a non-empty list of ${integer ? 'integers' : 'numbers'} >= ${min}, got ${JSON.stringify(v)}`);
  }
  return [...new Set(v as number[])];
}

/**
 * Summarises the rows of one grid setting (exported for tests and for
 * scoring rows gathered elsewhere).
 *
 * @param rows - the rows of one setting (at least one).
 */
export function summariseTuneRows(rows: readonly TuneRow[]): TuneSettingSummary {
  if (!rows.length) throw new RangeError("'rows' passed to 'summariseTuneRows' must hold at least one row");
  const r0 = rows[0]!;
  const truth = rows.every((r) => r.dice !== undefined);
  const dc = mean(rows.map((r) => r.dice ?? NaN)), bdc = mean(rows.map((r) => r.baselineDice ?? NaN));
  const ae = mean(rows.map((r) => r.areaError ?? NaN)), bae = mean(rows.map((r) => r.baselineAreaError ?? NaN));
  const areaRatio = truth ? (bae > 0 ? ae / bae : ae > 0 ? Infinity : 1) : NaN;
  const missRatio = truth ? (1 - bdc > 0 ? (1 - dc) / (1 - bdc) : 1 - dc > 0 ? Infinity : 1) : NaN;
  const targetError = mean(rows.map((r) => r.targetError));
  const sbd = mean(rows.map((r) => r.segmentedBaselineDice ?? NaN)), sbae = mean(rows.map((r) => r.segmentedBaselineAreaError ?? NaN));
  const sfd = mean(rows.map((r) => r.segmentedFollowupDice ?? NaN)), sfae = mean(rows.map((r) => r.segmentedFollowupAreaError ?? NaN));
  const gfd = mean(rows.map((r) => r.gridFollowupDice ?? NaN)), gfae = mean(rows.map((r) => r.gridFollowupAreaError ?? NaN));
  const ratio = (num: number, den: number) => (!truth || Number.isNaN(num) || Number.isNaN(den) ? NaN : den > 0 ? num / den : num > 0 ? Infinity : 1);
  const sameScorerAreaRatio = ratio(ae, sbae), sameScorerMissRatio = ratio(1 - dc, 1 - sbd);
  return {
    noiseLevel: r0.noiseLevel, scale: r0.scale, respacing: r0.respacing, baselineFrom: r0.baselineFrom, guidance: r0.guidance ?? 'regressor',
    gradientTemperature: r0.gradientTemperature ?? 1, gradientMarginPixels: r0.gradientMarginPixels ?? Infinity, steps: r0.steps, slices: rows.length,
    targetError,
    regressorError: mean(rows.map((r) => (r.guidedTarget > 0 ? Math.abs(r.regressorBurden - r.guidedTarget) / r.guidedTarget : NaN))),
    moved: mean(rows.map((r) => r.moved)),
    dice: dc, baselineDice: bdc, areaError: ae, baselineAreaError: bae, areaRatio, missRatio,
    targetAreaRatio: truth && bae > 0 ? mean(rows.map((r) => r.targetAreaError ?? NaN)) / bae : NaN,
    segmentedBaselineDice: sbd, segmentedBaselineAreaError: sbae,
    segmentedFollowupDice: sfd, segmentedFollowupAreaError: sfae,
    sameScorerAreaRatio, sameScorerMissRatio,
    followupScanAreaRatio: ratio(sfae, bae), followupScanMissRatio: ratio(1 - sfd, 1 - bdc),
    gridFollowupDice: gfd, gridFollowupAreaError: gfae, followupGridAreaRatio: ratio(gfae, bae), followupGridMissRatio: ratio(1 - gfd, 1 - bdc),
    meetsAcceptanceSameScorer: sameScorerAreaRatio <= 0.5 && sameScorerMissRatio <= 0.8,
    residualDice: mean(rows.map((r) => r.residualDice ?? NaN)), residualAreaError: mean(rows.map((r) => r.residualAreaError ?? NaN)),
    meetsAcceptance: truth && areaRatio <= 0.5 && missRatio <= 0.8,
    objective: truth ? areaRatio + missRatio : targetError,
    secondsPerSlice: mean(rows.map((r) => r.seconds)),
  };
}

const ROW_KEYS: (keyof TuneRow)[] = [
  'noiseLevel', 'scale', 'respacing', 'baselineFrom', 'guidance', 'gradientTemperature', 'gradientMarginPixels', 'steps', 'id', 'relativeChange', 'baselineBurden', 'targetBurden', 'regressorBaselineBurden', 'guidedTarget',
  'regressorBurden', 'segmentedBaselineBurden',
  'segmentedBurden', 'targetError', 'moved', 'maxChange', 'trueBurden', 'dice', 'areaError', 'baselineDice', 'baselineAreaError', 'segmentedBaselineDice', 'segmentedBaselineAreaError', 'segmentedFollowupDice', 'segmentedFollowupAreaError', 'gridFollowupDice', 'gridFollowupAreaError', 'residualDice', 'residualAreaError', 'targetAreaError', 'seconds',
];
const SUMMARY_KEYS: (keyof TuneSettingSummary)[] = [
  'noiseLevel', 'scale', 'respacing', 'baselineFrom', 'guidance', 'gradientTemperature', 'gradientMarginPixels', 'steps', 'slices', 'objective', 'meetsAcceptance', 'areaRatio', 'missRatio', 'targetAreaRatio', 'areaError', 'baselineAreaError', 'dice', 'baselineDice',
  'segmentedBaselineDice', 'segmentedBaselineAreaError', 'sameScorerAreaRatio', 'sameScorerMissRatio', 'meetsAcceptanceSameScorer', 'segmentedFollowupDice', 'segmentedFollowupAreaError',
  'followupScanAreaRatio', 'followupScanMissRatio', 'gridFollowupDice', 'gridFollowupAreaError', 'followupGridAreaRatio', 'followupGridMissRatio', 'residualDice', 'residualAreaError', 'targetError', 'regressorError', 'moved', 'secondsPerSlice',
];
const snake = (k: string) => k.replace(/[A-Z]/g, (c) => `_${c.toLowerCase()}`);

/**
 * Objects as CSV with the given columns (snake_case headers; missing values
 * empty; the gradient margin's Infinity as `inf`, a number column's word).
 *
 * @param rows - the objects.
 * @param keys - the columns.
 */
function toCsv<T extends object>(rows: readonly T[], keys: readonly (keyof T)[]): string {
  const cell = (k: keyof T, v: unknown) => (v === undefined ? '' : k === 'gradientMarginPixels' && v === Infinity ? 'inf'
    : typeof v === 'number' && !Number.isInteger(v) ? v.toPrecision(6) : String(v));
  return `${[keys.map((k) => snake(String(k))).join(','), ...rows.map((r) => keys.map((k) => cell(k, r[k])).join(','))].join('\n')}\n`;
}

/** The tuning rows as CSV (`tune.csv`). @param rows - the rows. */
export function tuneRowsCsv(rows: readonly TuneRow[]): string {
  return toCsv(rows, ROW_KEYS);
}

/** The setting summaries as CSV (`tune-summary.csv`). @param summaries - the summaries. */
export function tuneSummaryCsv(summaries: readonly TuneSettingSummary[]): string {
  return toCsv(summaries, SUMMARY_KEYS);
}

const f4 = (v: number) => (Number.isFinite(v) ? v.toFixed(4) : String(v));

/**
 * The short Markdown summary of a tuning (`tune.md`): the best setting and
 * the flags that select it, the grid ranked, and the regressor's accuracy
 * per timestep bucket.
 *
 * @param r - the tuning's result.
 */
export function tuneMarkdown(r: TuneResult): string {
  const b = r.best;
  const lines = [
    '# Guidance tuning',
    '',
    `Best setting: noise level L = ${b.noiseLevel}, scale s = ${b.scale}, respacing '${b.respacing}' (${b.steps} decoding steps), r0 from the ${b.baselineFrom}, guided by the ${guideWords(b)} — `
      + `\`--noise-level ${b.noiseLevel} --scale ${b.scale} --respacing '${b.respacing}' --baseline-burden ${b.baselineFrom} --guidance ${b.guidance}`
      + `${b.guidance === 'segmenter' ? ` --gradient-temperature ${b.gradientTemperature}` : ''}`
      + `${b.guidance === 'segmenter' && b.gradientMarginPixels !== Infinity ? ` --gradient-margin ${b.gradientMarginPixels}` : ''}\`.`,
    r.scoredAgainstTruth
      ? `Against the real follow-ups over ${b.slices} slice(s): area error ${f4(b.areaError)} (baseline ${f4(b.baselineAreaError)}, ratio ${f4(b.areaRatio)}), `
        + `Dice ${f4(b.dice)} (baseline ${f4(b.baselineDice)}, miss ratio ${f4(b.missRatio)}); ${b.meetsAcceptance ? 'meets' : 'does not meet'} `
        + `area ratio <= 0.5 and miss ratio <= 0.8. The segmenter on the unchanged baseline scores Dice ${f4(b.segmentedBaselineDice)}, area error ${f4(b.segmentedBaselineAreaError)} `
        + `(the baseline row above uses its label): against that reading (the same segmenter on both) the area ratio is ${f4(b.sameScorerAreaRatio)} and the miss ratio ${f4(b.sameScorerMissRatio)}, `
        + `which ${b.meetsAcceptanceSameScorer ? 'meets' : 'does not meet'} the same bounds. The segmenter on the real follow-up scans scores Dice ${f4(b.segmentedFollowupDice)}, area error ${f4(b.segmentedFollowupAreaError)}: `
        + `a prediction identical to them would reach an area ratio of ${f4(b.followupScanAreaRatio)} and a miss ratio of ${f4(b.followupScanMissRatio)} against the labels. `
        + `A binary label at the networks' grid costs an area ratio of ${f4(b.followupGridAreaRatio)} and a miss ratio of ${f4(b.followupGridMissRatio)}: the real follow-up's own label, brought to the grid as a binary label (>= 0.5) and back, scores Dice ${f4(b.gridFollowupDice)}, area error ${f4(b.gridFollowupAreaError)}. `
        + `The label moved by the segmenter's change scores Dice ${f4(b.residualDice)}, area error ${f4(b.residualAreaError)}. `
        + `Predictions that hit their targets exactly would reach an area ratio of ${f4(b.targetAreaRatio)} (the targets' own error).`
      : `Without real follow-ups the ranking is by the segmented burden's relative error to the target: ${f4(b.targetError)}.`,
    '',
    'Ranked (objective: area ratio + miss ratio with real follow-ups, 2 = the unchanged baseline; else the relative target error). '
      + '`moved`: how far the segmented burden went from the segmented baseline towards the target (1 = all the way); '
      + '`regressor err` (the guiding network\'s reading of the result against its target) small while `target err` is large means the guiding network is satisfied by changes the segmenter does not see.',
    '',
    '| L | s | respacing | r0 from | guidance | gradient T | gradient margin | steps | objective | area ratio | miss ratio | same-scorer area / miss | Dice | target err | regressor err | moved | s/slice |',
    '|---:|---:|---|---|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|',
    ...r.summaries.map((s) => `| ${s.noiseLevel} | ${s.scale} | ${s.respacing} | ${s.baselineFrom} | ${s.guidance} | ${s.guidance === 'segmenter' ? s.gradientTemperature : '-'} | `
      + `${s.guidance === 'segmenter' ? (s.gradientMarginPixels === Infinity ? 'inf' : s.gradientMarginPixels) : '-'} | ${s.steps} | ${f4(s.objective)} | ${f4(s.areaRatio)} | ${f4(s.missRatio)} | `
      + `${f4(s.sameScorerAreaRatio)} / ${f4(s.sameScorerMissRatio)} | ${f4(s.dice)} | `
      + `${f4(s.targetError)} | ${f4(s.regressorError)} | ${f4(s.moved)} | ${s.secondsPerSlice.toFixed(1)} |`),
  ];
  if (r.regressor?.length) {
    lines.push('', 'Regressor on noised scans (forward process from scans with known burden):', '',
      '| t | n | MAE | bias | MAE of a constant | correlation |', '|---|---:|---:|---:|---:|---:|',
      ...r.regressor.map((q) => `| ${q.from}-${q.to - 1} | ${q.n} | ${f4(q.mae)} | ${f4(q.bias)} | ${f4(q.maeConstant)} | ${f4(q.correlation)} |`));
  }
  return `${lines.join('\n')}\n`;
}

/** The guiding network in words, with the segmenter's gradient temperature when it is not 1 and its margin when it is finite. */
function guideWords(s: Pick<TuneSettingSummary, 'guidance' | 'gradientTemperature'> & Partial<Pick<TuneSettingSummary, 'gradientMarginPixels'>>): string {
  if (s.guidance !== 'segmenter') return s.guidance;
  const shaping = gradientShaping(s);
  return shaping ? `segmenter (${shaping})` : 'segmenter';
}

interface TuneSlice {
  slice: PredictionSlice;
  truth?: FollowupTruth;
  relativeChange: number;
  segmentedBaselineBurden: number;
  segmentedBaselineMask: Uint8Array;
  regressorBaselineBurden: number;
  trueBurden?: number;
  /** The segmenter's mask of the real follow-up scan (native grid), when known. */
  segmentedFollowupMask?: Uint8Array;
  /** The real follow-up's label through the networks' grid and back (native grid), when known. */
  gridFollowupMask?: Uint8Array;
}

/**
 * Sweeps the guidance over a grid on held-out slices and scores the
 * segmented tumour of each result (one guided sample per slice and setting,
 * no probability map). Writes to `out`: `tune.csv` (every sample),
 * `tune-summary.csv` (means per setting, best first), `tune.json`,
 * `tune.md` (the best setting and the grid ranked) and, with the regressor
 * check, `regressor-noise.csv`.
 *
 * With real follow-ups a setting is ranked by area ratio + miss ratio (its
 * mean area error over the baseline's, plus its mean 1 - Dice over the
 * baseline's: 2 is no better than the unchanged baseline), else by the
 * segmented burden's relative error to the target.
 *
 * @example
 * ```ts
 * import { tuneGuidance } from '@tumorcast/pipeline/node';
 * const r = await tuneGuidance({
 *   data: 'heldout', truth: 'heldout/followup', out: 'out/tune', targets: { kind: 'truth' },
 *   models: { diffusion: 'diffusion.safetensors', regressor: 'regressor.safetensors', segmenter: 'segmenter.safetensors' },
 *   noiseLevels: [100, 200, 300], scales: [50000, 200000, 800000],
 * });
 * console.log(r.best);
 * ```
 *
 * @param o - see {@link TuneOptions}.
 * @throws PipelineInputError or PipelineDataError naming the option, file or slice, before any sampling.
 */
export async function tuneGuidance(o: TuneOptions): Promise<TuneResult> {
  const fn = 'tuneGuidance';
  if (!o || typeof o !== 'object') throw new TypeError(`'options' passed to '${fn}' must be an object`);
  const names = o.names ?? apiOptionName;
  const log = o.log ?? (() => undefined);
  for (const k of ['data', 'out'] as const) if (typeof o[k] !== 'string' || !o[k]) throw new PipelineInputError(`${names(k)} must be a folder path`);
  if (!o.targets || !['constant', 'json', 'series', 'truth'].includes(o.targets.kind)) {
    throw new PipelineInputError(`${names('targets')} must be { kind: 'truth' }, { kind: 'constant', relativeChange }, { kind: 'json', file } or { kind: 'series', file, followupDay }`);
  }
  if (o.targets.kind === 'truth' && !o.truth) throw new PipelineInputError(`targets from the real follow-ups need ${names('truth')}`);
  if (o.truth !== undefined && (typeof o.truth !== 'string' || !fs.existsSync(o.truth) || !fs.statSync(o.truth).isDirectory())) {
    throw new PipelineInputError(`${names('truth')} folder ${String(o.truth)} does not exist`);
  }
  const noiseLevels = checkGrid('noiseLevels', o.noiseLevels ?? [100, 200, 300], true, 1, fn);
  const scales = checkGrid('scales', o.scales ?? [50000, 200000, 800000], false, 0, fn);
  const respacings = o.respacings ?? [DEFAULT_SAMPLE_SETTINGS.respacing];
  if (!Array.isArray(respacings) || !respacings.length || respacings.some((r) => typeof r !== 'string')) {
    throw new PipelineInputError(`'respacings' passed to '${fn}' must be a non-empty list of respacings ('' for none, e.g. 'ddim100'), got ${JSON.stringify(respacings)}`);
  }
  const base: SampleSettings = { ...DEFAULT_SAMPLE_SETTINGS, ...o.settings, samples: 1 };
  const baselineBurdens: ('label' | 'regressor')[] = [...new Set(o.baselineBurdens ?? ['label' as const])];
  if (!baselineBurdens.length || baselineBurdens.some((b) => b !== 'label' && b !== 'regressor')) {
    throw new PipelineInputError(`'baselineBurdens' passed to '${fn}' must be a non-empty list of 'label' and 'regressor', got ${JSON.stringify(o.baselineBurdens)}`);
  }
  const guidances: SampleSettings['guidance'][] = [...new Set(o.guidances ?? ['regressor' as const])];
  if (!Array.isArray(o.guidances ?? []) || !guidances.length || guidances.some((g) => !GUIDANCE_NETWORKS.includes(g))) {
    throw new PipelineInputError(`${names('guidances', JSON.stringify(o.guidances))} must be a non-empty list of 'regressor' and 'segmenter'`);
  }
  const temperatureList: unknown = o.gradientTemperatures ?? [1];
  if (!Array.isArray(temperatureList) || !temperatureList.length || temperatureList.some((t) => typeof t !== 'number' || !Number.isFinite(t) || t <= 0)) {
    throw new PipelineInputError(`${names('gradientTemperatures', JSON.stringify(o.gradientTemperatures))} must be a non-empty list of numbers > 0`);
  }
  const gradientTemperatures = [...new Set(temperatureList as number[])];
  // The regressor's guidance has no temperature: it runs once, at 1.
  const temperaturesOf = (guidance: SampleSettings['guidance']) => (guidance === 'segmenter' ? gradientTemperatures : [1]);
  const marginList: unknown = o.gradientMargins ?? [Infinity];
  if (!Array.isArray(marginList) || !marginList.length || marginList.some((m) => typeof m !== 'number' || !(m === Infinity || (Number.isInteger(m) && m >= 0)))) {
    throw new PipelineInputError(`${names('gradientMargins', JSON.stringify(o.gradientMargins))} must be a non-empty list of integers >= 0 or Infinity (the gradient everywhere)`);
  }
  const gradientMargins = [...new Set(marginList as number[])];
  // ... nor a margin: it runs once, everywhere.
  const marginsOf = (guidance: SampleSettings['guidance']) => (guidance === 'segmenter' ? gradientMargins : [Infinity]);
  if (o.scoringSegmenter !== undefined && (typeof o.scoringSegmenter !== 'string' || !o.scoringSegmenter)) {
    throw new PipelineInputError(`${names('scoringSegmenter', JSON.stringify(o.scoringSegmenter))} must be the path of a learned segmenter's weights`);
  }

  let infos: SliceSampleInfo[] = await listPredictionSlices(o.data);
  if (o.slices?.length) {
    const want = new Set(o.slices);
    infos = infos.filter((i) => want.has(i.id));
    if (!infos.length) throw new PipelineInputError(`none of the requested slices (${o.slices.join(', ')}) is in ${o.data}`);
  }
  if (!infos.length) throw new PipelineDataError(`${o.data} holds no slices (testing/, validation/ or training/ slice folders)`);
  const truths = new Map<string, FollowupTruth>();
  if (o.truth) {
    for (const i of infos) {
      const t = await loadTruth(o.truth, i.id);
      if (!t) throw new PipelineDataError(`slice ${i.id} has no real follow-up in ${names('truth', o.truth)}: give one for every slice, or select slices with ${names('slices')}`);
      truths.set(i.id, t);
    }
  }
  let changes: (id: string) => number;
  if (o.targets.kind === 'truth') {
    changes = () => NaN; // filled per slice below, from the labels
  } else {
    const { targets } = resolveTargets(o.targets, infos.map((i) => i.id), names);
    const missing = infos.find((i) => !targets[i.id]);
    if (missing) throw new PipelineDataError(`no relative change for slice ${missing.id} in ${names('targets')}`);
    changes = (id) => (targets[id] as { relativeChange: number }).relativeChange;
  }

  const networks: PredictionNetworks = await loadModels(o.models, { names });
  let scoringNet: SegmenterNet | undefined;
  try {
    for (const noiseLevel of noiseLevels) for (const respacing of respacings) for (const guidance of guidances) {
      checkSettingsFit(networks, { noiseLevel, respacing, guidance }, o.models.diffusion, names);
    }
    if (o.scoringSegmenter !== undefined) {
      const named = names('scoringSegmenter', o.scoringSegmenter);
      if (!fs.existsSync(o.scoringSegmenter) || !fs.statSync(o.scoringSegmenter).isFile()) throw new PipelineInputError(`${named} is not a file`);
      try {
        scoringNet = await loadSegmenter(o.scoringSegmenter);
      } catch (e) {
        throw new PipelineDataError(`${named} is not a segmenter's weights: ${(e as Error).message}`, { cause: e });
      }
      if (scoringNet.config.inChannels !== 4) throw new PipelineDataError(`${named} takes ${scoringNet.config.inChannels} input channels, not the 4 modalities`);
      log(`scoring with the segmenter ${o.scoringSegmenter} (the guidance uses ${o.models.segmenter ?? 'none'})`);
    }
    const segmenter = scoringNet ? learnedSegmenter(scoringNet, { inputRange: networks.dataRange }) : segmenterOf(networks);
    const S = networks.imageSize;
    const slices: TuneSlice[] = [];
    for (const info of infos) {
      const slice = await loadPredictionSlice(info, S);
      if (!slice.modelLabel || slice.burden === undefined || !slice.nativeLabel) {
        throw new PipelineDataError(`slice ${info.id} has no label: tuning needs the baseline's tumour label (the burden guidance starts from)`);
      }
      const truth = truths.get(info.id);
      const trueBurden = truth ? count(truth.label) / Math.max(1, brainCount(truth.image, 4)) : undefined;
      let d = changes(info.id);
      if (o.targets.kind === 'truth') {
        if (!(slice.burden > 0)) throw new PipelineDataError(`slice ${info.id} has an empty baseline label: its true relative change is undefined; leave it out with ${names('slices')}`);
        d = (trueBurden as number) / slice.burden - 1;
      }
      // The segmenter's reading of the unchanged baseline: what the result's segmented burden moves from.
      const image = tf.tidy(() => toModelRange(tf.tensor4d(slice.model, [1, S, S, 4]), networks.dataRange));
      const mask = tf.tensor4d(Float32Array.from(slice.modelLabel), [1, S, S, 1]);
      const baselineReading = await segmenterReading(segmenter, { image, baseline: image, baselineMask: mask });
      // What predictSlice's r0 is with baselineBurden 'regressor' (clamped there): recorded for every setting.
      const regressorBaselineBurden = await regressorBaselineReading(networks, image);
      const segmentedBaselineMask = maskToNative(baselineReading, S, slice.width, slice.height);
      // The real follow-up scan segmented as a prediction is (same baseline and mask): the best a prediction can score.
      let segmentedFollowupMask: Uint8Array | undefined;
      let gridFollowupMask: Uint8Array | undefined;
      const followupInfo = truth ? await findTruth(o.truth!, info.id) : undefined;
      if (truth && followupInfo) {
        const followup = await loadPredictionSlice(followupInfo, S);
        if (followup.width !== slice.width || followup.height !== slice.height) {
          throw new PipelineDataError(`slice ${info.id}: the real follow-up is ${followup.width}x${followup.height} pixels but the baseline ${slice.width}x${slice.height}: give follow-ups on the baseline's grid`);
        }
        const fImage = tf.tidy(() => toModelRange(tf.tensor4d(followup.model, [1, S, S, 4]), networks.dataRange));
        segmentedFollowupMask = maskToNative(await segmenterReading(segmenter, { image: fImage, baseline: image, baselineMask: mask }), S, slice.width, slice.height);
        fImage.dispose();
        // Its label as the networks' grid holds it, brought back as a prediction's mask is.
        if (followup.modelLabel) {
          gridFollowupMask = maskToNative(followup.modelLabel, S, slice.width, slice.height);
        }
      }
      tf.dispose([image, mask]);
      const brain = Math.max(1, brainCount(slice.native, 4));
      slices.push({
        slice, truth, relativeChange: d, trueBurden, segmentedBaselineMask, segmentedBaselineBurden: count(segmentedBaselineMask) / brain, regressorBaselineBurden,
        ...(segmentedFollowupMask ? { segmentedFollowupMask } : {}),
        ...(gridFollowupMask ? { gridFollowupMask } : {}),
      });
    }

    let regressor: RegressorNoiseBucket[] | undefined;
    fs.mkdirSync(o.out, { recursive: true });
    if (o.regressorCheck ?? true) {
      const images = slices.map((s) => ({ model: s.slice.model, burden: s.slice.burden as number }));
      // The real follow-ups are further images with known burdens (brought to the networks' size as the baselines are).
      if (o.truth) {
        for (const s of slices) {
          const info = await findTruth(o.truth, s.slice.id);
          const t = info ? await loadPredictionSlice(info, S) : undefined;
          if (t?.burden !== undefined) images.push({ model: t.model, burden: t.burden });
        }
      }
      if (images.length >= 2) {
        regressor = await regressorNoiseAccuracy(networks, images, { edges: REGRESSOR_NOISE_EDGES, seed: base.seed });
        writeFileAtomicSync(path.join(o.out, 'regressor-noise.csv'), regressorNoiseCsv(regressor));
        for (const q of regressor) log(`regressor at t ${q.from}-${q.to - 1}: MAE ${f4(q.mae)} (a constant: ${f4(q.maeConstant)}), bias ${f4(q.bias)}, correlation ${f4(q.correlation)}`);
      } else {
        log('regressor check skipped: it needs at least 2 slices');
      }
    }

    const rows: TuneRow[] = [];
    const total = noiseLevels.length * scales.length * respacings.length * baselineBurdens.length * guidances.reduce((n, g) => n + temperaturesOf(g).length * marginsOf(g).length, 0);
    let k = 0;
    for (const respacing of respacings) {
      const diffusion = samplingDiffusion(networks, { respacing });
      for (const noiseLevel of noiseLevels) {
        const steps = Array.from(diffusion.timestepMap).filter((t) => t < noiseLevel).length;
        for (const guidance of guidances) for (const gradientTemperature of temperaturesOf(guidance)) for (const gradientMarginPixels of marginsOf(guidance)) for (const scale of scales) for (const baselineFrom of baselineBurdens) {
          k++;
          const settings: SampleSettings = { ...base, noiseLevel, scale, respacing, baselineBurden: baselineFrom, guidance, gradientTemperature, gradientMarginPixels };
          for (const s of slices) {
            const t0 = performance.now();
            const p = await predictSlice(networks, s.slice, s.relativeChange, { settings, diffusion, segmenter });
            const seconds = (performance.now() - t0) / 1000;
            const { slice } = s;
            const brain = Math.max(1, brainCount(slice.native, 4));
            const segmentedBurden = count(p.followupMaskNative) / brain;
            let maxChange = 0;
            for (let i = 0; i < slice.native.length; i++) maxChange = Math.max(maxChange, Math.abs((p.followupNative[i] as number) - (slice.native[i] as number)));
            const r0 = slice.burden as number;
            const target = r0 * (1 + s.relativeChange);
            const want = target - s.segmentedBaselineBurden;
            const row: TuneRow = {
              noiseLevel, scale, respacing, baselineFrom, guidance, gradientTemperature, gradientMarginPixels, steps, id: slice.id, relativeChange: s.relativeChange, baselineBurden: r0, targetBurden: target,
              regressorBaselineBurden: s.regressorBaselineBurden, guidedTarget: p.targetBurden,
              regressorBurden: p.predictedBurden, segmentedBaselineBurden: s.segmentedBaselineBurden, segmentedBurden,
              targetError: target > 0 ? Math.abs(segmentedBurden - target) / target : NaN,
              moved: Math.abs(want) > 1e-9 ? (segmentedBurden - s.segmentedBaselineBurden) / want : NaN,
              maxChange, seconds,
            };
            const residual = residualMask(slice.nativeLabel!, s.segmentedBaselineMask, p.followupMaskNative);
            if (s.truth) {
              const sp = [slice.spacing[1], slice.spacing[0]];
              const grid = (m: Uint8Array) => ({ data: m, shape: [slice.height, slice.width], spacing: sp });
              const trueArea = count(s.truth.label);
              const areaErr = (m: Uint8Array) => (trueArea > 0 ? Math.abs(count(m) - trueArea) / trueArea : count(m) > 0 ? Infinity : 0);
              Object.assign(row, {
                trueBurden: s.trueBurden,
                dice: dice(grid(p.followupMaskNative), grid(s.truth.label)),
                areaError: areaErr(p.followupMaskNative),
                baselineDice: dice(grid(slice.nativeLabel!), grid(s.truth.label)),
                baselineAreaError: areaErr(slice.nativeLabel!),
                segmentedBaselineDice: dice(grid(s.segmentedBaselineMask), grid(s.truth.label)),
                segmentedBaselineAreaError: areaErr(s.segmentedBaselineMask),
                ...(s.segmentedFollowupMask ? { segmentedFollowupDice: dice(grid(s.segmentedFollowupMask), grid(s.truth.label)), segmentedFollowupAreaError: areaErr(s.segmentedFollowupMask) } : {}),
                ...(s.gridFollowupMask ? { gridFollowupDice: dice(grid(s.gridFollowupMask), grid(s.truth.label)), gridFollowupAreaError: areaErr(s.gridFollowupMask) } : {}),
                residualDice: dice(grid(residual), grid(s.truth.label)),
                residualAreaError: areaErr(residual),
                targetAreaError: s.trueBurden! > 0 ? Math.abs(target - s.trueBurden!) / s.trueBurden! : NaN,
              });
            }
            rows.push(row);
          }
          // Written as it goes: a sweep stopped early keeps what it measured.
          writeFileAtomicSync(path.join(o.out, 'tune.csv'), tuneRowsCsv(rows));
          const sm = summariseTuneRows(rows.slice(-slices.length));
          log(`setting ${k}/${total}: L ${noiseLevel}, s ${scale}, respacing '${respacing}' (${steps} steps), r0 from the ${baselineFrom}, guided by the ${guideWords({ guidance, gradientTemperature, gradientMarginPixels })}: `
            + (o.truth ? `area ratio ${f4(sm.areaRatio)}, miss ratio ${f4(sm.missRatio)} (same scorer on the baseline: ${f4(sm.sameScorerAreaRatio)}, ${f4(sm.sameScorerMissRatio)}), Dice ${f4(sm.dice)} (baseline ${f4(sm.baselineDice)}), ` : '')
            + `target error ${f4(sm.targetError)}, regressor error ${f4(sm.regressorError)}, moved ${f4(sm.moved)}; ${sm.secondsPerSlice.toFixed(1)} s/slice`);
        }
      }
    }
    const groups = new Map<string, TuneRow[]>();
    for (const r of rows) {
      const key = `${r.noiseLevel}|${r.scale}|${r.respacing}|${r.baselineFrom}|${r.guidance ?? 'regressor'}|${r.gradientTemperature ?? 1}|${r.gradientMarginPixels ?? Infinity}`;
      groups.set(key, [...(groups.get(key) ?? []), r]);
    }
    const rank = (v: number) => (Number.isNaN(v) ? Infinity : v);
    const summaries = [...groups.values()].map(summariseTuneRows).sort((a, b) => rank(a.objective) - rank(b.objective));
    const result: TuneResult = { rows, summaries, best: summaries[0]!, regressor, scoredAgainstTruth: !!o.truth };
    writeFileAtomicSync(path.join(o.out, 'tune.csv'), tuneRowsCsv(rows));
    writeFileAtomicSync(path.join(o.out, 'tune-summary.csv'), tuneSummaryCsv(summaries));
    writeFileAtomicSync(path.join(o.out, 'tune.json'), `${JSON.stringify(result, (_, v) => (typeof v === 'number' && !Number.isFinite(v) ? String(v) : v), 2)}\n`);
    writeFileAtomicSync(path.join(o.out, 'tune.md'), tuneMarkdown(result));
    log(`best: L ${result.best.noiseLevel}, s ${result.best.scale}, respacing '${result.best.respacing}', r0 from the ${result.best.baselineFrom}, guided by the ${guideWords(result.best)}; wrote ${path.join(o.out, 'tune.md')}`);
    return result;
  } finally {
    networks.dispose();
    scoringNet?.dispose();
  }
}
