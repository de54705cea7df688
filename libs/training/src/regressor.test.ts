/**
 * Regressor training with adversarial perturbations (`adversarialEpsilon`):
 * a few steps of a tiny regressor on slices the test writes. The
 * perturbation's values are checked against PyTorch in @tumorcast/regressor;
 * here: the hook trains on the perturbed x_t, frees what it prepares, and
 * leaves a run without the option unchanged.
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import * as tf from '@tensorflow/tfjs';
import { initBackend } from '@tumorcast/nn';
import type { Regressor } from '@tumorcast/regressor';
import { regressorHooks, runTraining, trainRegressor } from './index.js';
import type { PreparedStepLoss, RegressorTrainingOptions, TrainHooks } from './index.js';
import { writeSlices } from './test-utils/slices.js';

let tmp: string;
let data: string;
beforeAll(async () => {
  tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'tc-training-regressor-'));
  data = await writeSlices(path.join(tmp, 'data'), 3, { size: 32 });
  await initBackend({ backend: 'wasm', log: false });
});
afterAll(() => fs.rmSync(tmp, { recursive: true, force: true }));

/** A tiny regressor (32x32, one level of blocks), 3 steps, no checkpoints between. */
function tiny(dir: string, over: Partial<RegressorTrainingOptions> = {}): RegressorTrainingOptions {
  return {
    dataDir: [data], resultsDir: path.join(tmp, dir), imageSize: 32, regressorWidth: 32, regressorDepth: 1, regressorChannelMult: [1, 2],
    regressorAttentionResolutions: [16], regressorNumHeadChannels: 32, batchSize: 2, iterations: 3, saveInterval: 0, lr: 1e-3,
    diffusionSteps: 100, seed: 7, log: () => undefined, ...over,
  };
}

/** The `loss` column of a run's log. */
function losses(dir: string): number[] {
  const rows = fs.readFileSync(path.join(tmp, dir, 'log.csv'), 'utf8').trim().split('\n').map((l) => l.split(','));
  const col = rows[0]!.indexOf('loss');
  return rows.slice(1).map((r) => Number(r[col]));
}

describe('regressor training with adversarialEpsilon', () => {
  it('trains on finite losses, frees each step\'s perturbation and keeps the tensor count flat across steps', async () => {
    const options = tiny('adv', { adversarialEpsilon: 0.5, adversarialSteps: 2 });
    const inner = regressorHooks(options);
    const atStep: number[] = [];
    const held: tf.Tensor[] = [];
    const hooks: TrainHooks<Regressor> = {
      ...inner,
      objective: (net, b, rng, step) => {
        atStep.push(tf.memory().numTensors);
        const prepared = inner.objective(net, b, rng, step) as PreparedStepLoss;
        // one [B, H, W, C] perturbation per step, alive while the step runs
        expect(prepared.held.map((t) => [t.shape, t.isDisposed])).toEqual([[[2, 32, 32, 4], false]]);
        held.push(...prepared.held);
        return prepared;
      },
    };
    const before = tf.memory().numTensors;
    const r = await runTraining(options, hooks);
    expect(r.stepsDone).toBe(3);
    const l = losses('adv');
    expect(l).toHaveLength(3);
    for (const v of l) expect(Number.isFinite(v)).toBe(true);
    expect(held).toHaveLength(3);
    expect(held.every((t) => t.isDisposed)).toBe(true);
    // step 0 creates the optimiser's moments; from then on nothing accumulates
    expect(atStep[2]).toBe(atStep[1]);
    expect(tf.memory().numTensors).toBe(before);
  });

  it('with epsilon 0 logs the losses of a run without the option; with epsilon > 0 the first loss is higher', async () => {
    await trainRegressor(tiny('plain'));
    await trainRegressor(tiny('zero', { adversarialEpsilon: 0, adversarialSteps: 3 }));
    await trainRegressor(tiny('one', { adversarialEpsilon: 0.5, iterations: 1 }));
    const plain = losses('plain');
    // same code path, same seed: a same-code equality, not an oracle
    expect(losses('zero')).toEqual(plain);
    // the same weights, slices, timesteps and noise at step 1: only the perturbation differs, and it raises the error
    expect(losses('one')[0]!).toBeGreaterThan(plain[0]!);
  });
});
