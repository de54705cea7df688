/**
 * The regressor interface and its input gradient.
 */
import * as tf from '@tensorflow/tfjs';

/**
 * A regressor as a function: `(x_t, t) => r`, one prediction per image
 * (`[B]`). `x` is NHWC in the networks' data range, `t` the ORIGINAL
 * timesteps as float32.
 */
export type RegressorFn = (x: tf.Tensor4D, t: tf.Tensor1D) => tf.Tensor1D;

/** A prediction and the gradient of the predictions' sum with respect to the input, as `@tumorcast/regressor` returns it. */
export interface ValueAndInputGradient {
  /** The prediction `[B]`. */
  value: tf.Tensor1D;
  /** d(sum of predictions)/dx `[B, H, W, C]`. */
  grad: tf.Tensor4D;
}

/** What {@link regressorValueAndGrad} returns (both tensors belong to the caller). */
export interface RegressorValueAndGradient {
  /** The prediction `[B]`. */
  value: tf.Tensor1D;
  /** Each image's prediction's gradient with respect to that image, `[B, H, W, C]`. */
  gradient: tf.Tensor4D;
}

/**
 * A regressor object (for example `@tumorcast/regressor`'s `Regressor`):
 * `predict`, and optionally its own input gradient. The sampler uses, in this
 * order, `valueAndInputGradient`, `inputGradient` (with `predict` for the
 * value), or `tf.valueAndGrad` of `predict`.
 */
export interface RegressorObject {
  /** The prediction `[B]`. */
  predict: RegressorFn;
  /** The prediction `[B]` and the gradient of its sum with respect to x (`[B, H, W, C]`), in one pass. */
  valueAndInputGradient?: (x: tf.Tensor4D, t: tf.Tensor1D) => ValueAndInputGradient;
  /** The gradient of the predictions' sum with respect to x (`[B, H, W, C]`). */
  inputGradient?: (x: tf.Tensor4D, t: tf.Tensor1D) => tf.Tensor4D;
}

/** A regressor: a function or a {@link RegressorObject}. */
export type Regressor = RegressorFn | RegressorObject;

function checkOutput(value: unknown, batch: number, fn: string): asserts value is tf.Tensor1D {
  if (!(value instanceof tf.Tensor) || value.rank !== 1 || value.shape[0] !== batch) {
    const got = value instanceof tf.Tensor ? `shape [${value.shape}]` : typeof value;
    throw new RangeError(`'regressor' passed to '${fn}' must return one value per image (shape [${batch}]), got ${got}`);
  }
}

/**
 * Validates a regressor argument.
 *
 * @param regressor - the value to check.
 * @param fn - the calling function, for errors.
 */
export function checkRegressor(regressor: unknown, fn: string): asserts regressor is Regressor {
  if (typeof regressor === 'function') return;
  if (regressor && typeof regressor === 'object' && typeof (regressor as RegressorObject).predict === 'function') {
    const o = regressor as RegressorObject;
    const ok = (f: unknown) => f === undefined || typeof f === 'function';
    if (ok(o.inputGradient) && ok(o.valueAndInputGradient)) return;
  }
  throw new TypeError(`'regressor' passed to '${fn}' must be a function (x, t) => Tensor1D or an object with 'predict' (and optionally 'valueAndInputGradient' or 'inputGradient')`);
}

/**
 * The regressor's prediction `[B]`.
 *
 * @param regressor - the regressor.
 * @param x - images `[B, H, W, C]`.
 * @param t - original timesteps `[B]`.
 */
export function regressorPredict(regressor: Regressor, x: tf.Tensor4D, t: tf.Tensor1D): tf.Tensor1D {
  const fn = 'regressorPredict';
  checkRegressor(regressor, fn);
  const value = typeof regressor === 'function' ? regressor(x, t) : regressor.predict(x, t);
  checkOutput(value, x.shape[0], fn);
  return value;
}

/**
 * The regressor's prediction and its gradient with respect to the input,
 * per image (the gradient of image b's prediction w.r.t. image b):
 * the regressor's own `valueAndInputGradient` / `inputGradient`, else
 * `tf.valueAndGrad` of the prediction.
 *
 * @param regressor - the regressor.
 * @param x - images `[B, H, W, C]`.
 * @param t - original timesteps `[B]`.
 */
export function regressorValueAndGrad(
  regressor: Regressor, x: tf.Tensor4D, t: tf.Tensor1D,
): RegressorValueAndGradient {
  const fn = 'regressorValueAndGrad';
  checkRegressor(regressor, fn);
  const checkGrad = (g: unknown) => {
    if (!(g instanceof tf.Tensor) || g.rank !== 4 || g.shape.some((d: number, i: number) => d !== x.shape[i])) {
      throw new RangeError(`'regressor' passed to '${fn}': its input gradient must have shape [${x.shape}], got ${g instanceof tf.Tensor ? `[${g.shape}]` : typeof g}`);
    }
  };
  if (typeof regressor !== 'function' && regressor.valueAndInputGradient) {
    const r = regressor.valueAndInputGradient(x, t);
    try {
      checkOutput(r?.value, x.shape[0], fn);
      checkGrad(r.grad);
    } catch (e) {
      tf.dispose([r?.value, r?.grad].filter((v) => v instanceof tf.Tensor));
      throw e;
    }
    return { value: r.value, gradient: r.grad };
  }
  if (typeof regressor !== 'function' && regressor.inputGradient) {
    const value = regressorPredict(regressor, x, t);
    const gradient = regressor.inputGradient(x, t);
    try {
      checkGrad(gradient);
    } catch (e) {
      tf.dispose([value, gradient].filter((v) => v instanceof tf.Tensor));
      throw e;
    }
    return { value, gradient };
  }
  const f = typeof regressor === 'function' ? regressor : regressor.predict;
  return tf.tidy(() => {
    // The predictions of different images are independent, so the gradient of
    // their sum is each image's own gradient.
    const { value, grad } = tf.valueAndGrad((xx: tf.Tensor) => {
      const v = f(xx as tf.Tensor4D, t);
      checkOutput(v, x.shape[0], fn);
      return v;
    })(x);
    return { value: value as tf.Tensor1D, gradient: grad as tf.Tensor4D } as unknown as tf.TensorContainerObject;
  }) as unknown as RegressorValueAndGradient;
}
