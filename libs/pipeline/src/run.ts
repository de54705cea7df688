/**
 * The prediction over a data folder: for every baseline slice, guided
 * sampling towards the growth model's relative change, a growth probability
 * map, evaluation against the real follow-up when known, and the HTML
 * report. A shard (`i/n`) takes every n-th slice, so that processes can
 * share an output folder. A rerun into the same folder skips the finished
 * slices (`result.json` is written last) only when everything that
 * determines them matches (see `provenance.ts`).
 */
import fs from 'node:fs';
import path from 'node:path';
import { loadNifti } from '@tumorcast/nifti/node';
import { writeFileAtomicSync } from '@tumorcast/cli';
import type { SliceSampleFiles, SliceSampleInfo } from '@tumorcast/dataset';
import type { Diffusion } from '@tumorcast/diffusion';
import type { Segmenter } from '@tumorcast/guided-sampler';
import { OutputFolderError, PipelineDataError, PipelineInputError, apiOptionName } from './errors.js';
import type { OptionNamer } from './errors.js';
import { loadModels } from './models.js';
import type { ModelPaths } from './models.js';
import type { PredictionNetworks } from './networks.js';
import { segmenterOf } from './networks.js';
import { DEFAULT_SAMPLE_SETTINGS, checkSettingsFit, guidanceSummary, samplingDiffusion } from './settings.js';
import type { SampleSettings } from './settings.js';
import { checkSlices, decodedBytes, firstNonFinite, listPredictionSlices, loadNativeSlice, predictionSliceOf, readSliceFiles, shardSlices } from './slices.js';
import { predictSlice } from './predict.js';
import { describePlan, samplingPlan, sliceProgress } from './plan.js';
import type { ProgressSink, SamplingPlan } from './plan.js';
import { MapPool, resolveMapWorkers } from './parallel-map.js';
import { scoreSlice, scoresToCsv, summarise } from './evaluate.js';
import type { FollowupTruth, SliceScores } from './evaluate.js';
import { checkTruth, findTruth, loadTruth } from './truth.js';
import { OUTLINE_COLORS, previewGrid, probabilityOverlay, writeFollowupNifti, writeMapNifti, writePng } from './outputs.js';
import { growthFigure, guidanceTargets, renderReport, reportSlice } from './report.js';
import type { ReportSlice } from './report.js';
import { targetsFor, writeGrowthOutputs } from './growth.js';
import type { SeriesPrediction } from './growth.js';
import { fitSeriesTargets, resolveTargets } from './targets.js';
import type { TargetSource } from './targets.js';
import { modelsProvenance, provenanceDifferences, sampleHashes, targetsProvenance } from './provenance.js';
import type { RunProvenance, SliceInputs } from './provenance.js';
import {
  RUN_RECORD_FORMAT, clearResults, finishedSlices, inspectFolder, mismatchError, readRunRecord, readSliceResult, removeStaleTemps, saveRunRecord,
} from './outdir.js';
import type { FolderHolder, RunRecord, SliceResult } from './outdir.js';

/**
 * How a run keeps other processes out of its output folder (the caller's
 * choice of lock files, e.g. `lockFolder` of `@tumorcast/cli`). Without
 * locks, nothing stops two runs writing into one folder at once.
 */
export interface RunLocks {
  /**
   * Takes this run's lock on the folder, held until `release()`; throws when
   * another run that could write the same slices holds one.
   */
  acquire(): { release(): void };
  /** Runs `fn` holding the folder's short setup lock (reading and rewriting `run.json`, merging shards). */
  exclusive<T>(fn: () => Promise<T>): Promise<T>;
  /** The other runs that hold a lock on the folder now (this run's own excluded). */
  others(): FolderHolder[];
}

/** Runs without locks: nothing stops two runs writing into one folder at once. */
const NO_LOCKS: RunLocks = { acquire: () => ({ release: () => undefined }), exclusive: (fn) => fn(), others: () => [] };

/** Progress of {@link runDataset}'s sampling, in the work units of its {@link SamplingPlan}. */
export interface RunProgress {
  /** Units done. */
  done: number;
  /** Units of the run (`plan.units`). */
  total: number;
  /** What is running, for display: e.g. `{ 'slice 1/2': 'guided 3/20' }`, and `{ 'slice 1/2': 'done', burden }` when a slice is finished. */
  status: Record<string, string | number>;
  /** Whether the last slice is finished (no further progress follows). */
  last: boolean;
}

/** Options of {@link runDataset}. */
export interface RunDatasetOptions {
  /** Data root in the BraTS slice layout (testing/, validation/ or training/ slice folders). */
  data: string;
  /** Output folder (created when missing). */
  out: string;
  /** The network files. */
  models: ModelPaths;
  /** Where the relative changes come from. */
  targets: TargetSource;
  /**
   * Real follow-ups for evaluation: a folder of `<pid>_<slice>/` folders, or a data root in the BraTS slice layout with labels in `test_labels/`;
   * checked before sampling.
   * @defaultValue undefined (no evaluation)
   */
  truth?: string;
  /**
   * Sampling settings; missing ones take their defaults.
   * @defaultValue DEFAULT_SAMPLE_SETTINGS
   */
  settings?: Partial<SampleSettings>;
  /**
   * The preset the settings came from (recorded in run.json and the report).
   * @defaultValue undefined
   */
  preset?: string;
  /**
   * Write probability maps (`settings.samples` runs); without, each slice is sampled once.
   * @defaultValue true
   */
  maps?: boolean;
  /**
   * Write report.html.
   * @defaultValue true
   */
  report?: boolean;
  /**
   * Only shard `i/n` of the slices (round robin over the sorted ids).
   * @defaultValue undefined (all)
   */
  shard?: string;
  /**
   * Only these slice ids.
   * @defaultValue undefined (all)
   */
  slices?: string[];
  /**
   * When the output folder holds results that another run made (other
   * settings, networks, targets or input files): remove them (only the
   * run outputs, and only while no other run holds a lock on the folder)
   * instead of refusing. Finished slices that match are kept either way:
   * they would come out the same.
   * @defaultValue false
   */
  overwrite?: boolean;
  /** Report title. @defaultValue 'tumorcast growth prediction' */
  title?: string;
  /** A note shown in the report. @defaultValue undefined */
  note?: string;
  /**
   * Unit of the sizes in the size CSV, for the report's growth plot (e.g. 'mm²'); without it, sizes are plotted relative to the first scan.
   * @defaultValue undefined
   */
  sizeUnit?: string;
  /**
   * The real follow-up size per series (ids as in the size CSV: `patient` or `patient/slice`), in the CSV's unit, marked in the growth plot.
   * @defaultValue undefined
   */
  followupSizes?: Record<string, number>;
  /** Receives log lines (plan, warnings, what was written). @defaultValue none */
  log?: (message: string) => void;
  /** Receives the sampling plan before the first slice is sampled. @defaultValue undefined */
  onPlan?: (plan: SamplingPlan) => void;
  /** Receives progress after every sampling step and finished slice. @defaultValue undefined */
  onProgress?: (progress: RunProgress) => void;
  /** How the output folder is locked against other processes. @defaultValue no locks */
  locks?: RunLocks;
  /**
   * Worker threads that compute the probability maps (each with its own
   * backend and copy of the networks; see `MapPool`): a count, or `'auto'`
   * (cores, runs per map and free memory; see `resolveMapWorkers`). 1 computes
   * the maps in this thread. The maps are the same either way.
   * @defaultValue 'auto'
   */
  workers?: number | 'auto';
  /**
   * A started pool to compute the maps with (e.g. one shared by several runs
   * with the same networks); the run does not close it. Overrides `workers`.
   * @defaultValue undefined (the run starts and closes its own, per `workers`)
   */
  mapPool?: MapPool;
  /** How messages and log lines name the options. @defaultValue apiOptionName */
  names?: OptionNamer;
}

/** The decoded slices and follow-ups kept from the checks for the prediction (beyond this they are decoded again). */
const KEEP_DECODED_BYTES = 256 * 1024 * 1024;

/** The warning of a slice whose baseline burden is 0. */
function emptyBaselineWarning(source: string, d: number): string {
  const why = source === 'label' ? 'its label is empty' : source === 'regressor' ? 'the regressor reads no tumour on the baseline' : `the ${source} segmenter found no tumour`;
  return `the baseline burden r0 is 0 (${why}), so the target burden r0 (1 + d) is 0 `
    + `whatever the relative change (d = ${d}): the prediction is guided towards no tumour at all`;
}

function checkOptions(o: RunDatasetOptions): void {
  const fn = 'runDataset';
  if (!o || typeof o !== 'object') throw new TypeError(`'options' passed to '${fn}' must be an object`);
  for (const k of ['data', 'out'] as const) if (typeof o[k] !== 'string' || !o[k]) throw new TypeError(`'${k}' passed to '${fn}' must be a folder path`);
  if (!o.models || typeof o.models.diffusion !== 'string' || typeof o.models.regressor !== 'string') {
    throw new TypeError(`'models' passed to '${fn}' must name the 'diffusion' and 'regressor' files`);
  }
  if (o.workers !== undefined && o.workers !== 'auto' && !(Number.isInteger(o.workers) && o.workers >= 1)) {
    throw new PipelineInputError(`${(o.names ?? apiOptionName)('workers', String(o.workers))} is not 'auto' or an integer >= 1 (map worker threads; 1 computes maps in this thread)`);
  }
  if (!o.targets || !['constant', 'json', 'series'].includes(o.targets.kind)) {
    throw new TypeError(`'targets' passed to '${fn}' must be { kind: 'constant', relativeChange }, { kind: 'json', file } or { kind: 'series', file, followupDay }`);
  }
}

/** Writes `run.json` for this run, keeping what a matching earlier record says about other shards and slices. */
function writeRunRecord(o: RunDatasetOptions, report: boolean, provenance: RunProvenance, ids: readonly string[], previous: RunRecord | undefined): RunRecord {
  const keep = !!previous && previous.format === RUN_RECORD_FORMAT && !!previous.provenance && provenanceDifferences(previous.provenance, provenance).length === 0;
  // Absolute paths: a report or evaluation may run from another folder.
  const abs = (p: string | undefined) => (p === undefined ? undefined : path.resolve(p));
  const models: ModelPaths = { ...o.models, diffusion: path.resolve(o.models.diffusion), regressor: path.resolve(o.models.regressor), segmenter: abs(o.models.segmenter) };
  const targets: TargetSource = o.targets.kind === 'constant' ? o.targets : { ...o.targets, file: path.resolve(o.targets.file) };
  const record: RunRecord = {
    tool: 'tumorcast-predict', format: RUN_RECORD_FORMAT, data: path.resolve(o.data), truth: abs(o.truth) ?? null, preset: o.preset ?? null, title: o.title ?? null, note: o.note ?? null,
    ...(o.sizeUnit !== undefined ? { sizeUnit: o.sizeUnit } : {}), ...(o.followupSizes !== undefined ? { followupSizes: o.followupSizes } : {}),
    models, targets, settings: provenance.settings, report: report || (keep && previous.report), provenance,
    slices: [...new Set([...(keep ? previous.slices : []), ...ids])].sort(),
    finished: finishedSlices(o.out),
    finishedShards: keep ? previous.finishedShards : [],
  };
  saveRunRecord(o.out, record);
  return record;
}

/**
 * Runs the prediction over a data folder and writes, per slice, the
 * follow-up (one NIfTI per modality, the input's geometry), the probability
 * map (NIfTI + PNG), a preview PNG and `result.json`; the growth fit
 * (`growth/`), `run.json`, and — over every finished slice of the folder —
 * the metrics (`metrics.csv`/`.json`, with real follow-ups) and `report.html`.
 *
 * Every input is checked before the first sampling step — the baseline
 * slices load and hold finite numbers, each has a real follow-up with a
 * label when `truth` is given, each has a relative change, and the networks
 * load and fit the settings — so that a bad file stops the run at once with
 * its name. Each slice's files are decoded once (the checks keep them for
 * the prediction, up to 256 MiB; beyond that a slice is decoded again when
 * its turn comes), the networks are loaded once, and the sampling process
 * is built once.
 *
 * Finished slices of an earlier run are kept only when everything that
 * determines them matches; otherwise the run refuses (OutputFolderError)
 * naming what differs, unless {@link RunDatasetOptions.overwrite}. With
 * shards, the last shard to finish writes the metrics and the report over
 * all shards' slices.
 *
 * @example
 * ```ts
 * import { runDataset } from '@tumorcast/pipeline/node';
 * const results = await runDataset({
 *   data: 'cohort', out: 'out/cohort',
 *   models: { diffusion: 'diffusion.safetensors', regressor: 'regressor.safetensors' },
 *   targets: { kind: 'series', file: 'cohort/sizes.csv', followupDay: 210 },
 *   truth: 'cohort/followup', settings: { samples: 16 },
 *   log: console.log, onProgress: (p) => process.stderr.write(`\r${p.done}/${p.total}`),
 * });
 * ```
 *
 * @param o - see {@link RunDatasetOptions}.
 * @returns the finished results of this run's slices (including those an earlier run finished).
 * @throws PipelineInputError, PipelineDataError or OutputFolderError naming the option, file or slice, before anything is written where they can.
 */
export async function runDataset(o: RunDatasetOptions): Promise<SliceResult[]> {
  checkOptions(o);
  const names = o.names ?? apiOptionName;
  const log = o.log ?? (() => undefined);
  const locks = o.locks ?? NO_LOCKS;
  const maps = o.maps ?? true;
  const report = o.report ?? true;
  let all = await listPredictionSlices(o.data);
  if (o.slices?.length) {
    const want = new Set(o.slices);
    all = all.filter((i) => want.has(i.id));
    if (!all.length) throw new PipelineInputError(`none of the requested slices (${o.slices.join(', ')}) is in ${o.data}`);
  }
  const infos = shardSlices(all, o.shard, names);
  const checked = await checkSlices(infos, { keepBytes: KEEP_DECODED_BYTES, names });
  const keptFiles = new Map<string, SliceSampleFiles>(checked.filter((c) => c.files).map((c) => [c.id, c.files!]));
  let keptTruth = new Map<string, FollowupTruth>();
  if (o.truth) {
    const used = checked.reduce((s, c) => s + (c.files ? decodedBytes(c.files) : 0), 0);
    keptTruth = await checkTruth(o.truth, checked, { keepBytes: Math.max(0, KEEP_DECODED_BYTES - used), names });
  }
  const { targets, growth } = resolveTargets(o.targets, infos.map((i) => i.id), names);
  const missing = infos.filter((i) => !targets[i.id]);
  if (missing.length) {
    throw new PipelineDataError(`no relative change for slice(s) ${missing.slice(0, 5).map((i) => i.id).join(', ')}${missing.length > 5 ? ', ...' : ''}; `
      + `give them in the targets, or use ${names('targets.relativeChange')}`);
  }
  const changeOf = (id: string) => (targets[id] as { relativeChange: number }).relativeChange;
  const below = infos.find((i) => changeOf(i.id) < -1);
  if (below) throw new PipelineDataError(`the relative change of slice ${below.id} is ${changeOf(below.id)}: it must be >= -1 (-1 is a vanished tumour)`);
  for (const c of checked) if (c.burden === 0 && changeOf(c.id) !== 0) log(`warning: slice ${c.id}: ${emptyBaselineWarning('label', changeOf(c.id))}`);

  // What determines the outputs: a rerun into this folder resumes only when it matches.
  const merged: SampleSettings = { ...DEFAULT_SAMPLE_SETTINGS, ...o.settings };
  const settings: SampleSettings = maps ? merged : { ...merged, samples: 1 };
  const provenance: RunProvenance = { maps, settings, models: modelsProvenance(o.models, names), targets: targetsProvenance(o.targets, names), truth: !!o.truth };
  const inputs = new Map<string, SliceInputs>();
  for (const info of infos) {
    const truthInfo = o.truth ? await findTruth(o.truth, info.id) : undefined;
    inputs.set(info.id, { files: sampleHashes(info), truth: truthInfo ? sampleHashes(truthInfo) : null, relativeChange: changeOf(info.id) });
  }
  // A first look, read only: another run's results are refused before the networks load.
  let state = inspectFolder(o.out, provenance, inputs, names);
  if (state.differences.length && !o.overwrite) throw mismatchError(o.out, state.differences, names);

  let models: PredictionNetworks | undefined;
  const load = async (): Promise<PredictionNetworks> => {
    const m = await loadModels(o.models, { names });
    models = m;
    checkSettingsFit(m, settings, o.models.diffusion, names);
    log(`models: diffusion ${o.models.diffusion}, regressor ${o.models.regressor}, segmenter ${o.models.segmenter ?? 'FLAIR (training-free)'}; network size ${m.imageSize}x${m.imageSize}`);
    return m;
  };
  try {
    if (infos.some((i) => !state.done.includes(i.id))) await load();
    const lock = locks.acquire();
    try {
      await locks.exclusive(async () => {
        // Again under the lock: another run may have changed the folder since the first look.
        state = inspectFolder(o.out, provenance, inputs, names);
        // A shard of this split with other settings may be running without a finished slice yet: not ours to replace.
        const running = locks.others();
        const prev = state.record;
        if (running.length && prev) {
          const diff = prev.format === RUN_RECORD_FORMAT && prev.provenance
            ? provenanceDifferences(prev.provenance, provenance, names) : ['its run.json was written by an earlier tumorcast-predict'];
          if (diff.length) {
            throw new OutputFolderError(`${names('out', o.out)} is being written by another run (${running[0]!.owner}, pid ${running[0]!.pid}) with other settings or inputs: `
              + `${diff.slice(0, 8).join('; ')}; give every shard the same options, or use another ${names('out')}`);
          }
        }
        if (state.differences.length) {
          if (!o.overwrite) throw mismatchError(o.out, state.differences, names);
          clearResults(o.out, state, locks.others(), log, names);
          state = inspectFolder(o.out, provenance, inputs, names);
        }
        removeStaleTemps(o.out, infos.map((i) => i.id), log);
        // Written once every input has passed its checks.
        writeRunRecord(o, report, provenance, all.map((i) => i.id), state.record);
        if (growth.length) {
          const dir = path.join(o.out, 'growth');
          await writeGrowthOutputs(dir, growth);
          writeFileAtomicSync(path.join(dir, 'targets.json'), `${JSON.stringify(targetsFor(growth, all.map((i) => i.id)), null, 2)}\n`);
        }
      });
      const todo = infos.filter((i) => !state.done.includes(i.id));
      if (todo.length < infos.length) log(`${infos.length - todo.length} slice(s) already done, ${todo.length} to go`);
      if (todo.length && !models) await load();
      await sampleSlices(o, todo.map((i) => i.id), { models, settings, maps, names, log, targets: changeOf, inputs, keptFiles, keptTruth, infos });
      return await locks.exclusive(() => finishRun(o, infos.map((i) => i.id), growth, names, log));
    } finally {
      lock.release();
    }
  } finally {
    (models as PredictionNetworks | undefined)?.dispose();
  }
}

/** What {@link sampleSlices} works with. */
interface SamplingContext {
  models: PredictionNetworks | undefined;
  settings: SampleSettings;
  maps: boolean;
  names: OptionNamer;
  log: (m: string) => void;
  targets: (id: string) => number;
  inputs: ReadonlyMap<string, SliceInputs>;
  keptFiles: Map<string, SliceSampleFiles>;
  keptTruth: Map<string, FollowupTruth>;
  infos: readonly SliceSampleInfo[];
}

/** Predicts and writes the slices `ids` (the sampling process and the segmenter built once). */
async function sampleSlices(o: RunDatasetOptions, ids: readonly string[], c: SamplingContext): Promise<void> {
  const { models, settings, log } = c;
  // Progress per sampling step (the map is most of the work), after a plan line.
  const diffusion = models ? samplingDiffusion(models, settings) : undefined;
  const plan = samplingPlan(diffusion ?? { timestepMap: new Int32Array(0) }, settings, ids.length);
  if (!ids.length || !models || !diffusion) return;
  log(describePlan(plan));
  o.onPlan?.(plan);
  const state = { last: false };
  const sink = { update: (done: number, status: Record<string, string | number>) => o.onProgress?.({ done, total: plan.units, status, last: state.last }) };
  const segmenter = segmenterOf(models);
  const infos = new Map(c.infos.map((i) => [i.id, i]));
  const pool = o.mapPool ?? await startMapPool(o, c);
  try {
    await sampleEach(o, ids, c, { plan, sink, diffusion, segmenter, infos, pool, state });
  } finally {
    if (pool !== o.mapPool) await pool?.close();
  }
}

/** The run's own map pool, when its maps take two or more workers. */
async function startMapPool(o: RunDatasetOptions, c: SamplingContext): Promise<MapPool | undefined> {
  if (!c.maps || !c.models || c.settings.samples < 2) return undefined;
  const w = resolveMapWorkers({ workers: o.workers ?? 'auto', samples: c.settings.samples, imageSize: c.models.imageSize, models: o.models, names: c.names });
  c.log(`map workers: ${w.reason}`);
  if (w.warning) c.log(`warning: ${w.warning}`);
  return w.workers > 1 ? MapPool.start({ models: o.models, workers: w.workers }) : undefined;
}

/** What {@link sampleEach} works with besides the context. */
interface SliceLoop {
  plan: SamplingPlan;
  sink: ProgressSink;
  diffusion: Diffusion;
  segmenter: Segmenter;
  infos: Map<string, SliceSampleInfo>;
  pool: MapPool | undefined;
  /** Whether the last slice is finished (read by the progress sink). */
  state: { last: boolean };
}

/** Predicts and writes each slice of `ids`. */
async function sampleEach(o: RunDatasetOptions, ids: readonly string[], c: SamplingContext, l: SliceLoop): Promise<void> {
  const { models, settings, names, log } = c;
  const { plan, sink, diffusion, segmenter, infos, pool } = l;
  if (!models) return;
  for (const [index, id] of ids.entries()) {
    const t0 = performance.now();
    const info = infos.get(id)!;
    const files = c.keptFiles.get(id) ?? await readSliceFiles(info);
    c.keptFiles.delete(id);
    const slice = predictionSliceOf(files, models.imageSize);
    const d = c.targets(id);
    const p = await predictSlice(models, slice, d, { settings, diffusion, segmenter, onProgress: sliceProgress(sink, plan, index), mapRunner: pool?.runner(id) });
    // Never write NaN: a network or a guidance scale that produces non-finite numbers fails the run here.
    const outputs = [['generated follow-up scan', p.followupNative], ...(c.maps ? [['probability map', p.probabilityNative]] : [])] as [string, Float32Array][];
    const bad = outputs.find(([, a]) => firstNonFinite(a) >= 0)?.[0]
      ?? (Number.isFinite(p.predictedBurden) ? undefined : `regressor's burden of the generated scan (${p.predictedBurden})`);
    if (bad) {
      throw new PipelineDataError(`slice ${id}: the ${bad} is not finite (NaN or infinite), so nothing was written for this slice; the networks (${o.models.diffusion}, ${o.models.regressor}) `
        + `or the guidance (${names('settings.scale', String(settings.scale))}) produce non-finite numbers: check the weights, or lower ${names('settings.scale')}`);
    }
    const warnings = p.baselineBurden === 0 && d !== 0 ? [emptyBaselineWarning(p.baselineBurdenSource, d)] : [];
    for (const w of warnings) log(`warning: slice ${id}: ${w}`);
    const dir = path.join(o.out, 'slices', id);
    const followup = await writeFollowupNifti(dir, slice, p.followupNative);
    let probability: string | undefined;
    if (c.maps) {
      probability = path.join(dir, `${id}_probability.nii.gz`);
      await writeMapNifti(probability, slice, p.probabilityNative);
      writePng(path.join(dir, 'probability.png'), probabilityOverlay(slice.native, p.probabilityNative, slice.width, slice.height, [{ mask: p.baselineMaskNative, color: OUTLINE_COLORS.baseline }]));
    }
    const truth = o.truth ? c.keptTruth.get(id) ?? await loadTruth(o.truth, id) : undefined;
    c.keptTruth.delete(id);
    const preview = path.join(dir, 'preview.png');
    writePng(preview, previewGrid(slice, p.followupNative, p.probabilityNative, truth?.image));
    const scores = truth
      ? scoreSlice(id, { image: p.followupNative, mask: p.followupMaskNative, probability: p.probabilityNative },
        { image: slice.native, mask: p.baselineMaskNative }, truth, slice.width, slice.height, slice.spacing)
      : undefined;
    // The decoding runs the respaced steps below L from the last down (the order of p.trajectory).
    const trajectoryTimesteps = Array.from(diffusion.timestepMap).filter((t) => t < settings.noiseLevel).reverse();
    let brain = 0, tumour = 0;
    for (let i = 0; i < slice.width * slice.height; i++) {
      if ((slice.native[i * 4 + 3] as number) !== 0) brain++;
      if (p.followupMaskNative[i]) tumour++;
    }
    const result: SliceResult = {
      id, relativeChange: d, baselineBurden: p.baselineBurden, baselineBurdenSource: p.baselineBurdenSource,
      targetBurden: p.targetBurden, predictedBurden: p.predictedBurden, trajectory: p.trajectory,
      ...(trajectoryTimesteps.length === p.trajectory.length
        ? { trajectoryTimesteps, trajectoryTargets: guidanceTargets(trajectoryTimesteps, p.targetBurden, settings.amplifyEarlyTarget) } : {}),
      segmentedBurden: tumour / Math.max(1, brain),
      files: { followup: followup.map((f) => path.relative(o.out, f)), probability: probability && path.relative(o.out, probability), preview: path.relative(o.out, preview) },
      scores, seconds: (performance.now() - t0) / 1000, inputs: c.inputs.get(id), ...(warnings.length ? { warnings } : {}),
    };
    writeFileAtomicSync(path.join(dir, 'result.json'), `${JSON.stringify(result, null, 2)}\n`);
    l.state.last = index === ids.length - 1;
    sink.update((index + 1) * plan.unitsPerSlice, { [`slice ${index + 1}/${ids.length}`]: 'done', burden: p.predictedBurden });
  }
}

/**
 * After a run's slices: records them in `run.json`, and writes the metrics
 * and the report over every finished slice of the folder — at once for a run
 * without shards, else when the last shard finishes.
 */
async function finishRun(o: RunDatasetOptions, ids: readonly string[], growth: SeriesPrediction[], names: OptionNamer, log: (m: string) => void): Promise<SliceResult[]> {
  const record = readRunRecord(o.out, names) as RunRecord;
  record.finished = finishedSlices(o.out);
  record.finishedShards = [...new Set([...record.finishedShards, o.shard ?? '1/1'])].sort();
  saveRunRecord(o.out, record);
  const left = record.slices.filter((id) => !record.finished.includes(id));
  if (!o.shard || !left.length) {
    await writeSummaries(o.out, record, growth, log, record.report);
  } else {
    log(`shard ${o.shard} is done; ${left.length} of the run's ${record.slices.length} slice(s) are not finished yet (shards finished: ${record.finishedShards.join(', ')}): `
      + `the last shard to finish writes the metrics${record.report ? ' and report.html' : ''} over all of them (or now: ${names('report', o.out)})`);
  }
  return ids.filter((id) => record.finished.includes(id)).map((id) => readSliceResult(path.join(o.out, 'slices', id, 'result.json')));
}

/** Writes metrics.csv/json (when real follow-ups were given) and, when `report`, report.html over the finished slices of `record`. */
async function writeSummaries(out: string, record: RunRecord, growth: SeriesPrediction[], log: (m: string) => void, report: boolean): Promise<void> {
  const results = record.finished.map((id) => readSliceResult(path.join(out, 'slices', id, 'result.json')));
  const scores = results.map((r) => r.scores).filter((s): s is SliceScores => !!s);
  if (scores.length) {
    writeFileAtomicSync(path.join(out, 'metrics.csv'), scoresToCsv(scores));
    writeFileAtomicSync(path.join(out, 'metrics.json'), `${JSON.stringify({ summary: summarise(scores), slices: scores }, null, 2)}\n`);
  }
  if (report) {
    const html = await buildReport(out, record, results, growth);
    writeFileAtomicSync(path.join(out, 'report.html'), html);
    log(`report: ${path.join(out, 'report.html')} (${results.length} slice(s))`);
  }
}

/** Options of {@link reportFolder}. */
export interface ReportFolderOptions {
  /** Receives log lines. @defaultValue none */
  log?: (message: string) => void;
  /** Runs `fn` holding the folder's setup lock (see {@link RunLocks.exclusive}). @defaultValue no lock */
  exclusive?: <T>(fn: () => Promise<T>) => Promise<T>;
  /** How messages name the options. @defaultValue apiOptionName */
  names?: OptionNamer;
}

/**
 * Writes report.html and the metrics over every finished slice of an output
 * folder (e.g. after shards that ran apart, or while some still run), and
 * brings `run.json` up to date. The growth plots are fitted again (seeded:
 * the same fit as the run's).
 *
 * @param out - an output folder of {@link runDataset}.
 * @param options - see {@link ReportFolderOptions}.
 * @throws PipelineInputError when `out` has no run.json; PipelineDataError when its record is of an older format or no slice is finished.
 */
export async function reportFolder(out: string, options: ReportFolderOptions = {}): Promise<void> {
  const names = options.names ?? apiOptionName;
  const log = options.log ?? (() => undefined);
  const exclusive = options.exclusive ?? ((fn) => fn());
  if (!fs.existsSync(path.join(out, 'run.json'))) throw new PipelineInputError(`${out} has no run.json: not an output folder of tumorcast-predict run, sample or probability-map`);
  await exclusive(async () => {
    const record = readRunRecord(out, names) as RunRecord;
    if (record.format !== RUN_RECORD_FORMAT || !record.provenance) {
      throw new PipelineDataError(`${path.join(out, 'run.json')} was written by an earlier tumorcast-predict: rerun the run into this folder (with ${names('overwrite')}) to rebuild it`);
    }
    record.finished = finishedSlices(out);
    if (!record.finished.length) throw new PipelineDataError(`${out}: no slice is finished yet (no slices/<id>/result.json)`);
    saveRunRecord(out, record);
    const growth = record.targets.kind === 'series' ? fitSeriesTargets(record.targets, names) : [];
    await writeSummaries(out, record, growth, log, true);
    const left = record.slices.filter((id) => !record.finished.includes(id));
    if (left.length) log(`note: ${left.length} of ${record.slices.length} slice(s) are not finished yet (${left.slice(0, 5).join(', ')}${left.length > 5 ? ', ...' : ''}); the report covers the finished ones`);
  });
}

/** The follow-up planes of a result, HWC. */
async function loadPlanes(files: string[]): Promise<Float32Array> {
  const planes = await Promise.all(files.map((f) => loadNifti(f)));
  const n = planes[0]!.data.length;
  const out = new Float32Array(n * planes.length);
  planes.forEach((p, c) => {
    for (let i = 0; i < n; i++) out[i * planes.length + c] = p.data[i] as number;
  });
  return out;
}

/**
 * The report HTML of an output folder's finished slices: reads each slice's
 * baseline, prediction, probability map and real follow-up back from disk.
 *
 * @param out - the output folder.
 * @param record - its `run.json`.
 * @param results - the finished slices' results.
 * @param growth - the growth fits to plot.
 */
export async function buildReport(out: string, record: RunRecord, results: readonly SliceResult[], growth: readonly SeriesPrediction[]): Promise<string> {
  const infos = (await listPredictionSlices(record.data)).filter((i) => results.some((r) => r.id === i.id));
  // (readRunRecord fills the settings an older record lacks.)
  const guide = record.settings.guidance;
  const sections: ReportSlice[] = [];
  for (const r of results) {
    const info = infos.find((i) => i.id === r.id);
    if (!info) continue;
    const slice = await loadNativeSlice(info);
    const { width: w, height: h } = slice;
    const predicted = await loadPlanes(r.files.followup.map((f) => path.join(out, f)));
    const prob = r.files.probability ? (await loadNifti(path.join(out, r.files.probability))).data as ArrayLike<number> : new Float32Array(w * h);
    const truth = record.truth ? await loadTruth(record.truth, r.id) : undefined;
    const section = reportSlice({
      id: r.id, width: w, height: h, baseline: slice.native, predicted, probability: prob, truth,
      baselineMask: slice.nativeLabel, baselineMaskSource: 'label',
      burdens: { baseline: r.baselineBurden, target: r.targetBurden, predicted: r.predictedBurden, segmented: r.segmentedBurden, guide },
      trajectory: r.trajectoryTimesteps && r.trajectoryTargets ? { timesteps: r.trajectoryTimesteps, predictions: r.trajectory, targets: r.trajectoryTargets, guide } : undefined,
      facts: {
        'relative change d (growth model)': r.relativeChange.toFixed(3),
        'baseline burden r0': `${r.baselineBurden.toFixed(4)} (${r.baselineBurdenSource})`,
        'target burden r* = r0 (1 + d)': r.targetBurden.toFixed(4),
        [`${guide} on the prediction`]: r.predictedBurden.toFixed(4),
        ...(r.segmentedBurden !== undefined ? { 'segmented burden of the prediction': `${r.segmentedBurden.toFixed(4)} (target ${r.targetBurden.toFixed(4)})` } : {}),
        'time': `${r.seconds.toFixed(1)} s`,
      },
      scores: r.scores,
    });
    // The run's own caveats (e.g. a baseline burden of 0) join the report's flags.
    sections.push(r.warnings?.length ? { ...section, flags: [...(section.flags ?? []), ...r.warnings] } : section);
  }
  const scores = results.map((r) => r.scores).filter((s): s is SliceScores => !!s);
  const s = record.settings;
  return renderReport({
    title: record.title ?? 'tumorcast growth prediction',
    summary: [
      `data: ${record.data}; ${results.length} slice(s)`,
      `models: ${path.basename(record.models.diffusion)}, ${path.basename(record.models.regressor)}, ${record.models.segmenter ? path.basename(record.models.segmenter) : 'FLAIR segmenter'}`,
      `guided DDIM${record.preset ? ` (preset ${record.preset})` : ''}: noise level L = ${s.noiseLevel}, scale ${s.scale}, respacing ${s.respacing || 'none'}, eta ${s.eta}, seed ${s.seed}, ${s.samples} run(s) per probability map, `
        + guidanceSummary(s),
    ],
    note: record.note ?? undefined,
    growth: growth.map((g) => growthFigure(g, { sizeUnit: record.sizeUnit, trueFollowupSize: record.followupSizes?.[g.id] })),
    slices: sections,
    mapRuns: record.provenance.maps ? s.samples : undefined,
    means: scores.length ? summarise(scores) : undefined,
  });
}
