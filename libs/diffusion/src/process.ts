/**
 * The forward process, the posterior, and the model's reverse-process
 * distribution (guided-diffusion `q_sample`, `q_posterior_mean_variance`,
 * `p_mean_variance`).
 */
import * as tf from '@tensorflow/tfjs';
import type { Diffusion } from './diffusion.js';
import {
  type ClassLabels, type DiffusionModel, type Timesteps,
  callModel, check4d, checkSameShape, extract, stepIndices,
} from './tensors.js';

/**
 * Diffuses clean data to step t: `sqrt(alpha_bar_t) x0 + sqrt(1 - alpha_bar_t) eps`.
 *
 * @param diffusion - the process.
 * @param x0 - clean images `[B, H, W, C]` in [-1, 1].
 * @param t - step indices (one, or one per image).
 * @param noise - standard-normal noise of the same shape.
 * @returns x_t (a new tensor).
 */
export function qSample(diffusion: Diffusion, x0: tf.Tensor4D, t: Timesteps, noise: tf.Tensor4D): tf.Tensor4D {
  const fn = 'qSample';
  check4d(x0, 'x0', fn);
  check4d(noise, 'noise', fn);
  checkSameShape(x0, noise, 'noise', fn);
  const idx = stepIndices(diffusion, t, x0.shape[0], fn);
  return tf.tidy(() => tf.add(
    tf.mul(extract(diffusion.sqrtAlphasCumprod, idx), x0),
    tf.mul(extract(diffusion.sqrtOneMinusAlphasCumprod, idx), noise),
  ));
}

/** Mean, variance and clipped log-variance of a Gaussian over images. */
export interface GaussianParams {
  /** The mean `[B, H, W, C]`. */
  mean: tf.Tensor4D;
  /** The variance, `[B, 1, 1, 1]` or `[B, H, W, C]`. */
  variance: tf.Tensor4D;
  /** The log-variance, same shape as `variance`. */
  logVariance: tf.Tensor4D;
}

/**
 * The posterior q(x_{t-1} | x_t, x_0): mean `coef1·x0 + coef2·x_t`, variance
 * and clipped log-variance (`[B, 1, 1, 1]`).
 *
 * @param diffusion - the process.
 * @param x0 - the (predicted) clean images.
 * @param xt - the noisy images at step t.
 * @param t - step indices.
 */
export function qPosteriorMeanVariance(diffusion: Diffusion, x0: tf.Tensor4D, xt: tf.Tensor4D, t: Timesteps): GaussianParams {
  const fn = 'qPosteriorMeanVariance';
  check4d(x0, 'x0', fn);
  check4d(xt, 'xt', fn);
  checkSameShape(x0, xt, 'xt', fn);
  const idx = stepIndices(diffusion, t, x0.shape[0], fn);
  return tf.tidy(() => ({
    mean: tf.add<tf.Tensor4D>(tf.mul(extract(diffusion.posteriorMeanCoef1, idx), x0), tf.mul(extract(diffusion.posteriorMeanCoef2, idx), xt)),
    variance: extract(diffusion.posteriorVariance, idx),
    logVariance: extract(diffusion.posteriorLogVarianceClipped, idx),
  }));
}

/**
 * x0 from x_t and a noise prediction: `sqrt(1/ab_t) x_t - sqrt(1/ab_t - 1) eps`.
 *
 * @param diffusion - the process.
 * @param xt - the noisy images.
 * @param t - step indices.
 * @param eps - the predicted noise.
 */
export function predictXStartFromEps(diffusion: Diffusion, xt: tf.Tensor4D, t: Timesteps, eps: tf.Tensor4D): tf.Tensor4D {
  const idx = stepIndices(diffusion, t, xt.shape[0], 'predictXStartFromEps');
  return tf.tidy(() => tf.sub(
    tf.mul(extract(diffusion.sqrtRecipAlphasCumprod, idx), xt),
    tf.mul(extract(diffusion.sqrtRecipm1AlphasCumprod, idx), eps),
  ));
}

/**
 * The noise implied by x_t and a predicted x0: `(sqrt(1/ab_t) x_t - x0) / sqrt(1/ab_t - 1)`.
 *
 * @param diffusion - the process.
 * @param xt - the noisy images.
 * @param t - step indices.
 * @param x0 - the predicted clean images.
 */
export function predictEpsFromXStart(diffusion: Diffusion, xt: tf.Tensor4D, t: Timesteps, x0: tf.Tensor4D): tf.Tensor4D {
  const idx = stepIndices(diffusion, t, xt.shape[0], 'predictEpsFromXStart');
  return tf.tidy(() => tf.div(
    tf.sub(tf.mul(extract(diffusion.sqrtRecipAlphasCumprod, idx), xt), x0),
    extract(diffusion.sqrtRecipm1AlphasCumprod, idx),
  ));
}

/** Options of {@link pMeanVariance}. */
export interface PMeanVarianceOptions {
  /**
   * Clip the predicted x0 to [-1, 1] before computing the mean.
   * @defaultValue true
   */
  clipDenoised?: boolean;
  /**
   * Class labels passed to the model.
   * @defaultValue undefined (unconditional)
   */
  y?: ClassLabels;
}

/** The model's p(x_{t-1} | x_t) and its predictions. */
export interface PMeanVarianceResult extends GaussianParams {
  /** The predicted x0 (clipped when `clipDenoised`). */
  predXStart: tf.Tensor4D;
  /** The model's raw noise prediction (first C channels of its output). */
  modelEps: tf.Tensor4D;
}

/**
 * The reverse-process distribution p(x_{t-1} | x_t) of the model (guided-diffusion
 * `p_mean_variance`, epsilon prediction): x0 from eps (clipped to [-1, 1] when
 * `clipDenoised`), mean = posterior mean given that x0; variance learned in
 * log space between the posterior variance and beta_t when the diffusion
 * learns sigma (`frac = (v + 1) / 2`), else fixed.
 *
 * @param diffusion - the process.
 * @param model - the denoiser; it is called with the ORIGINAL timesteps.
 * @param x - x_t `[B, H, W, C]`.
 * @param t - step indices of this (possibly respaced) process.
 * @param options - see {@link PMeanVarianceOptions}.
 */
export function pMeanVariance(
  diffusion: Diffusion, model: DiffusionModel, x: tf.Tensor4D, t: Timesteps, options: PMeanVarianceOptions = {},
): PMeanVarianceResult {
  const fn = 'pMeanVariance';
  check4d(x, 'x', fn);
  const idx = stepIndices(diffusion, t, x.shape[0], fn);
  const clip = options.clipDenoised ?? true;
  return tf.tidy(() => {
    const { eps, v } = callModel(diffusion, model, x, idx, options.y, fn);
    let variance: tf.Tensor4D;
    let logVariance: tf.Tensor4D;
    if (v) {
      const minLog = extract(diffusion.posteriorLogVarianceClipped, idx);
      const maxLog = extract(diffusion.betas.map(Math.log), idx);
      const frac = tf.div(tf.add(v, 1), 2);
      logVariance = tf.add(tf.mul(frac, maxLog), tf.mul(tf.sub(1, frac), minLog));
      variance = tf.exp(logVariance);
    } else if (diffusion.fixedVariance === 'large') {
      const large = diffusion.betas.map((b, i) => (i === 0 ? diffusion.posteriorVariance[1]! : b));
      variance = extract(large, idx);
      logVariance = extract(large.map(Math.log), idx);
    } else {
      variance = extract(diffusion.posteriorVariance, idx);
      logVariance = extract(diffusion.posteriorLogVarianceClipped, idx);
    }
    let predXStart = predictXStartFromEps(diffusion, x, idx, eps);
    if (clip) predXStart = tf.clipByValue(predXStart, -1, 1);
    const { mean } = qPosteriorMeanVariance(diffusion, predXStart, x, idx);
    return { mean, variance, logVariance, predXStart, modelEps: eps };
  });
}
