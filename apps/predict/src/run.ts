/**
 * `tumorcast-predict run` (and `sample`, `probability-map`): for every
 * baseline slice of a data folder, guided sampling towards the growth model's
 * relative change, a growth probability map, evaluation against the real
 * follow-up when known, and the HTML report. `--shard i/n` splits the
 * slices between processes that share the output folder. A rerun into the
 * same folder skips the finished slices (`result.json` is written last) only
 * when everything that determines them matches (see `provenance.ts`), and
 * the folder is locked while a run writes into it (see `outdir.ts`).
 */
import fs from 'node:fs';
import path from 'node:path';
import { loadNifti } from '@tumorcast/nifti/node';
import { parseGrowthTargets } from '@tumorcast/guided-sampler';
import type { GrowthTargets } from '@tumorcast/guided-sampler';
import { CliError, ExitCode, Progress, readTextFileChecked, writeFileAtomicSync } from '@tumorcast/cli';
import { spaceTimesteps } from '@tumorcast/diffusion';
import { loadModels } from './models.js';
import type { LoadedModels, ModelPaths } from './models.js';
import { checkSlices, firstNonFinite, listPredictionSlices, loadPredictionSlice, shardSlices } from './slices.js';
import type { PredictionSlice } from './slices.js';
import { predictSlice, samplingDiffusion } from './predict.js';
import { describePlan, samplingPlan, sliceProgress } from './plan.js';
import type { SampleSettings } from './predict.js';
import { scoreSlice, scoresToCsv, summarise } from './evaluate.js';
import type { SliceScores } from './evaluate.js';
import { checkTruth, findTruth, loadTruth } from './truth.js';
import { OUTLINE_COLORS, previewGrid, probabilityOverlay, writeFollowupNifti, writeMapNifti, writePng } from './outputs.js';
import { growthFigure, renderReport, reportSlice } from './report.js';
import type { ReportSlice } from './report.js';
import { fitGrowthSeries, readSizeSeries, targetsFor, writeGrowthOutputs } from './growth.js';
import type { SeriesPrediction } from './growth.js';
import { modelsProvenance, sampleHashes, targetsProvenance } from './provenance.js';
import type { RunProvenance, SliceInputs } from './provenance.js';
import {
  clearResults, finishedSlices, inspectFolder, lockRun, mismatchError, otherRunLocks, readRunRecord, readSliceResult, removeStaleTemps, RUN_RECORD_FORMAT, withSetupLock,
} from './outdir.js';
import type { RunRecord } from './outdir.js';
import { provenanceDifferences } from './provenance.js';

/** Where the relative changes come from. */
export type TargetSource =
  | { kind: 'constant'; relativeChange: number }
  | { kind: 'json'; file: string }
  | {
    kind: 'series'; file: string; followupDay: number; baselineDay?: number; rtEndDay?: number; replicates?: number;
    /** Growth fit objective. @defaultValue 'least-squares' */
    objective?: 'least-squares' | 'reference';
    /** Bootstrap noise. @defaultValue 'symmetric' */
    bootstrapNoise?: 'symmetric' | 'reference';
  };

/** Options of {@link runPipeline}. */
export interface RunOptions {
  /** Data root (seed layout). */
  data: string;
  /** Output folder. */
  out: string;
  /** Networks. */
  models: ModelPaths;
  /** Relative changes. */
  targets: TargetSource;
  /** Real follow-ups for evaluation (a folder of `<pid>_<slice>/` folders, or a data root in the seed layout with labels in `test_labels/`), optional; checked before sampling. */
  truth?: string;
  /** Sampling settings. */
  settings: SampleSettings;
  /** The CLI preset the settings came from (recorded in run.json and the report). */
  preset?: string;
  /** Write probability maps. @defaultValue true */
  maps: boolean;
  /** Write report.html. @defaultValue true */
  report: boolean;
  /** `i/n`. */
  shard?: string;
  /** Only these slice ids (default all). */
  slices?: string[];
  /**
   * When the output folder holds results that another run made (other
   * settings, networks, targets or input files): remove them (only
   * tumorcast-predict's outputs, and only while no other run holds a lock on
   * the folder) instead of refusing. Finished slices that match are kept
   * either way: they would come out the same.
   * @defaultValue false
   */
  overwrite?: boolean;
  /** Report title. */
  title?: string;
  /** Note in the report. */
  note?: string;
  /** Unit of the sizes in the size CSV, for the report's growth plot (e.g. 'mm²'); without it, sizes are plotted relative to the first scan. */
  sizeUnit?: string;
  /** The real follow-up size per series (ids as in the size CSV: `patient` or `patient/slice`), in the CSV's unit, marked in the growth plot. */
  followupSizes?: Record<string, number>;
  /** Log lines. */
  log: (m: string) => void;
}

/** What one finished slice recorded (`slices/<id>/result.json`). */
export interface SliceResult {
  id: string;
  relativeChange: number;
  baselineBurden: number;
  baselineBurdenSource: string;
  targetBurden: number;
  predictedBurden: number;
  trajectory: number[];
  files: { followup: string[]; probability?: string; preview: string };
  scores?: SliceScores;
  seconds: number;
  /** What determined this slice's outputs besides the run's settings: its input files' content and its relative change. */
  inputs?: SliceInputs;
  /** Caveats about this slice's result (e.g. a baseline burden of 0), also shown in the report. */
  warnings?: string[];
}

/** The largest targets JSON read (a relative change per slice is some 40 bytes). */
const MAX_TARGETS_BYTES = 64 * 1024 * 1024;

/** The warning of a slice whose baseline burden is 0. */
function emptyBaselineWarning(source: string, d: number): string {
  return `the baseline burden r0 is 0 (${source === 'label' ? 'its label is empty' : `the ${source} segmenter found no tumour`}), so the target burden r0 (1 + d) is 0 `
    + `whatever the relative change (d = ${d}): the prediction is guided towards no tumour at all`;
}

/** The growth fit of a `series` target source (nothing written). */
function fitSeries(t: Extract<TargetSource, { kind: 'series' }>): SeriesPrediction[] {
  return fitGrowthSeries(readSizeSeries(t.file, t.rtEndDay), {
    source: t.file, followupDay: t.followupDay, baselineDay: t.baselineDay, replicates: t.replicates, objective: t.objective, bootstrapNoise: t.bootstrapNoise,
  });
}

/** Reads a targets JSON, with errors naming the file and the slice. */
function readTargetsJson(file: string): GrowthTargets {
  const text = readTextFileChecked(file, { what: 'targets file', maxBytes: MAX_TARGETS_BYTES, exitCode: ExitCode.usage });
  let v: unknown;
  try {
    v = JSON.parse(text);
  } catch (e) {
    throw new CliError(`targets file ${file}: not valid JSON (${(e as Error).message})`, ExitCode.failure);
  }
  if (!v || typeof v !== 'object' || Array.isArray(v)) {
    throw new CliError(`targets file ${file}: must be a JSON object { "<slice id>": { "relativeChange": <number> }, ... }`, ExitCode.failure);
  }
  for (const [id, e] of Object.entries(v as Record<string, unknown>)) {
    const d = (e as { relativeChange?: unknown } | null)?.relativeChange;
    if (typeof d !== 'number' || !Number.isFinite(d)) {
      throw new CliError(`targets file ${file}: slice ${id} needs a finite number "relativeChange", got ${JSON.stringify(d ?? null)}`, ExitCode.failure);
    }
    if (d < -1) throw new CliError(`targets file ${file}: the relative change of slice ${id} is ${d}: it must be >= -1 (-1 is a vanished tumour)`, ExitCode.failure);
  }
  try {
    return parseGrowthTargets(v);
  } catch (e) {
    throw new CliError(`targets file ${file}: ${(e as Error).message.replace(/'json' passed to 'parseGrowthTargets':?\s*/, '')}`, ExitCode.failure);
  }
}

/** The relative change per slice (read or fitted; nothing is written here). */
async function resolveTargets(o: RunOptions, ids: string[]): Promise<{ targets: GrowthTargets; growth: SeriesPrediction[] }> {
  const t = o.targets;
  if (t.kind === 'constant') return { targets: Object.fromEntries(ids.map((id) => [id, { relativeChange: t.relativeChange }])), growth: [] };
  if (t.kind === 'json') return { targets: readTargetsJson(t.file), growth: [] };
  const growth = fitSeries(t);
  return { targets: targetsFor(growth, ids), growth };
}

/** Checks the sampling settings against the loaded diffusion model, in the CLI's words. */
function checkSettingsFit(o: RunOptions, models: LoadedModels): void {
  const T = models.process.steps;
  const s = o.settings;
  if (s.noiseLevel > T) throw new CliError(`--noise-level ${s.noiseLevel} is more than the ${T} timesteps of the diffusion model ${o.models.diffusion}: use at most ${T}`, ExitCode.usage);
  if (s.respacing) {
    try {
      spaceTimesteps(T, s.respacing);
    } catch (e) {
      const why = (e as Error).message.replace(/'sectionCounts' passed to 'spaceTimesteps':?\s*/, '');
      throw new CliError(`--respacing '${s.respacing}' does not fit the ${T} timesteps of the diffusion model ${o.models.diffusion} (${why})`, ExitCode.usage);
    }
  }
}

/** Writes `run.json` for this run, keeping what a matching earlier record says about other shards and slices. */
function writeRunRecord(o: RunOptions, provenance: RunProvenance, ids: readonly string[], previous: RunRecord | undefined): RunRecord {
  const keep = !!previous && previous.format === RUN_RECORD_FORMAT && !!previous.provenance && provenanceDifferences(previous.provenance, provenance).length === 0;
  // Absolute paths: `tumorcast-predict report` and `evaluate` may run from another folder.
  const abs = (p: string | undefined) => (p === undefined ? undefined : path.resolve(p));
  const models: ModelPaths = { ...o.models, diffusion: path.resolve(o.models.diffusion), regressor: path.resolve(o.models.regressor), segmenter: abs(o.models.segmenter) };
  const targets: TargetSource = o.targets.kind === 'constant' ? o.targets : { ...o.targets, file: path.resolve(o.targets.file) };
  const record: RunRecord = {
    tool: 'tumorcast-predict', format: RUN_RECORD_FORMAT, data: path.resolve(o.data), truth: abs(o.truth) ?? null, preset: o.preset ?? null, title: o.title ?? null, note: o.note ?? null,
    ...(o.sizeUnit !== undefined ? { sizeUnit: o.sizeUnit } : {}), ...(o.followupSizes !== undefined ? { followupSizes: o.followupSizes } : {}),
    models, targets, settings: provenance.settings, report: o.report || (keep && previous.report), provenance,
    slices: [...new Set([...(keep ? previous.slices : []), ...ids])].sort(),
    finished: finishedSlices(o.out),
    finishedShards: keep ? previous.finishedShards : [],
  };
  saveRunRecord(o.out, record);
  return record;
}

function saveRunRecord(out: string, record: RunRecord): void {
  writeFileAtomicSync(path.join(out, 'run.json'), `${JSON.stringify(record, null, 2)}\n`);
}

/**
 * Runs the pipeline; returns the finished results of this run's slices
 * (including those an earlier run finished). Every input is checked before
 * the first sampling step — the baseline slices load and hold finite
 * numbers, each has a real follow-up with a label when `truth` is given,
 * each has a relative change, and the networks load and fit the settings —
 * so that a bad file stops the run at once with its name.
 *
 * The output folder is locked while the run writes into it (shards of one
 * split share it). Finished slices of an earlier run are kept only when
 * everything that determines them matches; otherwise the run refuses
 * (exit code 2), naming what differs, unless {@link RunOptions.overwrite}.
 * The last shard to finish writes the metrics and the report over all
 * shards' slices.
 */
export async function runPipeline(o: RunOptions): Promise<SliceResult[]> {
  const command = o.maps ? (o.report ? 'run' : 'probability-map') : 'sample';
  const owner = `tumorcast-predict ${command}${o.shard ? ` --shard ${o.shard}` : ''}`;
  let all = await listPredictionSlices(o.data);
  if (o.slices?.length) {
    const want = new Set(o.slices);
    all = all.filter((i) => want.has(i.id));
    if (!all.length) throw new CliError(`none of the requested slices (${o.slices.join(', ')}) is in ${o.data}`);
  }
  const infos = shardSlices(all, o.shard);
  const checked = await checkSlices(infos);
  if (o.truth) await checkTruth(o.truth, checked);
  const { targets, growth } = await resolveTargets(o, infos.map((i) => i.id));
  const missing = infos.filter((i) => !targets[i.id]);
  if (missing.length) {
    throw new CliError(`no relative change for slice(s) ${missing.slice(0, 5).map((i) => i.id).join(', ')}${missing.length > 5 ? ', ...' : ''}; give them in the targets, or use --relative-change`, 1);
  }
  const changeOf = (id: string) => (targets[id] as { relativeChange: number }).relativeChange;
  const below = infos.find((i) => changeOf(i.id) < -1);
  if (below) throw new CliError(`the relative change of slice ${below.id} is ${changeOf(below.id)}: it must be >= -1 (-1 is a vanished tumour)`, 1);
  for (const c of checked) if (c.burden === 0 && changeOf(c.id) !== 0) o.log(`warning: slice ${c.id}: ${emptyBaselineWarning('label', changeOf(c.id))}`);

  // What determines the outputs: a rerun into this folder resumes only when it matches.
  const settings = o.maps ? o.settings : { ...o.settings, samples: 1 };
  const provenance: RunProvenance = { maps: o.maps, settings, models: modelsProvenance(o.models), targets: targetsProvenance(o.targets), truth: !!o.truth };
  const inputs = new Map<string, SliceInputs>();
  for (const info of infos) {
    const truthInfo = o.truth ? await findTruth(o.truth, info.id) : undefined;
    inputs.set(info.id, { files: sampleHashes(info), truth: truthInfo ? sampleHashes(truthInfo) : null, relativeChange: changeOf(info.id) });
  }
  // A first look, read only: another run's results are refused before the networks load.
  let state = inspectFolder(o.out, provenance, inputs);
  if (state.differences.length && !o.overwrite) throw mismatchError(o.out, state.differences);

  let models: LoadedModels | undefined;
  const load = async (): Promise<LoadedModels> => {
    const m = await loadModels(o.models);
    models = m;
    checkSettingsFit(o, m);
    o.log(`models: diffusion ${o.models.diffusion}, regressor ${o.models.regressor}, segmenter ${o.models.segmenter ?? 'FLAIR (training-free)'}; network size ${m.imageSize}x${m.imageSize}`);
    return m;
  };
  try {
    if (infos.some((i) => !state.done.includes(i.id))) await load();
    const lock = lockRun(o.out, o.shard, owner, o.log);
    try {
      await withSetupLock(o.out, owner, o.log, async () => {
        // Again under the lock: another run may have changed the folder since the first look.
        state = inspectFolder(o.out, provenance, inputs);
        // A shard of this split with other settings may be running without a finished slice yet: not ours to replace.
        const running = otherRunLocks(o.out, path.basename(lock.file));
        const prev = state.record;
        if (running.length && prev) {
          const diff = prev.format === RUN_RECORD_FORMAT && prev.provenance ? provenanceDifferences(prev.provenance, provenance) : ['its run.json was written by an earlier tumorcast-predict'];
          if (diff.length) {
            throw new CliError(`--out ${o.out} is being written by another run (${running[0]!.owner}, pid ${running[0]!.pid}) with other settings or inputs: ${diff.slice(0, 8).join('; ')}; `
              + 'give every shard the same options, or use another --out', ExitCode.usage);
          }
        }
        if (state.differences.length) {
          if (!o.overwrite) throw mismatchError(o.out, state.differences);
          clearResults(o.out, path.basename(lock.file), state, o.log);
          state = inspectFolder(o.out, provenance, inputs);
        }
        removeStaleTemps(o.out, infos.map((i) => i.id), o.log);
        // Written once every input has passed its checks.
        writeRunRecord(o, provenance, all.map((i) => i.id), state.record);
        if (growth.length) {
          const dir = path.join(o.out, 'growth');
          await writeGrowthOutputs(dir, growth);
          writeFileAtomicSync(path.join(dir, 'targets.json'), `${JSON.stringify(targetsFor(growth, all.map((i) => i.id)), null, 2)}\n`);
        }
      });
      const todo = infos.filter((i) => !state.done.includes(i.id));
      if (todo.length < infos.length) o.log(`${infos.length - todo.length} slice(s) already done, ${todo.length} to go`);
      if (todo.length && !models) await load();
      // Progress per sampling step (the map is most of the work), after a plan line.
      const plan = samplingPlan(models ? samplingDiffusion(models, o.settings) : { timestepMap: new Int32Array(0) }, settings, todo.length);
      if (todo.length) o.log(describePlan(plan));
      const bar = new Progress(plan.units, { label: 'sampling' });
    for (const [index, info] of todo.entries()) {
      const t0 = performance.now();
      const slice = await loadPredictionSlice(info, models!.imageSize);
      const d = (targets[info.id] as { relativeChange: number }).relativeChange;
      const diffusion = samplingDiffusion(models!, o.settings);
      const settings = o.maps ? o.settings : { ...o.settings, samples: 1 };
      const p = await predictSlice(models!, diffusion, slice, d, settings, sliceProgress(bar, plan, index));
      // Never write NaN: a network or a guidance scale that produces non-finite numbers fails the run here.
      const outputs = [['generated follow-up scan', p.followupNative], ...(o.maps ? [['probability map', p.probabilityNative]] : [])] as [string, Float32Array][];
      const bad = outputs.find(([, a]) => firstNonFinite(a) >= 0)?.[0]
        ?? (Number.isFinite(p.predictedBurden) ? undefined : `regressor's burden of the generated scan (${p.predictedBurden})`);
      if (bad) {
        throw new CliError(`slice ${info.id}: the ${bad} is not finite (NaN or infinite), so nothing was written for this slice; the networks (${o.models.diffusion}, ${o.models.regressor}) `
          + `or the guidance (--scale ${o.settings.scale}) produce non-finite numbers: check the weights, or lower --scale`, ExitCode.failure);
      }
      const warnings = p.baselineBurden === 0 && d !== 0 ? [emptyBaselineWarning(p.baselineBurdenSource, d)] : [];
      for (const w of warnings) o.log(`warning: slice ${info.id}: ${w}`);
      const dir = path.join(o.out, 'slices', info.id);
      const followup = await writeFollowupNifti(dir, slice, p.followupNative);
      let probability: string | undefined;
      if (o.maps) {
        probability = path.join(dir, `${info.id}_probability.nii.gz`);
        await writeMapNifti(probability, slice, p.probabilityNative);
        writePng(path.join(dir, 'probability.png'), probabilityOverlay(slice.native, p.probabilityNative, slice.width, slice.height, [{ mask: p.baselineMaskNative, color: OUTLINE_COLORS.baseline }]));
      }
      const truth = o.truth ? await loadTruth(o.truth, info.id) : undefined;
      const preview = path.join(dir, 'preview.png');
      writePng(preview, previewGrid(slice, p.followupNative, p.probabilityNative, truth?.image));
      const scores = truth
        ? scoreSlice(info.id, { image: p.followupNative, mask: p.followupMaskNative, probability: p.probabilityNative },
          { image: slice.native, mask: p.baselineMaskNative }, truth, slice.width, slice.height, slice.spacing)
        : undefined;
      const result: SliceResult = {
        id: info.id, relativeChange: d, baselineBurden: p.baselineBurden, baselineBurdenSource: p.baselineBurdenSource,
        targetBurden: p.targetBurden, predictedBurden: p.predictedBurden, trajectory: p.trajectory,
        files: { followup: followup.map((f) => path.relative(o.out, f)), probability: probability && path.relative(o.out, probability), preview: path.relative(o.out, preview) },
        scores, seconds: (performance.now() - t0) / 1000, inputs: inputs.get(info.id), ...(warnings.length ? { warnings } : {}),
      };
      writeFileAtomicSync(path.join(dir, 'result.json'), `${JSON.stringify(result, null, 2)}\n`);
      bar.update((index + 1) * plan.unitsPerSlice, { [`slice ${index + 1}/${todo.length}`]: 'done', burden: p.predictedBurden });
    }
    bar.done();
      return await withSetupLock(o.out, owner, o.log, () => finishRun(o, infos.map((i) => i.id), growth));
    } finally {
      lock.release();
    }
  } finally {
    (models as LoadedModels | undefined)?.dispose();
  }
}

/**
 * After a run's slices: records them in `run.json`, and writes the metrics
 * and the report over every finished slice of the folder — at once for a run
 * without shards, else when the last shard finishes.
 */
async function finishRun(o: RunOptions, ids: readonly string[], growth: SeriesPrediction[]): Promise<SliceResult[]> {
  const record = readRunRecord(o.out) as RunRecord;
  record.finished = finishedSlices(o.out);
  record.finishedShards = [...new Set([...record.finishedShards, o.shard ?? '1/1'])].sort();
  saveRunRecord(o.out, record);
  const left = record.slices.filter((id) => !record.finished.includes(id));
  if (!o.shard || !left.length) {
    await writeSummaries(o.out, record, growth, o.log, record.report);
  } else {
    o.log(`shard ${o.shard} is done; ${left.length} of the run's ${record.slices.length} slice(s) are not finished yet (shards finished: ${record.finishedShards.join(', ')}): `
      + `the last shard to finish writes the metrics${record.report ? ' and report.html' : ''} over all of them (or now: tumorcast-predict report --out ${o.out})`);
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
    const ctx: ReportContext = {
      out, data: record.data, truth: record.truth ?? undefined, models: record.models, preset: record.preset ?? undefined, settings: record.settings,
      title: record.title ?? undefined, note: record.note ?? undefined, maps: record.provenance.maps, sizeUnit: record.sizeUnit, followupSizes: record.followupSizes,
    };
    const html = await buildReport(ctx, results, record.finished, growth);
    writeFileAtomicSync(path.join(out, 'report.html'), html);
    log(`report: ${path.join(out, 'report.html')} (${results.length} slice(s))`);
  }
}

/**
 * `tumorcast-predict report --out DIR`: writes report.html and the metrics
 * over every finished slice of an output folder (e.g. after shards that ran
 * apart, or while some still run), and brings `run.json` up to date.
 *
 * @throws CliError when `out` is not an output folder of run/sample/probability-map, or has no finished slice.
 */
export async function reportCommand(out: string, log: (m: string) => void): Promise<void> {
  if (!fs.existsSync(path.join(out, 'run.json'))) {
    throw new CliError(`${out} has no run.json: not an output folder of tumorcast-predict run, sample or probability-map`, ExitCode.usage);
  }
  await withSetupLock(out, 'tumorcast-predict report', log, async () => {
    const record = readRunRecord(out) as RunRecord;
    if (record.format !== RUN_RECORD_FORMAT || !record.provenance) {
      throw new CliError(`${path.join(out, 'run.json')} was written by an earlier tumorcast-predict: rerun the run into this folder (with --overwrite) to rebuild it`, ExitCode.failure);
    }
    record.finished = finishedSlices(out);
    if (!record.finished.length) throw new CliError(`${out}: no slice is finished yet (no slices/<id>/result.json)`, ExitCode.failure);
    saveRunRecord(out, record);
    // The growth plots are fitted again (seeded: the same fit as the run's).
    const growth = record.targets.kind === 'series' ? fitSeries(record.targets) : [];
    await writeSummaries(out, record, growth, log, true);
    const left = record.slices.filter((id) => !record.finished.includes(id));
    if (left.length) log(`note: ${left.length} of ${record.slices.length} slice(s) are not finished yet (${left.slice(0, 5).join(', ')}${left.length > 5 ? ', ...' : ''}); the report covers the finished ones`);
  });
}

/** What the report needs to know about a run (from its options, or from `run.json`). */
type ReportContext = Pick<RunOptions, 'out' | 'data' | 'truth' | 'models' | 'preset' | 'settings' | 'title' | 'note' | 'maps' | 'sizeUnit' | 'followupSizes' | 'shard'>;

async function loadPlanes(files: string[]): Promise<Float32Array> {
  const planes = await Promise.all(files.map((f) => loadNifti(f)));
  const n = planes[0]!.data.length;
  const out = new Float32Array(n * planes.length);
  planes.forEach((p, c) => {
    for (let i = 0; i < n; i++) out[i * planes.length + c] = p.data[i] as number;
  });
  return out;
}

async function buildReport(o: ReportContext, results: SliceResult[], ids: string[], growth: SeriesPrediction[]): Promise<string> {
  const infos = (await listPredictionSlices(o.data)).filter((i) => ids.includes(i.id));
  const sections: ReportSlice[] = [];
  for (const r of results) {
    const info = infos.find((i) => i.id === r.id);
    if (!info) continue;
    const slice: PredictionSlice = await loadPredictionSlice(info, 64);
    const { width: w, height: h } = slice;
    const predicted = await loadPlanes(r.files.followup.map((f) => path.join(o.out, f)));
    const prob = r.files.probability ? (await loadNifti(path.join(o.out, r.files.probability))).data as ArrayLike<number> : new Float32Array(w * h);
    const truth = o.truth ? await loadTruth(o.truth, r.id) : undefined;
    const section = reportSlice({
      id: r.id, width: w, height: h, baseline: slice.native, predicted, probability: prob, truth,
      baselineMask: slice.nativeLabel, baselineMaskSource: r.baselineBurdenSource,
      burdens: { baseline: r.baselineBurden, target: r.targetBurden, predicted: r.predictedBurden },
      facts: {
        'relative change d (growth model)': r.relativeChange.toFixed(3),
        'baseline burden r0': `${r.baselineBurden.toFixed(4)} (${r.baselineBurdenSource})`,
        'target burden r* = r0 (1 + d)': r.targetBurden.toFixed(4),
        'regressor on the prediction': r.predictedBurden.toFixed(4),
        'time': `${r.seconds.toFixed(1)} s`,
      },
      scores: r.scores,
    });
    // The run's own caveats (e.g. a baseline burden of 0) join the report's flags.
    sections.push(r.warnings?.length ? { ...section, flags: [...(section.flags ?? []), ...r.warnings] } : section);
  }
  const scores = results.map((r) => r.scores).filter((s): s is SliceScores => !!s);
  const s = o.settings;
  return renderReport({
    title: o.title ?? 'tumorcast growth prediction',
    summary: [
      `data: ${o.data}${o.shard ? ` (shard ${o.shard})` : ''}; ${results.length} slice(s)`,
      `models: ${path.basename(o.models.diffusion)}, ${path.basename(o.models.regressor)}, ${o.models.segmenter ? path.basename(o.models.segmenter) : 'FLAIR segmenter'}`,
      `guided DDIM${o.preset ? ` (preset ${o.preset})` : ''}: noise level L = ${s.noiseLevel}, scale ${s.scale}, respacing ${s.respacing || 'none'}, eta ${s.eta}, seed ${s.seed}, ${s.samples} run(s) per probability map`,
    ],
    note: o.note,
    growth: growth.map((g) => growthFigure(g, { sizeUnit: o.sizeUnit, trueFollowupSize: o.followupSizes?.[g.id] })),
    slices: sections,
    mapRuns: o.maps ? s.samples : undefined,
    means: scores.length ? summarise(scores) : undefined,
  });
}
