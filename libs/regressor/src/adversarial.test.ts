import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import * as tf from '@tensorflow/tfjs';
import { initBackend } from '@tumorcast/nn';
import { createDiffusion } from '@tumorcast/diffusion';
import { adversarialPerturbation, regressorTrainingLoss } from './index.js';
import type { Regressor } from './index.js';
import { loadAuthorsRegressor, maxRelErr, readGolden } from '../test/golden.js';

// Golden values: tools/networks/make_regressor_adversarial_fixture.py (PyTorch: the authors' tiny
// regressor, reference q_sample, L2 projected gradient ascent on the squared error with autograd's
// input gradient). Float32 on both sides. The perturbation agrees to 1e-4 of its largest entry
// (measured: 1.2e-6 to 1.8e-6 across the cases); its per-image length stays within 1e-5 of epsilon
// (measured: 2e-7 over); the predictions and per-image losses at x_t + delta agree to 1e-5 relative
// (measured: under 1e-6).
const DELTA_TOL = 1e-4;
const NORM_TOL = 1e-5;
const VALUE_TOL = 1e-5;

interface Case {
  name: string;
  epsilon: number;
  steps: number;
  step_size: number;
}

const { file, ref, image } = readGolden('regressor_adversarial.safetensors');
let net: Regressor;

beforeAll(async () => {
  await initBackend({ log: false });
  net = await loadAuthorsRegressor();
});
afterAll(() => net.dispose());

/** Per-image L2 norms of an NHWC batch. */
function norms(x: tf.Tensor4D): number[] {
  return tf.tidy(() => Array.from(tf.sqrt(tf.sum(tf.square(x), [1, 2, 3])).dataSync()));
}

const cases = (): Case[] => JSON.parse(file.metadata['cases']!) as Case[];
const diffusion = () => createDiffusion({ steps: Number(file.metadata['steps']), schedule: file.metadata['schedule'] as 'linear' });

describe('adversarialPerturbation against PyTorch', () => {
  it('has the reference perturbation, within epsilon per image, binding or not as the case says', () => {
    const d = diffusion();
    const t = Array.from(ref('t').data);
    const burden = Array.from(ref('burden').data);
    expect(cases().map((c) => c.steps)).toEqual([1, 3, 3]);
    for (const c of cases()) {
      tf.tidy(() => {
        const delta = adversarialPerturbation(d, net, image('x0'), t, image('noise'), burden, { epsilon: c.epsilon, steps: c.steps, stepSize: c.step_size });
        const want = ref(`${c.name}.delta`);
        expect(delta.shape).toEqual(want.shape);
        expect({ c: c.name, err: maxRelErr(delta.dataSync(), want.data) < DELTA_TOL }).toEqual({ c: c.name, err: true });
        const n = norms(delta);
        for (const v of n) expect(v).toBeLessThanOrEqual(c.epsilon + NORM_TOL);
        // cases a and b project onto the ball, c stops at most 0.6 epsilon out
        if (c.name === 'c') n.forEach((v) => expect(v).toBeLessThan(0.61 * c.epsilon));
        else n.forEach((v) => expect(v).toBeCloseTo(c.epsilon, 5));
      });
    }
  });

  it('uses 2.5 epsilon / steps as the default step size', () => {
    const d = diffusion();
    const t = Array.from(ref('t').data);
    const burden = Array.from(ref('burden').data);
    const c = cases().find((k) => k.name === 'b')!;
    expect(c.step_size).toBeCloseTo((2.5 * c.epsilon) / c.steps, 12);
    tf.tidy(() => {
      const delta = adversarialPerturbation(d, net, image('x0'), t, image('noise'), burden, { epsilon: c.epsilon, steps: c.steps });
      expect(maxRelErr(delta.dataSync(), ref('b.delta').data)).toBeLessThan(DELTA_TOL);
    });
  });

  it("gives regressorTrainingLoss's `perturbation` the reference loss at x_t + delta, above the clean loss", () => {
    const d = diffusion();
    const t = Array.from(ref('t').data);
    const burden = Array.from(ref('burden').data);
    const clean = ref('clean_loss').data;
    for (const c of cases()) {
      tf.tidy(() => {
        // the stored perturbation: this checks the loss's option on its own
        const { loss, prediction } = regressorTrainingLoss(d, net, image('x0'), t, image('noise'), burden, { perturbation: image(`${c.name}.delta`) });
        expect(maxRelErr(prediction.dataSync(), ref(`${c.name}.prediction`).data)).toBeLessThan(VALUE_TOL);
        const got = loss.dataSync();
        expect(maxRelErr(got, ref(`${c.name}.loss`).data)).toBeLessThan(VALUE_TOL);
        // the ascent raised every image's error (by 0.2 to 0.4 here, far above the tolerance)
        got.forEach((v, i) => expect(v).toBeGreaterThan(clean[i]! + 0.1));
      });
    }
    tf.tidy(() => {
      const { loss } = regressorTrainingLoss(d, net, image('x0'), t, image('noise'), burden);
      expect(maxRelErr(loss.dataSync(), clean)).toBeLessThan(VALUE_TOL);
    });
  });
});

describe('adversarialPerturbation', () => {
  // (linear T = 10 would scale beta past 1: x_t is NaN at its late steps)
  const d = createDiffusion({ steps: 100 });

  it('is zero for epsilon 0 and leaks nothing', () => {
    const x0 = tf.randomUniform([2, 16, 16, 4], -1, 1) as tf.Tensor4D;
    const noise = tf.randomNormal([2, 16, 16, 4]) as tf.Tensor4D;
    const before = tf.memory().numTensors;
    const delta = adversarialPerturbation(d, net, x0, [10, 70], noise, [0.2, 0.4], { epsilon: 0, steps: 2 });
    expect(delta.shape).toEqual([2, 16, 16, 4]);
    expect(Array.from(delta.dataSync()).every((v) => v === 0)).toBe(true);
    delta.dispose();
    // a tensor burden too; the perturbation is the only tensor left
    const burden = tf.tensor1d([0.1, 0.3]);
    const d3 = adversarialPerturbation(d, net, x0, 30, noise, burden, { epsilon: 0.5, steps: 3 });
    expect(tf.memory().numTensors).toBe(before + 2);
    // finite and on the ball (3 steps of 2.5 eps / 3 along a consistent ascent direction)
    norms(d3).forEach((v) => expect(v).toBeCloseTo(0.5, 5));
    const afterInputs = tf.memory().numTensors;
    const { loss, prediction } = regressorTrainingLoss(d, net, x0, 30, noise, burden, { perturbation: d3 });
    tf.dispose([loss, prediction]);
    expect(tf.memory().numTensors).toBe(afterInputs);
    tf.dispose([d3, burden]);
    expect(tf.memory().numTensors).toBe(before);
    tf.dispose([x0, noise]);
  });

  it('takes a function as the regressor: with a linear model the step is the normalised weight direction', () => {
    // R(x) = sum(w * x): the gradient of (R - b)² is 2 (R - b) w, so one step of length 2.5 eps along it,
    // projected, is eps * sign(R - b) * w / ||w||, whatever x_t is.
    const w = tf.tensor4d(Array.from({ length: 2 * 2 * 1 }, (_, i) => i + 1), [1, 2, 2, 1]);
    const wNorm = Math.sqrt(1 + 4 + 9 + 16);
    const seen: number[][] = [];
    const model = (x: tf.Tensor4D, t: tf.Tensor1D) => {
      seen.push(Array.from(t.dataSync()));
      return tf.sum(tf.mul(x, w), [1, 2, 3]) as tf.Tensor1D;
    };
    const spaced = createDiffusion({ steps: 100, timestepRespacing: [10] });
    tf.tidy(() => {
      const x0 = tf.ones([2, 2, 2, 1]) as tf.Tensor4D;
      const noise = tf.zeros([2, 2, 2, 1]) as tf.Tensor4D;
      // R(x_t) = sqrt(alpha_bar) * 10 > 0 for image 0 (burden -5), below the burden 100 for image 1
      const delta = adversarialPerturbation(spaced, model, x0, [0, 9], noise, [-5, 100], { epsilon: 0.3 });
      const got = Array.from(delta.dataSync());
      const want = [...[1, 2, 3, 4].map((v) => (0.3 * v) / wNorm), ...[1, 2, 3, 4].map((v) => (-0.3 * v) / wNorm)];
      want.forEach((v, i) => expect(got[i]).toBeCloseTo(v, 6));
    });
    // the original timesteps, once per step
    expect(seen).toEqual([[0, 99]]);
    w.dispose();
  });

  it('refuses bad options and a badly shaped perturbation, naming them, without leaking', () => {
    tf.tidy(() => {
      const x = tf.zeros([2, 16, 16, 4]) as tf.Tensor4D;
      const n = tf.zeros([2, 16, 16, 4]) as tf.Tensor4D;
      const p3 = tf.zeros([2, 16, 16, 3]) as tf.Tensor4D;
      const before = tf.memory().numTensors;
      const call = (o: object) => () => adversarialPerturbation(d, net, x, 0, n, [0.1, 0.2], o as never);
      expect(call({ epsilon: -1 })).toThrow(/'options.epsilon' passed to 'adversarialPerturbation' must be a finite number >= 0, got -1/);
      expect(call({ epsilon: Number.NaN })).toThrow(/'options.epsilon' .* got NaN/);
      expect(call({})).toThrow(/'options.epsilon' .* got undefined/);
      expect(() => adversarialPerturbation(d, net, x, 0, n, [0.1, 0.2], undefined as never)).toThrow(/'options.epsilon' .* got undefined/);
      expect(call({ epsilon: 0.5, steps: 0 })).toThrow(/'options.steps' passed to 'adversarialPerturbation' must be an integer >= 1, got 0/);
      expect(call({ epsilon: 0.5, steps: 1.5 })).toThrow(/'options.steps' .* got 1.5/);
      expect(call({ epsilon: 0.5, stepSize: -0.1 })).toThrow(/'options.stepSize' .* finite number >= 0, got -0.1/);
      expect(() => adversarialPerturbation(d, net, x, [0, 100], n, [0.1, 0.2], { epsilon: 0.5 })).toThrow(/'t' passed to 'adversarialPerturbation' must hold integers in \[0, 100\), got 100/);
      expect(() => adversarialPerturbation(d, net, x, 0, n, [0.1], { epsilon: 0.5 })).toThrow(/'burden' passed to 'adversarialPerturbation' must hold one value per image \(2\)/);
      expect(() => regressorTrainingLoss(d, net, x, 0, n, [0.1, 0.2], { perturbation: p3 })).toThrow(
        /'options.perturbation' passed to 'regressorTrainingLoss' must have the shape of x0 \[2,16,16,4\], got \[2,16,16,3\]/,
      );
      expect(() => regressorTrainingLoss(d, net, x, 0, n, [0.1, 0.2], { perturbation: [0] as never })).toThrow(/'options.perturbation' .* got object/);
      expect(tf.memory().numTensors).toBe(before);
    });
  });
});
