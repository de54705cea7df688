import { beforeAll, describe, expect, it } from '@jest/globals';
import * as tf from '@tensorflow/tfjs';
import { readFileSync } from 'node:fs';
import { initBackend } from '@tumorcast/nn';
import { Rng } from '@tumorcast/random';
import {
  createDiffusion, ddimReverseLoop, ddimReverseStep, ddimSampleLoop, ddimStep, ddpmSampleLoop, ddpmStep,
  fromModelRange, normalTensor, originalTimesteps, pMeanVariance, qPosteriorMeanVariance, qSample, stopGradient, toModelRange,
  trainingLosses, type DiffusionModel,
} from './index.js';
import { maxAbsDiff, tinyEps } from './test-utils/tiny-nets.js';

const fx = JSON.parse(readFileSync(new URL('../test/fixtures/diffusion.json', import.meta.url), 'utf8'));
const TOL = 1e-4;

beforeAll(async () => {
  await initBackend({ log: false });
});

const shape = fx.shape as [number, number, number, number];
const t4 = (a: number[], s: number[] = shape) => tf.tensor4d(a, s as [number, number, number, number]);

describe('process vs PyTorch reference (tolerance 1e-4)', () => {
  const diffusion = createDiffusion({ steps: 1000, learnSigma: true });

  it('qSample', () => {
    tf.tidy(() => {
      const out = qSample(diffusion, t4(fx.x0), fx.t, t4(fx.noise));
      expect(maxAbsDiff(out, fx.qSample)).toBeLessThan(TOL);
    });
  });

  it('pMeanVariance with learned-range sigma and class labels', () => {
    tf.tidy(() => {
      const net = tinyEps(fx.net);
      const out = pMeanVariance(diffusion, net, t4(fx.xt), fx.t, { y: fx.y });
      expect(maxAbsDiff(out.mean, fx.pMeanVariance.mean)).toBeLessThan(TOL);
      expect(maxAbsDiff(out.logVariance, fx.pMeanVariance.logVariance)).toBeLessThan(TOL);
      expect(maxAbsDiff(out.predXStart, fx.pMeanVariance.predXStart)).toBeLessThan(TOL);
    });
  });

  it('one DDIM step (eta 0 and 0.5), one inversion step, one DDPM step', () => {
    tf.tidy(() => {
      const net = tinyEps(fx.net);
      const xt = t4(fx.xt);
      const z = t4(fx.z);
      expect(maxAbsDiff(ddimStep(diffusion, net, xt, fx.t, { y: fx.y }).sample, fx.ddimStep)).toBeLessThan(TOL);
      expect(maxAbsDiff(ddimStep(diffusion, net, xt, fx.t, { y: fx.y, eta: 0.5, noise: z }).sample, fx.ddimStepEta)).toBeLessThan(TOL);
      expect(maxAbsDiff(ddimReverseStep(diffusion, net, xt, fx.t, { y: fx.y }).sample, fx.ddimReverseStep)).toBeLessThan(TOL);
      expect(maxAbsDiff(ddpmStep(diffusion, net, xt, fx.t, { y: fx.y, noise: z }).sample, fx.ddpmStep)).toBeLessThan(TOL);
    });
  });

  it('DDIM inversion loops (unspaced and respaced: the model gets original timesteps) and a respaced decode', async () => {
    const net = tinyEps(fx.net);
    const x0 = t4(fx.x0);
    const latent = await ddimReverseLoop(diffusion, net, x0, { steps: fx.inversion.steps, y: fx.y });
    expect(maxAbsDiff(latent, fx.inversion.latent)).toBeLessThan(TOL);
    const spaced = createDiffusion({ steps: 1000, learnSigma: true, timestepRespacing: fx.inversionRespaced.respacing });
    const seen: number[] = [];
    const spy: DiffusionModel = (x, t, y) => { seen.push(...t.dataSync()); return net(x, t, y); };
    const l2 = await ddimReverseLoop(spaced, spy, x0, { steps: fx.inversionRespaced.steps, y: fx.y });
    expect(maxAbsDiff(l2, fx.inversionRespaced.latent)).toBeLessThan(TOL);
    expect([...new Set(seen)]).toEqual([0, 20, 40, 60]);
    const dec = await ddimSampleLoop(spaced, net, l2, { fromStep: fx.inversionRespaced.steps - 1, y: fx.y });
    expect(maxAbsDiff(dec, fx.decodeRespaced)).toBeLessThan(TOL);
    tf.dispose([x0, latent, l2, dec]);
  });

  it('hybrid loss (mse + vb in bits/dim, decoder NLL at t = 0) and stop-gradient on the mean', () => {
    const L = fx.loss;
    const s: [number, number, number, number] = [3, 8, 8, 4];
    const net = tinyEps(fx.net);
    tf.tidy(() => {
      const terms = trainingLosses(diffusion, net, t4(L.x0, s), L.t, t4(L.noise, s), { y: L.y });
      expect(maxAbsDiff(terms.mse, L.mse)).toBeLessThan(TOL);
      expect(maxAbsDiff(terms.vb!, L.vb)).toBeLessThan(TOL);
      expect(maxAbsDiff(terms.loss, L.loss)).toBeLessThan(TOL);
    });
    // gradients w.r.t. the last conv bias: vb reaches only the v channels.
    const bias = tf.variable(tf.tensor1d(fx.net.conv2.bias));
    const netB = tinyEpsWithBias(fx.net, bias);
    const { grads: gv } = tf.variableGrads(() => tf.sum(trainingLosses(diffusion, netB, t4(L.x0, s), L.t, t4(L.noise, s), { y: L.y }).vb!) as tf.Scalar, [bias]);
    expect(maxAbsDiff(gv[bias.name]!, L.gradVbConv2Bias)).toBeLessThan(TOL);
    expect(Array.from(gv[bias.name]!.dataSync().slice(0, 4))).toEqual([0, 0, 0, 0]);
    const { grads: gl } = tf.variableGrads(() => tf.sum(trainingLosses(diffusion, netB, t4(L.x0, s), L.t, t4(L.noise, s), { y: L.y }).loss) as tf.Scalar, [bias]);
    expect(maxAbsDiff(gl[bias.name]!, L.gradLossConv2Bias)).toBeLessThan(TOL);
    tf.dispose([bias, gv[bias.name], gl[bias.name]]);
  });

  it('MSE loss without learned sigma', () => {
    tf.tidy(() => {
      const d = createDiffusion({ steps: 1000 });
      const s: [number, number, number, number] = [3, 8, 8, 4];
      const terms = trainingLosses(d, tinyEps(fx.lossNoSigma.net), t4(fx.loss.x0, s), fx.loss.t, t4(fx.loss.noise, s), { y: fx.loss.y });
      expect(terms.vb).toBeUndefined();
      expect(maxAbsDiff(terms.mse, fx.lossNoSigma.mse)).toBeLessThan(TOL);
    });
  });
});

function tinyEpsWithBias(json: typeof fx.net, bias: tf.Variable): DiffusionModel {
  const base = tinyEps({ ...json, conv2: { ...json.conv2, bias: new Array(json.conv2.bias.length).fill(0) } });
  return (x, t, y) => tf.add(base(x, t, y), tf.mul(bias, tf.add(1, tf.div(t, 1000)).reshape([-1, 1, 1, 1])));
}

describe('posterior, helpers, stop-gradient', () => {
  const d = createDiffusion({ steps: 100 });
  it('posterior mean of x0 = xt is x0 at t with coefficients summing as in DDPM', () => {
    tf.tidy(() => {
      const x = tf.ones([1, 2, 2, 1]) as tf.Tensor4D;
      const { mean, variance } = qPosteriorMeanVariance(d, x, x, 10);
      expect(mean.dataSync()[0]).toBeCloseTo(d.posteriorMeanCoef1[10]! + d.posteriorMeanCoef2[10]!, 5);
      expect(variance.dataSync()[0]).toBeCloseTo(d.posteriorVariance[10]!, 8);
    });
  });
  it('stopGradient passes values and blocks gradients', () => {
    tf.tidy(() => {
      const g = tf.grad((x: tf.Tensor) => tf.sum(tf.add(tf.mul(stopGradient(x), 3), x)))(tf.tensor1d([1, 2]));
      expect(Array.from(g.dataSync())).toEqual([1, 1]);
    });
  });
  it('range helpers map [0,1] <-> [-1,1]', () => {
    tf.tidy(() => {
      expect(Array.from(toModelRange(tf.tensor1d([0, 0.5, 1])).dataSync())).toEqual([-1, 0, 1]);
      expect(Array.from(fromModelRange(tf.tensor1d([-1, 0, 1])).dataSync())).toEqual([0, 0.5, 1]);
    });
  });
  it('originalTimesteps maps step indices to the original timesteps and rejects other indices', () => {
    // guided-diffusion's timestep_map for 'ddim50' of 1000 steps (the numpy fixture)
    const sp = createDiffusion({ steps: 1000, timestepRespacing: 'ddim50' });
    const want: number[] = fx.respaced.ddim50.timestepMap;
    tf.tidy(() => {
      expect(Array.from(originalTimesteps(sp, [0, 1, 49, 3]).dataSync())).toEqual([want[0], want[1], want[49], want[3]]);
    });
    const before = tf.memory().numTensors;
    for (const bad of [50, -1, 1.5, NaN]) {
      expect(() => originalTimesteps(sp, [0, bad])).toThrow(`'idx' passed to 'originalTimesteps' must hold step indices (integers in [0, 50)), got ${bad}`);
    }
    expect(tf.memory().numTensors).toBe(before);
  });
  it('normalTensor: per-image generators make images independent of batching', () => {
    tf.tidy(() => {
      const a = normalTensor([2, 3, 3, 1], [new Rng(1, 0), new Rng(1, 1)]).dataSync();
      const b = normalTensor([1, 3, 3, 1], new Rng(1, 1)).dataSync();
      expect(Array.from(a.slice(9))).toEqual(Array.from(b));
    });
  });
});

describe('loops: memory, progress, abort, determinism, errors', () => {
  const d = createDiffusion({ steps: 1000, timestepRespacing: 'ddim20' });
  const zero: DiffusionModel = (x) => tf.zerosLike(x);
  const wobble: DiffusionModel = (x, t) => tf.mul(tf.sin(x), tf.div(t, 1000).reshape([-1, 1, 1, 1]));

  it('tensor count stays flat over steps and the loops release everything', async () => {
    const x = tf.randomUniform([2, 8, 8, 2], -1, 1, 'float32', 3) as tf.Tensor4D;
    const before = tf.memory().numTensors;
    const counts: number[][] = [[], [], []];
    const track = (k: number) => () => { counts[k]!.push(tf.memory().numTensors); };
    const a = await ddimSampleLoop(d, wobble, x, { eta: 0.5, rng: new Rng(1), onProgress: track(0) });
    const b = await ddpmSampleLoop(d, wobble, x, { rng: new Rng(1), onProgress: track(1) });
    const c = await ddimReverseLoop(d, wobble, x, { steps: 10, onProgress: track(2) });
    counts.forEach((cs, k) => {
      expect(new Set(cs).size).toBe(1);
      expect(cs[0]).toBe(before + k + 1);
    });
    tf.dispose([a, b, c]);
    expect(tf.memory().numTensors).toBe(before);
    x.dispose();
  });

  it('reports progress with original timesteps and is deterministic for a seed', async () => {
    const x = tf.randomNormal([1, 4, 4, 1], 0, 1, 'float32', 5) as tf.Tensor4D;
    const seen: number[] = [];
    const a = await ddimSampleLoop(d, wobble, x, { eta: 1, rng: new Rng(9), onProgress: (p) => seen.push(p.timestep) });
    const b = await ddimSampleLoop(d, wobble, x, { eta: 1, rng: new Rng(9) });
    expect(seen[0]).toBe(950);
    expect(seen[seen.length - 1]).toBe(0);
    expect(seen).toHaveLength(20);
    expect(Array.from(a.dataSync())).toEqual(Array.from(b.dataSync()));
    tf.dispose([x, a, b]);
  });

  it('inversion then decoding with a zero-noise model is near-identity', async () => {
    const full = createDiffusion({ steps: 1000 });
    const x = tf.mul(tf.randomUniform([1, 4, 4, 1], -1, 1, 'float32', 2), 0.9) as tf.Tensor4D;
    const lat = await ddimReverseLoop(full, zero, x, { steps: 50 });
    const rec = await ddimSampleLoop(full, zero, lat, { fromStep: 49 });
    expect(maxAbsDiff(rec, x.dataSync())).toBeLessThan(2e-3);
    tf.dispose([x, lat, rec]);
  });

  it('aborts between steps and frees its tensors', async () => {
    const x = tf.zeros([1, 4, 4, 1]) as tf.Tensor4D;
    const before = tf.memory().numTensors;
    const ctl = new AbortController();
    const p = ddimSampleLoop(d, zero, x, { onProgress: (q) => { if (q.done === 3) ctl.abort(new Error('stop')); }, signal: ctl.signal });
    await expect(p).rejects.toThrow('stop');
    expect(tf.memory().numTensors).toBe(before);
    x.dispose();
  });

  it('validates its arguments', async () => {
    const x = tf.zeros([1, 4, 4, 1]) as tf.Tensor4D;
    expect(() => qSample(d, x, 20, x)).toThrow(/'t' passed to 'qSample' must hold integers in \[0, 20\)/);
    expect(() => qSample(d, x, [1, 2], x)).toThrow(/'t' passed to 'qSample' must hold one step per image/);
    expect(() => qSample(d, tf.zeros([4, 4]) as unknown as tf.Tensor4D, 0, x)).toThrow(/'x0' passed to 'qSample' must be a 4-D/);
    expect(() => ddimStep(d, zero, x, 1, { eta: 1 })).toThrow(/'noise' passed to 'ddimStep'/);
    expect(() => ddimStep(d, zero, x, 1, { eta: -1 })).toThrow(/'eta'/);
    expect(() => ddimStep(d, () => tf.zeros([1, 4, 4, 3]) as tf.Tensor4D, x, 1)).toThrow(/'model' passed to 'pMeanVariance' must return shape \[1,4,4,1\]/);
    const ls = createDiffusion({ steps: 100, learnSigma: true });
    expect(() => ddimStep(ls, zero, x, 1)).toThrow(/learnSigma/);
    await expect(ddimSampleLoop(d, zero, x, { fromStep: 20 })).rejects.toThrow(/'fromStep'/);
    await expect(ddpmSampleLoop(d, zero, x)).rejects.toThrow(/'rng' passed to 'ddpmSampleLoop'/);
    await expect(ddimReverseLoop(d, zero, x, { steps: 21 })).rejects.toThrow(/'steps'/);
    x.dispose();
  });
});
