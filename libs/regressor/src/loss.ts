/**
 * The regressor's training objective, as the authors' `regressor_train.py`
 * computes it: clean slices are noised to a timestep t with the diffusion's
 * forward process (`q_sample`), the regressor predicts the clean slice's
 * tumour burden from the noised one, and the loss is the squared error per
 * image (`F.mse_loss(..., reduction='none')`, averaged over the batch by the
 * caller). The design mirrors @tumorcast/diffusion's `trainingLosses`: the
 * caller draws the timesteps and the noise (so that a seeded run is
 * reproducible step by step) and gets per-image tensors back.
 */
import * as tf from '@tensorflow/tfjs';
import { originalTimesteps, qSample } from '@tumorcast/diffusion';
import type { Diffusion } from '@tumorcast/diffusion';
import { Regressor } from './regressor.js';
import type { RegressorApplyOptions } from './regressor.js';

/**
 * A burden regressor as a function: NHWC images `[B, H, W, C]` and the
 * ORIGINAL timesteps (float32 `[B]`) to one value per image (`[B]`).
 */
export type RegressorModel = (x: tf.Tensor4D, t: tf.Tensor1D) => tf.Tensor1D;

/** Options of {@link regressorTrainingLoss}. */
export interface RegressorTrainingLossOptions {
  /**
   * Options of the forward pass when `regressor` is a {@link Regressor}
   * (training mode and the dropout `rng`); ignored for a function.
   * @defaultValue inference mode (the same network with dropout 0)
   */
  apply?: RegressorApplyOptions;
  /**
   * A perturbation added to the noised images before the regressor sees them
   * (`R(x_t + delta, t)`), shaped like `x0`: adversarial training passes
   * {@link adversarialPerturbation}'s result. Not differentiated through.
   * @defaultValue none
   */
  perturbation?: tf.Tensor4D;
}

/** Per-image terms of the regressor's training loss (each `[B]`, owned by the caller). */
export interface RegressorTrainingLoss {
  /** `(R(x_t, t) - burden)²` per image; its mean is the batch loss. */
  loss: tf.Tensor1D;
  /** The regressor's prediction R(x_t, t) per image. */
  prediction: tf.Tensor1D;
}

/** The burden targets as a float32 `[batch]` tensor, validated. */
function burdenTensor(burden: tf.Tensor1D | readonly number[], batch: number, fn: string): tf.Tensor1D {
  if (burden instanceof tf.Tensor) {
    if (burden.rank !== 1 || burden.shape[0] !== batch) throw new RangeError(`'burden' passed to '${fn}' must hold one value per image (${batch}), got shape [${burden.shape}]`);
    return tf.cast(burden, 'float32') as tf.Tensor1D;
  }
  if (!Array.isArray(burden) || burden.length !== batch) {
    throw new RangeError(`'burden' passed to '${fn}' must hold one value per image (${batch}), got ${Array.isArray(burden) ? `${burden.length} values` : typeof burden}`);
  }
  const bad = burden.find((v) => typeof v !== 'number' || !Number.isFinite(v));
  if (bad !== undefined) throw new RangeError(`'burden' passed to '${fn}' must hold finite numbers, got ${String(bad)}`);
  return tf.tensor1d(burden as number[], 'float32');
}

/** Validates the arguments {@link regressorTrainingLoss} and {@link adversarialPerturbation} share; returns the batch size and the step indices. */
function checkLossArguments(
  fn: string, diffusion: Diffusion, regressor: Regressor | RegressorModel, x0: tf.Tensor4D, t: number | readonly number[], noise: tf.Tensor4D,
): { b: number; idx: number[] } {
  if (diffusion === null || typeof diffusion !== 'object' || !(diffusion.numTimesteps > 0)) throw new TypeError(`'diffusion' passed to '${fn}' must be a Diffusion from createDiffusion`);
  if (!(regressor instanceof Regressor) && typeof regressor !== 'function') throw new TypeError(`'regressor' passed to '${fn}' must be a Regressor or a function (x, t) => [B] values`);
  if (regressor instanceof Regressor && regressor.config.outChannels !== 1) {
    throw new RangeError(`'regressor' passed to '${fn}' must have one output (outChannels 1), got ${regressor.config.outChannels}`);
  }
  if (!(x0 instanceof tf.Tensor) || x0.rank !== 4) throw new RangeError(`'x0' passed to '${fn}' must be a 4-D NHWC tensor, got ${x0 instanceof tf.Tensor ? `shape [${x0.shape}]` : typeof x0}`);
  const b = x0.shape[0];
  if (!(noise instanceof tf.Tensor) || noise.shape.length !== 4 || noise.shape.some((d, i) => d !== x0.shape[i])) {
    throw new RangeError(`'noise' passed to '${fn}' must have the shape of x0 [${x0.shape}], got ${noise instanceof tf.Tensor ? `[${noise.shape}]` : typeof noise}`);
  }
  const idx = typeof t === 'number' ? new Array<number>(b).fill(t) : Array.isArray(t) ? [...t] : null;
  if (!idx || idx.length !== b) throw new RangeError(`'t' passed to '${fn}' must hold one step index per image (${b}), got ${idx ? idx.length : typeof t}`);
  for (const v of idx) {
    if (!Number.isInteger(v) || v < 0 || v >= diffusion.numTimesteps) throw new RangeError(`'t' passed to '${fn}' must hold integers in [0, ${diffusion.numTimesteps}), got ${v}`);
  }
  return { b, idx };
}

/**
 * The regressor's training loss for one batch:
 * `x_t = sqrt(alpha_bar_t) x0 + sqrt(1 - alpha_bar_t) noise` (the diffusion's
 * `qSample`), then `loss_i = (R(x_t, t)_i - burden_i)²`. Differentiable with
 * respect to the regressor's weights: call it inside `optimizer.minimize` and
 * return `loss.mean()`.
 *
 * @param diffusion - the process whose forward noising the regressor learns to see through (normally unspaced).
 * @param regressor - a {@link Regressor} with one output, or a {@link RegressorModel}; called with the original timesteps.
 * @param x0 - clean images `[B, H, W, C]` in the network's data range.
 * @param t - step indices of `diffusion`, one per image (e.g. uniform in [0, T)) or one for all.
 * @param noise - the standard-normal noise, shaped like `x0`.
 * @param burden - the clean images' tumour burdens (the targets), one per image.
 * @param options - see {@link RegressorTrainingLossOptions}.
 *
 * @example
 * ```ts
 * const t = idx.map(() => rng.int(diffusion.numTimesteps));
 * const noise = tf.tensor4d(rng.normalArray(x0.size), x0.shape);
 * const loss = optimizer.minimize(() => regressorTrainingLoss(diffusion, net, x0, t, noise, burden).loss.mean() as tf.Scalar, net.trainableVariables);
 * ```
 */
export function regressorTrainingLoss(
  diffusion: Diffusion, regressor: Regressor | RegressorModel, x0: tf.Tensor4D, t: number | readonly number[], noise: tf.Tensor4D,
  burden: tf.Tensor1D | readonly number[], options: RegressorTrainingLossOptions = {},
): RegressorTrainingLoss {
  const fn = 'regressorTrainingLoss';
  const { b, idx } = checkLossArguments(fn, diffusion, regressor, x0, t, noise);
  const delta = options.perturbation;
  if (delta !== undefined && (!(delta instanceof tf.Tensor) || delta.shape.length !== 4 || delta.shape.some((d, i) => d !== x0.shape[i]))) {
    throw new RangeError(`'options.perturbation' passed to '${fn}' must have the shape of x0 [${x0.shape}], got ${delta instanceof tf.Tensor ? `[${delta.shape}]` : typeof delta}`);
  }
  const target = burdenTensor(burden, b, fn);
  try {
    return tf.tidy(() => {
      const noised = qSample(diffusion, x0, idx, noise);
      const xt = delta ? tf.add(noised, delta) as tf.Tensor4D : noised;
      const tt = originalTimesteps(diffusion, idx);
      const prediction = regressor instanceof Regressor
        ? tf.reshape(regressor.apply(xt, tt, options.apply), [b]) as tf.Tensor1D
        : regressor(xt, tt);
      if (!(prediction instanceof tf.Tensor) || prediction.size !== b) {
        throw new RangeError(`'regressor' passed to '${fn}' must return one value per image (${b}), got ${prediction instanceof tf.Tensor ? `shape [${prediction.shape}]` : typeof prediction}`);
      }
      const pred = tf.reshape(prediction, [b]) as tf.Tensor1D;
      return { loss: tf.square(tf.sub(pred, target)), prediction: pred } as unknown as tf.TensorContainerObject;
    }) as unknown as RegressorTrainingLoss;
  } finally {
    target.dispose();
  }
}

/** Options of {@link adversarialPerturbation}. */
export interface AdversarialPerturbationOptions {
  /** The L2 radius of the perturbation per image, in the network's data units (over all pixels and channels). */
  epsilon: number;
  /** Projected gradient ascent steps (1: the fast gradient method with an L2 step). @defaultValue 1 */
  steps?: number;
  /** The L2 length of each ascent step. @defaultValue 2.5 * epsilon / steps */
  stepSize?: number;
  /** Options of the forward pass when `regressor` is a {@link Regressor}. @defaultValue inference mode */
  apply?: RegressorApplyOptions;
}

/**
 * The perturbation of the noised images, at most `epsilon` long (L2) per
 * image, that most increases the regressor's squared error: projected
 * gradient ascent from zero on `(R(x_t + delta, t) - burden)²`, each step
 * `stepSize` along the normalised gradient, then back onto the ball.
 * Training on `x_t + delta` ({@link RegressorTrainingLossOptions.perturbation})
 * is adversarial training (Madry et al. 2018), which makes a classifier's
 * input gradients follow the image's content; as a guidance regressor
 * (Kawar et al. 2022, robust classifier guidance) it then cannot be
 * satisfied by small changes that are not tumour. Deterministic (no random
 * start). Returns a new tensor the caller owns; nothing is differentiated
 * with respect to the weights. Call it outside `optimizer.minimize` (its
 * input gradient would otherwise be recorded on the optimiser's tape); each
 * step costs one forward and one backward pass.
 *
 * @param diffusion - the process that noises the images (as in {@link regressorTrainingLoss}).
 * @param regressor - a {@link Regressor} with one output, or a {@link RegressorModel}.
 * @param x0 - clean images `[B, H, W, C]` in the network's data range.
 * @param t - step indices of `diffusion`, one per image or one for all.
 * @param noise - the standard-normal noise, shaped like `x0`.
 * @param burden - the targets, one per image.
 * @param options - see {@link AdversarialPerturbationOptions}.
 *
 * @example
 * ```ts
 * const delta = adversarialPerturbation(diffusion, reg, x0, t, noise, burden, { epsilon: 0.5 });
 * const loss = optimizer.minimize(() => regressorTrainingLoss(diffusion, reg, x0, t, noise, burden, { perturbation: delta }).loss.mean() as tf.Scalar, reg.trainableVariables);
 * delta.dispose();
 * ```
 */
export function adversarialPerturbation(
  diffusion: Diffusion, regressor: Regressor | RegressorModel, x0: tf.Tensor4D, t: number | readonly number[], noise: tf.Tensor4D,
  burden: tf.Tensor1D | readonly number[], options: AdversarialPerturbationOptions,
): tf.Tensor4D {
  const fn = 'adversarialPerturbation';
  const { b, idx } = checkLossArguments(fn, diffusion, regressor, x0, t, noise);
  const epsilon = options?.epsilon;
  if (typeof epsilon !== 'number' || !Number.isFinite(epsilon) || epsilon < 0) throw new RangeError(`'options.epsilon' passed to '${fn}' must be a finite number >= 0, got ${String(epsilon)}`);
  const steps = options.steps ?? 1;
  if (!Number.isInteger(steps) || steps < 1) throw new RangeError(`'options.steps' passed to '${fn}' must be an integer >= 1, got ${String(steps)}`);
  const stepSize = options.stepSize ?? (2.5 * epsilon) / steps;
  if (typeof stepSize !== 'number' || !Number.isFinite(stepSize) || stepSize < 0) throw new RangeError(`'options.stepSize' passed to '${fn}' must be a finite number >= 0, got ${String(stepSize)}`);
  const target = burdenTensor(burden, b, fn);
  try {
    return tf.tidy(() => {
      const xt = qSample(diffusion, x0, idx, noise);
      const tt = originalTimesteps(diffusion, idx);
      const squaredError = (d: tf.Tensor): tf.Scalar => {
        const input = tf.add(xt, d) as tf.Tensor4D;
        const out = regressor instanceof Regressor ? regressor.apply(input, tt, options.apply) : regressor(input, tt);
        return tf.sum(tf.square(tf.sub(tf.reshape(out, [b]), target))) as tf.Scalar;
      };
      const grad = tf.grad(squaredError);
      // Per-image L2 norm as [B, 1, 1, 1]; the floor keeps a zero gradient a zero step.
      const norms = (v: tf.Tensor4D): tf.Tensor4D => tf.maximum(tf.sqrt(tf.sum(tf.square(v), [1, 2, 3], true)), 1e-12) as tf.Tensor4D;
      let delta = tf.zerosLike(xt) as tf.Tensor4D;
      for (let k = 0; k < steps; k++) {
        const g = grad(delta) as tf.Tensor4D;
        const stepped = tf.add(delta, tf.mul(g, tf.div(stepSize, norms(g)))) as tf.Tensor4D;
        delta = tf.mul(stepped, tf.minimum(1, tf.div(epsilon, norms(stepped)))) as tf.Tensor4D;
      }
      return delta;
    });
  } finally {
    target.dispose();
  }
}
