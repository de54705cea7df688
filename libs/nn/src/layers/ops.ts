/**
 * Stateless tensor functions of guided-diffusion's networks, NHWC.
 */
import * as tf from '@tensorflow/tfjs';
import type { Rng } from '@tumorcast/random';

/** Counts floating-point operations (2 per multiply-add) of convolutions, linear layers and attention matmuls. */
export interface FlopCounter {
  /** Running total. */
  flops: number;
}

/** Per-call state handed down through a network's layers. */
export interface ForwardContext {
  /**
   * Training mode (dropout active).
   * @defaultValue false
   */
  training?: boolean;
  /**
   * Seeded source of dropout masks; required when training with dropout > 0.
   * @defaultValue none
   */
  rng?: Rng;
  /**
   * Accumulates the FLOPs of the call when given.
   * @defaultValue none
   */
  flops?: FlopCounter;
}

/** Options of {@link groupNorm}. */
export interface GroupNormOptions {
  /**
   * Number of groups.
   * @defaultValue 32
   */
  groups?: number;
  /**
   * Added to the variance.
   * @defaultValue 1e-5 (PyTorch's GroupNorm)
   */
  eps?: number;
}

/**
 * Group normalisation over the last (channel) axis of `x` (`[B, ..., C]`),
 * statistics per sample and group over all other axes, in float32 (biased
 * variance, as PyTorch), then `* gamma + beta` per channel.
 */
export function groupNorm(x: tf.Tensor, gamma: tf.Tensor1D, beta: tf.Tensor1D, options: GroupNormOptions = {}): tf.Tensor {
  const groups = options.groups ?? 32;
  const eps = options.eps ?? 1e-5;
  const c = x.shape[x.rank - 1]!;
  if (x.rank < 2) throw new RangeError(`'x' passed to 'groupNorm' must have a batch and a channel axis, got shape [${x.shape}]`);
  if (c % groups !== 0) throw new RangeError(`'x' passed to 'groupNorm' has ${c} channels, not divisible by ${groups} groups`);
  return tf.tidy(() => {
    const b = x.shape[0]!;
    const g = tf.reshape(x, [b, -1, groups, c / groups]);
    const { mean, variance } = tf.moments(g, [1, 3], true);
    const normed = tf.mul(tf.sub(g, mean), tf.rsqrt(tf.add(variance, eps)));
    return tf.add(tf.mul(tf.reshape(normed, x.shape), gamma), beta);
  });
}

/** SiLU (swish): `x * sigmoid(x)`. */
export function silu(x: tf.Tensor): tf.Tensor {
  return tf.tidy(() => tf.mul(x, tf.sigmoid(x)));
}

/** Options of {@link conv2d}. */
export interface Conv2dOptions {
  /**
   * Stride in both directions.
   * @defaultValue 1
   */
  stride?: number;
  /**
   * Zero padding on every side (symmetric, as PyTorch's `padding=`).
   * @defaultValue (kernel size - 1) / 2
   */
  padding?: number;
  /**
   * Accumulates FLOPs when given.
   * @defaultValue none
   */
  flops?: FlopCounter;
}

/**
 * 2-D convolution of NHWC `x` with an HWIO `filter` plus `bias`, with
 * PyTorch's symmetric zero padding (tfjs's `'same'` pads asymmetrically for
 * stride 2, so the input is padded explicitly then convolved `'valid'`).
 */
export function conv2d(x: tf.Tensor4D, filter: tf.Tensor4D, bias: tf.Tensor1D | null, options: Conv2dOptions = {}): tf.Tensor4D {
  const [kh, kw, cin, cout] = filter.shape;
  if (x.shape[3] !== cin) throw new RangeError(`'x' passed to 'conv2d' has ${x.shape[3]} channels, the filter expects ${cin}`);
  const stride = options.stride ?? 1;
  const padding = options.padding ?? (kh - 1) / 2;
  if (!Number.isInteger(padding) || padding < 0) throw new RangeError(`'padding' passed to 'conv2d' must be a non-negative integer, got ${padding}`);
  return tf.tidy(() => {
    let input = x;
    let pad: 'same' | 'valid' = 'valid';
    if (padding > 0) {
      if (stride === 1 && kh === kw && kh === 2 * padding + 1) pad = 'same';
      else input = tf.pad(x, [[0, 0], [padding, padding], [padding, padding], [0, 0]]);
    }
    const y = bias
      ? tf.fused.conv2d({ x: input, filter, bias, strides: stride, pad })
      : tf.conv2d(input, filter, stride, pad);
    if (options.flops) {
      const [b, ho, wo] = y.shape;
      options.flops.flops += 2 * b * ho * wo * cout * cin * kh * kw;
    }
    return y;
  });
}

/**
 * `x @ weight + bias` over the last axis of `x` (`[..., in]`), `weight` `[in, out]`.
 *
 * @param flops - accumulates FLOPs when given.
 */
export function linear(x: tf.Tensor, weight: tf.Tensor2D, bias: tf.Tensor1D | null, flops?: FlopCounter): tf.Tensor {
  const [nin, nout] = weight.shape;
  const last = x.shape[x.rank - 1];
  if (last !== nin) throw new RangeError(`'x' passed to 'linear' has last axis ${last}, the weight expects ${nin}`);
  return tf.tidy(() => {
    const x2 = x.rank === 2 ? (x as tf.Tensor2D) : tf.reshape(x, [-1, nin]);
    const y = bias ? tf.fused.matMul({ a: x2, b: weight, bias }) : tf.matMul(x2, weight);
    if (flops) flops.flops += 2 * x2.shape[0]! * nin * nout;
    return x.rank === 2 ? y : tf.reshape(y, [...x.shape.slice(0, -1), nout]);
  });
}

/** Options of {@link timestepEmbedding}. */
export interface TimestepEmbeddingOptions {
  /**
   * The longest period of the sinusoids.
   * @defaultValue 10000
   */
  maxPeriod?: number;
}

/**
 * guided-diffusion's sinusoidal timestep embedding: `half = floor(dim/2)`,
 * `freqs[i] = exp(-ln(maxPeriod) i / half)`, `[cos(t freqs), sin(t freqs)]`,
 * a zero column appended when `dim` is odd. Returns `[B, dim]`.
 *
 * @param t - timesteps `[B]` (float; fractional values allowed).
 * @param dim - embedding width.
 */
export function timestepEmbedding(t: tf.Tensor1D | readonly number[], dim: number, options: TimestepEmbeddingOptions = {}): tf.Tensor2D {
  if (!Number.isInteger(dim) || dim < 2) throw new RangeError(`'dim' passed to 'timestepEmbedding' must be an integer >= 2, got ${dim}`);
  const maxPeriod = options.maxPeriod ?? 10000;
  const half = Math.floor(dim / 2);
  // float32 arithmetic like PyTorch: (-ln(P) * i) / half, then exp.
  const lnP = Math.fround(-Math.log(maxPeriod));
  const freqs = new Float32Array(half);
  for (let i = 0; i < half; i++) freqs[i] = Math.exp(Math.fround(Math.fround(lnP * i) / half));
  return tf.tidy(() => {
    const tt = Array.isArray(t) ? tf.tensor1d(t as number[], 'float32') : tf.cast(t as tf.Tensor1D, 'float32');
    if (tt.rank !== 1) throw new RangeError(`'t' passed to 'timestepEmbedding' must be 1-D, got shape [${tt.shape}]`);
    const args = tf.mul(tf.reshape(tt, [-1, 1]), tf.tensor2d(freqs, [1, half]));
    const parts = [tf.cos(args), tf.sin(args)];
    if (dim % 2) parts.push(tf.zeros([tt.shape[0], 1]));
    return tf.concat(parts, 1) as tf.Tensor2D;
  });
}

/**
 * Nearest-neighbour upsampling by 2 of NHWC `x` (PyTorch `interpolate(scale_factor=2, mode='nearest')`),
 * by reshape and broadcast (its gradient is exact for any batch size).
 */
export function upsampleNearest2x(x: tf.Tensor4D): tf.Tensor4D {
  const [b, h, w, c] = x.shape;
  return tf.tidy(() => {
    const ones = tf.ones([1, 1, 2, 1, 2, 1]);
    return tf.reshape(tf.mul(tf.reshape(x, [b, h, 1, w, 1, c]), ones), [b, 2 * h, 2 * w, c]) as tf.Tensor4D;
  });
}

/** 2x2 average pooling with stride 2 of NHWC `x` (odd sizes floor, as PyTorch's `AvgPool2d(2)`). */
export function avgPool2x(x: tf.Tensor4D): tf.Tensor4D {
  return tf.avgPool(x, 2, 2, 'valid');
}

/** Options of {@link qkvAttention}. */
export interface QkvAttentionOptions {
  /**
   * Channel order of the packed `qkv`: `'legacy'` (guided-diffusion's
   * QKVAttentionLegacy: per head, q, k, v) or `'new'` (QKVAttention: all q,
   * then all k, then all v, each split into heads).
   * @defaultValue 'legacy'
   */
  order?: 'legacy' | 'new';
  /**
   * Accumulates FLOPs when given.
   * @defaultValue none
   */
  flops?: FlopCounter;
}

/**
 * Multi-head dot-product attention on packed `qkv` (`[B, T, 3 * heads * ch]`),
 * q and k each scaled by `ch^(-1/4)`, softmax over keys in float32. Returns
 * `[B, T, heads * ch]`, heads in the channel order of PyTorch's output.
 */
export function qkvAttention(qkv: tf.Tensor3D, heads: number, options: QkvAttentionOptions = {}): tf.Tensor3D {
  const [b, t, width] = qkv.shape;
  if (!Number.isInteger(heads) || heads < 1 || width % (3 * heads) !== 0) {
    throw new RangeError(`'heads' passed to 'qkvAttention' must divide width/3 = ${width / 3}, got ${heads}`);
  }
  const ch = width / (3 * heads);
  const order = options.order ?? 'legacy';
  return tf.tidy(() => {
    let q: tf.Tensor, k: tf.Tensor, v: tf.Tensor;
    if (order === 'legacy') {
      const r = tf.transpose(tf.reshape(qkv, [b, t, heads, 3 * ch]), [0, 2, 1, 3]);
      [q, k, v] = tf.split(r, 3, 3) as [tf.Tensor, tf.Tensor, tf.Tensor];
    } else {
      const parts = tf.split(qkv, 3, 2);
      [q, k, v] = parts.map((p) => tf.transpose(tf.reshape(p, [b, t, heads, ch]), [0, 2, 1, 3])) as [tf.Tensor, tf.Tensor, tf.Tensor];
    }
    const scale = 1 / Math.sqrt(Math.sqrt(ch));
    const q3 = tf.reshape(tf.mul(q, scale), [b * heads, t, ch]) as tf.Tensor3D;
    const k3 = tf.reshape(tf.mul(k, scale), [b * heads, t, ch]) as tf.Tensor3D;
    const v3 = tf.reshape(v, [b * heads, t, ch]) as tf.Tensor3D;
    const weight = tf.softmax(tf.matMul(q3, k3, false, true), -1);
    const a = tf.matMul(weight, v3);
    if (options.flops) options.flops.flops += 2 * 2 * b * heads * t * t * ch;
    return tf.reshape(tf.transpose(tf.reshape(a, [b, heads, t, ch]), [0, 2, 1, 3]), [b, t, heads * ch]) as tf.Tensor3D;
  });
}

/** Dropout with a mask drawn from `rng` (kept values scaled by 1/(1-rate)); identity when `rate` is 0. */
export function dropout(x: tf.Tensor, rate: number, rng: Rng): tf.Tensor {
  if (!(rate >= 0 && rate < 1)) throw new RangeError(`'rate' passed to 'dropout' must be in [0, 1), got ${rate}`);
  if (rate === 0) return x;
  return tf.dropout(x, rate, undefined, rng.seedInt());
}
