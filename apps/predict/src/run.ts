/**
 * `tumorcast-predict run` (and `sample`, `probability-map`): for every
 * baseline slice of a data folder, guided sampling towards the growth model's
 * relative change, a growth probability map, evaluation against the real
 * follow-up when known, and the HTML report. Finished slices are skipped on
 * a rerun (`result.json` is written last); `--shard i/n` splits the slices.
 */
import fs from 'node:fs';
import path from 'node:path';
import { loadNifti } from '@tumorcast/nifti/node';
import { parseGrowthTargets } from '@tumorcast/guided-sampler';
import type { GrowthTargets } from '@tumorcast/guided-sampler';
import { CliError, Progress, writeFileAtomicSync } from '@tumorcast/cli';
import { loadModels } from './models.js';
import type { LoadedModels, ModelPaths } from './models.js';
import { checkSlices, listPredictionSlices, loadPredictionSlice, shardSlices } from './slices.js';
import type { PredictionSlice } from './slices.js';
import { predictSlice, samplingDiffusion } from './predict.js';
import { describePlan, samplingPlan, sliceProgress } from './plan.js';
import type { SampleSettings } from './predict.js';
import { scoreSlice, scoresToCsv, summarise } from './evaluate.js';
import type { SliceScores } from './evaluate.js';
import { checkTruth, loadTruth } from './truth.js';
import { OUTLINE_COLORS, previewGrid, probabilityOverlay, writeFollowupNifti, writeMapNifti, writePng } from './outputs.js';
import { growthFigure, renderReport, reportSlice } from './report.js';
import type { ReportSlice } from './report.js';
import { fitGrowthCommand, targetsFor } from './growth.js';
import type { SeriesPrediction } from './growth.js';

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
}

async function resolveTargets(o: RunOptions, ids: string[]): Promise<{ targets: GrowthTargets; growth: SeriesPrediction[] }> {
  const t = o.targets;
  if (t.kind === 'constant') return { targets: Object.fromEntries(ids.map((id) => [id, { relativeChange: t.relativeChange }])), growth: [] };
  if (t.kind === 'json') {
    let text: string;
    try {
      text = fs.readFileSync(t.file, 'utf8');
    } catch (e) {
      throw new CliError(`targets file ${t.file}: cannot read (${(e as NodeJS.ErrnoException).code})`, 1);
    }
    try {
      return { targets: parseGrowthTargets(text), growth: [] };
    } catch (e) {
      throw new CliError(`targets file ${t.file}: ${(e as Error).message}`, 1);
    }
  }
  const growth = await fitGrowthCommand(t.file, path.join(o.out, 'growth'), {
    followupDay: t.followupDay, baselineDay: t.baselineDay, rtEndDay: t.rtEndDay, replicates: t.replicates, objective: t.objective, bootstrapNoise: t.bootstrapNoise,
  });
  const targets = targetsFor(growth, ids);
  writeFileAtomicSync(path.join(o.out, 'growth', 'targets.json'), `${JSON.stringify(targets, null, 2)}\n`);
  return { targets, growth };
}

/**
 * Runs the pipeline; returns the finished slices' results (this shard's,
 * including earlier runs'). Every input is checked before the first sampling
 * step — the baseline slices load, each has a real follow-up with a label
 * when `truth` is given, each has a relative change, and the networks load —
 * so that a bad file stops the run at once with its name.
 */
export async function runPipeline(o: RunOptions): Promise<SliceResult[]> {
  let infos = await listPredictionSlices(o.data);
  if (o.slices?.length) {
    const want = new Set(o.slices);
    infos = infos.filter((i) => want.has(i.id));
    if (!infos.length) throw new CliError(`none of the requested slices (${o.slices.join(', ')}) is in ${o.data}`);
  }
  infos = shardSlices(infos, o.shard);
  const sizes = await checkSlices(infos);
  if (o.truth) await checkTruth(o.truth, sizes);
  fs.mkdirSync(o.out, { recursive: true });
  const { targets, growth } = await resolveTargets(o, infos.map((i) => i.id));
  const missing = infos.filter((i) => !targets[i.id]);
  if (missing.length) {
    throw new CliError(`no relative change for slice(s) ${missing.slice(0, 5).map((i) => i.id).join(', ')}${missing.length > 5 ? ', ...' : ''}; give them in the targets, or use --relative-change`, 1);
  }
  const below = infos.find((i) => (targets[i.id] as { relativeChange: number }).relativeChange < -1);
  if (below) {
    throw new CliError(`the relative change of slice ${below.id} is ${(targets[below.id] as { relativeChange: number }).relativeChange}: it must be >= -1 (-1 is a vanished tumour)`, 1);
  }
  const todo = infos.filter((i) => !fs.existsSync(path.join(o.out, 'slices', i.id, 'result.json')));
  if (todo.length < infos.length) o.log(`${infos.length - todo.length} slice(s) already done, ${todo.length} to go`);
  let models: LoadedModels | undefined;
  if (todo.length) {
    models = await loadModels(o.models);
    o.log(`models: diffusion ${o.models.diffusion}, regressor ${o.models.regressor}, segmenter ${o.models.segmenter ?? 'FLAIR (training-free)'}; network size ${models.imageSize}x${models.imageSize}`);
  }
  try {
    // Written once every input has passed its checks.
    writeFileAtomicSync(path.join(o.out, 'run.json'), `${JSON.stringify({ data: o.data, models: o.models, targets: o.targets, truth: o.truth, preset: o.preset ?? null, settings: o.settings, shard: o.shard ?? null }, null, 2)}\n`);
    // Progress per sampling step (the map is most of the work), after a plan line.
    const plan = samplingPlan(models ? samplingDiffusion(models, o.settings) : { timestepMap: new Int32Array(0) }, o.maps ? o.settings : { ...o.settings, samples: 1 }, todo.length);
    if (todo.length) o.log(describePlan(plan));
    const bar = new Progress(plan.units, { label: 'sampling' });
    for (const [index, info] of todo.entries()) {
      const t0 = performance.now();
      const slice = await loadPredictionSlice(info, models!.imageSize);
      const d = (targets[info.id] as { relativeChange: number }).relativeChange;
      const diffusion = samplingDiffusion(models!, o.settings);
      const settings = o.maps ? o.settings : { ...o.settings, samples: 1 };
      const p = await predictSlice(models!, diffusion, slice, d, settings, sliceProgress(bar, plan, index));
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
        scores, seconds: (performance.now() - t0) / 1000,
      };
      writeFileAtomicSync(path.join(dir, 'result.json'), `${JSON.stringify(result, null, 2)}\n`);
      bar.update((index + 1) * plan.unitsPerSlice, { [`slice ${index + 1}/${todo.length}`]: 'done', burden: p.predictedBurden });
    }
    bar.done();
  } finally {
    models?.dispose();
  }
  const results = infos
    .map((i) => path.join(o.out, 'slices', i.id, 'result.json'))
    .filter((f) => fs.existsSync(f))
    .map((f) => JSON.parse(fs.readFileSync(f, 'utf8')) as SliceResult);
  const scores = results.map((r) => r.scores).filter((s): s is SliceScores => !!s);
  if (scores.length) {
    writeFileAtomicSync(path.join(o.out, 'metrics.csv'), scoresToCsv(scores));
    writeFileAtomicSync(path.join(o.out, 'metrics.json'), `${JSON.stringify({ summary: summarise(scores), slices: scores }, null, 2)}\n`);
  }
  if (o.report) {
    const html = await buildReport(o, results, infos.map((i) => i.id), growth);
    writeFileAtomicSync(path.join(o.out, 'report.html'), html);
    o.log(`report: ${path.join(o.out, 'report.html')}`);
  }
  return results;
}

async function loadPlanes(files: string[]): Promise<Float32Array> {
  const planes = await Promise.all(files.map((f) => loadNifti(f)));
  const n = planes[0]!.data.length;
  const out = new Float32Array(n * planes.length);
  planes.forEach((p, c) => {
    for (let i = 0; i < n; i++) out[i * planes.length + c] = p.data[i] as number;
  });
  return out;
}

async function buildReport(o: RunOptions, results: SliceResult[], ids: string[], growth: SeriesPrediction[]): Promise<string> {
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
    sections.push(reportSlice({
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
    }));
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
