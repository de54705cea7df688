/**
 * `tumorcast-predict cohort`: the pipeline's `runCohort` over a cohort file
 * (or, without one, a synthetic phantom cohort written on the spot) with
 * this CLI's flags, messages and exit codes.
 */
import path from 'node:path';
import { CliError, defineConfigSchema } from '@tumorcast/cli';
import { parseScenario } from '@tumorcast/growth-ode';
import type { TreatmentScenario } from '@tumorcast/growth-ode';
import type { BackendRequest } from '@tumorcast/nn';
import { writePhantomCohort } from '@tumorcast/phantom';
import type { SampleSettings } from '@tumorcast/pipeline';
import { runCohort, shardSlices } from '@tumorcast/pipeline/node';
import type { CohortRunResult, ModelPaths } from '@tumorcast/pipeline/node';
import { cliErrors, flagName } from './errors.js';
import { startBackend } from './backend.js';

/** The flags of `cohort` beyond the networks', sampling and growth-fit ones. */
export const COHORT_KEYS = defineConfigSchema({
  cohort: { type: 'string', description: 'cohort file (cohort.json: per patient sizes, RT days, split, slice folders); default: a synthetic phantom cohort written to <out>/data', optional: true },
  out: { type: 'string', description: 'output folder' },
  shard: { type: 'string', description: 'process shard i/n of the patients (e.g. a SLURM array task); the last to finish writes the tables', optional: true },
  skip_invalid: { type: 'boolean', description: 'leave out patients with problems (named in the log and the report); without it any problem stops the run before anything is computed', default: false },
  overwrite: { type: 'boolean', description: "recompute patients whose earlier results in --out were made with other settings or inputs, instead of refusing", default: false },
  scenario: {
    type: 'string',
    description: "treatment what-ifs, ';'-separated, each name:key=value,... with keys shift (days), start (day), course (days), survival, alpha, or name:no-rt; e.g. 'later:shift=14;none:no-rt' (model extrapolations)",
    optional: true,
  },
  phantom_patients: { type: 'integer', description: 'patients of the phantom cohort written when --cohort is not given', default: 8, min: 1, max: 99 },
  phantom_seed: { type: 'integer', description: 'seed of that phantom cohort', default: 0, min: 0 },
});

/** Runs per probability map on the built-in phantom cohort when `--samples` is not given. */
export const PHANTOM_COHORT_SAMPLES = 2;

/** What `cohort` reads from its resolved config. */
export interface CohortCommandConfig {
  cohort?: string;
  out: string;
  shard?: string;
  skip_invalid: boolean;
  overwrite: boolean;
  scenario?: string;
  phantom_patients: number;
  phantom_seed: number;
  bootstrap: number;
  growth_objective: 'least-squares' | 'reference';
  bootstrap_noise: 'symmetric' | 'reference';
  noise_level: number;
  scale: number;
  respacing: string;
  eta: number;
  seed: number;
  amplify_early_target: boolean;
  initial_noise_std: number;
  samples: number;
  output_mode: 'residual' | 'upsampled';
  baseline_burden: 'label' | 'regressor';
  /** The guiding network (`--guidance`). */
  guidance: 'regressor' | 'segmenter';
  /** The segmenter guidance's gradient temperature (`--gradient-temperature`). */
  gradient_temperature: number;
  /** The segmenter guidance's gradient margin in pixels (`--gradient-margin`; checked by the caller); absent: everywhere. @defaultValue undefined */
  gradient_margin?: number;
}

/**
 * The scenarios of `--scenario` (`;`-separated, see `parseScenario` of `@tumorcast/growth-ode`).
 *
 * @throws CliError (exit code 2) naming the bad scenario.
 */
export function scenariosOf(raw: string | undefined): TreatmentScenario[] {
  if (raw === undefined || !raw.trim()) return [];
  const out: TreatmentScenario[] = [];
  for (const part of raw.split(';').map((s) => s.trim()).filter(Boolean)) {
    try {
      out.push(parseScenario(part));
    } catch (e) {
      throw new CliError(`--scenario: ${(e as Error).message}`);
    }
  }
  const seen = new Set<string>();
  for (const s of out) {
    if (seen.has(s.name)) throw new CliError(`--scenario: the name '${s.name}' is given twice; each scenario needs its own name`);
    seen.add(s.name);
  }
  return out;
}

/**
 * Runs `tumorcast-predict cohort`: checks the flags, writes the phantom
 * cohort when no `--cohort` is given, starts the backend and runs the cohort.
 *
 * @param c - the resolved config.
 * @param o - the networks, the backend, the log and the map workers (`--workers`).
 * @throws CliError: exit code 2 for bad flags or an output folder holding other results, 1 for a cohort with problems.
 */
export async function cohortCommand(
  c: CohortCommandConfig, o: { models: ModelPaths; backend: BackendRequest; log: (m: string) => void; samplesGiven?: boolean; workers?: number | 'auto' },
): Promise<CohortRunResult> {
  const scenarios = scenariosOf(c.scenario);
  await cliErrors(() => shardSlices([], c.shard, flagName));
  let cohort = c.cohort;
  let samples = c.samples;
  if (cohort === undefined) {
    // The built-in cohort is a first look (16 slices): fewer map runs keep it to minutes.
    if (!o.samplesGiven) samples = PHANTOM_COHORT_SAMPLES;
    const data = path.join(c.out, 'data');
    o.log(`no --cohort: writing a synthetic phantom cohort of ${c.phantom_patients} patient(s) to ${data}${o.samplesGiven ? '' : `; ${samples} runs per probability map (--samples to change)`}`);
    cohort = (await writePhantomCohort(data, { seed: c.phantom_seed, patients: c.phantom_patients })).cohortFile;
  }
  const settings: SampleSettings = {
    noiseLevel: c.noise_level, scale: c.scale, respacing: c.respacing, eta: c.eta, seed: c.seed, amplifyEarlyTarget: c.amplify_early_target,
    initialNoiseStd: c.initial_noise_std, samples, outputMode: c.output_mode, baselineBurden: c.baseline_burden, guidance: c.guidance,
    gradientTemperature: c.gradient_temperature, gradientMarginPixels: c.gradient_margin ?? Infinity,
  };
  await startBackend(o.backend, o.models, o.log);
  const r = await cliErrors(() => runCohort({
    cohort: cohort!, out: c.out, models: o.models, settings, replicates: c.bootstrap, objective: c.growth_objective, bootstrapNoise: c.bootstrap_noise,
    scenarios, ...(c.shard !== undefined ? { shard: c.shard } : {}), skipInvalid: c.skip_invalid, overwrite: c.overwrite, names: flagName, log: o.log,
    workers: o.workers ?? 'auto',
  }));
  o.log(r.summarised ? `done: ${path.join(c.out, 'cohort.html')}` : `done: shard ${c.shard ?? ''} of ${c.out}`);
  return r;
}
