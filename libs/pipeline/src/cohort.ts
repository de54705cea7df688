/**
 * The paper's evaluation over a longitudinal cohort (`cohort.json` of
 * `@tumorcast/dataset`): per patient, the growth model fitted on the scans
 * its split allows, each baseline slice's follow-up predicted (guided
 * sample and probability map) towards the predicted growth and scored
 * against the real follow-up — the unchanged baseline scored alongside —,
 * optional treatment scenarios, then the cohort's tables (CSV) and report.
 * Resumable (a patient whose `result.json` matches is skipped) and
 * shardable (`i/n` over the patients).
 */
import { createHash } from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { encodePng, sha256File, writeFileAtomicSync } from '@tumorcast/cli';
import { CohortError, DatasetError, formatCohortProblem, loadSample, readCohort } from '@tumorcast/dataset';
import type { Cohort, CohortPatient, CohortSlice } from '@tumorcast/dataset';
import { TooFewPointsError, fitPatient, plotGrowth, predictScenarios, splitSeries, twoPhaseRtModel, TWO_PHASE_SHORT_SERIES } from '@tumorcast/growth-ode';
import type { PatientFit, SeriesSplit, TreatmentScenario, TwoPhaseParams } from '@tumorcast/growth-ode';
import { OutputFolderError, PipelineDataError, PipelineInputError, apiOptionName } from './errors.js';
import type { OptionNamer } from './errors.js';
import type { FollowupTruth } from './evaluate.js';
import { scoreSlice } from './evaluate.js';
import { loadModels } from './models.js';
import type { ModelPaths } from './models.js';
import type { PredictionNetworks } from './networks.js';
import { segmenterOf } from './networks.js';
import { OUTLINE_COLORS, probabilityOverlay, previewGrid, writePng } from './outputs.js';
import { predictSlice } from './predict.js';
import { MapPool, resolveMapWorkers } from './parallel-map.js';
import { modelsProvenance } from './provenance.js';
import { renderReport, reportSlice } from './report.js';
import type { ReportSlice } from './report.js';
import { DEFAULT_SAMPLE_SETTINGS, checkSettingsFit, guidanceSummary, recordJson, samplingDiffusion, settingsForRecord } from './settings.js';
import type { SampleSettings } from './settings.js';
import { checkSlices, loadPredictionSlice, shardSlices } from './slices.js';
import {
  SCENARIO_DISCLAIMER, cohortGrowthCsv, cohortParamsCsv, cohortPatientsCsv, cohortScenariosCsv, cohortSlicesCsv, cohortTable, cohortTableCsv,
  renderCohortReport, scenarioChartSvg,
} from './cohort-report.js';
import type { CohortPatientResult, CohortScenarioResult, CohortSliceResult } from './cohort-report.js';

/** Progress of {@link runCohort}: one event per patient and step. */
export interface CohortProgress {
  /** 1-based index of the patient in this run (shard). */
  index: number;
  /** Patients of this run. */
  total: number;
  /** Patient id. */
  patient: string;
  /** The step: `'fit growth'`, `'slice <key>'`, `'scenario <name>'`, `'done'`, `'skipped (done before)'`. */
  step: string;
}

/** Options of {@link runCohort}. */
export interface RunCohortOptions {
  /** The cohort file (`cohort.json`). */
  cohort: string;
  /** Output folder (created when missing). */
  out: string;
  /** The network files. */
  models: ModelPaths;
  /**
   * Sampling settings; missing ones take their defaults (`seed` also seeds the growth bootstrap).
   * @defaultValue DEFAULT_SAMPLE_SETTINGS
   */
  settings?: Partial<SampleSettings>;
  /**
   * Bootstrap fits of the growth model per patient.
   * @defaultValue 30
   */
  replicates?: number;
  /**
   * Growth fit objective (`'reference'`: the reference code's squared residuals).
   * @defaultValue 'least-squares'
   */
  objective?: 'least-squares' | 'reference';
  /**
   * Bootstrap noise (`'reference'`: the reference code's clipped noise).
   * @defaultValue 'symmetric'
   */
  bootstrapNoise?: 'symmetric' | 'reference';
  /**
   * Treatment scenarios per patient: each gets its growth curve, and a guided
   * follow-up and probability map per slice.
   * @defaultValue [] (none)
   */
  scenarios?: readonly TreatmentScenario[];
  /**
   * Only shard `i/n` of the patients (round robin over the sorted ids).
   * @defaultValue undefined (all)
   */
  shard?: string;
  /**
   * Leave out patients with problems (named in the log and the report) instead
   * of stopping; without it any problem stops the run before anything is computed.
   * @defaultValue false
   */
  skipInvalid?: boolean;
  /**
   * Recompute patients whose earlier result was made with other settings or inputs, instead of refusing.
   * @defaultValue false
   */
  overwrite?: boolean;
  /** Report title. @defaultValue the cohort's name */
  title?: string;
  /** Receives log lines: one per patient and step, warnings, what was written. @defaultValue none */
  log?: (message: string) => void;
  /** Receives one event per patient and step. @defaultValue undefined */
  onProgress?: (p: CohortProgress) => void;
  /** How messages name the options. @defaultValue apiOptionName */
  names?: OptionNamer;
  /**
   * Worker threads that compute the probability maps (see `RunDatasetOptions.workers`).
   * @defaultValue 'auto'
   */
  workers?: number | 'auto';
  /**
   * A started pool to compute the maps with; the run does not close it. Overrides `workers`.
   * @defaultValue undefined (the run starts and closes its own, per `workers`)
   */
  mapPool?: MapPool;
}

/** A checked patient: what {@link runCohort} computes for it. */
interface PatientPlan {
  patient: CohortPatient;
  split: SeriesSplit;
  baseline: number;
  followup: number;
  pairs: { key: string; kind: string; slice: number; baseline: CohortSlice; followup: CohortSlice }[];
}

/** What {@link runCohort} returns. */
export interface CohortRunResult {
  /** The finished patients of this run (including those done before). */
  patients: CohortPatientResult[];
  /** Patients left out with `skipInvalid`, and why. */
  skipped: { patient: string; reason: string }[];
  /** Whether the cohort's tables and report were written (every patient finished). */
  summarised: boolean;
}

const CONTAINED = (id: string) => id.replace(/[^A-Za-z0-9_.-]+/g, '_');

function describeSplit(s: SeriesSplit): string {
  if (s.mode === 'last_n') return `last_n (n = ${s.n})`;
  if (s.mode === 'remove_last_predict') return `remove_last_predict (removeLast = ${s.removeLast}, predictRemaining = ${s.predictRemaining})`;
  return 'pre_rt_points';
}

/** The fewest fitted scans the two-phase model takes with its population values and the patient's held parameters. */
function minFitted(fixed: Readonly<Record<string, number>> | undefined): number {
  const held = new Set(Object.keys(fixed ?? {}));
  const fallback = TWO_PHASE_SHORT_SERIES.order.filter((k) => !held.has(k)).length;
  return Math.max(1, twoPhaseRtModel.paramNames.length - held.size - fallback);
}

/** Checks one patient's split, days, slice pairs and their files; returns its plan or its problems. */
async function planPatient(p: CohortPatient): Promise<{ plan?: PatientPlan; problems: string[] }> {
  const problems: string[] = [];
  const times = p.scans.map((s) => s.day);
  let ix;
  try {
    ix = splitSeries(times, p.split, p.rtStartDay);
  } catch (e) {
    return { problems: [`split: ${(e as Error).message}`] };
  }
  const names = twoPhaseRtModel.paramNames as readonly string[];
  const unknown = Object.keys(p.fixed ?? {}).filter((k) => !names.includes(k));
  if (unknown.length) problems.push(`fixed: unknown parameter(s) ${unknown.join(', ')} of the two-phase model (${names.join(', ')})`);
  const need = minFitted(p.fixed);
  if (ix.fit.length < need) {
    problems.push(`split: ${describeSplit(p.split)} leaves ${ix.fit.length} fitted scan(s); the two-phase model needs at least ${need} (with slope, delay and survival at population values`
      + `${p.fixed ? ` and ${Object.keys(p.fixed).join(', ')} held` : ''}): hold more parameters with the patient's "fixed" field, or fit more scans`);
  }
  const held = ix.heldOut.map((i) => times[i]!);
  const followup = p.followupDay ?? held[0]!;
  if (!held.includes(followup)) problems.push(`followupDay: ${followup} is not a held-out scan day of split ${describeSplit(p.split)} (held out: ${held.join(', ')})`);
  const baseline = times[ix.fit.at(-1)!]!;
  const bScan = p.scans[ix.fit.at(-1)!]!;
  const fScan = p.scans[times.indexOf(followup)];
  const pairs: PatientPlan['pairs'] = [];
  if (fScan) {
    for (const b of bScan.slices) {
      const f = fScan.slices.find((s) => s.key === b.key);
      if (f) pairs.push({ key: b.key, kind: b.kind, slice: b.slice, baseline: b, followup: f });
    }
  }
  if (!pairs.length && !problems.length) problems.push(`no slice is on both the baseline scan (day ${baseline}: ${bScan.slices.map((s) => s.key).join(', ') || 'none'}) and the follow-up scan (day ${followup}: ${fScan?.slices.map((s) => s.key).join(', ') || 'none'}); nothing to predict and score`);
  for (const pr of pairs) {
    if (!pr.followup.info?.label) problems.push(`slice ${pr.key}: the follow-up folder ${pr.followup.folder} has no label (a '_seg_' file): the real follow-up needs one for scoring`);
  }
  if (!problems.length) {
    try {
      const infos = pairs.flatMap((pr) => [pr.baseline.info!, pr.followup.info!]);
      const checked = await checkSlices(infos);
      for (let i = 0; i < pairs.length; i++) {
        const [b, f] = [checked[2 * i]!, checked[2 * i + 1]!];
        if (b.width !== f.width || b.height !== f.height) problems.push(`slice ${pairs[i]!.key}: the baseline is ${b.width}x${b.height} pixels but the follow-up ${f.width}x${f.height}; the two scans of a slice must be registered to one grid`);
      }
    } catch (e) {
      problems.push((e as Error).message);
    }
  }
  return problems.length ? { problems } : { plan: { patient: p, split: p.split, baseline, followup, pairs }, problems };
}

function hashOf(value: unknown): string {
  return createHash('sha256').update(JSON.stringify(value)).digest('hex');
}


/** Everything that determines a patient's result. */
function patientProvenance(plan: PatientPlan, common: unknown): string {
  const p = plan.patient;
  return hashOf({
    common,
    patient: { id: p.id, rt: [p.rtStartDay, p.rtEndDay], split: p.split, followupDay: plan.followup, fixed: p.fixed ?? null, scans: p.scans.map((s) => [s.day, s.size]) },
    slices: plan.pairs.map((pr) => [pr.key, ...[pr.baseline.info!, pr.followup.info!].flatMap((i) => [...Object.values(i.files).map(sha256File), i.label ? sha256File(i.label) : ''])]),
  });
}

async function loadFollowup(s: CohortSlice): Promise<FollowupTruth> {
  try {
    const t = await loadSample(s.info!, { size: null, layout: 'hwc', label: true });
    return { image: t.image, label: t.label as Uint8Array };
  } catch (e) {
    throw new PipelineDataError(`real follow-up ${(e as Error).message}`, { cause: e });
  }
}

function readResult(file: string): CohortPatientResult | undefined {
  try {
    return JSON.parse(fs.readFileSync(file, 'utf8')) as CohortPatientResult;
  } catch {
    return undefined;
  }
}

function checkOptions(o: RunCohortOptions): void {
  const fn = 'runCohort';
  if (!o || typeof o !== 'object') throw new TypeError(`'options' passed to '${fn}' must be an object`);
  for (const k of ['cohort', 'out'] as const) if (typeof o[k] !== 'string' || !o[k]) throw new TypeError(`'${k}' passed to '${fn}' must be a path`);
  if (!o.models || typeof o.models.diffusion !== 'string' || typeof o.models.regressor !== 'string') throw new TypeError(`'models' passed to '${fn}' must name the 'diffusion' and 'regressor' files`);
  const r = o.replicates ?? 30;
  if (!Number.isInteger(r) || r < 1) throw new RangeError(`'replicates' passed to '${fn}' must be an integer >= 1, got ${r}`);
  if (o.scenarios !== undefined && !Array.isArray(o.scenarios)) throw new TypeError(`'scenarios' passed to '${fn}' must be an array`);
  const names = new Set<string>();
  for (const s of o.scenarios ?? []) {
    if (names.has(s.name)) throw new RangeError(`'scenarios' passed to '${fn}' name '${s.name}' twice: each needs its own name`);
    names.add(s.name);
  }
}

/**
 * Runs the paper's evaluation over a cohort and writes, under `out`:
 *
 * ```text
 * patients/<id>/result.json     the patient's growth fit, slices' scores and scenarios (written last: a rerun skips the patient when it matches)
 * patients/<id>/report.html     the patient's page: growth plot, slices (baseline, prediction, real follow-up, map), scenarios
 * patients/<id>/<slice>/        preview.png, probability.png (and scenario-<i>.png per scenario)
 * slices.csv                    per slice: MSE, PSNR, SSIM, Dice, HD95 ... of the prediction and of the unchanged baseline; map Brier, Dice/HD95 at thresholds
 * patients.csv                  per patient: the mean over its slices
 * cohort_table.csv              per metric: mean ± sd of prediction and baseline, Wilcoxon p (per slice, per patient), n slices and patients
 * growth.csv, params.csv        growth-fit quality (R², nRMSE, held-out nRMSE) and bootstrap parameter distributions per patient
 * scenarios.csv                 the treatment scenarios (when given)
 * cohort.json, cohort.html      all of it, and the self-contained summary page linking the patients' pages
 * ```
 *
 * Every patient is checked first — the cohort file (`readCohort`), its
 * split and follow-up day, that each slice pair's files decode with finite
 * values and matching sizes and that each follow-up has a label: a problem
 * stops the run before anything is computed, naming the patient, unless
 * `skipInvalid` leaves that patient out. Per patient: the two-phase model is
 * bootstrapped on its fitted scans (population values for 3–5 scans), the
 * relative change from the baseline (last fitted scan) to the follow-up day
 * guides the sampler on each baseline slice (`predictSlice`), and the
 * prediction and the unchanged baseline are scored against the real
 * follow-up (`scoreSlice`). With shards, the tables and report are written
 * by whichever shard finds every patient finished.
 *
 * @example
 * ```ts
 * import { runCohort } from '@tumorcast/pipeline/node';
 * const r = await runCohort({
 *   cohort: 'cohort/cohort.json', out: 'out/cohort',
 *   models: { diffusion: 'diffusion.safetensors', regressor: 'regressor.safetensors' },
 *   settings: { samples: 16 }, scenarios: [{ name: 'no RT', noRt: true }], log: console.log,
 * });
 * ```
 *
 * @param o - see {@link RunCohortOptions}.
 * @returns the finished patients, the skipped ones, and whether the summaries were written.
 * @throws PipelineInputError for a missing cohort file or bad options; PipelineDataError naming every problem of the cohort (without `skipInvalid`); OutputFolderError for results made with other settings (without `overwrite`).
 */
export async function runCohort(o: RunCohortOptions): Promise<CohortRunResult> {
  checkOptions(o);
  const names = o.names ?? apiOptionName;
  const log = o.log ?? (() => undefined);
  const skipInvalid = o.skipInvalid ?? false;
  if (!fs.existsSync(o.cohort)) throw new PipelineInputError(`${names('cohort', o.cohort)}: file not found`);
  let cohort: Cohort;
  try {
    cohort = await readCohort(o.cohort, { skipInvalid });
  } catch (e) {
    if (e instanceof CohortError) {
      throw new PipelineDataError(`${e.message}\n${skipInvalid ? 'no valid patient is left' : `nothing was computed; fix these, or leave the patients with problems out with ${names('skipInvalid')}`}`, { cause: e });
    }
    if (e instanceof DatasetError) throw new PipelineDataError(e.message, { cause: e });
    throw e;
  }
  const skipped = cohort.skipped.map((s) => ({ patient: s.patient, reason: s.problems.map(formatCohortProblem).join('; ') }));
  for (const s of skipped) log(`warning: skipping patient ${s.patient}: ${s.reason}`);

  // Every patient is checked before anything is computed.
  const plans: PatientPlan[] = [];
  const problems: string[] = [];
  for (const p of cohort.patients) {
    const r = await planPatient(p);
    if (r.plan) plans.push(r.plan);
    else {
      const reason = r.problems.join('; ');
      if (skipInvalid) {
        skipped.push({ patient: p.id, reason });
        log(`warning: skipping patient ${p.id}: ${reason}`);
      } else {
        problems.push(...r.problems.map((x) => `${cohort.file}: patient ${p.id}: ${x}`));
      }
    }
  }
  if (problems.length) {
    throw new PipelineDataError(`${problems.length === 1 ? '1 problem' : `${problems.length} problems`} in the cohort:\n${problems.map((x) => `  ${x}`).join('\n')}\nnothing was computed; fix these, or leave the patients with problems out with ${names('skipInvalid')}`);
  }
  if (!plans.length) throw new PipelineDataError(`${cohort.file}: no valid patient left to run`);
  const mine = shardSlices(plans.map((p) => ({ ...p, id: p.patient.id })), o.shard, names);

  const settings: SampleSettings = { ...DEFAULT_SAMPLE_SETTINGS, ...o.settings };
  const growthOptions = { replicates: o.replicates ?? 30, objective: o.objective ?? 'least-squares', bootstrapNoise: o.bootstrapNoise ?? 'symmetric', normalize: true, shortSeries: 'population', seed: settings.seed } as const;
  const scenarios = [...(o.scenarios ?? [])];
  // Settings added later are left out at the values earlier results were made with: those results stay valid.
  const common = { settings: settingsForRecord(settings), growth: growthOptions, models: modelsProvenance(o.models, names), scenarios };
  const provenance = new Map(plans.map((p) => [p.patient.id, patientProvenance(p, common)]));
  fs.mkdirSync(o.out, { recursive: true });
  const resultFile = (id: string) => path.join(o.out, 'patients', CONTAINED(id), 'result.json');
  const failedFile = (id: string) => path.join(o.out, 'patients', CONTAINED(id), 'failed.json');
  const done = new Map<string, CohortPatientResult>();
  const stale: string[] = [];
  for (const p of mine) {
    const r = readResult(resultFile(p.id));
    if (!r) continue;
    if (r.provenance === provenance.get(p.id)) done.set(p.id, r);
    else stale.push(p.id);
  }
  if (stale.length && !(o.overwrite ?? false)) {
    throw new OutputFolderError(`${names('out', o.out)} holds results of patient(s) ${stale.join(', ')} made with other settings, networks, scenarios or input files; `
      + `use another ${names('out')}, or recompute them with ${names('overwrite')}`);
  }

  let networks: PredictionNetworks | undefined;
  let pool = o.mapPool;
  const finished: CohortPatientResult[] = [];
  const failed = new Set<string>();
  try {
    for (const [i, plan] of mine.entries()) {
      const id = plan.patient.id;
      const progress = (step: string) => {
        log(`patient ${i + 1}/${mine.length} ${id}: ${step}`);
        o.onProgress?.({ index: i + 1, total: mine.length, patient: id, step });
      };
      const before = done.get(id);
      if (before) {
        progress('skipped (done before)');
        finished.push(before);
        continue;
      }
      fs.rmSync(failedFile(id), { force: true });
      fs.mkdirSync(path.dirname(failedFile(id)), { recursive: true });
      if (!networks) {
        networks = await loadModels(o.models, { names });
        checkSettingsFit(networks, settings, o.models.diffusion, names);
        log(`models: diffusion ${o.models.diffusion}, regressor ${o.models.regressor}, segmenter ${o.models.segmenter ?? 'FLAIR (training-free)'}; network size ${networks.imageSize}x${networks.imageSize}`);
        if (!pool && settings.samples >= 2) {
          const w = resolveMapWorkers({ workers: o.workers ?? 'auto', samples: settings.samples, imageSize: networks.imageSize, models: o.models, names });
          log(`map workers: ${w.reason}`);
          if (w.warning) log(`warning: ${w.warning}`);
          if (w.workers > 1) pool = await MapPool.start({ models: o.models, workers: w.workers });
        }
      }
      try {
        finished.push(await runPatient({ ...o, mapPool: pool }, plan, networks, settings, growthOptions, scenarios, provenance.get(id)!, progress, cohort.sizeUnit, names));
      } catch (e) {
        if (!(e instanceof PipelineDataError)) throw e;
        const reason = e.message.includes(`patient ${id}`) || e.message.includes(`patient '${id}'`) ? e.message : `patient ${id}: ${e.message}`;
        // A patient whose data fail only while computing (e.g. a growth fit) is left out like one that failed the checks, and
        // recorded, so that the shard finishing the cohort leaves it out of the tables too.
        if (!skipInvalid) throw new PipelineDataError(`${reason}\nthe patients before it are finished (a rerun skips them); leave this one out with ${names('skipInvalid')}`, { cause: e });
        skipped.push({ patient: id, reason });
        failed.add(id);
        writeFileAtomicSync(failedFile(id), `${JSON.stringify({ id, provenance: provenance.get(id), reason }, null, 2)}\n`);
        log(`warning: skipping patient ${id}: ${reason}`);
      }
    }
  } finally {
    if (pool !== o.mapPool) await pool?.close();
    networks?.dispose();
  }

  // The summaries, once every patient of the cohort is finished or has failed (in this run or in other shards).
  for (const p of plans) {
    if (failed.has(p.patient.id)) continue;
    const f = readResult(failedFile(p.patient.id)) as unknown as { provenance?: string; reason?: string } | undefined;
    if (f && f.provenance === provenance.get(p.patient.id) && f.reason) {
      failed.add(p.patient.id);
      skipped.push({ patient: p.patient.id, reason: f.reason });
    }
  }
  const all = plans.filter((p) => !failed.has(p.patient.id)).map((p) => {
    const r = readResult(resultFile(p.patient.id));
    return r && r.provenance === provenance.get(p.patient.id) ? r : undefined;
  });
  const summarised = all.every((r) => r !== undefined);
  if (summarised) {
    writeSummaries(o, cohort, all as CohortPatientResult[], skipped, settings, log);
  } else {
    const left = plans.filter((p) => !failed.has(p.patient.id)).filter((_, k) => !all[k]).map((p) => p.patient.id);
    log(`shard ${o.shard ?? '1/1'} is done; ${left.length} patient(s) are not finished yet (${left.slice(0, 5).join(', ')}${left.length > 5 ? ', ...' : ''}): the shard that finishes the last one writes the tables and cohort.html`);
  }
  return { patients: finished, skipped, summarised };
}

type GrowthOptions = { replicates: number; objective: 'least-squares' | 'reference'; bootstrapNoise: 'symmetric' | 'reference'; normalize: true; shortSeries: 'population'; seed: number };

/** Fits, predicts, scores and (with scenarios) simulates one patient; writes its folder and `result.json` last. */
async function runPatient(
  o: RunCohortOptions, plan: PatientPlan, networks: PredictionNetworks, settings: SampleSettings, g: GrowthOptions,
  scenarios: TreatmentScenario[], provenance: string, progress: (step: string) => void, sizeUnit: string | undefined, names: OptionNamer,
): Promise<CohortPatientResult> {
  const t0 = performance.now();
  const p = plan.patient;
  const dir = path.join(o.out, 'patients', CONTAINED(p.id));
  fs.mkdirSync(dir, { recursive: true });
  progress(`fit growth (split ${describeSplit(plan.split)}, baseline day ${plan.baseline}, follow-up day ${plan.followup})`);
  let fit: PatientFit<TwoPhaseParams>;
  try {
    fit = fitPatient(twoPhaseRtModel, { id: p.id, times: p.scans.map((s) => s.day), sizes: p.scans.map((s) => s.size), rtStartDay: p.rtStartDay, split: plan.split, followupDay: plan.followup }, { ...g, ...(p.fixed ? { fixed: p.fixed as Partial<TwoPhaseParams> } : {}) });
  } catch (e) {
    if (e instanceof TooFewPointsError || e instanceof RangeError) throw new PipelineDataError(`${o.cohort}: ${(e as Error).message}`, { cause: e });
    throw e;
  }
  if (fit.result.notice) progress(`note: ${fit.result.notice}`);
  const d = fit.relativeChange;
  if (!Number.isFinite(d) || d < -1) throw new PipelineDataError(`${o.cohort}: patient ${p.id}: the predicted relative change is ${d}; the growth fit cannot guide the sampler`);
  const diffusion = samplingDiffusion(networks, settings);
  const segmenter = segmenterOf(networks);
  const what = scenarios.length ? predictScenarios(fit.result, scenarios, { baselineDay: fit.baselineDay, followupDay: fit.followupDay }) : [];
  const slices: CohortSliceResult[] = [];
  const sections: ReportSlice[] = [];
  const scenarioSlices: CohortScenarioResult['slices'][] = what.map(() => []);
  const scenarioImages: string[][] = what.map(() => []);
  for (const pr of plan.pairs) {
    const ts = performance.now();
    progress(`slice ${pr.key}: predict (d = ${d.toFixed(3)})`);
    const slice = await loadPredictionSlice(pr.baseline.info!, networks.imageSize);
    const pred = await predictSlice(networks, slice, d, { settings, diffusion, segmenter, mapRunner: o.mapPool?.runner(`${p.id}/${pr.key}`) });
    progress(`slice ${pr.key}: score`);
    const truth = await loadFollowup(pr.followup);
    const scores = scoreSlice(`${p.id}/${pr.key}`, { image: pred.followupNative, mask: pred.followupMaskNative, probability: pred.probabilityNative },
      { image: slice.native, mask: pred.baselineMaskNative }, truth, slice.width, slice.height, slice.spacing);
    const sdir = path.join(dir, CONTAINED(pr.key));
    fs.mkdirSync(sdir, { recursive: true });
    writePng(path.join(sdir, 'preview.png'), previewGrid(slice, pred.followupNative, pred.probabilityNative, truth.image));
    writePng(path.join(sdir, 'probability.png'), probabilityOverlay(slice.native, pred.probabilityNative, slice.width, slice.height, [{ mask: pred.baselineMaskNative, color: OUTLINE_COLORS.baseline }]));
    slices.push({
      key: pr.key, kind: pr.kind, slice: pr.slice, folders: { baseline: pr.baseline.folder, followup: pr.followup.folder }, relativeChange: d,
      burdens: { baseline: pred.baselineBurden, target: pred.targetBurden, predicted: pred.predictedBurden, source: pred.baselineBurdenSource },
      scores, seconds: (performance.now() - ts) / 1000,
    });
    sections.push(reportSlice({
      id: `${p.id} ${pr.key}`, width: slice.width, height: slice.height, baseline: slice.native, predicted: pred.followupNative, probability: pred.probabilityNative,
      truth, baselineMask: pred.baselineMaskNative, baselineMaskSource: pred.baselineMaskSource,
      burdens: { baseline: pred.baselineBurden, target: pred.targetBurden, predicted: pred.predictedBurden },
      facts: {
        'baseline → follow-up day': `${fit.baselineDay} → ${fit.followupDay}`,
        'relative change d (growth model)': `${d.toFixed(3)} [${fit.relativeChangeBand.map((v) => v.toFixed(3)).join(', ')}]`,
        'true relative change (sizes)': fit.observedChange.toFixed(3),
        'baseline burden r0': `${pred.baselineBurden.toFixed(4)} (${pred.baselineBurdenSource})`,
        'target burden r*': pred.targetBurden.toFixed(4),
        'regressor on the prediction': pred.predictedBurden.toFixed(4),
      },
      scores,
    }));
    const pixel = slice.spacing[0] * slice.spacing[1];
    for (const [k, w] of what.entries()) {
      progress(`slice ${pr.key}: scenario '${w.scenario.name}' (d = ${w.relativeChange.toFixed(3)})`);
      if (!Number.isFinite(w.relativeChange) || w.relativeChange < -1) {
        scenarioSlices[k]!.push({ key: pr.key, targetBurden: Number.NaN, predictedBurden: Number.NaN, mapArea: Number.NaN });
        continue;
      }
      const sp = await predictSlice(networks, slice, w.relativeChange, { settings, diffusion, segmenter, mapRunner: o.mapPool?.runner(`${p.id}/${pr.key} (scenario '${w.scenario.name}')`) });
      let n = 0;
      for (const v of sp.probabilityNative) if (v >= 0.5) n++;
      scenarioSlices[k]!.push({ key: pr.key, targetBurden: sp.targetBurden, predictedBurden: sp.predictedBurden, mapArea: n * pixel });
      const img = probabilityOverlay(slice.native, sp.probabilityNative, slice.width, slice.height, [{ mask: pred.baselineMaskNative, color: OUTLINE_COLORS.baseline }]);
      writePng(path.join(sdir, `scenario-${k + 1}.png`), img);
      scenarioImages[k]!.push(`<figure><img alt="${escAttr(`${pr.key} ${w.scenario.name}`)}" src="data:image/png;base64,${Buffer.from(encodePng(img)).toString('base64')}"><figcaption>${escAttr(pr.key)}</figcaption></figure>`);
    }
  }
  const scenarioResults: CohortScenarioResult[] = what.map((w, k) => ({
    name: w.scenario.name, scenario: { ...w.scenario }, ...(w.rtStartDay !== undefined ? { rtStartDay: w.rtStartDay } : {}),
    followup: w.followup, relativeChange: w.relativeChange, caveats: w.caveats, times: w.times, median: w.median, slices: scenarioSlices[k]!,
  }));
  const ps = fit.result.paramSummary;
  const result: CohortPatientResult = {
    id: p.id, provenance, split: describeSplit(plan.split),
    scans: { fitted: fit.indices.fit.length, heldOut: fit.indices.heldOut.length, dropped: fit.indices.removed.length },
    rt: { start: p.rtStartDay, end: p.rtEndDay }, baselineDay: fit.baselineDay, followupDay: fit.followupDay,
    growth: {
      observed: fit.observed, predicted: fit.predicted, followupBand: [...fit.followupBand], relativeChange: d, relativeChangeBand: [...fit.relativeChangeBand],
      observedChange: fit.observedChange, r2: fit.quality.r2, nrmse: fit.quality.nrmse, heldOutNrmse: fit.heldOut.nrmse,
      heldByFallback: [...fit.result.heldByFallback], ...(fit.result.notice ? { notice: fit.result.notice } : {}),
      params: Object.fromEntries(Object.entries(ps).map(([k, v]) => [k, { median: v.median, lower: v.lower, upper: v.upper }])), nFits: fit.result.fits.length,
    },
    slices, scenarios: scenarioResults, seconds: 0,
  };
  // The patient's page.
  const growthSvg = plotGrowth(fit.result, {
    until: Math.max(fit.followupDay, p.scans.at(-1)!.day),
    markers: [{ day: fit.baselineDay, label: 'baseline' }, { day: fit.followupDay, label: 'follow-up' }],
    yLabel: `tumour size${sizeUnit ? ` (${sizeUnit})` : ''}`,
    points: [
      { day: fit.followupDay, size: fit.predicted.followup, label: 'predicted follow-up', shape: 'diamond', color: '#e76f51' },
      { day: fit.followupDay, size: fit.observed.followup, label: 'real follow-up', shape: 'square', color: '#2a9d8f' },
      ...fit.indices.removed.map((ri) => ({ day: p.scans[ri]!.day, size: p.scans[ri]!.size, label: 'dropped by the split', shape: 'square' as const, color: '#999' })),
    ],
  });
  let html = renderReport({
    title: `${o.title ?? 'tumorcast cohort'}: patient ${p.id}`,
    summary: [
      `split ${describeSplit(plan.split)}: ${result.scans.fitted} scan(s) fitted, ${result.scans.heldOut} held out, ${result.scans.dropped} dropped; RT days ${p.rtStartDay}–${p.rtEndDay}`,
      `growth fit: R² ${fit.quality.r2.toFixed(3)}, nRMSE ${fit.quality.nrmse.toFixed(3)} (fitted scans), held-out nRMSE ${fit.heldOut.nrmse.toFixed(3)}; ${fit.result.fits.length} bootstrap fits`,
      ...(fit.result.notice ? [fit.result.notice] : []),
    ],
    growth: [{ caption: `${p.id}: measured sizes, bootstrap median and 5–95 % band; baseline day ${fit.baselineDay}, follow-up day ${fit.followupDay}`, svg: growthSvg }],
    slices: sections,
    mapRuns: settings.samples,
  });
  if (what.length) {
    const chart = scenarioChartSvg(result, { times: p.scans.map((s) => s.day), sizes: p.scans.map((s) => s.size) }, sizeUnit);
    const rows = scenarioResults.map((s, k) => `<tr><td>${escAttr(s.name)}</td><td>${s.rtStartDay ?? 'none'}</td><td>${s.followup.median.toPrecision(4)} [${s.followup.lower.toPrecision(4)}, ${s.followup.upper.toPrecision(4)}]</td><td>${s.relativeChange.toFixed(3)}</td><td>${escAttr(s.caveats.join(' ') || '–')}</td><td><div class="row">${scenarioImages[k]!.join('')}</div></td></tr>`).join('');
    const section = `<section id="scenarios"><h2>Treatment scenarios</h2><p class="note"><strong>Model extrapolations.</strong> ${escAttr(SCENARIO_DISCLAIMER)}</p>`
      + `<figure class="growth">${chart}</figure><table><thead><tr><th>scenario</th><th>RT start day</th><th>follow-up size median [5–95 %]</th><th>relative change</th><th>caveats</th><th>probability map per slice</th></tr></thead><tbody>${rows}</tbody></table></section>\n`;
    html = html.replace('<footer>', `${section}<footer>`);
  }
  html = html.replace('<h1>', '<p class="summary"><a href="../../cohort.html">← cohort summary</a></p>\n<h1>');
  writeFileAtomicSync(path.join(dir, 'report.html'), html);
  result.seconds = (performance.now() - t0) / 1000;
  writeFileAtomicSync(path.join(dir, 'result.json'), `${JSON.stringify(result, null, 2)}\n`);
  progress(`done in ${result.seconds.toFixed(1)} s`);
  void names;
  return result;
}

function escAttr(s: string): string {
  return s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/"/g, '&quot;');
}

/** Writes the tables (CSV), cohort.json and cohort.html over every patient. */
function writeSummaries(o: RunCohortOptions, cohort: Cohort, patients: CohortPatientResult[], skipped: { patient: string; reason: string }[], settings: SampleSettings, log: (m: string) => void): void {
  const w = (name: string, text: string) => writeFileAtomicSync(path.join(o.out, name), text);
  w('slices.csv', cohortSlicesCsv(patients));
  w('patients.csv', cohortPatientsCsv(patients));
  const table = cohortTable(patients);
  w('cohort_table.csv', cohortTableCsv(table));
  w('growth.csv', cohortGrowthCsv(patients));
  w('params.csv', cohortParamsCsv(patients));
  if (patients.some((p) => p.scenarios.length)) w('scenarios.csv', cohortScenariosCsv(patients));
  w('cohort.json', recordJson({ cohort: cohort.file, name: cohort.name ?? null, synthetic: cohort.synthetic, settings, table, skipped, patients }));
  const title = o.title ?? cohort.name ?? 'tumorcast cohort';
  w('cohort.html', renderCohortReport({
    title,
    summary: [
      `cohort: ${cohort.file}`,
      `models: ${path.basename(o.models.diffusion)}, ${path.basename(o.models.regressor)}, ${o.models.segmenter ? path.basename(o.models.segmenter) : 'FLAIR segmenter'}`,
      `guided DDIM: noise level L = ${settings.noiseLevel}, scale ${settings.scale}, respacing ${settings.respacing || 'none'}, seed ${settings.seed}, ${settings.samples} run(s) per probability map, ${guidanceSummary(settings)}; growth: two-phase RT model, ${o.replicates ?? 30} bootstrap fits`,
    ],
    ...(cohort.synthetic ? { note: 'The cohort is synthetic (it says so in its file): the numbers show the pipeline working, not clinical performance.' } : {}),
    patients, skipped, pageOf: (id) => `patients/${CONTAINED(id)}/report.html`, ...(cohort.sizeUnit ? { sizeUnit: cohort.sizeUnit } : {}),
  }));
  const dice = table.find((t) => t.metric === 'dice');
  log(`cohort: ${patients.length} patient(s), ${patients.reduce((a, p) => a + p.slices.length, 0)} slice(s)${dice?.baseline ? `; Dice ${dice.prediction.mean.toFixed(3)} (prediction) vs ${dice.baseline.mean.toFixed(3)} (unchanged baseline)` : ''}`);
  log(`wrote ${path.join(o.out, 'cohort.html')} and the tables (slices.csv, patients.csv, cohort_table.csv, growth.csv, params.csv${patients.some((p) => p.scenarios.length) ? ', scenarios.csv' : ''})`);
}
