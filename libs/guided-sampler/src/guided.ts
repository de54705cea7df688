/**
 * Regressor-guided DDIM from a known scan ("sample known", method section 5).
 */
import * as tf from '@tensorflow/tfjs';
import {
  checkDataRange, ddimReverseLoop, ddimSampleLoop, normalTensor,
  type CondScoreFn, type DataRange, type Diffusion, type DiffusionModel,
} from '@tumorcast/diffusion';
import { syncReadsAvailable } from '@tumorcast/nn';
import { Rng, type Seed } from '@tumorcast/random';
import { checkRegressor, regressorPredict, regressorValueAndGrad, type Regressor } from './regressor.js';
import { checkSamplerMemory } from './memory.js';

/** Progress of a guided run, reported after each step. */
export interface GuidedProgress {
  /** `'encode'` (DDIM inversion) or `'decode'` (guided DDIM). */
  phase: 'encode' | 'decode';
  /** Steps done in this phase (1-based). */
  done: number;
  /** Steps of this phase. */
  total: number;
  /** The ORIGINAL timestep of the step just run. */
  timestep: number;
  /**
   * Decode only: the regressor's prediction per image at this step: R(x_t, t),
   * or R(x0_hat, 0) with `guidanceInput: 'denoised'`.
   */
  prediction?: number[];
}

/**
 * What the regressor is evaluated on during guided decoding (see
 * {@link GuidedSampleKnownOptions.guidanceInput}).
 */
export type GuidanceInput = 'noisy' | 'denoised';

/** The allowed values of {@link GuidedSampleKnownOptions.guidanceInput}. */
export const GUIDANCE_INPUTS: readonly GuidanceInput[] = Object.freeze(['noisy', 'denoised'] as const);

/** Options of {@link guidedSampleKnown}. */
export interface GuidedSampleKnownOptions {
  /** The diffusion process (possibly respaced; networks always see original timesteps). */
  diffusion: Diffusion;
  /** The denoiser `(x, t, y?) => eps` (or eps and v when `diffusion.learnSigma`). */
  model: DiffusionModel;
  /** The tumour-burden regressor `(x_t, t) => r` (or an object, see {@link Regressor}). */
  regressor: Regressor;
  /**
   * The baseline scans `[B, H, W, C]` in the networks' range
   * ({@link GuidedSampleKnownOptions.dataRange}: `toModelRange(x01, dataRange)`
   * of [0, 1] data); channels t1n, t1c, t2w, t2f.
   */
  image: tf.Tensor4D;
  /**
   * The data range the denoiser was trained on, which `image` (and the
   * result) is in: `'[-1,1]'` (tumorcast's default) or `'[0,1]'` (the
   * authors' networks). It sets the background of the default FLAIR
   * segmenter of the probability map and is checked against
   * `regressorDataRange`; the x0 clip stays [-1, 1] in both, as in the reference.
   * @defaultValue '[-1,1]'
   */
  dataRange?: DataRange;
  /**
   * The data range the regressor was trained on; a run whose networks were
   * trained on different ranges is refused (one of them would see inputs it
   * has never seen).
   * @defaultValue dataRange
   */
  regressorDataRange?: DataRange;
  /** The baseline tumour burden r0 (fraction of brain pixels), one or one per image. */
  baselineBurden: number | readonly number[];
  /** The relative change d predicted by the growth model (>= -1), one or one per image: target `r0 (1 + d)`. */
  relativeChange: number | readonly number[];
  /**
   * The noise level L in ORIGINAL timesteps: the run inverts and decodes the
   * process's steps whose original timestep is below L (all L steps without
   * respacing; e.g. 10 steps for `'ddim50'`, 50 for `'ddim250'`).
   * @defaultValue 200
   */
  noiseLevel?: number;
  /**
   * The guidance scale s (paper 200000; the reference code's default 50000).
   * @defaultValue 200000
   */
  scale?: number;
  /**
   * What the regressor sees at each decoding step:
   * - `'noisy'`: the noisy x_t at its timestep, `g = s (r*' - R(x_t, t)) dR/dx_t`
   *   (the paper's guidance; the regressor must be trained on noisy scans).
   * - `'denoised'`: the step's predicted x0 (`x0_hat`, clipped as `clipDenoised`
   *   says) at t = 0, `g = s (r*' - R(x0_hat, 0)) dR/dx0_hat`. For a regressor
   *   or segmenter trained on clean scans only (e.g. `segmenterBurden` of
   *   `@tumorcast/segmenter`), which is unreliable on noisy inputs. The
   *   gradient is taken with respect to x0_hat and used as the gradient with
   *   respect to x_t: the denoiser's Jacobian dx0_hat/dx_t is left out, so no
   *   gradient flows through the denoiser (one regressor pass per step, as
   *   with `'noisy'`).
   *
   * The target amplification and `scale` work the same in both; the
   * `predictions` record the values the coefficient used; `finalPrediction`
   * is R(sample, 0) in both.
   * @defaultValue 'noisy'
   */
  guidanceInput?: GuidanceInput;
  /**
   * The class label passed to the denoiser (1: slice with tumour); `null` for
   * an unconditional model.
   * @defaultValue 1
   */
  classLabel?: number | null;
  /**
   * DDIM eta of the decoding (0: deterministic).
   * @defaultValue 0
   */
  eta?: number;
  /**
   * Seed of all randomness (initial noise, DDIM noise when eta > 0). Image b of
   * the batch draws from `new Rng(seed, b)`.
   * @defaultValue 0
   */
  seed?: Seed;
  /**
   * Multiply the target by `amplifyFactor` while the ORIGINAL timestep is above
   * `amplifyAbove`, as the reference code does (for comparison with the paper).
   * @defaultValue true
   */
  amplifyEarlyTarget?: boolean;
  /**
   * The factor of `amplifyEarlyTarget`.
   * @defaultValue 1.15
   */
  amplifyFactor?: number;
  /**
   * The original timestep above which `amplifyEarlyTarget` applies.
   * @defaultValue 20
   */
  amplifyAbove?: number;
  /**
   * Std s of the Gaussian noise added to the baseline before inversion, as
   * the forward process adds it: `sqrt(1 - s^2) x + s z` (the reference's
   * `q_sample` at t = 0 is exactly this for s = 0.01 with the linear
   * 1000-step schedule, where 1 - alpha_bar_0 = 1e-4); 0 for none. In [0, 1).
   * @defaultValue 0.01
   */
  initialNoiseStd?: number;
  /**
   * Clip the predicted x0 to [-1, 1] in every step (eps re-derived from it);
   * [-1, 1] also for `'[0,1]'` networks, as the reference code does.
   * @defaultValue true
   */
  clipDenoised?: boolean;
  /**
   * Called after each step.
   * @defaultValue undefined
   */
  onProgress?: (progress: GuidedProgress) => void;
  /**
   * Aborts the run between steps.
   * @defaultValue undefined
   */
  signal?: AbortSignal;
  /**
   * Peak bytes of network activations per image, for the memory guard (see
   * `estimateSamplerBytes`).
   * @defaultValue H·W·256·4
   */
  activationBytesPerImage?: number;
  /**
   * The memory limit of the guard.
   * @defaultValue the wasm heap (3.84 GiB) on the wasm backend, no limit otherwise
   */
  heapLimitBytes?: number;
}

/** The result of {@link guidedSampleKnown}; the caller disposes the tensors. */
export interface GuidedSampleKnownResult {
  /** The predicted follow-up scans `[B, H, W, C]` in the networks' range (`dataRange`). */
  sample: tf.Tensor4D;
  /** The encoded latent (after inversion to the noise level) `[B, H, W, C]`. */
  latent: tf.Tensor4D;
  /** `|image - sample|` per pixel and channel, in the networks' range (for `'[-1,1]'` twice the [0, 1] difference). */
  differenceMap: tf.Tensor4D;
  /** The target burden r* = r0 (1 + d) per image (before any amplification). */
  targetBurden: number[];
  /** The number of inversion (= decoding) steps. */
  steps: number;
  /** The original timesteps of the decoding steps, in the order run (L-1 .. 0 without respacing). */
  timesteps: number[];
  /**
   * The regressor's prediction at each decoding step (`[step][image]`):
   * R(x_t, t), or R(x0_hat, 0) with `guidanceInput: 'denoised'`.
   */
  predictions: number[][];
  /** The regressor's prediction on the result at t = 0, per image. */
  finalPrediction: number[];
}

const FN = 'guidedSampleKnown';

function perImage(v: number | readonly number[], batch: number, name: string): number[] {
  const arr = typeof v === 'number' ? new Array<number>(batch).fill(v) : Array.from(v ?? []);
  if (arr.length !== batch || arr.some((x) => typeof x !== 'number' || !Number.isFinite(x))) {
    throw new RangeError(`'${name}' passed to '${FN}' must be a finite number or ${batch} finite numbers (one per image), got ${JSON.stringify(v)}`);
  }
  return arr;
}

function initialNoise(v: number | undefined, fn: string): number {
  const s = v ?? 0.01;
  if (typeof s !== 'number' || !(s >= 0 && s < 1)) throw new RangeError(`'initialNoiseStd' passed to '${fn}' must be a number in [0, 1), got ${v}`);
  return s;
}

/** Options of a guided run after validation and defaults (internal). */
export interface ResolvedGuidedOptions {
  diffusion: Diffusion;
  model: DiffusionModel;
  regressor: Regressor;
  image: tf.Tensor4D;
  dataRange: DataRange;
  target: number[];
  noiseLevel: number;
  steps: number;
  scale: number;
  guidanceInput: GuidanceInput;
  classLabel: number | null;
  eta: number;
  amplify: boolean;
  amplifyFactor: number;
  amplifyAbove: number;
  initialNoiseStd: number;
  clipDenoised: boolean;
  onProgress?: (p: GuidedProgress) => void;
  signal?: AbortSignal;
}

/**
 * Validates the options of a guided run and applies the defaults.
 *
 * @param o - the options (any `seed` is ignored here).
 * @param fn - the public function, for errors.
 * @param batch - the batch that will run (for the memory guard).
 */
export function resolveGuidedOptions(o: GuidedSampleKnownOptions, fn: string, batch?: number): ResolvedGuidedOptions {
  if (!o || typeof o !== 'object') throw new TypeError(`'options' passed to '${fn}' must be an object`);
  const d = o.diffusion;
  if (!d || !(d.timestepMap instanceof Int32Array) || !(d.alphasCumprod instanceof Float64Array)) {
    throw new TypeError(`'diffusion' passed to '${fn}' must be a Diffusion from createDiffusion`);
  }
  if (typeof o.model !== 'function') throw new TypeError(`'model' passed to '${fn}' must be a function (x, t, y?) => Tensor4D`);
  checkRegressor(o.regressor, fn);
  const dataRange = checkDataRange(o.dataRange ?? '[-1,1]', `'dataRange' passed to '${fn}'`);
  const regressorRange = checkDataRange(o.regressorDataRange ?? dataRange, `'regressorDataRange' passed to '${fn}'`);
  if (regressorRange !== dataRange) {
    throw new RangeError(`'regressorDataRange' passed to '${fn}' is '${regressorRange}' but 'dataRange' (the denoiser's) is '${dataRange}': the regressor and the denoiser must be trained on the same data range; use a pair of networks trained on one range`);
  }
  const x = o.image;
  if (!(x instanceof tf.Tensor) || x.rank !== 4) {
    throw new TypeError(`'image' passed to '${fn}' must be a 4-D NHWC tensor in the range ${dataRange}, got ${x instanceof tf.Tensor ? `rank ${x.rank}` : typeof x}`);
  }
  if (x.isDisposed) throw new Error(`'image' passed to '${fn}' has been disposed`);
  const b = x.shape[0];
  const r0 = perImage(o.baselineBurden, b, 'baselineBurden');
  if (r0.some((r) => r < 0)) throw new RangeError(`'baselineBurden' passed to '${fn}' must be >= 0`);
  const change = perImage(o.relativeChange, b, 'relativeChange');
  // Below -1 the target burden r0 (1 + d) would be negative: no image has a negative tumour burden.
  const below = change.findIndex((c) => c < -1);
  if (below >= 0) {
    throw new RangeError(`'relativeChange' passed to '${fn}' must be >= -1 (-1: the tumour vanishes; the target burden r0 (1 + d) must not be negative), got ${change[below]}${b > 1 ? ` for image ${below}` : ''}`);
  }
  const target = r0.map((r, i) => r * (1 + (change[i] as number)));
  const badTarget = target.findIndex((t) => !Number.isFinite(t) || t < 0);
  if (badTarget >= 0) {
    throw new RangeError(`the target burden r0 (1 + d) of '${fn}' must be a finite number >= 0, got ${target[badTarget]} (baselineBurden ${r0[badTarget]}, relativeChange ${change[badTarget]})`);
  }
  const noiseLevel = o.noiseLevel ?? 200;
  if (!Number.isInteger(noiseLevel) || noiseLevel < 1 || noiseLevel > d.originalNumTimesteps) {
    throw new RangeError(`'noiseLevel' passed to '${fn}' must be an integer in [1, ${d.originalNumTimesteps}] (original timesteps), got ${o.noiseLevel}`);
  }
  const steps = d.timestepMap.filter((t) => t < noiseLevel).length;
  const num = (v: number | undefined, def: number, name: string, min = -Infinity) => {
    const r = v ?? def;
    if (typeof r !== 'number' || !Number.isFinite(r) || r < min) {
      throw new RangeError(`'${name}' passed to '${fn}' must be a finite number${min > -Infinity ? ` >= ${min}` : ''}, got ${v}`);
    }
    return r;
  };
  const classLabel = o.classLabel === undefined ? 1 : o.classLabel;
  if (classLabel !== null && !Number.isInteger(classLabel)) {
    throw new RangeError(`'classLabel' passed to '${fn}' must be an integer or null, got ${classLabel}`);
  }
  const guidanceInput = o.guidanceInput === undefined ? 'noisy' : o.guidanceInput;
  if (!GUIDANCE_INPUTS.includes(guidanceInput)) {
    throw new RangeError(`'guidanceInput' passed to '${fn}' must be one of ${GUIDANCE_INPUTS.map((v) => `'${v}'`).join(', ')}, got ${JSON.stringify(o.guidanceInput)}`);
  }
  checkSamplerMemory({
    batch: batch ?? b, height: x.shape[1], width: x.shape[2], channels: x.shape[3],
    activationBytesPerImage: o.activationBytesPerImage,
  }, fn, o.heapLimitBytes);
  return {
    diffusion: d,
    model: o.model,
    regressor: o.regressor,
    image: x,
    dataRange,
    target,
    noiseLevel,
    steps,
    scale: num(o.scale, 200000, 'scale'),
    guidanceInput,
    classLabel,
    eta: num(o.eta, 0, 'eta', 0),
    amplify: o.amplifyEarlyTarget ?? true,
    amplifyFactor: num(o.amplifyFactor, 1.15, 'amplifyFactor'),
    amplifyAbove: num(o.amplifyAbove, 20, 'amplifyAbove'),
    initialNoiseStd: initialNoise(o.initialNoiseStd, fn),
    clipDenoised: o.clipDenoised ?? true,
    onProgress: o.onProgress,
    signal: o.signal,
  };
}

/**
 * Runs a resolved guided sample-known with one generator per image (the
 * building block of {@link guidedSampleKnown} and the probability map).
 *
 * @param r - resolved options; `r.image` holds the batch to run.
 * @param rngs - one generator per image.
 */
export async function runGuided(r: ResolvedGuidedOptions, rngs: readonly Rng[]): Promise<GuidedSampleKnownResult> {
  const { diffusion, model, regressor, image, steps } = r;
  const batch = image.shape[0];
  if (rngs.length !== batch) throw new RangeError(`'rngs' passed to 'runGuided' must hold ${batch} generators`);
  const y = r.classLabel === null ? undefined : r.classLabel;
  // Variance-preserving, as q_sample: sqrt(1 - s^2) x + s z.
  const start = tf.tidy((): tf.Tensor4D => (r.initialNoiseStd > 0
    ? tf.add<tf.Tensor4D>(tf.mul(image, Math.sqrt(1 - r.initialNoiseStd ** 2)), tf.mul(normalTensor(image.shape, rngs), r.initialNoiseStd))
    : image.clone()));
  const predictions: number[][] = [];
  const sync = syncReadsAvailable();
  const pending: Promise<number[]>[] = [];
  const timesteps: number[] = [];
  let latent: tf.Tensor4D | undefined;
  let sample: tf.Tensor4D | undefined;
  try {
    latent = await ddimReverseLoop(diffusion, model, start, {
      steps, y, clipDenoised: r.clipDenoised, signal: r.signal,
      onProgress: (p) => r.onProgress?.({ phase: 'encode', done: p.done, total: p.total, timestep: p.timestep }),
    });
    // Tidy: the regressor's value and gradient are intermediates of every decoding step.
    const denoised = r.guidanceInput === 'denoised';
    const condScore: CondScoreFn = (x, info) => tf.tidy(() => {
      // 'denoised': R and its gradient at the clipped x0 estimate, t = 0; the gradient stands in for dR/dx_t (denoiser Jacobian left out).
      const { value, gradient } = denoised
        ? regressorValueAndGrad(regressor, info.predXStart, tf.zeros([batch], 'float32') as tf.Tensor1D)
        : regressorValueAndGrad(regressor, x, info.t);
      timesteps.push(info.timestep[0]!);
      const tgt = r.target.map((tb, b) => (r.amplify && info.timestep[b]! > r.amplifyAbove ? tb * r.amplifyFactor : tb));
      if (!sync) {
        // No synchronous reads (WebGPU in Node): the coefficients stay on the GPU, the values are read as the loop goes.
        const kept = tf.keep(value.clone());
        pending.push(kept.data().then((d) => Array.from(d)).finally(() => kept.dispose()));
        const c = tf.mul(tf.sub(tf.tensor1d(tgt, 'float32'), tf.reshape(value, [batch])), r.scale);
        value.dispose();
        return tf.mul(gradient, tf.reshape(c, [batch, 1, 1, 1]));
      }
      const v = Array.from(value.dataSync());
      // Explicitly: a regressor may tf.keep() its value (it must survive tf.grad's own tidy), and kept tensors escape tidy.
      value.dispose();
      predictions.push(v);
      const coef = v.map((pred, b) => (tgt[b]! - pred) * r.scale);
      return tf.mul(gradient, tf.tensor4d(Float32Array.from(coef), [batch, 1, 1, 1]));
    });
    if (steps > 0) {
      sample = await ddimSampleLoop(diffusion, model, latent, {
        fromStep: steps - 1, eta: r.eta, rng: rngs, y, clipDenoised: r.clipDenoised, condScore, signal: r.signal,
        onProgress: (p) => r.onProgress?.({
          phase: 'decode', done: p.done, total: p.total, timestep: p.timestep, prediction: predictions[predictions.length - 1],
        }),
      });
    } else {
      sample = latent.clone();
    }
    predictions.push(...(await Promise.all(pending)));
  } catch (e) {
    await Promise.allSettled(pending);
    tf.dispose([start, latent as tf.Tensor, sample as tf.Tensor].filter(Boolean));
    throw e;
  }
  start.dispose();
  const s = sample;
  const final = tf.tidy(() => regressorPredict(regressor, s, tf.zeros([batch], 'float32') as tf.Tensor1D));
  const finalPrediction = Array.from(await final.data());
  final.dispose();
  const differenceMap = tf.tidy(() => tf.abs(tf.sub<tf.Tensor4D>(image, s)));
  return { sample: s, latent, differenceMap, targetBurden: r.target, steps, timesteps, predictions, finalPrediction };
}

/**
 * Predicts follow-up scans from baseline scans (method section 5): the
 * target burden is `r* = r0 (1 + d)`; the baseline (noised as
 * `sqrt(1 - s^2) x + s z`, s = `initialNoiseStd`) is DDIM-inverted for step
 * indices t = 0 .. L'-1 (L' = the steps below `noiseLevel`), then decoded for t = L'-1 .. 0 with guided
 * DDIM: at each step `g = (r*' - R(x_t, t)) · dR(x_t, t)/dx_t · s` with
 * `r*' = 1.15 r*` while the original t > 20 (`amplifyEarlyTarget`), and the
 * step uses `eps' = eps - sqrt(1 - alpha_bar_t) g` (see `ddimStep`). Both
 * networks are called with the ORIGINAL timesteps, also when respaced. With
 * `guidanceInput: 'denoised'` the regressor is evaluated on the step's
 * predicted x0 at t = 0 instead (`g = (r*' - R(x0_hat, 0)) · dR/dx0_hat · s`).
 *
 * Indexing differs from the reference code, which inverts t = 1 .. L-1 and
 * then decodes from t = L-2 (two steps off); here encoding and decoding use
 * the same L' steps.
 *
 * `image` is in the range the networks were trained on (`dataRange`): the
 * authors' networks take the [0, 1] slices unchanged (`dataRange: '[0,1]'`),
 * tumorcast's default networks `2x - 1`.
 *
 * @example
 * ```ts
 * const diffusion = createDiffusion({ steps: 1000, learnSigma: true });
 * const dataRange = '[-1,1]'; // what the networks were trained on
 * const out = await guidedSampleKnown({ diffusion, model, regressor, image: toModelRange(x01, dataRange), dataRange,
 *   baselineBurden: 0.05, relativeChange: 0.3, seed: 1 });
 * // out.sample, out.differenceMap, out.predictions ...; dispose them when done
 * ```
 *
 * @param options - see {@link GuidedSampleKnownOptions}.
 */
export async function guidedSampleKnown(options: GuidedSampleKnownOptions): Promise<GuidedSampleKnownResult> {
  const r = resolveGuidedOptions(options, FN);
  const seed = options.seed ?? 0;
  const rngs = Array.from({ length: r.image.shape[0] }, (_, b) => new Rng(seed, b));
  return runGuided(r, rngs);
}
