/**
 * Stateless tensor functions of guided-diffusion's networks, NHWC.
 */
import * as tf from '@tensorflow/tfjs';

/** Counts floating-point operations (2 per multiply-add) of convolutions, linear layers and attention matmuls. */
export interface FlopCounter {
  /** Running total. */
  flops: number;
}

/**
 * What dropout draws its masks' seeds from: a seeded `Rng` of @tumorcast/random,
 * or anything else with its `seedInt` (gradient checkpointing replays the
 * seeds of a block's first pass through one of these).
 */
export interface SeedSource {
  /** A 31-bit integer seed. */
  seedInt(): number;
}

/** Per-call state handed down through a network's layers. */
export interface ForwardContext {
  /**
   * Training mode (dropout active).
   * @defaultValue false
   */
  training?: boolean;
  /**
   * Seeded source of dropout masks (an `Rng`); required when training with dropout > 0.
   * @defaultValue none
   */
  rng?: SeedSource;
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

/** The parts of tfjs's engine state that {@link releaseAfterGradient} reads. */
interface EngineScopes {
  gradientDepth: number;
  activeScope: { id: number } | null;
}

/** Output gradients of a backward pass run by `recomputeGradients`, which the gradient function reading one may free. */
const freeableGradients = new WeakSet<tf.Tensor>();

/**
 * Lets the gradient function that reads `dy` free it (see
 * {@link canFreeGradient}); for backward passes other than tfjs's own.
 *
 * @internal
 */
export function markFreeableGradient(dy: tf.Tensor): void {
  freeableGradients.add(dy);
}

/**
 * Whether a custom gradient function may free its output gradient `dy` once
 * it has read it: tfjs keeps every intermediate gradient of a backward pass
 * until the whole pass ends, but nothing reads one again after the operation
 * that produced its tensor. True when the running backward pass made `dy`
 * (tfjs's, whose scope is active when a gradient function is called — so
 * this must be asked before entering a `tf.tidy` — or one that marked it with
 * {@link markFreeableGradient}), not for a `dy` the caller of `tf.grads`
 * passed in, and never while gradients of gradients are being recorded,
 * where a gradient function may run again.
 *
 * @internal
 */
export function canFreeGradient(dy: tf.Tensor): boolean {
  const st = tf.engine().state as unknown as EngineScopes;
  if (st.gradientDepth !== 0 || dy.kept) return false;
  return freeableGradients.has(dy) || (st.activeScope !== null && dy.scopeId === st.activeScope.id);
}

/**
 * Frees what a custom gradient function no longer needs once it has run:
 * tfjs keeps every saved tensor and every intermediate gradient of a
 * backward pass until the whole pass ends, so the memory of a training step
 * would otherwise hold all activations and all their gradients at once.
 * `saved` (this operation's saved tensors, read by nothing else) are freed,
 * and `dy` (the gradient of its output) when `freeDy` and it is not one of
 * `grads`. Nothing is freed while gradients of gradients are being recorded.
 *
 * @param freeDy - whether `dy` may go.
 * @defaultValue freeDy: {@link canFreeGradient}(dy), asked now (call it outside `tf.tidy`).
 * @internal
 */
export function releaseAfterGradient(dy: tf.Tensor, saved: readonly tf.Tensor[], grads: readonly tf.Tensor[], freeDy = canFreeGradient(dy)): void {
  const st = tf.engine().state as unknown as EngineScopes;
  if (st.gradientDepth !== 0) return;
  for (const t of saved) t.dispose();
  if (freeDy && !grads.includes(dy)) dy.dispose();
}

/** The gradient of each input of a {@link lazyGradient} operation, computed when called. */
type LazyGradients = Record<string, () => tf.Tensor>;

/** tfjs-core 4's engine entry point behind `tf.customGrad` (not in its public types). */
interface KernelFuncEngine {
  runKernelFunc(params: {
    forwardFunc: (backend: unknown, save: tf.GradSaveFunc) => tf.Tensor;
    backwardsFunc: (dy: tf.Tensor, saved: tf.Tensor[]) => LazyGradients;
    inputs: Record<string, tf.Tensor>;
  }): tf.Tensor;
}

/**
 * One recorded operation, like `tf.customGrad`, whose backward pass computes
 * the gradient of an input only when asked for it. `tf.customGrad` computes
 * the gradients of all inputs at once, but a backward pass needs only those of
 * the inputs between the differentiated tensors and the result (tfjs's
 * `tf.grads` and `recomputeGradients` ask for no others): an input
 * gradient (what guidance needs) then runs no weight gradient, and a
 * network's first layer no gradient of the image.
 *
 * Backward passes ask for an operation's inputs in their order here, so
 * `inputs` lists the parameters first and the layer's input last: that one,
 * when asked for, also frees the saved tensors and `dy` once its gradient is
 * made ({@link releaseAfterGradient}, as the eager custom gradients do).
 * When it is not asked for (only parameters need gradients) they stay until
 * the backward pass ends, which disposes them.
 *
 * @param inputs - the operation's inputs by name, the last one released after.
 * @param forward - the result from the inputs; `save` keeps tensors for the backward pass.
 * @param gradients - one function per input name, each giving that input's gradient for output gradient `dy`.
 */
function lazyGradient(
  inputs: Record<string, tf.Tensor>,
  forward: (save: tf.GradSaveFunc) => tf.Tensor,
  gradients: (dy: tf.Tensor, saved: tf.Tensor[]) => LazyGradients,
): tf.Tensor {
  const names = Object.keys(inputs);
  const last = names[names.length - 1]!;
  return (tf.engine() as unknown as KernelFuncEngine).runKernelFunc({
    inputs,
    forwardFunc: (_backend, save) => forward(save),
    backwardsFunc: (dy, saved) => {
      // Asked here, outside the tidy each gradient function runs in.
      const freeDy = canFreeGradient(dy);
      const fns = gradients(dy, saved);
      const out: LazyGradients = {};
      for (const name of names) {
        const fn = fns[name]!;
        out[name] = name !== last ? fn : () => {
          const g = fn();
          releaseAfterGradient(dy, saved, [g], freeDy);
          return g;
        };
      }
      return out;
    },
  });
}

/** Checks `groupNorm`'s arguments; returns the sizes its kernels need. */
function groupNormShape(x: tf.Tensor, gamma: tf.Tensor1D, beta: tf.Tensor1D, groups: number, fn: string): { b: number; spatial: number; c: number } {
  if (x.rank < 2) throw new RangeError(`'x' passed to '${fn}' must have a batch and a channel axis, got shape [${x.shape}]`);
  const c = x.shape[x.rank - 1]!;
  if (!Number.isInteger(groups) || groups < 1 || c % groups !== 0) {
    throw new RangeError(`'x' passed to '${fn}' has ${c} channels, not divisible by ${groups} groups`);
  }
  if (gamma.size !== c || beta.size !== c) throw new RangeError(`'gamma' and 'beta' passed to '${fn}' must have ${c} values`);
  const b = x.shape[0]!;
  return { b, spatial: x.size / (b * c), c };
}

/**
 * GroupNorm's arithmetic on `[B, S, 1, C]` tensors, shared by the forward and
 * backward passes of {@link groupNorm} and {@link groupNormSilu} (which
 * recomputes the forward in its backward pass, so both must run the same
 * operations). The reductions are global average pools (fast XNNPACK kernels
 * on wasm) instead of tfjs's generic moments, which transpose the whole
 * tensor for every reduction.
 */
function groupNormKernels(b: number, spatial: number, c: number, groups: number, eps: number) {
  const cg = c / groups;
  // per-(sample, channel) mean over the spatial positions: [B, 1, 1, C]
  const chMean = (t: tf.Tensor) => tf.avgPool(t as tf.Tensor4D, [spatial, 1], 1, 'valid');
  // per-(sample, group) mean of per-channel values, broadcast back to channels: [B, 1, 1, C]
  const groupMean = (t: tf.Tensor) => tf.reshape(tf.mul(tf.mean(tf.reshape(t, [b, groups, cg]), 2, true), tf.ones([1, 1, cg])), [b, 1, 1, c]);
  return {
    /** The centred values `d` and the reciprocal standard deviation `r` (`[B, 1, 1, C]`). */
    stats(x4: tf.Tensor4D): { d: tf.Tensor4D; r: tf.Tensor } {
      const d = tf.tidy(() => tf.sub(x4, groupMean(chMean(x4))) as tf.Tensor4D);
      const r = tf.tidy(() => tf.rsqrt(tf.add(groupMean(chMean(tf.square(d))), eps)));
      return { d, r };
    },
    /** `d * r * gamma + beta`. */
    affine(d: tf.Tensor, r: tf.Tensor, g: tf.Tensor, be: tf.Tensor): tf.Tensor {
      return tf.tidy(() => tf.add(tf.mul(d, tf.mul(r, g)), be));
    },
    /**
     * The gradients `[dx, dgamma, dbeta]` for output gradient `dy4`; the
     * full-size temporaries are freed as soon as they are used, and with
     * `consume` so are `dy4` and `d` (then at most three full-size tensors
     * exist at a time).
     */
    backward(dy4: tf.Tensor, d: tf.Tensor, r: tf.Tensor, g: tf.Tensor, consume = false): tf.Tensor[] {
      return tf.tidy(() => {
        const pDy = chMean(dy4); // [B,1,1,C]
        const pDyD = tf.tidy(() => chMean(tf.mul(dy4, d))); // [B,1,1,C]
        const m1 = groupMean(tf.mul(pDy, g));
        const m2 = groupMean(tf.mul(tf.mul(pDyD, g), r));
        const t2 = tf.tidy(() => tf.mul(d, tf.neg(tf.mul(tf.square(r), m2))));
        if (consume) d.dispose();
        const t1 = tf.tidy(() => tf.mul(dy4, tf.mul(r, g)));
        if (consume) dy4.dispose();
        const t3 = tf.add(t1, t2);
        tf.dispose([t1, t2]);
        const dx = tf.add(t3, tf.neg(tf.mul(r, m1)));
        t3.dispose();
        const dgamma = tf.mul(tf.sum(tf.reshape(tf.mul(pDyD, r), [b, c]), 0), spatial);
        const dbeta = tf.mul(tf.sum(tf.reshape(pDy, [b, c]), 0), spatial);
        return [dx, dgamma, dbeta];
      });
    },
  };
}

/**
 * `dy * silu'(x)` with silu'(x) = s (1 + x (1 - s)), s = sigmoid(x), written
 * as s (1 + x - x s); each full-size temporary is freed once used (at most
 * three at a time). Frees `x` when `freeX`.
 */
function siluBackward(dy: tf.Tensor, x: tf.Tensor, freeX: boolean): tf.Tensor {
  return tf.tidy(() => {
    const s = tf.sigmoid(x);
    const xs = tf.mul(x, s);
    const u = tf.sub(x, xs);
    xs.dispose();
    if (freeX) x.dispose();
    const u1 = tf.add(u, 1);
    u.dispose();
    const v = tf.mul(u1, s);
    tf.dispose([u1, s]);
    const out = tf.mul(dy, v);
    v.dispose();
    return out;
  });
}

/**
 * Group normalisation over the last (channel) axis of `x` (`[B, ..., C]`),
 * statistics per sample and group over all other axes, in float32 (two-pass:
 * mean, then the biased variance of the centred values, as PyTorch), then
 * `* gamma + beta` per channel.
 *
 * Implemented with a hand-written gradient whose reductions are global
 * average pools (fast XNNPACK kernels on wasm) instead of tfjs's generic
 * moments, which transpose the whole tensor for every reduction; it keeps the
 * centred values for the backward pass.
 */
export function groupNorm(x: tf.Tensor, gamma: tf.Tensor1D, beta: tf.Tensor1D, options: GroupNormOptions = {}): tf.Tensor {
  const groups = options.groups ?? 32;
  const eps = options.eps ?? 1e-5;
  const { b, spatial, c } = groupNormShape(x, gamma, beta, groups, 'groupNorm');
  const k = groupNormKernels(b, spatial, c, groups, eps);
  const gn = tf.customGrad((...args: (tf.Tensor | tf.GradSaveFunc)[]) => {
    const [xin, g, be, save] = args as [tf.Tensor, tf.Tensor, tf.Tensor, tf.GradSaveFunc];
    const { d, r } = k.stats(tf.reshape(xin, [b, spatial, 1, c]) as tf.Tensor4D);
    const y = k.affine(d, r, g, be);
    save([d, r, g]);
    return {
      value: tf.reshape(y, xin.shape),
      gradFunc: (dy: tf.Tensor | tf.Tensor[], saved: tf.Tensor[]) => {
        const g4 = dy as tf.Tensor;
        const grads = tf.tidy(() => {
          const [sd, sr, sg] = saved as [tf.Tensor4D, tf.Tensor, tf.Tensor];
          const [dx, dgamma, dbeta] = k.backward(tf.reshape(g4, [b, spatial, 1, c]), sd, sr, sg) as [tf.Tensor, tf.Tensor, tf.Tensor];
          return [tf.reshape(dx, g4.shape), dgamma, dbeta];
        });
        releaseAfterGradient(g4, saved, grads);
        return grads;
      },
    };
  });
  return gn(x, gamma, beta);
}

/**
 * `silu(groupNorm(x, gamma, beta))` (guided-diffusion's `normalization`
 * followed by `SiLU`, as in every residual block) in one operation with the
 * same values as the two, whose gradient keeps only `x`: the backward pass
 * recomputes the normalised values (the same operations, so the same
 * numbers) instead of keeping them and the SiLU's input, two feature maps
 * per use.
 */
export function groupNormSilu(x: tf.Tensor, gamma: tf.Tensor1D, beta: tf.Tensor1D, options: GroupNormOptions = {}): tf.Tensor {
  const groups = options.groups ?? 32;
  const eps = options.eps ?? 1e-5;
  const { b, spatial, c } = groupNormShape(x, gamma, beta, groups, 'groupNormSilu');
  const k = groupNormKernels(b, spatial, c, groups, eps);
  const f = tf.customGrad((...args: (tf.Tensor | tf.GradSaveFunc)[]) => {
    const [xin, g, be, save] = args as [tf.Tensor, tf.Tensor, tf.Tensor, tf.GradSaveFunc];
    const x4 = tf.reshape(xin, [b, spatial, 1, c]) as tf.Tensor4D;
    const { d, r } = k.stats(x4);
    const y = k.affine(d, r, g, be);
    save([x4, g, be]);
    return {
      value: tf.reshape(tf.mul(y, tf.sigmoid(y)), xin.shape),
      gradFunc: (dy: tf.Tensor | tf.Tensor[], saved: tf.Tensor[]) => {
        const g4 = dy as tf.Tensor;
        const shape = g4.shape;
        const freeDy = canFreeGradient(g4);
        const grads = tf.tidy(() => {
          const [sx, sg, sbe] = saved as [tf.Tensor4D, tf.Tensor, tf.Tensor];
          // The centred values are made twice rather than kept through the SiLU's backward pass (the memory peak).
          let st = k.stats(sx);
          const y = k.affine(st.d, st.r, sg, sbe);
          st.d.dispose();
          const dy4 = tf.reshape(g4, [b, spatial, 1, c]);
          const gy = siluBackward(dy4, y, true);
          // dy's buffer goes once both views of it are gone.
          dy4.dispose();
          if (freeDy) g4.dispose();
          st = k.stats(sx);
          const [dx, dgamma, dbeta] = k.backward(gy, st.d, st.r, sg, true) as [tf.Tensor, tf.Tensor, tf.Tensor];
          return [tf.reshape(dx, shape), dgamma, dbeta];
        });
        releaseAfterGradient(g4, saved, grads, freeDy);
        return grads;
      },
    };
  });
  return f(x, gamma, beta);
}

const siluWithGrad = tf.customGrad((...args: (tf.Tensor | tf.GradSaveFunc)[]) => {
  const [x, save] = args as [tf.Tensor, tf.GradSaveFunc];
  save([x]);
  return {
    value: tf.mul(x, tf.sigmoid(x)),
    // only x is kept for the backward pass
    gradFunc: (dy: tf.Tensor | tf.Tensor[], saved: tf.Tensor[]) => {
      const g = siluBackward(dy as tf.Tensor, saved[0]!, false);
      releaseAfterGradient(dy as tf.Tensor, saved, [g]);
      return g;
    },
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
  /**
   * Let the backend keep its prepared copy of `filter` for later calls
   * (the wasm backend's XNNPACK packs each filter once and keeps the packed
   * copy, about twice the filter's size, until the filter tensor is
   * disposed). `false` packs a transient copy for this call only: while
   * training, the weights change every step, so the kept copy would never be
   * reused but would double the heap the weights take.
   * @defaultValue true
   */
  cacheFilter?: boolean;
}

/**
 * 2-D convolution of NHWC `x` with an HWIO `filter` plus `bias`, with
 * PyTorch's symmetric zero padding (tfjs's `'same'` pads asymmetrically for
 * stride 2, so other paddings are given to the convolution explicitly).
 * The gradient keeps only `x` and `filter` (tfjs's fused convolution also
 * keeps its output), and computes the gradients of `filter`, `bias` and `x`
 * each only when the backward pass needs it (an input gradient runs no
 * filter gradient; tfjs's fused convolution computes all three).
 */
export function conv2d(x: tf.Tensor4D, filter: tf.Tensor4D, bias: tf.Tensor1D | null, options: Conv2dOptions = {}): tf.Tensor4D {
  const [kh, kw, cin, cout] = filter.shape;
  if (x.shape[3] !== cin) throw new RangeError(`'x' passed to 'conv2d' has ${x.shape[3]} channels, the filter expects ${cin}`);
  const stride = options.stride ?? 1;
  const padding = options.padding ?? (kh - 1) / 2;
  if (!Number.isInteger(padding) || padding < 0) throw new RangeError(`'padding' passed to 'conv2d' must be a non-negative integer, got ${padding}`);
  if (bias && bias.size !== cout) throw new RangeError(`'bias' passed to 'conv2d' must have ${cout} values, got ${bias.size}`);
  const cache = options.cacheFilter ?? true;
  let pad: 'same' | 'valid' | tf.backend_util.ExplicitPadding = 'valid';
  if (padding > 0) {
    pad = stride === 1 && kh === kw && kh === 2 * padding + 1 ? 'same' : [[0, 0], [padding, padding], [padding, padding], [0, 0]];
  }
  const run = (xa: tf.Tensor4D, w: tf.Tensor4D, b: tf.Tensor1D | null): tf.Tensor4D => {
    // A fresh buffer: the backend's prepared copy of it goes when it is disposed.
    const f = cache ? w : (tf.mul(w, 1) as tf.Tensor4D);
    const y = b ? tf.fused.conv2d({ x: xa, filter: f, bias: b, strides: stride, pad }) : tf.conv2d(xa, f, stride, pad);
    if (f !== w) f.dispose();
    return y;
  };
  // Parameters first, x last (see lazyGradient): an input gradient runs no filter gradient.
  const inputs: Record<string, tf.Tensor> = bias ? { filter, bias, x } : { filter, x };
  const y = lazyGradient(inputs, (save) => {
    save([x, filter]);
    return run(x, filter, bias);
  }, (dy, saved) => {
    const [sx, sw] = saved as [tf.Tensor4D, tf.Tensor4D];
    return {
      filter: () => tf.engine().runKernel('Conv2DBackpropFilter', { x: sx, dy }, { strides: stride, pad, dataFormat: 'NHWC', filterShape: sw.shape } as unknown as tf.NamedAttrMap) as tf.Tensor,
      bias: () => tf.sum(dy, [0, 1, 2]),
      x: () => tf.conv2dTranspose(dy as tf.Tensor4D, sw, sx.shape, stride, pad),
    };
  });
  if (options.flops) {
    const [b, ho, wo] = y.shape as number[];
    options.flops.flops += 2 * b! * ho! * wo! * cout * cin * kh * kw;
  }
  return y as tf.Tensor4D;
}

/**
 * `a + b` with `b` broadcast over `a`'s shape (as a bias or an embedding
 * added to a feature map), whose gradient keeps nothing: tfjs's `add` keeps
 * both operands for the backward pass only to read their shapes.
 */
export function addBroadcast(a: tf.Tensor, b: tf.Tensor): tf.Tensor {
  if (b.rank > a.rank) throw new RangeError(`'b' passed to 'addBroadcast' has rank ${b.rank}, more than 'a' (${a.rank})`);
  const out = tf.backend_util.assertAndGetBroadcastShape(a.shape, b.shape);
  if (!tf.util.arraysEqual(out, a.shape)) throw new RangeError(`'b' passed to 'addBroadcast' (shape [${b.shape}]) must broadcast to 'a''s shape [${a.shape}]`);
  const aShape = a.shape;
  const bShape = b.shape;
  const reduce = tf.backend_util.getReductionAxes(bShape, aShape);
  return tf.customGrad((...args: (tf.Tensor | tf.GradSaveFunc)[]) => {
    const [x, y] = args as [tf.Tensor, tf.Tensor];
    return {
      value: tf.add(x, y),
      gradFunc: (dy: tf.Tensor | tf.Tensor[]) => {
        const g = dy as tf.Tensor;
        const out = tf.tidy(() => [tf.reshape(g, aShape), tf.reshape(reduce.length ? tf.sum(g, reduce) : g, bShape)]);
        releaseAfterGradient(g, [], out);
        return out;
      },
    };
  })(a, b);
}

/**
 * `x @ weight + bias` over the last axis of `x` (`[..., in]`), `weight` `[in, out]`.
 * The gradient uses only plain (untransposed) 2-D matrix products with
 * explicit transposes: the wasm backend runs those on XNNPACK, its
 * transposed products on a ~10x slower loop. Each of the gradients of
 * `weight`, `bias` and `x` is computed only when the backward pass needs it.
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
    // Parameters first, x last (see lazyGradient): an input gradient runs no weight gradient.
    const y = lazyGradient({ weight, bias: b, x: x2 }, (save) => {
      save([x2, weight]);
      return tf.fused.matMul({ a: x2, b: weight, bias: b });
    }, (dy, saved) => {
      const [sx, sw] = saved as [tf.Tensor2D, tf.Tensor2D];
      const dy2 = dy as tf.Tensor2D;
      return {
        weight: () => tf.matMul(tf.transpose(sx), dy2),
        bias: () => tf.reshape(tf.matMul(tf.ones([1, n]) as tf.Tensor2D, dy2), [nout]),
        x: () => tf.matMul(dy2, tf.transpose(sw)),
      };
    });
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

/** Dropout with a mask drawn from `rng` (an `Rng`; kept values scaled by 1/(1-rate)); identity when `rate` is 0. */
export function dropout(x: tf.Tensor, rate: number, rng: SeedSource): tf.Tensor {
  if (!(rate >= 0 && rate < 1)) throw new RangeError(`'rate' passed to 'dropout' must be in [0, 1), got ${rate}`);
  if (rate === 0) return x;
  return tf.dropout(x, rate, undefined, rng.seedInt());
}
