/**
 * Growth probability maps: N seeded guided runs, each segmented, masks averaged.
 */
import * as tf from '@tensorflow/tfjs';
import { backgroundValue } from '@tumorcast/diffusion';
import { Rng } from '@tumorcast/random';
import { resolveGuidedOptions, runGuided, type GuidedSampleKnownOptions } from './guided.js';
import { createFlairSegmenter, type Segmenter } from './segmenter.js';

/** Options of {@link growthProbabilityMap}. */
export interface GrowthProbabilityMapOptions extends GuidedSampleKnownOptions {
  /** The number of seeded runs N (>= 1). */
  samples: number;
  /**
   * The index of the first of these runs in a larger map: the runs drawn are
   * `firstRun .. firstRun + samples - 1` (their noise streams), so that a map
   * computed in parts (e.g. by several workers) has the same runs as the whole.
   * @defaultValue 0
   */
  firstRun?: number;
  /**
   * Segments each generated follow-up (images in `dataRange`).
   * @defaultValue createFlairSegmenter() with the background of `dataRange` (-1 or 0)
   */
  segmenter?: Segmenter;
  /**
   * The baseline tumour masks `[B, H, W, 1]`, passed to the segmenter.
   * @defaultValue undefined
   */
  baselineMask?: tf.Tensor4D;
  /**
   * Runs batched together (each of the B images replicated this many times);
   * the memory guard applies to `B · samplesPerBatch` images.
   * @defaultValue min(samples, 8)
   */
  samplesPerBatch?: number;
  /**
   * Keep every generated follow-up in the result (`samples`); otherwise only their mean.
   * @defaultValue false
   */
  keepSamples?: boolean;
  /**
   * Called after each batch of runs with the number of runs done.
   * @defaultValue undefined
   */
  onSamples?: (done: number, total: number) => void;
}

/** The result of {@link growthProbabilityMap}; the caller disposes the tensors. */
export interface GrowthProbabilityMapResult {
  /** Per-pixel fraction of runs segmented as tumour `[B, H, W, 1]`. */
  probability: tf.Tensor4D;
  /** The mean generated follow-up `[B, H, W, C]`. */
  meanSample: tf.Tensor4D;
  /** With `keepSamples`: run s's follow-ups `[B, H, W, C]` at index s. */
  samples?: tf.Tensor4D[];
  /** The regressor's prediction on each run's result at t = 0 (`[run][image]`). */
  finalPredictions: number[][];
  /** The target burden per image. */
  targetBurden: number[];
}

/**
 * Repeats {@link guidedSampleKnown} N times and averages the segmented
 * follow-ups into a growth probability map (method section 5, step 4). Run s
 * of image b draws its noise from `new Rng(seed, s·B + b)`, so run 0 equals
 * `guidedSampleKnown` with the same seed, and results do not depend on
 * `samplesPerBatch`; with `firstRun` f the runs are numbered f, f + 1, ...,
 * so that maps of parts of the runs add up to the whole map. The seed changes
 * the initial noise (`initialNoiseStd`) and the DDIM noise (eta > 0): with
 * both zero, all runs are identical.
 *
 * @param options - see {@link GrowthProbabilityMapOptions}.
 */
export async function growthProbabilityMap(options: GrowthProbabilityMapOptions): Promise<GrowthProbabilityMapResult> {
  const fn = 'growthProbabilityMap';
  const n = options?.samples;
  if (!Number.isInteger(n) || n < 1) throw new RangeError(`'samples' passed to '${fn}' must be an integer >= 1, got ${n}`);
  const per = options.samplesPerBatch ?? Math.min(n, 8);
  if (!Number.isInteger(per) || per < 1) throw new RangeError(`'samplesPerBatch' passed to '${fn}' must be an integer >= 1, got ${per}`);
  const first = options.firstRun ?? 0;
  if (!Number.isSafeInteger(first) || first < 0) throw new RangeError(`'firstRun' passed to '${fn}' must be an integer >= 0, got ${first}`);
  const image = options.image;
  const r = resolveGuidedOptions(options, fn, (image?.shape?.[0] ?? 1) * Math.min(per, n));
  const segmenter = options.segmenter ?? createFlairSegmenter({ background: backgroundValue(r.dataRange) });
  if (!segmenter || typeof segmenter.segment !== 'function') {
    throw new TypeError(`'segmenter' passed to '${fn}' must implement Segmenter (segment(input) => Tensor4D)`);
  }
  const [b, h, w, c] = image.shape;
  const seed = options.seed ?? 0;
  let probSum = tf.zeros([b, h, w, 1]) as tf.Tensor4D;
  let sampleSum = tf.zeros([b, h, w, c]) as tf.Tensor4D;
  const kept: tf.Tensor4D[] = [];
  const finalPredictions: number[][] = [];
  try {
    for (let s0 = 0; s0 < n; s0 += per) {
      const k = Math.min(per, n - s0);
      const batchImage = k === 1 ? image.clone() : tf.tidy(() => tf.tile(image, [k, 1, 1, 1]) as tf.Tensor4D);
      const rngs = Array.from({ length: k * b }, (_, j) => new Rng(seed, (first + s0 + Math.floor(j / b)) * b + (j % b)));
      const tiled = (v: tf.Tensor4D | undefined) => (v && k > 1 ? tf.tile(v, [k, 1, 1, 1]) as tf.Tensor4D : v?.clone());
      let out;
      try {
        out = await runGuided({ ...r, image: batchImage, target: Array.from({ length: k * b }, (_, j) => r.target[j % b]!) }, rngs);
      } finally {
        batchImage.dispose();
      }
      const baseline = tiled(image)!;
      const bm = tiled(options.baselineMask);
      let masks: tf.Tensor4D;
      try {
        masks = await segmenter.segment({ image: out.sample, baseline, baselineMask: bm });
      } finally {
        tf.dispose([baseline, bm as tf.Tensor].filter(Boolean));
        tf.dispose([out.latent, out.differenceMap]);
      }
      if (!(masks instanceof tf.Tensor) || masks.rank !== 4 || masks.shape[0] !== k * b || masks.shape[3] !== 1) {
        out.sample.dispose();
        throw new RangeError(`'segmenter' passed to '${fn}' must return masks of shape [${k * b},${h},${w},1]`);
      }
      const m = masks;
      const smp = out.sample;
      const [nextProb, nextSum] = tf.tidy(() => {
        const ms = tf.split(m, k, 0);
        const ss = tf.split(smp, k, 0);
        if (options.keepSamples) ss.forEach((x) => kept.push(tf.keep(x as tf.Tensor4D)));
        return [tf.add(probSum, tf.addN(ms)) as tf.Tensor4D, tf.add(sampleSum, tf.addN(ss)) as tf.Tensor4D];
      });
      tf.dispose([probSum, sampleSum, m, smp]);
      probSum = nextProb;
      sampleSum = nextSum;
      for (let s = 0; s < k; s++) finalPredictions.push(out.finalPrediction.slice(s * b, (s + 1) * b));
      options.onSamples?.(s0 + k, n);
    }
  } catch (e) {
    tf.dispose([probSum, sampleSum, ...kept]);
    throw e;
  }
  const probability = tf.tidy(() => tf.div(probSum, n) as tf.Tensor4D);
  const meanSample = tf.tidy(() => tf.div(sampleSum, n) as tf.Tensor4D);
  tf.dispose([probSum, sampleSum]);
  return { probability, meanSample, samples: options.keepSamples ? kept : undefined, finalPredictions, targetBurden: r.target };
}
