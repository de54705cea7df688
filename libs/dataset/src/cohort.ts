/**
 * Longitudinal cohorts: per patient a series of tumour sizes around
 * radiotherapy and, per scan, slice folders in the BraTS slice layout. The
 * format is one JSON file (`cohort.json`, documented in the README); the
 * reader checks everything it can before any image is decoded and names the
 * patient, file and field of every problem.
 */
import { readFile, stat } from 'node:fs/promises';
import path from 'node:path';
import { readSampleFolder, type SliceSampleInfo } from './dataset.js';
import { DatasetError } from './errors.js';

/** The `format` value a cohort file must carry. */
export const COHORT_FORMAT = 'tumorcast-cohort';

/** The cohort format version this reader understands. */
export const COHORT_VERSION = 1;

/**
 * Which slice of a scan: `'initial'` (the slice chosen on the first scan and
 * followed through the series) or `'largest'` (the slice with the largest
 * tumour area on each scan). The reference data name their columns
 * `slice_initial_X` and `slice_largest_X`; the key of a slice here is
 * `initial_X` / `largest_X`.
 */
export type CohortSliceKind = 'initial' | 'largest';

/** The slice kinds. */
export const COHORT_SLICE_KINDS: readonly CohortSliceKind[] = Object.freeze(['initial', 'largest']);

/**
 * How a patient's series is split into fitted and held-out points (the
 * reference's patient configurations):
 * - `last_n`: fit all but the last `n` scans, predict those;
 * - `remove_last_predict`: drop the last `removeLast` scans altogether, then
 *   fit all but the last `predictRemaining` of the rest and predict those;
 * - `pre_rt_points`: fit the scans on or before the RT start day, predict the later ones.
 */
export type CohortSplit =
  | { readonly mode: 'last_n'; readonly n: number }
  | { readonly mode: 'remove_last_predict'; readonly removeLast: number; readonly predictRemaining: number }
  | { readonly mode: 'pre_rt_points' };

/** The split modes. */
export const COHORT_SPLIT_MODES: readonly CohortSplit['mode'][] = Object.freeze(['last_n', 'remove_last_predict', 'pre_rt_points']);

/** The split of a patient that gives none: `{ mode: 'last_n', n: 1 }`. */
export const DEFAULT_COHORT_SPLIT: CohortSplit = Object.freeze({ mode: 'last_n', n: 1 });

/** One slice of one scan. */
export interface CohortSlice {
  /** `'initial'` or `'largest'`. */
  readonly kind: CohortSliceKind;
  /** Axial slice index. */
  readonly slice: number;
  /** `<kind>_<slice>`, e.g. `initial_80`: the same slice across a patient's scans. */
  readonly key: string;
  /** The slice folder (absolute), `<pid>_<slice>` in the BraTS slice layout. */
  readonly folder: string;
  /** Tumour area in this slice (size units), when given. */
  readonly size?: number;
  /** The folder's files (when the reader checked the folders). */
  readonly info?: SliceSampleInfo;
}

/** One scan of a patient. */
export interface CohortScan {
  /** Day on the patient's time axis. */
  readonly day: number;
  /** Tumour size (area or volume) at this scan, finite and `>= 0`. */
  readonly size: number;
  /** Slice folders of this scan (may be empty: a size-only scan). */
  readonly slices: readonly CohortSlice[];
}

/** One patient. */
export interface CohortPatient {
  /** Identifier (unique in the cohort; letters, digits, `-`, `_`, `.`). */
  readonly id: string;
  /** First RT day (given, or `rtEndDay - courseDays`). */
  readonly rtStartDay: number;
  /** Last RT day (given, or `rtStartDay + courseDays`). */
  readonly rtEndDay: number;
  /** Fitted / held-out split. */
  readonly split: CohortSplit;
  /** The follow-up day to predict (a held-out scan day), when given; else the first held-out scan. */
  readonly followupDay?: number;
  /**
   * Growth-model parameters held at these values in the fit (the model's
   * names and fitting units, e.g. `{ "lambdaDecay": 0.02 }`), for series too
   * short for the free ones; checked against the model by whoever fits.
   */
  readonly fixed?: Readonly<Record<string, number>>;
  /** Scans, sorted by day. */
  readonly scans: readonly CohortScan[];
}

/** A cohort as read by {@link readCohort}. */
export interface Cohort {
  /** The cohort file (absolute). */
  readonly file: string;
  /** Its folder, against which slice folders are resolved. */
  readonly dir: string;
  /** Display name. */
  readonly name?: string;
  /** Unit of the sizes, e.g. `'mm²'`. */
  readonly sizeUnit?: string;
  /** Whether the data are synthetic (the phantom's). */
  readonly synthetic: boolean;
  /** The valid patients, in file order. */
  readonly patients: readonly CohortPatient[];
  /** Patients left out with `skipInvalid`, each with its problems. */
  readonly skipped: readonly { readonly patient: string; readonly problems: readonly CohortProblem[] }[];
}

/** One problem of a cohort file. */
export interface CohortProblem {
  /** The patient (its id, or `#i` when it has none), absent for problems of the whole file. */
  readonly patient?: string;
  /** The file or folder. */
  readonly file: string;
  /** The field, as a path, e.g. `patients[2].scans[1].day`. */
  readonly field: string;
  /** What is wrong and what to do. */
  readonly problem: string;
}

/** The text of one problem: `<file>: patient <id>: <field>: <problem>`. */
export function formatCohortProblem(p: CohortProblem): string {
  return `${p.file}: ${p.patient !== undefined ? `patient ${p.patient}: ` : ''}${p.field}: ${p.problem}`;
}

/**
 * A cohort file with problems: `problems` lists every one found (not just
 * the first), each naming the patient, file and field.
 */
export class CohortError extends DatasetError {
  /** Every problem found. */
  readonly problems: readonly CohortProblem[];

  /**
   * @param file - the cohort file.
   * @param problems - the problems (at least one).
   */
  constructor(file: string, problems: readonly CohortProblem[]) {
    const head = problems.length === 1 ? '1 problem' : `${problems.length} problems`;
    super(file, `${head}:\n${problems.map((p) => `  ${formatCohortProblem(p)}`).join('\n')}`);
    this.name = 'CohortError';
    this.problems = problems;
  }
}

/** Options of {@link readCohort} and {@link parseCohort}. */
export interface ReadCohortOptions {
  /**
   * Check that every slice folder exists and holds the four modalities
   * (`readSampleFolder` of this package); a follow-up's label is checked
   * later, by whoever knows which scans are follow-ups.
   * @defaultValue true
   */
  checkFolders?: boolean;
  /**
   * Leave out patients with problems (listed in `skipped`) instead of
   * throwing; problems of the file itself still throw.
   * @defaultValue false
   */
  skipInvalid?: boolean;
  /**
   * Length of the RT course in days, used when a patient gives only one of
   * `rtStartDay` / `rtEndDay`.
   * @defaultValue 42
   */
  courseDays?: number;
}

const ID_RE = /^[A-Za-z0-9][A-Za-z0-9._-]*$/;
const FOLDER_RE = /^(.+)_(\d+)$/;
const PATIENT_KEYS = new Set(['id', 'rtStartDay', 'rtEndDay', 'split', 'followupDay', 'fixed', 'scans', 'note']);
const SCAN_KEYS = new Set(['day', 'size', 'slices']);
const SLICE_KEYS = new Set(['kind', 'slice', 'folder', 'size']);
const TOP_KEYS = new Set(['format', 'version', 'name', 'sizeUnit', 'synthetic', 'description', 'patients']);

type Obj = Record<string, unknown>;
const isObj = (v: unknown): v is Obj => typeof v === 'object' && v !== null && !Array.isArray(v);
const isNum = (v: unknown): v is number => typeof v === 'number' && Number.isFinite(v);
const isInt = (v: unknown, min: number): v is number => Number.isInteger(v) && (v as number) >= min;

/** Collects the problems of one patient. */
class Problems {
  readonly list: CohortProblem[] = [];
  constructor(readonly file: string, readonly patient?: string) {}
  add(field: string, problem: string, file = this.file): void {
    this.list.push({ ...(this.patient !== undefined ? { patient: this.patient } : {}), file, field, problem });
  }
}

function unknownKeys(o: Obj, known: Set<string>, at: string, p: Problems): void {
  for (const k of Object.keys(o)) if (!known.has(k)) p.add(`${at}${at ? '.' : ''}${k}`, `unknown field (known: ${[...known].join(', ')}); a misspelt field would otherwise be ignored`);
}

function parseSplit(v: unknown, at: string, p: Problems): CohortSplit | undefined {
  if (v === undefined) return DEFAULT_COHORT_SPLIT;
  if (!isObj(v)) {
    p.add(at, `must be an object such as { "mode": "last_n", "n": 1 }, got ${JSON.stringify(v)}`);
    return undefined;
  }
  const mode = v['mode'];
  const keys = (known: string[]) => unknownKeys(v, new Set(['mode', ...known]), at, p);
  if (mode === 'last_n') {
    keys(['n']);
    if (!isInt(v['n'], 1)) return void p.add(`${at}.n`, `must be an integer >= 1 (the scans held out at the end), got ${JSON.stringify(v['n'])}`);
    return { mode, n: v['n'] as number };
  }
  if (mode === 'remove_last_predict') {
    keys(['removeLast', 'predictRemaining']);
    const r = v['removeLast'];
    const k = v['predictRemaining'] ?? 1;
    let ok = true;
    if (!isInt(r, 0)) { p.add(`${at}.removeLast`, `must be an integer >= 0 (scans dropped from the end), got ${JSON.stringify(r)}`); ok = false; }
    if (!isInt(k, 1)) { p.add(`${at}.predictRemaining`, `must be an integer >= 1 (scans predicted after the drop), got ${JSON.stringify(k)}`); ok = false; }
    return ok ? { mode, removeLast: r as number, predictRemaining: k as number } : undefined;
  }
  if (mode === 'pre_rt_points') {
    keys([]);
    return { mode };
  }
  p.add(`${at}.mode`, `must be one of ${COHORT_SPLIT_MODES.join(', ')}, got ${JSON.stringify(mode)}`);
  return undefined;
}

async function isDir(p: string): Promise<boolean> {
  try {
    return (await stat(p)).isDirectory();
  } catch {
    return false;
  }
}

async function parsePatient(raw: unknown, i: number, dir: string, file: string, o: Required<ReadCohortOptions>): Promise<{ patient?: CohortPatient; problems: CohortProblem[]; id: string }> {
  const at = `patients[${i}]`;
  const idRaw = isObj(raw) ? raw['id'] : undefined;
  const id = typeof idRaw === 'string' && idRaw ? idRaw : `#${i}`;
  const p = new Problems(file, id);
  if (!isObj(raw)) {
    p.add(at, 'must be an object { id, rtStartDay | rtEndDay, scans, ... }');
    return { problems: p.list, id };
  }
  unknownKeys(raw, PATIENT_KEYS, at, p);
  if (typeof idRaw !== 'string' || !ID_RE.test(idRaw)) p.add(`${at}.id`, `must be a non-empty string of letters, digits, '-', '_' or '.', got ${JSON.stringify(idRaw)}`);
  const rs = raw['rtStartDay'];
  const re = raw['rtEndDay'];
  if (rs !== undefined && !isNum(rs)) p.add(`${at}.rtStartDay`, `must be a finite number (day of the first RT fraction), got ${JSON.stringify(rs)}`);
  if (re !== undefined && !isNum(re)) p.add(`${at}.rtEndDay`, `must be a finite number (day of the last RT fraction), got ${JSON.stringify(re)}`);
  if (rs === undefined && re === undefined) p.add(`${at}.rtStartDay`, 'missing: give rtStartDay or rtEndDay (or both)');
  if (isNum(rs) && isNum(re) && !(re > rs)) p.add(`${at}.rtEndDay`, `must be after rtStartDay (${rs}), got ${re}`);
  const split = parseSplit(raw['split'], `${at}.split`, p);
  const fu = raw['followupDay'];
  if (fu !== undefined && !isNum(fu)) p.add(`${at}.followupDay`, `must be a finite number (a scan day to predict), got ${JSON.stringify(fu)}`);
  const fixedRaw = raw['fixed'];
  if (fixedRaw !== undefined && (!isObj(fixedRaw) || !Object.values(fixedRaw).every(isNum))) {
    p.add(`${at}.fixed`, `must be an object of parameter names and finite numbers, e.g. { "lambdaDecay": 0.02 }, got ${JSON.stringify(fixedRaw)}`);
  }
  if (raw['note'] !== undefined && typeof raw['note'] !== 'string') p.add(`${at}.note`, `must be a string, got ${JSON.stringify(raw['note'])}`);
  const scansRaw = raw['scans'];
  const scans: CohortScan[] = [];
  if (!Array.isArray(scansRaw) || scansRaw.length < 2) {
    p.add(`${at}.scans`, `must be an array of at least 2 scans { day, size, slices }, got ${Array.isArray(scansRaw) ? `${scansRaw.length}` : JSON.stringify(scansRaw)}`);
  } else {
    const seenFolders = new Map<string, string>();
    for (const [j, s] of scansRaw.entries()) {
      const sat = `${at}.scans[${j}]`;
      if (!isObj(s)) {
        p.add(sat, 'must be an object { day, size, slices }');
        continue;
      }
      unknownKeys(s, SCAN_KEYS, sat, p);
      const day = s['day'];
      const size = s['size'];
      if (!isNum(day)) p.add(`${sat}.day`, `must be a finite number, got ${JSON.stringify(day)}`);
      if (!isNum(size) || size < 0) p.add(`${sat}.size`, `must be a finite number >= 0 (tumour size), got ${JSON.stringify(size)}`);
      const prev = scans.at(-1);
      if (isNum(day) && prev && !(day > prev.day)) p.add(`${sat}.day`, `days must increase strictly: ${day} follows ${prev.day}`);
      const slicesRaw = s['slices'] ?? [];
      const slices: CohortSlice[] = [];
      if (!Array.isArray(slicesRaw)) {
        p.add(`${sat}.slices`, 'must be an array of { kind, slice, folder[, size] }');
      } else {
        const keys = new Set<string>();
        for (const [k, sl] of slicesRaw.entries()) {
          const lat = `${sat}.slices[${k}]`;
          if (!isObj(sl)) {
            p.add(lat, 'must be an object { kind, slice, folder[, size] }');
            continue;
          }
          unknownKeys(sl, SLICE_KEYS, lat, p);
          const kind = sl['kind'];
          const idx = sl['slice'];
          const folder = sl['folder'];
          const ssize = sl['size'];
          let ok = true;
          if (kind !== 'initial' && kind !== 'largest') { p.add(`${lat}.kind`, `must be 'initial' or 'largest' (the reference's slice_initial_X / slice_largest_X), got ${JSON.stringify(kind)}`); ok = false; }
          if (!isInt(idx, 0)) { p.add(`${lat}.slice`, `must be an integer >= 0 (axial slice index), got ${JSON.stringify(idx)}`); ok = false; }
          if (ssize !== undefined && (!isNum(ssize) || ssize < 0)) { p.add(`${lat}.size`, `must be a finite number >= 0 (tumour area in the slice), got ${JSON.stringify(ssize)}`); ok = false; }
          if (typeof folder !== 'string' || !folder) {
            p.add(`${lat}.folder`, `must be the slice folder's path (relative to ${dir}), got ${JSON.stringify(folder)}`);
            continue;
          }
          const abs = path.resolve(dir, folder);
          const m = FOLDER_RE.exec(path.basename(abs));
          if (!m) { p.add(`${lat}.folder`, `the folder name must be <pid>_<slice> (the BraTS slice layout), got '${path.basename(abs)}'`, abs); ok = false; }
          else if (isInt(idx, 0) && Number(m[2]) !== idx) { p.add(`${lat}.folder`, `the folder's slice number (${m[2]}) differs from slice (${idx})`, abs); ok = false; }
          const other = seenFolders.get(abs);
          if (other) { p.add(`${lat}.folder`, `the same folder as ${other}: each scan's slice needs its own folder`, abs); ok = false; }
          seenFolders.set(abs, lat);
          if (!ok) continue;
          const key = `${kind as string}_${idx as number}`;
          if (keys.has(key)) { p.add(lat, `slice ${key} appears twice in this scan`); continue; }
          keys.add(key);
          let info: SliceSampleInfo | undefined;
          if (o.checkFolders) {
            if (!(await isDir(abs))) { p.add(`${lat}.folder`, 'slice folder not found', abs); continue; }
            try {
              info = await readSampleFolder(abs, { split: 'testing', root: path.dirname(abs) });
            } catch (e) {
              if (!(e instanceof DatasetError)) throw e;
              p.add(`${lat}.folder`, e.problem, e.file);
              continue;
            }
          }
          slices.push({ kind: kind as CohortSliceKind, slice: idx as number, key, folder: abs, ...(ssize !== undefined ? { size: ssize as number } : {}), ...(info ? { info } : {}) });
        }
      }
      if (isNum(day) && isNum(size) && size >= 0) scans.push({ day, size, slices });
    }
    if (scans.length && scans[0]!.size === 0) p.add(`${at}.scans[0].size`, 'the first size must be > 0 (the growth model starts from it)');
    if (isNum(fu) && scans.length === scansRaw.length && !scans.some((s) => s.day === fu)) {
      p.add(`${at}.followupDay`, `${fu} is not a scan day (scan days: ${scans.map((s) => s.day).join(', ')})`);
    }
  }
  if (p.list.length || !split) return { problems: p.list, id };
  const course = o.courseDays;
  const rtStartDay = isNum(rs) ? rs : (re as number) - course;
  const rtEndDay = isNum(re) ? re : (rs as number) + course;
  return {
    id,
    problems: [],
    patient: { id: idRaw as string, rtStartDay, rtEndDay, split, ...(isNum(fu) ? { followupDay: fu } : {}), ...(isObj(fixedRaw) ? { fixed: { ...(fixedRaw as Record<string, number>) } } : {}), scans },
  };
}

/**
 * Parses and checks a cohort given as a JSON value (see {@link readCohort}).
 *
 * @param json - the parsed JSON.
 * @param file - the file it came from (for messages; slice folders are resolved against its folder).
 * @param options - see {@link ReadCohortOptions}.
 * @returns the cohort.
 * @throws CohortError listing every problem (with `skipInvalid`: only problems of the file itself, or no valid patient left).
 */
export async function parseCohort(json: unknown, file: string, options: ReadCohortOptions = {}): Promise<Cohort> {
  const fn = 'parseCohort';
  if (typeof file !== 'string' || !file) throw new TypeError(`'file' passed to '${fn}' must be the cohort file's path`);
  if (options === null || typeof options !== 'object') throw new TypeError(`'options' passed to '${fn}' must be an object`);
  const courseDays = options.courseDays ?? 42;
  if (!(Number.isFinite(courseDays) && courseDays > 0)) throw new RangeError(`'options.courseDays' passed to '${fn}' must be a number > 0, got ${courseDays}`);
  const o: Required<ReadCohortOptions> = { checkFolders: options.checkFolders ?? true, skipInvalid: options.skipInvalid ?? false, courseDays };
  const abs = path.resolve(file);
  const dir = path.dirname(abs);
  const top = new Problems(abs);
  if (!isObj(json)) throw new CohortError(abs, [{ file: abs, field: '(root)', problem: `must be an object { "format": "${COHORT_FORMAT}", "version": ${COHORT_VERSION}, "patients": [...] }` }]);
  unknownKeys(json, TOP_KEYS, '', top);
  if (json['format'] !== COHORT_FORMAT) top.add('format', `must be "${COHORT_FORMAT}", got ${JSON.stringify(json['format'])}`);
  if (json['version'] !== COHORT_VERSION) top.add('version', `must be ${COHORT_VERSION} (this reader's version), got ${JSON.stringify(json['version'])}`);
  for (const k of ['name', 'sizeUnit', 'description'] as const) if (json[k] !== undefined && typeof json[k] !== 'string') top.add(k, `must be a string, got ${JSON.stringify(json[k])}`);
  if (json['synthetic'] !== undefined && typeof json['synthetic'] !== 'boolean') top.add('synthetic', `must be true or false, got ${JSON.stringify(json['synthetic'])}`);
  const list = json['patients'];
  if (!Array.isArray(list) || !list.length) top.add('patients', 'must be a non-empty array of patients');
  if (top.list.length) throw new CohortError(abs, top.list);
  const patients: CohortPatient[] = [];
  const skipped: { patient: string; problems: CohortProblem[] }[] = [];
  const all: CohortProblem[] = [];
  const ids = new Set<string>();
  for (const [i, raw] of (list as unknown[]).entries()) {
    const r = await parsePatient(raw, i, dir, abs, o);
    const problems = [...r.problems];
    if (r.patient && ids.has(r.patient.id)) problems.push({ patient: r.id, file: abs, field: `patients[${i}].id`, problem: `duplicate patient id '${r.patient.id}'` });
    if (r.patient) ids.add(r.patient.id);
    if (problems.length) {
      all.push(...problems);
      skipped.push({ patient: r.id, problems });
    } else if (r.patient) {
      patients.push(r.patient);
    }
  }
  if (all.length && !o.skipInvalid) throw new CohortError(abs, all);
  if (!patients.length) throw new CohortError(abs, [...all, { file: abs, field: 'patients', problem: 'no valid patient left' }]);
  return {
    file: abs, dir,
    ...(typeof json['name'] === 'string' ? { name: json['name'] } : {}),
    ...(typeof json['sizeUnit'] === 'string' ? { sizeUnit: json['sizeUnit'] } : {}),
    synthetic: json['synthetic'] === true,
    patients, skipped,
  };
}

/**
 * Reads and checks a cohort file (`cohort.json`): its fields, every
 * patient's series (days strictly increasing, sizes finite and `>= 0`, the
 * first `> 0`, at least two scans), RT days, split and follow-up day, and —
 * with `checkFolders` — every slice folder (named `<pid>_<slice>` with the
 * slice number of its entry, holding the four modalities). Every problem is
 * collected, not just the first, each naming the patient, file and field.
 *
 * @example
 * ```ts
 * const cohort = await readCohort('cohort/cohort.json', { skipInvalid: true });
 * for (const p of cohort.patients) console.log(p.id, p.scans.map((s) => [s.day, s.size]), p.split);
 * for (const s of cohort.skipped) console.warn(`skipped ${s.patient}: ${s.problems.map(formatCohortProblem).join('; ')}`);
 * ```
 *
 * @param file - the cohort JSON file.
 * @param options - see {@link ReadCohortOptions}.
 * @returns the cohort.
 * @throws CohortError listing the problems; DatasetError when the file cannot be read or is no JSON.
 */
export async function readCohort(file: string, options: ReadCohortOptions = {}): Promise<Cohort> {
  if (typeof file !== 'string' || !file) throw new TypeError(`'file' passed to 'readCohort' must be the cohort file's path`);
  let text: string;
  try {
    text = await readFile(file, 'utf8');
  } catch (e) {
    throw new DatasetError(file, `cannot read the cohort file (${(e as NodeJS.ErrnoException).code ?? (e as Error).message})`, { cause: e });
  }
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch (e) {
    throw new DatasetError(file, `not valid JSON: ${(e as Error).message}`, { cause: e });
  }
  return parseCohort(json, file, options);
}
