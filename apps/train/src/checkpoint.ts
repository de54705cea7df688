/**
 * Checkpoints: `modelNNNNNN.safetensors` (weights under PyTorch state-dict
 * names, the resolved config in the metadata), `emaNNNNNN.safetensors` (EMA
 * weights), `optNNNNNN.safetensors` (AdamW moments by parameter name plus the
 * step), each written atomically; the model file is written last, so a
 * checkpoint whose model file exists is complete.
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

/** The newest complete checkpoint's model file in `dir`, or undefined. */
export function latestCheckpoint(dir: string): string | undefined {
  if (!fs.existsSync(dir)) return undefined;
  const steps = fs.readdirSync(dir).map((f) => stepOfCheckpoint(f)).filter((s): s is number => s !== undefined);
  if (!steps.length) return undefined;
  return checkpointFiles(dir, Math.max(...steps)).model;
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
    for (const [varName, data] of state.ema.values()) {
      const e = torchDict.get(varName);
      if (!e) continue;
      // PyTorch layout, so that the EMA file loads exactly like a model file.
      tensors[e.name] = { shape: e.torchShape, data: tfToTorch(data, e.torchShape, e.layout) };
    }
    await saveSafetensors(files.ema, tensors, { metadata: { ...metadata, 'tumorcast.ema_rate': String(state.ema.rate) } });
  }
  const opt = state.optimizer.getState();
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
  if (!fs.existsSync(modelFile)) throw new CliError(`resume checkpoint ${modelFile} does not exist`);
  const step = stepOfCheckpoint(modelFile);
  if (step === undefined) throw new CliError(`resume checkpoint ${modelFile}: expected a file named modelNNNNNN.safetensors`);
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
      for (const e of tmp.entries()) values.set(toVar.get(e.name)!, e.variable.dataSync().slice() as Float32Array);
      tmp.dispose();
      state.ema.setValues(values);
    }
  }
  return step;
}
