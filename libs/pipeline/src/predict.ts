/**
 * The per-slice prediction: the guided follow-up scan and the growth
 * probability map of one baseline slice, at the networks' size and brought
 * back to the input's geometry. Tensors in, typed arrays out; no files.
 */
import * as tf from '@tensorflow/tfjs';
import { backgroundValue, fromModelRange, toModelRange } from '@tumorcast/diffusion';
import type { Diffusion } from '@tumorcast/diffusion';
import { createFlairSegmenter, growthProbabilityMap, guidedSampleKnown, regressorPredict } from '@tumorcast/guided-sampler';
import type { GuidedSampleKnownOptions, Segmenter } from '@tumorcast/guided-sampler';
import type { PredictionNetworks } from './networks.js';
import { segmenterOf, segmenterReading } from './networks.js';
import { DEFAULT_SAMPLE_SETTINGS, checkBaselineBurden, checkGradientMarginPixels, checkGradientTemperature, checkGuidance, samplingDiffusion } from './settings.js';
import { PipelineInputError } from './errors.js';
import { segmenterBurden } from '@tumorcast/segmenter';
import type { SegmenterBurdenFn } from '@tumorcast/segmenter';
import type { SampleSettings } from './settings.js';
import type { SliceImages } from './geometry.js';
import { maskToNative, toNative } from './geometry.js';
import type { ProbabilityMapRunner } from './parallel.js';

/** What {@link predictSlice} produces. */
export interface SlicePrediction {
  /** The relative change used. */
  relativeChange: number;
  /** Baseline burden r0. */
  baselineBurden: number;
  /**
   * Where r0 came from: 'label' (the slice's segmentation), the segmenter's
   * name (a slice without a label), or 'regressor' (its reading of the
   * baseline, `settings.baselineBurden`).
   */
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
  /**
   * Tumour mask of the generated follow-up in the input's geometry (HW, 0/1):
   * the segmenter's probabilities (a learned segmenter's; else its mask)
   * brought back bilinearly, then >= 0.5.
   */
  followupMaskNative: Uint8Array;
  /** Baseline tumour mask in the input's geometry (HW, 0/1): the label, or the segmenter's (brought back as the follow-up's). */
  baselineMaskNative: Uint8Array;
  /** Where the baseline mask came from: 'label', or the segmenter's name (whatever r0's source). */
  baselineMaskSource: string;
}

/**
 * Progress of {@link predictSlice}, after each sampling step: `what` is
 * `'encode'`/`'decode'` (the guided sample), `'map encode'`/`'map decode'`
 * (a batch of further map runs) or `'map'` (map runs done of `total`).
 */
export type SliceProgressCallback = (what: string, done: number, total: number) => void;

/** Options of {@link predictSlice}. */
export interface PredictSliceOptions {
  /**
   * Sampling settings; missing ones take their defaults.
   * @defaultValue DEFAULT_SAMPLE_SETTINGS
   */
  settings?: Partial<SampleSettings>;
  /**
   * The sampling diffusion process: build it once with `samplingDiffusion`
   * when predicting many slices.
   * @defaultValue samplingDiffusion(networks, settings)
   */
  diffusion?: Diffusion;
  /**
   * Segments the follow-ups (and a baseline without a label).
   * @defaultValue segmenterOf(networks): the learned segmenter when loaded, else the FLAIR one
   */
  segmenter?: Segmenter;
  /**
   * Called after each sampling step (see {@link SliceProgressCallback}).
   * @defaultValue undefined
   */
  onProgress?: SliceProgressCallback;
  /**
   * Computes the probability map (of two or more runs) instead of this
   * thread, e.g. `MapPool.runner` of `@tumorcast/pipeline/node` (workers with
   * their own copy of the networks and their segmenter, `segmenterOf`): the
   * same runs, so the same map. Progress then comes per finished run
   * (`'map'`), not per step.
   * @defaultValue undefined (the map is computed here)
   */
  mapRunner?: ProbabilityMapRunner;
}

/**
 * The guided sampler's options of one slice's prediction (without `image`'s
 * batch of runs): shared by {@link predictSlice} and the map workers, so that
 * both draw the same runs.
 *
 * @param networks - the networks.
 * @param diffusion - the sampling process.
 * @param settings - the sampling settings.
 * @param image - the baseline `[1, S, S, 4]` in the networks' range.
 * @param baselineBurden - r0.
 * @param relativeChange - d.
 * @param brainPixels - the baseline's brain pixel count at the networks' size
 *   (what the segmenter's soft burden is a fraction of); required with
 *   `settings.guidance` 'segmenter'.
 * @throws PipelineInputError with guidance 'segmenter' but no learned segmenter.
 */
export function sliceSamplerOptions(
  networks: PredictionNetworks, diffusion: Diffusion, settings: SampleSettings, image: tf.Tensor4D, baselineBurden: number, relativeChange: number,
  brainPixels?: number,
): GuidedSampleKnownOptions {
  const bySegmenter = settings.guidance === 'segmenter';
  return {
    diffusion,
    model: networks.denoiser ?? ((x: tf.Tensor4D, t: tf.Tensor1D, y?: tf.Tensor1D) => networks.unet.apply(x, t, y)),
    regressor: bySegmenter ? guidingSegmenter(networks, brainPixels, 'sliceSamplerOptions', settings.gradientTemperature, settings.gradientMarginPixels) : networks.regressor,
    guidanceInput: bySegmenter ? 'denoised' : 'noisy',
    image,
    dataRange: networks.dataRange,
    baselineBurden,
    relativeChange,
    noiseLevel: settings.noiseLevel,
    scale: settings.scale,
    classLabel: networks.unet.config.numClasses ? 1 : null,
    eta: settings.eta,
    seed: settings.seed,
    amplifyEarlyTarget: settings.amplifyEarlyTarget,
    initialNoiseStd: settings.initialNoiseStd,
  };
}

/**
 * The regressor's reading of an unchanged baseline: its burden prediction at
 * t = 0, what it sees before any change (the r0 of
 * `SampleSettings.baselineBurden` 'regressor', clamped at 0 there).
 *
 * @param networks - the networks (their regressor).
 * @param image - the baseline `[1, S, S, 4]` in the networks' range (not disposed).
 * @returns the reading, unclamped (a regressor may read slightly below 0).
 * @throws RangeError when `image` is not one `[1, S, S, 4]` image.
 */
export async function regressorBaselineReading(networks: Pick<PredictionNetworks, 'regressor'>, image: tf.Tensor4D): Promise<number> {
  if (!(image instanceof tf.Tensor) || image.rank !== 4 || image.shape[0] !== 1 || image.shape[3] !== 4) {
    throw new RangeError(`'image' passed to 'regressorBaselineReading' must be one [1, S, S, 4] image, got shape [${image instanceof tf.Tensor ? image.shape.join(', ') : typeof image}]`);
  }
  const reading = tf.tidy(() => regressorPredict(networks.regressor, image, tf.tensor1d([0], 'float32')));
  try {
    // Read asynchronously: works on every backend, webgpu in Node included.
    return (await reading.data())[0] as number;
  } finally {
    reading.dispose();
  }
}

/**
 * The learned segmenter's soft burden as the guidance's burden function
 * (`SampleSettings.guidance` 'segmenter'), with `SampleSettings.gradientTemperature`
 * and `gradientMarginPixels` (its value depends on neither; absent: 1 and
 * Infinity, as settings from before them).
 */
function guidingSegmenter(
  networks: Pick<PredictionNetworks, 'segmenter' | 'dataRange'>, brainPixels: number | undefined, fn: string, gradientTemperature = 1,
  gradientMarginPixels = Infinity,
): SegmenterBurdenFn {
  if (!networks.segmenter) {
    throw new PipelineInputError(`settings.guidance 'segmenter' passed to '${fn}' needs a learned segmenter: give the segmenter's weights (models.segmenter), or guide with 'regressor'`);
  }
  if (brainPixels === undefined || !(brainPixels > 0)) {
    throw new RangeError(`'brainPixels' passed to '${fn}' must be the baseline's brain pixel count (> 0) with settings.guidance 'segmenter', got ${brainPixels}`);
  }
  return segmenterBurden(networks.segmenter, { brainPixels, inputRange: networks.dataRange, gradientTemperature, gradientMarginPixels });
}

/**
 * The guiding network's reading of an unchanged baseline at t = 0: the
 * regressor's ({@link regressorBaselineReading}), or with
 * `settings.guidance` 'segmenter' the segmenter's soft burden (the r0 of
 * `baselineBurden` 'regressor').
 */
async function guideBaselineReading(networks: PredictionNetworks, settings: SampleSettings, image: tf.Tensor4D, brainPixels: number): Promise<number> {
  if (settings.guidance !== 'segmenter') return regressorBaselineReading(networks, image);
  const burden = guidingSegmenter(networks, brainPixels, 'predictSlice');
  const reading = tf.tidy(() => burden(image, tf.tensor1d([0], 'float32')));
  try {
    return (await reading.data())[0] as number;
  } finally {
    reading.dispose();
  }
}

/**
 * The brain pixels of a slice at the networks' size (FLAIR above 0 in [0, 1]
 * data): the denominator of the burdens.
 *
 * @param img - `[S, S, channels]` values in [0, 1].
 * @param channels - channels per pixel (FLAIR the last of 4).
 */
export function brainCount(img: Float32Array, channels: number): number {
  let n = 0;
  for (let i = 3; i < img.length; i += channels) if ((img[i] as number) !== 0) n++;
  return n;
}

/**
 * Predicts one slice's follow-up: guided sampling from the baseline towards
 * the target burden r* = r0 (1 + d), the follow-up's tumour mask, and the
 * growth probability map over `settings.samples` runs (run 0 is the guided
 * sample itself, so one run costs no second pass), all brought back to the
 * slice's native geometry (see `toNative` and `SampleSettings.outputMode`).
 * r0 is the label's burden, or the segmenter's on the baseline when the
 * slice has no label; with `settings.baselineBurden` 'regressor' it is the
 * regressor's reading of the baseline ({@link regressorBaselineReading},
 * clamped at 0), the label (or segmented) mask still the baseline's mask.
 *
 * @example
 * ```ts
 * import { loadModels } from '@tumorcast/pipeline/node';
 * import { predictSlice, samplingDiffusion } from '@tumorcast/pipeline';
 * const networks = await loadModels({ diffusion: 'diffusion.safetensors', regressor: 'regressor.safetensors' });
 * const settings = { samples: 16, seed: 1 };
 * const diffusion = samplingDiffusion(networks, { respacing: 'ddim100' }); // once for many slices
 * const p = await predictSlice(networks, slice, 0.3, { settings, diffusion });
 * // p.followupNative (HWC), p.probabilityNative (HW), p.predictedBurden ...
 * networks.dispose();
 * ```
 *
 * @param networks - the networks.
 * @param slice - the baseline slice (e.g. from `loadPredictionSlice`).
 * @param relativeChange - d (>= -1), e.g. from the growth model.
 * @param options - see {@link PredictSliceOptions}.
 */
export async function predictSlice(
  networks: PredictionNetworks, slice: SliceImages, relativeChange: number, options: PredictSliceOptions = {},
): Promise<SlicePrediction> {
  const settings: SampleSettings = { ...DEFAULT_SAMPLE_SETTINGS, ...options.settings };
  const names = (o: string, v?: string) => `'${o}' passed to 'predictSlice'${v === undefined ? '' : ` (${v})`}`;
  checkBaselineBurden(settings.baselineBurden, names);
  checkGuidance(settings.guidance, names);
  checkGradientTemperature(settings.gradientTemperature, settings.guidance, names);
  checkGradientMarginPixels(settings.gradientMarginPixels, settings.guidance, names);
  const diffusion = options.diffusion ?? samplingDiffusion(networks, settings);
  const onProgress = options.onProgress;
  const S = networks.imageSize;
  if (slice.model.length !== S * S * 4) throw new RangeError(`'slice.model' passed to 'predictSlice' has ${slice.model.length} values, expected ${S}x${S}x4 (the networks' size)`);
  if (slice.native.length !== slice.width * slice.height * 4) {
    throw new RangeError(`'slice.native' passed to 'predictSlice' has ${slice.native.length} values, expected ${slice.width}x${slice.height}x4`);
  }
  const segmenter = options.segmenter ?? segmenterOf(networks);
  // the networks see the slice in the range they were trained on
  const image = tf.tidy(() => toModelRange(tf.tensor4d(slice.model, [1, S, S, 4]), networks.dataRange));
  let baselineMaskModel: tf.Tensor4D;
  let baselineBurden: number;
  let source: string;
  // What the baseline's native mask is made from when it has no label (see segmenterReading).
  let baselineReading: Float32Array | undefined;
  if (slice.modelLabel && slice.burden !== undefined) {
    baselineMaskModel = tf.tensor4d(Float32Array.from(slice.modelLabel), [1, S, S, 1]);
    baselineBurden = slice.burden;
    source = 'label';
  } else {
    // No label: segment the baseline itself (the FLAIR segmenter needs a baseline tumour to look around,
    // so without a label it searches the whole brain).
    const seg = networks.segmenter ? segmenter : createFlairSegmenter({ neighbourhoodRadius: Infinity, background: backgroundValue(networks.dataRange) });
    baselineMaskModel = (await seg.segment({ image, baseline: image })) as tf.Tensor4D;
    if (seg.probabilities) baselineReading = await segmenterReading(seg, { image, baseline: image });
    const m = await baselineMaskModel.data();
    let t = 0;
    for (const v of m) if (v > 0.5) t++;
    baselineBurden = t / Math.max(1, brainCount(slice.model, 4));
    source = seg.name;
  }
  const maskSource = source;
  try {
    const brainPixels = brainCount(slice.model, 4);
    if (settings.baselineBurden === 'regressor') {
      // The target in the guiding network's own scale: its bias on this baseline then cancels in r0 (1 + d).
      baselineBurden = Math.max(0, await guideBaselineReading(networks, settings, image, brainPixels));
      source = settings.guidance === 'segmenter' ? 'segmenter' : 'regressor';
    }
    const common = sliceSamplerOptions(networks, diffusion, settings, image, baselineBurden, relativeChange, brainPixels);
    const guided = await guidedSampleKnown({ ...common, onProgress: (p) => onProgress?.(p.phase, p.done, p.total) });
    const followupTensor = tf.tidy(() => fromModelRange(guided.sample, networks.dataRange).clipByValue(0, 1));
    // Asynchronous reads throughout: the webgpu backend in Node has no synchronous ones.
    const followupModel = (await followupTensor.data()) as Float32Array;
    followupTensor.dispose();
    const trajectory = guided.predictions.map((p) => p[0] as number);
    const predictedBurden = guided.finalPrediction[0] as number;
    const followMaskModel = (await segmenter.segment({
      image: guided.sample, baseline: image, baselineMask: baselineMaskModel,
    })) as tf.Tensor4D;
    const followMask = (await followMaskModel.data()) as Float32Array;
    const followReading = segmenter.probabilities
      ? await segmenterReading(segmenter, { image: guided.sample, baseline: image, baselineMask: baselineMaskModel })
      : followMask;
    tf.dispose([guided.sample, guided.latent, guided.differenceMap, followMaskModel]);

    let probabilityModel: Float32Array;
    if (settings.samples === 1) {
      // The map's only run would be the guided sample again (run 0 draws from the same seed stream):
      // its probability is that sample's mask, (0 + mask) / 1 as the map sums it.
      probabilityModel = Float32Array.from(followMask, (v) => 0 + v);
    } else if (options.mapRunner) {
      const mask = (await baselineMaskModel.data()) as Float32Array;
      const request = { image: slice.model, imageSize: S, baselineMask: Float32Array.from(mask), baselineBurden, relativeChange, settings };
      probabilityModel = await options.mapRunner(request, (done, total) => onProgress?.('map', done, total));
      if (!(probabilityModel instanceof Float32Array) || probabilityModel.length !== S * S) {
        throw new RangeError(`'mapRunner' passed to 'predictSlice' must resolve with a Float32Array of ${S}x${S} values (the map at the networks' size)`);
      }
    } else {
      const map = await growthProbabilityMap({
        ...common, samples: settings.samples, segmenter, baselineMask: baselineMaskModel,
        // Per step within each batch of runs too, so that progress moves while the map is computed.
        onProgress: (p) => onProgress?.(`map ${p.phase}`, p.done, p.total),
        onSamples: (done, total) => onProgress?.('map', done, total),
      });
      probabilityModel = (await map.probability.data()) as Float32Array;
      tf.dispose([map.probability, map.meanSample]);
    }

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
    const followupMaskNative = maskToNative(followReading, S, W, H);
    const baselineMaskNative = slice.nativeLabel ? slice.nativeLabel : maskToNative(baselineReading ?? ((await baselineMaskModel.data()) as Float32Array), S, W, H);
    return {
      relativeChange, baselineBurden, baselineBurdenSource: source, targetBurden: guided.targetBurden[0] as number,
      predictedBurden, trajectory, followupModel, followupNative, probabilityModel, probabilityNative, followupMaskNative, baselineMaskNative,
      baselineMaskSource: maskSource,
    };
  } finally {
    tf.dispose([image, baselineMaskModel]);
  }
}
