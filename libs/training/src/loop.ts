/**
 * The training loop shared by the commands: steps until `iterations`,
 * logs metrics to `log.csv`, draws the loss curve and saves checkpoints every
 * `save_interval` steps, evaluates every `eval_interval` steps.
 *
 * Signals: the loop yields to the event loop between steps, so SIGINT or
 * SIGTERM is seen within one step whatever the save interval. The first
 * signal finishes the current step, saves a checkpoint and returns (the
 * caller exits with 128 + the signal number). A second signal during a step
 * quits at once (nothing is being written then, the previous checkpoint
 * stays intact); during a save it waits for the save to complete, so that a
 * checkpoint is never half-written.
 */
import fs from 'node:fs';
import path from 'node:path';
import * as tf from '@tensorflow/tfjs';
import { Progress, appendLine, lineChartSvg, readTextFileChecked, signalExitCode, writeFileAtomicSync } from '@tumorcast/cli';

/** The signals the loop handles. */
export type StopSignal = 'SIGINT' | 'SIGTERM';
const SIGNALS: readonly StopSignal[] = ['SIGINT', 'SIGTERM'];

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
  /** Notices (signals, log.csv rows dropped on resume). @defaultValue a line on `stream` */
  log?: (message: string) => void;
  /** Abort signal (tests); SIGINT/SIGTERM are handled too. */
  signal?: AbortSignal;
  /** Columns of log.csv after `step` (metrics not listed are not logged). */
  columns: readonly string[];
}

/** What {@link trainLoop} did. */
export interface TrainLoopResult {
  /** Steps done at the end. */
  stepsDone: number;
  /** True when stopped by a signal (or the abort signal) before `iterations`. */
  interrupted: boolean;
  /** The process signal that stopped the loop, if one did. */
  signal?: StopSignal;
  /** The last checkpoint written. */
  lastCheckpoint?: string;
}

/**
 * After an interrupted run the process is about to exit: a further signal in
 * that window must not kill it with the default action (no exit code, and in
 * the middle of the callers' clean-up), so it exits at once with the
 * conventional code — everything is saved by then. Removed when a new loop
 * starts in the same process.
 */
let afterStop: ((sig: NodeJS.Signals) => void) | undefined;
function setAfterStopHandler(on: boolean): void {
  if (afterStop) for (const s of SIGNALS) process.off(s, afterStop);
  afterStop = undefined;
  if (!on) return;
  afterStop = (sig) => process.exit(signalExitCode(sig as StopSignal));
  for (const s of SIGNALS) process.on(s, afterStop);
}

/** Lets pending I/O callbacks, signal handlers among them, run. */
function yieldToEventLoop(): Promise<void> {
  return new Promise((resolve) => setImmediate(resolve));
}

/** Runs the loop (see the module comment). */
export async function trainLoop(o: TrainLoopOptions): Promise<TrainLoopResult> {
  const logFile = path.join(o.resultsDir, 'log.csv');
  const stream = o.stream ?? process.stderr;
  const notice = o.log ?? ((m: string) => void stream.write(`${m}\n`));
  fs.mkdirSync(o.resultsDir, { recursive: true });
  setAfterStopHandler(false);
  const columns = ['step', ...o.columns, 'seconds'];
  const curve = prepareLog(logFile, columns, o.startStep, notice);
  let stepsDone = o.startStep;
  let lastCheckpoint: string | undefined;
  let lastSaved = o.startStep;
  let phase: 'idle' | 'step' | 'save' = 'idle';
  let stopSignal: StopSignal | undefined;
  const onSignal = (raw: NodeJS.Signals) => {
    const sig = raw as StopSignal;
    if (!stopSignal) {
      stopSignal = sig;
      const target = phase === 'step' ? stepsDone + 1 : stepsDone;
      notice(`\n${sig}: stopping after step ${target}, then saving a checkpoint (${sig} again: quit without saving)`);
      return;
    }
    if (phase === 'save') {
      notice(`\n${sig} again: a checkpoint is being written; exiting as soon as it is complete`);
      return;
    }
    notice(`\n${sig} again: exiting without saving; ${lastCheckpoint ? `the last checkpoint is ${lastCheckpoint}` : 'no checkpoint was written in this run'}`);
    process.exit(signalExitCode(sig));
  };
  for (const s of SIGNALS) process.on(s, onSignal);
  const save = async (step: number): Promise<void> => {
    phase = 'save';
    try {
      lastCheckpoint = await o.save(step);
      lastSaved = step;
      writeCurve(o.resultsDir, curve);
    } finally {
      phase = 'idle';
    }
  };
  const progress = new Progress(o.iterations, { label: o.label, stream: o.stream }, o.startStep);
  const t0 = performance.now();
  try {
    for (;;) {
      await yieldToEventLoop();
      if (stepsDone >= o.iterations || stopSignal || o.signal?.aborted) break;
      phase = 'step';
      const metrics = await o.step(stepsDone);
      stepsDone++;
      const row: Record<string, number> = { step: stepsDone, ...metrics, seconds: (performance.now() - t0) / 1000 };
      if (o.evaluate && o.evalInterval > 0 && stepsDone % o.evalInterval === 0) Object.assign(row, await o.evaluate(stepsDone));
      phase = 'idle';
      appendLine(logFile, csvRow(columns, row), columns.join(','));
      curve.push(row);
      progress.tick(pick(row, ['loss', 'val_mse']));
      if (o.saveInterval > 0 && stepsDone % o.saveInterval === 0) await save(stepsDone);
    }
    progress.done();
    if (stepsDone !== lastSaved || !lastCheckpoint) await save(stepsDone);
  } finally {
    phase = 'idle';
    // Installed before ours is removed: no moment in which a signal would kill the process with the default action.
    if (stopSignal) setAfterStopHandler(true);
    for (const s of SIGNALS) process.off(s, onSignal);
  }
  const result: TrainLoopResult = { stepsDone, interrupted: stepsDone < o.iterations, lastCheckpoint };
  if (stopSignal) result.signal = stopSignal;
  return result;
}

function csvRow(columns: readonly string[], row: Record<string, number>): string {
  return columns.map((c) => (row[c] === undefined ? '' : String(row[c]))).join(',');
}

function pick(row: Record<string, number>, keys: string[]): Record<string, number> {
  const out: Record<string, number> = {};
  for (const k of keys) if (row[k] !== undefined) out[k] = row[k] as number;
  return out;
}

/** log.csv grows by ~100 bytes a step; this allows millions of steps and refuses a wrong file. */
const MAX_LOG_BYTES = 512 * 1024 * 1024;

/**
 * Reads log.csv for the loss curve and cuts it back to `startStep`: rows of
 * steps after it (done by a run that was killed before its next checkpoint,
 * or by an earlier run when starting from scratch) are redone now and would
 * otherwise appear twice. Unparsable lines are dropped too, and a log with
 * other columns is rewritten with the current ones.
 */
export function prepareLog(logFile: string, columns: readonly string[], startStep: number, notice: (m: string) => void): Record<string, number>[] {
  if (!fs.existsSync(logFile)) return [];
  const text = readTextFileChecked(logFile, { what: 'training log', maxBytes: MAX_LOG_BYTES, exitCode: 1 });
  const [head = '', ...lines] = text.split('\n').filter((l) => l.trim() !== '');
  const cols = head.split(',');
  const byStep = new Map<number, Record<string, number>>();
  let later = 0;
  let bad = 0;
  for (const line of lines) {
    const v = line.split(',');
    const r: Record<string, number> = {};
    cols.forEach((c, i) => {
      if (v[i] !== undefined && v[i] !== '') r[c] = Number(v[i]);
    });
    const step = r['step'];
    if (v.length !== cols.length || step === undefined || !Number.isInteger(step) || step < 1) {
      bad++;
    } else if (step > startStep) {
      later++;
    } else {
      // A step logged twice (by older versions, which did not cut the log): the later row is the one kept.
      if (byStep.has(step)) bad++;
      byStep.set(step, r);
    }
  }
  const rows = [...byStep.values()].sort((a, b) => (a['step'] as number) - (b['step'] as number));
  const sameColumns = head === columns.join(',');
  if (later || bad || !sameColumns) {
    writeFileAtomicSync(logFile, `${[columns.join(','), ...rows.map((r) => csvRow(columns, r))].join('\n')}\n`);
    if (later) {
      notice(startStep === 0
        ? `${logFile}: dropped ${later} row(s) of an earlier run (this run starts from step 0)`
        : `${logFile}: dropped ${later} row(s) after step ${startStep}, the step resumed from (they are redone now)`);
    }
    if (bad) notice(`${logFile}: dropped ${bad} unreadable or repeated row(s)`);
    if (!sameColumns) notice(`${logFile}: rewritten with the columns ${columns.join(',')} (was ${head})`);
  }
  return rows;
}

function writeCurve(dir: string, rows: Record<string, number>[]): void {
  const series = [];
  const loss = rows.filter((r) => Number.isFinite(r['loss']));
  series.push({ label: 'training loss', x: loss.map((r) => r['step'] as number), y: loss.map((r) => r['loss'] as number) });
  const val = rows.filter((r) => Number.isFinite(r['val_mse']));
  if (val.length) series.push({ label: 'validation MSE', x: val.map((r) => r['step'] as number), y: val.map((r) => r['val_mse'] as number) });
  writeFileAtomicSync(path.join(dir, 'loss.svg'), lineChartSvg(series, { title: 'Training', xLabel: 'step', yLabel: 'loss', logY: true }));
}

/**
 * The first value of a tensor as a number (disposes nothing). Reads
 * synchronously; on the `webgpu` backend in Node use {@link scalarValueAsync}.
 */
export function scalarValue(t: tf.Tensor): number {
  return t.dataSync()[0] as number;
}

/** As {@link scalarValue}, reading asynchronously (works on every backend). */
export async function scalarValueAsync(t: tf.Tensor): Promise<number> {
  return (await t.data())[0] as number;
}
