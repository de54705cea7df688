import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import * as tf from '@tensorflow/tfjs';
import { growthProbabilityMap } from '@tumorcast/guided-sampler';
import { toModelRange } from '@tumorcast/diffusion';
import { initBackend } from '@tumorcast/nn';
import type { UNetConfig } from '@tumorcast/unet';
import { loadModels } from './models.js';
import type { PredictionNetworks } from './networks.js';
import { segmenterOf } from './networks.js';
import { predictSlice } from './predict.js';
import { DEFAULT_SAMPLE_SETTINGS, samplingDiffusion } from './settings.js';
import type { SliceImages } from './geometry.js';
import { AUTHORS_REGRESSOR_PT, AUTHORS_UNET_PT, loadAuthorsReference, refTensor } from '../../../libs/regressor/test/authors-fork.js';

// The authors'-fork networks (16x16, tools/networks/make_authors_fixtures.py), a baseline of their fixture.
let networks: PredictionNetworks;
let slice: SliceImages;
const settings = { ...DEFAULT_SAMPLE_SETTINGS, noiseLevel: 12, respacing: '', scale: 2000, seed: 3 };
beforeAll(async () => {
  await initBackend({ log: false });
  const ref = loadAuthorsReference();
  networks = await loadModels({ diffusion: AUTHORS_UNET_PT, regressor: AUTHORS_REGRESSOR_PT, diffusionPreset: ref.unetConfig as unknown as UNetConfig, regressorPreset: ref.regressorConfig });
  const S = networks.imageSize;
  const image = (refTensor(ref, 'guided.image').dataSync() as Float32Array).slice(0, S * S * 4);
  const label = Uint8Array.from({ length: S * S }, (_, p) => (p % S >= 6 && p % S <= 9 && p >= 6 * S && p < 10 * S ? 1 : 0));
  slice = { width: S, height: S, native: image, model: image, modelLabel: label, nativeLabel: label, burden: 16 / (S * S) };
});
afterAll(() => networks.dispose());

describe('predictSlice', () => {
  it('with one run: one guided pass, and the map is the one-run map of the guided sampler bit for bit', async () => {
    const phases: string[] = [];
    const n0 = tf.memory().numTensors;
    const p = await predictSlice(networks, slice, 0.5, { settings: { ...settings, samples: 1 }, onProgress: (what) => phases.push(what) });
    expect(tf.memory().numTensors).toBe(n0);
    expect(new Set(phases)).toEqual(new Set(['encode', 'decode']));
    expect(phases).toHaveLength(2 * 12);
    // The reference: the sampler's own one-run probability map with the same inputs.
    const S = networks.imageSize;
    const image = tf.tidy(() => toModelRange(tf.tensor4d(slice.model, [1, S, S, 4]), networks.dataRange));
    const baselineMask = tf.tensor4d(Float32Array.from(slice.modelLabel!), [1, S, S, 1]);
    const map = await growthProbabilityMap({
      diffusion: samplingDiffusion(networks, settings), model: (x, t, y) => networks.unet.apply(x, t, y), regressor: networks.regressor, image,
      dataRange: networks.dataRange, baselineBurden: slice.burden!, relativeChange: 0.5, noiseLevel: 12, scale: 2000, classLabel: 1, eta: 0, seed: 3,
      amplifyEarlyTarget: true, initialNoiseStd: 0.01, samples: 1, segmenter: segmenterOf(networks), baselineMask,
    });
    expect(p.probabilityModel).toEqual(map.probability.dataSync());
    // Not a trivial map: some pixels are tumour, most are not.
    const tumour = p.probabilityModel.reduce((a, v) => a + v, 0);
    expect(tumour).toBeGreaterThan(0);
    expect(tumour).toBeLessThan(S * S / 2);
    tf.dispose([image, baselineMask, map.probability, map.meanSample]);
    expect(p.probabilityNative).toHaveLength(S * S);
    expect(p.targetBurden).toBeCloseTo(slice.burden! * 1.5, 12);
    expect(p.trajectory).toHaveLength(12);
  });

  it('with more runs: the guided sample, then the map runs; probabilities in steps of 1/runs', async () => {
    const phases = new Set<string>();
    const p = await predictSlice(networks, slice, 0.5, { settings: { ...settings, samples: 2 }, onProgress: (what) => phases.add(what) });
    expect(phases).toEqual(new Set(['encode', 'decode', 'map encode', 'map decode', 'map']));
    expect(Array.from(p.probabilityModel).every((v) => v === 0 || v === 0.5 || v === 1)).toBe(true);
  });

  it('refuses a slice of another size than the networks\'', async () => {
    await expect(predictSlice(networks, { ...slice, model: new Float32Array(8) }, 0.1)).rejects.toThrow(/'slice\.model' passed to 'predictSlice' has 8 values, expected 16x16x4/);
  });
});
