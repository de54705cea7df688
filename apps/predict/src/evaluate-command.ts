/**
 * `tumorcast-predict evaluate`: scores a finished run's predictions against
 * real follow-ups and writes metrics.csv and metrics.json.
 */
import fs from 'node:fs';
import path from 'node:path';
import { loadNifti } from '@tumorcast/nifti/node';
import { CliError, ExitCode, writeFileAtomicSync } from '@tumorcast/cli';
import { scoreSlice, scoresToCsv, summarise } from './evaluate.js';
import type { SliceScores } from './evaluate.js';
import { loadTruth } from './truth.js';
import { readRunRecord, readSliceResult } from './outdir.js';
import { listPredictionSlices, loadPredictionSlice } from './slices.js';

async function planes(files: string[]): Promise<{ data: Float32Array; width: number; height: number; spacing: [number, number] }> {
  const imgs = await Promise.all(files.map((f) => loadNifti(f)));
  const [w, h] = imgs[0]!.shape as [number, number];
  const out = new Float32Array(w * h * imgs.length);
  imgs.forEach((p, c) => {
    for (let i = 0; i < w * h; i++) out[i * imgs.length + c] = p.data[i] as number;
  });
  return { data: out, width: w, height: h, spacing: [imgs[0]!.spacing[0] ?? 1, imgs[0]!.spacing[1] ?? 1] };
}

/** Runs the command; returns the per-slice scores. */
export async function evaluateCommand(runDir: string, truthDir: string, outDir: string, log: (m: string) => void): Promise<SliceScores[]> {
  if (!fs.existsSync(truthDir) || !fs.statSync(truthDir).isDirectory()) throw new CliError(`--truth folder ${truthDir} does not exist`, ExitCode.usage);
  const slicesDir = path.join(runDir, 'slices');
  if (!fs.existsSync(slicesDir)) throw new CliError(`--run ${runDir}: not a tumorcast-predict output folder (no slices/)`, ExitCode.usage);
  const record = readRunRecord(runDir);
  if (!record) throw new CliError(`--run ${runDir}: run.json is missing`, ExitCode.usage);
  const data = record.data;
  if (typeof data !== 'string') throw new CliError(`${path.join(runDir, 'run.json')}: no 'data' folder recorded`, ExitCode.failure);
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
    if (!info) throw new CliError(`${id}: the baseline slice is no longer in ${data}`, 1);
    const base = await loadPredictionSlice(info, 64);
    const baseMask = base.nativeLabel ?? new Uint8Array(n);
    scores.push(scoreSlice(id, { image: pred.data, mask, probability: prob }, { image: base.native, mask: baseMask }, truth, pred.width, pred.height, pred.spacing));
  }
  if (!scores.length) throw new CliError(`no finished slice of ${runDir} has a real follow-up in ${truthDir}`, 1);
  writeFileAtomicSync(path.join(outDir, 'metrics.csv'), scoresToCsv(scores));
  writeFileAtomicSync(path.join(outDir, 'metrics.json'), `${JSON.stringify({ summary: summarise(scores), slices: scores }, null, 2)}\n`);
  log(`scored ${scores.length} slice(s): ${path.join(outDir, 'metrics.csv')}`);
  return scores;
}
