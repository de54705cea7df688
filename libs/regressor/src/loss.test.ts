import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import * as tf from '@tensorflow/tfjs';
import { initBackend, tfToTorch } from '@tumorcast/nn';
import { createDiffusion } from '@tumorcast/diffusion';
import { createRegressor, regressorTrainingLoss } from './index.js';
import type { Regressor } from './index.js';
import { loadAuthorsReference } from '../test/authors-fork.js';
import { loadAuthorsRegressor, maxRelErr, readGolden } from '../test/golden.js';

// Golden values: tools/networks/make_regressor_loss_fixture.py (PyTorch: the authors' tiny regressor,
// reference q_sample, F.mse_loss per image and its mean, autograd). Float32 on both sides: values
// agree to 1e-5 relative (measured: 5e-7); parameter gradients (through the whole network) to 1e-4 of
// their largest entry (measured: 4e-6).
const VALUE_TOL = 1e-5;
const GRAD_TOL = 1e-4;

interface Case {
  name: string;
  schedule: 'linear' | 'cosine';
  steps: number;
}

const { file, ref, image } = readGolden('regressor_loss.safetensors');
let net: Regressor;

beforeAll(async () => {
  await initBackend({ log: false });
  net = await loadAuthorsRegressor();
});
afterAll(() => net.dispose());

const cases = (): Case[] => JSON.parse(file.metadata['cases']!) as Case[];

describe('regressorTrainingLoss against PyTorch', () => {
  it('has the reference predictions, per-image squared errors and batch loss', () => {
    for (const c of cases()) {
      const diffusion = createDiffusion({ steps: c.steps, schedule: c.schedule });
      const t = Array.from(ref(`${c.name}.t`).data);
      tf.tidy(() => {
        const x0 = image(`${c.name}.x0`);
        const noise = image(`${c.name}.noise`);
        const burden = Array.from(ref(`${c.name}.burden`).data);
        const { loss, prediction } = regressorTrainingLoss(diffusion, net, x0, t, noise, burden);
        expect(loss.shape).toEqual([t.length]);
        expect(maxRelErr(prediction.dataSync(), ref(`${c.name}.prediction`).data)).toBeLessThan(VALUE_TOL);
        expect(maxRelErr(loss.dataSync(), ref(`${c.name}.loss`).data)).toBeLessThan(VALUE_TOL);
        expect(maxRelErr(loss.mean().dataSync(), ref(`${c.name}.mean`).data)).toBeLessThan(VALUE_TOL);
      });
    }
  });

  it("has the reference gradients of the batch loss with respect to the regressor's weights", () => {
    for (const c of cases()) {
      const diffusion = createDiffusion({ steps: c.steps, schedule: c.schedule });
      const t = Array.from(ref(`${c.name}.t`).data);
      const names = [...file.tensors.keys()].filter((k) => k.startsWith(`${c.name}.grad.`)).map((k) => k.slice(`${c.name}.grad.`.length));
      expect(names.length).toBeGreaterThanOrEqual(8);
      tf.tidy(() => {
        const x0 = image(`${c.name}.x0`);
        const noise = image(`${c.name}.noise`);
        const burden = tf.tensor1d(ref(`${c.name}.burden`).data);
        const entries = names.map((n) => net.params.get(n));
        const { grads } = tf.variableGrads(
          () => regressorTrainingLoss(diffusion, net, x0, t, noise, burden).loss.mean() as tf.Scalar,
          entries.map((e) => e.variable),
        );
        for (const e of entries) {
          const got = tfToTorch(grads[e.variable.name]!.dataSync() as Float32Array, e.torchShape, e.layout);
          const want = ref(`${c.name}.grad.${e.name}`).data;
          // informative gradients: far from zero compared with the tolerance
          expect(Math.max(...want.map(Math.abs))).toBeGreaterThan(1e-3);
          expect({ name: e.name, err: maxRelErr(got, want) < GRAD_TOL }).toEqual({ name: e.name, err: true });
        }
      });
    }
  });
});

describe('regressorTrainingLoss', () => {
  // 20 steps: the fewest the linear schedule allows (its betas reach 0.02·1000/T <= 1)
  const diffusion = createDiffusion({ steps: 20 });
  const x0 = () => tf.zeros([2, 16, 16, 4]) as tf.Tensor4D;

  it('takes a function as the regressor (original timesteps, as the diffusion losses do) and leaks nothing', () => {
    const spaced = createDiffusion({ steps: 100, timestepRespacing: [10] });
    const seen: number[][] = [];
    // the first voxel of each image: no reduction, so the values are exact
    const model = (x: tf.Tensor4D, t: tf.Tensor1D) => {
      seen.push(Array.from(t.dataSync()));
      return tf.reshape(tf.slice(x, [0, 0, 0, 0], [x.shape[0], 1, 1, 1]), [x.shape[0]]) as tf.Tensor1D;
    };
    const before = tf.memory().numTensors;
    const xs = x0();
    const noise = tf.ones([2, 16, 16, 4]) as tf.Tensor4D;
    const { loss, prediction } = regressorTrainingLoss(spaced, model, xs, [0, 9], noise, [0.5, -0.25]);
    // respaced step 9 is original timestep 99; x_t = sqrt(1 - alpha_bar) * 1 with x0 = 0
    expect(seen).toEqual([[0, 99]]);
    const s = Array.from(spaced.sqrtOneMinusAlphasCumprod, (v) => Math.fround(v));
    const want = [s[0]!, s[9]!];
    const got = Array.from(prediction.dataSync());
    want.forEach((w, i) => expect(got[i]).toBeCloseTo(w, 6));
    const l = Array.from(loss.dataSync());
    expect(l[0]).toBeCloseTo((want[0]! - 0.5) ** 2, 6);
    expect(l[1]).toBeCloseTo((want[1]! + 0.25) ** 2, 6);
    tf.dispose([loss, prediction, xs, noise]);
    expect(tf.memory().numTensors).toBe(before);
  });

  it('refuses bad arguments naming them, without leaking', () => {
    const two = createRegressor({ ...loadAuthorsReference().regressorConfig, outChannels: 2 });
    tf.tidy(() => {
      const x = x0();
      const n = tf.randomNormal([2, 16, 16, 4]) as tf.Tensor4D;
      const n3 = tf.zeros([2, 16, 16, 3]) as tf.Tensor4D;
      const x3 = tf.zeros([16, 16, 4]);
      const b3 = tf.zeros([3]) as tf.Tensor1D;
      const before = tf.memory().numTensors;
      expect(() => regressorTrainingLoss(diffusion, net, x, [0, 1], n, [0.1])).toThrow(/'burden' passed to 'regressorTrainingLoss' must hold one value per image \(2\), got 1 values/);
      expect(() => regressorTrainingLoss(diffusion, net, x, [0, 1], n, [0.1, Number.NaN])).toThrow(/'burden' .* finite numbers, got NaN/);
      expect(() => regressorTrainingLoss(diffusion, net, x, [0, 20], n, [0.1, 0.2])).toThrow(/'t' passed to 'regressorTrainingLoss' must hold integers in \[0, 20\), got 20/);
      expect(() => regressorTrainingLoss(diffusion, net, x, [0], n, [0.1, 0.2])).toThrow(/'t' .* one step index per image \(2\), got 1/);
      expect(() => regressorTrainingLoss(diffusion, net, x, 0, n3, [0.1, 0.2])).toThrow(/'noise' .* shape of x0 \[2,16,16,4\], got \[2,16,16,3\]/);
      expect(() => regressorTrainingLoss(diffusion, net, x3 as never, 0, n, [0.1, 0.2])).toThrow(/'x0' .* 4-D NHWC tensor/);
      expect(() => regressorTrainingLoss(diffusion, two, x, 0, n, [0.1, 0.2])).toThrow(/'regressor' .* one output \(outChannels 1\), got 2/);
      expect(() => regressorTrainingLoss(diffusion, 'net' as never, x, 0, n, [0.1, 0.2])).toThrow(/'regressor' .* a Regressor or a function/);
      expect(() => regressorTrainingLoss({} as never, net, x, 0, n, [0.1, 0.2])).toThrow(/'diffusion' .* createDiffusion/);
      expect(() => regressorTrainingLoss(diffusion, () => tf.zeros([3]) as tf.Tensor1D, x, 0, n, [0.1, 0.2])).toThrow(/'regressor' .* must return one value per image \(2\), got shape \[3\]/);
      expect(() => regressorTrainingLoss(diffusion, net, x, 0, n, b3)).toThrow(/'burden' .* one value per image \(2\), got shape \[3\]/);
      expect(tf.memory().numTensors).toBe(before);
    });
    two.dispose();
  });
});
