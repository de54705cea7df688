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
 * statistics per sample and group over all other axes, in float32 (two-pass:
 * mean, then the biased variance of the centred values, as PyTorch), then
 * `* gamma + beta` per channel.
 *
 * Implemented with a hand-written gradient whose reductions are global
 * average pools (fast XNNPACK kernels on wasm) instead of tfjs's generic
 * moments, which transpose the whole tensor for every reduction.
 */
export function groupNorm(x: tf.Tensor, gamma: tf.Tensor1D, beta: tf.Tensor1D, options: GroupNormOptions = {}): tf.Tensor {
  const groups = options.groups ?? 32;
  const eps = options.eps ?? 1e-5;
  if (x.rank < 2) throw new RangeError(`'x' passed to 'groupNorm' must have a batch and a channel axis, got shape [${x.shape}]`);
  const c = x.shape[x.rank - 1]!;
  if (!Number.isInteger(groups) || groups < 1 || c % groups !== 0) {
    throw new RangeError(`'x' passed to 'groupNorm' has ${c} channels, not divisible by ${groups} groups`);
  }
  if (gamma.size !== c || beta.size !== c) throw new RangeError(`'gamma' and 'beta' passed to 'groupNorm' must have ${c} values`);
  const b = x.shape[0]!;
  const spatial = x.size / (b * c);
  const cg = c / groups;
  // per-(sample, channel) mean over the spatial positions of a [B, S, 1, C] tensor: [B, 1, 1, C]
  const chMean = (t: tf.Tensor4D) => tf.avgPool(t, [spatial, 1], 1, 'valid');
  // per-(sample, group) mean of per-channel values, broadcast back to channels: [B, 1, 1, C]
  const groupMean = (t: tf.Tensor) => tf.reshape(tf.mul(tf.mean(tf.reshape(t, [b, groups, cg]), 2, true), tf.ones([1, 1, cg])), [b, 1, 1, c]);
  const gn = tf.customGrad((...args: (tf.Tensor | tf.GradSaveFunc)[]) => {
    const [xin, g, be, save] = args as [tf.Tensor, tf.Tensor, tf.Tensor, tf.GradSaveFunc];
    const x4 = tf.reshape(xin, [b, spatial, 1, c]) as tf.Tensor4D;
    const d = tf.sub(x4, groupMean(chMean(x4))) as tf.Tensor4D;
    const r = tf.rsqrt(tf.add(groupMean(chMean(tf.square(d) as tf.Tensor4D)), eps));
    const y = tf.add(tf.mul(d, tf.mul(r, g)), be);
    save([d, r, g]);
    return {
      value: tf.reshape(y, xin.shape),
      gradFunc: (dy: tf.Tensor, saved: tf.Tensor[]) => tf.tidy(() => {
        const [sd, sr, sg] = saved as [tf.Tensor4D, tf.Tensor, tf.Tensor];
        const dy4 = tf.reshape(dy, [b, spatial, 1, c]) as tf.Tensor4D;
        const pDy = chMean(dy4); // [B,1,1,C]
        const pDyD = chMean(tf.mul(dy4, sd) as tf.Tensor4D); // [B,1,1,C]
        const m1 = groupMean(tf.mul(pDy, sg));
        const m2 = groupMean(tf.mul(tf.mul(pDyD, sg), sr));
        const dx = tf.add(tf.add(tf.mul(dy4, tf.mul(sr, sg)), tf.mul(sd, tf.neg(tf.mul(tf.square(sr), m2)))), tf.neg(tf.mul(sr, m1)));
        const dgamma = tf.mul(tf.sum(tf.reshape(tf.mul(pDyD, sr), [b, c]), 0), spatial);
        const dbeta = tf.mul(tf.sum(tf.reshape(pDy, [b, c]), 0), spatial);
        return [tf.reshape(dx, dy.shape), dgamma, dbeta];
      }),
    };
  });
  return gn(x, gamma, beta);
}

const siluWithGrad = tf.customGrad((...args: (tf.Tensor | tf.GradSaveFunc)[]) => {
  const [x, save] = args as [tf.Tensor, tf.GradSaveFunc];
  save([x]);
  return {
    value: tf.mul(x, tf.sigmoid(x)),
    // d/dx x*s(x) = s * (1 + x * (1 - s)); only x is kept for the backward pass
    gradFunc: (dy: tf.Tensor, saved: tf.Tensor[]) =>
      tf.tidy(() => {
        const [sx] = saved as [tf.Tensor];
        const sg = tf.sigmoid(sx);
        return [tf.mul(dy, tf.mul(sg, tf.add(tf.mul(sx, tf.sub(1, sg)), 1)))];
      }),
  };
});

/** SiLU (swish): `x * sigmoid(x)`; its gradient keeps only `x` (one activation instead of two). */
export function silu(x: tf.Tensor): tf.Tensor {
  return siluWithGrad(x);
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
 * The gradient uses only plain (untransposed) 2-D matrix products with
 * explicit transposes: the wasm backend runs those on XNNPACK, its
 * transposed products on a ~10x slower loop.
 *
 * @param flops - accumulates FLOPs when given.
 */
export function linear(x: tf.Tensor, weight: tf.Tensor2D, bias: tf.Tensor1D | null, flops?: FlopCounter): tf.Tensor {
  const [nin, nout] = weight.shape;
  const last = x.shape[x.rank - 1];
  if (last !== nin) throw new RangeError(`'x' passed to 'linear' has last axis ${last}, the weight expects ${nin}`);
  return tf.tidy(() => {
    const x2 = tf.reshape(x, [-1, nin]) as tf.Tensor2D;
    const n = x2.shape[0];
    if (flops) flops.flops += 2 * n * nin * nout;
    const b = bias ?? tf.zeros([nout]);
    const f = tf.customGrad((...args: (tf.Tensor | tf.GradSaveFunc)[]) => {
      const [xa, w, bb, save] = args as [tf.Tensor2D, tf.Tensor2D, tf.Tensor1D, tf.GradSaveFunc];
      save([xa, w]);
      return {
        value: tf.fused.matMul({ a: xa, b: w, bias: bb }),
        gradFunc: (dy: tf.Tensor, saved: tf.Tensor[]) =>
          tf.tidy(() => {
            const [sx, sw] = saved as [tf.Tensor2D, tf.Tensor2D];
            const dy2 = dy as tf.Tensor2D;
            return [
              tf.matMul(dy2, tf.transpose(sw)),
              tf.matMul(tf.transpose(sx), dy2),
              tf.reshape(tf.matMul(tf.ones([1, n]) as tf.Tensor2D, dy2), [nout]),
            ];
          }),
      };
    });
    const y = f(x2, weight, b);
    return x.rank === 2 ? y : tf.reshape(y, [...x.shape.slice(0, -1), nout]);
  });
}

/**
 * Batched matrix product `a @ b` (`[n, p, q] @ [n, q, r]`), computed as `n`
 * plain 2-D products (XNNPACK on wasm; tfjs's batched kernel there is a
 * ~10x slower loop), with a gradient of the same form.
 */
export function bmm(a: tf.Tensor3D, b: tf.Tensor3D): tf.Tensor3D {
  if (a.rank !== 3 || b.rank !== 3 || a.shape[0] !== b.shape[0] || a.shape[2] !== b.shape[1]) {
    throw new RangeError(`'a' and 'b' passed to 'bmm' must be [n, p, q] and [n, q, r], got [${a.shape}] and [${b.shape}]`);
  }
  const raw = (x: tf.Tensor3D, y: tf.Tensor3D): tf.Tensor3D => {
    const n = x.shape[0];
    if (n === 1) return tf.reshape(tf.matMul(tf.reshape(x, [x.shape[1], x.shape[2]]), tf.reshape(y, [y.shape[1], y.shape[2]])), [1, x.shape[1], y.shape[2]]);
    const xs = tf.unstack(x) as tf.Tensor2D[];
    const ys = tf.unstack(y) as tf.Tensor2D[];
    return tf.stack(xs.map((xi, i) => tf.matMul(xi, ys[i]!))) as tf.Tensor3D;
  };
  const swap = (x: tf.Tensor) => tf.transpose(x, [0, 2, 1]) as tf.Tensor3D;
  const f = tf.customGrad((...args: (tf.Tensor | tf.GradSaveFunc)[]) => {
    const [x, y, save] = args as [tf.Tensor3D, tf.Tensor3D, tf.GradSaveFunc];
    save([x, y]);
    return {
      value: raw(x, y),
      gradFunc: (dy: tf.Tensor, saved: tf.Tensor[]) =>
        tf.tidy(() => {
          const [sx, sy] = saved as [tf.Tensor3D, tf.Tensor3D];
          return [raw(dy as tf.Tensor3D, swap(sy)), raw(swap(sx), dy as tf.Tensor3D)];
        }),
    };
  });
  return f(a, b);
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
    // -> [3, B, heads, T, ch]: one transpose, then contiguous slices (no strided split)
    const r = order === 'legacy'
      ? tf.transpose(tf.reshape(qkv, [b, t, heads, 3, ch]), [3, 0, 2, 1, 4])
      : tf.transpose(tf.reshape(qkv, [b, t, 3, heads, ch]), [2, 0, 3, 1, 4]);
    const [q, k, v] = tf.unstack(r).map((p) => tf.reshape(p, [b * heads, t, ch])) as [tf.Tensor3D, tf.Tensor3D, tf.Tensor3D];
    // (q * s) . (k * s) with s = ch^(-1/4), applied once as s^2 on q
    const scale = 1 / Math.sqrt(ch);
    const logits = bmm(tf.mul(q, scale) as tf.Tensor3D, tf.transpose(k, [0, 2, 1]) as tf.Tensor3D);
    const a = bmm(tf.softmax(logits, -1) as tf.Tensor3D, v);
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
