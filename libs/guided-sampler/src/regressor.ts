/**
 * The regressor interface and its input gradient.
 */
import * as tf from '@tensorflow/tfjs';

/**
 * A regressor as a function: `(x_t, t) => r`, one prediction per image
 * (`[B]`). `x` is NHWC in the networks' [-1, 1] range, `t` the ORIGINAL
 * timesteps as float32.
 */
export type RegressorFn = (x: tf.Tensor4D, t: tf.Tensor1D) => tf.Tensor1D;

/**
 * A regressor object: `predict`, and optionally its own `inputGradient`
 * returning the prediction and d prediction / d x (per image) in one go.
 */
export interface RegressorObject {
  /** The prediction `[B]`. */
  predict: RegressorFn;
  /**
   * The prediction `[B]` and its gradient with respect to x (`[B, H, W, C]`).
   * When absent, the gradient is computed with `tf.valueAndGrad` of `predict`.
   */
  inputGradient?: (x: tf.Tensor4D, t: tf.Tensor1D) => { value: tf.Tensor1D; gradient: tf.Tensor4D };
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
    const g = (regressor as RegressorObject).inputGradient;
    if (g === undefined || typeof g === 'function') return;
  }
  throw new TypeError(`'regressor' passed to '${fn}' must be a function (x, t) => Tensor1D or an object with 'predict' (and optionally 'inputGradient')`);
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
 * `tf.valueAndGrad` of the prediction, or the regressor's own `inputGradient`.
 *
 * @param regressor - the regressor.
 * @param x - images `[B, H, W, C]`.
 * @param t - original timesteps `[B]`.
 */
export function regressorValueAndGrad(
  regressor: Regressor, x: tf.Tensor4D, t: tf.Tensor1D,
): { value: tf.Tensor1D; gradient: tf.Tensor4D } {
  const fn = 'regressorValueAndGrad';
  checkRegressor(regressor, fn);
  if (typeof regressor !== 'function' && regressor.inputGradient) {
    const r = regressor.inputGradient(x, t);
    checkOutput(r?.value, x.shape[0], fn);
    if (!(r.gradient instanceof tf.Tensor) || r.gradient.shape.some((d, i) => d !== x.shape[i]) || r.gradient.rank !== 4) {
      throw new RangeError(`'regressor' passed to '${fn}': inputGradient must return a gradient of shape [${x.shape}]`);
    }
    return r;
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
  }) as unknown as { value: tf.Tensor1D; gradient: tf.Tensor4D };
}
