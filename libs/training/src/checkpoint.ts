/**
 * Checkpoints: `modelNNNNNN.safetensors` (weights under PyTorch state-dict
 * names, the resolved config in the metadata), `emaNNNNNN.safetensors` (EMA
 * weights), `optNNNNNN.safetensors` (AdamW moments by parameter name plus the
 * step), each written atomically; the model file is written last, so a
 * checkpoint whose model file exists is complete. Resuming checks the files'
 * headers against their sizes first ({@link checkpointProblem}), which
 * catches files truncated by a full disk or a copy.
 */
import fs from 'node:fs';
import path from 'node:path';
import * as tf from '@tensorflow/tfjs';
import { AdamW, ExponentialMovingAverage, ParamStore, loadSafetensors, saveSafetensors, tfToTorch } from '@tumorcast/nn';
import type { SafetensorsInput } from '@tumorcast/nn';
import { CliError } from '@tumorcast/cli';

/** Zero-padded step as in guided-diffusion's file names. */
export function stepTag(step: number): string {
  return String(step).padStart(6, '0');
}

/** The files of the checkpoint at `step` in `dir`. */
export function checkpointFiles(dir: string, step: number): { model: string; ema: string; opt: string } {
  const tag = stepTag(step);
  return {
    model: path.join(dir, `model${tag}.safetensors`),
    ema: path.join(dir, `ema${tag}.safetensors`),
    opt: path.join(dir, `opt${tag}.safetensors`),
  };
}

/** Parses the step from a `modelNNNNNN.safetensors` path, or undefined. */
export function stepOfCheckpoint(file: string): number | undefined {
  const m = /^model(\d+)\.safetensors$/.exec(path.basename(file));
  return m ? Number(m[1]) : undefined;
}

/** The steps of the checkpoints (model files) in `dir`, newest first. */
function checkpointSteps(dir: string): number[] {
  let names: string[];
  try {
    names = fs.readdirSync(dir);
  } catch {
    return [];
  }
  return names.map((f) => stepOfCheckpoint(f)).filter((s): s is number => s !== undefined).sort((a, b) => b - a);
}

/** The newest checkpoint's model file in `dir` (the model file is written last, so its presence marks a finished save), or undefined. */
export function latestCheckpoint(dir: string): string | undefined {
  const steps = checkpointSteps(dir);
  return steps.length ? checkpointFiles(dir, steps[0] as number).model : undefined;
}

/**
 * What is wrong with a safetensors file, read from its header only (the
 * data is not loaded): missing, truncated, a header that is not JSON or
 * describes more bytes than the file has. Undefined when it looks intact.
 */
export function safetensorsProblem(file: string): string | undefined {
  let fd: number;
  try {
    fd = fs.openSync(file, 'r');
  } catch (e) {
    return (e as NodeJS.ErrnoException).code === 'ENOENT' ? 'missing' : `cannot read (${(e as NodeJS.ErrnoException).code ?? (e as Error).message})`;
  }
  try {
    const st = fs.fstatSync(fd);
    if (!st.isFile()) return 'not a regular file';
    if (st.size < 8) return `truncated (${st.size} bytes)`;
    const lenBuf = Buffer.alloc(8);
    fs.readSync(fd, lenBuf, 0, 8, 0);
    const headerLen = Number(lenBuf.readBigUInt64LE(0));
    if (headerLen < 2 || 8 + headerLen > st.size) return `truncated or damaged: the header length ${headerLen} does not fit in ${st.size} bytes`;
    const head = Buffer.alloc(headerLen);
    let got = 0;
    while (got < headerLen) {
      const r = fs.readSync(fd, head, got, headerLen - got, 8 + got);
      if (r === 0) break;
      got += r;
    }
    let header: Record<string, { data_offsets?: unknown }>;
    try {
      header = JSON.parse(head.subarray(0, got).toString('utf8')) as typeof header;
    } catch {
      return 'damaged: the header is not valid JSON';
    }
    let end = 0;
    for (const [name, entry] of Object.entries(header)) {
      if (name === '__metadata__') continue;
      const off = entry?.data_offsets;
      if (!Array.isArray(off) || off.length !== 2 || !off.every((x) => Number.isInteger(x))) return `damaged: tensor '${name}' has no valid data_offsets`;
      end = Math.max(end, off[1] as number);
    }
    const need = 8 + headerLen + end;
    if (need > st.size) return `truncated: ${st.size} bytes, the header describes ${need}`;
    return undefined;
  } finally {
    fs.closeSync(fd);
  }
}

/**
 * What is wrong with the checkpoint whose model file is `modelFile`: the
 * model file and the optimiser state must be intact, the EMA file (when
 * there is one) too. Undefined when the checkpoint can be resumed from.
 */
export function checkpointProblem(modelFile: string): string | undefined {
  const step = stepOfCheckpoint(modelFile);
  if (step === undefined) return 'not a modelNNNNNN.safetensors file';
  const files = checkpointFiles(path.dirname(modelFile), step);
  const model = safetensorsProblem(files.model);
  if (model) return `${path.basename(files.model)}: ${model}`;
  const opt = safetensorsProblem(files.opt);
  if (opt) return `optimiser state ${path.basename(files.opt)}: ${opt}`;
  if (fs.existsSync(files.ema)) {
    const ema = safetensorsProblem(files.ema);
    if (ema) return `EMA weights ${path.basename(files.ema)}: ${ema}`;
  }
  return undefined;
}

/** What {@link latestIntactCheckpoint} found. */
export interface LatestIntactCheckpoint {
  /** The newest checkpoint that passes {@link checkpointProblem}, or undefined. */
  file?: string;
  /** Newer checkpoints passed over, with what is wrong with each. */
  damaged: { file: string; problem: string }[];
}

/** The newest intact checkpoint in `dir` (see {@link checkpointProblem}), and the damaged newer ones. */
export function latestIntactCheckpoint(dir: string): LatestIntactCheckpoint {
  const damaged: { file: string; problem: string }[] = [];
  for (const step of checkpointSteps(dir)) {
    const file = checkpointFiles(dir, step).model;
    const problem = checkpointProblem(file);
    if (!problem) return { file, damaged };
    damaged.push({ file, problem });
  }
  return { damaged };
}

/** Maps tfjs variable names (auto-generated, process-specific) to the parameters' PyTorch names. */
function nameMaps(store: ParamStore): { toParam: Map<string, string>; toVar: Map<string, string>; vars: Map<string, tf.Variable> } {
  const toParam = new Map<string, string>();
  const toVar = new Map<string, string>();
  const vars = new Map<string, tf.Variable>();
  for (const e of store.entries()) {
    toParam.set(e.variable.name, e.name);
    toVar.set(e.name, e.variable.name);
    vars.set(e.name, e.variable);
  }
  return { toParam, toVar, vars };
}

/** What a training command saves and restores. */
export interface TrainState {
  /** The network's parameters. */
  store: ParamStore;
  /** The optimiser. */
  optimizer: AdamW;
  /** The EMA of the weights, when the command keeps one. */
  ema?: ExponentialMovingAverage;
}

/** Writes a checkpoint for `step` (EMA and optimiser first, the model file last). */
export async function saveCheckpoint(
  dir: string, step: number, state: TrainState, config: Record<string, unknown>, kind: string, extraMetadata: Record<string, string> = {},
): Promise<string> {
  fs.mkdirSync(dir, { recursive: true });
  const files = checkpointFiles(dir, step);
  const metadata = { 'tumorcast.kind': kind, 'tumorcast.step': String(step), 'tumorcast.config': JSON.stringify(config), ...extraMetadata };
  const { toParam } = nameMaps(state.store);
  if (state.ema) {
    const tensors: Record<string, SafetensorsInput> = {};
    const torchDict = new Map(state.store.entries().map((e) => [e.variable.name, e]));
    for (const [varName, data] of await state.ema.valuesAsync()) {
      const e = torchDict.get(varName);
      if (!e) continue;
      // PyTorch layout, so that the EMA file loads exactly like a model file.
      tensors[e.name] = { shape: e.torchShape, data: tfToTorch(data, e.torchShape, e.layout) };
    }
    await saveSafetensors(files.ema, tensors, { metadata: { ...metadata, 'tumorcast.ema_rate': String(state.ema.rate) } });
  }
  const opt = await state.optimizer.getStateAsync();
  const optTensors: Record<string, SafetensorsInput> = {};
  for (const [which, m] of [['m', opt.m], ['v', opt.v]] as const) {
    for (const [varName, data] of m) {
      const name = toParam.get(varName);
      if (!name) continue;
      const entry = state.store.get(name);
      optTensors[`${which}/${name}`] = { shape: entry.shape, data };
    }
  }
  await saveSafetensors(files.opt, optTensors, { metadata: { ...metadata, 'tumorcast.opt_step': String(opt.step) } });
  await state.store.saveWeights(files.model, { metadata });
  return files.model;
}

/** Reads the metadata of a checkpoint's model file (step, kind, config). */
export async function readCheckpointInfo(modelFile: string): Promise<{ step: number; kind: string; config: Record<string, unknown> }> {
  const f = await loadSafetensors(modelFile);
  const step = Number(f.metadata['tumorcast.step'] ?? stepOfCheckpoint(modelFile) ?? Number.NaN);
  let config: Record<string, unknown> = {};
  try {
    config = JSON.parse(f.metadata['tumorcast.config'] ?? '{}') as Record<string, unknown>;
  } catch {
    throw new CliError(`${modelFile}: the checkpoint's config metadata is not valid JSON`);
  }
  return { step, kind: f.metadata['tumorcast.kind'] ?? 'unknown', config };
}

/**
 * Restores weights, EMA and optimiser state from a checkpoint and returns its
 * step. A missing optimiser file is an error (the run could not continue
 * identically); a missing EMA file restarts the EMA from the weights.
 */
export async function loadCheckpoint(modelFile: string, state: TrainState): Promise<number> {
  const step = stepOfCheckpoint(modelFile);
  if (step === undefined) throw new CliError(`resume checkpoint ${modelFile}: expected a file named modelNNNNNN.safetensors`);
  if (!fs.existsSync(modelFile)) throw new CliError(`resume checkpoint ${modelFile} does not exist`);
  const problem = checkpointProblem(modelFile);
  if (problem) throw new CliError(`resume checkpoint ${modelFile} is damaged (${problem}); resume from an earlier one, or use --resume-checkpoint latest to take the newest intact one`, 1);
  const files = checkpointFiles(path.dirname(modelFile), step);
  await state.store.loadWeights(modelFile);
  const { toVar, vars } = nameMaps(state.store);
  if (!fs.existsSync(files.opt)) throw new CliError(`resume checkpoint ${modelFile}: optimiser state ${files.opt} is missing`);
  const opt = await loadSafetensors(files.opt);
  const m = new Map<string, Float32Array>();
  const v = new Map<string, Float32Array>();
  for (const [key, t] of opt.tensors) {
    const slash = key.indexOf('/');
    const which = key.slice(0, slash);
    const name = key.slice(slash + 1);
    const varName = toVar.get(name);
    if (!varName || (which !== 'm' && which !== 'v')) throw new CliError(`${files.opt}: unexpected entry '${key}' (does the checkpoint belong to this model config?)`);
    (which === 'm' ? m : v).set(varName, t.data as Float32Array);
  }
  const optStep = Number(opt.metadata['tumorcast.opt_step'] ?? step);
  state.optimizer.setState({ step: optStep, m, v }, [...vars.values()]);
  if (state.ema) {
    if (fs.existsSync(files.ema)) {
      const tmp = new ParamStore();
      for (const e of state.store.entries()) tmp.add(e.name, e.torchShape, e.layout, { kind: 'zeros' });
      await tmp.loadWeights(files.ema);
      const values = new Map<string, Float32Array>();
      for (const e of tmp.entries()) values.set(toVar.get(e.name)!, ((await e.variable.data()) as Float32Array).slice());
      tmp.dispose();
      state.ema.setValues(values);
    }
  }
  return step;
}
