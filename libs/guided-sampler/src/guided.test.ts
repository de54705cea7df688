import { beforeAll, describe, expect, it } from '@jest/globals';
import * as tf from '@tensorflow/tfjs';
import { createDiffusion, normalTensor, type DiffusionModel } from '@tumorcast/diffusion';
import { Rng } from '@tumorcast/random';
import { guidedSampleKnown, regressorValueAndGrad, type RegressorFn } from './index.js';
import { maxAbsDiff } from '../../diffusion/src/test-utils/tiny-nets.js';
import { fx, shape, tinyGuidedNets } from './test-utils/tiny-guided.js';

let model!: DiffusionModel;
let regressor!: RegressorFn;
beforeAll(async () => ({ model, regressor } = await tinyGuidedNets()));

describe('guidedSampleKnown vs the PyTorch reference (tolerance 1e-3)', () => {
  for (const run of fx.runs) {
    it(`respacing '${run.respacing}', noise level ${run.noiseLevel} (${run.steps} steps), scale ${run.scale}`, async () => {
      const diffusion = createDiffusion({ steps: 1000, learnSigma: true, timestepRespacing: run.respacing });
      const image = tf.tensor4d(fx.image, shape);
      const common = {
        diffusion, model, regressor, image, baselineBurden: fx.baselineBurden, relativeChange: fx.relativeChange,
        noiseLevel: run.noiseLevel, classLabel: fx.classLabel, initialNoiseStd: 0, seed: 1,
      };
      const out = await guidedSampleKnown({ ...common, scale: run.scale });
      expect(out.steps).toBe(run.steps);
      expect(maxAbsDiff(out.latent, run.latent)).toBeLessThan(1e-3);
      expect(maxAbsDiff(out.sample, run.sample)).toBeLessThan(1e-3);
      expect(maxAbsDiff(out.predictions.flat(), run.predictions.flat())).toBeLessThan(1e-3);
      expect(maxAbsDiff(out.finalPrediction, run.finalPrediction)).toBeLessThan(1e-3);
      expect(maxAbsDiff(out.differenceMap, tf.abs(tf.sub(image, out.sample)).dataSync())).toBe(0);
      expect(out.timesteps[0]).toBe(diffusion.timestepMap[run.steps - 1]);
      expect(out.timesteps[out.timesteps.length - 1]).toBe(0);
      expect(out.targetBurden[0]).toBeCloseTo(0.2 * 1.5, 12);
      const zero = await guidedSampleKnown({ ...common, scale: 0 });
      expect(maxAbsDiff(zero.sample, run.sampleScale0)).toBeLessThan(1e-3);
      if (run.respacing) {
        // the reference's property: +change raises R, -change lowers it vs scale 0
        expect(out.finalPrediction[0]).toBeGreaterThan(zero.finalPrediction[0]!);
        expect(out.finalPrediction[1]).toBeLessThan(zero.finalPrediction[1]!);
      }
      tf.dispose([image, out.sample, out.latent, out.differenceMap, zero.sample, zero.latent, zero.differenceMap]);
    });
  }
});

// A zero-noise "identity-like" denoiser (x0 = x_t / sqrt(alpha_bar)) and a linear regressor R = mean(x).
const zeroModel: DiffusionModel = (x) => tf.zerosLike(x);
const meanRegressor: RegressorFn = (x) => tf.mean(x, [1, 2, 3]) as tf.Tensor1D;

function testImage(b = 2, h = 8, w = 8, c = 2): tf.Tensor4D {
  return tf.tidy(() => tf.mul(tf.randomUniform([b, h, w, c], -1, 1, 'float32', 11), 0.5) as tf.Tensor4D);
}

describe('properties', () => {
  const diffusion = createDiffusion({ steps: 1000 });

  it('scale 0: inversion + decoding over L = 200 steps reconstructs the input (identity-like denoiser)', async () => {
    const image = testImage(1);
    const out = await guidedSampleKnown({
      diffusion, model: zeroModel, regressor: meanRegressor, image, baselineBurden: 0.1, relativeChange: 0,
      scale: 0, initialNoiseStd: 0,
    });
    expect(out.steps).toBe(200);
    expect(maxAbsDiff(out.sample, image.dataSync())).toBeLessThan(2e-3);
    tf.dispose([image, out.sample, out.latent, out.differenceMap]);
  });

  it('a positive relative change raises the prediction, a negative one lowers it (vs scale 0)', async () => {
    const d = createDiffusion({ steps: 1000, timestepRespacing: 'ddim100' });
    const image = testImage(2);
    // R = mean(x) + 1 > 0; r0 = R(image): targets 1.8 r0 (above) and 0.2 r0 (below)
    const shifted: RegressorFn = (x) => tf.add(tf.mean(x, [1, 2, 3]), 1) as tf.Tensor1D;
    const r0 = tf.tidy(() => Array.from(shifted(image, tf.zeros([2]) as tf.Tensor1D).dataSync()));
    const opts = {
      diffusion: d, model: zeroModel, regressor: shifted, image, baselineBurden: r0, relativeChange: [0.8, -0.8],
      noiseLevel: 200, initialNoiseStd: 0,
    };
    const g = await guidedSampleKnown({ ...opts, scale: 500 });
    const z = await guidedSampleKnown({ ...opts, scale: 0 });
    expect(g.finalPrediction[0]).toBeGreaterThan(z.finalPrediction[0]! + 0.01);
    expect(g.finalPrediction[1]).toBeLessThan(z.finalPrediction[1]! - 0.01);
    tf.dispose([image, g.sample, g.latent, g.differenceMap, z.sample, z.latent, z.differenceMap]);
  });

  it('calls both networks with ORIGINAL timesteps under respacing, and amplifies the target while t > 20', async () => {
    const d = createDiffusion({ steps: 1000, timestepRespacing: 'ddim100' });
    const image = testImage(1);
    const modelT: number[] = [];
    const regT: number[] = [];
    const model: DiffusionModel = (x, t) => { modelT.push(t.dataSync()[0]!); return tf.zerosLike(x); };
    // R = 0 and dR/dx = 1/N everywhere: g = target' * scale / N reveals the target used.
    const gs: number[] = [];
    const regressor: RegressorFn = (x, t) => { regT.push(t.dataSync()[0]!); return tf.mul(tf.sum(x, [1, 2, 3]), 0) as tf.Tensor1D; };
    const out = await guidedSampleKnown({
      diffusion: d, model, regressor, image, baselineBurden: 0.5, relativeChange: 0, noiseLevel: 50, scale: 0, initialNoiseStd: 0,
      onProgress: (p) => { if (p.phase === 'decode') gs.push(p.timestep); },
    });
    expect(modelT).toEqual([0, 10, 20, 30, 40, 40, 30, 20, 10, 0]);
    expect(regT.slice(0, 5)).toEqual([40, 30, 20, 10, 0]);
    expect(gs).toEqual([40, 30, 20, 10, 0]);
    tf.dispose([image, out.sample, out.latent, out.differenceMap]);
  });

  it('amplifyEarlyTarget multiplies the target by 1.15 while the original t > 20', async () => {
    const d = createDiffusion({ steps: 1000, timestepRespacing: 'ddim100' });
    const image = tf.zeros([1, 2, 2, 1]) as tf.Tensor4D;
    // linear regressor R = sum(x)*w: the guidance term is (target - R) * w * s
    const seen: { t: number; target: number }[] = [];
    const regressor = {
      predict: (x: tf.Tensor4D) => tf.sum(x, [1, 2, 3]) as tf.Tensor1D,
      valueAndInputGradient: (x: tf.Tensor4D, t: tf.Tensor1D) => ({ value: tf.zeros([1]) as tf.Tensor1D, grad: tf.onesLike(x).mul(t.dataSync()[0]! + 1) as tf.Tensor4D }),
    };
    const model: DiffusionModel = (x) => tf.zerosLike(x);
    for (const amplify of [true, false]) {
      const out = await guidedSampleKnown({
        diffusion: d, model, regressor, image, baselineBurden: 0.2, relativeChange: 0, noiseLevel: 40, scale: 1,
        initialNoiseStd: 0, amplifyEarlyTarget: amplify, clipDenoised: false,
      });
      seen.push({ t: amplify ? 1 : 0, target: out.sample.dataSync()[0]! });
      tf.dispose([out.sample, out.latent, out.differenceMap]);
    }
    // with amplification the t = 30 step pushes harder: results differ
    expect(seen[0]!.target).not.toBeCloseTo(seen[1]!.target, 6);
    image.dispose();
  });
});

describe('determinism, memory, abort, guard, errors', () => {
  const diffusion = createDiffusion({ steps: 1000, timestepRespacing: 'ddim100', learnSigma: true });

  it('is deterministic for a seed (initial noise and eta > 0) and differs across seeds', async () => {
    const image = tf.tensor4d(fx.image, shape);
    const o = { diffusion, model, regressor, image, baselineBurden: 0.2, relativeChange: 0.3, noiseLevel: 60, scale: 1000, eta: 0.5 };
    const a = await guidedSampleKnown({ ...o, seed: 4 });
    const b = await guidedSampleKnown({ ...o, seed: 4 });
    const c = await guidedSampleKnown({ ...o, seed: 5 });
    expect(Array.from(a.sample.dataSync())).toEqual(Array.from(b.sample.dataSync()));
    expect(maxAbsDiff(a.sample, c.sample.dataSync())).toBeGreaterThan(1e-3);
    tf.dispose([image, a.sample, a.latent, a.differenceMap, b.sample, b.latent, b.differenceMap, c.sample, c.latent, c.differenceMap]);
  });

  it('keeps the tensor count flat over steps and frees everything but the result', async () => {
    const image = tf.tensor4d(fx.image, shape);
    const before = tf.memory().numTensors;
    const counts: Record<string, number[]> = { encode: [], decode: [] };
    const out = await guidedSampleKnown({
      diffusion, model, regressor, image, baselineBurden: 0.2, relativeChange: 0.3, noiseLevel: 100, scale: 1000, eta: 0.2,
      onProgress: (p) => counts[p.phase]!.push(tf.memory().numTensors),
    });
    expect(counts.encode).toHaveLength(10);
    expect(new Set(counts.encode).size).toBe(1);
    expect(new Set(counts.decode).size).toBe(1);
    tf.dispose([out.sample, out.latent, out.differenceMap]);
    expect(tf.memory().numTensors).toBe(before);
    image.dispose();
  });

  it('aborts between steps without leaking', async () => {
    const image = tf.tensor4d(fx.image, shape);
    const before = tf.memory().numTensors;
    const ctl = new AbortController();
    await expect(guidedSampleKnown({
      diffusion, model, regressor, image, baselineBurden: 0.2, relativeChange: 0.3, noiseLevel: 100, signal: ctl.signal,
      onProgress: (p) => { if (p.phase === 'decode' && p.done === 2) ctl.abort(new Error('cancelled')); },
    })).rejects.toThrow('cancelled');
    expect(tf.memory().numTensors).toBe(before);
    image.dispose();
  });

  it('refuses configurations over the heap limit, saying what to reduce', async () => {
    const image = tf.zeros([4, 256, 256, 4]) as tf.Tensor4D;
    const o = { diffusion, model, regressor, image, baselineBurden: 0.1, relativeChange: 0.1 };
    await expect(guidedSampleKnown({ ...o, heapLimitBytes: 2 ** 30, activationBytesPerImage: 300 * 2 ** 20 }))
      .rejects.toThrow(/would need about 1\.27 GiB .* reduce the batch .* to at most 3/);
    await expect(guidedSampleKnown({ ...o, heapLimitBytes: 2 ** 20 })).rejects.toThrow(/reduce the image size/);
    image.dispose();
  });

  it('adds the initial noise as the forward process does: sqrt(1 - s^2) x + s z, z from Rng(seed, b)', async () => {
    const image = tf.tensor4d(fx.image, shape);
    const s = 0.2;
    const o = { diffusion, model, regressor, baselineBurden: 0.2, relativeChange: 0.3, noiseLevel: 30, scale: 1000 };
    const noised = await guidedSampleKnown({ ...o, image, initialNoiseStd: s, seed: 9 });
    const z = normalTensor(image.shape, [new Rng(9, 0), new Rng(9, 1)]);
    const start = tf.add(tf.mul(image, Math.sqrt(1 - s * s)), tf.mul(z, s)) as tf.Tensor4D;
    const manual = await guidedSampleKnown({ ...o, image: start, initialNoiseStd: 0 });
    expect(maxAbsDiff(noised.latent, manual.latent.dataSync())).toBeLessThan(1e-6);
    expect(maxAbsDiff(noised.sample, manual.sample.dataSync())).toBeLessThan(1e-6);
    // the plain sum x + s z (no sqrt(1 - s^2)) is a different start
    const plain = await guidedSampleKnown({ ...o, image: tf.add(image, tf.mul(z, s)) as tf.Tensor4D, initialNoiseStd: 0 });
    expect(maxAbsDiff(noised.latent, plain.latent.dataSync())).toBeGreaterThan(1e-3);
    await expect(guidedSampleKnown({ ...o, image, initialNoiseStd: 1 })).rejects.toThrow(/'initialNoiseStd' passed to 'guidedSampleKnown' must be a number in \[0, 1\)/);
    tf.dispose([image, z, start, noised.sample, noised.latent, noised.differenceMap, manual.sample, manual.latent, manual.differenceMap, plain.sample, plain.latent, plain.differenceMap]);
  });

  it('validates its options, naming the argument', async () => {
    const image = tf.tensor4d(fx.image, shape);
    const o = { diffusion, model, regressor, image, baselineBurden: 0.2, relativeChange: 0.3 };
    await expect(guidedSampleKnown({ ...o, baselineBurden: [0.1] })).rejects.toThrow(/'baselineBurden' passed to 'guidedSampleKnown'/);
    await expect(guidedSampleKnown({ ...o, relativeChange: NaN })).rejects.toThrow(/'relativeChange'/);
    await expect(guidedSampleKnown({ ...o, noiseLevel: 0 })).rejects.toThrow(/'noiseLevel'/);
    await expect(guidedSampleKnown({ ...o, noiseLevel: 1001 })).rejects.toThrow(/'noiseLevel'/);
    await expect(guidedSampleKnown({ ...o, eta: -1 })).rejects.toThrow(/'eta'/);
    await expect(guidedSampleKnown({ ...o, classLabel: 0.5 })).rejects.toThrow(/'classLabel'/);
    await expect(guidedSampleKnown({ ...o, image: tf.zeros([2, 2]) as unknown as tf.Tensor4D })).rejects.toThrow(/'image' passed to 'guidedSampleKnown' must be a 4-D/);
    await expect(guidedSampleKnown({ ...o, regressor: 3 as unknown as RegressorFn })).rejects.toThrow(/'regressor'/);
    await expect(guidedSampleKnown({ ...o, noiseLevel: 20, regressor: () => tf.zeros([3]) as tf.Tensor1D })).rejects.toThrow(/'regressor' passed to 'regressorValueAndGrad' must return one value per image/);
    image.dispose();
  });

  it('regressorValueAndGrad gives per-image gradients', () => {
    tf.tidy(() => {
      const x = tf.tensor4d([1, 2, 3, 4], [2, 1, 2, 1]);
      const { value, gradient } = regressorValueAndGrad((xx) => tf.sum(tf.square(xx), [1, 2, 3]) as tf.Tensor1D, x, tf.zeros([2]) as tf.Tensor1D);
      expect(Array.from(value.dataSync())).toEqual([5, 25]);
      expect(Array.from(gradient.dataSync())).toEqual([2, 4, 6, 8]);
      // an object with inputGradient only (value from predict), as @tumorcast/regressor's Regressor
      const obj = { predict: (xx: tf.Tensor4D) => tf.sum(xx, [1, 2, 3]) as tf.Tensor1D, inputGradient: (xx: tf.Tensor4D) => tf.onesLike(xx) };
      const r2 = regressorValueAndGrad(obj, x, tf.zeros([2]) as tf.Tensor1D);
      expect(Array.from(r2.value.dataSync())).toEqual([3, 7]);
      expect(Array.from(r2.gradient.dataSync())).toEqual([1, 1, 1, 1]);
      expect(() => regressorValueAndGrad({ predict: obj.predict, inputGradient: () => tf.zeros([1]) as unknown as tf.Tensor4D }, x, tf.zeros([2]) as tf.Tensor1D))
        .toThrow(/input gradient must have shape \[2,1,2,1\]/);
    });
  });
});
