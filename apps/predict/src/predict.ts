/**
 * The per-slice prediction: the guided follow-up scan and the growth
 * probability map of one baseline slice, at the networks' size and brought
 * back to the input's geometry.
 */
import * as tf from '@tensorflow/tfjs';
import { backgroundValue, createDiffusion, fromModelRange, toModelRange } from '@tumorcast/diffusion';
import type { Diffusion } from '@tumorcast/diffusion';
import { createFlairSegmenter, growthProbabilityMap, guidedSampleKnown } from '@tumorcast/guided-sampler';
import type { Segmenter } from '@tumorcast/guided-sampler';
import { learnedSegmenter } from '@tumorcast/segmenter';
import type { LoadedModels } from './models.js';
import type { PredictionSlice } from './slices.js';
import { toNative } from './slices.js';

/** Sampling settings (the paper's values as defaults where they apply). */
export interface SampleSettings {
  /** Noise level L in original timesteps. @defaultValue 200 */
  noiseLevel: number;
  /** Guidance scale s. @defaultValue 200000 (the paper's) */
  scale: number;
  /** Timestep respacing of the sampler (e.g. 'ddim100': L = 200 is then 20 steps); '' for none. @defaultValue 'ddim100' */
  respacing: string;
  /** DDIM eta. @defaultValue 0 */
  eta: number;
  /** Seed. @defaultValue 0 */
  seed: number;
  /** The reference code's target x1.15 while t > 20. @defaultValue true */
  amplifyEarlyTarget: boolean;
  /** Noise std added before inversion (the reference's 0.01). @defaultValue 0.01 */
  initialNoiseStd: number;
  /** Runs of the probability map. @defaultValue 8 */
  samples: number;
  /**
   * How a low-resolution prediction returns to the input's geometry:
   * 'residual' adds the upsampled predicted change to the full-resolution
   * baseline (keeps its detail); 'upsampled' upsamples the generated scan.
   * @defaultValue 'residual'
   */
  outputMode: 'residual' | 'upsampled';
}

/** Default {@link SampleSettings}. */
export const DEFAULT_SAMPLE_SETTINGS: SampleSettings = {
  noiseLevel: 200, scale: 200000, respacing: 'ddim100', eta: 0, seed: 0, amplifyEarlyTarget: true, initialNoiseStd: 0.01, samples: 8, outputMode: 'residual',
};

/** What {@link predictSlice} produces. */
export interface SlicePrediction {
  /** The relative change used. */
  relativeChange: number;
  /** Baseline burden r0, and where it came from. */
  baselineBurden: number;
  /** 'label' (the slice's segmentation) or the segmenter's name. */
  baselineBurdenSource: string;
  /** r* = r0 (1 + d). */
  targetBurden: number;
  /** The regressor's prediction on the generated follow-up. */
  predictedBurden: number;
  /** Regressor prediction per decoding step. */
  trajectory: number[];
  /** Generated follow-up at model size, HWC [0, 1]. */
  followupModel: Float32Array;
  /** Generated follow-up in the input's geometry, HWC [0, 1]. */
  followupNative: Float32Array;
  /** Growth probability at model size (HW). */
  probabilityModel: Float32Array;
  /** Growth probability in the input's geometry (HW). */
  probabilityNative: Float32Array;
  /** Tumour mask of the generated follow-up in the input's geometry (HW, 0/1). */
  followupMaskNative: Uint8Array;
  /** Baseline tumour mask in the input's geometry (HW, 0/1): the label, or the segmenter's. */
  baselineMaskNative: Uint8Array;
}

/** The diffusion process for sampling (respaced). */
export function samplingDiffusion(models: LoadedModels, settings: SampleSettings): Diffusion {
  return createDiffusion({
    steps: models.process.steps, schedule: models.process.schedule, learnSigma: models.process.learnSigma,
    ...(settings.respacing ? { timestepRespacing: settings.respacing } : {}),
  });
}

/**
 * The segmenter used for maps and burdens: the learned one when loaded, else
 * the FLAIR one; both told the networks' data range (the images they get).
 */
export function segmenterOf(models: LoadedModels): Segmenter {
  return models.segmenter
    ? learnedSegmenter(models.segmenter, { inputRange: models.dataRange })
    : createFlairSegmenter({ background: backgroundValue(models.dataRange) });
}

function brainCount(img: Float32Array, channels: number): number {
  let n = 0;
  for (let i = 3; i < img.length; i += channels) if ((img[i] as number) !== 0) n++;
  return n;
}

/**
 * Runs guided sampling and the probability map for one slice. `onProgress`
 * receives each step: phases `encode`/`decode` (the guided sample), `map
 * encode`/`map decode` (a batch of map runs) and `map` (map runs done).
 */
export async function predictSlice(
  models: LoadedModels, diffusion: Diffusion, slice: PredictionSlice, relativeChange: number, settings: SampleSettings,
  onProgress?: (what: string, done: number, total: number) => void,
): Promise<SlicePrediction> {
  const S = models.imageSize;
  const segmenter = segmenterOf(models);
  // the networks see the slice in the range they were trained on
  const image = tf.tidy(() => toModelRange(tf.tensor4d(slice.model, [1, S, S, 4]), models.dataRange));
  let baselineMaskModel: tf.Tensor4D;
  let baselineBurden: number;
  let source: string;
  if (slice.modelLabel && slice.burden !== undefined) {
    baselineMaskModel = tf.tensor4d(Float32Array.from(slice.modelLabel), [1, S, S, 1]);
    baselineBurden = slice.burden;
    source = 'label';
  } else {
    // No label: segment the baseline itself (the FLAIR segmenter needs a baseline tumour to look around,
    // so without a label it searches the whole brain).
    const seg = models.segmenter ? segmenter : createFlairSegmenter({ neighbourhoodRadius: Infinity, background: backgroundValue(models.dataRange) });
    baselineMaskModel = (await seg.segment({ image, baseline: image })) as tf.Tensor4D;
    const m = baselineMaskModel.dataSync();
    let t = 0;
    for (const v of m) if (v > 0.5) t++;
    baselineBurden = t / Math.max(1, brainCount(slice.model, 4));
    source = seg.name;
  }
  try {
    const common = {
      diffusion,
      model: (x: tf.Tensor4D, t: tf.Tensor1D, y?: tf.Tensor1D) => models.unet.apply(x, t, y),
      regressor: models.regressor,
      image,
      dataRange: models.dataRange,
      baselineBurden,
      relativeChange,
      noiseLevel: settings.noiseLevel,
      scale: settings.scale,
      classLabel: models.unet.config.numClasses ? 1 : null,
      eta: settings.eta,
      seed: settings.seed,
      amplifyEarlyTarget: settings.amplifyEarlyTarget,
      initialNoiseStd: settings.initialNoiseStd,
    };
    const guided = await guidedSampleKnown({ ...common, onProgress: (p) => onProgress?.(p.phase, p.done, p.total) });
    const followupModel = tf.tidy(() => fromModelRange(guided.sample, models.dataRange).clipByValue(0, 1).dataSync() as Float32Array);
    const trajectory = guided.predictions.map((p) => p[0] as number);
    const predictedBurden = guided.finalPrediction[0] as number;
    const followMaskModel = (await segmenter.segment({
      image: guided.sample, baseline: image, baselineMask: baselineMaskModel,
    })) as tf.Tensor4D;
    const followMask = followMaskModel.dataSync() as Float32Array;
    tf.dispose([guided.sample, guided.latent, guided.differenceMap, followMaskModel]);

    const map = await growthProbabilityMap({
      ...common, samples: settings.samples, segmenter, baselineMask: baselineMaskModel,
      // Per step within each batch of runs too, so that progress moves while the map is computed.
      onProgress: (p) => onProgress?.(`map ${p.phase}`, p.done, p.total),
      onSamples: (done, total) => onProgress?.('map', done, total),
    });
    const probabilityModel = map.probability.dataSync() as Float32Array;
    tf.dispose([map.probability, map.meanSample]);

    const W = slice.width, H = slice.height;
    let followupNative: Float32Array;
    if (settings.outputMode === 'upsampled') {
      followupNative = toNative(followupModel, S, 4, W, H);
    } else {
      const diff = new Float32Array(followupModel.length);
      for (let i = 0; i < diff.length; i++) diff[i] = (followupModel[i] as number) - (slice.model[i] as number);
      const up = toNative(diff, S, 4, W, H);
      followupNative = new Float32Array(up.length);
      for (let p = 0; p < W * H; p++) {
        let head = false;
        for (let c = 0; c < 4; c++) if ((slice.native[p * 4 + c] as number) !== 0) head = true;
        if (!head) continue; // background stays exactly 0, like the input
        for (let c = 0; c < 4; c++) {
          const v = (slice.native[p * 4 + c] as number) + (up[p * 4 + c] as number);
          followupNative[p * 4 + c] = Math.min(1, Math.max(0, v));
        }
      }
    }
    const probabilityNative = toNative(probabilityModel, S, 1, W, H);
    const followupMaskUp = toNative(followMask, S, 1, W, H);
    const followupMaskNative = Uint8Array.from(followupMaskUp, (v) => (v >= 0.5 ? 1 : 0));
    const baselineMaskNative = slice.nativeLabel
      ? slice.nativeLabel
      : Uint8Array.from(toNative(baselineMaskModel.dataSync() as Float32Array, S, 1, W, H), (v) => (v >= 0.5 ? 1 : 0));
    return {
      relativeChange, baselineBurden, baselineBurdenSource: source, targetBurden: guided.targetBurden[0] as number,
      predictedBurden, trajectory, followupModel, followupNative, probabilityModel, probabilityNative, followupMaskNative, baselineMaskNative,
    };
  } finally {
    tf.dispose([image, baselineMaskModel]);
  }
}
