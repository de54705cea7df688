/**
 * Fine-tuning from a weights file (`initWeights`): the run starts at step 0
 * from exactly the file's values (float16 decoded here from the raw bytes,
 * independently of the package), the diffusion model's EMA starts there
 * too, the file is recorded, and a file that does not fit the run is refused
 * before training with a message naming it and what differs.
 */
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { createHash } from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { CliError } from '@tumorcast/cli';
import { initBackend } from '@tumorcast/nn';
import type { Module } from '@tumorcast/nn';
import { createSegmenterNet } from '@tumorcast/segmenter';
import { createUNet } from '@tumorcast/unet';
import { trainSegmenter } from './segmenter.js';
import type { SegmenterTrainingOptions } from './segmenter.js';
import { trainDiffusion, unetConfigOf } from './diffusion.js';
import type { DiffusionTrainingOptions } from './diffusion.js';
import { resolveTrainingOptions } from './options.js';
import { INIT_WEIGHTS_KEY } from './init-weights.js';
import { DIFFUSION_CONFIG_KEY, SEGMENTER_CONFIG_KEY, UNET_CONFIG_KEY } from './metadata.js';
import { writeSlices } from './test-utils/slices.js';
import { halfToFloat, rawValues, readRawSafetensors, writeRandomF16Safetensors } from './test-utils/raw-safetensors.js';

let tmp: string;
let data: string;
beforeAll(async () => {
  tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'tc-init-weights-'));
  data = await writeSlices(path.join(tmp, 'data'), 3, { size: 32 });
  await initBackend({ backend: 'wasm', log: false });
});
afterAll(() => fs.rmSync(tmp, { recursive: true, force: true }));

const segNet = { imageSize: 16, baseChannels: 32, channelMult: [1, 2], numResBlocks: 1 };
const unetNet = { imageSize: 16, numChannels: 32, numResBlocks: 1, channelMult: [1, 2], attentionResolutions: [], diffusionSteps: 50 };

/**
 * One step at learning rate 1e-30 (AdamW refuses 0): the first Adam step
 * moves a weight by at most the learning rate, so the saved weights are the
 * starting ones to within 1e-30 (bit-exact for every non-zero float16 value,
 * whose float32 ulp is above 1e-15).
 */
const TINY_LR = 1e-30;
function common(dir: string, initWeights: string | undefined, logs: string[] = []) {
  return {
    dataDir: [data], batchSize: 1, iterations: 1, lr: TINY_LR, saveInterval: 0, resultsDir: path.join(tmp, dir), seed: 3,
    log: (m: string) => void logs.push(m), ...(initWeights ? { initWeights } : {}),
  };
}

/** PyTorch names to shapes of a network. */
function shapesOf(net: Module): Map<string, number[]> {
  const out = new Map(net.params.entries().map((e) => [e.name, [...e.torchShape]]));
  net.dispose();
  return out;
}

/** Expects every tensor of `file` (F32) to equal the float16 `bits` (exactly, but for the {@link TINY_LR} step on zeros). */
function expectEqualsHalves(file: string, bits: Map<string, Uint16Array>): void {
  const { tensors } = readRawSafetensors(file);
  expect([...tensors.keys()].sort()).toEqual([...bits.keys()].sort());
  for (const [name, b] of bits) {
    const got = rawValues(tensors.get(name)!);
    const want = Array.from(b, halfToFloat);
    // Every float16 value is a float32 value: a wrong conversion is off by at least a float16 ulp (>= 6e-8).
    const bad = got.findIndex((v, i) => (want[i] === 0 ? Math.abs(v) > 1e-25 : v !== want[i]));
    expect([name, bad, got[bad], want[bad]]).toEqual([name, -1, undefined, undefined]);
  }
}

describe('initWeights', () => {
  let segFile: string;
  let segBits: Map<string, Uint16Array>;
  beforeAll(() => {
    const net = createSegmenterNet({ ...segNet, inChannels: 4 }, { seed: 9 });
    const meta = { 'tumorcast.kind': 'segmenter', [SEGMENTER_CONFIG_KEY]: JSON.stringify(net.config) };
    segFile = path.join(tmp, 'seg-f16.safetensors');
    segBits = writeRandomF16Safetensors(segFile, shapesOf(net), meta, 11);
  });

  it('a float16 file: the run starts at step 0 from exactly its values, fresh optimiser, file and sha256 recorded', async () => {
    const logs: string[] = [];
    const o: SegmenterTrainingOptions = { ...common('seg-ok', segFile, logs), ...segNet };
    const r = await trainSegmenter(o);
    expect(r.stepsDone).toBe(1);
    const model = path.join(tmp, 'seg-ok', 'model000001.safetensors');
    expect(r.lastCheckpoint).toBe(model);
    expectEqualsHalves(model, segBits);
    const sha = createHash('sha256').update(fs.readFileSync(segFile)).digest('hex');
    const { metadata } = readRawSafetensors(model);
    expect(JSON.parse(metadata[INIT_WEIGHTS_KEY]!)).toEqual({ file: segFile, sha256: sha });
    // A fresh optimiser: one step taken in all.
    expect(readRawSafetensors(path.join(tmp, 'seg-ok', 'opt000001.safetensors')).metadata['tumorcast.opt_step']).toBe('1');
    expect(logs.some((l) => l.includes(segFile) && l.includes(sha) && /step 0/.test(l))).toBe(true);
  });

  it('the diffusion model: the EMA starts from the file\'s weights too; a checkpoint\'s EMA file is a valid start', async () => {
    const net = createUNet(unetConfigOf(unetNet), { seed: 9 });
    const meta = {
      'tumorcast.kind': 'diffusion', [UNET_CONFIG_KEY]: JSON.stringify(net.config),
      [DIFFUSION_CONFIG_KEY]: JSON.stringify({ steps: 50, schedule: 'linear', learnSigma: true }),
    };
    const file = path.join(tmp, 'unet-f16.safetensors');
    const bits = writeRandomF16Safetensors(file, shapesOf(net), meta, 12);
    const o: DiffusionTrainingOptions = { ...common('unet-ok', file), ...unetNet, emaRate: 0.9 };
    await trainDiffusion(o);
    expectEqualsHalves(path.join(tmp, 'unet-ok', 'model000001.safetensors'), bits);
    // EMA = 0.9 e + 0.1 w with e = w: w up to float32 rounding (relative 1e-6), not a random initialisation.
    const ema = readRawSafetensors(path.join(tmp, 'unet-ok', 'ema000001.safetensors')).tensors;
    let worst = 0;
    for (const [name, b] of bits) {
      const got = rawValues(ema.get(name)!);
      b.forEach((h, i) => void (worst = Math.max(worst, Math.abs(got[i]! - halfToFloat(h)) / Math.max(1e-3, Math.abs(halfToFloat(h))))));
    }
    expect(worst).toBeLessThan(1e-6);

    // A checkpoint of that run, its EMA file: accepted without optimiser state; a checkpoint of another data range is refused.
    const emaFile = path.join(tmp, 'unet-ok', 'ema000001.safetensors');
    await trainDiffusion({ ...common('unet-from-ema', emaFile), ...unetNet, emaRate: 0.9 });
    const fromEma = readRawSafetensors(path.join(tmp, 'unet-from-ema', 'model000001.safetensors')).tensors;
    for (const [name, t] of ema) {
      const want = rawValues(t);
      const got = rawValues(fromEma.get(name)!);
      // A step of at most 1e-30 (see TINY_LR) leaves every float32 weight above 1e-22 in magnitude as it was.
      expect([name, got.findIndex((v, i) => (Math.abs(want[i]!) < 1e-22 ? Math.abs(v - want[i]!) > 1e-25 : v !== want[i]))]).toEqual([name, -1]);
    }
    await expect(trainDiffusion({ ...common('unet-range', emaFile), ...unetNet, dataRange: '[0,1]' }))
      .rejects.toThrow(/ema000001\.safetensors: it was trained with data_range '\[-1,1\]' but this run has '\[0,1\]'; set data_range/);

    // The same file with another diffusion process recorded than the run's: refused, naming the field.
    await expect(trainDiffusion({ ...common('unet-steps', file), ...unetNet, diffusionSteps: 100 }))
      .rejects.toThrow(new RegExp(`--init-weights ${file.replace(/[.]/g, '\\.')} does not fit .*'${DIFFUSION_CONFIG_KEY}' has steps 50 but this run builds 100`));
  });

  it('a PyTorch .pt state_dict (float16, written by torch.save): the run starts from its values', async () => {
    // Fixture and oracle: tools/training/make_init_weights_fixture.py (numpy widens the float16 values).
    const pt = fileURLToPath(new URL('../test/fixtures/segmenter-tiny-f16.pt', import.meta.url));
    const expected = JSON.parse(fs.readFileSync(pt.replace(/\.pt$/, '.json'), 'utf8')) as {
      config: { baseChannels: number; channelMult: number[]; numResBlocks: number };
      tensors: Record<string, { shape: number[]; first: number[]; sum: number }>;
    };
    const net = { imageSize: 8, ...expected.config };
    await trainSegmenter({ ...common('seg-pt', pt), ...net });
    const got = readRawSafetensors(path.join(tmp, 'seg-pt', 'model000001.safetensors'));
    expect([...got.tensors.keys()].sort()).toEqual(Object.keys(expected.tensors).sort());
    expect(JSON.parse(got.metadata[INIT_WEIGHTS_KEY]!).file).toBe(pt);
    for (const [name, e] of Object.entries(expected.tensors)) {
      const t = got.tensors.get(name)!;
      expect([name, t.shape]).toEqual([name, e.shape]);
      const v = rawValues(t);
      const bad = e.first.findIndex((w, i) => (w === 0 ? Math.abs(v[i]!) > 1e-25 : v[i] !== w));
      expect([name, bad]).toEqual([name, -1]);
      // The sum of every value (float64): within 1e-9 relative (the summation order may differ from numpy's).
      const sum = v.reduce((a, b) => a + b, 0);
      expect([name, Math.abs(sum - e.sum) <= 1e-9 * (1 + Math.abs(e.sum))]).toEqual([name, true]);
    }
    // The same file in a wider network: refused, naming the first parameter and both shapes.
    await expect(trainSegmenter({ ...common('seg-pt-wide', pt), ...net, baseChannels: 64 }))
      .rejects.toThrow(/segmenter-tiny-f16\.pt does not fit .*parameter 'in_conv\.weight' has shape \[32, 4, 3, 3\] in the file but \[64, 4, 3, 3\]/);
  });

  it('a file of another network shape: refused before training, naming the file, the first parameter and both shapes', async () => {
    const o: SegmenterTrainingOptions = { ...common('seg-wide', segFile), ...segNet, baseChannels: 64 };
    const err = await trainSegmenter(o).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(CliError);
    expect((err as CliError).exitCode).toBe(2);
    const m = (err as Error).message;
    expect(m).toContain(segFile);
    expect(m).toMatch(/parameter 'in_conv\.weight' has shape \[32, 4, 3, 3\] in the file but \[64, 4, 3, 3\] in the network/);
    expect(m).toMatch(/baseChannels 32 but this run builds 64/);
    expect(m).toMatch(/--config/);
    expect(fs.existsSync(path.join(tmp, 'seg-wide', 'model000001.safetensors'))).toBe(false);
  });

  it('a file of another kind of network: refused, naming both kinds', async () => {
    const net = createSegmenterNet({ ...segNet, inChannels: 4 }, { seed: 9 });
    const file = path.join(tmp, 'says-regressor.safetensors');
    writeRandomF16Safetensors(file, shapesOf(net), { 'tumorcast.kind': 'regressor' });
    await expect(trainSegmenter({ ...common('seg-kind', file), ...segNet })).rejects.toThrow(/holds a regressor network, but this run trains a segmenter/);
  });

  it('a missing file: a usage error naming it', async () => {
    const missing = path.join(tmp, 'nope', 'model000100.safetensors');
    const err = await trainSegmenter({ ...common('seg-missing', missing), ...segNet }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(CliError);
    expect((err as CliError).exitCode).toBe(2);
    expect((err as Error).message).toContain(`--init-weights ${missing}: no such file`);
  });

  it('with resumeCheckpoint: a usage error naming both', () => {
    const both = () => resolveTrainingOptions({ dataDir: ['d'], initWeights: 'a.safetensors', resumeCheckpoint: 'latest' });
    expect(both).toThrow(CliError);
    expect(both).toThrow(/initWeights \(--init-weights a\.safetensors\) and resumeCheckpoint \(--resume-checkpoint latest\) cannot be combined/);
    try {
      both();
    } catch (e) {
      expect((e as CliError).exitCode).toBe(2);
    }
  });
});
