import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import * as tf from '@tensorflow/tfjs';
import { initBackend } from '@tumorcast/nn';
import { createDiffusion, type DiffusionModel } from '@tumorcast/diffusion';
import { createUNet, type UNet, type UNetConfig } from '@tumorcast/unet';
import { createRegressor, type Regressor } from '@tumorcast/regressor';
import { growthProbabilityMap, guidedSampleKnown } from './index.js';
import {
  AUTHORS_REGRESSOR_PT, AUTHORS_UNET_PT, loadAuthorsReference, refArray, refTensor, type AuthorsReference,
} from '../../regressor/test/authors-fork.js';
import { maxAbsDiff } from '../../diffusion/src/test-utils/tiny-nets.js';

// Golden values: tools/networks/make_authors_fixtures.py. A tiny U-Net and regressor built as the
// authors' guided-diffusion fork builds them, saved as their training scripts save them (.pt), and
// tools/diffusion/reference.py's guided sample-known (tumorcast's corrected indexing) run with them
// in PyTorch on [0, 1] data, the range the authors' networks are trained on.
let ref!: AuthorsReference;
let unet!: UNet;
let reg!: Regressor;
let model!: DiffusionModel;

beforeAll(async () => {
  await initBackend({ log: false });
  ref = loadAuthorsReference();
  unet = createUNet(ref.unetConfig as unknown as UNetConfig);
  await unet.loadWeights(AUTHORS_UNET_PT);
  reg = createRegressor(ref.regressorConfig);
  await reg.loadWeights(AUTHORS_REGRESSOR_PT);
  model = (x, t, y) => unet.apply(x, t, y);
});
afterAll(() => {
  unet?.dispose();
  reg?.dispose();
});

describe("the authors' networks (.pt, loaded without renaming)", () => {
  it('the U-Net forward agrees with PyTorch within 1e-4', () => {
    tf.tidy(() => {
      const out = unet.apply(refTensor(ref, 'unet.x') as tf.Tensor4D, refArray(ref, 'unet.t'), refArray(ref, 'unet.y'));
      const want = refTensor(ref, 'unet.out');
      expect(tf.max(tf.abs(want)).dataSync()[0]).toBeGreaterThan(0.5); // non-degenerate weights
      expect(maxAbsDiff(out, want.dataSync())).toBeLessThan(1e-4);
    });
  });

  for (const [k, label] of [[0, 'unspaced'], [1, 'respaced']] as const) {
    it(`guided sample-known on [0, 1] data agrees with PyTorch within 1e-3 (${label})`, async () => {
      const run = ref.runs[k]!;
      const diffusion = createDiffusion({ steps: 1000, learnSigma: true, ...(run.respacing ? { timestepRespacing: run.respacing } : {}) });
      const image = refTensor(ref, 'guided.image') as tf.Tensor4D;
      // [0, 1] data as the authors feed it: zero background, nothing negative
      expect(tf.min(image).dataSync()[0]).toBe(0);
      const common = {
        diffusion, model, regressor: reg, image, dataRange: '[0,1]' as const, regressorDataRange: '[0,1]' as const,
        baselineBurden: ref.baselineBurden, relativeChange: ref.relativeChange, noiseLevel: run.noiseLevel,
        classLabel: ref.classLabel, initialNoiseStd: 0, seed: 1,
      };
      const out = await guidedSampleKnown({ ...common, scale: run.scale });
      expect(out.steps).toBe(run.steps);
      expect(maxAbsDiff(out.latent, run.latent)).toBeLessThan(1e-3);
      expect(maxAbsDiff(out.sample, run.sample)).toBeLessThan(1e-3);
      expect(maxAbsDiff(out.predictions.flat(), run.predictions.flat())).toBeLessThan(1e-3);
      expect(maxAbsDiff(out.finalPrediction, run.finalPrediction)).toBeLessThan(1e-3);
      const zero = await guidedSampleKnown({ ...common, scale: 0 });
      expect(maxAbsDiff(zero.sample, run.sampleScale0)).toBeLessThan(1e-3);
      // the guidance is visible: the guided and unguided samples differ far more than the tolerance
      expect(maxAbsDiff(out.sample, run.sampleScale0)).toBeGreaterThan(2e-2);
      tf.dispose([image, out.sample, out.latent, out.differenceMap, zero.sample, zero.latent, zero.differenceMap]);
    });
  }

  it('networks trained on different data ranges are refused', async () => {
    const diffusion = createDiffusion({ steps: 1000, learnSigma: true, timestepRespacing: 'ddim100' });
    const image = refTensor(ref, 'guided.image') as tf.Tensor4D;
    const base = { diffusion, model, regressor: reg, image, baselineBurden: 0.1, relativeChange: 0.2, noiseLevel: 20 };
    await expect(guidedSampleKnown({ ...base, dataRange: '[0,1]', regressorDataRange: '[-1,1]' }))
      .rejects.toThrow(/'regressorDataRange' passed to 'guidedSampleKnown' is '\[-1,1\]' but 'dataRange' \(the denoiser's\) is '\[0,1\]'/);
    await expect(guidedSampleKnown({ ...base, regressorDataRange: '[0,1]' })).rejects.toThrow(/but 'dataRange' \(the denoiser's\) is '\[-1,1\]'/);
    await expect(guidedSampleKnown({ ...base, dataRange: '0..1' as never })).rejects.toThrow(/'dataRange' passed to 'guidedSampleKnown' must be '\[-1,1\]' or '\[0,1\]'/);
    await expect(growthProbabilityMap({ ...base, samples: 2, dataRange: '[-1,1]', regressorDataRange: '[0,1]' }))
      .rejects.toThrow(/'regressorDataRange' passed to 'growthProbabilityMap'/);
    image.dispose();
  });
});
