/**
 * Scoring a finished run's predictions against real follow-ups, from its
 * output folder: metrics.csv and metrics.json.
 */
import fs from 'node:fs';
import path from 'node:path';
import { loadNifti } from '@tumorcast/nifti/node';
import { writeFileAtomicSync } from '@tumorcast/cli';
import { PipelineDataError, PipelineInputError, apiOptionName } from './errors.js';
import type { OptionNamer } from './errors.js';
import { scoreSlice, scoresToCsv, summarise } from './evaluate.js';
import type { SliceScores } from './evaluate.js';
import { loadTruth } from './truth.js';
import { readRunRecord, readSliceResult } from './outdir.js';
import { listPredictionSlices, loadNativeSlice } from './slices.js';

/** Options of {@link evaluateRun}. */
export interface EvaluateRunOptions {
  /** Where metrics.csv and metrics.json go. @defaultValue the run's folder */
  out?: string;
  /** Receives log lines (slices without a follow-up, what was written). @defaultValue none */
  log?: (message: string) => void;
  /** How messages name the options (`'run'` is the run's folder, `'truth'` the follow-ups'). @defaultValue apiOptionName */
  names?: OptionNamer;
}

async function planes(files: string[]): Promise<{ data: Float32Array; width: number; height: number; spacing: [number, number] }> {
  const imgs = await Promise.all(files.map((f) => loadNifti(f)));
  const [w, h] = imgs[0]!.shape as [number, number];
  const out = new Float32Array(w * h * imgs.length);
  imgs.forEach((p, c) => {
    for (let i = 0; i < w * h; i++) out[i * imgs.length + c] = p.data[i] as number;
  });
  return { data: out, width: w, height: h, spacing: [imgs[0]!.spacing[0] ?? 1, imgs[0]!.spacing[1] ?? 1] };
}

/**
 * Scores every finished slice of a run folder that has a real follow-up in
 * `truthDir` (the predicted mask is the probability map at 0.5: a run's
 * masks are not stored) and writes metrics.csv and metrics.json.
 *
 * @example
 * ```ts
 * const scores = await evaluateRun('out/run', 'data/followup');
 * ```
 *
 * @param runDir - an output folder of `runDataset`.
 * @param truthDir - the real follow-ups (see `findTruth`).
 * @param options - see {@link EvaluateRunOptions}.
 * @returns the per-slice scores.
 * @throws PipelineInputError for a missing folder or run record; PipelineDataError when no slice can be scored.
 */
export async function evaluateRun(runDir: string, truthDir: string, options: EvaluateRunOptions = {}): Promise<SliceScores[]> {
  const names = options.names ?? apiOptionName;
  const log = options.log ?? (() => undefined);
  const outDir = options.out ?? runDir;
  if (!fs.existsSync(truthDir) || !fs.statSync(truthDir).isDirectory()) throw new PipelineInputError(`${names('truth')} folder ${truthDir} does not exist`);
  const slicesDir = path.join(runDir, 'slices');
  if (!fs.existsSync(slicesDir)) throw new PipelineInputError(`${names('run', runDir)}: not a tumorcast-predict output folder (no slices/)`);
  const record = readRunRecord(runDir, names);
  if (!record) throw new PipelineInputError(`${names('run', runDir)}: run.json is missing`);
  const data = record.data;
  if (typeof data !== 'string') throw new PipelineDataError(`${path.join(runDir, 'run.json')}: no 'data' folder recorded`);
  const infos = await listPredictionSlices(data);
  const scores: SliceScores[] = [];
  for (const id of fs.readdirSync(slicesDir).sort()) {
    const resFile = path.join(slicesDir, id, 'result.json');
    if (!fs.existsSync(resFile)) continue;
    const r = readSliceResult(resFile);
    const truth = await loadTruth(truthDir, id);
    if (!truth) {
      log(`${id}: no real follow-up in ${truthDir}, skipped`);
      continue;
    }
    const pred = await planes(r.files.followup.map((f) => path.join(runDir, f)));
    const n = pred.width * pred.height;
    const prob = r.files.probability ? Float32Array.from((await loadNifti(path.join(runDir, r.files.probability))).data as ArrayLike<number>) : new Float32Array(n);
    // The run's masks are not stored: threshold the probability map at 0.5 for the predicted mask.
    const mask = Uint8Array.from(prob, (v) => (v >= 0.5 ? 1 : 0));
    const info = infos.find((i) => i.id === id);
    if (!info) throw new PipelineDataError(`${id}: the baseline slice is no longer in ${data}`);
    const base = await loadNativeSlice(info);
    const baseMask = base.nativeLabel ?? new Uint8Array(n);
    scores.push(scoreSlice(id, { image: pred.data, mask, probability: prob }, { image: base.native, mask: baseMask }, truth, pred.width, pred.height, pred.spacing));
  }
  if (!scores.length) throw new PipelineDataError(`no finished slice of ${runDir} has a real follow-up in ${truthDir}`);
  writeFileAtomicSync(path.join(outDir, 'metrics.csv'), scoresToCsv(scores));
  writeFileAtomicSync(path.join(outDir, 'metrics.json'), `${JSON.stringify({ summary: summarise(scores), slices: scores }, null, 2)}\n`);
  log(`scored ${scores.length} slice(s): ${path.join(outDir, 'metrics.csv')}`);
  return scores;
}
