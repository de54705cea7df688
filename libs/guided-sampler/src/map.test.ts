import { beforeAll, describe, expect, it } from '@jest/globals';
import * as tf from '@tensorflow/tfjs';
import { createDiffusion, type DiffusionModel } from '@tumorcast/diffusion';
import {
  createFlairSegmenter, growthProbabilityMap, guidedSampleKnown, otsuThreshold, parseGrowthTargets,
  type RegressorFn, type Segmenter,
} from './index.js';
import { maxAbsDiff } from '../../diffusion/src/test-utils/tiny-nets.js';
import { fx, shape, tinyGuidedNets } from './test-utils/tiny-guided.js';

let model!: DiffusionModel;
let regressor!: RegressorFn;
beforeAll(async () => ({ model, regressor } = await tinyGuidedNets()));

/** A 1-channel-FLAIR phantom (4 channels, FLAIR last) in [-1, 1]: brain disc, bright blobs. */
function phantom(h: number, blobs: { y: number; x: number; r: number }[]): Float32Array {
  const c = 4;
  const out = new Float32Array(h * h * c).fill(-1);
  for (let y = 0; y < h; y++) {
    for (let x = 0; x < h; x++) {
      const inBrain = (y - h / 2) ** 2 + (x - h / 2) ** 2 < (0.45 * h) ** 2;
      if (!inBrain) continue;
      let v = -0.2 + 0.05 * Math.sin(x) * Math.cos(y);
      for (const b of blobs) if ((y - b.y) ** 2 + (x - b.x) ** 2 <= b.r ** 2) v = 0.7;
      for (let k = 0; k < c; k++) out[(y * h + x) * c + k] = k === 3 ? v : 0.1;
    }
  }
  return out;
}

describe('FLAIR hyperintensity segmenter', () => {
  it('otsuThreshold separates two modes', () => {
    const v = [...Array(100).fill(0.1), ...Array(30).fill(0.9)];
    const t = otsuThreshold(v);
    expect(t).toBeGreaterThan(0.1);
    expect(t).toBeLessThan(0.9);
    expect(otsuThreshold([2, 2])).toBe(2);
    expect(() => otsuThreshold([])).toThrow(/'values' passed to 'otsuThreshold'/);
  });

  it('finds the grown lesion near the baseline tumour and ignores bright spots far from it', () => {
    const h = 32;
    const baseline = tf.tensor4d(phantom(h, [{ y: 12, x: 12, r: 3 }]), [1, h, h, 4]);
    const follow = tf.tensor4d(phantom(h, [{ y: 12, x: 12, r: 5 }, { y: 24, x: 22, r: 2 }]), [1, h, h, 4]);
    for (const method of ['otsu', 'meanStd'] as const) {
      const seg = createFlairSegmenter({ method, k: 1.5, neighbourhoodRadius: 4 });
      const m = seg.segment({ image: follow, baseline }) as tf.Tensor4D;
      const d = m.dataSync();
      expect(m.shape).toEqual([1, h, h, 1]);
      expect(d[12 * h + 12]).toBe(1);
      expect(d[12 * h + 16]).toBe(1); // grown part (radius 5), within 4 px of the baseline blob
      expect(d[24 * h + 22]).toBe(0); // far bright spot
      expect(d[16 * h + 16]).toBe(0); // normal brain
      m.dispose();
    }
    // a given baseline mask is used; without the neighbourhood restriction both blobs count
    const all = createFlairSegmenter({ neighbourhoodRadius: Infinity }).segment({ image: follow, baseline }) as tf.Tensor4D;
    expect(all.dataSync()[24 * h + 22]).toBe(1);
    const empty = tf.zeros([1, h, h, 1]) as tf.Tensor4D;
    const whole = createFlairSegmenter().segment({ image: follow, baseline, baselineMask: empty }) as tf.Tensor4D;
    expect(whole.dataSync()[24 * h + 22]).toBe(1); // empty baseline mask: whole brain eligible
    tf.dispose([baseline, follow, all, empty, whole]);
  });

  it('validates', () => {
    expect(() => createFlairSegmenter({ method: 'x' as 'otsu' })).toThrow(/'method' passed to 'createFlairSegmenter'/);
    expect(() => createFlairSegmenter({ neighbourhoodRadius: -1 })).toThrow(/'neighbourhoodRadius'/);
    const a = tf.zeros([1, 4, 4, 4]) as tf.Tensor4D;
    const b = tf.zeros([1, 4, 5, 4]) as tf.Tensor4D;
    expect(() => createFlairSegmenter().segment({ image: a, baseline: b })).toThrow(/'baseline' passed to 'segment'/);
    expect(() => createFlairSegmenter({ channel: 5 }).segment({ image: a, baseline: a })).toThrow(/'channel'/);
    tf.dispose([a, b]);
  });
});

describe('growthProbabilityMap', () => {
  const diffusion = createDiffusion({ steps: 1000, learnSigma: true, timestepRespacing: 'ddim100' });
  // thresholds channel 0 at 0: the map is the fraction of runs with x > 0
  const positive: Segmenter = { name: 'positive', segment: ({ image }) => tf.tidy(() => tf.cast(tf.greater(tf.slice(image, [0, 0, 0, 0], [-1, -1, -1, 1]), 0), 'float32') as tf.Tensor4D) };

  it('averages N seeded runs; run 0 is guidedSampleKnown with the same seed; batching does not matter', async () => {
    const image = tf.tensor4d(fx.image, shape);
    const before = tf.memory().numTensors;
    const o = { diffusion, model, regressor, image, baselineBurden: fx.baselineBurden, relativeChange: fx.relativeChange,
      noiseLevel: 100, scale: 1000, initialNoiseStd: 0.2, seed: 3, samples: 3, segmenter: positive };
    const a = await growthProbabilityMap({ ...o, samplesPerBatch: 3, keepSamples: true });
    const b = await growthProbabilityMap({ ...o, samplesPerBatch: 1 });
    const single = await guidedSampleKnown({ ...o });
    expect(maxAbsDiff(a.probability, b.probability.dataSync())).toBe(0);
    expect(maxAbsDiff(a.meanSample, b.meanSample.dataSync())).toBeLessThan(1e-6);
    expect(maxAbsDiff(a.samples![0]!, single.sample.dataSync())).toBeLessThan(1e-6);
    expect(a.finalPredictions).toHaveLength(3);
    const p = Array.from(a.probability.dataSync());
    expect(p.every((v) => [0, 1 / 3, 2 / 3, 1].some((q) => Math.abs(v - q) < 1e-6))).toBe(true);
    expect(p.some((v) => v > 0 && v < 1)).toBe(true); // runs differ
    expect(a.probability.shape).toEqual([2, 16, 16, 1]);
    tf.dispose([a.probability, a.meanSample, ...a.samples!, b.probability, b.meanSample, single.sample, single.latent, single.differenceMap]);
    expect(tf.memory().numTensors).toBe(before);
    image.dispose();
  });

  it('firstRun: a part of the runs draws the same runs as the whole map', async () => {
    const image = tf.tensor4d(fx.image, shape);
    const o = { diffusion, model, regressor, image, baselineBurden: fx.baselineBurden, relativeChange: fx.relativeChange,
      noiseLevel: 100, scale: 1000, initialNoiseStd: 0.2, seed: 3, segmenter: positive, keepSamples: true };
    const whole = await growthProbabilityMap({ ...o, samples: 3 });
    const tail = await growthProbabilityMap({ ...o, samples: 2, firstRun: 1 });
    expect(maxAbsDiff(tail.samples![0]!, whole.samples![1]!.dataSync())).toBeLessThan(1e-6);
    expect(maxAbsDiff(tail.samples![1]!, whole.samples![2]!.dataSync())).toBeLessThan(1e-6);
    // and not run 0's: the runs differ
    expect(maxAbsDiff(tail.samples![0]!, whole.samples![0]!.dataSync())).toBeGreaterThan(1e-3);
    await expect(growthProbabilityMap({ ...o, samples: 1, firstRun: -1 })).rejects.toThrow(/'firstRun' passed to 'growthProbabilityMap' must be an integer >= 0/);
    tf.dispose([whole.probability, whole.meanSample, ...whole.samples!, tail.probability, tail.meanSample, ...tail.samples!, image]);
  });

  it('uses the FLAIR segmenter by default and validates', async () => {
    const image = tf.tensor4d(fx.image, shape);
    const out = await growthProbabilityMap({ diffusion, model, regressor, image, baselineBurden: 0.1, relativeChange: 0.2, noiseLevel: 30, samples: 2 });
    expect(out.probability.shape).toEqual([2, 16, 16, 1]);
    tf.dispose([out.probability, out.meanSample]);
    const o = { diffusion, model, regressor, image, baselineBurden: 0.1, relativeChange: 0.2, noiseLevel: 30 };
    await expect(growthProbabilityMap({ ...o, samples: 0 })).rejects.toThrow(/'samples' passed to 'growthProbabilityMap'/);
    await expect(growthProbabilityMap({ ...o, samples: 2, samplesPerBatch: 0 })).rejects.toThrow(/'samplesPerBatch'/);
    await expect(growthProbabilityMap({ ...o, samples: 2, segmenter: {} as Segmenter })).rejects.toThrow(/'segmenter'/);
    await expect(growthProbabilityMap({ ...o, samples: 64, heapLimitBytes: 2 ** 22 })).rejects.toThrow(/'samplesPerBatch'/);
    image.dispose();
  });

  it("with dataRange '[0,1]' the default FLAIR segmenter takes 0 as the background", async () => {
    // the phantom in [0, 1]: background 0 outside the brain disc
    const h = 16;
    const image = tf.tidy(() => tf.div(tf.add(tf.tensor4d(phantom(h, [{ y: 7, x: 7, r: 2 }]), [1, h, h, 4]), 1), 2) as tf.Tensor4D);
    const zero: DiffusionModel = (x) => tf.concat([tf.zerosLike(x), tf.zerosLike(x)], 3) as tf.Tensor4D; // eps 0, v 0
    const o = { diffusion, model: zero, regressor, image, baselineBurden: 0.1, relativeChange: 0.2, noiseLevel: 30, samples: 1, dataRange: '[0,1]' as const };
    const byDefault = await growthProbabilityMap(o);
    const explicit = await growthProbabilityMap({ ...o, segmenter: createFlairSegmenter({ background: 0 }) });
    const wrong = await growthProbabilityMap({ ...o, segmenter: createFlairSegmenter({ background: -1 }) });
    expect(maxAbsDiff(byDefault.probability, explicit.probability.dataSync())).toBe(0);
    // with the [-1, 1] background the zero outside the brain counts as brain and moves the threshold
    expect(maxAbsDiff(byDefault.probability, wrong.probability.dataSync())).toBeGreaterThan(0);
    tf.dispose([image, byDefault.probability, byDefault.meanSample, explicit.probability, explicit.meanSample, wrong.probability, wrong.meanSample]);
  });
});

describe('targets JSON', () => {
  it('parses targets JSON and rejects bad entries', () => {
    const t = parseGrowthTargets('{"a_1": {"relativeChange": 0.2, "targetImage": "f.nii"}, "b_2": {"relativeChange": -0.1}}');
    expect(t).toEqual({ a_1: { relativeChange: 0.2, targetImage: 'f.nii' }, b_2: { relativeChange: -0.1 } });
    expect(() => parseGrowthTargets('{')).toThrow(/'json' passed to 'parseGrowthTargets' is not valid JSON/);
    expect(() => parseGrowthTargets('[]')).toThrow(/must be an object/);
    expect(() => parseGrowthTargets({ a: { relativeChange: 'x' } })).toThrow(/slice 'a' needs a finite number 'relativeChange'/);
    expect(() => parseGrowthTargets({ a: { relativeChange: 1, targetImage: 3 } })).toThrow(/'targetImage'/);
  });
});
