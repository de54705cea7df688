/**
 * What determines a run's outputs, so that a rerun into the same output folder
 * resumes only when its results would come out the same: every sampling
 * setting, the content (sha256) of the network files and of the target
 * source, and per slice the content of its input files (and real follow-up)
 * and its relative change.
 */
import fs from 'node:fs';
import { sha256File } from '@tumorcast/cli';
import type { SliceSampleInfo } from '@tumorcast/dataset';
import { PipelineInputError, apiOptionName } from './errors.js';
import type { OptionNamer } from './errors.js';
import type { ModelPaths } from './models.js';
import type { SampleSettings } from './settings.js';
import type { TargetSource } from './targets.js';

/** The run-wide part of a run's provenance (recorded in `run.json`). */
export interface RunProvenance {
  /** Whether the run writes probability maps (`sample` writes none and samples once). */
  maps: boolean;
  /** The sampling settings in effect. */
  settings: SampleSettings;
  /** The networks: content hashes, and the options that change how a file is read. */
  models: Record<string, string | null>;
  /** Where the relative changes come from: the kind, its values or the file's content hash, and the growth fit's options. */
  targets: Record<string, string | number | null>;
  /** Whether real follow-ups were given (their content is part of each slice's inputs). */
  truth: boolean;
}

/** The per-slice part of a run's provenance (recorded in each `result.json`). */
export interface SliceInputs {
  /** sha256 of each input file by role (`t1n`, ..., `label`). */
  files: Record<string, string>;
  /** sha256 of each real follow-up file by role, when real follow-ups are given. */
  truth: Record<string, string> | null;
  /** The relative change d that guided the slice. */
  relativeChange: number;
}


/** sha256 of a file the caller named with option `option` (`what` it is); a missing or unreadable one is an input error naming both. */
function hashNamed(file: string, what: string, option: string): string {
  let st: fs.Stats;
  try {
    st = fs.statSync(file);
  } catch (e) {
    throw new PipelineInputError(`${what} ${file} do${what.endsWith('s') ? '' : 'es'} not exist (${option})`, { cause: e });
  }
  if (!st.isFile()) throw new PipelineInputError(`${what} ${file} (${option}): not a file`);
  try {
    return sha256File(file);
  } catch (e) {
    throw new PipelineInputError(`${what} ${file} (${option}): cannot read (${(e as NodeJS.ErrnoException).code ?? (e as Error).message})`, { cause: e });
  }
}

const isTorch = (f: string) => /\.(pt|pth)$/i.test(f);

/**
 * The model part of {@link RunProvenance}.
 *
 * @param m - the network files.
 * @param names - how messages name the options.
 * @defaultValue names apiOptionName
 * @throws PipelineInputError naming the option of a missing or unreadable file.
 */
export function modelsProvenance(m: ModelPaths, names: OptionNamer = apiOptionName): Record<string, string | null> {
  const out: Record<string, string | null> = {
    diffusion: hashNamed(m.diffusion, 'diffusion weights', names('models.diffusion')),
    regressor: hashNamed(m.regressor, 'regressor weights', names('models.regressor')),
    segmenter: m.segmenter ? hashNamed(m.segmenter, 'segmenter weights', names('models.segmenter')) : 'flair',
    dataRange: m.dataRange ?? null,
  };
  // The architecture options only matter for the .pt/.pth files they describe.
  if (isTorch(m.diffusion)) out['diffusionPreset'] = typeof m.diffusionPreset === 'object' ? JSON.stringify(m.diffusionPreset) : m.diffusionPreset ?? 'paper';
  if (isTorch(m.regressor)) {
    out['regressorPreset'] = typeof m.regressorPreset === 'object' ? JSON.stringify(m.regressorPreset) : m.regressorPreset ?? 'paper';
    out['regressorHead'] = m.regressorHead ?? 'regression';
  }
  return out;
}

/**
 * The target part of {@link RunProvenance} (file sources by content).
 *
 * @param t - the source.
 * @param names - how messages name the options.
 * @defaultValue names apiOptionName
 * @throws PipelineInputError naming the option of a missing or unreadable file.
 */
export function targetsProvenance(t: TargetSource, names: OptionNamer = apiOptionName): Record<string, string | number | null> {
  if (t.kind === 'constant') return { kind: 'constant', relativeChange: t.relativeChange };
  if (t.kind === 'json') return { kind: 'json', sha256: hashNamed(t.file, 'targets file', names('targets.json')) };
  return {
    kind: 'series', sha256: hashNamed(t.file, 'size series CSV', names('targets.series')), followupDay: t.followupDay, baselineDay: t.baselineDay ?? null, rtEndDay: t.rtEndDay ?? null,
    replicates: t.replicates ?? 30, objective: t.objective ?? 'least-squares', bootstrapNoise: t.bootstrapNoise ?? 'symmetric',
  };
}

/**
 * The content hashes of a slice's files by role (the four modalities and the label).
 *
 * @param info - the slice.
 */
export function sampleHashes(info: SliceSampleInfo): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [role, file] of Object.entries(info.files)) out[role] = sha256File(file);
  if (info.label) out['label'] = sha256File(info.label);
  return out;
}

/** What the caller would change to get each provenance key: an option (see {@link OptionNamer}) or a short description. */
function labelOf(key: string, names: OptionNamer): string {
  const [head, sub] = key.split('.') as [string, string | undefined];
  if (head === 'settings' && sub) return names(key);
  if (head === 'maps' || head === 'truth') return names(head);
  if (head === 'models' && sub) return ['diffusion', 'regressor', 'segmenter'].includes(sub) ? `${names(key)} (file content)` : names(key);
  if (head === 'targets' && sub) {
    if (sub === 'kind') return `where the relative changes come from (${names('targets.relativeChange')}, ${names('targets.json')} or ${names('targets.series')})`;
    if (sub === 'sha256') return `the ${names('targets.json')}/${names('targets.series')} file (content)`;
    return names(key);
  }
  return key;
}

function show(v: unknown): string {
  if (v === undefined || v === null) return 'none';
  // JSON.stringify would write null (an Infinity gradient margin).
  if (typeof v === 'number' && !Number.isFinite(v)) return String(v);
  if (typeof v === 'string' && /^[0-9a-f]{64}$/.test(v)) return `sha256 ${v.slice(0, 12)}…`;
  return JSON.stringify(v);
}

function flatten(v: unknown, prefix: string, out: Map<string, unknown>): void {
  if (v && typeof v === 'object' && !Array.isArray(v)) {
    for (const [k, x] of Object.entries(v as Record<string, unknown>)) flatten(x, prefix ? `${prefix}.${k}` : k, out);
  } else {
    out.set(prefix, v);
  }
}

/**
 * The differences between two provenance records, in words: `'settings.seed' (0 there, 3 now)`.
 *
 * @param there - the folder's record.
 * @param now - this run's.
 * @param names - how the options are named.
 * @defaultValue names apiOptionName
 * @returns one entry per differing key; empty when they match.
 */
export function provenanceDifferences(there: unknown, now: unknown, names: OptionNamer = apiOptionName): string[] {
  const a = new Map<string, unknown>();
  const b = new Map<string, unknown>();
  flatten(there, '', a);
  flatten(now, '', b);
  const keys = [...new Set([...a.keys(), ...b.keys()])];
  return keys
    .filter((k) => JSON.stringify(a.get(k) ?? null) !== JSON.stringify(b.get(k) ?? null))
    .map((k) => `${labelOf(k, names)} (${show(a.get(k))} there, ${show(b.get(k))} now)`);
}

/**
 * The differences between a finished slice's recorded inputs and this run's, in words.
 *
 * @param id - the slice.
 * @param there - `result.json`'s `inputs` (undefined for results that recorded none).
 * @param now - this run's.
 */
export function sliceDifferences(id: string, there: SliceInputs | undefined, now: SliceInputs): string[] {
  if (!there) return [`slice ${id}: its result records no inputs (written by an earlier tumorcast-predict)`];
  const out: string[] = [];
  if (there.relativeChange !== now.relativeChange) out.push(`slice ${id}: relative change (${there.relativeChange} there, ${now.relativeChange} now)`);
  const files = (x: Record<string, string> | null | undefined, what: string) => Object.entries(x ?? {}).map(([k, v]) => [`${what}${k}`, v] as const);
  const a = new Map(files(there.files, '').concat(files(there.truth, 'real follow-up ')));
  const b = new Map(files(now.files, '').concat(files(now.truth, 'real follow-up ')));
  for (const k of new Set([...a.keys(), ...b.keys()])) {
    if (a.get(k) !== b.get(k)) out.push(`slice ${id}: ${k} file (${show(a.get(k))} there, ${show(b.get(k))} now)`);
  }
  return out;
}
