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
  const target = burdenTensor(burden, b, fn);
  try {
    return tf.tidy(() => {
      const xt = qSample(diffusion, x0, idx, noise);
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
