/**
 * Ancestral (DDPM) and DDIM sampling, and DDIM inversion: each step alone,
 * and as an async loop with a progress callback and an AbortSignal.
 */
import * as tf from '@tensorflow/tfjs';
import type { Rng } from '@tumorcast/random';
import type { Diffusion } from './diffusion.js';
import { pMeanVariance, predictEpsFromXStart, predictXStartFromEps } from './process.js';
import {
  type ClassLabels, type DiffusionModel, type Timesteps,
  check4d, checkSameShape, extract, normalTensor, originalTimesteps, stepIndices,
} from './tensors.js';

/** Noise for a stochastic step: a tensor, or generators to draw it from. */
export interface StepNoise {
  /**
   * The standard-normal noise z of the step (same shape as x).
   * @defaultValue drawn from `rng`
   */
  noise?: tf.Tensor4D;
  /**
   * Generator(s) to draw z from when `noise` is not given: one for the batch,
   * or one per image (then each image's noise depends on its own generator only).
   * @defaultValue undefined (then `noise` is required for a stochastic step)
   */
  rng?: Rng | readonly Rng[];
}

/** What a score-conditioning function receives (besides x_t). */
export interface CondScoreInfo {
  /** The step indices of this step (one per image). */
  index: readonly number[];
  /** The ORIGINAL timesteps of this step (one per image). */
  timestep: readonly number[];
  /** The original timesteps as the float32 tensor the networks take. */
  t: tf.Tensor1D;
  /** The predicted x0 before conditioning (clipped when `clipDenoised`). */
  predXStart: tf.Tensor4D;
}

/**
 * Score conditioning (guided-diffusion `cond_fn` used by `condition_score`):
 * returns g = ∇_x log p(y | x_t) (times a scale), `[B, H, W, C]`; the step
 * then uses `eps' = eps - sqrt(1 - alpha_bar_t) g`. Called inside `tf.tidy`.
 */
export type CondScoreFn = (x: tf.Tensor4D, info: CondScoreInfo) => tf.Tensor4D;

/** Options of {@link ddimStep}. */
export interface DdimStepOptions extends StepNoise {
  /**
   * DDIM's eta: 0 is deterministic, 1 matches DDPM's variance.
   * @defaultValue 0
   */
  eta?: number;
  /**
   * Clip the predicted x0 to [-1, 1] (eps is then re-derived from it).
   * @defaultValue true
   */
  clipDenoised?: boolean;
  /**
   * Class labels passed to the model.
   * @defaultValue undefined (unconditional)
   */
  y?: ClassLabels;
  /**
   * Score conditioning applied to eps before the update.
   * @defaultValue undefined (no conditioning)
   */
  condScore?: CondScoreFn;
}

/** The result of one sampling step. */
export interface StepResult {
  /** x_{t-1} (or x_{t+1} for an inversion step). */
  sample: tf.Tensor4D;
  /** The x0 the update used. */
  predXStart: tf.Tensor4D;
  /** The eps the update used (re-derived from `predXStart`). */
  eps: tf.Tensor4D;
}

function drawNoise(x: tf.Tensor4D, n: StepNoise, fn: string): tf.Tensor4D {
  if (n.noise) {
    check4d(n.noise, 'noise', fn);
    checkSameShape(x, n.noise, 'noise', fn);
    return n.noise;
  }
  if (!n.rng) throw new TypeError(`'noise' passed to '${fn}': a stochastic step needs 'noise' or 'rng'`);
  return normalTensor(x.shape, n.rng);
}

/**
 * One DDIM step x_t -> x_{t-1} (guided-diffusion `ddim_sample`): x0 from the
 * model's eps (clipped to [-1, 1] when `clipDenoised`), eps re-derived from
 * that x0; with `condScore`, `eps' = eps - sqrt(1 - ab_t) g` and x0 recomputed
 * from eps' (not clipped again, as `condition_score`); then
 * `sigma = eta sqrt((1 - ab_prev)/(1 - ab)) sqrt(1 - ab/ab_prev)` and
 * `x_{t-1} = sqrt(ab_prev) x0 + sqrt(1 - ab_prev - sigma²) eps + sigma z` (no noise at t = 0).
 *
 * @param diffusion - the process.
 * @param model - the denoiser (called with original timesteps).
 * @param x - x_t.
 * @param t - step indices.
 * @param options - see {@link DdimStepOptions}.
 */
export function ddimStep(
  diffusion: Diffusion, model: DiffusionModel, x: tf.Tensor4D, t: Timesteps, options: DdimStepOptions = {},
): StepResult {
  const fn = 'ddimStep';
  check4d(x, 'x', fn);
  const idx = stepIndices(diffusion, t, x.shape[0], fn);
  const eta = options.eta ?? 0;
  if (!(eta >= 0) || !Number.isFinite(eta)) throw new RangeError(`'eta' passed to '${fn}' must be a finite number >= 0, got ${eta}`);
  return tf.tidy(() => {
    const out = pMeanVariance(diffusion, model, x, idx, { clipDenoised: options.clipDenoised ?? true, y: options.y });
    let predXStart = out.predXStart;
    if (options.condScore) {
      const g = options.condScore(x, {
        index: idx, timestep: idx.map((i) => diffusion.timestepMap[i]!), t: originalTimesteps(diffusion, idx), predXStart,
      });
      check4d(g, 'condScore', fn);
      checkSameShape(x, g, 'condScore', fn);
      const eps0 = predictEpsFromXStart(diffusion, x, idx, predXStart);
      const epsC = tf.sub<tf.Tensor4D>(eps0, tf.mul(extract(diffusion.sqrtOneMinusAlphasCumprod, idx), g));
      predXStart = predictXStartFromEps(diffusion, x, idx, epsC);
    }
    const eps = predictEpsFromXStart(diffusion, x, idx, predXStart);
    const ab = idx.map((i) => diffusion.alphasCumprod[i]!);
    const abPrev = idx.map((i) => diffusion.alphasCumprodPrev[i]!);
    const sigma = idx.map((_, b) => eta * Math.sqrt((1 - abPrev[b]!) / (1 - ab[b]!)) * Math.sqrt(1 - ab[b]! / abPrev[b]!));
    const f32 = (v: number[]) => tf.tensor4d(Float32Array.from(v), [v.length, 1, 1, 1]);
    let sample: tf.Tensor4D = tf.add(
      tf.mul(predXStart, f32(abPrev.map(Math.sqrt))),
      tf.mul(f32(abPrev.map((a, b) => Math.sqrt(Math.max(0, 1 - a - sigma[b]! ** 2)))), eps),
    );
    if (eta > 0) {
      const z = drawNoise(x, options, fn);
      sample = tf.add(sample, tf.mul(f32(sigma.map((s, b) => (idx[b] === 0 ? 0 : s))), z));
    }
    return { sample, predXStart, eps } as unknown as tf.TensorContainerObject;
  }) as unknown as StepResult;
}

/** Options of {@link ddimReverseStep}. */
export interface DdimReverseStepOptions {
  /**
   * Clip the predicted x0 to [-1, 1].
   * @defaultValue true
   */
  clipDenoised?: boolean;
  /**
   * Class labels passed to the model.
   * @defaultValue undefined (unconditional)
   */
  y?: ClassLabels;
}

/**
 * One deterministic DDIM inversion step x_t -> x_{t+1} (guided-diffusion
 * `ddim_reverse_sample`, eta = 0): `x_{t+1} = sqrt(ab_next) x0 + sqrt(1 - ab_next) eps`,
 * eps re-derived from the (clipped) x0.
 *
 * @param diffusion - the process.
 * @param model - the denoiser.
 * @param x - x_t.
 * @param t - step indices.
 * @param options - see {@link DdimReverseStepOptions}.
 */
export function ddimReverseStep(
  diffusion: Diffusion, model: DiffusionModel, x: tf.Tensor4D, t: Timesteps, options: DdimReverseStepOptions = {},
): StepResult {
  const fn = 'ddimReverseStep';
  check4d(x, 'x', fn);
  const idx = stepIndices(diffusion, t, x.shape[0], fn);
  return tf.tidy(() => {
    const out = pMeanVariance(diffusion, model, x, idx, { clipDenoised: options.clipDenoised ?? true, y: options.y });
    const eps = predictEpsFromXStart(diffusion, x, idx, out.predXStart);
    const sample = tf.add(
      tf.mul(out.predXStart, extract(diffusion.alphasCumprodNext.map(Math.sqrt), idx)),
      tf.mul(extract(diffusion.alphasCumprodNext.map((a) => Math.sqrt(1 - a)), idx), eps),
    );
    return { sample, predXStart: out.predXStart, eps } as unknown as tf.TensorContainerObject;
  }) as unknown as StepResult;
}

/** Options of {@link ddpmStep}. */
export interface DdpmStepOptions extends StepNoise {
  /**
   * Clip the predicted x0 to [-1, 1].
   * @defaultValue true
   */
  clipDenoised?: boolean;
  /**
   * Class labels passed to the model.
   * @defaultValue undefined (unconditional)
   */
  y?: ClassLabels;
}

/**
 * One ancestral sampling step (guided-diffusion `p_sample`):
 * `x_{t-1} = mean + exp(0.5 logvar) z`, no noise at t = 0.
 *
 * @param diffusion - the process.
 * @param model - the denoiser.
 * @param x - x_t.
 * @param t - step indices.
 * @param options - see {@link DdpmStepOptions}; `noise` or `rng` is required.
 */
export function ddpmStep(
  diffusion: Diffusion, model: DiffusionModel, x: tf.Tensor4D, t: Timesteps, options: DdpmStepOptions = {},
): StepResult {
  const fn = 'ddpmStep';
  check4d(x, 'x', fn);
  const idx = stepIndices(diffusion, t, x.shape[0], fn);
  return tf.tidy(() => {
    const out = pMeanVariance(diffusion, model, x, idx, { clipDenoised: options.clipDenoised ?? true, y: options.y });
    const z = drawNoise(x, options, fn);
    const mask = tf.tensor4d(Float32Array.from(idx, (i) => (i === 0 ? 0 : 1)), [idx.length, 1, 1, 1]);
    const sample = tf.add(out.mean, tf.mul(tf.mul(mask, tf.exp(tf.mul(0.5, out.logVariance))), z));
    const eps = predictEpsFromXStart(diffusion, x, idx, out.predXStart);
    return { sample, predXStart: out.predXStart, eps } as unknown as tf.TensorContainerObject;
  }) as unknown as StepResult;
}

/** Progress of a sampling loop, reported after each step. */
export interface LoopProgress {
  /** Steps done so far (1-based). */
  done: number;
  /** Steps the loop will run. */
  total: number;
  /** The step index just run. */
  index: number;
  /** Its original timestep. */
  timestep: number;
}

/** Options common to the loops. */
export interface LoopOptions {
  /**
   * Called after each step (synchronously, between steps).
   * @defaultValue undefined
   */
  onProgress?: (progress: LoopProgress) => void;
  /**
   * Aborts the loop between steps (rejects with the signal's reason); the
   * loop yields to the event loop after each step so that the signal can fire.
   * @defaultValue undefined
   */
  signal?: AbortSignal;
}

/** Options of {@link ddimSampleLoop}. */
export interface DdimLoopOptions extends LoopOptions, Omit<DdimStepOptions, 'noise'> {
  /**
   * The step index to start from (x is taken to be at this step); the loop
   * runs fromStep, fromStep-1, ..., 0.
   * @defaultValue diffusion.numTimesteps - 1
   */
  fromStep?: number;
}

/** Options of {@link ddpmSampleLoop}. */
export interface DdpmLoopOptions extends LoopOptions, Omit<DdpmStepOptions, 'noise'> {
  /**
   * The step index to start from.
   * @defaultValue diffusion.numTimesteps - 1
   */
  fromStep?: number;
}

/** Options of {@link ddimReverseLoop}. */
export interface DdimReverseLoopOptions extends LoopOptions, DdimReverseStepOptions {
  /**
   * The number of inversion steps: the loop runs t = 0 .. steps-1.
   * @defaultValue diffusion.numTimesteps
   */
  steps?: number;
}

/** Yields to the event loop (so timers and abort signals can fire); browsers have no setImmediate. */
function yieldToEventLoop(): Promise<void> {
  return new Promise((resolve) => (typeof setImmediate === 'function' ? setImmediate(resolve) : setTimeout(resolve, 0)));
}

async function runLoop(
  diffusion: Diffusion, x: tf.Tensor4D, indices: number[], options: LoopOptions,
  step: (x: tf.Tensor4D, index: number) => tf.Tensor4D,
): Promise<tf.Tensor4D> {
  let cur = x.clone();
  try {
    for (let k = 0; k < indices.length; k++) {
      options.signal?.throwIfAborted();
      const next = tf.tidy(() => step(cur, indices[k]!));
      cur.dispose();
      cur = next;
      options.onProgress?.({ done: k + 1, total: indices.length, index: indices[k]!, timestep: diffusion.timestepMap[indices[k]!]! });
      await yieldToEventLoop();
    }
    options.signal?.throwIfAborted();
  } catch (e) {
    cur.dispose();
    throw e;
  }
  return cur;
}

function startIndex(diffusion: Diffusion, fromStep: number | undefined, fn: string): number {
  const s = fromStep ?? diffusion.numTimesteps - 1;
  if (!Number.isInteger(s) || s < 0 || s >= diffusion.numTimesteps) {
    throw new RangeError(`'fromStep' passed to '${fn}' must be an integer in [0, ${diffusion.numTimesteps}), got ${fromStep}`);
  }
  return s;
}

/**
 * DDIM sampling from x (at step `fromStep`) down to x_0's estimate (after
 * step 0). The input is not disposed; the result is a new tensor.
 *
 * @param diffusion - the process.
 * @param model - the denoiser.
 * @param x - the starting point (pure noise for `fromStep = numTimesteps-1`).
 * @param options - see {@link DdimLoopOptions}.
 */
export async function ddimSampleLoop(
  diffusion: Diffusion, model: DiffusionModel, x: tf.Tensor4D, options: DdimLoopOptions = {},
): Promise<tf.Tensor4D> {
  const fn = 'ddimSampleLoop';
  check4d(x, 'x', fn);
  const from = startIndex(diffusion, options.fromStep, fn);
  const indices = Array.from({ length: from + 1 }, (_, k) => from - k);
  return runLoop(diffusion, x, indices, options, (cur, i) => ddimStep(diffusion, model, cur, i, options).sample);
}

/**
 * Ancestral (DDPM) sampling from x (at step `fromStep`) down to step 0.
 *
 * @param diffusion - the process.
 * @param model - the denoiser.
 * @param x - the starting point.
 * @param options - see {@link DdpmLoopOptions}; `rng` is required.
 */
export async function ddpmSampleLoop(
  diffusion: Diffusion, model: DiffusionModel, x: tf.Tensor4D, options: DdpmLoopOptions = {},
): Promise<tf.Tensor4D> {
  const fn = 'ddpmSampleLoop';
  check4d(x, 'x', fn);
  if (!options.rng) throw new TypeError(`'rng' passed to '${fn}' is required (the noise of each step)`);
  const from = startIndex(diffusion, options.fromStep, fn);
  const indices = Array.from({ length: from + 1 }, (_, k) => from - k);
  return runLoop(diffusion, x, indices, options, (cur, i) => ddpmStep(diffusion, model, cur, i, options).sample);
}

/**
 * Deterministic DDIM inversion: runs {@link ddimReverseStep} for t = 0 .. steps-1,
 * taking x (clean data) to the latent at noise level `steps`.
 *
 * @param diffusion - the process.
 * @param model - the denoiser.
 * @param x - the clean images in [-1, 1].
 * @param options - see {@link DdimReverseLoopOptions}.
 */
export async function ddimReverseLoop(
  diffusion: Diffusion, model: DiffusionModel, x: tf.Tensor4D, options: DdimReverseLoopOptions = {},
): Promise<tf.Tensor4D> {
  const fn = 'ddimReverseLoop';
  check4d(x, 'x', fn);
  const steps = options.steps ?? diffusion.numTimesteps;
  if (!Number.isInteger(steps) || steps < 0 || steps > diffusion.numTimesteps) {
    throw new RangeError(`'steps' passed to '${fn}' must be an integer in [0, ${diffusion.numTimesteps}], got ${options.steps}`);
  }
  const indices = Array.from({ length: steps }, (_, k) => k);
  return runLoop(diffusion, x, indices, options, (cur, i) => ddimReverseStep(diffusion, model, cur, i, options).sample);
}
