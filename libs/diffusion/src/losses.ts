/**
 * Training losses (guided-diffusion `training_losses` with `LossType.MSE`,
 * epsilon prediction, and the hybrid variational-bound term when the model
 * learns sigma) and the Gaussian helpers they use.
 */
import * as tf from '@tensorflow/tfjs';
import type { Diffusion } from './diffusion.js';
import { pMeanVariance, qPosteriorMeanVariance, qSample } from './process.js';
import {
  type ClassLabels, type DiffusionModel, type Timesteps,
  callModel, check4d, checkSameShape, stepIndices,
} from './tensors.js';

const LN2 = Math.log(2);

/**
 * The identity in the forward pass with a zero gradient (PyTorch's `.detach()`).
 *
 * @param x - any tensor.
 * @returns a copy of `x` that gradients do not flow through.
 */
export function stopGradient<T extends tf.Tensor>(x: T): T {
  const f = tf.customGrad((...args: (tf.Tensor | tf.GradSaveFunc)[]) => {
    const a = args[0] as tf.Tensor;
    return { value: a.clone(), gradFunc: (dy: tf.Tensor | tf.Tensor[]) => tf.zerosLike(dy as tf.Tensor) };
  });
  return f(x) as T;
}

/**
 * KL divergence between two Gaussians given means and log-variances,
 * elementwise (nats): `0.5 (-1 + lv2 - lv1 + exp(lv1 - lv2) + (m1 - m2)² exp(-lv2))`.
 */
export function normalKl(mean1: tf.Tensor, logVar1: tf.Tensor, mean2: tf.Tensor, logVar2: tf.Tensor): tf.Tensor {
  return tf.tidy(() => tf.mul(0.5, tf.addN([
    tf.scalar(-1).broadcastTo(mean1.shape),
    tf.sub(logVar2, logVar1).broadcastTo(mean1.shape),
    tf.exp(tf.sub(logVar1, logVar2)).broadcastTo(mean1.shape),
    tf.mul(tf.square(tf.sub(mean1, mean2)), tf.exp(tf.neg(logVar2))).broadcastTo(mean1.shape),
  ])));
}

/** A fast approximation of the standard normal CDF (tanh form, as guided-diffusion). */
export function approxStandardNormalCdf(x: tf.Tensor): tf.Tensor {
  return tf.tidy(() => tf.mul(0.5, tf.add(1, tf.tanh(
    tf.mul(Math.sqrt(2 / Math.PI), tf.add(x, tf.mul(0.044715, tf.pow(x, 3)))),
  ))));
}

/**
 * Log-likelihood (nats) of data in [-1, 1] discretised to 256 bins (width
 * 2/255) under a Gaussian, elementwise; the edge bins extend to ±infinity.
 *
 * @param x - the target images in [-1, 1].
 * @param means - the Gaussian means.
 * @param logScales - log standard deviations.
 */
export function discretizedGaussianLogLikelihood(x: tf.Tensor, means: tf.Tensor, logScales: tf.Tensor): tf.Tensor {
  return tf.tidy(() => {
    const centered = tf.sub(x, means);
    const invStdv = tf.exp(tf.neg(logScales));
    const cdfPlus = approxStandardNormalCdf(tf.mul(invStdv, tf.add(centered, 1 / 255)));
    const cdfMin = approxStandardNormalCdf(tf.mul(invStdv, tf.sub(centered, 1 / 255)));
    const logCdfPlus = tf.log(tf.maximum(cdfPlus, 1e-12));
    const logOneMinusCdfMin = tf.log(tf.maximum(tf.sub(1, cdfMin), 1e-12));
    const logCdfDelta = tf.log(tf.maximum(tf.sub(cdfPlus, cdfMin), 1e-12));
    const shape = centered.shape;
    return tf.where(tf.less(x, -0.999).broadcastTo(shape), logCdfPlus.broadcastTo(shape),
      tf.where(tf.greater(x, 0.999).broadcastTo(shape), logOneMinusCdfMin.broadcastTo(shape), logCdfDelta.broadcastTo(shape)));
  });
}

/** Options of {@link trainingLosses}. */
export interface TrainingLossOptions {
  /**
   * Class labels passed to the model.
   * @defaultValue undefined (unconditional)
   */
  y?: ClassLabels;
  /**
   * Multiply the variational-bound term by `numTimesteps / 1000`
   * (guided-diffusion's `RESCALED_MSE`); the paper's configuration does not.
   * @defaultValue false
   */
  rescaleVb?: boolean;
}

/** Per-image training loss terms (each `[B]`). */
export interface TrainingLosses {
  /** The total: `mse + vb` (or `mse` when the model does not learn sigma). */
  loss: tf.Tensor1D;
  /** Mean squared error between the predicted and the true noise. */
  mse: tf.Tensor1D;
  /**
   * The variational-bound term in bits per dimension (KL to the posterior,
   * or the discretised decoder NLL at t = 0), with the gradient stopped on
   * the predicted mean: it trains only the variance. Present when the
   * diffusion learns sigma.
   */
  vb?: tf.Tensor1D;
}

/**
 * The training loss for one batch (guided-diffusion `training_losses`,
 * `LossType.MSE`, epsilon target): `mse = mean((eps - eps_pred)²)` per image;
 * when the diffusion learns sigma, plus the hybrid `vb` term computed from
 * `[stopGradient(eps_pred), v]` without clipping. Differentiable with respect
 * to the model's weights (call it inside `optimizer.minimize`).
 *
 * @param diffusion - the process (training normally uses the unspaced one).
 * @param model - the denoiser.
 * @param x0 - clean images `[B, H, W, C]` in [-1, 1].
 * @param t - step indices, one per image (e.g. uniform in [0, T)).
 * @param noise - the standard-normal noise eps used to make x_t.
 * @param options - see {@link TrainingLossOptions}.
 */
export function trainingLosses(
  diffusion: Diffusion, model: DiffusionModel, x0: tf.Tensor4D, t: Timesteps, noise: tf.Tensor4D,
  options: TrainingLossOptions = {},
): TrainingLosses {
  const fn = 'trainingLosses';
  check4d(x0, 'x0', fn);
  check4d(noise, 'noise', fn);
  checkSameShape(x0, noise, 'noise', fn);
  const idx = stepIndices(diffusion, t, x0.shape[0], fn);
  return tf.tidy(() => {
    const xt = qSample(diffusion, x0, idx, noise);
    const { eps, v } = callModel(diffusion, model, xt, idx, options.y, fn);
    const mse = tf.mean(tf.square(tf.sub(noise, eps)), [1, 2, 3]) as tf.Tensor1D;
    if (!v) return { loss: mse, mse } as unknown as tf.TensorContainerObject;
    const frozen = tf.concat([stopGradient(eps), v], 3);
    const frozenModel: DiffusionModel = () => frozen;
    let vb = vbTermsBpd(diffusion, frozenModel, x0, xt, idx);
    if (options.rescaleVb) vb = tf.mul(vb, diffusion.numTimesteps / 1000);
    return { loss: tf.add(mse, vb), mse, vb } as unknown as tf.TensorContainerObject;
  }) as unknown as TrainingLosses;
}

/** guided-diffusion `_vb_terms_bpd` (no clipping): per-image bits/dim. */
function vbTermsBpd(diffusion: Diffusion, model: DiffusionModel, x0: tf.Tensor4D, xt: tf.Tensor4D, idx: number[]): tf.Tensor1D {
  const truth = qPosteriorMeanVariance(diffusion, x0, xt, idx);
  const out = pMeanVariance(diffusion, model, xt, idx, { clipDenoised: false });
  const kl = tf.div(tf.mean(normalKl(truth.mean, truth.logVariance, out.mean, out.logVariance), [1, 2, 3]), LN2);
  const nll = tf.div(tf.mean(tf.neg(discretizedGaussianLogLikelihood(x0, out.mean, tf.mul(0.5, out.logVariance))), [1, 2, 3]), LN2);
  const isZero = tf.tensor1d(idx.map((i) => (i === 0 ? 1 : 0)), 'bool');
  return tf.where(isZero, nll, kl) as tf.Tensor1D;
}
