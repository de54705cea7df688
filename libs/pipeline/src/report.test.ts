import { afterAll, describe, expect, it } from '@jest/globals';
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { simulate, twoPhaseRtModel } from '@tumorcast/growth-ode';
import type { SliceScores } from './evaluate.js';
import { fitGrowthSeries } from './growth.js';
import { OUTLINE_COLORS, differenceView, probabilityOverlay } from './outputs.js';
import { growthFigure, renderReport, reportSlice, sliceFlags, tumourBox } from './report.js';
import type { ReportSliceInput } from './report.js';

const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'tc-report-'));
afterAll(() => fs.rmSync(tmp, { recursive: true, force: true }));

const W = 16, H = 12;
/** HWC image, every channel `v` inside the head (x 1..14), 0 outside. */
function scan(v: number): Float32Array {
  const a = new Float32Array(W * H * 4);
  for (let p = 0; p < W * H; p++) if (p % W >= 1 && p % W <= 14) a.fill(v, 4 * p, 4 * p + 4);
  return a;
}
function box(x0: number, x1: number, y0: number, y1: number): Uint8Array {
  return Uint8Array.from({ length: W * H }, (_, p) => (p % W >= x0 && p % W <= x1 && Math.floor(p / W) >= y0 && Math.floor(p / W) <= y1 ? 1 : 0));
}
/** RGB (0..255, rounded) of pixel (x, y) of an RGB image. */
function rgb(data: ArrayLike<number>, x: number, y: number, width = W): number[] {
  return [0, 1, 2].map((k) => Math.round((data[3 * (y * width + x) + k] as number) * 255));
}

// Prediction: +0.1 (all channels) in x 4..6, y 4..6 (growth), -0.04 at (10, 8), unchanged elsewhere.
const baseline = scan(0.5);
const predicted = scan(0.5);
for (let y = 4; y <= 6; y++) for (let x = 4; x <= 6; x++) predicted.fill(0.6, 4 * (y * W + x), 4 * (y * W + x) + 4);
predicted.fill(0.46, 4 * (8 * W + 10), 4 * (8 * W + 10) + 4);
const probability = new Float32Array(W * H);
for (let y = 3; y <= 7; y++) for (let x = 3; x <= 7; x++) probability[y * W + x] = x === 5 && y === 5 ? 1 : 0.25;
const baselineMask = box(4, 6, 4, 6);
const truthLabel = box(3, 7, 4, 6);

function input(over: Partial<ReportSliceInput> = {}): ReportSliceInput {
  return {
    id: 'p1_80', width: W, height: H, baseline, predicted, probability, baselineMask,
    truth: { image: predicted, label: truthLabel },
    burdens: { baseline: 0.02, target: 0.03, predicted: 0.029 },
    facts: { 'relative change d': '0.5' },
    ...over,
  };
}

describe('differenceView (signed, diverging)', () => {
  it('is red where the prediction is brighter, blue where darker, neutral where unchanged, on a nice symmetric scale', () => {
    const d = differenceView(predicted, baseline, W, H);
    expect(d.maxAbs).toBeCloseTo(0.1, 6);
    expect(d.limit).toBe(0.1); // niceCeil(0.1)
    expect(d.values[5 * W + 5]).toBeCloseTo(0.1, 6);
    // +limit is the map's dark-red end, 0 its neutral #f7f7f7; -0.04 of 0.1 is t = 0.3: between anchors 3 (146,197,222) and 4 (209,229,240).
    expect(rgb(d.image.data, 5, 5)).toEqual([103, 0, 31]);
    expect(rgb(d.image.data, 1, 1)).toEqual([247, 247, 247]);
    expect(rgb(d.image.data, 10, 8)).toEqual([146, 197, 222]);
    expect(() => differenceView(predicted, new Float32Array(3), W, H)).toThrow(/'b' passed to 'differenceView' has 3 values, expected 16x12x4/);
  });

  it('gives an unchanged prediction a small default scale, not a division by zero', () => {
    const d = differenceView(baseline, baseline, W, H);
    expect([d.maxAbs, d.limit]).toEqual([0, 0.01]);
    expect(rgb(d.image.data, 5, 5)).toEqual([247, 247, 247]);
  });
});

describe('probabilityOverlay', () => {
  it('grades the probability (p = 1 darkest red, p = 0.25 orange, p = 0 the gray scan) and outlines masks', () => {
    const o = probabilityOverlay(baseline, probability, W, H);
    const gray = 0.5 * 255;
    expect(rgb(o.data, 0, 0)).toEqual([0, 0, 0]); // outside the head, p = 0
    expect(rgb(o.data, 1, 1)).toEqual([128, 128, 128]);
    // alpha 0.85 over gray 0.5: p = 1 -> (128, 0, 38), p = 0.25 -> anchor 1.5 of 7: (253.5, 159.5, 68).
    rgb(o.data, 5, 5).forEach((v, k) => expect(Math.abs(v - (0.15 * gray + 0.85 * [128, 0, 38][k]!))).toBeLessThanOrEqual(0.51));
    rgb(o.data, 3, 3).forEach((v, k) => expect(Math.abs(v - (0.15 * gray + 0.85 * [253.5, 159.5, 68][k]!))).toBeLessThanOrEqual(0.51));
    const withOutline = probabilityOverlay(baseline, probability, W, H, [{ mask: baselineMask, color: OUTLINE_COLORS.baseline }]);
    expect(rgb(withOutline.data, 4, 4)).toEqual([...OUTLINE_COLORS.baseline]); // a corner of the mask
    expect(rgb(withOutline.data, 5, 5)).toEqual(rgb(o.data, 5, 5)); // its inside is not painted
  });
});

describe('sliceFlags', () => {
  const scores = (same: boolean): SliceScores => {
    const s = { mse: 1, psnr: 2, ssim: 0.9, mseBrain: 1, dice: 0.7, hd95: 4, areaError: 0.3 };
    return { id: 'x', predicted: same ? { ...s } : { ...s, dice: 0.8 }, baseline: s, map: { brier: 0, thresholds: [] } };
  };

  it('flags no visible change, a segmented tumour identical to the baseline\'s, and a regressor burden that did not move', () => {
    expect(sliceFlags(0.2, scores(false), { baseline: 0.02, target: 0.03, predicted: 0.029 })).toEqual([]);
    expect(sliceFlags(0.5 / 255)[0]).toMatch(/equals the baseline: no pixel changed by one grey level \(largest change 1\.96e-3\)/);
    expect(sliceFlags(0.2, scores(true))[0]).toMatch(/segmented follow-up tumour equals the baseline tumour/);
    expect(sliceFlags(0.2, undefined, { baseline: 0.02, target: 0.03, predicted: 0.0205 })[0]).toMatch(/regressor sees \(almost\) no change of tumour burden: 0\.0200 -> 0\.0205, target 0\.0300/);
    // No change asked for: nothing to flag.
    expect(sliceFlags(0.2, undefined, { baseline: 0.02, target: 0.02, predicted: 0.02 })).toEqual([]);
  });
});

describe('tumourBox', () => {
  it('is a square around the masks with a margin, at least 32 px, inside the image', () => {
    const w = 100, h = 80;
    const m = Uint8Array.from({ length: w * h }, (_, p) => (p % w >= 40 && p % w <= 59 && Math.floor(p / w) >= 30 && Math.floor(p / w) <= 39 ? 1 : 0));
    // 20 x 10 px -> side 20 * 1.6 = 32, centred on (50, 35).
    expect(tumourBox(w, h, [m])).toEqual({ x: 34, y: 19, size: 32 });
    const corner = Uint8Array.from({ length: w * h }, (_, p) => (p === 0 ? 1 : 0));
    expect(tumourBox(w, h, [undefined, corner])).toEqual({ x: 0, y: 0, size: 32 });
    expect(tumourBox(w, h, [new Uint8Array(w * h)])).toBeUndefined();
  });
});

/** A fitted series for the growth plot: the two-phase model sampled at ten scans, RT to day 63. */
function series() {
  const days = [0, 14, 21, 35, 49, 63, 90, 120, 150];
  const sizes = simulate(twoPhaseRtModel, { lambdaGr: 0.012, lambdaDecay: 0.03, delay: 25, slope: 0.3, survival: 0.1, v0: 1000 }, days, { t0: 0, rtEnd: 63 });
  return fitGrowthSeries([{ id: 'p1/80', patientId: 'p1', sliceId: '80', times: days, sizes, context: { rtEnd: 63 } } as never], { followupDay: 210, replicates: 4 })[0]!;
}

describe('growthFigure', () => {
  const g = series();

  it('labels sizes with the data\'s unit and marks the predicted and the real follow-up size', () => {
    const f = growthFigure(g, { sizeUnit: 'mm²', trueFollowupSize: 1234 });
    expect(f.svg).toContain('>tumour size (mm²)</text>');
    const points = [...f.svg.matchAll(/<g class="plot-point">.*?<text[^>]*>([^<]*)<\/text><\/g>/g)].map((m) => m[1]);
    expect(points).toEqual([String(Number(g.sizeFollowup.toPrecision(4))), '1234']);
    expect(f.svg).toContain('>predicted follow-up</text>');
    expect(f.svg).toContain('>real follow-up</text>');
    expect(f.caption).toContain(`predicted size at day 210: ${g.sizeFollowup.toFixed(0)} mm²; real 1234 mm²`);
  });

  it('without a unit, plots sizes relative to the first scan and says so', () => {
    const f = growthFigure(g);
    expect(f.svg).toContain('>tumour size relative to the first scan</text>');
    const first = g.result.seriesSizes[0]!;
    expect(f.svg).toContain(`>${Number((g.sizeFollowup / first).toPrecision(4))}</text>`);
    expect(f.svg).not.toContain('>real follow-up</text>');
  });
});

describe('renderReport', () => {
  const g = series();
  const html = renderReport({
    title: 'test <report>', summary: ['line'], growth: [growthFigure(g, { sizeUnit: 'mm²', trueFollowupSize: 1234 })],
    slices: [reportSlice(input()), reportSlice(input({ id: 'p1_84', predicted: baseline, truth: undefined, burdens: undefined }))], mapRuns: 8,
  });
  const section = (id: string) => html.slice(html.indexOf(`<section id="slice-${id}"`), html.indexOf('</section>', html.indexOf(`<section id="slice-${id}"`)));

  it('has a labelled diverging colour bar for the difference and a 0..1 bar for the probability', () => {
    const s = section('p1_80');
    const bars = [...s.matchAll(/<svg class="colorbar"[\s\S]*?<\/svg>/g)].map((m) => m[0]);
    expect(bars).toHaveLength(2);
    const ticks = (b: string) => [...b.matchAll(/<text class="tick"[^>]*>([^<]*)<\/text>/g)].map((m) => m[1]);
    expect(ticks(bars[0]!)).toEqual(['-0.1', '-0.05', '0', '+0.05', '+0.1']);
    expect(bars[0]).toContain('predicted − baseline (intensity, 1 = full range)');
    expect(ticks(bars[1]!)).toEqual(['0', '0.25', '0.5', '0.75', '1']);
    expect(bars[1]).toContain('growth probability (fraction of 8 runs)');
  });

  it('outlines the baseline and real follow-up tumours over the map, with a legend', () => {
    const s = section('p1_80');
    expect(s).toMatch(/<path class="ol-baseline" d="M4 4H7/);
    expect(s).toMatch(/<path class="ol-truth" d="M3 4H8/);
    expect(s).toContain('baseline tumour</div>');
    expect(s).toContain('real follow-up tumour</div>');
    expect(html).toContain(`.ol-baseline{stroke:rgb(${OUTLINE_COLORS.baseline.join(',')})}`);
    // The zoom on the tumour is the probability image's crop.
    expect(s).toContain('the same, around the tumour');
  });

  it('marks the predicted and real follow-up sizes in the growth plot', () => {
    expect(html).toContain('>predicted follow-up</text>');
    expect(html).toContain('>real follow-up</text>');
    expect(html).toContain('tumour size (mm²)');
  });

  it('flags a slice whose prediction equals the baseline, in its section and at the top', () => {
    expect(section('p1_80')).not.toContain('class="flag"');
    const s = section('p1_84');
    expect(s).toMatch(/^<section id="slice-p1_84" class="flagged">/);
    expect(s).toContain('⚠ Prediction unchanged from the baseline');
    expect(html).toContain('1 slice(s) with a prediction unchanged from the baseline:</strong> <a href="#slice-p1_84">p1_84</a>');
  });

  it('is self-contained, escapes text, and every image is clickable', () => {
    expect(html).not.toMatch(/(src|href)="(?!data:|#)/);
    expect(html).toContain('<title>test &lt;report&gt;</title>');
    const figures = (html.match(/<figure class="zoom"/g) ?? []).length;
    const images = (html.match(/<img /g) ?? []).length;
    expect(figures).toBe(images);
    expect(images).toBe(4 * 3 + 3 + 4 * 2 + 3); // per slice: its rows of 4 channels, difference, map, zoom on the tumour
    expect(html).toContain('<div id="lightbox" hidden>');
  });

  it('enlarges an image on a click and closes on Escape, in headless Chromium', () => {
    const chromium = ['/usr/bin/chromium', '/usr/bin/chromium-browser'].find((c) => fs.existsSync(c));
    if (!chromium) throw new Error('chromium is needed for the report test (apt-get install chromium; .ci/run installs it)');
    const probe = path.join(tmp, 'probe.html');
    // Click the first map figure; record the lightbox's state and the enlarged image and outline sizes; then Escape.
    fs.writeFileSync(probe, html.replace('</body>', `<script>addEventListener('load',()=>{
      const f=[...document.querySelectorAll('figure.zoom')].find(x=>x.querySelector('.ol-truth'));
      const small=f.querySelector('img').getBoundingClientRect().width;
      f.click();
      const lb=document.getElementById('lightbox');
      const im=lb.querySelector('img').getBoundingClientRect(), ol=lb.querySelector('svg.outlines').getBoundingClientRect();
      const open=!lb.hidden&&getComputedStyle(lb).display!=='none';
      document.dispatchEvent(new KeyboardEvent('keydown',{key:'Escape'}));
      document.title='LB:'+open+':'+(im.width>2*small)+':'+(Math.abs(ol.width-im.width)<=2&&Math.abs(ol.height-im.height)<=2)+':'+lb.hidden;
    })</script></body>`));
    const dom = execFileSync(chromium, ['--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking', '--disable-component-update',
      '--disable-sync', '--no-first-run', `--user-data-dir=${path.join(tmp, 'chromium')}`, '--window-size=1200,900', '--virtual-time-budget=5000', '--dump-dom', `file://${probe}`],
    { encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'], timeout: 60000 });
    expect(/<title>([^<]*)<\/title>/.exec(dom)?.[1]).toBe('LB:true:true:true:true');
  }, 90_000);
});
