/**
 * `tumorcast-predict tune`: the guidance swept over noise levels, scales
 * and respacings on held-out slices with real follow-ups (a user's data, or
 * phantom patients written on the spot), each result's segmented tumour
 * scored against the target and the real follow-up (`tuneGuidance` of
 * `@tumorcast/pipeline`).
 */
import fs from 'node:fs';
import path from 'node:path';
import { CliError, defineConfigSchema } from '@tumorcast/cli';
import { writePhantomDataset } from '@tumorcast/phantom';
import { tuneGuidance } from '@tumorcast/pipeline/node';
import type { ModelPaths, TuneResult, TuneTargetSource } from '@tumorcast/pipeline/node';
import type { SampleSettings } from '@tumorcast/pipeline';
import { cliErrors, flagName } from './errors.js';

/** The keys of `tune` besides the network, target and sampling keys it shares with `run`. */
export const TUNE_KEYS = defineConfigSchema({
  data: { type: 'string', description: 'held-out data root in the BraTS slice layout (not used to train the networks); without it, phantom patients are written to <out>/data', optional: true },
  truth: { type: 'string', description: 'real follow-ups of --data (<pid>_<slice>/ folders, or a BraTS-slice-layout root): Dice and area error are scored against them', optional: true },
  out: { type: 'string', description: 'output folder (tune.md, tune-summary.csv, tune.csv, tune.json, regressor-noise.csv)', default: 'outputs/tune' },
  slices: { type: 'string[]', description: 'only these slice ids', optional: true },
  noise_levels: { type: 'integer[]', description: 'noise levels L to try (original timesteps)', default: [100, 200, 300], min: 1 },
  scales: { type: 'number[]', description: 'guidance scales s to try', default: [50000, 200000, 800000], min: 0 },
  respacings: { type: 'string[]', description: "respacings to try (decoding steps below L; 'none' for no respacing)", default: ['ddim100'] },
  baseline_burdens: {
    type: 'string[]', description: "where the r0 of the target r0 (1 + d) comes from, each tried: 'label' (as run does) or 'regressor' (its reading of the baseline, so that its bias does not eat the change)",
    default: ['label'], choices: ['label', 'regressor'],
  },
  guidances: {
    type: 'string[]', description: "the guiding networks, each tried: 'regressor' (as run does by default) or 'segmenter' (the learned segmenter's burden of the denoised estimate; needs --segmenter)",
    default: ['regressor'], choices: ['regressor', 'segmenter'],
  },
  // No `min`: tuneCommand says > 0, naming the flag.
  gradient_temperatures: {
    type: 'number[]', description: "gradient temperatures of the segmenter's burden to try (> 0; see --gradient-temperature), with --guidances segmenter only: the regressor's guidance runs once whatever this holds",
    default: [1],
  },
  // Strings: 'none' (the gradient everywhere) is no number; tuneCommand checks the rest, naming the flag.
  gradient_margins: {
    type: 'string[]', description: "gradient margins of the segmenter's burden to try, in pixels (integers >= 0; see --gradient-margin), 'none' for the gradient everywhere (no --gradient-margin), each with every --gradient-temperatures, with --guidances segmenter only: the regressor's guidance runs once whatever this holds; tune-summary.csv writes 'none' as inf",
    default: ['none'],
  },
  scoring_segmenter: {
    type: 'string', description: "a learned segmenter's weights to score the results with instead of --segmenter (keep a segmenter that guided apart from the one that scores)",
    optional: true,
  },
  true_change: {
    type: 'boolean', description: "guide each slice towards its true change (the real follow-up's burden over the baseline label's) instead of the growth model: scores the guidance alone",
    default: false,
  },
  regressor_check: { type: 'boolean', description: "first read the regressor's accuracy on noised scans per timestep bucket", default: true },
  phantom_patients: { type: 'integer', description: 'without --data: phantom patients to write', default: 2, min: 1 },
  phantom_seed: { type: 'integer', description: "without --data: the phantom data set's seed (keep it apart from the networks' training data)", default: 101, min: 0 },
  phantom_slices: { type: 'integer', description: 'without --data: slices per phantom patient (1-5, around the tumour centre)', default: 2, min: 1, max: 5 },
});

/** What {@link tuneCommand} needs, in the CLI's resolved terms. */
export interface TuneCommandOptions {
  /** Held-out data root; without it phantom patients are written. */
  data?: string;
  /** Real follow-ups of `data`. */
  truth?: string;
  /** Output folder. */
  out: string;
  /** Only these slices. */
  slices?: string[];
  /** The grid. */
  noiseLevels: number[];
  /** The grid. */
  scales: number[];
  /** The grid ('none' is no respacing). */
  respacings: string[];
  /** Where the guidance's r0 comes from, each tried. */
  baselineBurdens: string[];
  /** The guiding networks, each tried. @defaultValue ['regressor'] */
  guidances?: string[];
  /** The segmenter guidance's gradient temperatures, each tried (`--gradient-temperatures`). @defaultValue [1] */
  gradientTemperatures?: number[];
  /** The segmenter guidance's gradient margins in pixels, each tried, 'none' for everywhere (`--gradient-margins`). @defaultValue ['none'] */
  gradientMargins?: string[];
  /** A segmenter's weights to score with instead of the models' segmenter. @defaultValue undefined */
  scoringSegmenter?: string;
  /** Guide towards the true change. */
  trueChange: boolean;
  /** Read the regressor on noised scans first. */
  regressorCheck: boolean;
  /** Phantom patients, their seed and slices (without `data`). */
  phantom: { patients: number; seed: number; slices: number };
  /** The networks. */
  models: ModelPaths;
  /** The targets given on the command line, if any (else the growth fit of the phantom's sizes, or the true change). */
  targets?: TuneTargetSource;
  /** Sampling settings other than the grid's. */
  settings: Partial<SampleSettings>;
  /** Log lines. */
  log: (m: string) => void;
}

/** The slices of the demo's phantom patient, in the order the demo takes them. */
const PHANTOM_SLICES = [80, 84, 76, 88, 72];

/**
 * Runs `tumorcast-predict tune`: writes phantom patients when no `data` is
 * given (their size series gives the growth fit's targets, their follow-ups
 * the truth), then sweeps the grid.
 *
 * @throws CliError naming the flag when the options do not fit together.
 */
export async function tuneCommand(o: TuneCommandOptions): Promise<TuneResult> {
  const badT = (o.gradientTemperatures ?? [1]).find((t) => !(Number.isFinite(t) && t > 0));
  if (badT !== undefined) throw new CliError(`--gradient-temperatures takes numbers > 0 (1: the segmenter's true gradient), got ${badT}`);
  const gradientMargins = (o.gradientMargins ?? ['none']).map((m) => {
    if (m === 'none') return Infinity;
    if (!/^\d+$/.test(m) || !Number.isSafeInteger(Number(m))) {
      throw new CliError(`--gradient-margins takes integers >= 0 (pixels) or 'none' (the gradient everywhere), got '${m}'`);
    }
    return Number(m);
  });
  let { data, truth, targets } = o;
  if (!data) {
    if (truth) throw new CliError('--truth goes with --data (without --data the phantom patients bring their own follow-ups)');
    data = path.join(o.out, 'data');
    o.log(`writing ${o.phantom.patients} phantom patient(s) (seed ${o.phantom.seed}) to ${data}`);
    const m = await writePhantomDataset(data, {
      seed: o.phantom.seed, patients: o.phantom.patients, trainingPatients: 0, preview: false,
      // As the demo's patient: enough scans before the baseline for the growth fit.
      patient: { sliceIds: PHANTOM_SLICES.slice(0, o.phantom.slices), tumourHalfHeight: 10, days: [0, 14, 21, 35, 49, 63, 90, 120, 150, 210] },
    });
    truth = path.join(data, 'followup');
    const p = m.testing[0]!;
    targets ??= o.trueChange ? { kind: 'truth' } : { kind: 'series', file: path.join(data, m.files.seriesToBaselineCsv), followupDay: p.followupDay, baselineDay: p.baselineDay };
  }
  if (o.trueChange) {
    if (o.targets) throw new CliError('--true-change replaces --series, --targets and --relative-change: give one of them or --true-change');
    if (!truth) throw new CliError('--true-change needs --truth (the real follow-ups give the true change)');
    targets = { kind: 'truth' };
  }
  if (!targets) throw new CliError('give the targets: --true-change (with --truth), --series with --followup-day, --targets or --relative-change');
  const resolved = targets;
  const bad = o.baselineBurdens.find((b) => b !== 'label' && b !== 'regressor');
  if (bad !== undefined) throw new CliError(`--baseline-burdens takes 'label' and 'regressor', got '${bad}'`);
  const guidances = o.guidances ?? ['regressor'];
  const badGuide = guidances.find((g) => g !== 'regressor' && g !== 'segmenter');
  if (badGuide !== undefined) throw new CliError(`--guidances takes 'regressor' and 'segmenter', got '${badGuide}'`);
  if (guidances.includes('segmenter') && !o.models.segmenter) throw new CliError("--guidances segmenter needs a learned segmenter: give --segmenter FILE");
  if (o.scoringSegmenter !== undefined && !fs.existsSync(o.scoringSegmenter)) throw new CliError(`--scoring-segmenter ${o.scoringSegmenter}: no such file`);
  return cliErrors(() => tuneGuidance({
    data: data!, truth, out: o.out, models: o.models, targets: resolved, slices: o.slices,
    noiseLevels: o.noiseLevels, scales: o.scales, respacings: o.respacings.map((r) => (r === 'none' ? '' : r)),
    baselineBurdens: o.baselineBurdens as ('label' | 'regressor')[], guidances: guidances as ('regressor' | 'segmenter')[],
    gradientTemperatures: o.gradientTemperatures ?? [1], gradientMargins, scoringSegmenter: o.scoringSegmenter, settings: o.settings, regressorCheck: o.regressorCheck, log: o.log, names: flagName,
  }));
}
