/**
 * The self-contained HTML report of a `run`: images inlined as PNG data
 * URIs, growth curves as inline SVG, no external resources.
 */
import { encodePng } from '@tumorcast/cli';
import type { PngImage } from '@tumorcast/cli';
import type { SliceScores } from './evaluate.js';

/** One slice's section of the report. */
export interface ReportSlice {
  /** Slice id. */
  id: string;
  /** Baseline channels (t1n, t1c, t2w, t2f). */
  baseline: PngImage[];
  /** Predicted follow-up channels. */
  predicted: PngImage[];
  /** Real follow-up channels, when known. */
  truth?: PngImage[];
  /** |predicted - baseline|. */
  difference: PngImage;
  /** Probability map over the baseline FLAIR. */
  probability: PngImage;
  /** Facts shown under the images. */
  facts: Record<string, string>;
  /** Metrics, when the real follow-up is known. */
  scores?: SliceScores;
}

/** Inputs of {@link renderReport}. */
export interface ReportInput {
  /** Title. */
  title: string;
  /** Lines under the title (data, models, settings). */
  summary: string[];
  /** Growth curves (SVG strings) with captions. */
  growth: { caption: string; svg: string }[];
  /** Slices. */
  slices: ReportSlice[];
  /** Mean metrics (predicted vs baseline), when known. */
  means?: { predicted: Record<string, number>; baseline: Record<string, number>; slices: number };
  /** A note shown prominently (e.g. that the data are synthetic). */
  note?: string;
}

const esc = (s: string) => s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/"/g, '&quot;');
const fmt = (v: number) => (Number.isFinite(v) ? (Math.abs(v) >= 100 ? v.toFixed(1) : v.toPrecision(4)) : v > 0 ? '∞' : '—');

function img(p: PngImage, alt: string): string {
  const b64 = Buffer.from(encodePng(p)).toString('base64');
  return `<figure><img alt="${esc(alt)}" src="data:image/png;base64,${b64}" width="${p.width}" height="${p.height}"><figcaption>${esc(alt)}</figcaption></figure>`;
}

const MODS = ['T1n', 'T1c', 'T2w', 'T2-FLAIR'];
const METRICS: [string, string, boolean][] = [
  ['mse', 'MSE', false], ['psnr', 'PSNR (dB)', true], ['ssim', 'SSIM', true], ['mseBrain', 'MSE in brain', false], ['dice', 'Dice (tumour)', true], ['hd95', 'HD95 (mm)', false],
  ['areaError', 'tumour area error', false],
];

function scoresTable(predicted: Record<string, number>, baseline: Record<string, number>): string {
  const rows = METRICS.map(([k, label, higher]) => {
    const p = predicted[k] as number, b = baseline[k] as number;
    const better = Number.isFinite(p) && Number.isFinite(b) ? (higher ? p > b : p < b) : false;
    return `<tr><td>${label}</td><td class="${better ? 'better' : ''}">${fmt(p)}</td><td>${fmt(b)}</td></tr>`;
  });
  return `<table class="metrics"><thead><tr><th>metric</th><th>predicted follow-up</th><th>unchanged baseline</th></tr></thead><tbody>${rows.join('')}</tbody></table>`;
}

/** Mean Dice/HD95 of the probability maps per threshold, beside the baseline tumour's. */
function mapSummary(slices: ReportSlice[]): string {
  const scored = slices.map((s) => s.scores).filter((s): s is SliceScores => !!s);
  if (!scored.length) return '';
  const mean = (v: number[]) => v.filter(Number.isFinite).reduce((a, b) => a + b, 0) / Math.max(1, v.filter(Number.isFinite).length);
  const baseDice = mean(scored.map((s) => s.baseline.dice));
  const baseHd = mean(scored.map((s) => s.baseline.hd95));
  const rows = scored[0]!.map.thresholds.map((t, i) => {
    const d = mean(scored.map((s) => s.map.thresholds[i]!.dice));
    const h = mean(scored.map((s) => s.map.thresholds[i]!.hd95));
    return `<tr><td>map p ≥ ${t.threshold}</td><td class="${d > baseDice ? 'better' : ''}">${fmt(d)}</td><td class="${h < baseHd ? 'better' : ''}">${fmt(h)}</td></tr>`;
  });
  return `<table class="metrics"><thead><tr><th>growth probability map vs real follow-up tumour</th><th>Dice</th><th>HD95 (mm)</th></tr></thead><tbody>${rows.join('')}<tr><td>unchanged baseline tumour</td><td>${fmt(baseDice)}</td><td>${fmt(baseHd)}</td></tr></tbody></table>`;
}

/** Renders the report HTML. */
export function renderReport(r: ReportInput): string {
  const sections = r.slices.map((s) => {
    const row = (imgs: PngImage[], what: string) => `<div class="row"><div class="rowlabel">${esc(what)}</div>${imgs.map((p, i) => img(p, `${what} ${MODS[i]}`)).join('')}</div>`;
    const facts = Object.entries(s.facts).map(([k, v]) => `<tr><td>${esc(k)}</td><td>${esc(v)}</td></tr>`).join('');
    const mapTable = s.scores
      ? `<table class="metrics"><thead><tr><th>map threshold</th><th>Dice</th><th>HD95 (mm)</th></tr></thead><tbody>${s.scores.map.thresholds
          .map((t) => `<tr><td>p ≥ ${t.threshold}</td><td>${fmt(t.dice)}</td><td>${fmt(t.hd95)}</td></tr>`).join('')}<tr><td>Brier score</td><td colspan="2">${fmt(s.scores.map.brier)}</td></tr></tbody></table>`
      : '';
    return `<section id="slice-${esc(s.id)}"><h2>Slice ${esc(s.id)}</h2>
${row(s.baseline, 'baseline')}
${row(s.predicted, 'predicted follow-up')}
${s.truth ? row(s.truth, 'real follow-up') : ''}
<div class="row"><div class="rowlabel">change</div>${img(s.difference, '|predicted − baseline| (mean over channels)')}${img(s.probability, 'growth probability over baseline FLAIR')}</div>
<div class="tables"><table class="facts">${facts}</table>${s.scores ? scoresTable(s.scores.predicted as unknown as Record<string, number>, s.scores.baseline as unknown as Record<string, number>) : ''}${mapTable}</div>
</section>`;
  });
  const growth = r.growth.map((g) => `<figure class="growth">${g.svg}<figcaption>${esc(g.caption)}</figcaption></figure>`).join('');
  return `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>${esc(r.title)}</title>
<meta name="viewport" content="width=device-width, initial-scale=1">
<style>
body{font-family:system-ui,-apple-system,Segoe UI,Roboto,sans-serif;margin:24px;color:#222;max-width:1400px}
h1{margin-bottom:4px} .summary{color:#555;margin:0 0 16px} .note{background:#fff4d6;border:1px solid #e8c26a;padding:8px 12px;border-radius:6px}
section{border-top:1px solid #ddd;padding-top:8px;margin-top:24px}
.row{display:flex;align-items:flex-start;gap:6px;margin:6px 0;flex-wrap:wrap} .rowlabel{width:120px;font-weight:600;padding-top:8px}
figure{margin:0} figure img{image-rendering:pixelated;border:1px solid #ccc;width:200px;height:auto} figcaption{font-size:11px;color:#666;max-width:200px}
.growth svg{max-width:100%;height:auto} .tables{display:flex;gap:24px;flex-wrap:wrap;margin-top:8px}
table{border-collapse:collapse;font-size:13px} td,th{border:1px solid #ddd;padding:3px 8px;text-align:right} td:first-child,th:first-child{text-align:left}
td.better{background:#e3f6e3;font-weight:600} table.metrics{margin-bottom:10px}
</style></head><body>
<h1>${esc(r.title)}</h1>
<ul class="summary">${r.summary.map((l) => `<li>${esc(l)}</li>`).join('')}</ul>
${r.note ? `<p class="note">${esc(r.note)}</p>` : ''}
${r.means ? `<h2>Summary over ${r.means.slices} slice(s)</h2>${scoresTable(r.means.predicted, r.means.baseline)}${mapSummary(r.slices)}<p class="summary">Green: the prediction is closer to the real follow-up than the unchanged baseline is.</p>` : ''}
${growth ? `<h2>Tumour growth model</h2>${growth}` : ''}
${sections.join('\n')}
<footer><p class="summary">Generated by tumorcast-predict (TensorFlow.js). Method: Laslo et al., MICCAI 2025 LMID workshop, arXiv 2509.09610.</p></footer>
</body></html>
`;
}
