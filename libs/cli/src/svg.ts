/**
 * Minimal SVG line charts (loss curves), self-contained and dependency-free.
 */

/** One line of a {@link lineChartSvg}. */
export interface ChartSeries {
  /** Legend label. */
  label: string;
  /** x values. */
  x: readonly number[];
  /** y values (same length as x; non-finite points are skipped). */
  y: readonly number[];
  /** Stroke colour. @defaultValue a palette colour */
  color?: string;
}

/** Options of {@link lineChartSvg}. */
export interface LineChartOptions {
  /** Chart title. @defaultValue '' */
  title?: string;
  /** x-axis label. @defaultValue '' */
  xLabel?: string;
  /** y-axis label. @defaultValue '' */
  yLabel?: string;
  /** Logarithmic y axis (non-positive values skipped). @defaultValue false */
  logY?: boolean;
  /** Width in px. @defaultValue 640 */
  width?: number;
  /** Height in px. @defaultValue 360 */
  height?: number;
}

const PALETTE = ['#1f77b4', '#d62728', '#2ca02c', '#ff7f0e', '#9467bd', '#8c564b'];
const esc = (s: string) => s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;');

function niceTicks(lo: number, hi: number, n = 5): number[] {
  if (!(hi > lo)) return [lo];
  const step0 = (hi - lo) / n;
  const mag = 10 ** Math.floor(Math.log10(step0));
  const step = [1, 2, 5, 10].map((m) => m * mag).find((s) => s >= step0) ?? step0;
  const ticks: number[] = [];
  for (let t = Math.ceil(lo / step) * step; t <= hi + 1e-12 * Math.abs(hi); t += step) ticks.push(+t.toPrecision(12));
  return ticks;
}

/** Renders series as an SVG line chart (string). */
export function lineChartSvg(series: readonly ChartSeries[], options: LineChartOptions = {}): string {
  const W = options.width ?? 640;
  const H = options.height ?? 360;
  const m = { l: 64, r: 16, t: options.title ? 32 : 12, b: 44 };
  const tf = (v: number) => (options.logY ? Math.log10(v) : v);
  const pts = series.map((s) => {
    if (s.x.length !== s.y.length) throw new RangeError(`series '${s.label}' passed to 'lineChartSvg' has ${s.x.length} x and ${s.y.length} y values`);
    return s.x.map((x, i) => [x, s.y[i]!] as const).filter(([x, y]) => Number.isFinite(x) && Number.isFinite(y) && (!options.logY || y > 0));
  });
  const all = pts.flat();
  const xs = all.map((p) => p[0]);
  const ys = all.map((p) => tf(p[1]));
  let [x0, x1] = xs.length ? [Math.min(...xs), Math.max(...xs)] : [0, 1];
  let [y0, y1] = ys.length ? [Math.min(...ys), Math.max(...ys)] : [0, 1];
  if (x1 === x0) { x0 -= 0.5; x1 += 0.5; }
  if (y1 === y0) { y0 -= 0.5; y1 += 0.5; }
  const pad = (y1 - y0) * 0.05;
  y0 -= pad; y1 += pad;
  const sx = (x: number) => m.l + ((x - x0) / (x1 - x0)) * (W - m.l - m.r);
  const sy = (y: number) => H - m.b - ((y - y0) / (y1 - y0)) * (H - m.t - m.b);
  const parts: string[] = [];
  parts.push(`<svg xmlns="http://www.w3.org/2000/svg" width="${W}" height="${H}" viewBox="0 0 ${W} ${H}" font-family="sans-serif" font-size="11">`);
  parts.push(`<rect width="${W}" height="${H}" fill="white"/>`);
  if (options.title) parts.push(`<text x="${W / 2}" y="20" text-anchor="middle" font-size="14">${esc(options.title)}</text>`);
  for (const t of niceTicks(x0, x1)) {
    parts.push(`<line x1="${sx(t)}" x2="${sx(t)}" y1="${m.t}" y2="${H - m.b}" stroke="#eee"/><text x="${sx(t)}" y="${H - m.b + 14}" text-anchor="middle">${t}</text>`);
  }
  for (const t of niceTicks(y0, y1)) {
    const label = options.logY ? (10 ** t).toPrecision(2) : String(+t.toPrecision(4));
    parts.push(`<line x1="${m.l}" x2="${W - m.r}" y1="${sy(t)}" y2="${sy(t)}" stroke="#eee"/><text x="${m.l - 6}" y="${sy(t) + 4}" text-anchor="end">${label}</text>`);
  }
  parts.push(`<rect x="${m.l}" y="${m.t}" width="${W - m.l - m.r}" height="${H - m.t - m.b}" fill="none" stroke="#999"/>`);
  if (options.xLabel) parts.push(`<text x="${(m.l + W - m.r) / 2}" y="${H - 8}" text-anchor="middle">${esc(options.xLabel)}</text>`);
  if (options.yLabel) parts.push(`<text transform="translate(14 ${(m.t + H - m.b) / 2}) rotate(-90)" text-anchor="middle">${esc(options.yLabel)}${options.logY ? ' (log)' : ''}</text>`);
  series.forEach((s, k) => {
    const color = s.color ?? PALETTE[k % PALETTE.length];
    const p = pts[k]!;
    if (p.length) parts.push(`<polyline fill="none" stroke="${color}" stroke-width="1.5" points="${p.map(([x, y]) => `${sx(x).toFixed(1)},${sy(tf(y)).toFixed(1)}`).join(' ')}"/>`);
    parts.push(`<text x="${W - m.r - 6}" y="${m.t + 14 + 14 * k}" text-anchor="end" fill="${color}">${esc(s.label)}</text>`);
  });
  parts.push('</svg>');
  return parts.join('\n');
}
