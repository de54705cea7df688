/**
 * guided-diffusion's building blocks (unet.py / nn.py) on tfjs variables,
 * NHWC, registering their parameters in a {@link ParamStore} under the
 * PyTorch `state_dict` names.
 */
import * as tf from '@tensorflow/tfjs';
import { ParamStore } from './params.js';
import {
  addBroadcast,
  avgPool2x,
  conv2d,
  dropout as applyDropout,
  groupNorm,
  groupNormSilu,
  linear,
  qkvAttention,
  silu,
  upsampleNearest2x,
} from './ops.js';
import type { ForwardContext } from './ops.js';
import { checkpoint } from './checkpoint.js';

/** A layer of a timestep-conditioned sequence (guided-diffusion's `TimestepEmbedSequential`). */
export interface EmbedLayer {
  /**
   * Applies the layer to NHWC `x`; `emb` is the `[B, E]` timestep (+ class) embedding,
   * ignored by layers that do not use it.
   */
  apply(x: tf.Tensor4D, emb: tf.Tensor2D, ctx: ForwardContext): tf.Tensor4D;
}

/** The blocks' outputs for a sample depend on that sample only: their recomputation runs one sample at a time. */
const PER_SAMPLE = { perSample: true } as const;

function joinName(prefix: string, name: string): string {
  return prefix ? `${prefix}.${name}` : name;
}

function assertPositiveInt(value: number, arg: string, fn: string): void {
  if (!Number.isInteger(value) || value < 1) throw new RangeError(`'${arg}' passed to '${fn}' must be a positive integer, got ${value}`);
}

/** GroupNorm with 32 groups (guided-diffusion's `normalization`), weight 1, bias 0 initially. */
export class GroupNorm {
  /** Scale per channel. */
  readonly weight: tf.Variable;
  /** Shift per channel. */
  readonly bias: tf.Variable;
  /** Number of groups. */
  readonly groups: number;

  /**
   * @param store - where the parameters are registered.
   * @param prefix - PyTorch module path (`<prefix>.weight`, `<prefix>.bias`).
   * @param channels - number of channels (a multiple of `groups`).
   * @param groups - number of groups.
   */
  constructor(store: ParamStore, prefix: string, channels: number, groups = 32) {
    assertPositiveInt(channels, 'channels', 'GroupNorm');
    if (channels % groups !== 0) throw new RangeError(`'channels' passed to 'GroupNorm' must be a multiple of ${groups}, got ${channels}`);
    this.groups = groups;
    this.weight = store.add(joinName(prefix, 'weight'), [channels], 'same', { kind: 'ones' });
    this.bias = store.add(joinName(prefix, 'bias'), [channels], 'same', { kind: 'zeros' });
  }

  /** The layer's variables (weight, bias). */
  get variables(): tf.Variable[] {
    return [this.weight, this.bias];
  }

  /** Normalises `x` (`[B, ..., C]`). */
  apply(x: tf.Tensor): tf.Tensor {
    return groupNorm(x, this.weight as tf.Tensor1D, this.bias as tf.Tensor1D, { groups: this.groups });
  }

  /** `silu(apply(x))` as one operation whose gradient keeps only `x` (see {@link groupNormSilu}). */
  applySilu(x: tf.Tensor): tf.Tensor {
    return groupNormSilu(x, this.weight as tf.Tensor1D, this.bias as tf.Tensor1D, { groups: this.groups });
  }
}

/** Options of {@link Conv2d}. */
export interface Conv2dLayerOptions {
  /**
   * Stride.
   * @defaultValue 1
   */
  stride?: number;
  /**
   * Symmetric zero padding.
   * @defaultValue (kernel - 1) / 2
   */
  padding?: number;
  /**
   * Zero-initialise weight and bias (guided-diffusion's `zero_module`).
   * @defaultValue false
   */
  zeroInit?: boolean;
}

/** PyTorch `nn.Conv2d` (weight OIHW in the state dict, HWIO here), default init uniform(+-1/sqrt(fan_in)). */
export class Conv2d implements EmbedLayer {
  /** HWIO filter. */
  readonly weight: tf.Variable;
  /** Bias per output channel. */
  readonly bias: tf.Variable;
  private readonly stride: number;
  private readonly padding: number;

  /**
   * @param store - where the parameters are registered.
   * @param prefix - PyTorch module path.
   * @param inChannels - input channels.
   * @param outChannels - output channels.
   * @param kernel - square kernel size.
   * @param options - see {@link Conv2dLayerOptions}.
   */
  constructor(store: ParamStore, prefix: string, inChannels: number, outChannels: number, kernel: number, options: Conv2dLayerOptions = {}) {
    assertPositiveInt(inChannels, 'inChannels', 'Conv2d');
    assertPositiveInt(outChannels, 'outChannels', 'Conv2d');
    assertPositiveInt(kernel, 'kernel', 'Conv2d');
    this.stride = options.stride ?? 1;
    this.padding = options.padding ?? (kernel - 1) / 2;
    const bound = 1 / Math.sqrt(inChannels * kernel * kernel);
    const init = options.zeroInit ? ({ kind: 'zeros' } as const) : ({ kind: 'uniform', bound } as const);
    this.weight = store.add(joinName(prefix, 'weight'), [outChannels, inChannels, kernel, kernel], 'conv2d', init);
    this.bias = store.add(joinName(prefix, 'bias'), [outChannels], 'same', init);
  }

  /** The layer's variables (weight, bias). */
  get variables(): tf.Variable[] {
    return [this.weight, this.bias];
  }

  /** Convolves NHWC `x`. */
  apply(x: tf.Tensor4D, _emb?: tf.Tensor2D, ctx: ForwardContext = {}): tf.Tensor4D {
    // While training the weights change every step: a backend's prepared copy of the filter would not be reused.
    return conv2d(x, this.weight as tf.Tensor4D, this.bias as tf.Tensor1D, {
      stride: this.stride, padding: this.padding, flops: ctx.flops, cacheFilter: !ctx.training,
    });
  }
}

/** A 1x1 `nn.Conv1d` or an `nn.Linear`, applied over the last axis: `x @ W + b`. */
export class Linear {
  /** `[in, out]` matrix. */
  readonly weight: tf.Variable;
  /** Bias `[out]`. */
  readonly bias: tf.Variable;

  /**
   * @param store - where the parameters are registered.
   * @param prefix - PyTorch module path.
   * @param inFeatures - input width.
   * @param outFeatures - output width.
   * @param kind - `'linear'` (PyTorch weight `[out, in]`) or `'conv1d'` (PyTorch weight `[out, in, 1]`).
   * @param zeroInit - zero-initialise (guided-diffusion's `zero_module`).
   */
  constructor(store: ParamStore, prefix: string, inFeatures: number, outFeatures: number, kind: 'linear' | 'conv1d' = 'linear', zeroInit = false) {
    assertPositiveInt(inFeatures, 'inFeatures', 'Linear');
    assertPositiveInt(outFeatures, 'outFeatures', 'Linear');
    const bound = 1 / Math.sqrt(inFeatures);
    const init = zeroInit ? ({ kind: 'zeros' } as const) : ({ kind: 'uniform', bound } as const);
    const shape = kind === 'linear' ? [outFeatures, inFeatures] : [outFeatures, inFeatures, 1];
    this.weight = store.add(joinName(prefix, 'weight'), shape, kind, init);
    this.bias = store.add(joinName(prefix, 'bias'), [outFeatures], 'same', init);
  }

  /** The layer's variables (weight, bias). */
  get variables(): tf.Variable[] {
    return [this.weight, this.bias];
  }

  /** Applies the layer over the last axis of `x`. */
  apply(x: tf.Tensor, ctx: ForwardContext = {}): tf.Tensor {
    return linear(x, this.weight as tf.Tensor2D, this.bias as tf.Tensor1D, ctx.flops);
  }
}

/** guided-diffusion's `Downsample`: conv 3x3 stride 2 (symmetric padding 1) or 2x2 average pooling. */
export class Downsample implements EmbedLayer {
  private readonly conv: Conv2d | null;

  /**
   * @param store - where the parameters are registered.
   * @param prefix - PyTorch module path (the conv is `<prefix>.op`).
   * @param channels - input channels.
   * @param useConv - convolve (else average-pool, no parameters).
   * @param outChannels - output channels (only with `useConv`).
   */
  constructor(store: ParamStore, prefix: string, channels: number, useConv: boolean, outChannels = channels) {
    if (!useConv && outChannels !== channels) throw new RangeError(`'outChannels' passed to 'Downsample' must equal 'channels' without a conv`);
    this.conv = useConv ? new Conv2d(store, joinName(prefix, 'op'), channels, outChannels, 3, { stride: 2, padding: 1 }) : null;
  }

  /** Halves the spatial size of NHWC `x`. */
  apply(x: tf.Tensor4D, _emb?: tf.Tensor2D, ctx: ForwardContext = {}): tf.Tensor4D {
    return this.conv ? this.conv.apply(x, undefined, ctx) : avgPool2x(x);
  }
}

/** Options of {@link Upsample}. */
export interface UpsampleOptions {
  /**
   * Gradient checkpointing of the conv: keep only the input for the backward
   * pass, not the upsampled map (four times its size); see {@link checkpoint}.
   * @defaultValue false
   */
  useCheckpoint?: boolean;
}

/** guided-diffusion's `Upsample`: nearest-neighbour x2, then optionally conv 3x3. */
export class Upsample implements EmbedLayer {
  private readonly conv: Conv2d | null;
  private readonly useCheckpoint: boolean;

  /**
   * @param store - where the parameters are registered.
   * @param prefix - PyTorch module path (the conv is `<prefix>.conv`).
   * @param channels - input channels.
   * @param useConv - convolve after upsampling.
   * @param outChannels - output channels (only with `useConv`).
   * @param options - see {@link UpsampleOptions}.
   */
  constructor(store: ParamStore, prefix: string, channels: number, useConv: boolean, outChannels = channels, options: UpsampleOptions = {}) {
    if (!useConv && outChannels !== channels) throw new RangeError(`'outChannels' passed to 'Upsample' must equal 'channels' without a conv`);
    this.conv = useConv ? new Conv2d(store, joinName(prefix, 'conv'), channels, outChannels, 3) : null;
    this.useCheckpoint = options.useCheckpoint ?? false;
  }

  /** The layer's variables (those of its conv, if any). */
  get variables(): tf.Variable[] {
    return this.conv ? this.conv.variables : [];
  }

  /** Doubles the spatial size of NHWC `x`; checkpointed when built with `useCheckpoint` (and a conv). */
  apply(x: tf.Tensor4D, _emb?: tf.Tensor2D, ctx: ForwardContext = {}): tf.Tensor4D {
    const conv = this.conv;
    if (!conv) return upsampleNearest2x(x);
    const forward = (xx: tf.Tensor4D, c: ForwardContext) => tf.tidy(() => conv.apply(upsampleNearest2x(xx), undefined, c));
    if (!this.useCheckpoint) return forward(x, ctx);
    return checkpoint(([xx], c) => forward(xx as tf.Tensor4D, c), [x], conv.variables, ctx, PER_SAMPLE) as tf.Tensor4D;
  }
}

/** Options of {@link ResBlock}. */
export interface ResBlockOptions {
  /**
   * Output channels.
   * @defaultValue the input channels
   */
  outChannels?: number;
  /**
   * Dropout rate before the last conv (training only).
   * @defaultValue 0
   */
  dropout?: number;
  /**
   * 3x3 conv (instead of 1x1) on the skip path when the channels change.
   * @defaultValue false
   */
  useConv?: boolean;
  /**
   * FiLM-like `norm(h) * (1 + scale) + shift` conditioning instead of adding the embedding.
   * @defaultValue false
   */
  useScaleShiftNorm?: boolean;
  /**
   * Upsample by 2 inside the block (nearest, no conv).
   * @defaultValue false
   */
  up?: boolean;
  /**
   * Downsample by 2 inside the block (average pooling).
   * @defaultValue false
   */
  down?: boolean;
  /**
   * Gradient checkpointing (guided-diffusion's `use_checkpoint`): keep only
   * the block's inputs for the backward pass and recompute its activations
   * there (see {@link checkpoint}). Same outputs and gradients, less memory,
   * about one more forward of the block per training step.
   * @defaultValue false
   */
  useCheckpoint?: boolean;
}

/**
 * guided-diffusion's `ResBlock`: GroupNorm, SiLU, conv3x3; timestep
 * embedding (SiLU, Linear) added or as scale-shift; GroupNorm, SiLU,
 * dropout, zero-initialised conv3x3; identity or conv skip.
 */
export class ResBlock implements EmbedLayer {
  /** Output channels. */
  readonly outChannels: number;
  private readonly inNorm: GroupNorm;
  private readonly inConv: Conv2d;
  private readonly embLinear: Linear;
  private readonly outNorm: GroupNorm;
  private readonly outConv: Conv2d;
  private readonly skip: Conv2d | null;
  private readonly useScaleShiftNorm: boolean;
  private readonly updown: 'up' | 'down' | null;
  private readonly dropout: number;
  private readonly useCheckpoint: boolean;

  /**
   * @param store - where the parameters are registered.
   * @param prefix - PyTorch module path (`<prefix>.in_layers.0.weight`, ...).
   * @param channels - input channels.
   * @param embChannels - width of the embedding.
   * @param options - see {@link ResBlockOptions}.
   */
  constructor(store: ParamStore, prefix: string, channels: number, embChannels: number, options: ResBlockOptions = {}) {
    assertPositiveInt(channels, 'channels', 'ResBlock');
    assertPositiveInt(embChannels, 'embChannels', 'ResBlock');
    const out = options.outChannels ?? channels;
    assertPositiveInt(out, 'outChannels', 'ResBlock');
    if (options.up && options.down) throw new RangeError(`'options' passed to 'ResBlock' cannot set both 'up' and 'down'`);
    this.outChannels = out;
    this.dropout = options.dropout ?? 0;
    if (!(this.dropout >= 0 && this.dropout < 1)) throw new RangeError(`'dropout' passed to 'ResBlock' must be in [0, 1), got ${this.dropout}`);
    this.useScaleShiftNorm = options.useScaleShiftNorm ?? false;
    this.updown = options.up ? 'up' : options.down ? 'down' : null;
    this.useCheckpoint = options.useCheckpoint ?? false;
    const p = (s: string) => joinName(prefix, s);
    this.inNorm = new GroupNorm(store, p('in_layers.0'), channels);
    this.inConv = new Conv2d(store, p('in_layers.2'), channels, out, 3);
    this.embLinear = new Linear(store, p('emb_layers.1'), embChannels, this.useScaleShiftNorm ? 2 * out : out);
    this.outNorm = new GroupNorm(store, p('out_layers.0'), out);
    this.outConv = new Conv2d(store, p('out_layers.3'), out, out, 3, { zeroInit: true });
    this.skip = out === channels ? null : new Conv2d(store, p('skip_connection'), channels, out, options.useConv ? 3 : 1);
  }

  /** The block's variables, in registration order. */
  get variables(): tf.Variable[] {
    const layers = [this.inNorm, this.inConv, this.embLinear, this.outNorm, this.outConv, ...(this.skip ? [this.skip] : [])];
    return layers.flatMap((l) => l.variables);
  }

  /** Applies the block to NHWC `x` with embedding `emb` (`[B, embChannels]`); checkpointed when built with `useCheckpoint`. */
  apply(x: tf.Tensor4D, emb: tf.Tensor2D, ctx: ForwardContext = {}): tf.Tensor4D {
    if (!this.useCheckpoint) return this.forward(x, emb, ctx);
    return checkpoint(([xx, ee], c) => this.forward(xx as tf.Tensor4D, ee as tf.Tensor2D, c), [x, emb], this.variables, ctx, this.split(ctx)) as tf.Tensor4D;
  }

  /**
   * Applies the block to the channel concatenation of `h` and `skip` (a
   * decoder block's input: the previous output and the encoder's skip
   * connection). With `useCheckpoint` the concatenation happens inside the
   * checkpoint, so that it is not kept for the backward pass either.
   */
  applyConcat(h: tf.Tensor4D, skip: tf.Tensor4D, emb: tf.Tensor2D, ctx: ForwardContext = {}): tf.Tensor4D {
    const join = (a: tf.Tensor, b: tf.Tensor) => tf.concat([a, b], 3) as tf.Tensor4D;
    if (!this.useCheckpoint) return tf.tidy(() => this.forward(join(h, skip), emb, ctx));
    return checkpoint(([a, b, e], c) => this.forward(join(a!, b!), e as tf.Tensor2D, c), [h, skip, emb], this.variables, ctx, this.split(ctx)) as tf.Tensor4D;
  }

  /** One sample at a time, unless dropout draws masks (then the batch's masks stay those of an unchecked run). */
  private split(ctx: ForwardContext): { perSample: boolean } {
    return { perSample: !(ctx.training && this.dropout > 0) };
  }

  private forward(x: tf.Tensor4D, emb: tf.Tensor2D, ctx: ForwardContext): tf.Tensor4D {
    return tf.tidy(() => {
      const resample = this.updown === 'up' ? upsampleNearest2x : this.updown === 'down' ? avgPool2x : null;
      // The skip path first: the backward pass then reaches it last, and the
      // gradient of x it makes is not held through the main path's (the peak).
      const xs = resample ? resample(x) : x;
      const skip = this.skip ? this.skip.apply(xs, undefined, ctx) : xs;
      let h = this.inNorm.applySilu(x) as tf.Tensor4D;
      if (resample) h = resample(h);
      h = this.inConv.apply(h, undefined, ctx);
      const e = this.embLinear.apply(silu(emb), ctx);
      const b = e.shape[0]!;
      if (this.useScaleShiftNorm) {
        const [scale, shift] = tf.split(tf.reshape(e, [b, 1, 1, 2 * this.outChannels]), 2, 3);
        h = tf.add(tf.mul(this.outNorm.apply(h), tf.add(scale!, 1)), shift!) as tf.Tensor4D;
        h = silu(h) as tf.Tensor4D;
      } else {
        h = addBroadcast(h, tf.reshape(e, [b, 1, 1, this.outChannels])) as tf.Tensor4D;
        h = this.outNorm.applySilu(h) as tf.Tensor4D;
      }
      if (ctx.training && this.dropout > 0) {
        if (!ctx.rng) throw new Error(`'ctx' passed to 'ResBlock.apply' needs an 'rng' for dropout in training mode`);
        h = applyDropout(h, this.dropout, ctx.rng) as tf.Tensor4D;
      }
      h = this.outConv.apply(h, undefined, ctx);
      return addBroadcast(skip, h) as tf.Tensor4D;
    });
  }
}

/** Options of {@link AttentionBlock}. */
export interface AttentionBlockOptions {
  /**
   * Number of heads (used when `numHeadChannels` is -1).
   * @defaultValue 1
   */
  numHeads?: number;
  /**
   * Channels per head (overrides `numHeads`; -1: use `numHeads`).
   * @defaultValue -1
   */
  numHeadChannels?: number;
  /**
   * guided-diffusion's `use_new_attention_order` (QKVAttention); else the legacy order.
   * @defaultValue false
   */
  useNewAttentionOrder?: boolean;
  /**
   * Gradient checkpointing: keep only the block's input for the backward
   * pass and recompute its activations there (see {@link checkpoint}).
   * @defaultValue false
   */
  useCheckpoint?: boolean;
}

/**
 * guided-diffusion's `AttentionBlock`: GroupNorm, 1x1 qkv, multi-head
 * attention over all positions, zero-initialised 1x1 projection, residual.
 */
export class AttentionBlock implements EmbedLayer {
  /** Number of heads. */
  readonly heads: number;
  private readonly norm: GroupNorm;
  private readonly qkv: Linear;
  private readonly projOut: Linear;
  private readonly order: 'legacy' | 'new';
  private readonly useCheckpoint: boolean;

  /**
   * @param store - where the parameters are registered.
   * @param prefix - PyTorch module path (`<prefix>.norm`, `<prefix>.qkv`, `<prefix>.proj_out`).
   * @param channels - channels.
   * @param options - see {@link AttentionBlockOptions}.
   */
  constructor(store: ParamStore, prefix: string, channels: number, options: AttentionBlockOptions = {}) {
    assertPositiveInt(channels, 'channels', 'AttentionBlock');
    const nhc = options.numHeadChannels ?? -1;
    if (nhc === -1) {
      this.heads = options.numHeads ?? 1;
      assertPositiveInt(this.heads, 'numHeads', 'AttentionBlock');
      if (channels % this.heads !== 0) throw new RangeError(`'numHeads' passed to 'AttentionBlock' must divide channels ${channels}, got ${this.heads}`);
    } else {
      assertPositiveInt(nhc, 'numHeadChannels', 'AttentionBlock');
      if (channels % nhc !== 0) throw new RangeError(`'numHeadChannels' passed to 'AttentionBlock' must divide channels ${channels}, got ${nhc}`);
      this.heads = channels / nhc;
    }
    this.order = options.useNewAttentionOrder ? 'new' : 'legacy';
    this.useCheckpoint = options.useCheckpoint ?? false;
    this.norm = new GroupNorm(store, joinName(prefix, 'norm'), channels);
    this.qkv = new Linear(store, joinName(prefix, 'qkv'), channels, 3 * channels, 'conv1d');
    this.projOut = new Linear(store, joinName(prefix, 'proj_out'), channels, channels, 'conv1d', true);
  }

  /** The block's variables, in registration order. */
  get variables(): tf.Variable[] {
    return [this.norm, this.qkv, this.projOut].flatMap((l) => l.variables);
  }

  /** Applies self-attention over the H*W positions of NHWC `x`; checkpointed when built with `useCheckpoint`. */
  apply(x: tf.Tensor4D, _emb?: tf.Tensor2D, ctx: ForwardContext = {}): tf.Tensor4D {
    if (!this.useCheckpoint) return this.forward(x, ctx);
    return checkpoint(([xx], c) => this.forward(xx as tf.Tensor4D, c), [x], this.variables, ctx, PER_SAMPLE) as tf.Tensor4D;
  }

  private forward(x: tf.Tensor4D, ctx: ForwardContext): tf.Tensor4D {
    return tf.tidy(() => {
      const [b, hh, ww, c] = x.shape;
      const x3 = tf.reshape(x, [b, hh * ww, c]);
      const qkv = this.qkv.apply(this.norm.apply(x3), ctx) as tf.Tensor3D;
      const a = qkvAttention(qkv, this.heads, { order: this.order, flops: ctx.flops });
      const h = this.projOut.apply(a, ctx);
      return tf.reshape(addBroadcast(x3, h), [b, hh, ww, c]) as tf.Tensor4D;
    });
  }
}

/**
 * CLIP-style attention pooling (guided-diffusion's `AttentionPool2d`): the
 * spatial mean is prepended as a query token, a learned positional
 * embedding added, multi-head attention (new order), 1x1 output projection;
 * returns the first token, `[B, outputDim]`.
 */
export class AttentionPool2d {
  /** Positional embedding, tfjs `[S*S + 1, C]` (PyTorch `[C, S*S + 1]`). */
  readonly positionalEmbedding: tf.Variable;
  private readonly qkvProj: Linear;
  private readonly cProj: Linear;
  private readonly heads: number;
  private readonly spacialDim: number;

  /**
   * @param store - where the parameters are registered.
   * @param prefix - PyTorch module path.
   * @param spacialDim - the input's height and width.
   * @param embedDim - the input's channels.
   * @param numHeadChannels - channels per head.
   * @param outputDim - output width.
   */
  constructor(store: ParamStore, prefix: string, spacialDim: number, embedDim: number, numHeadChannels: number, outputDim = embedDim) {
    assertPositiveInt(spacialDim, 'spacialDim', 'AttentionPool2d');
    assertPositiveInt(embedDim, 'embedDim', 'AttentionPool2d');
    assertPositiveInt(numHeadChannels, 'numHeadChannels', 'AttentionPool2d');
    if (embedDim % numHeadChannels !== 0) {
      throw new RangeError(`'numHeadChannels' passed to 'AttentionPool2d' must divide embedDim ${embedDim}, got ${numHeadChannels}`);
    }
    this.spacialDim = spacialDim;
    this.heads = embedDim / numHeadChannels;
    this.positionalEmbedding = store.add(joinName(prefix, 'positional_embedding'), [embedDim, spacialDim * spacialDim + 1], 'transpose', {
      kind: 'normal',
      std: 1 / Math.sqrt(embedDim),
    });
    this.qkvProj = new Linear(store, joinName(prefix, 'qkv_proj'), embedDim, 3 * embedDim, 'conv1d');
    this.cProj = new Linear(store, joinName(prefix, 'c_proj'), embedDim, outputDim, 'conv1d');
  }

  /** Pools NHWC `x` (`[B, S, S, C]`) to `[B, outputDim]`. */
  apply(x: tf.Tensor4D, ctx: ForwardContext = {}): tf.Tensor2D {
    const [b, hh, ww, c] = x.shape;
    if (hh !== this.spacialDim || ww !== this.spacialDim) {
      throw new RangeError(`'x' passed to 'AttentionPool2d.apply' must be ${this.spacialDim}x${this.spacialDim}, got ${hh}x${ww}`);
    }
    return tf.tidy(() => {
      const x3 = tf.reshape(x, [b, hh * ww, c]);
      const tokens = tf.add(tf.concat([tf.mean(x3, 1, true), x3], 1), this.positionalEmbedding);
      const qkv = this.qkvProj.apply(tokens, ctx) as tf.Tensor3D;
      const a = qkvAttention(qkv, this.heads, { order: 'new', flops: ctx.flops });
      const first = tf.reshape(tf.slice(a, [0, 0, 0], [b, 1, c]), [b, c]);
      return this.cProj.apply(first, ctx) as tf.Tensor2D;
    });
  }
}

/** The timestep MLP (`time_embed.0`, SiLU, `time_embed.2`): `[B, C]` sinusoidal embedding to `[B, 4C]`. */
export class TimeEmbed {
  private readonly l0: Linear;
  private readonly l2: Linear;

  /**
   * @param store - where the parameters are registered.
   * @param prefix - PyTorch module path (`time_embed`).
   * @param modelChannels - the sinusoidal embedding width C.
   * @param embedDim - the output width (4C in guided-diffusion).
   */
  constructor(store: ParamStore, prefix: string, modelChannels: number, embedDim: number) {
    this.l0 = new Linear(store, joinName(prefix, '0'), modelChannels, embedDim);
    this.l2 = new Linear(store, joinName(prefix, '2'), embedDim, embedDim);
  }

  /** Maps the sinusoidal embedding through Linear, SiLU, Linear. */
  apply(x: tf.Tensor2D, ctx: ForwardContext = {}): tf.Tensor2D {
    return tf.tidy(() => this.l2.apply(silu(this.l0.apply(x, ctx)), ctx) as tf.Tensor2D);
  }
}

/** PyTorch `nn.Embedding` (weight `[num, dim]`, N(0,1) init), looked up through a one-hot matmul (exact gradients on any backend). */
export class Embedding {
  /** `[num, dim]` table. */
  readonly weight: tf.Variable;
  private readonly num: number;

  /**
   * @param store - where the parameters are registered.
   * @param prefix - PyTorch module path (`label_emb`).
   * @param num - number of entries.
   * @param dim - embedding width.
   */
  constructor(store: ParamStore, prefix: string, num: number, dim: number) {
    assertPositiveInt(num, 'num', 'Embedding');
    assertPositiveInt(dim, 'dim', 'Embedding');
    this.num = num;
    this.weight = store.add(joinName(prefix, 'weight'), [num, dim], 'same', { kind: 'normal', std: 1 });
  }

  /** Looks up integer indices `y` (`[B]`, each in [0, num)). */
  apply(y: tf.Tensor1D): tf.Tensor2D {
    return tf.tidy(() => tf.matMul(tf.oneHot(tf.cast(y, 'int32'), this.num), this.weight as tf.Tensor2D));
  }
}

/** A sequence of layers applied in turn with the same embedding (guided-diffusion's `TimestepEmbedSequential`). */
export class EmbedSequential implements EmbedLayer {
  /** The layers, in order. */
  readonly layers: EmbedLayer[];

  /** @param layers - the layers, in order. */
  constructor(layers: EmbedLayer[]) {
    this.layers = layers;
  }

  /** Applies every layer in turn. */
  apply(x: tf.Tensor4D, emb: tf.Tensor2D, ctx: ForwardContext = {}): tf.Tensor4D {
    return tf.tidy(() => {
      let h = x;
      for (const l of this.layers) h = l.apply(h, emb, ctx);
      return h;
    });
  }

  /**
   * Applies the layers to the channel concatenation of `h` and `skip` (a
   * decoder block); a first {@link ResBlock} concatenates them itself (see
   * {@link ResBlock.applyConcat}).
   */
  applyConcat(h: tf.Tensor4D, skip: tf.Tensor4D, emb: tf.Tensor2D, ctx: ForwardContext = {}): tf.Tensor4D {
    return tf.tidy(() => {
      const [first, ...rest] = this.layers;
      let out = first instanceof ResBlock ? first.applyConcat(h, skip, emb, ctx) : tf.concat([h, skip], 3) as tf.Tensor4D;
      if (!(first instanceof ResBlock) && first) out = first.apply(out, emb, ctx);
      for (const l of rest) out = l.apply(out, emb, ctx);
      return out;
    });
  }
}
