/**
 * The library's options: defaults, the checks (each error names the option,
 * exit code 2), the abort signal, and what a checkpoint records as the run's
 * config. Expected values are written out by hand.
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { CliError } from '@tumorcast/cli';
import { initBackend, loadSafetensors } from '@tumorcast/nn';
import {
  openSlices, regressorConfigOf, resolveDiffusionTrainingOptions, resolveRegressorTrainingOptions, resolveSegmenterTrainingOptions,
  resolveTrainingOptions, trainSegmenter, unetConfigOf, validateCheckpoint,
} from './index.js';
import { writeSlices } from './test-utils/slices.js';

let tmp: string;
let data: string;
beforeAll(async () => {
  tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'tc-training-options-'));
  data = await writeSlices(path.join(tmp, 'data'), 2, { size: 32 });
  await initBackend({ backend: 'wasm', log: false });
});
afterAll(() => fs.rmSync(tmp, { recursive: true, force: true }));

/** The CliError `f` throws (or rejects with). */
async function errorOf(f: () => unknown): Promise<CliError> {
  try {
    await f();
  } catch (e) {
    expect(e).toBeInstanceOf(CliError);
    return e as CliError;
  }
  throw new Error('expected an error');
}

describe('options', () => {
  it('fill in the documented defaults, also for keys set to undefined', () => {
    const o = resolveTrainingOptions({ dataDir: ['d'], lr: undefined });
    expect(o).toMatchObject({
      dataDir: ['d'], imageSize: 256, lr: 1e-4, weightDecay: 0, batchSize: 10, iterations: 100000, saveInterval: 5000,
      evalInterval: 0, resultsDir: './results', seed: 0, maxSlices: 0,
    });
    expect(resolveDiffusionTrainingOptions({ dataDir: ['d'] })).toMatchObject({
      diffusionSteps: 1000, noiseSchedule: 'linear', dataRange: '[-1,1]', numChannels: 128, numResBlocks: 2, channelMult: [],
      attentionResolutions: [16], numHeads: 1, numHeadChannels: -1, learnSigma: true, classCond: true, useScaleShiftNorm: false,
      resblockUpdown: false, dropout: 0, useCheckpoint: false, emaRate: 0.9999,
    });
    expect(resolveRegressorTrainingOptions({ dataDir: ['d'] })).toMatchObject({
      regressorWidth: 32, regressorDepth: 4, regressorAttentionResolutions: [32, 16, 8], regressorNumHeadChannels: 64,
      regressorHead: 'regression', regressorUseCheckpoint: false, maxTimestep: 0, adversarialEpsilon: 0, adversarialSteps: 1,
    });
    expect(resolveSegmenterTrainingOptions({ dataDir: ['d'] })).toMatchObject({ baseChannels: 32, channelMult: [1, 2, 2], numResBlocks: 1, diceWeight: 1, bceWeight: 1 });
  });

  it('describe the networks: U-Net and regressor configs from the options', () => {
    expect(unetConfigOf({ imageSize: 64, numChannels: 64, channelMult: [1, 2], classCond: false })).toMatchObject({
      imageSize: 64, inChannels: 4, modelChannels: 64, numResBlocks: 2, channelMult: [1, 2], numClasses: null, attentionResolutions: [16],
    });
    expect(unetConfigOf({})).not.toHaveProperty('channelMult');
    expect(regressorConfigOf({ imageSize: 64, regressorHead: 'classifier' })).toMatchObject({
      imageSize: 64, inChannels: 4, outChannels: 1, modelChannels: 32, numResBlocks: 4, head: 'classifier', pool: 'attention',
    });
  });

  it('are refused with the option named and exit code 2', async () => {
    const cases: [() => unknown, string][] = [
      [() => resolveTrainingOptions({ dataDir: [] }), 'dataDir must be a non-empty list of data set root folders, got []'],
      [() => resolveTrainingOptions({ dataDir: ['d'], batchSize: 0 }), 'batchSize must be >= 1, got 0'],
      [() => resolveTrainingOptions({ dataDir: ['d'], imageSize: 31.5 }), 'imageSize must be an integer, got 31.5'],
      [() => resolveTrainingOptions({ dataDir: ['d'], lr: Number.NaN }), 'lr must be a finite number, got null'],
      [() => resolveDiffusionTrainingOptions({ dataDir: ['d'], noiseSchedule: 'cos' as never }), "noiseSchedule must be 'linear' or 'cosine', got 'cos'"],
      [() => resolveDiffusionTrainingOptions({ dataDir: ['d'], diffusionSteps: 19 }),
        "diffusionSteps must be >= 20 with the linear noise schedule (its betas exceed 1 below that), got 19; use more steps or noiseSchedule 'cosine'"],
      [() => resolveRegressorTrainingOptions({ dataDir: ['d'], diffusionSteps: 10 }),
        "diffusionSteps must be >= 20 with the linear noise schedule (its betas exceed 1 below that), got 10; use more steps or noiseSchedule 'cosine'"],
      [() => resolveDiffusionTrainingOptions({ dataDir: ['d'], dataRange: '0,1' as never }), "dataRange must be '[-1,1]' or '[0,1]', got '0,1'"],
      [() => resolveDiffusionTrainingOptions({ dataDir: ['d'], dropout: 2 }), 'dropout must be <= 1, got 2'],
      [() => resolveRegressorTrainingOptions({ dataDir: ['d'], regressorHead: 'linear' as never }), "regressorHead must be 'regression' or 'classifier', got 'linear'"],
      [() => resolveRegressorTrainingOptions({ dataDir: ['d'], adversarialEpsilon: -1 }), 'adversarialEpsilon must be >= 0, got -1'],
      [() => resolveRegressorTrainingOptions({ dataDir: ['d'], adversarialEpsilon: Number.NaN }), 'adversarialEpsilon must be a finite number, got null'],
      [() => resolveRegressorTrainingOptions({ dataDir: ['d'], adversarialSteps: 0 }), 'adversarialSteps must be >= 1, got 0'],
      [() => resolveRegressorTrainingOptions({ dataDir: ['d'], adversarialSteps: 1.5 }), 'adversarialSteps must be an integer, got 1.5'],
      [() => resolveSegmenterTrainingOptions({ dataDir: ['d'], baseChannels: 16 }), 'baseChannels must be >= 32, got 16'],
      [() => validateCheckpoint({ checkpoint: '', dataDir: [data] }), 'checkpoint must be a modelNNNNNN.safetensors path, got ""'],
      [() => validateCheckpoint({ checkpoint: 'm.safetensors', dataDir: [data], timestepsPerSlice: 0 }), 'timestepsPerSlice must be >= 1, got 0'],
      [() => openSlices([]), 'openSlices: roots must be a non-empty list of data set root folders, got []'],
    ];
    for (const [f, message] of cases) {
      const e = await errorOf(f);
      expect([e.message, e.exitCode]).toEqual([message, 2]);
    }
    // the bound is the linear schedule's: 20 linear steps and 10 cosine ones are fine
    expect(resolveDiffusionTrainingOptions({ dataDir: ['d'], diffusionSteps: 20 }).diffusionSteps).toBe(20);
    expect(resolveDiffusionTrainingOptions({ dataDir: ['d'], diffusionSteps: 10, noiseSchedule: 'cosine' }).diffusionSteps).toBe(10);
  });
});

describe('trainSegmenter', () => {
  const tiny = () => ({ dataDir: [data], imageSize: 32, batchSize: 2, iterations: 3, saveInterval: 0, log: () => undefined });

  it('stops before the next step when the abort signal fires, with a checkpoint, and records the options as the config', async () => {
    const dir = path.join(tmp, 'abort');
    const controller = new AbortController();
    controller.abort();
    const r = await trainSegmenter({ ...tiny(), resultsDir: dir, signal: controller.signal });
    expect(r).toEqual({ stepsDone: 0, interrupted: true, lastCheckpoint: path.join(dir, 'model000000.safetensors') });
    const meta = (await loadSafetensors(r.lastCheckpoint!)).metadata;
    expect(meta['tumorcast.kind']).toBe('segmenter');
    const config = JSON.parse(meta['tumorcast.config']!) as Record<string, unknown>;
    // the resolved options without functions and signals
    expect(config).toMatchObject({ dataDir: [data], imageSize: 32, batchSize: 2, iterations: 3, resultsDir: dir, lr: 1e-4, seed: 0 });
    expect(Object.keys(config)).not.toContain('log');
    expect(Object.keys(config)).not.toContain('signal');
  });

  it('records the caller\'s config as given', async () => {
    const dir = path.join(tmp, 'config');
    const r = await trainSegmenter({ ...tiny(), iterations: 1, resultsDir: dir, config: { batch_size: 2, note: 'mine' } });
    expect(r.stepsDone).toBe(1);
    const meta = (await loadSafetensors(r.lastCheckpoint!)).metadata;
    expect(JSON.parse(meta['tumorcast.config']!)).toEqual({ batch_size: 2, note: 'mine' });
  });
});
