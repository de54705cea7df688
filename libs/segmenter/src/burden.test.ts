import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import * as tf from '@tensorflow/tfjs';
import { readFileSync } from 'node:fs';
import { initBackend, readSafetensors, type StateTensor } from '@tumorcast/nn';
import { createDiffusion } from '@tumorcast/diffusion';
import { guidedSampleKnown, type RegressorFn } from '@tumorcast/guided-sampler';
import { createSegmenterNet, segmenterBurden, type SegmenterConfig, type SegmenterNet } from './index.js';
import { FIXTURES, readJsonFixture } from './test-utils/data.js';

interface BurdenFixture {
  shape: [number, number, number, number];
  cases: { name: string; inputRange: '[-1,1]' | '[0,1]'; brainPixels: number | number[]; x: number[]; burden: number[]; grad: number[] }[];
  /** The images of `cases` with the same input range, with a gradient temperature. */
  tempered: { gradientTemperature: number; inputRange: '[-1,1]' | '[0,1]'; brainPixels: number | number[]; burden: number[]; grad: number[] }[];
  /** The same images with a gradient margin (and temperature); `keptPixels`: pixels within the margin of a z >= 0 pixel. */
  margined: {
    gradientTemperature: number; gradientMarginPixels: number; inputRange: '[-1,1]' | '[0,1]'; brainPixels: number | number[];
    tumourPixels: number[]; keptPixels: number[]; burden: number[]; grad: number[];
  }[];
}
const fx = readJsonFixture<BurdenFixture>('burden.json');
let net: SegmenterNet;

beforeAll(async () => {
  await initBackend({ log: false });
  // The tiny net of tools/segmenter/make_fixtures.py, whose burden and input gradient burden.json holds.
  const file = readSafetensors(readFileSync(`${FIXTURES}net_tiny.safetensors`), { source: 'net_tiny' });
  net = createSegmenterNet(JSON.parse(file.metadata['config']!) as SegmenterConfig);
  const weights = new Map<string, StateTensor>();
  for (const [k, v] of file.tensors) if (k.startsWith('w.')) weights.set(k.slice(2), v);
  net.loadStateDict(weights, { source: 'net_tiny' });
});
afterAll(() => net.dispose());

const maxAbs = (a: ArrayLike<number>, b: ArrayLike<number>) => {
  expect(a.length).toBe(b.length);
  let m = 0;
  for (let i = 0; i < a.length; i++) m = Math.max(m, Math.abs(a[i]! - b[i]!));
  return m;
};

describe('segmenterBurden vs PyTorch (float64 autograd, tools/segmenter/make_fixtures.py)', () => {
  for (const c of fx.cases) {
    it(`${c.name}: inputRange '${c.inputRange}', brainPixels ${JSON.stringify(c.brainPixels)}: burden within 1e-6, input gradient within 1e-7`, () => {
      const burden = segmenterBurden(net, { brainPixels: c.brainPixels, inputRange: c.inputRange });
      // structurally the guided sampler's regressor
      const asRegressor: RegressorFn = burden;
      const x = tf.tensor4d(c.x, fx.shape);
      const t = tf.zeros([fx.shape[0]]) as tf.Tensor1D;
      const { value, grad } = tf.valueAndGrad((xx: tf.Tensor) => tf.sum(asRegressor(xx as tf.Tensor4D, t)) as tf.Scalar)(x);
      const b = burden(x, t);
      // burdens ~1 (float32 sums of 64 probabilities): 1e-6; gradients up to ~1e-2: 1e-7 (1e-5 of their scale); measured ~1e-7 and ~1e-8
      expect(maxAbs(b.dataSync(), c.burden)).toBeLessThan(1e-6);
      expect(value.dataSync()[0]).toBeCloseTo(c.burden[0]! + c.burden[1]!, 4);
      expect(Math.max(...c.grad.map(Math.abs))).toBeGreaterThan(1e-3); // a non-trivial gradient is being compared
      expect(maxAbs(grad.dataSync(), c.grad)).toBeLessThan(1e-7);
      // t is ignored
      const t2 = tf.tensor1d([500, 37]);
      expect(Array.from(burden(x, t2).dataSync())).toEqual(Array.from(b.dataSync()));
      tf.dispose([x, t, t2, value, grad, b]);
    });
  }

  it('a number brainPixels divides every image by it', () => {
    const c = fx.cases[0]!;
    const x = tf.tensor4d(c.x, fx.shape);
    const t = tf.zeros([2]) as tf.Tensor1D;
    const b = segmenterBurden(net, { brainPixels: 10 })(x, t).dataSync();
    const pixels = c.brainPixels as number[];
    expect(maxAbs(b, c.burden.map((v, i) => (v * pixels[i]!) / 10))).toBeLessThan(1e-5);
    tf.dispose([x, t]);
  });
});

describe('segmenterBurden gradientTemperature vs PyTorch (a float64 torch.autograd.Function)', () => {
  const valueAndGrad = (fn: ReturnType<typeof segmenterBurden>, x: tf.Tensor4D) => {
    const t = tf.zeros([x.shape[0]]) as tf.Tensor1D;
    const { value, grad } = tf.valueAndGrad((xx: tf.Tensor) => tf.sum(fn(xx as tf.Tensor4D, t)) as tf.Scalar)(x);
    const b = fn(x, t);
    const out = { burden: Array.from(b.dataSync()), sum: value.dataSync()[0]!, grad: Array.from(grad.dataSync()) };
    tf.dispose([t, value, grad, b]);
    return out;
  };

  it('gradientTemperature 1 is the default path: the same value and gradient as without it', () => {
    const c = fx.cases[0]!;
    const x = tf.tensor4d(c.x, fx.shape);
    const plain = valueAndGrad(segmenterBurden(net, { brainPixels: c.brainPixels }), x);
    const one = valueAndGrad(segmenterBurden(net, { brainPixels: c.brainPixels, gradientTemperature: 1 }), x);
    expect(one).toEqual(plain);
    x.dispose();
  });

  for (const c of fx.tempered) {
    it(`T = ${c.gradientTemperature}, inputRange '${c.inputRange}': the value of T = 1 exactly, input gradient within 1e-7 of the golden one`, () => {
      const base = fx.cases.find((k) => k.inputRange === c.inputRange)!;
      const x = tf.tensor4d(base.x, fx.shape);
      const opts = { brainPixels: c.brainPixels, inputRange: c.inputRange };
      const plain = valueAndGrad(segmenterBurden(net, opts), x);
      const hot = valueAndGrad(segmenterBurden(net, { ...opts, gradientTemperature: c.gradientTemperature }), x);
      // the value is the calibrated burden, bit for bit
      expect(hot.burden).toEqual(plain.burden);
      expect(hot.sum).toBe(plain.sum);
      expect(maxAbs(hot.burden, c.burden)).toBeLessThan(1e-6);
      // the gradient is the tempered one: as for T = 1, gradients up to ~1e-2 within 1e-7, while it
      // differs from the true gradient by > 1e-4 (so the check can tell them apart)
      expect(maxAbs(hot.grad, c.grad)).toBeLessThan(1e-7);
      expect(maxAbs(c.grad, base.grad)).toBeGreaterThan(1e-4);
      expect(maxAbs(hot.grad, plain.grad)).toBeGreaterThan(1e-4);
      x.dispose();
    });
  }
});

describe('segmenterBurden gradientMarginPixels', () => {
  const valueAndGrad = (fn: ReturnType<typeof segmenterBurden>, x: tf.Tensor4D) => {
    const t = tf.zeros([x.shape[0]]) as tf.Tensor1D;
    const { value, grad } = tf.valueAndGrad((xx: tf.Tensor) => tf.sum(fn(xx as tf.Tensor4D, t)) as tf.Scalar)(x);
    const b = fn(x, t);
    const out = { burden: Array.from(b.dataSync()), grad: Array.from(grad.dataSync()) };
    tf.dispose([t, value, grad, b]);
    return out;
  };

  for (const c of fx.margined) {
    it(`margin ${c.gradientMarginPixels}, T = ${c.gradientTemperature} vs PyTorch (max_pool2d window): the value unchanged, input gradient within 1e-7`, () => {
      // The case must drop part of the gradient (kept < all pixels) for the check to tell the margin from none.
      expect(Math.min(...c.keptPixels)).toBeLessThan(fx.shape[1] * fx.shape[2]);
      const base = fx.cases.find((k) => k.inputRange === c.inputRange)!;
      const x = tf.tensor4d(base.x, fx.shape);
      const opts = { brainPixels: c.brainPixels, inputRange: c.inputRange, gradientTemperature: c.gradientTemperature };
      const everywhere = valueAndGrad(segmenterBurden(net, opts), x);
      const near = valueAndGrad(segmenterBurden(net, { ...opts, gradientMarginPixels: c.gradientMarginPixels }), x);
      expect(near.burden).toEqual(everywhere.burden);
      expect(maxAbs(near.burden, c.burden)).toBeLessThan(1e-6);
      expect(maxAbs(near.grad, c.grad)).toBeLessThan(1e-7);
      expect(maxAbs(near.grad, everywhere.grad)).toBeGreaterThan(1e-5);
      x.dispose();
    });
  }

  // A stub net whose logit is channel 0 minus 0.5 ([0, 1] input): tumour where channel 0 >= 0.5. d burden / d x_0 = s (1 - s) / brainPixels
  // (s = sigmoid(z / T)) where kept, computed here by hand.
  const stub = {
    checkInput: () => undefined,
    apply: (x: tf.Tensor4D) => tf.sub(tf.slice(x, [0, 0, 0, 0], [-1, -1, -1, 1]), 0.5) as tf.Tensor4D,
    predictProbabilities: (x: tf.Tensor4D) => tf.sigmoid(tf.sub(tf.slice(x, [0, 0, 0, 0], [-1, -1, -1, 1]), 0.5)) as tf.Tensor4D,
  } as unknown as SegmenterNet;
  const H = 7, W = 7, T = 2;
  const channel0 = (b: number, i: number, j: number) => {
    if (b === 1) return 0.1 + 0.01 * (i + j); // image 1: no tumour pixel anywhere
    return (i === 1 && j === 2) || (i === 5 && j === 5) ? 0.9 : 0.2 + 0.02 * i; // image 0: two tumour pixels
  };
  const expected = (margin: number, b: number, i: number, j: number) => {
    const z = channel0(b, i, j) - 0.5;
    const s = 1 / (1 + Math.exp(-z / T));
    const tumour = [[1, 2], [5, 5]];
    const kept = b === 1 || tumour.some(([ti, tj]) => Math.max(Math.abs(i - ti!), Math.abs(j - tj!)) <= margin);
    return kept ? (s * (1 - s)) / 10 : 0;
  };
  for (const margin of [0, 1, 2]) {
    it(`margin ${margin} on a stub net (hand-computed): kept within the square window of the tumour pixels; an image without tumour keeps all`, () => {
      const data = new Float32Array(2 * H * W * 2);
      for (let b = 0; b < 2; b++) for (let i = 0; i < H; i++) for (let j = 0; j < W; j++) data[((b * H + i) * W + j) * 2] = channel0(b, i, j);
      const x = tf.tensor4d(data, [2, H, W, 2]);
      const before = tf.memory().numTensors;
      const got = valueAndGrad(segmenterBurden(stub, { brainPixels: 10, inputRange: '[0,1]', gradientTemperature: T, gradientMarginPixels: margin }), x);
      expect(tf.memory().numTensors).toBe(before);
      for (let b = 0; b < 2; b++) for (let i = 0; i < H; i++) for (let j = 0; j < W; j++) {
        const k = ((b * H + i) * W + j) * 2;
        expect(got.grad[k]).toBeCloseTo(expected(margin, b, i, j), 7);
        expect(got.grad[k + 1]).toBe(0);
      }
      x.dispose();
    });
  }

  it('refuses a margin that is not an integer >= 0 or Infinity, naming the option', () => {
    for (const gradientMarginPixels of [-1, 1.5, NaN, -Infinity, '3', null]) {
      expect(() => segmenterBurden(net, { brainPixels: 5, gradientMarginPixels: gradientMarginPixels as number }))
        .toThrow(/'options.gradientMarginPixels' passed to 'segmenterBurden' must be an integer >= 0 or Infinity \(everywhere\), got /);
    }
    expect(() => segmenterBurden(net, { brainPixels: 5, gradientMarginPixels: Infinity })).not.toThrow();
  });
});

describe('segmenterBurden errors and memory', () => {
  it('validates its options up front, naming the argument', () => {
    const bad = [0, -3, NaN, Infinity, [], [1, 0], ['5'], '5', null];
    for (const brainPixels of bad) {
      expect(() => segmenterBurden(net, { brainPixels: brainPixels as unknown as number }))
        .toThrow(/'options.brainPixels' passed to 'segmenterBurden' must be a finite number > 0 or a non-empty array/);
    }
    expect(() => segmenterBurden(net, { brainPixels: 5, inputRange: '[0,255]' as never }))
      .toThrow(/'options.inputRange' passed to 'segmenterBurden' must be '\[-1,1\]' or '\[0,1\]', got "\[0,255\]"/);
    for (const gradientTemperature of [0, -2, NaN, Infinity, -Infinity, '2', null]) {
      expect(() => segmenterBurden(net, { brainPixels: 5, gradientTemperature: gradientTemperature as number }))
        .toThrow(/'options.gradientTemperature' passed to 'segmenterBurden' must be a finite number > 0/);
    }
    expect(() => segmenterBurden(net, { brainPixels: 5, gradientTemperature: -2 })).toThrow(/got -2$/);
    expect(() => segmenterBurden(net, { brainPixels: 5, gradientTemperature: '2' as never })).toThrow(/got "2"$/);
    expect(() => segmenterBurden(net, undefined as never)).toThrow(/'options' passed to 'segmenterBurden' must be an object/);
    expect(() => segmenterBurden({} as SegmenterNet, { brainPixels: 5 })).toThrow(/'net' passed to 'segmenterBurden' must be a SegmenterNet/);
  });

  it('checks the images and the batch against brainPixels at call time, without leaking', () => {
    const before = tf.memory().numTensors;
    const t = tf.zeros([2]) as tf.Tensor1D;
    const x3 = tf.zeros([2, 8, 8, 3]) as tf.Tensor4D;
    expect(() => segmenterBurden(net, { brainPixels: 5 })(x3, t)).toThrow(/'x' passed to 'segmenterBurden' must have 4 channels/);
    const odd = tf.zeros([2, 9, 8, 4]) as tf.Tensor4D;
    expect(() => segmenterBurden(net, { brainPixels: 5 })(odd, t)).toThrow(/'x' passed to 'segmenterBurden' must have height and width divisible by 2/);
    const x = tf.zeros([2, 8, 8, 4]) as tf.Tensor4D;
    expect(() => segmenterBurden(net, { brainPixels: [5, 6, 7] })(x, t))
      .toThrow(/'options.brainPixels' passed to 'segmenterBurden' holds 3 counts but 'x' holds 2 images/);
    expect(() => segmenterBurden(net, { brainPixels: [5] })(x, t)).toThrow(/holds 1 counts but 'x' holds 2 images/);
    tf.dispose([t, x3, odd, x]);
    expect(tf.memory().numTensors).toBe(before);
  });

  for (const [gradientTemperature, gradientMarginPixels] of [[1, Infinity], [2, Infinity], [2, 1]] as const) {
    it(`keeps the tensor count flat over repeated values and gradients (gradientTemperature ${gradientTemperature}, margin ${gradientMarginPixels})`, () => {
      const c = fx.cases[0]!;
      const x = tf.tensor4d(c.x, fx.shape);
      const t = tf.zeros([2]) as tf.Tensor1D;
      const before = tf.memory().numTensors;
      const burden = segmenterBurden(net, { brainPixels: [40, 25], gradientTemperature, gradientMarginPixels });
      const counts: number[] = [];
      for (let i = 0; i < 3; i++) {
        const { value, grad } = tf.valueAndGrad((xx: tf.Tensor) => tf.sum(burden(xx as tf.Tensor4D, t)) as tf.Scalar)(x);
        tf.dispose([value, grad, burden(x, t)]);
        counts.push(tf.memory().numTensors);
      }
      expect(counts).toEqual([before, before, before]);
      tf.dispose([x, t]);
    });
  }

  it("guides @tumorcast/guided-sampler with guidanceInput 'denoised': finalPrediction is the burden of the sample", async () => {
    const c = fx.cases[0]!;
    const image = tf.tensor4d(c.x, fx.shape);
    const regressor = segmenterBurden(net, { brainPixels: [40, 25] });
    const before = tf.memory().numTensors;
    const out = await guidedSampleKnown({
      diffusion: createDiffusion({ steps: 1000 }), model: (x) => tf.zerosLike(x), regressor, image, guidanceInput: 'denoised',
      baselineBurden: c.burden, relativeChange: [0.5, -0.5], noiseLevel: 3, initialNoiseStd: 0, scale: 1e5,
    });
    const t0 = tf.zeros([2]) as tf.Tensor1D;
    const direct = regressor(out.sample, t0);
    expect(maxAbs(out.finalPrediction, direct.dataSync())).toBeLessThan(1e-6);
    expect(out.predictions).toHaveLength(3);
    // the guidance moves each burden towards its target: up for +50 %, down for -50 %
    expect(out.finalPrediction[0]).toBeGreaterThan(c.burden[0]!);
    expect(out.finalPrediction[1]).toBeLessThan(c.burden[1]!);
    tf.dispose([t0, direct, out.sample, out.latent, out.differenceMap]);
    expect(tf.memory().numTensors).toBe(before);
    image.dispose();
  });
});
