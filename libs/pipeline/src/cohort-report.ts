/**
 * The cohort's tables (per slice, per patient, the cohort table with the
 * paired Wilcoxon test, growth-fit quality, bootstrap parameters, treatment
 * scenarios) as CSV, and the self-contained cohort HTML summary that links
 * to the per-patient pages.
 */
import { lineChartSvg } from '@tumorcast/cli';
import { wilcoxon } from '@tumorcast/metrics';
import type { ImageScores, SliceScores } from './evaluate.js';

/** One slice of a finished cohort patient. */
export interface CohortSliceResult {
  /** `<kind>_<slice>`, e.g. `initial_80`. */
  key: string;
  /** `'initial'` or `'largest'`. */
  kind: string;
  /** Axial slice index. */
  slice: number;
  /** Baseline and follow-up slice folders. */
  folders: { baseline: string; followup: string };
  /** The relative change that guided the sampler. */
  relativeChange: number;
  /** r0, r* and the regressor's reading of the prediction. */
  burdens: { baseline: number; target: number; predicted: number; source: string };
  /** Prediction and unchanged baseline against the real follow-up, and the map's scores. */
  scores: SliceScores;
  /** Seconds spent on the slice. */
  seconds: number;
}

/** One scenario of a finished cohort patient. */
export interface CohortScenarioResult {
  /** The scenario's name. */
  name: string;
  /** The scenario as given. */
  scenario: Record<string, unknown>;
  /** Its RT start day (absent without RT). */
  rtStartDay?: number;
  /** Median size and band at the follow-up day. */
  followup: { day: number; median: number; lower: number; upper: number };
  /** Its relative change from the baseline day (what guided its follow-ups). */
  relativeChange: number;
  /** Caveats beyond being an extrapolation. */
  caveats: string[];
  /** The median trajectory. */
  times: number[];
  /** Median sizes over the bootstrap fits. */
  median: number[];
  /** Per slice: the regressor's burden of the scenario's follow-up and the area (mm²) where its probability map is >= 0.5. */
  slices: { key: string; targetBurden: number; predictedBurden: number; mapArea: number }[];
}

/** What a finished cohort patient records (`patients/<id>/result.json`). */
export interface CohortPatientResult {
  /** Patient id. */
  id: string;
  /** Hash of everything that determines the result (a rerun with the same one is skipped). */
  provenance: string;
  /** The split, as described. */
  split: string;
  /** Scans fitted, held out and dropped. */
  scans: { fitted: number; heldOut: number; dropped: number };
  /** First and last RT day. */
  rt: { start: number; end: number };
  /** Baseline and follow-up days. */
  baselineDay: number;
  /** Follow-up day. */
  followupDay: number;
  /** The growth fit. */
  growth: {
    observed: { baseline: number; followup: number };
    predicted: { baseline: number; followup: number };
    followupBand: [number, number];
    relativeChange: number;
    relativeChangeBand: [number, number];
    observedChange: number;
    r2: number;
    nrmse: number;
    heldOutNrmse: number;
    heldByFallback: string[];
    notice?: string;
    params: Record<string, { median: number; lower: number; upper: number }>;
    nFits: number;
  };
  /** The slices. */
  slices: CohortSliceResult[];
  /** The treatment scenarios (when asked for). */
  scenarios: CohortScenarioResult[];
  /** Seconds spent on the patient. */
  seconds: number;
}

/** The image metrics of the cohort table. */
export const COHORT_IMAGE_METRICS = ['mse', 'ssim', 'dice', 'hd95', 'psnr'] as const;

/** Whether a larger value is better, per metric. */
const HIGHER_BETTER: Record<string, boolean> = { mse: false, ssim: true, dice: true, hd95: false, psnr: true, brier: false };

/** One row of the cohort table. */
export interface CohortTableRow {
  /** Metric name. */
  metric: string;
  /** Mean and sd of the prediction over slices. */
  prediction: { mean: number; sd: number };
  /** Mean and sd of the unchanged baseline over slices (absent for map metrics). */
  baseline?: { mean: number; sd: number };
  /** Wilcoxon signed-rank p (two-sided) of prediction vs baseline, paired per slice. */
  pSlices?: number;
  /** The same paired per patient (each patient's mean over its slices). */
  pPatients?: number;
  /** Slices and patients with a finite value of both. */
  nSlices: number;
  /** Patients. */
  nPatients: number;
}

function meanSd(v: readonly number[]): { mean: number; sd: number } {
  if (!v.length) return { mean: Number.NaN, sd: Number.NaN };
  const mean = v.reduce((a, b) => a + b, 0) / v.length;
  const sd = v.length > 1 ? Math.sqrt(v.reduce((a, b) => a + (b - mean) ** 2, 0) / (v.length - 1)) : Number.NaN;
  return { mean, sd };
}

/** The Wilcoxon p, or undefined when it cannot be computed (no pairs, or every difference zero). */
function pairedP(a: readonly number[], b: readonly number[]): number | undefined {
  if (a.length < 1) return undefined;
  try {
    return wilcoxon(a, b).pValue;
  } catch {
    return undefined;
  }
}

/**
 * The cohort table as the paper reports it: per image metric the mean ± sd
 * (sample sd) of the predicted follow-ups and of the unchanged baselines
 * against the real follow-ups, the paired Wilcoxon signed-rank p (two-sided;
 * per slice, and per patient over each patient's slice means), and the
 * numbers of slices and patients with finite values (a slice whose HD95 is
 * undefined — an empty mask — is left out of that metric's row); then the
 * probability map's Brier score and Dice / HD95 at p >= 0.5.
 *
 * @param patients - finished patients.
 */
export function cohortTable(patients: readonly CohortPatientResult[]): CohortTableRow[] {
  const rows: CohortTableRow[] = [];
  const withSlices = patients.filter((p) => p.slices.length);
  for (const m of COHORT_IMAGE_METRICS) {
    const pairs = withSlices.flatMap((p) => p.slices.map((s) => ({ p: p.id, a: s.scores.predicted[m as keyof ImageScores], b: s.scores.baseline[m as keyof ImageScores] })))
      .filter((x) => Number.isFinite(x.a) && Number.isFinite(x.b));
    const ids = [...new Set(pairs.map((x) => x.p))];
    const perPatient = ids.map((id) => {
      const xs = pairs.filter((x) => x.p === id);
      return { a: meanSd(xs.map((x) => x.a)).mean, b: meanSd(xs.map((x) => x.b)).mean };
    });
    const a = pairs.map((x) => x.a);
    const b = pairs.map((x) => x.b);
    const pSlices = pairedP(a, b);
    const pPatients = pairedP(perPatient.map((x) => x.a), perPatient.map((x) => x.b));
    rows.push({
      metric: m, prediction: meanSd(a), baseline: meanSd(b),
      ...(pSlices !== undefined ? { pSlices } : {}), ...(pPatients !== undefined ? { pPatients } : {}),
      nSlices: pairs.length, nPatients: ids.length,
    });
  }
  const mapRow = (metric: string, get: (s: SliceScores) => number | undefined) => {
    const vals = withSlices.flatMap((p) => p.slices.map((s) => ({ p: p.id, v: get(s.scores) }))).filter((x): x is { p: string; v: number } => Number.isFinite(x.v));
    rows.push({ metric, prediction: meanSd(vals.map((x) => x.v)), nSlices: vals.length, nPatients: new Set(vals.map((x) => x.p)).size });
  };
  mapRow('map brier', (s) => s.map.brier);
  mapRow('map dice@0.5', (s) => s.map.thresholds.find((t) => t.threshold === 0.5)?.dice);
  mapRow('map hd95@0.5', (s) => s.map.thresholds.find((t) => t.threshold === 0.5)?.hd95);
  return rows;
}

const num = (v: number | undefined) => (v === undefined || Number.isNaN(v) ? '' : String(v));
const csvCell = (v: string | number | undefined) => {
  const s = typeof v === 'number' ? num(v) : v ?? '';
  return /[",\n]/.test(s) ? `"${s.replace(/"/g, '""')}"` : s;
};
const toCsv = (head: string[], rows: (string | number | undefined)[][]) => `${[head, ...rows].map((r) => r.map(csvCell).join(',')).join('\n')}\n`;

/** The cohort table as CSV. */
export function cohortTableCsv(rows: readonly CohortTableRow[]): string {
  return toCsv(['metric', 'prediction_mean', 'prediction_sd', 'baseline_mean', 'baseline_sd', 'wilcoxon_p_slices', 'wilcoxon_p_patients', 'n_slices', 'n_patients'],
    rows.map((r) => [r.metric, r.prediction.mean, r.prediction.sd, r.baseline?.mean, r.baseline?.sd, r.pSlices, r.pPatients, r.nSlices, r.nPatients]));
}

const IMAGE_COLUMNS = ['mse', 'psnr', 'ssim', 'mseBrain', 'dice', 'hd95', 'areaError'] as const;

/** Per slice: patient, slice, days, relative change, the prediction's and the baseline's metrics, the map's, as CSV. */
export function cohortSlicesCsv(patients: readonly CohortPatientResult[]): string {
  const thresholds = patients.flatMap((p) => p.slices)[0]?.scores.map.thresholds.map((t) => t.threshold) ?? [];
  const head = ['patient', 'slice', 'kind', 'baseline_day', 'followup_day', 'relative_change', 'baseline_burden', 'baseline_burden_source', 'target_burden', 'predicted_burden',
    ...IMAGE_COLUMNS.map((c) => `pred_${c}`), ...IMAGE_COLUMNS.map((c) => `base_${c}`), 'map_brier', ...thresholds.flatMap((t) => [`map_dice@${t}`, `map_hd95@${t}`])];
  const rows = patients.flatMap((p) => p.slices.map((s) => [
    p.id, s.key, s.kind, p.baselineDay, p.followupDay, s.relativeChange, s.burdens.baseline, s.burdens.source, s.burdens.target, s.burdens.predicted,
    ...IMAGE_COLUMNS.map((c) => s.scores.predicted[c]), ...IMAGE_COLUMNS.map((c) => s.scores.baseline[c]), s.scores.map.brier,
    ...thresholds.flatMap((t) => { const r = s.scores.map.thresholds.find((x) => x.threshold === t); return [r?.dice, r?.hd95]; }),
  ]));
  return toCsv(head, rows);
}

/** Per patient: the mean of each metric over its slices, prediction and baseline, as CSV. */
export function cohortPatientsCsv(patients: readonly CohortPatientResult[]): string {
  const head = ['patient', 'slices', ...COHORT_IMAGE_METRICS.flatMap((m) => [`pred_${m}`, `base_${m}`]), 'map_brier'];
  return toCsv(head, patients.map((p) => {
    const mean = (get: (s: CohortSliceResult) => number) => meanSd(p.slices.map(get).filter(Number.isFinite)).mean;
    return [p.id, p.slices.length, ...COHORT_IMAGE_METRICS.flatMap((m) => [mean((s) => s.scores.predicted[m]), mean((s) => s.scores.baseline[m])]), mean((s) => s.scores.map.brier)];
  }));
}

/** Growth-fit quality per patient (R², nRMSE, held-out nRMSE, follow-up sizes and changes), with a mean ± sd row, as CSV. */
export function cohortGrowthCsv(patients: readonly CohortPatientResult[]): string {
  const head = ['patient', 'split', 'fitted_scans', 'held_out_scans', 'dropped_scans', 'rt_start_day', 'rt_end_day', 'baseline_day', 'followup_day',
    'r2', 'nrmse', 'held_out_nrmse', 'observed_followup', 'predicted_followup', 'followup_lower', 'followup_upper', 'observed_change', 'predicted_change',
    'change_lower', 'change_upper', 'held_by_fallback'];
  const rows: (string | number | undefined)[][] = patients.map((p) => [
    p.id, p.split, p.scans.fitted, p.scans.heldOut, p.scans.dropped, p.rt.start, p.rt.end, p.baselineDay, p.followupDay,
    p.growth.r2, p.growth.nrmse, p.growth.heldOutNrmse, p.growth.observed.followup, p.growth.predicted.followup, p.growth.followupBand[0], p.growth.followupBand[1],
    p.growth.observedChange, p.growth.relativeChange, p.growth.relativeChangeBand[0], p.growth.relativeChangeBand[1], p.growth.heldByFallback.join(' '),
  ]);
  const ms = (get: (p: CohortPatientResult) => number) => meanSd(patients.map(get).filter(Number.isFinite));
  const r2 = ms((p) => p.growth.r2), nr = ms((p) => p.growth.nrmse), ho = ms((p) => p.growth.heldOutNrmse);
  rows.push(['mean', '', '', '', '', '', '', '', '', r2.mean, nr.mean, ho.mean]);
  rows.push(['sd', '', '', '', '', '', '', '', '', r2.sd, nr.sd, ho.sd]);
  return toCsv(head, rows);
}

/** The bootstrap parameter distributions per patient (median and 5–95 % percentiles, fitting units: v0 relative to the first size), as CSV. */
export function cohortParamsCsv(patients: readonly CohortPatientResult[]): string {
  return toCsv(['patient', 'parameter', 'median', 'lower', 'upper', 'fits'],
    patients.flatMap((p) => Object.entries(p.growth.params).map(([k, v]) => [p.id, k, v.median, v.lower, v.upper, p.growth.nFits])));
}

/** The treatment scenarios per patient and slice, as CSV. */
export function cohortScenariosCsv(patients: readonly CohortPatientResult[]): string {
  return toCsv(['patient', 'scenario', 'rt_start_day', 'followup_day', 'followup_median', 'followup_lower', 'followup_upper', 'relative_change', 'slice', 'target_burden', 'predicted_burden', 'map_area_mm2', 'caveats'],
    patients.flatMap((p) => p.scenarios.flatMap((s) => (s.slices.length ? s.slices : [undefined]).map((sl) => [
      p.id, s.name, s.rtStartDay, s.followup.day, s.followup.median, s.followup.lower, s.followup.upper, s.relativeChange,
      sl?.key, sl?.targetBurden, sl?.predictedBurden, sl?.mapArea, s.caveats.join(' | '),
    ]))));
}

const esc = (s: string) => s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/"/g, '&quot;');
const fmt = (v: number | undefined) => (v === undefined || !Number.isFinite(v) ? '–' : Math.abs(v) >= 1000 || (Math.abs(v) < 0.001 && v !== 0) ? v.toExponential(2) : v.toPrecision(3));
const fmtP = (v: number | undefined) => (v === undefined ? '–' : v < 0.001 ? v.toExponential(1) : v.toFixed(3));

/** A horizontal box plot (min, quartiles, median, max, points) per group, as SVG. */
export function boxPlotSvg(groups: readonly { label: string; values: readonly number[] }[], o: { title?: string; width?: number } = {}): string {
  const W = o.width ?? 560, rowH = 34, m = { l: 110, r: 20, t: o.title ? 28 : 10, b: 30 };
  const all = groups.flatMap((g) => g.values).filter(Number.isFinite);
  let lo = all.length ? Math.min(...all) : 0, hi = all.length ? Math.max(...all) : 1;
  if (!(hi > lo)) { lo -= 0.5; hi += 0.5; }
  const pad = (hi - lo) * 0.05; lo -= pad; hi += pad;
  const H = m.t + m.b + rowH * groups.length;
  const x = (v: number) => m.l + ((v - lo) / (hi - lo)) * (W - m.l - m.r);
  const q = (s: number[], p: number) => { const i = (s.length - 1) * p, a = Math.floor(i), b = Math.ceil(i); return s[a]! + (s[b]! - s[a]!) * (i - a); };
  const rows = groups.map((g, i) => {
    const v = g.values.filter(Number.isFinite).slice().sort((a, b) => a - b);
    const y = m.t + rowH * i + rowH / 2;
    if (!v.length) return `<text x="${m.l - 6}" y="${y + 4}" text-anchor="end" font-size="12">${esc(g.label)}</text>`;
    const [q1, med, q3] = [q(v, 0.25), q(v, 0.5), q(v, 0.75)];
    return `<text x="${m.l - 6}" y="${y + 4}" text-anchor="end" font-size="12">${esc(g.label)}</text>`
      + `<line x1="${x(v[0]!)}" x2="${x(v.at(-1)!)}" y1="${y}" y2="${y}" stroke="#555"/>`
      + `<rect x="${x(q1)}" y="${y - 9}" width="${Math.max(1, x(q3) - x(q1))}" height="18" fill="#cfe3f5" stroke="#1f77b4"/>`
      + `<line x1="${x(med)}" x2="${x(med)}" y1="${y - 9}" y2="${y + 9}" stroke="#d62728" stroke-width="2"/>`
      + v.map((p) => `<circle cx="${x(p)}" cy="${y}" r="2.5" fill="#222" fill-opacity="0.6"/>`).join('');
  });
  const ticks = [0, 0.25, 0.5, 0.75, 1].map((f) => lo + f * (hi - lo));
  // Enough digits to tell the ticks apart when the values hardly differ (e.g. R² of 0.9991 to 0.9999).
  const digits = Math.min(12, Math.max(3, 2 + Math.ceil(Math.log10(Math.max(Math.abs(lo), Math.abs(hi), 1e-300) / (hi - lo)))));
  const tick = (t: number) => (Math.abs(t) >= 1e4 || (Math.abs(t) < 1e-3 && t !== 0) ? t.toExponential(2) : Number(t.toPrecision(digits)).toString());
  return `<svg xmlns="http://www.w3.org/2000/svg" width="${W}" height="${H}" viewBox="0 0 ${W} ${H}" font-family="sans-serif">`
    + (o.title ? `<text x="${W / 2}" y="18" text-anchor="middle" font-size="13">${esc(o.title)}</text>` : '')
    + rows.join('')
    + ticks.map((t) => `<line x1="${x(t)}" x2="${x(t)}" y1="${H - m.b}" y2="${H - m.b + 4}" stroke="#555"/><text x="${x(t)}" y="${H - m.b + 16}" text-anchor="middle" font-size="11">${tick(t)}</text>`).join('')
    + `<line x1="${m.l}" x2="${W - m.r}" y1="${H - m.b}" y2="${H - m.b}" stroke="#555"/></svg>`;
}

/** Per parameter, each patient's bootstrap median (dot) and 5–95 % interval (line), as SVG. */
function paramIntervalsSvg(patients: readonly CohortPatientResult[], param: string): string {
  const rows = patients.map((p) => ({ id: p.id, v: p.growth.params[param] })).filter((r) => r.v);
  const W = 300, rowH = 16, m = { l: 56, r: 12, t: 22, b: 26 };
  const vals = rows.flatMap((r) => [r.v!.lower, r.v!.upper, r.v!.median]).filter((v) => Number.isFinite(v) && v > 0);
  const log = vals.length > 1 && Math.max(...vals) / Math.min(...vals) > 100;
  const f = (v: number) => (log ? Math.log10(Math.max(v, 1e-12)) : v);
  let lo = vals.length ? Math.min(...vals.map(f)) : 0, hi = vals.length ? Math.max(...vals.map(f)) : 1;
  if (!(hi > lo)) { lo -= 0.5; hi += 0.5; }
  const H = m.t + m.b + rowH * rows.length;
  const x = (v: number) => m.l + ((f(v) - lo) / (hi - lo)) * (W - m.l - m.r);
  const body = rows.map((r, i) => {
    const y = m.t + rowH * i + rowH / 2;
    return `<text x="${m.l - 4}" y="${y + 4}" text-anchor="end" font-size="10">${esc(r.id)}</text><line x1="${x(r.v!.lower)}" x2="${x(r.v!.upper)}" y1="${y}" y2="${y}" stroke="#1f77b4" stroke-width="2"/><circle cx="${x(r.v!.median)}" cy="${y}" r="3" fill="#d62728"/>`;
  }).join('');
  const tick = (t: number) => (log ? `1e${t.toFixed(1).replace(/\.0$/, '')}` : fmt(t));
  return `<svg xmlns="http://www.w3.org/2000/svg" width="${W}" height="${H}" viewBox="0 0 ${W} ${H}" font-family="sans-serif"><text x="${W / 2}" y="14" text-anchor="middle" font-size="12">${esc(param)}${log ? ' (log scale)' : ''}</text>${body}`
    + `<line x1="${m.l}" x2="${W - m.r}" y1="${H - m.b}" y2="${H - m.b}" stroke="#555"/><text x="${m.l}" y="${H - m.b + 14}" font-size="10">${tick(lo)}</text><text x="${W - m.r}" y="${H - m.b + 14}" font-size="10" text-anchor="end">${tick(hi)}</text></svg>`;
}

/** The statement every scenario section carries. */
export const SCENARIO_DISCLAIMER = 'Treatment scenarios are extrapolations of the fitted growth model, not predictions the data have tested: '
  + 'each alternative radiotherapy schedule is simulated with the parameters fitted to the treatment this patient actually had, '
  + 'and the guided follow-ups show what the model implies, not how this tumour would respond.';

/** The growth curves of a patient's scenarios (median per scenario) and its measured sizes, as SVG. */
export function scenarioChartSvg(p: CohortPatientResult, measured: { times: readonly number[]; sizes: readonly number[] }, sizeUnit?: string): string {
  return lineChartSvg([
    ...p.scenarios.map((s) => ({ label: s.name, x: s.times, y: s.median })),
    { label: 'measured', x: measured.times, y: measured.sizes, color: '#000' },
  ], { title: `${p.id}: treatment scenarios (model extrapolations)`, xLabel: 'day', yLabel: `tumour size${sizeUnit ? ` (${sizeUnit})` : ''}`, width: 640, height: 320 });
}

/** Inputs of {@link renderCohortReport}. */
export interface CohortReportInput {
  /** Title. */
  title: string;
  /** Lines under the title. */
  summary: string[];
  /** A note shown prominently (e.g. synthetic data). */
  note?: string;
  /** The finished patients. */
  patients: readonly CohortPatientResult[];
  /** Patients left out, with why. */
  skipped: readonly { patient: string; reason: string }[];
  /** Link of each patient's page, relative to the summary. */
  pageOf: (id: string) => string;
  /** Unit of the sizes. */
  sizeUnit?: string;
}

/**
 * The cohort summary page (self-contained HTML: inline SVG, no external
 * resources): the cohort table (prediction vs unchanged baseline, Wilcoxon
 * p, n), growth-fit quality with box plots, the bootstrap parameter
 * intervals, the scenarios (with the statement that they are model
 * extrapolations), and a link to every patient's page.
 *
 * @param r - see {@link CohortReportInput}.
 */
export function renderCohortReport(r: CohortReportInput): string {
  const table = cohortTable(r.patients);
  const imageRows = table.filter((t) => t.baseline);
  const better = (t: CohortTableRow, which: 'p' | 'b') => {
    if (!t.baseline) return false;
    const hiBetter = HIGHER_BETTER[t.metric] ?? true;
    const pBetter = hiBetter ? t.prediction.mean > t.baseline.mean : t.prediction.mean < t.baseline.mean;
    return which === 'p' ? pBetter : !pBetter && t.prediction.mean !== t.baseline.mean;
  };
  const ms = (x: { mean: number; sd: number }) => `${fmt(x.mean)} ± ${fmt(x.sd)}`;
  const cohortRows = imageRows.map((t) => `<tr><td>${esc(t.metric.toUpperCase())}${HIGHER_BETTER[t.metric] ? ' ↑' : ' ↓'}</td><td class="${better(t, 'p') ? 'better' : ''}">${ms(t.prediction)}</td><td class="${better(t, 'b') ? 'better' : ''}">${ms(t.baseline!)}</td><td>${fmtP(t.pSlices)}</td><td>${fmtP(t.pPatients)}</td><td>${t.nSlices}</td><td>${t.nPatients}</td></tr>`).join('');
  const mapRows = table.filter((t) => !t.baseline).map((t) => `<tr><td>${esc(t.metric)}</td><td>${ms(t.prediction)}</td><td>${t.nSlices}</td><td>${t.nPatients}</td></tr>`).join('');
  const growthRows = r.patients.map((p) => `<tr><td><a href="${esc(r.pageOf(p.id))}">${esc(p.id)}</a></td><td>${esc(p.split)}</td><td>${p.scans.fitted}/${p.scans.heldOut}/${p.scans.dropped}</td><td>${p.baselineDay} → ${p.followupDay}</td><td>${fmt(p.growth.r2)}</td><td>${fmt(p.growth.nrmse)}</td><td>${fmt(p.growth.heldOutNrmse)}</td><td>${fmt(p.growth.observed.followup)}</td><td>${fmt(p.growth.predicted.followup)} [${fmt(p.growth.followupBand[0])}, ${fmt(p.growth.followupBand[1])}]</td><td>${fmt(p.growth.observedChange)}</td><td>${fmt(p.growth.relativeChange)}</td><td>${p.slices.length}</td><td>${esc(p.growth.heldByFallback.join(', ') || '–')}</td></tr>`).join('');
  const box = boxPlotSvg([
    { label: 'R²', values: r.patients.map((p) => p.growth.r2) },
  ], { title: 'growth fit R² per patient (fitted scans)' }) + boxPlotSvg([
    { label: 'nRMSE fit', values: r.patients.map((p) => p.growth.nrmse) },
    { label: 'nRMSE held out', values: r.patients.map((p) => p.growth.heldOutNrmse) },
  ], { title: 'normalised RMSE per patient' });
  const params = [...new Set(r.patients.flatMap((p) => Object.keys(p.growth.params)))];
  const paramFigs = params.map((k) => `<figure>${paramIntervalsSvg(r.patients, k)}</figure>`).join('');
  const withScen = r.patients.filter((p) => p.scenarios.length);
  const scenRows = withScen.flatMap((p) => p.scenarios.map((s) => `<tr><td><a href="${esc(r.pageOf(p.id))}">${esc(p.id)}</a></td><td>${esc(s.name)}</td><td>${s.rtStartDay ?? 'none'}</td><td>${fmt(s.followup.median)} [${fmt(s.followup.lower)}, ${fmt(s.followup.upper)}]</td><td>${fmt(s.relativeChange)}</td><td>${esc(s.slices.map((x) => `${x.key}: ${fmt(x.mapArea)}`).join('; ') || '–')}</td><td>${esc(s.caveats.join(' ') || '–')}</td></tr>`)).join('');
  const nSlices = r.patients.reduce((a, p) => a + p.slices.length, 0);
  return `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>${esc(r.title)}</title>
<meta name="viewport" content="width=device-width, initial-scale=1">
<style>
body{font-family:system-ui,-apple-system,Segoe UI,Roboto,sans-serif;margin:24px;color:#222;max-width:1400px}
h1{margin-bottom:4px} .summary{color:#555;margin:0 0 16px} .note{background:#fff4d6;border:1px solid #e8c26a;padding:8px 12px;border-radius:6px}
.extrapolation{background:#e8f1fb;border:1px solid #6c9bd2;padding:8px 12px;border-radius:6px}
section{border-top:1px solid #ddd;padding-top:8px;margin-top:24px} .figs{display:flex;gap:16px;flex-wrap:wrap;align-items:flex-start}
table{border-collapse:collapse;font-size:13px;margin:6px 0} td,th{border:1px solid #ddd;padding:3px 8px;text-align:right} td:first-child,th:first-child{text-align:left}
td.better{background:#e3f6e3;font-weight:600} figure{margin:0} .skipped{background:#fde2e2;border:1px solid #d62828;padding:6px 12px;border-radius:6px}
</style></head><body>
<h1>${esc(r.title)}</h1>
<ul class="summary">${r.summary.map((l) => `<li>${esc(l)}</li>`).join('')}<li>${r.patients.length} patient(s), ${nSlices} slice(s)</li></ul>
${r.note ? `<p class="note">${esc(r.note)}</p>` : ''}
${r.skipped.length ? `<div class="skipped"><strong>Left out (${r.skipped.length}):</strong><ul>${r.skipped.map((s) => `<li>${esc(s.patient)}: ${esc(s.reason)}</li>`).join('')}</ul></div>` : ''}
<section id="cohort-table"><h2>Cohort table: predicted follow-up vs unchanged baseline</h2>
<table><thead><tr><th>metric</th><th>prediction (mean ± sd)</th><th>unchanged baseline (mean ± sd)</th><th>Wilcoxon p (slices)</th><th>Wilcoxon p (patients)</th><th>slices</th><th>patients</th></tr></thead><tbody>${cohortRows}</tbody></table>
<p class="summary">Each metric compares an image with the real follow-up scan. ↑: higher is better, ↓: lower is better; green: the better of the two. p: two-sided Wilcoxon signed-rank test of prediction vs baseline, paired per slice, and per patient over each patient's slice means (exact without ties or zeros up to 50 pairs, else the normal approximation; zeros dropped). A slice with an undefined value (e.g. HD95 of an empty mask) is left out of that row.</p>
<h3>Growth probability maps</h3>
<table><thead><tr><th>metric</th><th>mean ± sd</th><th>slices</th><th>patients</th></tr></thead><tbody>${mapRows}</tbody></table>
</section>
<section id="growth"><h2>Growth-fit quality</h2>
<table><thead><tr><th>patient</th><th>split</th><th>scans fitted/held out/dropped</th><th>baseline → follow-up day</th><th>R²</th><th>nRMSE</th><th>held-out nRMSE</th><th>follow-up size</th><th>predicted [5–95 %]</th><th>true change</th><th>predicted change</th><th>slices</th><th>held at population values</th></tr></thead><tbody>${growthRows}</tbody></table>
<div class="figs">${box}</div>
<h3>Bootstrap parameter distributions (median and 5–95 %, per patient; v0 relative to the first size)</h3>
<div class="figs">${paramFigs}</div>
</section>
${withScen.length ? `<section id="scenarios"><h2>Treatment scenarios</h2><p class="extrapolation"><strong>Model extrapolations.</strong> ${esc(SCENARIO_DISCLAIMER)}</p>
<table><thead><tr><th>patient</th><th>scenario</th><th>RT start day</th><th>follow-up size median [5–95 %]</th><th>relative change</th><th>map area p ≥ 0.5 (mm²) per slice</th><th>caveats</th></tr></thead><tbody>${scenRows}</tbody></table></section>` : ''}
<section id="patients"><h2>Patients</h2><ul>${r.patients.map((p) => `<li><a href="${esc(r.pageOf(p.id))}">${esc(p.id)}</a>: ${esc(p.split)}, ${p.slices.length} slice(s), follow-up day ${p.followupDay}</li>`).join('')}</ul></section>
<footer><p class="summary">Generated by tumorcast-predict (TensorFlow.js). Method: Laslo et al., MICCAI 2025 LMID workshop, arXiv 2509.09610. Tables as CSV beside this file.</p></footer>
</body></html>
`;
}
