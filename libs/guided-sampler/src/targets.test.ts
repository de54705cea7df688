// Relative changes and target burdens are validated where they enter the
// library: a targets JSON and the options of the guided sampler and the map.
import { beforeAll, describe, expect, it } from '@jest/globals';
import * as tf from '@tensorflow/tfjs';
import { createDiffusion, type DiffusionModel } from '@tumorcast/diffusion';
import { growthProbabilityMap, guidedSampleKnown, parseGrowthTargets, type RegressorFn } from './index.js';
import { fx, shape, tinyGuidedNets } from './test-utils/tiny-guided.js';

let model!: DiffusionModel;
let regressor!: RegressorFn;
beforeAll(async () => ({ model, regressor } = await tinyGuidedNets()));

describe('parseGrowthTargets', () => {
  it('accepts -1 (a vanished tumour) and refuses relative changes below it, naming the slice', () => {
    expect(parseGrowthTargets('{"a_1": {"relativeChange": -1}}')).toEqual({ a_1: { relativeChange: -1 } });
    expect(() => parseGrowthTargets('{"a_1": {"relativeChange": 0.1}, "b_2": {"relativeChange": -2}}'))
      .toThrow(/'relativeChange' of slice 'b_2' is -2; it must be >= -1/);
    expect(() => parseGrowthTargets({ a: { relativeChange: -1.0000001 } })).toThrow(RangeError);
  });

  it('refuses non-finite relative changes (JSON has no Infinity, a parsed object can)', () => {
    expect(() => parseGrowthTargets({ a: { relativeChange: Infinity } })).toThrow(/slice 'a' needs a finite number 'relativeChange'/);
    expect(() => parseGrowthTargets({ a: { relativeChange: null } })).toThrow(/slice 'a' needs a finite number/);
    // 1e999 parses to Infinity
    expect(() => parseGrowthTargets('{"a": {"relativeChange": 1e999}}')).toThrow(/finite number/);
  });
});

describe('guided sampler options', () => {
  const diffusion = createDiffusion({ steps: 1000, learnSigma: true, timestepRespacing: 'ddim100' });

  it('refuses a relative change below -1 and a non-finite target burden, before any step', async () => {
    const image = tf.tensor4d(fx.image, shape);
    const o = { diffusion, model, regressor, image, baselineBurden: 0.2, relativeChange: 0.3, noiseLevel: 20 };
    const before = tf.memory().numTensors;
    await expect(guidedSampleKnown({ ...o, relativeChange: -2 })).rejects.toThrow(/'relativeChange' passed to 'guidedSampleKnown' must be >= -1.*got -2/);
    await expect(guidedSampleKnown({ ...o, relativeChange: [0.1, -1.5] })).rejects.toThrow(/got -1\.5 for image 1/);
    await expect(guidedSampleKnown({ ...o, relativeChange: Infinity })).rejects.toThrow(/'relativeChange'/);
    // finite inputs whose product overflows: 1e308 x (1 + 1e308)
    await expect(guidedSampleKnown({ ...o, baselineBurden: 1e308, relativeChange: 1e308 })).rejects.toThrow(/target burden r0 \(1 \+ d\) .* finite number >= 0, got Infinity/);
    await expect(growthProbabilityMap({
      ...o, relativeChange: -3, samples: 1, segmenter: { name: 'none', segment: async () => tf.zeros([1]) },
    } as never)).rejects.toThrow(/'relativeChange' passed to 'growthProbabilityMap' must be >= -1/);
    expect(tf.memory().numTensors).toBe(before);
    image.dispose();
  });

  it('accepts -1: the target burden is 0', async () => {
    const image = tf.tensor4d(fx.image, shape);
    const out = await guidedSampleKnown({ diffusion, model, regressor, image, baselineBurden: 0.2, relativeChange: -1, noiseLevel: 20, scale: 0 });
    expect(out.targetBurden).toEqual([0, 0]);
    tf.dispose([image, out.sample, out.latent, out.differenceMap]);
  });
});
