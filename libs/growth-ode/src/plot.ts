/**
 * A self-contained SVG plot of a growth fit or bootstrap. Not built on
 * `@tumorcast/cli`'s `lineChartSvg`: that is a plain multi-line chart (loss
 * curves), while this figure has a band, the radiotherapy window, markers,
 * labelled points and a legend box, and its own tick rule; drawing it there
 * would change every growth figure for no gain.
 */
import type { BootstrapResult, FitResult } from './fit.js';

/** A labelled vertical line (e.g. baseline or follow-up date). */
export interface PlotMarker {
  /** Day of the line. */
  readonly day: number;
  /** Label drawn at the top. */
  readonly label: string;
}

/** A labelled point on the plot (e.g. the predicted or the real follow-up size), listed in the legend. */
export interface PlotPoint {
  /** Day. */
  readonly day: number;
  /** Size, in the data's unit (before `yScale`). */
  readonly size: number;
  /** Legend label. */
  readonly label: string;
  /**
   * Marker shape.
   * @defaultValue 'diamond'
   */
  readonly shape?: 'diamond' | 'square' | 'triangle' | 'circle';
  /**
   * Fill colour.
   * @defaultValue '#e76f51'
   */
  readonly color?: string;
}

/** Options of {@link plotGrowth}. */
export interface PlotGrowthOptions {
  /**
   * Width in pixels.
   * @defaultValue 720
   */
  width?: number;
  /**
   * Height in pixels.
   * @defaultValue 420
   */
  height?: number;
  /**
   * Title; the series id and model name when omitted.
   * @defaultValue `${seriesId} — ${model}`
   */
  title?: string;
  /**
   * X axis label.
   * @defaultValue 'day'
   */
  xLabel?: string;
  /**
   * Y axis label.
   * @defaultValue 'tumour size'
   */
  yLabel?: string;
  /**
   * Extend the time axis (and a fit's curve) to this day.
   * @defaultValue the last day of the data or trajectory
   */
  until?: number;
  /**
   * Vertical marker lines.
   * @defaultValue []
   */
  markers?: readonly PlotMarker[];
  /**
   * Shade the radiotherapy window `[rtStart, rtStart + courseDays]`.
   * @defaultValue true
   */
  showRt?: boolean;
  /**
   * Labelled points drawn over the curve, with their value beside them and a legend entry.
   * @defaultValue []
   */
  points?: readonly PlotPoint[];
  /**
   * Factor applied to every size drawn (data, curve, band, points), e.g.
   * `1 / firstSize` to plot sizes relative to the first scan (say so in `yLabel`).
   * @defaultValue 1
   */
  yScale?: number;
}

function esc(s: string): string {
  return s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/"/g, '&quot;');
}

function niceTicks(lo: number, hi: number, target = 6): number[] {
  const span = hi - lo || 1;
  const raw = span / target;
  const mag = 10 ** Math.floor(Math.log10(raw));
  const step = [1, 2, 2.5, 5, 10].map((m) => m * mag).find((s) => span / s <= target + 1) ?? 10 * mag;
  const out: number[] = [];
  for (let v = Math.ceil(lo / step) * step; v <= hi + step * 1e-9; v += step) out.push(Math.abs(v) < step * 1e-9 ? 0 : v);
  return out;
}

function fmt(v: number): string {
  if (v === 0) return '0';
  const a = Math.abs(v);
  if (a >= 1e5 || a < 1e-3) return v.toExponential(1);
  return String(Number(v.toPrecision(4)));
}

/**
 * Renders a fit or a bootstrap as a standalone SVG document: data points
 * (filled), held-out points (hollow, red), the fitted curve or bootstrap median,
 * the bootstrap percentile band, the radiotherapy window, optional markers, axes
 * and a legend.
 *
 * @param result - a {@link fitGrowth} or {@link bootstrapGrowth} result
 * @param options - size, labels, time range, markers
 * @returns the SVG text
 */
export function plotGrowth(result: FitResult | BootstrapResult, options: PlotGrowthOptions = {}): string {
  const caller = 'plotGrowth';
  if (result === null || typeof result !== 'object' || !('model' in result)) {
    throw new TypeError(`'result' passed to '${caller}' must be a result of fitGrowth or bootstrapGrowth`);
  }
  const width = options.width ?? 720;
  const height = options.height ?? 420;
  if (!(width >= 200) || !(height >= 150)) throw new RangeError(`'options.width'/'options.height' passed to '${caller}' must be at least 200 x 150, got ${width} x ${height}`);
  const isBoot = Array.isArray((result as BootstrapResult).fits);
  const boot = isBoot ? (result as BootstrapResult) : undefined;
  const fit = isBoot ? undefined : (result as FitResult);
  const times = boot ? boot.seriesTimes : fit!.times;
  const sizes = boot ? boot.seriesSizes : fit!.sizes;
  const nFit = result.nFit;
  const ctx = result.context;
  const t0 = ctx.t0 ?? times[0]!; // a fit's series has at least one time
  const markers = options.markers ?? [];
  markers.forEach((m, i) => {
    if (!Number.isFinite(m?.day)) throw new RangeError(`'options.markers' passed to '${caller}' must hold finite days, bad entry ${i}`);
  });
  const points = options.points ?? [];
  points.forEach((pt, i) => {
    if (!Number.isFinite(pt?.day) || !Number.isFinite(pt?.size)) throw new RangeError(`'options.points' passed to '${caller}' must hold finite days and sizes, bad entry ${i}`);
  });
  const yScale = options.yScale ?? 1;
  if (!(yScale > 0) || !Number.isFinite(yScale)) throw new RangeError(`'options.yScale' passed to '${caller}' must be a positive finite number, got ${options.yScale}`);
  const until = options.until;
  if (until !== undefined && !(until > t0)) throw new RangeError(`'options.until' passed to '${caller}' must be a day after t0 (${t0}), got ${until}`);
  let tEnd = Math.max(times[times.length - 1]!, boot ? boot.times[boot.times.length - 1]! : -Infinity, until ?? -Infinity, ...markers.map((m) => m.day), ...points.map((q) => q.day));
  const rtStart = ctx.rtStart;
  const rtEnd = rtStart !== undefined ? rtStart + (ctx.courseDays ?? 42) : undefined;
  const showRt = (options.showRt ?? true) && rtStart !== undefined;
  if (showRt) tEnd = Math.max(tEnd, rtEnd!);
  let tStart = Math.min(t0, times[0]!, ...markers.map((m) => m.day), ...points.map((q) => q.day));
  const pad = (tEnd - tStart || 1) * 0.02;
  const tCurveEnd = tEnd;
  tStart -= pad;
  tEnd += pad;

  // Curves.
  let curveT: number[] = [];
  let curveY: number[] = [];
  let bandLo: number[] = [];
  let bandHi: number[] = [];
  if (boot && boot.ok) {
    curveT = boot.times;
    curveY = boot.median;
    bandLo = boot.lower;
    bandHi = boot.upper;
  } else if (fit && fit.ok) {
    curveT = Array.from({ length: 241 }, (_, i) => t0 + ((tCurveEnd - t0) * i) / 240);
    curveY = fit.predict(curveT);
  }
  if (yScale !== 1) {
    const sc = (a: readonly number[]): number[] => a.map((v) => v * yScale);
    [curveY, bandLo, bandHi] = [sc(curveY), sc(bandLo), sc(bandHi)];
  }
  const ySizes = sizes.map((v) => v * yScale);
  const finite = (a: number[]): number[] => a.filter((v) => Number.isFinite(v));
  const yMax = Math.max(...finite(ySizes), ...finite(curveY), ...finite(bandHi), ...points.map((q) => q.size * yScale), 1e-12) * 1.08;
  const yMin = 0;

  const legendW = 170;
  const m = { l: 72, r: legendW + 24, t: 40, b: 52 };
  const pw = width - m.l - m.r;
  const ph = height - m.t - m.b;
  const xs = (t: number): number => m.l + ((t - tStart) / (tEnd - tStart || 1)) * pw;
  const ys = (v: number): number => m.t + ph - ((Math.min(v, yMax) - yMin) / (yMax - yMin)) * ph;
  const p = (x: number): string => x.toFixed(2);
  const parts: string[] = [];
  parts.push(`<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${height}" viewBox="0 0 ${width} ${height}" font-family="Helvetica, Arial, sans-serif" font-size="12">`);
  parts.push(`<rect x="0" y="0" width="${width}" height="${height}" fill="#ffffff"/>`);
  const title = options.title ?? `${result.seriesId ?? 'series'} — ${result.model.name}${isBoot ? ` (bootstrap, ${boot!.fits.length} fits)` : ''}`;
  parts.push(`<text x="${width / 2}" y="22" text-anchor="middle" font-size="15" font-weight="bold">${esc(title)}</text>`);
  parts.push(`<clipPath id="plot-area"><rect x="${m.l}" y="${m.t}" width="${pw}" height="${ph}"/></clipPath>`);
  if (showRt) {
    const x1 = xs(rtStart!);
    const x2 = xs(rtEnd!);
    parts.push(`<rect x="${p(x1)}" y="${m.t}" width="${p(x2 - x1)}" height="${ph}" fill="#f4a261" fill-opacity="0.18"/>`);
    parts.push(`<text x="${p((x1 + x2) / 2)}" y="${m.t + 14}" text-anchor="middle" fill="#b5651d">RT</text>`);
  }
  // Grid and axes.
  for (const v of niceTicks(yMin, yMax)) {
    const y = ys(v);
    parts.push(`<line x1="${m.l}" x2="${m.l + pw}" y1="${p(y)}" y2="${p(y)}" stroke="#e5e5e5"/>`);
    parts.push(`<text x="${m.l - 6}" y="${p(y + 4)}" text-anchor="end" fill="#333">${fmt(v)}</text>`);
  }
  for (const v of niceTicks(tStart, tEnd)) {
    const x = xs(v);
    parts.push(`<line x1="${p(x)}" x2="${p(x)}" y1="${m.t + ph}" y2="${m.t + ph + 5}" stroke="#333"/>`);
    parts.push(`<text x="${p(x)}" y="${m.t + ph + 18}" text-anchor="middle" fill="#333">${fmt(v)}</text>`);
  }
  parts.push(`<rect x="${m.l}" y="${m.t}" width="${pw}" height="${ph}" fill="none" stroke="#333"/>`);
  parts.push(`<text x="${m.l + pw / 2}" y="${height - 12}" text-anchor="middle">${esc(options.xLabel ?? 'day')}</text>`);
  parts.push(`<text transform="translate(16 ${m.t + ph / 2}) rotate(-90)" text-anchor="middle">${esc(options.yLabel ?? 'tumour size')}</text>`);
  parts.push(`<g clip-path="url(#plot-area)">`);
  if (bandLo.length > 0) {
    const pts = [...curveT.map((t, i) => `${p(xs(t))},${p(ys(bandHi[i]!))}`), ...curveT.map((t, i) => `${p(xs(t))},${p(ys(bandLo[i]!))}`).reverse()];
    parts.push(`<polygon points="${pts.join(' ')}" fill="#4a90d9" fill-opacity="0.22" stroke="none"/>`);
  }
  if (curveT.length > 0) {
    const pts = curveT.map((t, i) => (Number.isFinite(curveY[i]) ? `${p(xs(t))},${p(ys(curveY[i]!))}` : '')).filter((s) => s !== '');
    parts.push(`<polyline points="${pts.join(' ')}" fill="none" stroke="#1f4e99" stroke-width="2"/>`);
  }
  parts.push(`</g>`);
  markers.forEach((mk, i) => {
    const x = xs(mk.day);
    const right = x > m.l + pw * 0.8;
    parts.push(`<line x1="${p(x)}" x2="${p(x)}" y1="${m.t}" y2="${m.t + ph}" stroke="#555" stroke-dasharray="5,4"/>`);
    parts.push(`<text x="${p(right ? x - 4 : x + 4)}" y="${m.t + 30 + 14 * (i % 2)}" text-anchor="${right ? 'end' : 'start'}" fill="#555">${esc(mk.label)}</text>`);
  });
  times.forEach((t, i) => {
    const held = i >= nFit;
    parts.push(
      held
        ? `<circle cx="${p(xs(t))}" cy="${p(ys(ySizes[i]!))}" r="5" fill="#ffffff" stroke="#d62828" stroke-width="2"/>`
        : `<circle cx="${p(xs(t))}" cy="${p(ys(ySizes[i]!))}" r="4.5" fill="#111111"/>`,
    );
  });
  const symbol = (shape: PlotPoint['shape'], color: string, x: number, y: number): string => {
    const r = 6;
    if (shape === 'square') return `<rect x="${p(x - r * 0.8)}" y="${p(y - r * 0.8)}" width="${p(1.6 * r)}" height="${p(1.6 * r)}" fill="${color}" stroke="#111" stroke-width="1"/>`;
    if (shape === 'circle') return `<circle cx="${p(x)}" cy="${p(y)}" r="${r * 0.85}" fill="${color}" stroke="#111" stroke-width="1"/>`;
    const pts: [number, number][] = shape === 'triangle' ? [[0, -r], [r, r * 0.8], [-r, r * 0.8]] : [[0, -r * 1.2], [r, 0], [0, r * 1.2], [-r, 0]];
    return `<polygon points="${pts.map(([dx, dy]) => `${p(x + dx)},${p(y + dy)}`).join(' ')}" fill="${color}" stroke="#111" stroke-width="1"/>`;
  };
  // Value labels beside the points, pushed apart (13 px) where points share a day and nearly a size.
  const labelY = points.map((pt) => ys(pt.size * yScale) + 4);
  const order = points.map((_, i) => i).sort((a, b) => labelY[a]! - labelY[b]!);
  for (let k = 1; k < order.length; k++) {
    const prev = order[k - 1]!;
    const cur = order[k]!;
    if (Math.abs(xs(points[cur]!.day) - xs(points[prev]!.day)) < 40 && labelY[cur]! - labelY[prev]! < 13) labelY[cur] = labelY[prev]! + 13;
  }
  points.forEach((pt, i) => {
    const x = xs(pt.day);
    const y = ys(pt.size * yScale);
    const right = x > m.l + pw * 0.85;
    parts.push(`<g class="plot-point">${symbol(pt.shape, pt.color ?? '#e76f51', x, y)}<text x="${p(right ? x - 10 : x + 10)}" y="${p(labelY[i]!)}" text-anchor="${right ? 'end' : 'start'}" fill="#111">${esc(fmt(pt.size * yScale))}</text></g>`);
  });
  // Legend.
  const legend: [string, string][] = [['data (fitted)', `<circle cx="8" cy="0" r="4.5" fill="#111"/>`]];
  if (nFit < times.length) legend.push(['held out', `<circle cx="8" cy="0" r="5" fill="#fff" stroke="#d62828" stroke-width="2"/>`]);
  if (curveT.length > 0) legend.push([isBoot ? 'bootstrap median' : 'fit', `<line x1="0" x2="16" y1="0" y2="0" stroke="#1f4e99" stroke-width="2"/>`]);
  if (bandLo.length > 0) legend.push([`${boot!.percentiles[0]}–${boot!.percentiles[1]} % band`, `<rect x="0" y="-6" width="16" height="12" fill="#4a90d9" fill-opacity="0.22"/>`]);
  if (showRt) legend.push(['radiotherapy', `<rect x="0" y="-6" width="16" height="12" fill="#f4a261" fill-opacity="0.35"/>`]);
  points.forEach((pt) => legend.push([pt.label, symbol(pt.shape, pt.color ?? '#e76f51', 8, 0)]));
  if (!result.ok) {
    parts.push(`<text x="${m.l + pw / 2}" y="${m.t + ph / 2}" text-anchor="middle" fill="#d62828">${esc(`fit failed: ${result.reason ?? ''}`)}</text>`);
  }
  const lw = legendW;
  const lx = m.l + pw + 18;
  const ly = m.t + 4;
  parts.push(`<g transform="translate(${lx} ${ly})"><rect x="-6" y="-2" width="${lw}" height="${legend.length * 18 + 6}" fill="#ffffff" fill-opacity="0.85" stroke="#ccc"/>`);
  legend.forEach(([label, sym], i) => {
    parts.push(`<g transform="translate(0 ${12 + i * 18})">${sym}<text x="24" y="4">${esc(label)}</text></g>`);
  });
  parts.push(`</g>`);
  parts.push(`</svg>`);
  return parts.join('\n') + '\n';
}
