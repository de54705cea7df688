import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import * as tf from '@tensorflow/tfjs';
import { initBackend } from '@tumorcast/nn';
import { loadNifti } from '@tumorcast/nifti/node';
import { writePhantomDataset } from '@tumorcast/phantom';
import type { PhantomDatasetManifest } from '@tumorcast/phantom';
import type { SliceResult } from '@tumorcast/pipeline/node';
import { predictCli } from './cli.js';
import { SAMPLE_ROOT as SAMPLE, describeWithSample } from '../../../libs/dataset/test/brats-sample.js';

const quiet = () => undefined;
// Fast sampling for tests: L = 100 in 5 respaced steps, 2 runs per map.
const FAST = ['--respacing', 'ddim50', '--noise-level', '100', '--samples', '2'];

// Every output goes under this temporary folder.
const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'tc-predict-'));
/** A phantom test patient (baseline in testing/, real follow-up in followup/), written at test time. */
const phantom = path.join(tmp, 'phantom');
/** Its only slice. */
const PHANTOM_SLICE = '90000000_80';
/** Phantom training-style slices (training/, with seg files): 1 patient x 2 scans. */
const phantomTrain = path.join(tmp, 'phantom-train');
let manifest: PhantomDatasetManifest;
beforeAll(async () => {
  await initBackend({ log: false });
  manifest = await writePhantomDataset(phantom, {
    seed: 11, patients: 1, preview: false,
    patient: { sliceIds: [80], tumourHalfHeight: 10, days: [0, 14, 21, 35, 49, 63, 90, 120, 150, 210] },
  });
  await writePhantomDataset(phantomTrain, { seed: 12, patients: 0, trainingPatients: 1, preview: false, patient: { sliceIds: [80], days: [0, 60] } });
});
afterAll(() => fs.rmSync(tmp, { recursive: true, force: true }));

async function stdoutOf(fn: () => Promise<unknown>): Promise<string> {
  const chunks: string[] = [];
  const orig = process.stdout.write.bind(process.stdout);
  (process.stdout as { write: unknown }).write = (s: string) => (chunks.push(String(s)), true);
  try {
    await fn();
  } finally {
    (process.stdout as { write: unknown }).write = orig;
  }
  return chunks.join('');
}

describe('tumorcast-predict fit-growth', () => {
  it('fits the series up to the baseline and predicts the relative change of each slice', async () => {
    const out = path.join(tmp, 'growth');
    const patient = manifest.testing[0]!;
    expect(await predictCli(['fit-growth', '--series', path.join(phantom, manifest.files.seriesToBaselineCsv), '--followup-day', String(patient.followupDay),
      '--bootstrap', '8', '--out', out], quiet)).toBe(0);
    const targets = JSON.parse(fs.readFileSync(path.join(out, 'targets.json'), 'utf8')) as Record<string, { relativeChange: number }>;
    const preds = JSON.parse(fs.readFileSync(path.join(out, 'predictions.json'), 'utf8')) as
      { patientId: string; sliceId: string; sizeBaseline: number; sizeFollowup: number; relativeChange: number; relativeChangeBand: [number, number] }[];
    for (const s of patient.slices) {
      const got = targets[s.key]!.relativeChange;
      // Forecast accuracy is growth-ode's to test; here: the wiring. The phantom grows after RT,
      // the fit sees only the sizes up to the baseline, and the target is y(follow-up)/y(baseline) - 1.
      expect(Math.sign(got)).toBe(Math.sign(s.relativeChange));
      const p = preds.find((q) => `${q.patientId}_${q.sliceId}` === s.key)!;
      expect(got).toBeCloseTo(p.sizeFollowup / p.sizeBaseline - 1, 9);
      expect(p.relativeChangeBand[0]).toBeLessThanOrEqual(p.relativeChangeBand[1]);
    }
    for (const f of ['growth.json', 'growth.csv', 'params.csv', 'predictions.json']) expect(fs.existsSync(path.join(out, f))).toBe(true);
    expect(fs.readdirSync(out).filter((f) => f.endsWith('.svg'))).toHaveLength(patient.slices.length);
  });
});

describe('tumorcast-predict run on the phantom (with the real follow-up)', () => {
  const out = () => path.join(tmp, 'run');
  let results: SliceResult[];

  it('writes follow-ups, maps, metrics and a report whose images load in Chromium', async () => {
    const patient = manifest.testing[0]!;
    expect(await predictCli(['run', '--data', phantom, '--series', path.join(phantom, manifest.files.seriesToBaselineCsv),
      '--followup-day', String(patient.followupDay), '--baseline-day', String(patient.baselineDay), '--bootstrap', '8',
      '--truth', path.join(phantom, 'followup'), '--out', out(), ...FAST], quiet)).toBe(0);
    results = patient.slices.map((s) => JSON.parse(fs.readFileSync(path.join(out(), 'slices', s.key, 'result.json'), 'utf8')) as SliceResult);
    for (const r of results) {
      expect(r.files.followup).toHaveLength(4);
      expect(r.scores).toBeDefined();
      expect(r.baselineBurdenSource).toBe('label');
    }
    const csv = fs.readFileSync(path.join(out(), 'metrics.csv'), 'utf8').trim().split('\n');
    expect(csv[0]).toMatch(/^slice,pred_mse,pred_psnr,pred_ssim/);
    expect(csv).toHaveLength(1 + results.length + 1); // header, slices, mean
    const html = fs.readFileSync(path.join(out(), 'report.html'), 'utf8');
    expect(html).not.toMatch(/src="(?!data:)/); // self-contained
    const chromium = ['/usr/bin/chromium', '/usr/bin/chromium-browser'].find((c) => fs.existsSync(c));
    if (!chromium) throw new Error('chromium is needed for the report test (apt-get install chromium; .ci/run installs it)');
    const probe = path.join(tmp, 'probe.html');
    fs.writeFileSync(probe, html.replace('</body>', `<script>addEventListener('load',()=>{const i=[...document.images];document.title=i.length&&i.every(x=>x.complete&&x.naturalWidth>0)?'IMAGES-OK:'+i.length:'IMAGES-BROKEN'})</script></body>`));
    const dom = execFileSync(chromium, ['--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking', '--disable-component-update',
      '--disable-sync', '--no-first-run', `--user-data-dir=${path.join(tmp, 'chromium')}`, '--virtual-time-budget=5000', '--dump-dom', `file://${probe}`],
    { encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'], timeout: 60000 });
    const m = /<title>IMAGES-OK:(\d+)<\/title>/.exec(dom);
    expect(m).not.toBeNull();
    expect(Number(m![1])).toBeGreaterThanOrEqual(14 * results.length);
  }, 900_000);

  it('writes NIfTI files with the input geometry that keep the background at 0', async () => {
    const r = results[0]!;
    const input = await loadNifti(manifest.testing[0]!.slices[0]!.baseline.t1n.startsWith('/') ? manifest.testing[0]!.slices[0]!.baseline.t1n : path.join(phantom, manifest.testing[0]!.slices[0]!.baseline.t1n));
    for (const f of r.files.followup) {
      const img = await loadNifti(path.join(out(), f));
      expect(img.shape).toEqual(input.shape);
      expect(img.affine).toEqual(input.affine);
      let bad = 0, bgChanged = 0;
      for (let i = 0; i < img.data.length; i++) {
        const v = img.data[i] as number;
        if (!(v >= 0 && v <= 1)) bad++;
        if ((input.data[i] as number) === 0 && v !== 0 && f.includes('_t1n_')) bgChanged++;
      }
      expect(bad).toBe(0);
      expect(bgChanged).toBeLessThan(0.01 * img.data.length);
    }
    const map = await loadNifti(path.join(out(), r.files.probability!));
    expect(Math.max(...Array.from(map.data as ArrayLike<number>))).toBeLessThanOrEqual(1);
  });

  it('is resumable: a rerun skips finished slices; evaluate rescored them', async () => {
    const f = path.join(out(), 'slices', results[0]!.id, 'result.json');
    const before = fs.statSync(f).mtimeMs;
    const lines: string[] = [];
    // The same command line (other settings are refused: see resume.test.ts).
    const patient = manifest.testing[0]!;
    expect(await predictCli(['run', '--data', phantom, '--series', path.join(phantom, manifest.files.seriesToBaselineCsv),
      '--followup-day', String(patient.followupDay), '--baseline-day', String(patient.baselineDay), '--bootstrap', '8',
      '--truth', path.join(phantom, 'followup'), '--out', out(), ...FAST], (m) => lines.push(m))).toBe(0);
    expect(fs.statSync(f).mtimeMs).toBe(before);
    expect(lines.join('\n')).toMatch(/1 slice\(s\) already done, 0 to go/);
    const evalOut = path.join(tmp, 'eval');
    fs.mkdirSync(evalOut);
    expect(await predictCli(['evaluate', '--run', out(), '--truth', path.join(phantom, 'followup'), '--out', evalOut], quiet)).toBe(0);
    expect(fs.readFileSync(path.join(evalOut, 'metrics.csv'), 'utf8')).toMatch(/^slice,/);
  }, 300_000);
});

/**
 * Prediction with a given relative change and no real follow-up: `run` on a
 * baseline slice, `sample` on a training-style slice (label from its seg).
 */
function withoutFollowupTests(run: [root: string, id: string], sample: [root: string, id: string], tag: string): void {
  it('run completes with a constant relative change and writes valid NIfTI files', async () => {
    const [root, id] = run;
    const out = path.join(tmp, `out-${tag}`, 'run');
    const n0 = tf.memory().numTensors;
    expect(await predictCli(['run', '--data', root, '--relative-change', '0.3', '--slices', id, '--out', out, ...FAST], quiet)).toBe(0);
    expect(tf.memory().numTensors).toBe(n0);
    const r = JSON.parse(fs.readFileSync(path.join(out, 'slices', id, 'result.json'), 'utf8')) as SliceResult;
    const img = await loadNifti(path.join(out, r.files.followup[3]!));
    expect(img.shape).toEqual([240, 240]);
    expect(Array.from(img.data as ArrayLike<number>).every(Number.isFinite)).toBe(true);
    expect(fs.existsSync(path.join(out, 'report.html'))).toBe(true);
    expect(fs.existsSync(path.join(out, 'metrics.csv'))).toBe(false); // no real follow-up given
  }, 600_000);

  it('sample writes follow-ups without maps or report', async () => {
    const [root, id] = sample;
    const out = path.join(tmp, `out-${tag}`, 'sample-only');
    expect(await predictCli(['sample', '--data', root, '--relative-change', '-0.2', '--slices', id, '--out', out, ...FAST, '--samples', '1'], quiet)).toBe(0);
    const r = JSON.parse(fs.readFileSync(path.join(out, 'slices', id, 'result.json'), 'utf8')) as SliceResult;
    expect(r.files.followup).toHaveLength(4);
    expect(r.files.probability).toBeUndefined();
    expect(fs.existsSync(path.join(out, 'report.html'))).toBe(false);
  }, 600_000);
}

describe('tumorcast-predict without a real follow-up, on phantom slices', () => {
  withoutFollowupTests([phantom, PHANTOM_SLICE], [phantomTrain, '91000000_80'], 'phantom');
});

describeWithSample('tumorcast-predict on the BraTS sample slices', () => {
  withoutFollowupTests([SAMPLE, '00002000_27'], [SAMPLE, '00004000_25'], 'brats');
});

describe('the shipped models beat the unchanged baseline (smaller demo run)', () => {
  it('the growth probability map matches the real follow-up tumour better than the baseline tumour does', async () => {
    // The demo's settings (L = 200 in 20 respaced steps), one slice, 4 runs per map.
    const out = path.join(tmp, 'closer');
    const patient = manifest.testing[0]!;
    expect(await predictCli(['run', '--data', phantom, '--series', path.join(phantom, manifest.files.seriesToBaselineCsv),
      '--followup-day', String(patient.followupDay), '--baseline-day', String(patient.baselineDay), '--bootstrap', '8',
      '--truth', path.join(phantom, 'followup'), '--out', out, '--samples', '4', '--seed', '7'], quiet)).toBe(0);
    const r = JSON.parse(fs.readFileSync(path.join(out, 'slices', patient.slices[0]!.key, 'result.json'), 'utf8')) as SliceResult;
    const s = r.scores!;
    // The guidance reaches the growth model's target burden (regressor's view) ...
    expect(Math.abs(r.predictedBurden - r.targetBurden)).toBeLessThan(Math.abs(r.baselineBurden - r.targetBurden));
    // ... and the map thresholded at 0.25 overlaps the true follow-up tumour better than the baseline tumour.
    const map25 = s.map.thresholds.find((t) => t.threshold === 0.25)!;
    expect(map25.dice).toBeGreaterThan(s.baseline.dice + 0.02);
  }, 900_000);
});

describe('the demo\'s guided prediction beats the unchanged baseline (demo patient, guided sample only)', () => {
  it('the predicted scan\'s segmented tumour is closer to the true follow-up in size and overlap than the baseline tumour', async () => {
    // `npm run demo` with one run per map: the same guided samples (run 0 of a map is the guided sample), no map runs.
    const out = path.join(tmp, 'demo-margin');
    expect(await predictCli(['demo', '--samples', '1', '--out', out], quiet)).toBe(0);
    const rows = fs.readFileSync(path.join(out, 'metrics.csv'), 'utf8').trim().split('\n').map((l) => l.split(','));
    const col = (name: string) => Number(rows.at(-1)![rows[0]!.indexOf(name)]);
    expect(rows.at(-1)![0]).toBe('mean');
    // Measured with the shipped networks and the demo's settings (segmenter guidance at gradient temperature 2 within 4 pixels of the
    // tumour, wasm): Dice 0.857 vs 0.781 (miss ratio 0.65), area error 0.038 vs 0.359 (ratio 0.11), HD95 4.61 vs 3.98 mm. These are the
    // issue's acceptance bounds (miss ratio <= 0.8, area ratio <= 0.5): the paper's regressor guidance (Dice 0.816, area error 0.311 with
    // the previous segmenter) fails them. The HD95 bound catches a speck of tumour far from the tumour, which the wide gradient grows
    // without the margin (27 mm): the prediction's border may sit at most one pixel of the networks' 64x64 grid (3.75 mm) further out
    // than the baseline's.
    expect(1 - col('pred_dice')).toBeLessThan(0.8 * (1 - col('base_dice')));
    expect(col('pred_areaError')).toBeLessThan(0.5 * col('base_areaError'));
    expect(col('pred_hd95')).toBeLessThan(col('base_hd95') + 3.75);
  }, 600_000);
});

describe('bad input', () => {
  const cases: [string, string[], RegExp][] = [
    ['unknown command', ['predict'], /unknown command 'predict'/],
    ['bad boolean value', ['run', '--data', phantom, '--out', path.join(tmp, 'x'), '--amplify-early-target', 'maybe'], /^--amplify-early-target takes true or false \(or nothing, for true\), got 'maybe'$/],
    ['stray argument', ['run', '--data', phantom, '--out', path.join(tmp, 'x'), 'extra'], /^unexpected argument 'extra' \(options are --key value\)$/],
    ['bad shard', ['run', '--data', phantom, '--out', path.join(tmp, 'x'), '--relative-change', '0.1', '--shard', '4/3'], /--shard must be i\/n/],
    ['no target', ['run', '--data', phantom, '--out', path.join(tmp, 'x')], /give exactly one of --series/],
    ['two targets', ['run', '--data', phantom, '--out', path.join(tmp, 'x'), '--relative-change', '0.1', '--targets', 't.json'], /got --targets and --relative-change|got --relative-change and --targets/],
    ['series without day', ['run', '--data', phantom, '--out', path.join(tmp, 'x'), '--series', 's.csv'], /--series needs --followup-day/],
    ['missing data folder', ['sample', '--data', '/nonexistent/data', '--out', path.join(tmp, 'x'), '--relative-change', '0.1'], /data folder \/nonexistent\/data does not exist/],
    ['missing model file', ['sample', '--data', phantom, '--out', path.join(tmp, 'x'), '--relative-change', '0.1', '--diffusion', '/nope.safetensors', '--slices', PHANTOM_SLICE], /diffusion weights \/nope\.safetensors do not exist/],
    ['unknown slice', ['sample', '--data', phantom, '--out', path.join(tmp, 'x'), '--relative-change', '0.1', '--slices', 'nope_1'], /none of the requested slices/],
    ['bad option value', ['sample', '--data', phantom, '--out', path.join(tmp, 'x'), '--relative-change', '0.1', '--samples', '0'], /'samples' must be >= 1/],
    ['missing targets file', ['sample', '--data', phantom, '--out', path.join(tmp, 'x'), '--targets', '/nope.json'], /targets file \/nope\.json: cannot read/],
  ];
  it.each(cases)('%s', async (_n, argv, re) => {
    await expect(predictCli(argv, quiet)).rejects.toThrow(re);
  });

  it('prints help with examples for every command', async () => {
    for (const cmd of ['fit-growth', 'sample', 'probability-map', 'evaluate', 'run', 'demo']) {
      const text = await stdoutOf(() => predictCli([cmd, '--help'], quiet));
      expect(text).toContain(`tumorcast-predict ${cmd}`);
      expect(text).toContain('Examples:');
    }
  });
});
