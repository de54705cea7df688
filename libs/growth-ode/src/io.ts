/**
 * Tidy CSV input, JSON and CSV output of fits and bootstraps.
 */
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { writeFileAtomic } from '@tumorcast/cli/files';
import { samplePercentile, type BootstrapResult, type FitResult, type GrowthSeries } from './fit.js';
import type { GrowthContext } from './model.js';

/** A series read from a tidy CSV. */
export interface CsvSeries extends GrowthSeries {
  /** `patient_id`, or `patient_id/slice_id` when the file has slices. */
  readonly id: string;
  /** The patient. */
  readonly patientId: string;
  /** The slice, when the file has a `slice_id` column. */
  readonly sliceId?: string;
  /** RT dates from the file or the options (`rtEnd`, or `rtStart`). */
  readonly context: GrowthContext;
}

/** Options of {@link readSeriesCsv} and {@link parseSeriesCsv}. */
export interface ReadSeriesCsvOptions {
  /**
   * RT end day for all patients, or per patient id; used where the file has no
   * `rt_end_day` (or `rt_start_day`) value.
   * @defaultValue undefined
   */
  rtEndDay?: number | Readonly<Record<string, number>>;
  /**
   * RT start day for all patients, or per patient id (instead of `rtEndDay`).
   * @defaultValue undefined
   */
  rtStartDay?: number | Readonly<Record<string, number>>;
  /**
   * One series per (patient, slice) when the file has `slice_id`; `false` sums
   * the slices of a patient per day into one series.
   * @defaultValue true
   */
  bySlice?: boolean;
  /**
   * A header column that is not one of {@link SERIES_CSV_COLUMNS}: `'error'`
   * refuses the file (a misspelt `rt_end_day` would otherwise be dropped
   * without a word and change the fit), `'warn'` calls `onWarning` and reads
   * on, `'ignore'` reads on.
   * @defaultValue 'error'
   */
  unknownColumns?: 'error' | 'warn' | 'ignore';
  /**
   * Receives the warning of `unknownColumns: 'warn'`.
   * @defaultValue `process.emitWarning`
   */
  onWarning?: (message: string) => void;
}

/** The columns a size series CSV may have: the required ones, then the optional ones. */
export const SERIES_CSV_COLUMNS = {
  required: ['patient_id', 'day', 'size'],
  optional: ['slice_id', 'rt_end_day', 'rt_start_day'],
} as const;

/** Splits one CSV line (RFC 4180 quotes). */
function splitCsvLine(line: string): string[] {
  const out: string[] = [];
  let cur = '';
  let quoted = false;
  for (let i = 0; i < line.length; i++) {
    const c = line[i];
    if (quoted) {
      if (c === '"' && line[i + 1] === '"') {
        cur += '"';
        i++;
      } else if (c === '"') quoted = false;
      else cur += c;
    } else if (c === '"') quoted = true;
    else if (c === ',') {
      out.push(cur.trim());
      cur = '';
    } else cur += c;
  }
  out.push(cur.trim());
  return out;
}

function lookup(v: number | Readonly<Record<string, number>> | undefined, patient: string): number | undefined {
  if (v === undefined) return undefined;
  return typeof v === 'number' ? v : v[patient];
}

/**
 * Parses a tidy CSV with columns `patient_id,day,size` and optionally
 * `slice_id`, `rt_end_day`, `rt_start_day` (header required, any column order,
 * blank lines and lines starting with `#` ignored; other columns are refused
 * unless `options.unknownColumns` says otherwise). Rows of a series are
 * sorted by day.
 *
 * @param text - the CSV text
 * @param options - RT dates when the file has none, slice grouping
 * @param source - file name for error messages
 * @returns one series per patient (or patient and slice), in order of first appearance
 * @throws RangeError naming the line on a missing or unknown column, non-numeric or negative
 *   value, duplicate day, or conflicting RT dates
 */
export function parseSeriesCsv(text: string, options: ReadSeriesCsvOptions = {}, source = 'CSV'): CsvSeries[] {
  const caller = 'parseSeriesCsv';
  if (typeof text !== 'string') throw new TypeError(`'text' passed to '${caller}' must be a string`);
  const lines = text.split(/\r?\n/);
  const headerIdx = lines.findIndex((l) => l.trim() !== '' && !l.trim().startsWith('#'));
  if (headerIdx < 0) throw new RangeError(`${source} passed to '${caller}' is empty: expected a header 'patient_id,day,size'`);
  const header = splitCsvLine(lines[headerIdx]!.replace(/^\uFEFF/, '')).map((h) => h.toLowerCase());
  const col = (name: string): number => header.indexOf(name);
  for (const required of SERIES_CSV_COLUMNS.required) {
    if (col(required) < 0) throw new RangeError(`${source} passed to '${caller}' has no '${required}' column (header: ${header.join(',')})`);
  }
  const known: readonly string[] = [...SERIES_CSV_COLUMNS.required, ...SERIES_CSV_COLUMNS.optional];
  const unknown = header.filter((h) => !known.includes(h));
  const policy = options.unknownColumns ?? 'error';
  if (!['error', 'warn', 'ignore'].includes(policy)) throw new RangeError(`'options.unknownColumns' passed to '${caller}' must be 'error', 'warn' or 'ignore', got ${JSON.stringify(policy)}`);
  if (unknown.length && policy !== 'ignore') {
    const message = `${source} has unknown column(s) ${unknown.map((u) => `'${u}'`).join(', ')}; the columns are ${SERIES_CSV_COLUMNS.required.join(', ')} and optionally ${SERIES_CSV_COLUMNS.optional.join(', ')}`;
    if (policy === 'error') throw new RangeError(`${message}: rename or remove the column(s)`);
    (options.onWarning ?? ((m: string) => process.emitWarning(m)))(`${message}; ignored`);
  }
  const iP = col('patient_id');
  const iD = col('day');
  const iS = col('size');
  const iSl = col('slice_id');
  const iRe = col('rt_end_day');
  const iRs = col('rt_start_day');
  const bySlice = options.bySlice ?? true;
  interface Acc {
    patientId: string;
    sliceId?: string;
    rows: { day: number; size: number; line: number }[];
  }
  const groups = new Map<string, Acc>();
  const rt = new Map<string, { end?: number; start?: number; line: number }>();
  const num = (raw: string, what: string, line: number): number => {
    const v = raw === '' ? NaN : Number(raw);
    if (!Number.isFinite(v)) throw new RangeError(`${source} line ${line} passed to '${caller}': '${what}' must be a finite number, got '${raw}'`);
    return v;
  };
  for (let li = headerIdx + 1; li < lines.length; li++) {
    const raw = lines[li]!;
    if (raw.trim() === '' || raw.trim().startsWith('#')) continue;
    const lineNo = li + 1;
    const f = splitCsvLine(raw);
    if (f.length < header.length) throw new RangeError(`${source} line ${lineNo} passed to '${caller}' has ${f.length} fields, expected ${header.length}`);
    // f has a field for every header column (checked above).
    const patientId = f[iP]!;
    if (patientId === '') throw new RangeError(`${source} line ${lineNo} passed to '${caller}': 'patient_id' is empty`);
    const day = num(f[iD]!, 'day', lineNo);
    const size = num(f[iS]!, 'size', lineNo);
    if (size < 0) throw new RangeError(`${source} line ${lineNo} passed to '${caller}': 'size' must be >= 0, got ${size}`);
    const sliceId = iSl >= 0 && bySlice ? f[iSl] : undefined;
    const key = sliceId !== undefined ? `${patientId}/${sliceId}` : patientId;
    let g = groups.get(key);
    if (!g) {
      g = { patientId, ...(sliceId !== undefined ? { sliceId } : {}), rows: [] };
      groups.set(key, g);
    }
    g.rows.push({ day, size, line: lineNo });
    for (const [idx, which] of [
      [iRe, 'end'],
      [iRs, 'start'],
    ] as const) {
      if (idx < 0 || f[idx] === '') continue;
      const v = num(f[idx]!, which === 'end' ? 'rt_end_day' : 'rt_start_day', lineNo);
      const cur = rt.get(patientId) ?? { line: lineNo };
      const prev = cur[which];
      if (prev !== undefined && prev !== v) {
        throw new RangeError(`${source} line ${lineNo} passed to '${caller}': patient '${patientId}' has conflicting rt_${which}_day values ${prev} (line ${cur.line}) and ${v}`);
      }
      cur[which] = v;
      rt.set(patientId, cur);
    }
  }
  const out: CsvSeries[] = [];
  for (const [key, g] of groups) {
    const rows = [...g.rows].sort((a, b) => a.day - b.day);
    const times: number[] = [];
    const sizes: number[] = [];
    const lineOf: number[] = [];
    for (const r of rows) {
      if (times.length > 0 && times[times.length - 1] === r.day) {
        if (iSl >= 0 && !bySlice) {
          sizes[sizes.length - 1]! += r.size;
          continue;
        }
        throw new RangeError(`${source} passed to '${caller}': series '${key}' has day ${r.day} twice (lines ${lineOf[lineOf.length - 1]} and ${r.line})`);
      }
      times.push(r.day);
      sizes.push(r.size);
      lineOf.push(r.line);
    }
    const fromFile = rt.get(g.patientId);
    const end = fromFile?.end ?? (fromFile?.start === undefined ? lookup(options.rtEndDay, g.patientId) : undefined);
    const start = fromFile?.start ?? (fromFile?.end === undefined ? lookup(options.rtStartDay, g.patientId) : undefined);
    const context: GrowthContext = { ...(start !== undefined ? { rtStart: start } : {}), ...(end !== undefined && start === undefined ? { rtEnd: end } : {}) };
    out.push({ id: key, patientId: g.patientId, ...(g.sliceId !== undefined ? { sliceId: g.sliceId } : {}), times, sizes, context });
  }
  return out;
}

/**
 * Reads a tidy CSV file of size series (see {@link parseSeriesCsv}).
 *
 * @param file - path of the CSV file
 * @param options - RT dates when the file has none, slice grouping
 * @returns one series per patient (or patient and slice)
 */
export async function readSeriesCsv(file: string, options: ReadSeriesCsvOptions = {}): Promise<CsvSeries[]> {
  if (typeof file !== 'string' || file === '') throw new TypeError(`'file' passed to 'readSeriesCsv' must be a path`);
  const text = await readFile(file, 'utf8');
  return parseSeriesCsv(text, options, path.basename(file));
}

/** A fit or bootstrap result. */
export type GrowthResult = FitResult | BootstrapResult;

function isBootstrap(r: GrowthResult): r is BootstrapResult {
  return Array.isArray((r as BootstrapResult).fits);
}

function finiteOrNull(v: number): number | null {
  return Number.isFinite(v) ? v : null;
}

function cleanNumbers<T>(v: T): T {
  return JSON.parse(JSON.stringify(v, (_k, x: unknown) => (typeof x === 'number' && !Number.isFinite(x) ? null : x))) as T;
}

/**
 * A plain, JSON-ready object of a fit or bootstrap (non-finite numbers become `null`).
 *
 * @param result - a {@link fitGrowth} or {@link bootstrapGrowth} result
 * @returns the object written by {@link writeResultsJson}
 */
export function resultToJson(result: GrowthResult): Record<string, unknown> {
  if (result === null || typeof result !== 'object' || !('model' in result)) {
    throw new TypeError(`'result' passed to 'resultToJson' must be a result of fitGrowth or bootstrapGrowth`);
  }
  if (isBootstrap(result)) {
    const r = result;
    return cleanNumbers({
      kind: 'bootstrap',
      model: r.model.name,
      seriesId: r.seriesId ?? null,
      ok: r.ok,
      ...(r.reason !== undefined ? { reason: r.reason } : {}),
      context: r.context,
      replicates: r.replicates,
      failed: r.nFailed,
      percentiles: r.percentiles,
      data: { times: r.seriesTimes, sizes: r.seriesSizes, nFit: r.nFit },
      trajectory: { times: r.times, median: r.median, lower: r.lower, upper: r.upper },
      paramSummary: r.paramSummary,
      params: r.params,
      ...(r.heldOut ? { heldOut: r.heldOut } : {}),
      bootstrapNoise: r.bootstrapNoise,
      heldByFallback: r.heldByFallback,
      ...(r.notice !== undefined ? { notice: r.notice } : {}),
      ...(r.refinement ? { refinement: { lower: r.refinement.lower, upper: r.refinement.upper, initial: r.refinement.initial, firstPass: resultToJson(r.refinement.firstPass) } } : {}),
      base: resultToJson(r.base),
    });
  }
  const f = result as FitResult;
  return cleanNumbers({
    kind: 'fit',
    model: f.model.name,
    seriesId: f.seriesId ?? null,
    ok: f.ok,
    ...(f.reason !== undefined ? { reason: f.reason } : {}),
    context: f.context,
    params: f.params,
    freeParams: f.freeParams,
    heldByFallback: f.heldByFallback,
    ...(f.notice !== undefined ? { notice: f.notice } : {}),
    objective: f.objective,
    bounds: f.bounds,
    scale: f.scale,
    metrics: { r2: finiteOrNull(f.r2), rmse: finiteOrNull(f.rmse), nrmse: finiteOrNull(f.nrmse) },
    convergence: f.convergence,
    data: { times: f.times, sizes: f.sizes, fitted: f.fitted, nFit: f.nFit, residuals: f.residuals },
    ...(f.heldOut ? { heldOut: f.heldOut } : {}),
  });
}

function csvField(v: string | number | boolean | undefined | null): string {
  if (v === undefined || v === null) return '';
  if (typeof v === 'number') return Number.isFinite(v) ? String(v) : '';
  const s = String(v);
  return /[",\n\r]/.test(s) ? `"${s.replace(/"/g, '""')}"` : s;
}

function toList(results: GrowthResult | readonly GrowthResult[], caller: string): GrowthResult[] {
  const list = Array.isArray(results) ? [...results] : [results as GrowthResult];
  list.forEach((r, i) => {
    if (r === null || typeof r !== 'object' || !('model' in r)) throw new TypeError(`'results' passed to '${caller}' must hold fit or bootstrap results (bad entry ${i})`);
  });
  return list;
}

/**
 * Tidy CSV of sizes: `series_id,model,kind,day,observed,predicted,lower,upper`,
 * with `kind` `fit` (fitted point), `held_out` (predicted point) and, for a
 * bootstrap, `trajectory` (grid days: median and band).
 *
 * @param results - one result or several
 * @returns the CSV text
 */
export function resultsToCsv(results: GrowthResult | readonly GrowthResult[]): string {
  const list = toList(results, 'resultsToCsv');
  const rows = ['series_id,model,kind,day,observed,predicted,lower,upper'];
  for (const r of list) {
    const id = r.seriesId ?? '';
    const name = r.model.name;
    if (isBootstrap(r)) {
      let pred: number[] = r.seriesTimes.map(() => NaN);
      let lo = pred;
      let hi = pred;
      if (r.ok) {
        const traj = r.fits.map((f) => f.predict(r.seriesTimes));
        const col = (i: number): number[] => traj.map((t) => t[i]!); // one value per series time
        pred = r.seriesTimes.map((_, i) => samplePercentile(col(i), 50));
        lo = r.seriesTimes.map((_, i) => samplePercentile(col(i), r.percentiles[0]));
        hi = r.seriesTimes.map((_, i) => samplePercentile(col(i), r.percentiles[1]));
      }
      r.seriesTimes.forEach((t, i) => {
        rows.push([id, name, i < r.nFit ? 'fit' : 'held_out', t, r.seriesSizes[i], pred[i], lo[i], hi[i]].map(csvField).join(','));
      });
      r.times.forEach((t, i) => rows.push([id, name, 'trajectory', t, '', r.median[i], r.lower[i], r.upper[i]].map(csvField).join(',')));
    } else {
      const f = r as FitResult;
      f.times.forEach((t, i) => rows.push([id, name, i < f.nFit ? 'fit' : 'held_out', t, f.sizes[i], f.fitted[i], '', ''].map(csvField).join(',')));
    }
  }
  return rows.join('\n') + '\n';
}

/**
 * Tidy CSV of parameters and metrics: `series_id,model,ok,quantity,value,lower,upper`
 * (`quantity` is a parameter name, `r2`, `rmse`, `nrmse`, or `heldout_rmse`;
 * `lower`/`upper` are the bootstrap percentiles).
 *
 * @param results - one result or several
 * @returns the CSV text
 */
export function paramsToCsv(results: GrowthResult | readonly GrowthResult[]): string {
  const list = toList(results, 'paramsToCsv');
  const rows = ['series_id,model,ok,quantity,value,lower,upper'];
  for (const r of list) {
    const id = r.seriesId ?? '';
    const head = [id, r.model.name, r.ok];
    if (isBootstrap(r)) {
      for (const [k, s] of Object.entries(r.paramSummary)) rows.push([...head, k, s.median, s.lower, s.upper].map(csvField).join(','));
      const b = r.base;
      for (const k of ['r2', 'rmse', 'nrmse'] as const) rows.push([...head, k, b[k], '', ''].map(csvField).join(','));
      if (r.heldOut) rows.push([...head, 'heldout_rmse', r.heldOut.rmse, '', ''].map(csvField).join(','));
    } else {
      const f = r as FitResult;
      for (const [k, v] of Object.entries(f.params)) rows.push([...head, k, v, '', ''].map(csvField).join(','));
      for (const k of ['r2', 'rmse', 'nrmse'] as const) rows.push([...head, k, f[k], '', ''].map(csvField).join(','));
      if (f.heldOut) rows.push([...head, 'heldout_rmse', f.heldOut.rmse, '', ''].map(csvField).join(','));
    }
  }
  return rows.join('\n') + '\n';
}

/**
 * Writes results as JSON (an array when given an array), atomically.
 *
 * @param file - destination path
 * @param results - one result or several
 */
export async function writeResultsJson(file: string, results: GrowthResult | readonly GrowthResult[]): Promise<void> {
  const json = Array.isArray(results) ? toList(results, 'writeResultsJson').map(resultToJson) : resultToJson(results as GrowthResult);
  await writeFileAtomic(file, JSON.stringify(json, null, 2) + '\n', { createFolder: false });
}

/**
 * Writes the tidy size CSV ({@link resultsToCsv}) atomically.
 *
 * @param file - destination path
 * @param results - one result or several
 */
export async function writeResultsCsv(file: string, results: GrowthResult | readonly GrowthResult[]): Promise<void> {
  await writeFileAtomic(file, resultsToCsv(results), { createFolder: false });
}

/**
 * Writes the parameter and metric CSV ({@link paramsToCsv}) atomically.
 *
 * @param file - destination path
 * @param results - one result or several
 */
export async function writeParamsCsv(file: string, results: GrowthResult | readonly GrowthResult[]): Promise<void> {
  await writeFileAtomic(file, paramsToCsv(results), { createFolder: false });
}
