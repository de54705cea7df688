import { beforeAll, describe, expect, it } from '@jest/globals';
import * as tf from '@tensorflow/tfjs';
import { createDiffusion, type DiffusionModel } from '@tumorcast/diffusion';
import { growthProbabilityMap, guidedSampleKnown, type RegressorFn, type Segmenter } from './index.js';
import { maxAbsDiff } from '../../diffusion/src/test-utils/tiny-nets.js';
import { fx, shape, tinyGuidedNets } from './test-utils/tiny-guided.js';

let tinyModel!: DiffusionModel;
let tinyRegressor!: RegressorFn;
beforeAll(async () => ({ model: tinyModel, regressor: tinyRegressor } = await tinyGuidedNets()));

// The hand computation below uses its own schedule (float64): the linear
// 1000-step schedule, beta from 1e-4 to 0.02, alpha_bar = prod(1 - beta).
const ALPHA_BAR = (() => {
  const out: number[] = [];
  let prod = 1;
  for (let i = 0; i < 1000; i++) {
    prod *= 1 - (1e-4 + ((0.02 - 1e-4) * i) / 999);
    out.push(prod);
  }
  return out;
})();

// A tiny deterministic denoiser eps(x, t) = 0.3 x + 0.05 + 0.001 t, and a linear
// regressor R(x, t) = mean(w ⊙ x) + 0.001 t whose input gradient is w / N.
const B = 2;
const H = 3;
const W = 3;
const C = 2;
const N = H * W * C;
const weights = Array.from({ length: N }, (_, i) => Math.sin(1.3 * i + 0.4));
const epsOf = (x: number, t: number) => 0.3 * x + 0.05 + 0.001 * t;
const handModel: DiffusionModel = (x, t) => tf.tidy(() => tf.add(tf.add(tf.mul(x, 0.3), 0.05), tf.mul(tf.reshape(t, [-1, 1, 1, 1]), 0.001)) as tf.Tensor4D);

interface Call { x: number[]; t: number[] }
function recordingRegressor(calls: Call[]): RegressorFn {
  const w = tf.tensor4d(Float32Array.from(weights), [1, H, W, C]);
  return (x, t) => {
    calls.push({ x: Array.from(x.dataSync()), t: Array.from(t.dataSync()) });
    return tf.add(tf.mean(tf.mul(x, w), [1, 2, 3]), tf.mul(t, 0.001)) as tf.Tensor1D;
  };
}

// Two images; a few pixels beyond [-1, 1] so that the x0 clip matters.
const IMAGE = Array.from({ length: B * N }, (_, i) => 0.8 * Math.cos(0.7 * i + 0.2));
IMAGE[3] = 1.25;
IMAGE[N + 5] = -1.3;

const clip = (v: number) => Math.min(1, Math.max(-1, v));
const perImage = (x: number[], b: number) => x.slice(b * N, (b + 1) * N);

/** DDIM inversion (guided-diffusion `ddim_reverse_sample`, clipped x0) from step 0 to steps-1. */
function handInvert(x0: number[], steps: number): number[] {
  let x = x0.slice();
  for (let i = 0; i < steps; i++) {
    const ab = ALPHA_BAR[i]!;
    const abNext = ALPHA_BAR[i + 1]!;
    x = x.map((v) => {
      const xs = clip((v - Math.sqrt(1 - ab) * epsOf(v, i)) / Math.sqrt(ab));
      const eps = (v / Math.sqrt(ab) - xs) / Math.sqrt(1 / ab - 1);
      return Math.sqrt(abNext) * xs + Math.sqrt(1 - abNext) * eps;
    });
  }
  return x;
}

/** Guided DDIM decoding (eta 0) by hand; records the regressor's inputs, times and values. */
function handDecode(latent: number[], steps: number, target: number[], scale: number, input: 'noisy' | 'denoised') {
  let x = latent.slice();
  const seen: { x: number[]; t: number; value: number[] }[] = [];
  for (let i = steps - 1; i >= 0; i--) {
    const ab = ALPHA_BAR[i]!;
    const abPrev = i > 0 ? ALPHA_BAR[i - 1]! : 1;
    const x0 = x.map((v) => clip((v - Math.sqrt(1 - ab) * epsOf(v, i)) / Math.sqrt(ab)));
    const rIn = input === 'denoised' ? x0 : x;
    const rT = input === 'denoised' ? 0 : i;
    const value = [0, 1].map((b) => perImage(rIn, b).reduce((s, v, k) => s + v * weights[k]!, 0) / N + 0.001 * rT);
    seen.push({ x: rIn, t: rT, value });
    const next: number[] = [];
    for (let j = 0; j < x.length; j++) {
      const b = Math.floor(j / N);
      const g = scale * (target[b]! - value[b]!) * (weights[j % N]! / N);
      const eps = (x[j]! / Math.sqrt(ab) - x0[j]!) / Math.sqrt(1 / ab - 1);
      const epsG = eps - Math.sqrt(1 - ab) * g;
      const x0G = x[j]! / Math.sqrt(ab) - Math.sqrt(1 / ab - 1) * epsG;
      next.push(Math.sqrt(abPrev) * x0G + Math.sqrt(1 - abPrev) * epsG);
    }
    x = next;
  }
  return { sample: x, seen };
}

describe("guidanceInput 'denoised' vs a hand computation (float64 reference, float32 run)", () => {
  const diffusion = createDiffusion({ steps: 1000 });
  const target = [0.2 * 1.5, 0.4 * 0.5];
  const base = { diffusion, model: handModel, baselineBurden: [0.2, 0.4], relativeChange: [0.5, -0.5], initialNoiseStd: 0, scale: 2e5 };

  for (const steps of [1, 2]) {
    it(`${steps} step(s): the regressor sees the clipped x0 estimate at t = 0; the step is DDIM with eps' = eps - sqrt(1 - abar) g`, async () => {
      const image = tf.tensor4d(Float32Array.from(IMAGE), [B, H, W, C]);
      const calls: Call[] = [];
      const out = await guidedSampleKnown({ ...base, image, regressor: recordingRegressor(calls), noiseLevel: steps, guidanceInput: 'denoised' });
      const latent = handInvert(IMAGE, steps);
      // Inversion is unaffected by the option (tolerance 1e-5: float32 of values ~1).
      expect(maxAbsDiff(out.latent, latent)).toBeLessThan(1e-5);
      const hand = handDecode(latent, steps, target, 2e5, 'denoised');
      // `steps` guided calls, then the final prediction on the sample.
      expect(calls).toHaveLength(steps + 1);
      for (let k = 0; k < steps; k++) {
        expect(calls[k]!.t).toEqual([0, 0]);
        expect(maxAbsDiff(calls[k]!.x, hand.seen[k]!.x)).toBeLessThan(1e-5);
        expect(maxAbsDiff(out.predictions[k]!, hand.seen[k]!.value)).toBeLessThan(1e-5);
      }
      // Some input pixel was clipped (the clip is part of what is checked).
      expect(hand.seen[0]!.x.some((v) => Math.abs(v) === 1)).toBe(true);
      // The guided steps move the sample by ~0.1-1 here; tolerance 1e-4 (float32 of g ~ 1e3 times sqrt(1 - abar) ~ 1e-2).
      expect(maxAbsDiff(out.sample, hand.sample)).toBeLessThan(1e-4);
      const unguided = handDecode(latent, steps, target, 0, 'denoised');
      expect(maxAbsDiff(hand.sample, unguided.sample)).toBeGreaterThan(0.05);
      // The final prediction is still R(sample, 0).
      expect(calls[steps]!.t).toEqual([0, 0]);
      expect(maxAbsDiff(calls[steps]!.x, out.sample.dataSync())).toBe(0);
      expect(out.timesteps).toEqual(Array.from({ length: steps }, (_, k) => steps - 1 - k));
      tf.dispose([image, out.sample, out.latent, out.differenceMap]);
    });
  }

  it("'noisy' (the default) evaluates R(x_t, t) at the step's timestep, as before", async () => {
    const image = tf.tensor4d(Float32Array.from(IMAGE), [B, H, W, C]);
    const latent = handInvert(IMAGE, 2);
    const hand = handDecode(latent, 2, target, 2e5, 'noisy');
    for (const guidanceInput of [undefined, 'noisy'] as const) {
      const calls: Call[] = [];
      const out = await guidedSampleKnown({ ...base, image, regressor: recordingRegressor(calls), noiseLevel: 2, guidanceInput });
      expect(calls.map((c) => c.t)).toEqual([[1, 1], [0, 0], [0, 0]]);
      expect(maxAbsDiff(calls[0]!.x, latent)).toBeLessThan(1e-5);
      expect(maxAbsDiff(calls[1]!.x, hand.seen[1]!.x)).toBeLessThan(1e-4);
      expect(maxAbsDiff(out.predictions.flat(), hand.seen.flatMap((s) => s.value))).toBeLessThan(1e-5);
      expect(maxAbsDiff(out.sample, hand.sample)).toBeLessThan(1e-4);
      tf.dispose([out.sample, out.latent, out.differenceMap]);
    }
    // and differs from 'denoised' here
    const den = handDecode(latent, 2, target, 2e5, 'denoised');
    expect(maxAbsDiff(hand.sample, den.sample)).toBeGreaterThan(1e-3);
    image.dispose();
  });

  it("rejects other values, naming 'guidanceInput' and the allowed values", async () => {
    const image = tf.tensor4d(Float32Array.from(IMAGE), [B, H, W, C]);
    const o = { ...base, image, regressor: recordingRegressor([]), noiseLevel: 2 };
    for (const bad of ['x0', 'Denoised', 1, null]) {
      await expect(guidedSampleKnown({ ...o, guidanceInput: bad as unknown as 'noisy' }))
        .rejects.toThrow(new RangeError(`'guidanceInput' passed to 'guidedSampleKnown' must be one of 'noisy', 'denoised', got ${JSON.stringify(bad)}`));
    }
    await expect(growthProbabilityMap({ ...o, samples: 1, guidanceInput: 'clean' as unknown as 'noisy' }))
      .rejects.toThrow(/'guidanceInput' passed to 'growthProbabilityMap' must be one of 'noisy', 'denoised'/);
    image.dispose();
  });
});

describe("guidanceInput 'denoised' with the tiny networks", () => {
  const diffusion = createDiffusion({ steps: 1000, timestepRespacing: 'ddim100', learnSigma: true });

  it('frees every intermediate: the tensor count does not grow across two runs', async () => {
    const image = tf.tensor4d(fx.image, shape);
    const o = {
      diffusion, model: tinyModel, regressor: tinyRegressor, image, baselineBurden: 0.2, relativeChange: 0.3,
      noiseLevel: 60, scale: 1000, eta: 0.2, guidanceInput: 'denoised' as const,
    };
    const counts: number[] = [];
    for (let run = 0; run < 2; run++) {
      const before = tf.memory().numTensors;
      const out = await guidedSampleKnown({ ...o, seed: run });
      tf.dispose([out.sample, out.latent, out.differenceMap]);
      expect(tf.memory().numTensors).toBe(before);
      counts.push(tf.memory().numTensors);
    }
    expect(counts[1]).toBe(counts[0]);
    image.dispose();
  });

  it('growthProbabilityMap passes it through (run 0 equals guidedSampleKnown; the regressor sees t = 0 only)', async () => {
    const image = tf.tensor4d(fx.image, shape);
    const seenT: number[] = [];
    const regressor: RegressorFn = (x, t) => { seenT.push(...t.dataSync()); return tinyRegressor(x, t); };
    // A segmenter returning the FLAIR channel above 0: the map is then computable from the samples.
    const segmenter: Segmenter = { name: 'flair>0', segment: ({ image: s }) => tf.tidy(() => tf.cast(tf.greater(tf.slice(s, [0, 0, 0, s.shape[3] - 1], [-1, -1, -1, 1]), 0), 'float32') as tf.Tensor4D) };
    const o = {
      diffusion, model: tinyModel, image, baselineBurden: 0.2, relativeChange: 0.3, noiseLevel: 60, scale: 2e5, seed: 3,
    };
    const map = await growthProbabilityMap({ ...o, regressor, segmenter, samples: 1, guidanceInput: 'denoised' });
    expect(seenT.length).toBeGreaterThan(0);
    expect(new Set(seenT)).toEqual(new Set([0]));
    const den = await guidedSampleKnown({ ...o, regressor: tinyRegressor, guidanceInput: 'denoised' });
    const noisy = await guidedSampleKnown({ ...o, regressor: tinyRegressor });
    expect(maxAbsDiff(map.meanSample, den.sample.dataSync())).toBeLessThan(1e-6);
    expect(maxAbsDiff(map.finalPredictions[0]!, den.finalPrediction)).toBeLessThan(1e-6);
    expect(maxAbsDiff(den.sample, noisy.sample.dataSync())).toBeGreaterThan(1e-4);
    tf.dispose([image, map.probability, map.meanSample, den.sample, den.latent, den.differenceMap, noisy.sample, noisy.latent, noisy.differenceMap]);
  });
});
