/**
 * The tiny networks of tools/diffusion/reference.py, with weights from a
 * fixture (PyTorch OIHW conv weights), for golden tests. Test-only.
 */
import * as tf from '@tensorflow/tfjs';

/** A conv layer's weights as stored in the fixtures. */
export interface ConvJson { weight: number[]; weightShape: [number, number, number, number]; bias: number[] }
/** TinyEps weights as stored in the fixtures. */
export interface TinyEpsJson { conv1: ConvJson; conv2: ConvJson; wt: number[]; emb: number[]; embShape: [number, number] }

/** OIHW -> HWIO filter tensor, plus bias. */
export function convFromJson(c: ConvJson): { filter: tf.Tensor4D; bias: tf.Tensor1D } {
  const [o, i, h, w] = c.weightShape;
  const filter = tf.tidy(() => tf.transpose(tf.tensor4d(c.weight, [o, i, h, w]), [2, 3, 1, 0]) as tf.Tensor4D);
  return { filter, bias: tf.tensor1d(c.bias) };
}

function conv(x: tf.Tensor4D, p: { filter: tf.Tensor4D; bias: tf.Tensor1D }): tf.Tensor4D {
  return tf.add(tf.conv2d(x, p.filter, 1, 'same'), p.bias);
}

/** The model function of TinyEps: tanh(conv(x) + wt·t/1000 + emb[y]) -> conv, times (1 + t/1000). */
export function tinyEps(json: TinyEpsJson): (x: tf.Tensor4D, t: tf.Tensor1D, y?: tf.Tensor1D) => tf.Tensor4D {
  const c1 = convFromJson(json.conv1);
  const c2 = convFromJson(json.conv2);
  const wt = tf.tensor1d(json.wt);
  const emb = tf.tensor2d(json.emb, [json.embShape[0], json.embShape[1]]);
  return (x, t, y) => tf.tidy(() => {
    const tt = tf.div(t, 1000).reshape([-1, 1, 1, 1]);
    let h = tf.add(conv(x, c1), tf.mul(wt, tt));
    if (y) h = tf.add(h, tf.gather(emb, y).reshape([-1, 1, 1, json.embShape[1]]));
    return tf.mul(conv(tf.tanh(h) as tf.Tensor4D, c2), tf.add(1, tt));
  });
}

/** The TinyRegressor: R = 0.5 · mean(tanh(conv(x))) · (1 + t/1000) + 0.3. */
export function tinyRegressor(json: { conv: ConvJson }): (x: tf.Tensor4D, t: tf.Tensor1D) => tf.Tensor1D {
  const c = convFromJson(json.conv);
  return (x, t) => tf.tidy(() => {
    const h = tf.mean(tf.tanh(conv(x, c)), [1, 2, 3]);
    return tf.add(tf.mul(tf.mul(h, 0.5), tf.add(1, tf.div(t, 1000))), 0.3) as tf.Tensor1D;
  });
}

/** Max absolute difference between a tensor and reference values. */
export function maxAbsDiff(x: tf.Tensor | ArrayLike<number>, ref: ArrayLike<number>): number {
  const a = x instanceof tf.Tensor ? x.dataSync() : x;
  if (a.length !== ref.length) throw new Error(`length ${a.length} != ${ref.length}`);
  let m = 0;
  for (let i = 0; i < a.length; i++) m = Math.max(m, Math.abs(a[i]! - ref[i]!));
  return m;
}

/** Max relative difference (|a-b| / max(|b|, floor)) between two arrays. */
export function maxRelDiff(a: ArrayLike<number>, ref: ArrayLike<number>, floor = 1e-30): number {
  if (a.length !== ref.length) throw new Error(`length ${a.length} != ${ref.length}`);
  let m = 0;
  for (let i = 0; i < a.length; i++) m = Math.max(m, Math.abs(a[i]! - ref[i]!) / Math.max(Math.abs(ref[i]!), floor));
  return m;
}
