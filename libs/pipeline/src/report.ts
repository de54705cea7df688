/**
 * The self-contained HTML report of a `run`: images inlined as PNG data
 * URIs, mask outlines, colour bars and growth curves as inline SVG, a click
 * enlarges any image (inline script), no external resources.
 */
import { DIVERGING_BLUE_RED, SEQUENTIAL_YELLOW_RED, colorBarSvg, encodePng, maskOutlinePath } from '@tumorcast/cli';
import type { PngImage, Rgb } from '@tumorcast/cli';
import { plotGrowth } from '@tumorcast/growth-ode';
import type { FollowupTruth, ScoreSummary, SliceScores } from './evaluate.js';
import type { SeriesPrediction } from './growth.js';
import { OUTLINE_COLORS, channelImages, differenceView, probabilityOverlay } from './outputs.js';

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
  /** Signed predicted - baseline (mean over channels), coloured on [-limit, +limit]; `maxAbs` over every pixel and channel. */
  difference: { image: PngImage; limit: number; maxAbs: number };
  /** Probability map over the baseline FLAIR, graded (colour bar 0..1). */
  probability: PngImage;
  /** Baseline tumour mask (HW, the probability image's size), outlined over the maps. */
  baselineMask?: ArrayLike<number>;
  /** Where the baseline mask came from (e.g. 'label'), for the legend. @defaultValue 'label' */
  baselineMaskSource?: string;
  /** Real follow-up tumour mask (HW), outlined over the probability map. */
  truthMask?: ArrayLike<number>;
  /** Facts shown under the images. */
  facts: Record<string, string>;
  /** Metrics, when the real follow-up is known. */
  scores?: SliceScores;
  /** Warnings shown prominently at the top of the section (see {@link sliceFlags}). @defaultValue [] */
  flags?: string[];
  /** The burden trajectory during decoding as SVG (see {@link trajectoryFigure}). @defaultValue undefined (not shown) */
  trajectorySvg?: string;
}

/** The guiding network's readings during guided decoding, with the target it was steered to. */
export interface BurdenTrajectory {
  /** The network that guided (`SampleSettings.guidance`), for the legend. @defaultValue 'regressor' */
  guide?: string;
  /** The original timestep of each decoding step, in the order run (e.g. 190, 180, ..., 0). */
  timesteps: number[];
  /** The regressor's reading R(x_t, t) at each step. */
  predictions: number[];
  /** The target the guidance used at each step (r*, or the amplified r* early on). */
  targets: number[];
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
  means?: ScoreSummary;
  /** A note shown prominently (e.g. that the data are synthetic). */
  note?: string;
  /** Runs per probability map, named in the map's colour bar. @defaultValue undefined (not named) */
  mapRuns?: number;
}

/** What {@link reportSlice} needs of one finished slice (all images in the input's geometry). */
export interface ReportSliceInput {
  /** Slice id. */
  id: string;
  /** Width. */
  width: number;
  /** Height. */
  height: number;
  /** Baseline scan, HWC in [0, 1]. */
  baseline: Float32Array;
  /** Predicted follow-up, HWC in [0, 1]. */
  predicted: Float32Array;
  /** Growth probability, HW. */
  probability: ArrayLike<number>;
  /** Baseline tumour mask (HW, 0/1), when known. */
  baselineMask?: ArrayLike<number>;
  /** Where the baseline mask came from. @defaultValue 'label' */
  baselineMaskSource?: string;
  /** The real follow-up, when known. */
  truth?: FollowupTruth;
  /**
   * Tumour burdens: baseline r0, target r*, the regressor's on the prediction
   * and, when known, the segmenter's on the prediction (its tumour mask over
   * the brain pixels).
   */
  burdens?: SliceBurdens;
  /** The regressor's readings during decoding, plotted against the target. @defaultValue undefined (no plot) */
  trajectory?: BurdenTrajectory;
  /** Facts shown under the images. */
  facts: Record<string, string>;
  /** Metrics, when the real follow-up is known. */
  scores?: SliceScores;
}

/** The tumour burdens of a slice (fractions of the brain pixels). */
export interface SliceBurdens {
  /** r0, the baseline's. */
  baseline: number;
  /** r* = r0 (1 + d). */
  target: number;
  /** The guiding network's reading of the prediction (the regressor's, the paper's guide). */
  predicted: number;
  /** The segmenter's burden of the prediction, when known. @defaultValue undefined */
  segmented?: number;
  /** The network that guided (`SampleSettings.guidance`), for the flags' wording. @defaultValue 'regressor' */
  guide?: string;
}

/**
 * The largest per-pixel change (in [0, 1] intensity) below which a prediction
 * counts as equal to the baseline: one 8-bit grey level.
 */
export const UNCHANGED_MAX_DIFFERENCE = 1 / 255;

/**
 * Warnings for a slice whose prediction is (in effect) the unchanged
 * baseline: no pixel moved by a grey level; the segmented follow-up tumour
 * scores exactly as the baseline tumour against the real follow-up; the
 * regressor's burden moved less than a tenth of the way to a target that
 * asks for a change; or the segmented burden of the prediction did (while
 * the regressor's reading got there: the guidance satisfied the regressor
 * with changes that are not a tumour of the target's size).
 *
 * @param maxAbs - the largest |predicted - baseline| over pixels and channels.
 * @param scores - the slice's metrics, when the real follow-up is known.
 * @param burdens - r0, r*, the regressor's burden on the prediction and, when known, the segmented one.
 */
export function sliceFlags(maxAbs: number, scores?: SliceScores, burdens?: SliceBurdens): string[] {
  const flags: string[] = [];
  if (!(maxAbs >= UNCHANGED_MAX_DIFFERENCE)) {
    flags.push(`The predicted follow-up equals the baseline: no pixel changed by one grey level (largest change ${maxAbs.toExponential(2)}).`);
  }
  if (scores) {
    const p = scores.predicted, b = scores.baseline;
    const same = (x: number, y: number) => x === y || (Number.isNaN(x) && Number.isNaN(y)) || Math.abs(x - y) <= 1e-12 * Math.max(1, Math.abs(y));
    if (same(p.dice, b.dice) && same(p.hd95, b.hd95) && same(p.areaError, b.areaError)) {
      flags.push('The segmented follow-up tumour equals the baseline tumour (same Dice, HD95 and area error against the real follow-up): the predicted tumour burden did not change.');
    }
  }
  if (burdens) {
    const want = burdens.target - burdens.baseline;
    const got = burdens.predicted - burdens.baseline;
    if (Math.abs(want) > 1e-3 && Math.abs(got) < 0.1 * Math.abs(want)) {
      flags.push(`The ${burdens.guide ?? 'regressor'} sees (almost) no change of tumour burden: ${burdens.baseline.toFixed(4)} -> ${burdens.predicted.toFixed(4)}, target ${burdens.target.toFixed(4)}.`);
    }
    const seg = burdens.segmented;
    if (seg !== undefined && Number.isFinite(seg) && Math.abs(want) > 1e-3 && Math.abs(seg - burdens.baseline) < 0.1 * Math.abs(want)) {
      const guide = burdens.guide ?? 'regressor';
      const fooled = Math.abs(got) >= 0.5 * Math.abs(want) ? ` although the ${guide} reads a change: it was satisfied by changes the segmenter does not see as tumour` : '';
      flags.push(`The segmented tumour did not move towards the target${fooled}: segmented burden of the prediction ${seg.toFixed(4)}, baseline ${burdens.baseline.toFixed(4)}, target ${burdens.target.toFixed(4)}.`);
    }
  }
  return flags;
}

/**
 * Builds a slice's report section data (images, masks, flags) from its arrays.
 *
 * @param s - the slice's arrays and facts.
 */
export function reportSlice(s: ReportSliceInput): ReportSlice {
  const { width: w, height: h } = s;
  const diff = differenceView(s.predicted, s.baseline, w, h);
  return {
    id: s.id,
    baseline: channelImages(s.baseline, w, h),
    predicted: channelImages(s.predicted, w, h),
    truth: s.truth ? channelImages(s.truth.image, w, h) : undefined,
    difference: { image: diff.image, limit: diff.limit, maxAbs: diff.maxAbs },
    probability: probabilityOverlay(s.baseline, s.probability, w, h),
    baselineMask: s.baselineMask,
    baselineMaskSource: s.baselineMaskSource,
    truthMask: s.truth?.label,
    facts: s.facts,
    scores: s.scores,
    flags: sliceFlags(diff.maxAbs, s.scores, s.burdens),
    trajectorySvg: s.trajectory?.predictions.length ? trajectoryFigure(s.trajectory, s.burdens) : undefined,
  };
}

/**
 * The burden trajectory of a slice's guided decoding as an inline SVG: the
 * regressor's reading per step against the target it was steered to, the
 * baseline burden r0 and, at the end, the regressor's reading of the result
 * and the segmented burden of the result beside the target r*.
 *
 * @param t - the readings and targets per step.
 * @param burdens - r0, r*, the final reading and the segmented burden (when known).
 * @returns an SVG element (no external resources).
 */
export function trajectoryFigure(t: BurdenTrajectory, burdens?: SliceBurdens): string {
  const n = t.predictions.length;
  if (t.timesteps.length !== n || t.targets.length !== n) {
    throw new RangeError(`'t' passed to 'trajectoryFigure' must hold as many timesteps and targets as predictions (${n}), got ${t.timesteps.length} and ${t.targets.length}`);
  }
  const W = 360, H = 200, L = 52, R = 96, T = 12, B = 34;
  const finals = burdens ? [burdens.baseline, burdens.target, burdens.predicted, burdens.segmented ?? NaN] : [];
  const all = [...t.predictions, ...t.targets, ...finals].filter(Number.isFinite);
  let lo = Math.min(...all, 0), hi = Math.max(...all, 1e-6);
  const pad = (hi - lo) * 0.08;
  lo = Math.max(0, lo - pad); hi += pad;
  // Steps left to right; one extra slot on the right for the result (t = 0 after the last step).
  const x = (i: number) => L + ((W - L - R) * i) / Math.max(1, n);
  const y = (v: number) => T + (H - T - B) * (1 - (v - lo) / (hi - lo || 1));
  const line = (v: readonly number[], cls: string) => `<polyline class="${cls}" points="${v.map((p, i) => `${x(i).toFixed(1)},${y(p).toFixed(1)}`).join(' ')}"/>`;
  const ticks = [lo, (lo + hi) / 2, hi].map((v) => `<text x="${L - 4}" y="${y(v) + 3}" text-anchor="end">${v.toFixed(3)}</text><line class="grid" x1="${L}" x2="${W - R}" y1="${y(v)}" y2="${y(v)}"/>`).join('');
  const xt = [0, Math.floor((n - 1) / 2), n - 1].filter((v, i, a) => v >= 0 && a.indexOf(v) === i)
    .map((i) => `<text x="${x(i)}" y="${H - B + 14}" text-anchor="middle">t=${t.timesteps[i]}</text>`).join('');
  const end = x(n);
  const marks: string[] = [];
  if (burdens) {
    marks.push(`<line class="base" x1="${L}" x2="${end}" y1="${y(burdens.baseline)}" y2="${y(burdens.baseline)}"/>`);
    marks.push(`<circle class="reg" cx="${end}" cy="${y(burdens.predicted)}" r="3.5"/>`);
    marks.push(`<rect class="tgt" x="${end - 3.5}" y="${y(burdens.target) - 3.5}" width="7" height="7"/>`);
    if (burdens.segmented !== undefined && Number.isFinite(burdens.segmented)) {
      const sy = y(burdens.segmented);
      marks.push(`<path class="seg" d="M${end} ${sy - 5}L${end + 5} ${sy}L${end} ${sy + 5}L${end - 5} ${sy}Z"/>`);
    }
  }
  const key = (i: number, shape: string, label: string) => `<g transform="translate(${W - R + 10},${T + 6 + i * 16})">${shape}<text x="14" y="4">${label}</text></g>`;
  const legend = [
    key(0, '<line class="reg" x1="0" x2="10" y1="0" y2="0"/>', t.guide ?? 'regressor'),
    key(1, '<line class="tgt" x1="0" x2="10" y1="0" y2="0"/>', 'target'),
    burdens ? key(2, '<line class="base" x1="0" x2="10" y1="0" y2="0"/>', 'baseline r0') : '',
    burdens?.segmented !== undefined ? key(3, '<path class="seg" d="M5 -5L10 0L5 5L0 0Z"/>', 'segmented') : '',
  ].join('');
  return `<svg class="trajectory" viewBox="0 0 ${W} ${H}" width="${W}" height="${H}" role="img" aria-label="tumour burden during decoding: ${t.guide ?? 'regressor'} against target">`
    + `<style>.trajectory text{font-size:10px;fill:#444}.trajectory polyline,.trajectory line{fill:none;stroke-width:1.6}.grid{stroke:#eee!important;stroke-width:1!important}`
    + `.reg{stroke:#1d4ed8;fill:#1d4ed8}.tgt{stroke:#e76f51;fill:#e76f51;stroke-dasharray:5 3}rect.tgt{stroke-dasharray:none}.base{stroke:#888;stroke-dasharray:2 3}.seg{fill:#2a9d8f;stroke:#2a9d8f}</style>`
    + `${ticks}${xt}${line(t.targets, 'tgt')}${line(t.predictions, 'reg')}${marks.join('')}${legend}`
    + `<text x="${(L + W - R) / 2}" y="${H - 4}" text-anchor="middle">decoding step (result at the right)</text>`
    + `<text transform="translate(12,${(T + H - B) / 2}) rotate(-90)" text-anchor="middle">tumour burden</text></svg>`;
}

/**
 * The target the guidance steers each decoding step to: r*, times `factor`
 * while the step's original timestep is above `above` when amplified (the
 * reference code's early target, the guided sampler's defaults 1.15 and 20).
 *
 * @param timesteps - the original timesteps of the steps.
 * @param target - r*.
 * @param amplify - whether the early target was amplified.
 * @param factor - the amplification. @defaultValue 1.15
 * @param above - the timestep above which it applies. @defaultValue 20
 */
export function guidanceTargets(timesteps: readonly number[], target: number, amplify: boolean, factor = 1.15, above = 20): number[] {
  return timesteps.map((t) => (amplify && t > above ? target * factor : target));
}

/** Options of {@link growthFigure}. */
export interface GrowthFigureOptions {
  /**
   * Unit of the sizes in the size CSV (e.g. 'mm²'); without one, sizes are
   * plotted relative to the first scan.
   * @defaultValue undefined
   */
  sizeUnit?: string;
  /**
   * The real size at the follow-up day, in the CSV's unit, when known.
   * @defaultValue undefined
   */
  trueFollowupSize?: number;
}

const fmtSize = (v: number) => (Math.abs(v) >= 100 ? v.toFixed(0) : v.toPrecision(3));

/**
 * The growth plot of a fitted series for the report: data, bootstrap median
 * and band, baseline and follow-up lines, the predicted follow-up size and,
 * when known, the real one; the y axis in the data's unit or relative to the
 * first scan.
 *
 * @param g - the fitted series.
 * @param o - see {@link GrowthFigureOptions}.
 */
export function growthFigure(g: SeriesPrediction, o: GrowthFigureOptions = {}): { caption: string; svg: string } {
  const first = g.result.seriesSizes[0] as number;
  const relative = !o.sizeUnit;
  const yScale = relative && first > 0 ? 1 / first : 1;
  const unit = relative ? ' (relative to the first scan)' : ` ${o.sizeUnit}`;
  const points: { day: number; size: number; label: string; shape: 'diamond' | 'square'; color: string }[] = [
    { day: g.followupDay, size: g.sizeFollowup, label: 'predicted follow-up', shape: 'diamond', color: '#e76f51' },
  ];
  if (o.trueFollowupSize !== undefined && Number.isFinite(o.trueFollowupSize)) {
    points.push({ day: g.followupDay, size: o.trueFollowupSize, label: 'real follow-up', shape: 'square', color: '#2a9d8f' });
  }
  const svg = plotGrowth(g.result, {
    until: g.followupDay,
    markers: [{ day: g.baselineDay, label: 'baseline' }, { day: g.followupDay, label: 'follow-up' }],
    yLabel: relative ? 'tumour size relative to the first scan' : `tumour size (${o.sizeUnit})`,
    yScale,
    points,
  });
  const s = (v: number) => `${fmtSize(v * yScale)}${relative ? '' : unit}`;
  const real = points[1] ? `; real ${s(points[1].size)}` : '';
  return {
    caption: `${g.id}: relative change ${g.relativeChange.toFixed(3)} from day ${g.baselineDay} to day ${g.followupDay} (band ${g.relativeChangeBand.map((v) => v.toFixed(3)).join(' – ')}); `
      + `predicted size at day ${g.followupDay}: ${s(g.sizeFollowup)}${real}${relative ? ' (sizes relative to the first scan)' : ''}`,
    svg,
  };
}

const esc = (s: string) => s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/"/g, '&quot;');
const fmt = (v: number) => (Number.isFinite(v) ? (Math.abs(v) >= 100 ? v.toFixed(1) : v.toPrecision(4)) : v > 0 ? '∞' : '—');
const css = (c: Rgb) => `rgb(${c.join(',')})`;

/** An image figure; outlines are SVG paths over it (pixel coordinates), and a click enlarges it. */
function img(p: PngImage, caption: string, outlines: { d: string; cls: string }[] = []): string {
  const b64 = Buffer.from(encodePng(p)).toString('base64');
  const paths = outlines.filter((o) => o.d).map((o) => `<path class="${o.cls}" d="${o.d}"/>`).join('');
  const svg = paths ? `<svg class="outlines" viewBox="0 0 ${p.width} ${p.height}" preserveAspectRatio="none" aria-hidden="true">${paths}</svg>` : '';
  return `<figure class="zoom" tabindex="0" title="click to enlarge"><div class="frame"><img alt="${esc(caption)}" src="data:image/png;base64,${b64}" width="${p.width}" height="${p.height}">${svg}</div><figcaption>${esc(caption)}</figcaption></figure>`;
}

/** A line swatch for a legend. */
const swatch = (cls: string) => `<svg class="swatch" width="26" height="10" aria-hidden="true"><line class="${cls}" x1="1" x2="25" y1="5" y2="5"/></svg>`;

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

/** The signed-difference figure with its colour bar. */
function differencePanel(s: ReportSlice, baselinePath: string): string {
  const L = s.difference.limit;
  const bar = colorBarSvg(DIVERGING_BLUE_RED, {
    min: -L, max: L, ticks: [-L, -L / 2, 0, L / 2, L], label: 'predicted − baseline (intensity, 1 = full range)', width: 260,
  });
  const key = baselinePath ? `<div class="key">${swatch('ol-dark')} baseline tumour</div>` : '';
  return `<div class="panel">${img(s.difference.image, 'predicted − baseline, mean of the 4 channels (red: brighter, blue: darker)', [{ d: baselinePath, cls: 'ol-dark' }])}${bar}${key}`
    + `<div class="note-small">largest change of any pixel and channel: ${s.difference.maxAbs.toPrecision(3)}</div></div>`;
}

/**
 * A square box around the tumour masks (their union), with a margin of 60 %
 * of its size and at least 32 px a side, inside the image; undefined without masks.
 *
 * @param width - image width.
 * @param height - image height.
 * @param masks - HW masks (> 0.5 is tumour); undefined entries are skipped.
 */
export function tumourBox(width: number, height: number, masks: readonly (ArrayLike<number> | undefined)[]): { x: number; y: number; size: number } | undefined {
  let x0 = Infinity, y0 = Infinity, x1 = -Infinity, y1 = -Infinity;
  for (const m of masks) {
    if (!m) continue;
    for (let i = 0; i < width * height; i++) {
      if (!((m[i] as number) > 0.5)) continue;
      const x = i % width, y = Math.floor(i / width);
      x0 = Math.min(x0, x); x1 = Math.max(x1, x); y0 = Math.min(y0, y); y1 = Math.max(y1, y);
    }
  }
  if (!Number.isFinite(x0)) return undefined;
  const side = Math.max(x1 - x0 + 1, y1 - y0 + 1);
  const size = Math.min(width, height, Math.max(32, Math.ceil(side * 1.6)));
  const clamp = (v: number, hi: number) => Math.max(0, Math.min(hi - size, v));
  return { x: clamp(Math.round((x0 + x1 + 1) / 2 - size / 2), width), y: clamp(Math.round((y0 + y1 + 1) / 2 - size / 2), height), size };
}

function crop<T extends ArrayLike<number>>(data: T, width: number, channels: number, b: { x: number; y: number; size: number }): Float32Array {
  const out = new Float32Array(b.size * b.size * channels);
  for (let y = 0; y < b.size; y++) {
    for (let x = 0; x < b.size; x++) {
      for (let c = 0; c < channels; c++) out[(y * b.size + x) * channels + c] = data[((b.y + y) * width + b.x + x) * channels + c] as number;
    }
  }
  return out;
}

/** The probability figure (and a zoom on the tumour) with its colour bar and outline legend. */
function probabilityPanel(s: ReportSlice, baselinePath: string, truthPath: string, runs?: number): string {
  const bar = colorBarSvg(SEQUENTIAL_YELLOW_RED, {
    min: 0, max: 1, ticks: [0, 0.25, 0.5, 0.75, 1], format: (v) => String(v),
    label: `growth probability${runs ? ` (fraction of ${runs} runs)` : ''}; uncoloured: 0`, width: 260,
  });
  const keys = [
    baselinePath ? `<div class="key">${swatch('ol-baseline')} baseline tumour${s.baselineMaskSource && s.baselineMaskSource !== 'label' ? ` (${esc(s.baselineMaskSource)})` : ''}</div>` : '',
    truthPath ? `<div class="key">${swatch('ol-truth')} real follow-up tumour</div>` : '',
  ].join('');
  const p = s.probability;
  const box = tumourBox(p.width, p.height, [s.baselineMask, s.truthMask]);
  let zoom = '';
  if (box) {
    const image: PngImage = { width: box.size, height: box.size, data: crop(p.data, p.width, p.channels ?? 1, box), channels: p.channels ?? 1 };
    const path = (m?: ArrayLike<number>) => (m ? maskOutlinePath(crop(m, p.width, 1, box), box.size, box.size) : '');
    zoom = img(image, `the same, around the tumour (x ${box.x}-${box.x + box.size - 1}, y ${box.y}-${box.y + box.size - 1})`,
      [{ d: path(s.baselineMask), cls: 'ol-baseline' }, { d: path(s.truthMask), cls: 'ol-truth' }]);
  }
  return `<div class="panel"><div class="pair">${img(p, 'growth probability over the baseline FLAIR', [{ d: baselinePath, cls: 'ol-baseline' }, { d: truthPath, cls: 'ol-truth' }])}${zoom}</div>`
    + `${bar}<div class="legend">${keys}</div></div>`;
}

const SCRIPT = `(() => {
  const lb = document.getElementById('lightbox');
  const inner = lb.querySelector('.lb-inner');
  const cap = lb.querySelector('.lb-cap');
  const open = (f) => { inner.replaceChildren(f.querySelector('.frame').cloneNode(true)); cap.textContent = f.querySelector('figcaption')?.textContent ?? ''; lb.hidden = false; };
  const close = () => { lb.hidden = true; inner.replaceChildren(); };
  document.querySelectorAll('figure.zoom').forEach((f) => {
    f.addEventListener('click', () => open(f));
    f.addEventListener('keydown', (e) => { if (e.key === 'Enter' || e.key === ' ') { e.preventDefault(); open(f); } });
  });
  lb.addEventListener('click', close);
  document.addEventListener('keydown', (e) => { if (e.key === 'Escape') close(); });
})();`;

/**
 * Renders the self-contained report HTML (images inlined, no external resources).
 *
 * @example
 * ```ts
 * const html = renderReport({ title: 'patient 7', summary: ['data: ...'], growth: [], slices: [reportSlice({ ... })] });
 * ```
 *
 * @param r - see {@link ReportInput}.
 */
export function renderReport(r: ReportInput): string {
  const flagged = r.slices.filter((s) => s.flags?.length);
  const sections = r.slices.map((s) => {
    const row = (imgs: PngImage[], what: string) => `<div class="row"><div class="rowlabel">${esc(what)}</div>${imgs.map((p, i) => img(p, `${what} ${MODS[i]}`)).join('')}</div>`;
    const facts = Object.entries(s.facts).map(([k, v]) => `<tr><td>${esc(k)}</td><td>${esc(v)}</td></tr>`).join('');
    const mapTable = s.scores
      ? `<table class="metrics"><thead><tr><th>map threshold</th><th>Dice</th><th>HD95 (mm)</th></tr></thead><tbody>${s.scores.map.thresholds
          .map((t) => `<tr><td>p ≥ ${t.threshold}</td><td>${fmt(t.dice)}</td><td>${fmt(t.hd95)}</td></tr>`).join('')}<tr><td>Brier score</td><td colspan="2">${fmt(s.scores.map.brier)}</td></tr></tbody></table>`
      : '';
    const { width: w, height: h } = s.probability;
    const basePath = s.baselineMask ? maskOutlinePath(s.baselineMask, w, h) : '';
    const truthPath = s.truthMask ? maskOutlinePath(s.truthMask, w, h) : '';
    const flags = s.flags?.length ? `<div class="flag" role="alert"><strong>⚠ Prediction unchanged from the baseline</strong><ul>${s.flags.map((f) => `<li>${esc(f)}</li>`).join('')}</ul></div>` : '';
    return `<section id="slice-${esc(s.id)}"${flags ? ' class="flagged"' : ''}><h2>Slice ${esc(s.id)}${flags ? ' <span class="badge">unchanged</span>' : ''}</h2>
${flags}
${row(s.baseline, 'baseline')}
${row(s.predicted, 'predicted follow-up')}
${s.truth ? row(s.truth, 'real follow-up') : ''}
<div class="row"><div class="rowlabel">change</div>${differencePanel(s, basePath)}${probabilityPanel(s, basePath, truthPath, r.mapRuns)}</div>
<div class="tables">${s.trajectorySvg ? `<figure class="traj">${s.trajectorySvg}<figcaption>tumour burden during guided decoding: the guiding network's reading per step against the target it was steered to; at the right, the result: its reading (circle), target r* (square) and the segmented tumour of the prediction (diamond)</figcaption></figure>` : ''}<table class="facts">${facts}</table>${s.scores ? scoresTable(s.scores.predicted as unknown as Record<string, number>, s.scores.baseline as unknown as Record<string, number>) : ''}${mapTable}</div>
</section>`;
  });
  const growth = r.growth.map((g) => `<figure class="growth">${g.svg}<figcaption>${esc(g.caption)}</figcaption></figure>`).join('');
  const flaggedNote = flagged.length
    ? `<p class="flag" role="alert"><strong>⚠ ${flagged.length} slice(s) with a prediction unchanged from the baseline:</strong> ${flagged.map((s) => `<a href="#slice-${esc(s.id)}">${esc(s.id)}</a>`).join(', ')}</p>`
    : '';
  return `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>${esc(r.title)}</title>
<meta name="viewport" content="width=device-width, initial-scale=1">
<style>
body{font-family:system-ui,-apple-system,Segoe UI,Roboto,sans-serif;margin:24px;color:#222;max-width:1400px}
h1{margin-bottom:4px} .summary{color:#555;margin:0 0 16px} .note{background:#fff4d6;border:1px solid #e8c26a;padding:8px 12px;border-radius:6px}
section{border-top:1px solid #ddd;padding-top:8px;margin-top:24px} section.flagged{border-left:6px solid #d62828;padding-left:12px}
.flag{background:#fde2e2;border:1px solid #d62828;color:#7a1010;padding:6px 12px;border-radius:6px} .flag ul{margin:4px 0 0 0;padding-left:20px}
.badge{background:#d62828;color:#fff;font-size:13px;padding:2px 8px;border-radius:10px;vertical-align:middle}
.row{display:flex;align-items:flex-start;gap:6px;margin:6px 0;flex-wrap:wrap} .rowlabel{width:120px;font-weight:600;padding-top:8px}
figure{margin:0} figure.zoom{cursor:zoom-in} figure.zoom:focus{outline:2px solid #4a90d9}
.frame{position:relative;display:inline-block;line-height:0} .frame img{image-rendering:pixelated;border:1px solid #ccc;width:200px;height:auto}
.outlines{position:absolute;left:1px;top:1px;width:calc(100% - 2px);height:calc(100% - 2px);pointer-events:none}
.outlines path,.swatch line{fill:none;stroke-width:1.6;vector-effect:non-scaling-stroke}
.ol-baseline{stroke:${css(OUTLINE_COLORS.baseline)}} .ol-truth{stroke:${css(OUTLINE_COLORS.truth)};stroke-dasharray:4 3} .ol-dark{stroke:#111}
.swatch line{stroke-width:2.5} .panel{display:flex;flex-direction:column;gap:2px;margin-right:18px} .panel .frame img{width:260px}
.pair{display:flex;gap:6px} .growth figcaption{max-width:720px;font-size:12px} .key{font-size:12px;color:#333;display:flex;align-items:center;gap:6px} .legend{display:flex;flex-direction:column;gap:2px} .note-small{font-size:11px;color:#666}
figcaption{font-size:11px;color:#666;max-width:260px;line-height:1.3}
.growth svg{max-width:100%;height:auto} .tables{display:flex;gap:24px;flex-wrap:wrap;margin-top:8px}
table{border-collapse:collapse;font-size:13px} td,th{border:1px solid #ddd;padding:3px 8px;text-align:right} td:first-child,th:first-child{text-align:left}
td.better{background:#e3f6e3;font-weight:600} table.metrics{margin-bottom:10px}
#lightbox{position:fixed;inset:0;background:rgba(0,0,0,.88);display:flex;flex-direction:column;align-items:center;justify-content:center;z-index:10;cursor:zoom-out}
#lightbox[hidden]{display:none} #lightbox .frame img{width:min(90vw,82vh);border:0} .lb-cap{color:#eee;font-size:14px;margin-top:8px}
</style></head><body>
<h1>${esc(r.title)}</h1>
<ul class="summary">${r.summary.map((l) => `<li>${esc(l)}</li>`).join('')}</ul>
${r.note ? `<p class="note">${esc(r.note)}</p>` : ''}
${flaggedNote}
${r.means ? `<h2>Summary over ${r.means.slices} slice(s)</h2>${scoresTable(r.means.predicted, r.means.baseline)}${mapSummary(r.slices)}<p class="summary">Green: the prediction is closer to the real follow-up than the unchanged baseline is.</p>` : ''}
${growth ? `<h2>Tumour growth model</h2>${growth}` : ''}
${sections.join('\n')}
<p class="summary">Click any image to enlarge it (Esc or a click closes it).</p>
<footer><p class="summary">Generated by tumorcast-predict (TensorFlow.js). Method: Laslo et al., MICCAI 2025 LMID workshop, arXiv 2509.09610.</p></footer>
<div id="lightbox" hidden><div class="lb-inner"></div><p class="lb-cap"></p></div>
<script>${SCRIPT}</script>
</body></html>
`;
}
