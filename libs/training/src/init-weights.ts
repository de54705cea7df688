/**
 * Fine-tuning: a run that starts at step 0, with a fresh optimiser, from the
 * weights of a file instead of a random initialisation. The file may be a
 * tumorcast checkpoint (`modelNNNNNN` / `emaNNNNNN.safetensors`), an exported
 * float16 model (widened to float32 exactly) or a PyTorch `state_dict`
 * (`.pt`, `.pth`, `.ckpt`, `.bin`). Before anything trains, the file must
 * match the run's network: every parameter's shape, and, where its metadata
 * records them, the network config, the diffusion process and the data range.
 */
import fs from 'node:fs';
import { CliError, ExitCode, sha256File } from '@tumorcast/cli';
import { WeightsMismatchError } from '@tumorcast/nn';
import type { Module } from '@tumorcast/nn';
import { DATA_RANGE_KEY, dataRangeFromMetadata } from '@tumorcast/diffusion';
import { REGRESSOR_CONFIG_KEY, readSafetensorsMetadata } from './metadata.js';

/** Checkpoint metadata key of the init weights a fine-tuning run started from: JSON `{ "file", "sha256" }`. */
export const INIT_WEIGHTS_KEY = 'tumorcast.init_weights';

/** Metadata key of the kind of network a tumorcast checkpoint holds (`diffusion`, `regressor`, `segmenter`). */
const KIND_KEY = 'tumorcast.kind';

/**
 * Network config fields that change how a network trains, not what its
 * weights compute: a file trained with other values is a valid start.
 */
const TRAINING_ONLY_FIELDS = new Set(['useCheckpoint', 'dropout']);

/** What {@link loadInitWeights} read. */
export interface InitWeightsInfo {
  /** The file, as given. */
  file: string;
  /** The SHA-256 of its bytes (hex), recorded so that the run can be repeated. */
  sha256: string;
}

/** Whether `file` is read as a PyTorch `torch.save` file (by extension, as `ParamStore.loadWeights` decides). */
export function isTorchFile(file: string): boolean {
  return /\.(pt|pth|ckpt|bin)$/i.test(file);
}

const flag = '--init-weights';

function shape(s: readonly number[]): string {
  return `[${s.join(', ')}]`;
}

/**
 * The first field where the file's recorded value differs from the run's,
 * comparing the fields both have (older files lack some) and skipping
 * training-only fields; undefined when they agree.
 */
function firstDifference(file: Record<string, unknown>, run: Record<string, unknown>): { field: string; file: unknown; run: unknown } | undefined {
  for (const [k, v] of Object.entries(run)) {
    if (TRAINING_ONLY_FIELDS.has(k) || !(k in file)) continue;
    if (JSON.stringify(file[k]) !== JSON.stringify(v)) return { field: k, file: file[k], run: v };
  }
  return undefined;
}

function parseJsonObject(text: string): Record<string, unknown> | undefined {
  try {
    const v: unknown = JSON.parse(text);
    return v !== null && typeof v === 'object' && !Array.isArray(v) ? (v as Record<string, unknown>) : undefined;
  } catch {
    return undefined;
  }
}

/** The run a weights file must fit. */
export interface InitWeightsTarget {
  /** The command (`diffusion`, `regressor`, `segmenter`): a tumorcast file of another kind is refused. */
  kind: string;
  /** The metadata a checkpoint of this run would carry (network config as JSON, diffusion process as JSON, data range). */
  metadata: Record<string, string>;
}

/** What a file written before a field existed means: a regressor config without `head` has the classifier head. */
function normalize(key: string, value: Record<string, unknown>): Record<string, unknown> {
  return key === REGRESSOR_CONFIG_KEY && value['head'] === undefined ? { ...value, head: 'classifier' } : value;
}

/** How to fix a file that does not fit: where its network options are found. */
function fixHint(torch: boolean): string {
  return torch
    ? 'pass the network options it was trained with (--config, e.g. --config paper for a checkpoint of the paper\'s networks, or the flags)'
    : 'pass the network options it was trained with (--config, e.g. --config demo for the shipped demo models; the file\'s metadata \'tumorcast.config\' lists them)';
}

/**
 * Loads the weights of `file` into `net` (float16 and bfloat16 widened to
 * float32, PyTorch layouts converted) after checking that the file fits the
 * run (see the module comment); every refusal names the file, what differs
 * and how to fix it.
 *
 * @param file - the weights file.
 * @param net - the freshly created network of the run.
 * @param target - the run's kind and the metadata its checkpoints carry.
 * @returns the file and its SHA-256.
 * @throws CliError - exit code 2 for a missing file or one that does not fit the run, 1 for an unreadable or damaged one.
 */
export async function loadInitWeights(file: string, net: Module, target: InitWeightsTarget): Promise<InitWeightsInfo> {
  let st: fs.Stats;
  try {
    st = fs.statSync(file);
  } catch {
    throw new CliError(`${flag} ${file}: no such file (give a weights file: a modelNNNNNN.safetensors, an exported model .safetensors or a PyTorch .pt state_dict)`, ExitCode.usage);
  }
  if (!st.isFile()) throw new CliError(`${flag} ${file}: is ${st.isDirectory() ? 'a folder' : 'not a regular file'}, expected a weights file`, ExitCode.usage);
  const torch = isTorchFile(file);
  let meta: Record<string, string> = {};
  if (!torch) {
    try {
      meta = readSafetensorsMetadata(file);
    } catch (e) {
      throw new CliError(`${flag} ${file}: cannot read it as safetensors (${(e as Error).message})`, ExitCode.failure);
    }
  }
  const kind = meta[KIND_KEY];
  if (kind !== undefined && kind !== target.kind) {
    throw new CliError(`${flag} ${file}: it holds a ${kind} network, but this run trains a ${target.kind}; give a ${target.kind} weights file`, ExitCode.usage);
  }
  // The file's recorded network config, compared after the shapes (a shape names the first parameter that differs).
  const configDifference = (): string | undefined => {
    for (const [key, runValue] of Object.entries(target.metadata)) {
      const fileValue = meta[key];
      if (fileValue === undefined || key === DATA_RANGE_KEY) continue;
      const f = parseJsonObject(fileValue);
      const r = parseJsonObject(runValue);
      if (!f || !r) continue;
      const d = firstDifference(normalize(key, f), r);
      if (d) return `its metadata '${key}' has ${d.field} ${JSON.stringify(d.file)} but this run builds ${JSON.stringify(d.run)}`;
    }
    return undefined;
  };
  try {
    await net.params.loadWeights(file);
  } catch (e) {
    if (e instanceof WeightsMismatchError) {
      const m = e.shapeMismatches[0];
      const config = configDifference();
      const why = config ? ` (${config})` : '';
      if (m) {
        throw new CliError(`${flag} ${file} does not fit this run's network: parameter '${m.name}' has shape ${shape(m.got)} in the file but ${shape(m.expected)} in the network${why}; ${fixHint(torch)}`, ExitCode.usage);
      }
      const what = e.missing.length
        ? `the network's parameter '${e.missing[0]}' is not in the file (${e.missing.length} missing)`
        : `the file's parameter '${e.unexpected[0]}' is not in the network (${e.unexpected.length} unexpected)`;
      throw new CliError(`${flag} ${file} does not fit this run's network: ${what}${why}; ${fixHint(torch)}`, ExitCode.usage);
    }
    throw new CliError(`${flag} ${file}: cannot read the weights (${(e as Error).message})`, ExitCode.failure);
  }
  const config = configDifference();
  if (config) throw new CliError(`${flag} ${file} does not fit this run's network: ${config}; ${fixHint(torch)}`, ExitCode.usage);
  const runRange = target.metadata[DATA_RANGE_KEY];
  if (runRange !== undefined && !torch) {
    const range = dataRangeFromMetadata(meta, file);
    if (range !== runRange) {
      throw new CliError(`${flag} ${file}: it was trained with data_range '${range}' but this run has '${runRange}'; set data_range: '${range}' (--data-range '${range}') to fine-tune it`, ExitCode.usage);
    }
  }
  return { file, sha256: sha256File(file) };
}
