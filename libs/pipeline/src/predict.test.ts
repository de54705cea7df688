import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import * as tf from '@tensorflow/tfjs';
import { growthProbabilityMap, guidedSampleKnown } from '@tumorcast/guided-sampler';
import { createSegmenterNet, segmenterBurden } from '@tumorcast/segmenter';
import { toModelRange } from '@tumorcast/diffusion';
import { initBackend } from '@tumorcast/nn';
import type { UNetConfig } from '@tumorcast/unet';
import { loadModels } from './models.js';
import type { PredictionNetworks } from './networks.js';
import { segmenterOf } from './networks.js';
import { predictSlice, regressorBaselineReading } from './predict.js';
import { DEFAULT_SAMPLE_SETTINGS, checkGradientMarginPixels, checkSettingsFit, guidanceSummary, samplingDiffusion } from './settings.js';
import { PipelineInputError } from './errors.js';
import type { ProbabilityMapRequest } from './parallel.js';
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

  it("with baselineBurden 'regressor': r0 is the regressor's reading of the baseline at t = 0, the label still the baseline's mask, the map runs get the same r0", async () => {
    const S = networks.imageSize;
    // The reading computed here with the network's own forward pass (not the pipeline's helper).
    const image = tf.tidy(() => toModelRange(tf.tensor4d(slice.model, [1, S, S, 4]), networks.dataRange));
    const out = networks.regressor.apply(image, [0]);
    const reading = (out.dataSync() as Float32Array)[0]!;
    tf.dispose([image, out]);
    // The fixture's regressor reads a positive burden, far from the label's 16 / 256: the test tells the two apart.
    expect(reading).toBeGreaterThan(0);
    expect(Math.abs(reading - slice.burden!)).toBeGreaterThan(0.01);

    const requests: ProbabilityMapRequest[] = [];
    const mapRunner = async (r: ProbabilityMapRequest) => {
      requests.push(r);
      return new Float32Array(S * S);
    };
    const n0 = tf.memory().numTensors;
    const p = await predictSlice(networks, slice, 0.5, { settings: { ...settings, samples: 2, baselineBurden: 'regressor' }, mapRunner });
    expect(tf.memory().numTensors).toBe(n0);
    expect(p.baselineBurdenSource).toBe('regressor');
    expect(p.baselineMaskSource).toBe('label');
    expect(p.baselineBurden).toBeCloseTo(reading, 5);
    expect(p.targetBurden).toBeCloseTo(reading * 1.5, 5);
    expect(p.baselineMaskNative).toBe(slice.nativeLabel);
    expect(requests).toHaveLength(1);
    expect(requests[0]!.baselineBurden).toBe(p.baselineBurden);
    expect(Array.from(requests[0]!.baselineMask)).toEqual(Array.from(slice.modelLabel!));
    const again = tf.tidy(() => toModelRange(tf.tensor4d(slice.model, [1, S, S, 4]), networks.dataRange));
    expect(await regressorBaselineReading(networks, again)).toBeCloseTo(reading, 5);
    again.dispose();

    // With the label (the default) r0 is the label's burden.
    const q = await predictSlice(networks, slice, 0.5, { settings: { ...settings, samples: 1 } });
    expect(q.baselineBurdenSource).toBe('label');
    expect(q.baselineBurden).toBe(slice.burden);
  });

  it("clamps a negative reading at 0, and refuses a baselineBurden other than 'label' or 'regressor'", async () => {
    // A differentiable stand-in (the guidance takes its gradient) that always reads below 0.
    const negative: PredictionNetworks = {
      ...networks,
      // The guidance takes any callable regressor; the networks' type names the class.
      regressor: ((x: tf.Tensor4D) => tf.sub(tf.mul(tf.mean(x, [1, 2, 3]), 0.01), 0.2) as tf.Tensor1D) as unknown as PredictionNetworks['regressor'],
    };
    const p = await predictSlice(negative, slice, 0.5, { settings: { ...settings, samples: 1, baselineBurden: 'regressor' } });
    expect(p.baselineBurden).toBe(0);
    expect(p.targetBurden).toBe(0);
    const bad = predictSlice(networks, slice, 0.5, { settings: { ...settings, baselineBurden: 'mask' as 'label' } });
    await expect(bad).rejects.toThrow(PipelineInputError);
    await expect(predictSlice(networks, slice, 0.5, { settings: { ...settings, baselineBurden: 'mask' as 'label' } }))
      .rejects.toThrow(/'settings\.baselineBurden' passed to 'predictSlice' \("mask"\) must be 'label' or 'regressor'/);
    await expect(regressorBaselineReading(networks, tf.zeros([2, 16, 16, 4]) as tf.Tensor4D)).rejects.toThrow(/'image' passed to 'regressorBaselineReading' must be one \[1, S, S, 4\] image, got shape \[2, 16, 16, 4\]/);
  });

  it("with guidance 'segmenter': the learned segmenter's soft burden of the denoised estimate steers, as the guided sampler does with it", async () => {
    // A random tiny segmenter (16x16): the plumbing is under test, not the segmentation.
    const seg = createSegmenterNet({ imageSize: 16, baseChannels: 8, normGroups: 4, channelMult: [1, 2], numResBlocks: 1 }, { seed: 11 });
    const guided = { ...networks, segmenter: seg };
    try {
      const S = networks.imageSize;
      let brain = 0;
      for (let i = 3; i < slice.model.length; i += 4) if (slice.model[i] !== 0) brain++;
      // The guided sampler run directly with segmenterBurden's own options: what predictSlice must reproduce for the same settings.
      const samplerWith = async (burden: { gradientTemperature?: number; gradientMarginPixels?: number } = {}) => {
        const image = tf.tidy(() => toModelRange(tf.tensor4d(slice.model, [1, S, S, 4]), networks.dataRange));
        const ref = await guidedSampleKnown({
          diffusion: samplingDiffusion(networks, settings), model: (x, t, y) => networks.unet.apply(x, t, y), image, dataRange: networks.dataRange,
          regressor: segmenterBurden(seg, { brainPixels: brain, inputRange: networks.dataRange, ...burden }), guidanceInput: 'denoised',
          baselineBurden: slice.burden!, relativeChange: 0.5, noiseLevel: 12, scale: 2000, classLabel: 1, eta: 0, seed: 3, amplifyEarlyTarget: true, initialNoiseStd: 0.01,
        });
        // The segmenter's probabilities of the sample itself (before predictSlice clips it to [0, 1]).
        const probabilities = tf.tidy(() => seg.predictProbabilities(networks.dataRange === '[-1,1]' ? tf.div(tf.add(ref.sample, 1), 2) as tf.Tensor4D : ref.sample));
        const out = { trajectory: ref.predictions.map((v) => v[0]), finalPrediction: ref.finalPrediction[0], probabilities };
        tf.dispose([image, ref.sample, ref.latent, ref.differenceMap]);
        return out;
      };

      const n0 = tf.memory().numTensors;
      // Native 256x256 (the padded size, no crop): each model pixel covers 16x16 native ones.
      const wide = { ...slice, width: 256, height: 256, native: new Float32Array(256 * 256 * 4), nativeLabel: new Uint8Array(256 * 256) };
      const p = await predictSlice(guided, wide, 0.5, { settings: { ...settings, samples: 1, guidance: 'segmenter' } });
      expect(tf.memory().numTensors).toBe(n0);
      // The reference: the sampler itself, given the segmenter's burden on the denoised estimate.
      const ref = await samplerWith();
      expect(p.trajectory).toEqual(ref.trajectory);
      expect(p.predictedBurden).toBe(ref.finalPrediction);
      // The native mask comes from the segmenter's probabilities of the result, not its mask: tfjs's own bilinear
      // resize (half-pixel centres) to 256, then >= 0.5, is the reference.
      const { want, fromMask } = tf.tidy(() => {
        const probs = ref.probabilities;
        const native = (x: tf.Tensor4D) => Array.from(tf.image.resizeBilinear(x, [256, 256], false, true).dataSync(), (v) => (v >= 0.5 ? 1 : 0));
        return { want: native(probs), fromMask: native(tf.cast(tf.greaterEqual(probs, 0.5), 'float32') as tf.Tensor4D) };
      });
      ref.probabilities.dispose();
      const differing = (a: ArrayLike<number>, b: ArrayLike<number>) => Array.from(a).filter((v, i) => v !== b[i]).length;
      expect(differing(p.followupMaskNative, want)).toBeLessThanOrEqual(2); // float32 rounding at exactly 0.5
      expect(differing(want, fromMask)).toBeGreaterThan(10); // the mask's reading is another one: this can fail

      // r0 from the guiding segmenter's own soft reading of the baseline: its probabilities summed over the brain pixels.
      const q = await predictSlice(guided, slice, 0.5, { settings: { ...settings, samples: 1, guidance: 'segmenter', baselineBurden: 'regressor' } });
      const probabilities = tf.tidy(() => seg.predictProbabilities(tf.tensor4d(slice.model, [1, S, S, 4])));
      const soft = Array.from(await probabilities.data()).reduce((a, v) => a + v, 0) / brain;
      probabilities.dispose();
      expect(q.baselineBurdenSource).toBe('segmenter');
      expect(q.baselineBurden).toBeCloseTo(soft, 5);
      expect(q.targetBurden).toBeCloseTo(soft * 1.5, 5);

      // settings.gradientTemperature reaches segmenterBurden: the sampler with its gradientTemperature 2 is the reference.
      const n1 = tf.memory().numTensors;
      const hot = await predictSlice(guided, slice, 0.5, { settings: { ...settings, samples: 1, guidance: 'segmenter', gradientTemperature: 2 } });
      expect(tf.memory().numTensors).toBe(n1);
      const ref2 = await samplerWith({ gradientTemperature: 2 });
      ref2.probabilities.dispose();
      expect(hot.trajectory).toEqual(ref2.trajectory);
      expect(hot.predictedBurden).toBe(ref2.finalPrediction);
      // ... and it changes the decoding (the same target, another gradient)
      expect(hot.targetBurden).toBe(p.targetBurden);
      expect(hot.trajectory).not.toEqual(p.trajectory);

      // settings.gradientMarginPixels reaches segmenterBurden too: the sampler with its gradientMarginPixels 0 is the reference.
      const n2 = tf.memory().numTensors;
      const near = await predictSlice(guided, slice, 0.5, { settings: { ...settings, samples: 1, guidance: 'segmenter', gradientTemperature: 2, gradientMarginPixels: 0 } });
      expect(tf.memory().numTensors).toBe(n2);
      const ref3 = await samplerWith({ gradientTemperature: 2, gradientMarginPixels: 0 });
      ref3.probabilities.dispose();
      expect(near.trajectory).toEqual(ref3.trajectory);
      expect(near.predictedBurden).toBe(ref3.finalPrediction);
      // ... and it changes the decoding (the same target, the gradient cut off the tumour)
      expect(near.targetBurden).toBe(p.targetBurden);
      expect(near.trajectory).not.toEqual(hot.trajectory);
    } finally {
      seg.dispose();
    }
  });

  it("refuses guidance 'segmenter' without a learned segmenter, and an unknown guidance", async () => {
    await expect(predictSlice(networks, slice, 0.5, { settings: { ...settings, samples: 1, guidance: 'segmenter' } }))
      .rejects.toThrow(/guidance 'segmenter' passed to 'sliceSamplerOptions' needs a learned segmenter: give the segmenter's weights \(models\.segmenter\)/);
    await expect(predictSlice(networks, slice, 0.5, { settings: { ...settings, guidance: 'flair' as 'segmenter' } }))
      .rejects.toThrow(/'settings\.guidance' passed to 'predictSlice' \("flair"\) must be 'regressor' or 'segmenter'/);
    expect(() => checkSettingsFit(networks, { noiseLevel: 12, respacing: '', guidance: 'segmenter' }, 'unet.pt'))
      .toThrow(/'settings\.guidance' = 'segmenter' needs a learned segmenter/);
  });

  it('refuses a gradient temperature that is not a finite number > 0, or other than 1 with the regressor\'s guidance', async () => {
    for (const bad of [0, -1, NaN, Infinity, '2']) {
      await expect(predictSlice(networks, slice, 0.5, { settings: { ...settings, samples: 1, gradientTemperature: bad as number } }))
        .rejects.toThrow(/'settings\.gradientTemperature' passed to 'predictSlice' \(.*\) must be a finite number > 0/);
      expect(() => checkSettingsFit(networks, { noiseLevel: 12, respacing: '', gradientTemperature: bad as number }, 'unet.pt'))
        .toThrow(PipelineInputError);
    }
    await expect(predictSlice(networks, slice, 0.5, { settings: { ...settings, samples: 1, gradientTemperature: 2 } }))
      .rejects.toThrow(/'settings\.gradientTemperature' passed to 'predictSlice' \(2\) applies to 'settings\.guidance' passed to 'predictSlice' \('segmenter'\) only/);
    // checkSettingsFit: with the default guidance (the regressor) as with an explicit one; 1 is fine with either
    expect(() => checkSettingsFit(networks, { noiseLevel: 12, respacing: '', gradientTemperature: 0.5 }, 'unet.pt'))
      .toThrow(/'settings\.gradientTemperature' = 0\.5 applies to 'settings\.guidance' = 'segmenter' only: guide with 'segmenter', or leave the temperature at 1/);
    expect(() => checkSettingsFit(networks, { noiseLevel: 12, respacing: '', guidance: 'regressor', gradientTemperature: 1 }, 'unet.pt')).not.toThrow();
    expect(() => checkSettingsFit({ process: networks.process }, { noiseLevel: 12, respacing: '', guidance: 'segmenter', gradientTemperature: 3 }, 'unet.pt')).not.toThrow();
  });

  it('refuses a gradient margin that is not an integer >= 0 or Infinity, or finite with the regressor\'s guidance', async () => {
    for (const bad of [-1, 1.5, NaN, -Infinity, '4']) {
      await expect(predictSlice(networks, slice, 0.5, { settings: { ...settings, samples: 1, guidance: 'segmenter', gradientMarginPixels: bad as number } }))
        .rejects.toThrow(/'settings\.gradientMarginPixels' passed to 'predictSlice' \(.*\) must be an integer >= 0 \(pixels of the networks' grid\) or Infinity/);
      expect(() => checkSettingsFit(networks, { noiseLevel: 12, respacing: '', guidance: 'segmenter', gradientMarginPixels: bad as number }, 'unet.pt'))
        .toThrow(PipelineInputError);
    }
    await expect(predictSlice(networks, slice, 0.5, { settings: { ...settings, samples: 1, gradientMarginPixels: 4 } }))
      .rejects.toThrow(/'settings\.gradientMarginPixels' passed to 'predictSlice' \(4\) applies to 'settings\.guidance' passed to 'predictSlice' \('segmenter'\) only/);
    // checkSettingsFit: with the default guidance (the regressor) as with an explicit one; Infinity is fine with either, 0 with the segmenter's
    expect(() => checkSettingsFit(networks, { noiseLevel: 12, respacing: '', gradientMarginPixels: 0 }, 'unet.pt'))
      .toThrow(/'settings\.gradientMarginPixels' = 0 applies to 'settings\.guidance' = 'segmenter' only: guide with 'segmenter', or leave the margin at Infinity/);
    expect(() => checkSettingsFit(networks, { noiseLevel: 12, respacing: '', guidance: 'regressor', gradientMarginPixels: Infinity }, 'unet.pt')).not.toThrow();
    expect(() => checkSettingsFit({ process: networks.process }, { noiseLevel: 12, respacing: '', guidance: 'segmenter', gradientMarginPixels: 0 }, 'unet.pt')).not.toThrow();
    expect(() => checkGradientMarginPixels(3, 'segmenter')).not.toThrow();
  });

  it('guidanceSummary names the gradient margin when it is finite', () => {
    expect(guidanceSummary({ guidance: 'segmenter', baselineBurden: 'regressor', gradientMarginPixels: 4 }))
      .toBe("guided by the segmenter's burden of the denoised estimate (gradient within 4 pixels of the tumour), r0 from the segmenter's reading of the baseline");
    expect(guidanceSummary({ guidance: 'segmenter', baselineBurden: 'label', gradientTemperature: 2, gradientMarginPixels: 0 }))
      .toBe("guided by the segmenter's burden of the denoised estimate (gradient temperature 2, gradient within 0 pixels of the tumour), r0 from the label");
    expect(guidanceSummary({ guidance: 'segmenter', baselineBurden: 'label', gradientMarginPixels: Infinity }))
      .toBe("guided by the segmenter's burden of the denoised estimate, r0 from the label");
    expect(DEFAULT_SAMPLE_SETTINGS.gradientMarginPixels).toBe(Infinity);
  });

  it('guidanceSummary names the gradient temperature when it is not 1', () => {
    expect(guidanceSummary({ guidance: 'segmenter', baselineBurden: 'regressor', gradientTemperature: 2 }))
      .toBe("guided by the segmenter's burden of the denoised estimate (gradient temperature 2), r0 from the segmenter's reading of the baseline");
    expect(guidanceSummary({ guidance: 'segmenter', baselineBurden: 'label', gradientTemperature: 1 }))
      .toBe("guided by the segmenter's burden of the denoised estimate, r0 from the label");
    expect(guidanceSummary({ guidance: 'segmenter', baselineBurden: 'label' })).toBe("guided by the segmenter's burden of the denoised estimate, r0 from the label");
    expect(DEFAULT_SAMPLE_SETTINGS.gradientTemperature).toBe(1);
  });

  it('refuses a slice of another size than the networks\'', async () => {
    await expect(predictSlice(networks, { ...slice, model: new Float32Array(8) }, 0.1)).rejects.toThrow(/'slice\.model' passed to 'predictSlice' has 8 values, expected 16x16x4/);
  });
});
