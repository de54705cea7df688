/**
 * What determines a run's outputs, so that a rerun into the same `--out`
 * resumes only when its results would come out the same: every sampling
 * setting, the content (sha256) of the network files and of the target
 * source, and per slice the content of its input files (and real follow-up)
 * and its relative change.
 */
import { createHash } from 'node:crypto';
import fs from 'node:fs';
import { CliError, ExitCode } from '@tumorcast/cli';
import type { SliceSampleInfo } from '@tumorcast/dataset';
import type { ModelPaths } from './models.js';
import type { SampleSettings } from './predict.js';
import type { TargetSource } from './run.js';

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
  /** sha256 of each real follow-up file by role, when `--truth` is given. */
  truth: Record<string, string> | null;
  /** The relative change d that guided the slice. */
  relativeChange: number;
}

/** sha256 of a file's content, hex. */
export function sha256File(file: string): string {
  const h = createHash('sha256');
  const fd = fs.openSync(file, 'r');
  try {
    const buf = Buffer.alloc(1 << 20);
    for (;;) {
      const n = fs.readSync(fd, buf, 0, buf.length, null);
      if (n === 0) break;
      h.update(buf.subarray(0, n));
    }
  } finally {
    fs.closeSync(fd);
  }
  return h.digest('hex');
}

/** sha256 of a file a user named with `flag` (`what` it is); a missing or unreadable one is a usage error naming both. */
function hashNamed(file: string, what: string, flag: string): string {
  let st: fs.Stats;
  try {
    st = fs.statSync(file);
  } catch {
    throw new CliError(`${what} ${file} do${what.endsWith('s') ? '' : 'es'} not exist (${flag})`, ExitCode.usage);
  }
  if (!st.isFile()) throw new CliError(`${what} ${file} (${flag}): not a file`, ExitCode.usage);
  try {
    return sha256File(file);
  } catch (e) {
    throw new CliError(`${what} ${file} (${flag}): cannot read (${(e as NodeJS.ErrnoException).code ?? (e as Error).message})`, ExitCode.usage);
  }
}

const isTorch = (f: string) => /\.(pt|pth)$/i.test(f);

/** The model part of {@link RunProvenance}; checks that each file exists (exit code 2, naming the flag). */
export function modelsProvenance(m: ModelPaths): Record<string, string | null> {
  const out: Record<string, string | null> = {
    diffusion: hashNamed(m.diffusion, 'diffusion weights', '--diffusion'),
    regressor: hashNamed(m.regressor, 'regressor weights', '--regressor'),
    segmenter: m.segmenter ? hashNamed(m.segmenter, 'segmenter weights', '--segmenter') : 'flair',
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

/** The target part of {@link RunProvenance} (file sources by content). */
export function targetsProvenance(t: TargetSource): Record<string, string | number | null> {
  if (t.kind === 'constant') return { kind: 'constant', relativeChange: t.relativeChange };
  if (t.kind === 'json') return { kind: 'json', sha256: hashNamed(t.file, 'targets file', '--targets') };
  return {
    kind: 'series', sha256: hashNamed(t.file, 'size series CSV', '--series'), followupDay: t.followupDay, baselineDay: t.baselineDay ?? null, rtEndDay: t.rtEndDay ?? null,
    replicates: t.replicates ?? 30, objective: t.objective ?? 'least-squares', bootstrapNoise: t.bootstrapNoise ?? 'symmetric',
  };
}

/** The content hashes of a slice's files by role (the four modalities and the label). */
export function sampleHashes(info: SliceSampleInfo): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [role, file] of Object.entries(info.files)) out[role] = sha256File(file);
  if (info.label) out['label'] = sha256File(info.label);
  return out;
}

/** What the user would change to get each provenance key: a flag name or a short description. */
function labelOf(key: string): string {
  const [head, sub] = key.split('.') as [string, string | undefined];
  const kebab = (s: string) => s.replace(/[A-Z]/g, (c) => `-${c.toLowerCase()}`);
  if (head === 'settings' && sub) return `--${kebab(sub)}`;
  if (head === 'maps') return 'the command (sample writes no probability maps)';
  if (head === 'truth') return '--truth';
  if (head === 'models' && sub) {
    return ({ diffusion: '--diffusion (file content)', regressor: '--regressor (file content)', segmenter: '--segmenter (file content)' } as Record<string, string>)[sub] ?? `--${kebab(sub)}`;
  }
  if (head === 'targets' && sub) {
    if (sub === 'kind') return 'where the relative changes come from (--relative-change, --targets or --series)';
    if (sub === 'sha256') return 'the --targets/--series file (content)';
    if (sub === 'replicates') return '--bootstrap';
    if (sub === 'objective') return '--growth-objective';
    return `--${kebab(sub)}`;
  }
  return key;
}

function show(v: unknown): string {
  if (v === undefined || v === null) return 'none';
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
 * The differences between two provenance records, in words: `--seed (0 there, 3 now)`.
 *
 * @param there - the folder's record.
 * @param now - this run's.
 * @returns one entry per differing key; empty when they match.
 */
export function provenanceDifferences(there: unknown, now: unknown): string[] {
  const a = new Map<string, unknown>();
  const b = new Map<string, unknown>();
  flatten(there, '', a);
  flatten(now, '', b);
  const keys = [...new Set([...a.keys(), ...b.keys()])];
  return keys
    .filter((k) => JSON.stringify(a.get(k) ?? null) !== JSON.stringify(b.get(k) ?? null))
    .map((k) => `${labelOf(k)} (${show(a.get(k))} there, ${show(b.get(k))} now)`);
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
