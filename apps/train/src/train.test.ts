import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import * as tf from '@tensorflow/tfjs';
import { CliError, resolveConfig } from '@tumorcast/cli';
import { initBackend, loadSafetensors } from '@tumorcast/nn';
import { createUNet } from '@tumorcast/unet';
import { createDiffusion } from '@tumorcast/diffusion';
import { loadSegmenter } from '@tumorcast/segmenter';
import { configFile, trainCli } from './cli.js';
import { DIFFUSION_SCHEMA, REGRESSOR_SCHEMA, SEGMENTER_SCHEMA } from './schema.js';
import { checkpointFiles, diffusionValidationMse, latestCheckpoint, openSlices, unetConfigOf } from '@tumorcast/training';
import { camelKeys } from './cli.js';
import type { DiffusionConfig } from './schema.js';
import { writePhantomDataset } from '@tumorcast/phantom';
import { SAMPLE_ROOT as SAMPLE, describeWithSample } from '../../../libs/dataset/test/brats-sample.js';

const quiet = () => undefined;

// Every output goes under this temporary folder (never into the working directory).
const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'tc-train-'));
// The default results_dir, relative to the working directory: no test may leave it behind.
const DEFAULT_RESULTS = path.resolve('results');
const started = Date.now();
/**
 * Phantom training slices in the BraTS slice layout, written at test time: 2 patients
 * x 3 scans x 2 slices, 240 x 240 like BraTS, each with its seg.
 */
const PHANTOM = path.join(tmp, 'phantom');
beforeAll(async () => {
  await initBackend({ log: false });
  await writePhantomDataset(PHANTOM, { seed: 5, patients: 0, trainingPatients: 2, preview: false, patient: { sliceIds: [78, 82], days: [0, 90, 210] } });
});
afterAll(() => fs.rmSync(tmp, { recursive: true, force: true }));

/** A tiny diffusion config (32x32, one level of attention-free blocks) that trains in seconds. */
const tinyDiffusion = [
  '--image-size', '32', '--num-channels', '32', '--num-res-blocks', '1', '--channel-mult', '1,2', '--attention-resolutions', '',
  '--batch-size', '2', '--lr', '1e-3', '--diffusion-steps', '100', '--max-slices', '4', '--save-interval', '0',
];

function args(cmd: string, results: string, extra: string[], data = PHANTOM): string[] {
  return [cmd, '--data-dir', data, '--results-dir', results, ...extra];
}

/**
 * Copies the slice folder `src` without its t2f file to a new slice 99 of a
 * fresh data set and expects training to name that folder and the modality.
 */
async function expectBrokenSliceNamed(src: string, tag: string): Promise<void> {
  const [pid, slice] = path.basename(src).split('_') as [string, string];
  const root = path.join(tmp, `bad-data-${tag}`);
  const bad = path.join(root, 'training', `${pid}_99`);
  fs.mkdirSync(bad, { recursive: true });
  for (const f of fs.readdirSync(src)) {
    if (!f.includes('_t2f_')) fs.copyFileSync(path.join(src, f), path.join(bad, f.replace(`_${slice}_`, '_99_')));
  }
  const re = new RegExp(`${pid}_99.*t2f|t2f.*${pid}_99`);
  await expect(trainCli(['diffusion', '--data-dir', root, '--results-dir', path.join(tmp, `bad-out-${tag}`), ...tinyDiffusion, '--iterations', '1'], quiet))
    .rejects.toThrow(re);
}

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

/**
 * What training must do on any data set in the BraTS slice layout: the diffusion
 * model overfits a fixed batch, validate scores it, the regressor's loss goes
 * down, the segmenter logs its validation Dice and loads back. `tag` names the
 * data set's output folder.
 */
function learningTests(data: string, tag: string): void {
  it('diffusion: lowers the loss on a fixed batch (overfit) and writes checkpoint, EMA, optimiser state, log and curve', async () => {
    const dir = path.join(tmp, `out-${tag}`, 'diff');
    expect(await trainCli(args('diffusion', dir, [...tinyDiffusion, '--iterations', '12', '--seed', '3'], data), quiet)).toBe(0);
    const files = checkpointFiles(dir, 12);
    for (const f of Object.values(files)) expect(fs.existsSync(f)).toBe(true);
    expect(fs.readFileSync(path.join(dir, 'log.csv'), 'utf8').trim().split('\n')).toHaveLength(13);
    expect(fs.readFileSync(path.join(dir, 'loss.svg'), 'utf8')).toMatch(/^<svg/);
    const cfg = JSON.parse(fs.readFileSync(path.join(dir, 'config.json'), 'utf8')) as DiffusionConfig;
    expect(cfg.image_size).toBe(32);

    // Fixed batch, fixed timesteps and noise: compare the initial weights (same seed) with the trained ones.
    const slices = await openSlices([data], { imageSize: 32, split: 'training', maxSlices: 4, requireLabels: true });
    const diffusion = createDiffusion({ steps: 100, learnSigma: true });
    const before = createUNet(unetConfigOf(camelKeys(cfg)), { seed: 3 });
    const after = createUNet(unetConfigOf(camelKeys(cfg)), { seed: 3 });
    await after.loadWeights(files.model);
    const l0 = await diffusionValidationMse(before, diffusion, slices, 4, 11, 2);
    const l1 = await diffusionValidationMse(after, diffusion, slices, 4, 11, 2);
    before.dispose();
    after.dispose();
    expect(l1).toBeLessThan(0.8 * l0);
  });

  it('validate reports the validation MSE of a checkpoint', async () => {
    const ckpt = checkpointFiles(path.join(tmp, `out-${tag}`, 'diff'), 12).model;
    const out = await stdoutOf(() => trainCli(['validate', '--checkpoint', ckpt, '--data-dir', data, '--max-slices', '3', '--timesteps-per-slice', '1'], quiet));
    const r = JSON.parse(out) as { kind: string; value: number; slices: number };
    expect(r.kind).toBe('diffusion');
    expect(r.slices).toBe(3);
    expect(Number.isFinite(r.value)).toBe(true);
  });

  it('regressor: loss goes down over a few steps on a fixed small set', async () => {
    const dir = path.join(tmp, `out-${tag}`, 'reg');
    const common = ['--image-size', '32', '--regressor-width', '32', '--regressor-depth', '1', '--regressor-channel-mult', '1,2',
      '--regressor-attention-resolutions', '16', '--regressor-num-head-channels', '32', '--batch-size', '4', '--max-slices', '4',
      '--lr', '1e-3', '--diffusion-steps', '100', '--save-interval', '0', '--eval-interval', '10', '--data-dir-val', data];
    expect(await trainCli(args('regressor', dir, [...common, '--iterations', '20'], data), quiet)).toBe(0);
    const rows = fs.readFileSync(path.join(dir, 'log.csv'), 'utf8').trim().split('\n');
    const head = rows[0]!.split(',');
    const val = rows.slice(1).map((r) => r.split(',')[head.indexOf('val_mse')]).filter((v) => v !== '').map(Number);
    expect(val).toHaveLength(2);
    const loss = rows.slice(1).map((r) => Number(r.split(',')[head.indexOf('loss')]));
    const first = loss.slice(0, 5).reduce((a, b) => a + b) / 5;
    const last = loss.slice(-5).reduce((a, b) => a + b) / 5;
    expect(last).toBeLessThan(first);
  });

  it('segmenter: Dice rises and the checkpoint loads as a segmenter', async () => {
    const dir = path.join(tmp, `out-${tag}`, 'seg');
    const common = ['--image-size', '32', '--base-channels', '32', '--channel-mult', '1,2', '--num-res-blocks', '1', '--batch-size', '4',
      '--max-slices', '4', '--lr', '3e-3', '--save-interval', '0', '--eval-interval', '15', '--data-dir-val', data];
    expect(await trainCli(args('segmenter', dir, [...common, '--iterations', '30'], data), quiet)).toBe(0);
    const rows = fs.readFileSync(path.join(dir, 'log.csv'), 'utf8').trim().split('\n');
    const head = rows[0]!.split(',');
    const dice = rows.slice(1).map((r) => r.split(',')[head.indexOf('val_dice')]).filter((v) => v !== '').map(Number);
    expect(dice).toHaveLength(2);
    const net = await loadSegmenter(latestCheckpoint(dir)!);
    expect(net.config.imageSize).toBe(32);
    net.dispose();
  });
}

describe('tumorcast-train on phantom slices (written at test time)', () => {
  learningTests(PHANTOM, 'phantom');

  it('resuming reproduces the uninterrupted run exactly', async () => {
    const a = path.join(tmp, 'resume-a');
    const b = path.join(tmp, 'resume-b');
    expect(await trainCli(args('diffusion', a, [...tinyDiffusion, '--iterations', '4']), quiet)).toBe(0);
    expect(await trainCli(args('diffusion', b, [...tinyDiffusion, '--iterations', '2']), quiet)).toBe(0);
    expect(await trainCli(args('diffusion', b, [...tinyDiffusion, '--iterations', '4', '--resume-checkpoint', 'latest']), quiet)).toBe(0);
    expect(latestCheckpoint(b)).toBe(checkpointFiles(b, 4).model);
    const wa = await loadSafetensors(checkpointFiles(a, 4).model);
    const wb = await loadSafetensors(checkpointFiles(b, 4).model);
    let maxDiff = 0;
    for (const [k, t] of wa.tensors) {
      const u = wb.tensors.get(k)!.data as Float32Array;
      const v = t.data as Float32Array;
      for (let i = 0; i < v.length; i++) maxDiff = Math.max(maxDiff, Math.abs((v[i] as number) - (u[i] as number)));
    }
    expect(maxDiff).toBe(0);
    const ea = await loadSafetensors(checkpointFiles(a, 4).ema);
    const eb = await loadSafetensors(checkpointFiles(b, 4).ema);
    expect(Array.from(eb.tensors.get('out.2.weight')!.data as Float32Array)).toEqual(Array.from(ea.tensors.get('out.2.weight')!.data as Float32Array));
  });

  it('on SIGINT finishes the step, saves a loadable checkpoint and returns 130', async () => {
    const dir = path.join(tmp, 'sigint');
    let steps = 0;
    const log = (m: string) => {
      if (m.startsWith('U-Net parameters')) {
        // Once training starts, interrupt it from "outside" after the first step.
        const timer = setInterval(() => {
          if (fs.existsSync(path.join(dir, 'log.csv'))) {
            steps = fs.readFileSync(path.join(dir, 'log.csv'), 'utf8').trim().split('\n').length - 1;
            process.emit('SIGINT', 'SIGINT');
            clearInterval(timer);
          }
        }, 5);
      }
    };
    const errWrite = process.stderr.write.bind(process.stderr);
    (process.stderr as { write: unknown }).write = () => true;
    let code: number;
    try {
      code = await trainCli(args('diffusion', dir, [...tinyDiffusion, '--iterations', '1000']), log);
    } finally {
      (process.stderr as { write: unknown }).write = errWrite;
    }
    expect(code).toBe(130); // 128 + SIGINT, as a shell reports an interrupted command
    expect(steps).toBeGreaterThanOrEqual(1);
    const ckpt = latestCheckpoint(dir)!;
    expect(ckpt).toBeDefined();
    const net = createUNet(unetConfigOf(camelKeys(JSON.parse(fs.readFileSync(path.join(dir, 'config.json'), 'utf8')) as DiffusionConfig)));
    await net.loadWeights(ckpt);
    net.dispose();
    expect(Number(/model(\d+)/.exec(ckpt)![1])).toBeLessThan(1000);
  });
});

describeWithSample('tumorcast-train on the BraTS sample', () => {
  learningTests(SAMPLE, 'brats');

  it('names the slice folder of a broken real slice', async () => {
    await expectBrokenSliceNamed(path.join(SAMPLE, 'training', '00004000_25'), 'brats');
  });
});

describe('bad configs and commands', () => {
  const cases: [string, string[], RegExp][] = [
    ['unknown command', ['difusion'], /unknown command 'difusion'; commands: diffusion, regressor/],
    ['bad boolean value', ['segmenter', '--data-dir', 'x', '--soft-labels', 'maybe'], /^--soft-labels takes true or false \(or nothing, for true\), got 'maybe'$/],
    ['stray argument', ['segmenter', '--data-dir', 'x', 'extra'], /^unexpected argument 'extra' \(options are --key value\)$/],
    ['unknown option lists valid keys', ['diffusion', '--data-dir', 'x', '--learning-rate', '1'], /unknown option '--learning-rate'; valid config keys: .*\blr\b/],
    ['wrong type', ['diffusion', '--data-dir', 'x', '--batch-size', 'four'], /'batch_size' must be an integer, got "four"/],
    ['missing data_dir', ['diffusion'], /missing required config key\(s\): data_dir/],
    ['unknown preset file', ['diffusion', '--config', '/nope.yaml', '--data-dir', 'x'], /config file \/nope\.yaml: cannot read/],
    ['empty data folder', ['diffusion', '--data-dir', path.join(tmp, 'nothing-here'), '--results-dir', path.join(tmp, 'empty-out'), '--iterations', '1'], /nothing-here: data set root folder not found/],
    ['bad resume file', ['diffusion', '--data-dir', PHANTOM, '--resume-checkpoint', 'weights.bin', '--image-size', '32', '--num-channels', '32', '--channel-mult', '1,2', '--attention-resolutions', '', '--max-slices', '1', '--results-dir', path.join(tmp, 'bad-resume')], /modelNNNNNN\.safetensors/],
  ];
  it.each(cases)('%s', async (_name, argv, re) => {
    await expect(trainCli(argv, quiet)).rejects.toThrow(re);
  });

  it('names the slice folder of a broken phantom slice', async () => {
    await expectBrokenSliceNamed(path.join(PHANTOM, 'training', '91000000_78'), 'phantom');
  });

  it('refuses a config that would overflow the wasm heap, saying what to change', async () => {
    await expect(trainCli(['diffusion', '--data-dir', PHANTOM, '--results-dir', path.join(tmp, 'huge'), '--image-size', '256', '--num-channels', '32',
      '--channel-mult', '1,1', '--attention-resolutions', '', '--num-res-blocks', '1', '--batch-size', '512', '--max-slices', '1'], quiet))
      .rejects.toThrow(/more than the wasm backend can hold safely.*reduce batch_size/);
  });

  it('ships small and paper configs for every training command', async () => {
    const schemas = { diffusion: DIFFUSION_SCHEMA, regressor: REGRESSOR_SCHEMA, segmenter: SEGMENTER_SCHEMA };
    for (const [cmd, schema] of Object.entries(schemas)) {
      for (const preset of ['small', 'paper']) {
        const cfg = resolveConfig<Record<string, unknown>>(schema, { file: configFile(cmd, preset), flags: new Map([['data_dir', 'x']]) });
        expect(cfg['image_size']).toBe(preset === 'small' ? 64 : 256);
      }
      const out = await stdoutOf(() => trainCli([cmd, '--help'], quiet));
      expect(out).toContain(`tumorcast-train ${cmd}`);
    }
    await expect(trainCli(['diffusion', '--config', 'small', '--data-dir', PHANTOM, '--results-dir', path.join(tmp, 'small-0'), '--iterations', '0'], quiet))
      .rejects.toBeInstanceOf(CliError);
  });

  it('does not leak tensors across training steps', async () => {
    const dir = path.join(tmp, 'leak');
    await trainCli(args('diffusion', dir, [...tinyDiffusion, '--iterations', '2']), quiet);
    const n = tf.memory().numTensors;
    await trainCli(args('diffusion', path.join(tmp, 'leak2'), [...tinyDiffusion, '--iterations', '4']), quiet);
    expect(tf.memory().numTensors).toBe(n);
  });
});

describe('tumorcast-train regressor --adversarial-epsilon', () => {
  it('trains on perturbed x_t: the first step\'s loss is above that of the same run without the flag', async () => {
    const common = ['--image-size', '32', '--regressor-width', '32', '--regressor-depth', '1', '--regressor-channel-mult', '1,2',
      '--regressor-attention-resolutions', '16', '--regressor-num-head-channels', '32', '--batch-size', '2', '--max-slices', '2',
      '--diffusion-steps', '100', '--save-interval', '0', '--iterations', '1', '--seed', '5'];
    const firstLoss = async (dir: string, extra: string[]): Promise<number> => {
      expect(await trainCli(args('regressor', path.join(tmp, dir), [...common, ...extra]), quiet)).toBe(0);
      const rows = fs.readFileSync(path.join(tmp, dir, 'log.csv'), 'utf8').trim().split('\n').map((l) => l.split(','));
      return Number(rows[1]![rows[0]!.indexOf('loss')]);
    };
    const plain = await firstLoss('adv-off', []);
    // same weights, slices, timesteps and noise: only the perturbation differs, and it raises the squared error
    const adversarial = await firstLoss('adv-on', ['--adversarial-epsilon', '1', '--adversarial-steps', '2']);
    expect(Number.isFinite(plain)).toBe(true);
    expect(adversarial).toBeGreaterThan(plain);
    const cfg = JSON.parse(fs.readFileSync(path.join(tmp, 'adv-on', 'config.json'), 'utf8')) as Record<string, unknown>;
    expect([cfg['adversarial_epsilon'], cfg['adversarial_steps']]).toEqual([1, 2]);
  });
});

describe('tumorcast-train prepare', () => {
  it('turns 3-D BraTS volumes into tumour-bearing slice folders', async () => {
    const { saveNifti } = await import('@tumorcast/nifti/node');
    const { listSamples } = await import('@tumorcast/dataset');
    const caseDir = path.join(tmp, 'volumes', 'BraTS-GLI-00001-000');
    fs.mkdirSync(caseDir, { recursive: true });
    const [X, Y, Z] = [16, 16, 5];
    const affine = [[1, 0, 0, 0], [0, 1, 0, 0], [0, 0, 1, 0], [0, 0, 0, 1]];
    for (const mod of ['t1n', 't1c', 't2w', 't2f', 'seg']) {
      const data = new Float32Array(X * Y * Z);
      for (let z = 0; z < Z; z++) for (let y = 2; y < 14; y++) for (let x = 2; x < 14; x++) {
        const i = x + X * (y + Y * z);
        data[i] = mod === 'seg' ? (z >= 2 && z <= 3 && x < 6 && y < 6 ? 2 : 0) : 10 + x + y;
      }
      await saveNifti(path.join(caseDir, `BraTS-GLI-00001-000-${mod}.nii.gz`), { shape: [X, Y, Z], data, affine });
    }
    const out = path.join(tmp, 'prepared');
    expect(await trainCli(['prepare', '--input', path.join(tmp, 'volumes'), '--out', out, '--slices', 'tumour'], quiet)).toBe(0);
    const samples = await listSamples(out, { split: 'training', requireLabels: true });
    expect(samples.map((s) => s.slice).sort()).toEqual([2, 3]);
    await expect(trainCli(['prepare', '--input', path.join(tmp, 'volumes'), '--out', out, '--slices', '3:1'], quiet)).rejects.toThrow(/'a:b' with a < b/);
  });
});

describe('test hygiene', () => {
  it('wrote nothing into a default results folder of the working directory (every test passes --results-dir)', () => {
    const written = fs.existsSync(DEFAULT_RESULTS)
      ? fs.readdirSync(DEFAULT_RESULTS).filter((f) => fs.statSync(path.join(DEFAULT_RESULTS, f)).mtimeMs >= started - 1000)
      : [];
    expect(written).toEqual([]);
  });
});
