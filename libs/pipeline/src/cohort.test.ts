import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { initBackend } from '@tumorcast/nn';
import { writePhantomCohort } from '@tumorcast/phantom';
import type { UNetConfig } from '@tumorcast/unet';
import { wilcoxon } from '@tumorcast/metrics';
import { OutputFolderError, PipelineDataError } from './errors.js';
import { runCohort } from './cohort.js';
import type { RunCohortOptions } from './cohort.js';
import { boxPlotSvg, cohortTable } from './cohort-report.js';
import type { CohortPatientResult } from './cohort-report.js';
import { AUTHORS_REGRESSOR_PT, AUTHORS_UNET_PT, loadAuthorsReference } from '../../../libs/regressor/test/authors-fork.js';

// The phantom cohort's first three patients (a 7-scan responder, fast regrowth with remove_last_predict,
// a poor responder) at 48 x 48 with the authors' tiny networks and a few sampling steps: the API as a lab calls it.
const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'tc-pipeline-cohort-'));
const data = path.join(tmp, 'cohort');
let base: RunCohortOptions;
beforeAll(async () => {
  await initBackend({ log: false });
  await writePhantomCohort(data, { seed: 2, patients: 3, size: 48 });
  const ref = loadAuthorsReference();
  base = {
    cohort: path.join(data, 'cohort.json'), out: path.join(tmp, 'out'),
    models: { diffusion: AUTHORS_UNET_PT, regressor: AUTHORS_REGRESSOR_PT, diffusionPreset: ref.unetConfig as unknown as UNetConfig, regressorPreset: ref.regressorConfig },
    settings: { noiseLevel: 3, respacing: '', samples: 2 },
    replicates: 4,
  };
});
afterAll(() => fs.rmSync(tmp, { recursive: true, force: true }));

const csvRows = (f: string) => fs.readFileSync(f, 'utf8').trim().split('\n').map((l) => l.split(','));

describe('runCohort', () => {
  it('runs every patient, writes every table with finite numbers and the report, one progress line per patient and step', async () => {
    const lines: string[] = [];
    const r = await runCohort({ ...base, scenarios: [{ name: 'no RT', noRt: true }, { name: '2 weeks later', rtStartShift: 14 }], log: (m) => lines.push(m) });
    expect(r.summarised).toBe(true);
    expect(r.patients.map((p) => p.id)).toEqual(['PH01', 'PH02', 'PH03']);
    for (const id of ['PH01', 'PH02', 'PH03']) {
      expect(lines).toContainEqual(expect.stringMatching(new RegExp(`^patient \\d/3 ${id}: fit growth \\(split `)));
      expect(lines).toContainEqual(expect.stringMatching(new RegExp(`^patient \\d/3 ${id}: slice largest_80: predict`)));
      expect(lines).toContainEqual(expect.stringMatching(new RegExp(`^patient \\d/3 ${id}: slice initial_84: scenario 'no RT'`)));
      expect(fs.existsSync(path.join(base.out, 'patients', id, 'report.html'))).toBe(true);
    }
    const p2 = r.patients[1]!;
    expect(p2.split).toBe('remove_last_predict (removeLast = 1, predictRemaining = 1)');
    expect(p2.scans).toEqual({ fitted: 6, heldOut: 1, dropped: 1 });
    expect(p2.followupDay).toBe(150);
    for (const f of ['slices.csv', 'patients.csv', 'cohort_table.csv', 'growth.csv', 'params.csv', 'scenarios.csv', 'cohort.json', 'cohort.html']) {
      expect(fs.existsSync(path.join(base.out, f))).toBe(true);
    }
    const table = csvRows(path.join(base.out, 'cohort_table.csv'));
    expect(table[0]).toEqual(['metric', 'prediction_mean', 'prediction_sd', 'baseline_mean', 'baseline_sd', 'wilcoxon_p_slices', 'wilcoxon_p_patients', 'n_slices', 'n_patients']);
    const byMetric = Object.fromEntries(table.slice(1).map((row) => [row[0], row]));
    for (const m of ['mse', 'ssim', 'dice', 'psnr']) {
      const row = byMetric[m]!;
      for (const v of row.slice(1, 7)) expect(Number.isFinite(Number(v))).toBe(true);
      expect(row.slice(7)).toEqual(['6', '3']);
    }
    expect(Number.isFinite(Number(byMetric['map brier']![1]))).toBe(true);
    const growth = csvRows(path.join(base.out, 'growth.csv'));
    for (const row of growth.slice(1, 4)) for (const c of [9, 10, 11]) expect(Number.isFinite(Number(row[c]))).toBe(true);
    const slices = csvRows(path.join(base.out, 'slices.csv'));
    expect(slices).toHaveLength(7);
    // r0's source beside r0 (the phantom cohort's slices have labels, and the default takes their burden).
    const source = slices[0]!.indexOf('baseline_burden_source');
    expect(source).toBe(slices[0]!.indexOf('baseline_burden') + 1);
    expect(new Set(slices.slice(1).map((r) => r[source]))).toEqual(new Set(['label']));
    const html = fs.readFileSync(path.join(base.out, 'cohort.html'), 'utf8');
    expect(html).toContain('Cohort table');
    expect(html).toContain('Model extrapolations');
    expect(html).toContain('href="patients/PH02/report.html"');
    expect(html).toMatch(/synthetic/);
    expect(html).not.toMatch(/(src|href)="(https?:)?\/\//);
    const page = fs.readFileSync(path.join(base.out, 'patients', 'PH01', 'report.html'), 'utf8');
    expect(page).toContain('Treatment scenarios');
    expect(page).toContain('extrapolations of the fitted growth model');
  });

  it('cohort.html and a patient page render in headless Chromium: every table, figure and image, the links to the pages', () => {
    const chromium = ['/usr/bin/chromium', '/usr/bin/chromium-browser'].find((c) => fs.existsSync(c));
    if (!chromium) throw new Error('chromium is needed for the report test (apt-get install chromium; .ci/run installs it)');
    const look = (file: string) => {
      const probe = path.join(path.dirname(file), `probe-${path.basename(file)}`);
      // Count rendered tables, SVG figures with a size and decoded images; name the first link's target.
      fs.writeFileSync(probe, fs.readFileSync(file, 'utf8').replace('</body>', `<script>addEventListener('load',()=>{
        const svgs=[...document.querySelectorAll('svg')].filter(x=>{const r=x.getBoundingClientRect();return r.width>50&&r.height>20;}).length;
        const imgs=[...document.images];
        const links=[...document.querySelectorAll('a[href$="report.html"]')].map(a=>a.href.split('/').slice(-2).join('/'));
        document.title=['R',document.querySelectorAll('table').length,svgs,imgs.length,imgs.every(i=>i.complete&&i.naturalWidth>0),links[0]||''].join(':');
      })</script></body>`));
      const dom = execFileSync(chromium, ['--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking', '--disable-component-update',
        '--disable-sync', '--no-first-run', `--user-data-dir=${path.join(tmp, 'chromium')}`, '--window-size=1200,900', '--virtual-time-budget=5000', '--dump-dom', `file://${probe}`],
      { encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'], timeout: 60000 });
      return (/<title>([^<]*)<\/title>/.exec(dom)?.[1] ?? '').split(':');
    };
    // Summary: the cohort, map, growth and scenario tables; the 2 box plots and 6 parameter figures at least; the first patient's page.
    const [r, tables, svgs, , , link] = look(path.join(base.out, 'cohort.html'));
    expect(r).toBe('R');
    expect(Number(tables)).toBe(4);
    expect(Number(svgs)).toBeGreaterThanOrEqual(2 + 6);
    expect(link).toBe('PH01/report.html');
    const [, ptables, psvgs, images, loaded] = look(path.join(base.out, 'patients', 'PH01', 'report.html'));
    expect(Number(ptables)).toBeGreaterThanOrEqual(3);
    expect(Number(psvgs)).toBeGreaterThanOrEqual(2); // growth plot and scenario curves, at least
    expect(Number(images)).toBeGreaterThan(2 * 4 * 3);
    expect(loaded).toBe('true');
  }, 90_000);

  it('resumes: a rerun with the same options skips every patient; other settings are refused', async () => {
    const lines: string[] = [];
    const r = await runCohort({ ...base, scenarios: [{ name: 'no RT', noRt: true }, { name: '2 weeks later', rtStartShift: 14 }], log: (m) => lines.push(m) });
    expect(lines.filter((l) => l.endsWith('skipped (done before)'))).toHaveLength(3);
    expect(lines.some((l) => l.includes('fit growth'))).toBe(false);
    expect(r.summarised).toBe(true);
    await expect(runCohort({ ...base, replicates: 5 })).rejects.toThrow(OutputFolderError);
    // The defaults of the segmenter's gradient settings are left out of the recorded provenance: results from before they existed stay valid.
    lines.length = 0;
    await runCohort({
      ...base, settings: { ...base.settings, gradientTemperature: 1, gradientMarginPixels: Infinity }, scenarios: [{ name: 'no RT', noRt: true }, { name: '2 weeks later', rtStartShift: 14 }], log: (m) => lines.push(m),
    });
    expect(lines.filter((l) => l.endsWith('skipped (done before)'))).toHaveLength(3);
    // cohort.json leaves the margin out at Infinity too (JSON.stringify would write null)
    const written = JSON.parse(fs.readFileSync(path.join(base.out, 'cohort.json'), 'utf8')) as { settings: Record<string, unknown> };
    expect(written.settings).toMatchObject({ noiseLevel: 3, gradientTemperature: 1 });
    expect('gradientMarginPixels' in written.settings).toBe(false);
  });

  it('shards: each shard takes its patients; the last one writes the tables', async () => {
    const out = path.join(tmp, 'shards');
    const a = await runCohort({ ...base, out, shard: '1/2' });
    expect(a.patients.map((p) => p.id)).toEqual(['PH01', 'PH03']);
    expect(a.summarised).toBe(false);
    expect(fs.existsSync(path.join(out, 'cohort_table.csv'))).toBe(false);
    const b = await runCohort({ ...base, out, shard: '2/2' });
    expect(b.patients.map((p) => p.id)).toEqual(['PH02']);
    expect(b.summarised).toBe(true);
    expect(fs.existsSync(path.join(out, 'cohort_table.csv'))).toBe(true);
  });

  it('stops before computing on a malformed patient, naming it; skipInvalid leaves it out', async () => {
    const bad = JSON.parse(fs.readFileSync(base.cohort, 'utf8')) as { patients: { id: string; split: unknown; scans: { slices: { folder: string }[] }[] }[] };
    bad.patients[1]!.split = { mode: 'last_n', n: 7 }; // leaves one fitted scan
    bad.patients[2]!.scans[1]!.slices[0]!.folder = 'PH03/nowhere_80';
    const file = path.join(data, 'bad.json');
    fs.writeFileSync(file, JSON.stringify(bad));
    const out = path.join(tmp, 'bad');
    let err: unknown;
    try {
      await runCohort({ ...base, cohort: file, out });
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(PipelineDataError);
    expect((err as Error).message).toMatch(/patient PH03: patients\[2\]\.scans\[1\]\.slices\[0\]\.folder: slice folder not found/);
    expect((err as Error).message).toMatch(/skipInvalid/);
    expect(fs.existsSync(out)).toBe(false);
    // The split problem shows once the file's own problems are gone.
    bad.patients[2]!.scans[1]!.slices[0]!.folder = 'PH03/d020/PH03-d020_80';
    fs.writeFileSync(file, JSON.stringify(bad));
    await expect(runCohort({ ...base, cohort: file, out })).rejects.toThrow(/patient PH02: split: last_n \(n = 7\) leaves 1 fitted scan/);
    expect(fs.existsSync(out)).toBe(false);
    const lines: string[] = [];
    const r = await runCohort({ ...base, cohort: file, out, skipInvalid: true, log: (m) => lines.push(m) });
    expect(r.skipped.map((s) => s.patient)).toEqual(['PH02']);
    expect(lines).toContainEqual(expect.stringMatching(/^warning: skipping patient PH02: split/));
    expect(r.patients.map((p) => p.id)).toEqual(['PH01', 'PH03']);
    expect(fs.readFileSync(path.join(out, 'cohort.html'), 'utf8')).toContain('Left out (1)');
  });
});

describe('runCohort with a patient that fails while computing', () => {
  it('stops naming it (the patients before it stay finished); skipInvalid records it and leaves it out of the tables', async () => {
    const c = JSON.parse(fs.readFileSync(base.cohort, 'utf8')) as { patients: { fixed?: Record<string, number> }[] };
    c.patients[1]!.fixed = { lambdaGr: 1e6 }; // passes the checks, but no bootstrap fit succeeds
    const file = path.join(data, 'fails.json');
    fs.writeFileSync(file, JSON.stringify(c));
    const out = path.join(tmp, 'fails');
    await expect(runCohort({ ...base, cohort: file, out })).rejects.toThrow(/fails\.json: patient 'PH02': the growth fit failed: all 4 bootstrap fits failed\nthe patients before it are finished/);
    expect(fs.existsSync(path.join(out, 'patients', 'PH01', 'result.json'))).toBe(true);
    const r = await runCohort({ ...base, cohort: file, out, skipInvalid: true });
    expect(r.skipped.map((x) => x.patient)).toEqual(['PH02']);
    expect(JSON.parse(fs.readFileSync(path.join(out, 'patients', 'PH02', 'failed.json'), 'utf8')).reason).toMatch(/growth fit failed/);
    expect(r.summarised).toBe(true);
    expect(csvRows(path.join(out, 'growth.csv')).map((x) => x[0])).toEqual(['patient', 'PH01', 'PH03', 'mean', 'sd']);
  });
});

describe('runCohort on the whole phantom cohort', () => {
  it('checks all eight patients; the 3-scan one (two fitted scans, lambdaDecay held in the file) runs', async () => {
    const all = path.join(tmp, 'all8');
    await writePhantomCohort(all, { seed: 5, size: 48 });
    const lines: string[] = [];
    const r = await runCohort({ ...base, cohort: path.join(all, 'cohort.json'), out: path.join(tmp, 'all8-out'), shard: '5/8', log: (m) => lines.push(m) });
    expect(r.skipped).toEqual([]);
    const p5 = r.patients[0]!;
    expect(p5.id).toBe('PH05');
    expect(p5.scans).toEqual({ fitted: 2, heldOut: 1, dropped: 0 });
    expect(p5.growth.heldByFallback).toEqual(['slope', 'delay', 'survival']);
    expect(p5.growth.params['lambdaDecay']).toEqual({ median: 0.02, lower: 0.02, upper: 0.02 });
    expect(Number.isFinite(p5.growth.relativeChange)).toBe(true);
    expect(p5.slices).toHaveLength(2);
  });
});

describe('cohortTable', () => {
  const scores = (dice: number, base: number) => ({
    id: 'x',
    predicted: { mse: 0.01, psnr: 20, ssim: 0.8, mseBrain: 0.02, dice, hd95: Number.NaN, areaError: 0.1 },
    baseline: { mse: 0.02, psnr: 17, ssim: 0.7, mseBrain: 0.03, dice: base, hd95: 3, areaError: 0.2 },
    map: { brier: 0.05, thresholds: [{ threshold: 0.5, dice: 0.6, hd95: 2 }] },
  });
  const patient = (id: string, pairs: [number, number][]): CohortPatientResult => ({
    id, provenance: '', split: 'last_n (n = 1)', scans: { fitted: 5, heldOut: 1, dropped: 0 }, rt: { start: 10, end: 52 }, baselineDay: 100, followupDay: 150,
    growth: { observed: { baseline: 1, followup: 1 }, predicted: { baseline: 1, followup: 1 }, followupBand: [1, 1], relativeChange: 0, relativeChangeBand: [0, 0], observedChange: 0, r2: 1, nrmse: 0, heldOutNrmse: 0, heldByFallback: [], params: {}, nFits: 1 },
    slices: pairs.map(([d, b], i) => ({ key: `initial_${i}`, kind: 'initial', slice: i, folders: { baseline: '', followup: '' }, relativeChange: 0, burdens: { baseline: 0, target: 0, predicted: 0, source: 'label' }, scores: scores(d, b), seconds: 0 })),
    scenarios: [], seconds: 0,
  });

  it('mean ± sample sd per metric, the paired Wilcoxon test per slice and per patient, n; undefined values left out of their row', () => {
    const ps = [patient('A', [[0.9, 0.5], [0.7, 0.6]]), patient('B', [[0.8, 0.4]]), patient('C', [[0.6, 0.65], [0.75, 0.5]])];
    const t = cohortTable(ps);
    const dice = t.find((r) => r.metric === 'dice')!;
    const pred = [0.9, 0.7, 0.8, 0.6, 0.75];
    const base = [0.5, 0.6, 0.4, 0.65, 0.5];
    // By hand: mean 0.75, sample sd sqrt(0.05 / 4).
    expect(dice.prediction.mean).toBeCloseTo(0.75, 12);
    expect(dice.prediction.sd).toBeCloseTo(Math.sqrt(0.05 / 4), 12);
    expect(dice.baseline!.mean).toBeCloseTo(0.53, 12);
    expect(dice.pSlices).toBeCloseTo(wilcoxon(pred, base).pValue, 12);
    expect(dice.pPatients).toBeCloseTo(wilcoxon([0.8, 0.8, 0.675], [0.55, 0.4, 0.575]).pValue, 12);
    expect([dice.nSlices, dice.nPatients]).toEqual([5, 3]);
    // HD95 of every prediction is undefined (NaN): no pairs.
    const hd = t.find((r) => r.metric === 'hd95')!;
    expect([hd.nSlices, hd.nPatients, hd.pSlices]).toEqual([0, 0, undefined]);
    expect(t.find((r) => r.metric === 'map dice@0.5')!.prediction.mean).toBeCloseTo(0.6, 12);
  });
});

describe('boxPlotSvg', () => {
  it('labels the axis with enough digits to tell close values apart (5 % padding each side)', () => {
    const ticks = (svg: string) => [...svg.matchAll(/font-size="11">([^<]*)</g)].map((m) => m[1]);
    // R² 0.9991 .. 0.9999: range 0.0008, padded by 0.00004 each side, 4 steps of 0.00022.
    expect(ticks(boxPlotSvg([{ label: 'R²', values: [0.9991, 0.9995, 0.9999] }]))).toEqual(['0.99906', '0.99928', '0.9995', '0.99972', '0.99994']);
    expect(ticks(boxPlotSvg([{ label: 'x', values: [0, 0.1, 0.2] }]))).toEqual(['-0.01', '0.045', '0.1', '0.155', '0.21']);
  });
});
