/**
 * The training loop shared by the commands: steps until `iterations`,
 * logs metrics to `log.csv`, draws the loss curve and saves checkpoints every
 * `save_interval` steps, evaluates every `eval_interval` steps, and on
 * SIGINT/SIGTERM finishes the current step, saves, and returns normally.
 */
import fs from 'node:fs';
import path from 'node:path';
import * as tf from '@tensorflow/tfjs';
import { Progress, appendLine, lineChartSvg, writeFileAtomicSync } from '@tumorcast/cli';

/** Options of {@link trainLoop}. */
export interface TrainLoopOptions {
  /** Label for the progress bar. */
  label: string;
  /** Train until this step count is reached. */
  iterations: number;
  /** Steps already done (resume). */
  startStep: number;
  /** Save a checkpoint every this many steps (0: only at the end). */
  saveInterval: number;
  /** Evaluate every this many steps (0: never). */
  evalInterval: number;
  /** Folder of log.csv and loss.svg. */
  resultsDir: string;
  /** One optimisation step; `step` is the 0-based index of the step being taken. Returns metrics (at least `loss`). */
  step: (step: number) => Promise<Record<string, number>>;
  /** Validation; returns metrics such as `val_mse`. */
  evaluate?: (stepsDone: number) => Promise<Record<string, number>>;
  /** Writes a checkpoint after `stepsDone` steps. */
  save: (stepsDone: number) => Promise<string>;
  /** Stream for progress output. @defaultValue process.stderr */
  stream?: NodeJS.WriteStream;
  /** Abort signal (tests); SIGINT/SIGTERM are handled too. */
  signal?: AbortSignal;
  /** Columns of log.csv after `step` (metrics not listed are not logged). */
  columns: readonly string[];
}

/** What {@link trainLoop} did. */
export interface TrainLoopResult {
  /** Steps done at the end. */
  stepsDone: number;
  /** True when stopped by a signal before `iterations`. */
  interrupted: boolean;
  /** The last checkpoint written. */
  lastCheckpoint?: string;
}


/** Runs the loop (see the module comment). */
export async function trainLoop(o: TrainLoopOptions): Promise<TrainLoopResult> {
  const logFile = path.join(o.resultsDir, 'log.csv');
  fs.mkdirSync(o.resultsDir, { recursive: true });
  let stopRequested = false;
  const onSignal = (sig: NodeJS.Signals) => {
    if (stopRequested) {
      process.stderr.write(`\n${sig} again: exiting without saving\n`);
      process.exit(130);
    }
    stopRequested = true;
    process.stderr.write(`\n${sig}: finishing the current step, then saving a checkpoint (press again to quit at once)\n`);
  };
  process.on('SIGINT', onSignal);
  process.on('SIGTERM', onSignal);
  const progress = new Progress(o.iterations, { label: o.label, stream: o.stream }, o.startStep);
  const t0 = performance.now();
  let stepsDone = o.startStep;
  let lastCheckpoint: string | undefined;
  let lastSaved = o.startStep;
  const columns = ['step', ...o.columns, 'seconds'];
  const curve = readCurve(logFile);
  try {
    while (stepsDone < o.iterations && !stopRequested && !o.signal?.aborted) {
      const metrics = await o.step(stepsDone);
      stepsDone++;
      const row: Record<string, number> = { step: stepsDone, ...metrics, seconds: (performance.now() - t0) / 1000 };
      if (o.evaluate && o.evalInterval > 0 && stepsDone % o.evalInterval === 0) Object.assign(row, await o.evaluate(stepsDone));
      appendLine(logFile, columns.map((c) => (row[c] === undefined ? '' : String(row[c]))).join(','), columns.join(','));
      curve.push(row);
      progress.tick(pick(row, ['loss', 'val_mse']));
      if (o.saveInterval > 0 && stepsDone % o.saveInterval === 0) {
        lastCheckpoint = await o.save(stepsDone);
        lastSaved = stepsDone;
        writeCurve(o.resultsDir, curve);
      }
    }
  } finally {
    process.off('SIGINT', onSignal);
    process.off('SIGTERM', onSignal);
  }
  progress.done();
  if (stepsDone !== lastSaved || !lastCheckpoint) {
    lastCheckpoint = await o.save(stepsDone);
    writeCurve(o.resultsDir, curve);
  }
  return { stepsDone, interrupted: stepsDone < o.iterations, lastCheckpoint };
}

function pick(row: Record<string, number>, keys: string[]): Record<string, number> {
  const out: Record<string, number> = {};
  for (const k of keys) if (row[k] !== undefined) out[k] = row[k] as number;
  return out;
}

function readCurve(logFile: string): Record<string, number>[] {
  if (!fs.existsSync(logFile)) return [];
  const [head, ...lines] = fs.readFileSync(logFile, 'utf8').trim().split('\n');
  const cols = (head ?? '').split(',');
  return lines.map((l) => {
    const v = l.split(',');
    const r: Record<string, number> = {};
    cols.forEach((c, i) => {
      if (v[i] !== undefined && v[i] !== '') r[c] = Number(v[i]);
    });
    return r;
  });
}

function writeCurve(dir: string, rows: Record<string, number>[]): void {
  const series = [];
  const loss = rows.filter((r) => Number.isFinite(r['loss']));
  series.push({ label: 'training loss', x: loss.map((r) => r['step'] as number), y: loss.map((r) => r['loss'] as number) });
  const val = rows.filter((r) => Number.isFinite(r['val_mse']));
  if (val.length) series.push({ label: 'validation MSE', x: val.map((r) => r['step'] as number), y: val.map((r) => r['val_mse'] as number) });
  writeFileAtomicSync(path.join(dir, 'loss.svg'), lineChartSvg(series, { title: 'Training', xLabel: 'step', yLabel: 'loss', logY: true }));
}

/** Mean of a `[B]` tensor as a number (disposes nothing). */
export function scalarValue(t: tf.Tensor): number {
  return t.dataSync()[0] as number;
}
