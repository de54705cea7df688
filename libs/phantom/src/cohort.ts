/**
 * A multi-patient longitudinal phantom cohort in the tumorcast cohort format
 * (`cohort.json`, read by `readCohort` of `@tumorcast/dataset`): patients
 * with different growth and radiotherapy response, a few with only 3 or 4
 * scans, one whose radiotherapy ended before its first scan, and the
 * reference's three split modes.
 */
import { Rng, type Seed } from '@tumorcast/random';
import type { TwoPhaseParams } from './growth.js';
import { writeNifti2d } from './nifti-write.js';
import { generatePhantomPatient } from './patient.js';
import { PHANTOM_MODALITIES, type PhantomSlice } from './slice.js';
import { checkBool, checkInt, checkOptions, checkSeed } from './validate.js';

/** A split of the cohort format (the reference's patient configurations). */
export type PhantomCohortSplit =
  | { mode: 'last_n'; n: number }
  | { mode: 'remove_last_predict'; removeLast: number; predictRemaining: number }
  | { mode: 'pre_rt_points' };

/** One patient archetype of the phantom cohort. */
export interface PhantomCohortArchetype {
  /** What the patient shows, e.g. `'good responder'`. */
  description: string;
  /** Scan days (>= 0, day 0 is where the model starts). */
  days: number[];
  /** Last RT day (RT starts 42 days earlier). */
  rtEndDay: number;
  /** Two-phase model parameters (before the seeded jitter). */
  params: TwoPhaseParams;
  /** Area of the tumour's central slice at day 0, mm^2. */
  initialSize: number;
  /** The split written to `cohort.json`. */
  split: PhantomCohortSplit;
  /** Growth-model parameters the cohort file holds fixed in the fit (a series too short for the free ones). */
  fixed?: Record<string, number>;
}

/**
 * The cohort's patient archetypes, in order (`patients` beyond their number
 * repeat them with other seeds). Rates are per day; every patient's
 * parameters get a seeded jitter of up to ±15 %.
 */
export const PHANTOM_COHORT_ARCHETYPES: readonly PhantomCohortArchetype[] = Object.freeze([
  { description: 'good responder, slow regrowth', days: [0, 14, 35, 63, 100, 150, 210], rtEndDay: 56, initialSize: 700,
    params: { lambdaGr: 0.006, lambdaDecay: 0.03, delay: 15, slope: 0.15, survival: 0.08 }, split: { mode: 'last_n', n: 1 } },
  { description: 'fast regrowth after RT', days: [0, 10, 30, 60, 90, 120, 150, 180], rtEndDay: 52, initialSize: 500,
    params: { lambdaGr: 0.012, lambdaDecay: 0.04, delay: 10, slope: 0.2, survival: 0.15 }, split: { mode: 'remove_last_predict', removeLast: 1, predictRemaining: 1 } },
  { description: 'poor responder (high survival)', days: [0, 20, 50, 80, 120, 170], rtEndDay: 62, initialSize: 600,
    params: { lambdaGr: 0.008, lambdaDecay: 0.02, delay: 20, slope: 0.1, survival: 0.2 }, split: { mode: 'last_n', n: 1 } },
  { description: 'short series: 4 scans', days: [0, 60, 120, 180], rtEndDay: 50, initialSize: 800,
    params: { lambdaGr: 0.007, lambdaDecay: 0.025, delay: 15, slope: 0.15, survival: 0.1 }, split: { mode: 'last_n', n: 1 } },
  { description: 'short series: 3 scans', days: [0, 70, 160], rtEndDay: 48, initialSize: 650,
    params: { lambdaGr: 0.009, lambdaDecay: 0.03, delay: 12, slope: 0.2, survival: 0.12 }, split: { mode: 'last_n', n: 1 },
    // Two fitted scans: the decay rate is held at the paper's starting value (not this patient's), slope, delay and survival at the population values.
    fixed: { lambdaDecay: 0.02 } },
  { description: 'radiotherapy before the first scan', days: [90, 120, 160, 200, 250], rtEndDay: 52, initialSize: 900,
    params: { lambdaGr: 0.007, lambdaDecay: 0.03, delay: 15, slope: 0.15, survival: 0.15 }, split: { mode: 'last_n', n: 1 } },
  { description: 'fitted on the scans before RT', days: [0, 10, 20, 30, 90, 150], rtEndDay: 72, initialSize: 400,
    params: { lambdaGr: 0.01, lambdaDecay: 0.03, delay: 15, slope: 0.15, survival: 0.1 }, split: { mode: 'pre_rt_points' } },
  { description: 'last two scans removed (remove_last 2)', days: [0, 14, 42, 70, 100, 140, 190, 240], rtEndDay: 56, initialSize: 550,
    params: { lambdaGr: 0.008, lambdaDecay: 0.035, delay: 18, slope: 0.12, survival: 0.1 }, split: { mode: 'remove_last_predict', removeLast: 2, predictRemaining: 1 } },
]);

/** Options of {@link writePhantomCohort}. */
export interface PhantomCohortOptions {
  /**
   * Cohort seed; patient `i` gets an independent seed derived from it.
   * @defaultValue 0
   */
  seed?: Seed;
  /**
   * Number of patients: the archetypes in order ({@link PHANTOM_COHORT_ARCHETYPES}), repeated with other seeds beyond them.
   * @defaultValue 8 (each archetype once)
   */
  patients?: number;
  /**
   * Image width and height, pixels (the field of view stays 240 mm). The
   * networks see slices padded to 256 and resized, as BraTS' 240 x 240 slices
   * are: a smaller phantom shows them a smaller brain than they learnt from.
   * @defaultValue 240
   */
  size?: number;
  /**
   * Relative std of the multiplicative measurement noise on the sizes.
   * @defaultValue 0.03
   */
  measurementNoise?: number;
  /**
   * Write `.nii.gz` (true) or `.nii`.
   * @defaultValue true
   */
  gzip?: boolean;
}

/** One patient of the phantom cohort's truth (`truth.json`): what generated it. */
export interface PhantomCohortTruth {
  /** Patient id. */
  id: string;
  /** Archetype description. */
  description: string;
  /** The patient's seed. */
  seed: number;
  /** Model parameters after the jitter. */
  params: TwoPhaseParams;
  /** First and last RT day. */
  rtStartDay: number;
  /** Last RT day. */
  rtEndDay: number;
  /** Noise-free model size of the central slice per scan day, mm^2. */
  modelSizes: number[];
}

/** What {@link writePhantomCohort} wrote. */
export interface PhantomCohortResult {
  /** The cohort file (`<dir>/cohort.json`). */
  cohortFile: string;
  /** The generating truth (`<dir>/truth.json`). */
  truthFile: string;
  /** The cohort JSON as written. */
  cohort: Record<string, unknown>;
  /** Per patient, what generated it. */
  truth: PhantomCohortTruth[];
}

const FN = 'writePhantomCohort';

/** The slices written per scan: the tumour's centre (its largest section on every scan, the phantom's tumour does not move) and one 4 slices above it. */
const SLICES = [
  { slice: 80, kind: 'largest' },
  { slice: 84, kind: 'initial' },
] as const;

async function writeScanFolder(dir: string, rel: string, pid: string, s: PhantomSlice, sliceId: number, gzip: boolean): Promise<void> {
  const ext = gzip ? '.nii.gz' : '.nii';
  for (const mod of PHANTOM_MODALITIES) await writeNifti2d(`${dir}/${rel}/phantom_test_${pid}_${mod}_${sliceId}_w${ext}`, s.modalities[mod], s.width, s.height, s.pixelSpacing);
  await writeNifti2d(`${dir}/${rel}/phantom_test_${pid}_seg_${sliceId}_w${ext}`, Float32Array.from(s.label), s.width, s.height, s.pixelSpacing);
}

/**
 * Writes a synthetic longitudinal cohort in the tumorcast cohort format:
 *
 * ```text
 * <dir>/cohort.json                                  the cohort (format tumorcast-cohort, synthetic: true)
 * <dir>/truth.json                                   what generated each patient (parameters, model sizes)
 * <dir>/<pid>/d<day>/<pid>-d<day>_<slice>/phantom_test_<pid>-d<day>_<mod|seg>_<slice>_w.nii.gz
 * ```
 *
 * Patient `i` is `PH<i+1>` (two digits) of archetype `i mod 8`
 * ({@link PHANTOM_COHORT_ARCHETYPES}): good and poor responders, fast
 * regrowth, series of 3 and 4 scans, radiotherapy before the first scan,
 * and the three split modes. Every scan is rendered (240 x 240, 1 mm) at slices 80 (kind
 * `largest`) and 84 (kind `initial`) with its label in the folder. A scan's
 * `size` is the rendered tumour area of slice 80 (the largest section),
 * with measurement noise; each slice's own area is its `size`. Everything is
 * synthetic and seeded; files are written atomically.
 *
 * @param dir - output folder (created; existing files are overwritten).
 * @param options - see {@link PhantomCohortOptions}.
 * @returns the cohort and its truth (also written to files).
 * @throws RangeError naming the option when an option is invalid.
 */
export async function writePhantomCohort(dir: string, options?: PhantomCohortOptions): Promise<PhantomCohortResult> {
  if (typeof dir !== 'string' || dir.length === 0) throw new TypeError(`'dir' passed to '${FN}' must be a non-empty path`);
  const o = checkOptions(FN, 'options', options);
  const seed = checkSeed(FN, 'seed', o.seed ?? 0);
  const n = checkInt(FN, 'patients', o.patients ?? PHANTOM_COHORT_ARCHETYPES.length, 1, 99);
  const size = checkInt(FN, 'size', o.size ?? 240, 32, 512);
  const noise = o.measurementNoise ?? 0.03;
  if (!(Number.isFinite(noise) && noise >= 0 && noise < 1)) throw new RangeError(`'measurementNoise' passed to '${FN}' must be in [0, 1), got ${String(noise)}`);
  const gzip = checkBool(FN, 'gzip', o.gzip ?? true);
  const { writeFileAtomic } = await import('@tumorcast/cli/files');
  const root = new Rng(seed);
  const patients: Record<string, unknown>[] = [];
  const truth: PhantomCohortTruth[] = [];
  for (let i = 0; i < n; i++) {
    const a = PHANTOM_COHORT_ARCHETYPES[i % PHANTOM_COHORT_ARCHETYPES.length]!;
    const pSeed = root.fork(`patient-${i}`).seedInt();
    const jitter = new Rng(pSeed).fork('jitter');
    const j = () => 1 + 0.3 * (jitter.uniform() - 0.5);
    const params: TwoPhaseParams = {
      lambdaGr: a.params.lambdaGr * j(), lambdaDecay: a.params.lambdaDecay * j(), delay: a.params.delay * j(),
      slope: a.params.slope * j(), survival: Math.min(0.2, a.params.survival * j()),
    };
    const id = `PH${String(i + 1).padStart(2, '0')}`;
    const p = generatePhantomPatient({
      seed: pSeed, patientId: id, days: a.days, rtEndDay: a.rtEndDay, params, initialSize: a.initialSize * j(),
      measurementNoise: noise, sliceIds: SLICES.map((s) => s.slice), tumourCentreSlice: 80, tumourHalfHeight: 10,
      render: 'all', slice: { width: size },
    });
    const bySlice = new Map(p.slices.map((s) => [s.sliceId, s]));
    const centre = bySlice.get(80)!;
    const scans = p.days.map((day, t) => {
      const slices = [];
      for (const { slice, kind } of SLICES) {
        const s = bySlice.get(slice)!;
        const tag = `${id}-d${String(day).padStart(3, '0')}`;
        const rel = `${id}/d${String(day).padStart(3, '0')}/${tag}_${slice}`;
        slices.push({ kind, slice, folder: rel, size: +s.sizes[t]!.toFixed(4), scan: s.scans[t]!, tag });
      }
      return { day, size: +centre.sizes[t]!.toFixed(4), slices };
    });
    for (const scan of scans) for (const s of scan.slices) await writeScanFolder(dir, s.folder, s.tag, s.scan, s.slice, gzip);
    patients.push({
      id, rtStartDay: p.rtStartDay, rtEndDay: p.rtEndDay, split: a.split, ...(a.fixed ? { fixed: { ...a.fixed }, note: 'two fitted scans: lambdaDecay held at the paper\'s starting value' } : {}),
      scans: scans.map((s) => ({ day: s.day, size: s.size, slices: s.slices.map(({ kind, slice, folder, size: area }) => ({ kind, slice, folder, size: area })) })),
    });
    truth.push({ id, description: a.description, seed: pSeed, params: p.params, rtStartDay: p.rtStartDay, rtEndDay: p.rtEndDay, modelSizes: centre.modelSizes });
  }
  const cohort = {
    format: 'tumorcast-cohort', version: 1, name: `tumorcast phantom cohort (seed ${String(seed)})`, sizeUnit: 'mm²', synthetic: true,
    description: 'SYNTHETIC: phantom patients whose tumour follows the two-phase radiotherapy model (@tumorcast/phantom); not patient data.',
    patients,
  };
  const cohortFile = `${dir}/cohort.json`;
  const truthFile = `${dir}/truth.json`;
  await writeFileAtomic(cohortFile, `${JSON.stringify(cohort, null, 2)}\n`);
  await writeFileAtomic(truthFile, `${JSON.stringify({ synthetic: true, seed: String(seed), patients: truth }, null, 2)}\n`);
  return { cohortFile, truthFile, cohort, truth };
}
