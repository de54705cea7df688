/**
 * guided-diffusion's EncoderUNetModel as a regressor (one value per image),
 * on tfjs variables (NHWC), with the PyTorch `state_dict` names and shapes,
 * and the input gradient that guidance needs; a `Module` of @tumorcast/nn.
 */
import * as tf from '@tensorflow/tfjs';
import {
  AttentionPool2d,
  Conv2d,
  EmbedSequential,
  GroupNorm,
  Module,
  TimeEmbed,
  buildInputBlocks,
  buildMiddleBlock,
  WeightsMismatchError,
  checkImageBatch,
  silu,
  timestepEmbedding,
  timestepTensor,
} from '@tumorcast/nn';
import type { ForwardContext, ModuleOptions, ParamStore, TimestepInput } from '@tumorcast/nn';
import { resolveRegressorConfig } from './config.js';
import type { RegressorConfig, RegressorPresetName, ResolvedRegressorConfig } from './config.js';

/** The safetensors metadata key under which regressor weights files carry their config (JSON). */
export const REGRESSOR_CONFIG_KEY = 'tumorcast.regressor.config';

/** Options of {@link createRegressor} (see `ModuleOptions` in @tumorcast/nn: the initialisation seed). */
export type CreateRegressorOptions = ModuleOptions;

/**
 * Options of {@link Regressor.apply}: `training` (dropout active when the config has
 * dropout > 0; default false), `rng` (seeded source of dropout masks, required
 * when training with dropout) and `flops` (accumulates the call's FLOPs) —
 * `ForwardContext` of @tumorcast/nn, which every layer takes.
 */
export type RegressorApplyOptions = ForwardContext;

/** Timesteps: one per image (`[B]` tensor or array), or one number for the whole batch. */
export type Timesteps = TimestepInput;

/** Per-image weights of the summed output whose gradient is taken: `[B]` tensor or array, or one number. */
export type OutputWeights = tf.Tensor1D | readonly number[] | number;

/** What {@link Regressor.valueAndInputGradient} returns (both tensors belong to the caller). */
export interface ValueAndGradient {
  /** R(x, t), one value per image, `[B]`. */
  value: tf.Tensor1D;
  /** d(sum_i w_i R_i)/dx, NHWC like x. */
  grad: tf.Tensor4D;
}

/** The regressor's layers, in PyTorch module order. */
interface RegressorLayers {
  timeEmbed: TimeEmbed;
  inputBlocks: EmbedSequential[];
  middleBlock: EmbedSequential;
  outNorm: GroupNorm;
  /** SiLU between the GroupNorm and the pool (classifier head and adaptive pool; not the authors' regression head). */
  outSilu: boolean;
  pool: AttentionPool2d | null;
  adaptiveConv: Conv2d | null;
}

/** Registers the regressor's parameters in `store` (guided-diffusion's `EncoderUNetModel.__init__`). */
function buildRegressorLayers(store: ParamStore, c: ResolvedRegressorConfig): RegressorLayers {
  const embDim = 4 * c.modelChannels;
  const timeEmbed = new TimeEmbed(store, 'time_embed', c.modelChannels, embDim);
  const enc = buildInputBlocks(store, c, embDim);
  const middleBlock = buildMiddleBlock(store, c, enc.channels, embDim);
  const outNorm = new GroupNorm(store, 'out.0', enc.channels);
  const base = { timeEmbed, inputBlocks: enc.blocks, middleBlock, outNorm };
  if (c.pool === 'attention') {
    // The regression head has no SiLU module, so the pool is `out.1` (`out.2` after the classifier head's SiLU).
    const regression = c.head === 'regression';
    const pool = new AttentionPool2d(store, regression ? 'out.1' : 'out.2', c.imageSize / enc.ds, enc.channels, c.numHeadChannels, c.outChannels);
    return { ...base, outSilu: !regression, pool, adaptiveConv: null };
  }
  return { ...base, outSilu: true, pool: null, adaptiveConv: new Conv2d(store, 'out.3', enc.channels, c.outChannels, 1, { zeroInit: true }) };
}

/**
 * guided-diffusion's EncoderUNetModel with a regression head (by default the
 * authors' `[GroupNorm, AttentionPool2d]`; see `RegressorConfig.head`).
 * Weights, saving, loading and disposal come from the `Module` base class of
 * @tumorcast/nn (config stored under {@link REGRESSOR_CONFIG_KEY}).
 * Create with {@link createRegressor}; call {@link Regressor.dispose} when done.
 */
export class Regressor extends Module<ResolvedRegressorConfig> {
  private readonly layers: RegressorLayers;

  /**
   * @param config - the resolved configuration (see {@link createRegressor}).
   * @param options - see {@link CreateRegressorOptions}.
   */
  constructor(config: ResolvedRegressorConfig, options: CreateRegressorOptions = {}) {
    super(config, REGRESSOR_CONFIG_KEY, options);
    this.layers = this.build((store) => buildRegressorLayers(store, config));
  }

  /**
   * The network's outputs `[B, outChannels]` for NHWC `x` at timesteps `t`.
   *
   * @param x - `[B, imageSize, imageSize, inChannels]`.
   * @param t - timesteps (float), one per image or one for all.
   * @param options - see {@link RegressorApplyOptions}.
   */
  apply(x: tf.Tensor4D, t: Timesteps, options: RegressorApplyOptions = {}): tf.Tensor2D {
    this.checkX(x, 'Regressor.apply');
    const c = this.config;
    const ctx = { training: options.training ?? false, rng: options.rng, flops: options.flops };
    const L = this.layers;
    return tf.tidy(() => {
      const tt = timestepTensor(t, x.shape[0], 'Regressor.apply');
      const emb = L.timeEmbed.apply(timestepEmbedding(tt, c.modelChannels), ctx);
      let h = x;
      for (const block of L.inputBlocks) h = block.apply(h, emb, ctx);
      h = L.middleBlock.apply(h, emb, ctx);
      const n = L.outNorm.apply(h);
      const a = (L.outSilu ? silu(n) : n) as tf.Tensor4D;
      if (L.pool) return L.pool.apply(a, ctx);
      const pooled = tf.mean(a, [1, 2], true) as tf.Tensor4D;
      return tf.reshape(L.adaptiveConv!.apply(pooled, undefined, ctx), [x.shape[0], c.outChannels]) as tf.Tensor2D;
    });
  }

  /**
   * The regression value R(x, t), one per image (`[B]`); requires `outChannels` 1.
   *
   * @param x - `[B, imageSize, imageSize, inChannels]` (the noised image x_t).
   * @param t - timesteps.
   */
  predict(x: tf.Tensor4D, t: Timesteps): tf.Tensor1D {
    if (this.config.outChannels !== 1) throw new Error(`'Regressor.predict' needs outChannels 1, the model has ${this.config.outChannels}; use 'apply'`);
    return tf.tidy(() => tf.reshape(this.apply(x, t), [-1]) as tf.Tensor1D);
  }

  /**
   * The gradient with respect to `x` of `sum_i w_i R(x, t)_i` (NHWC, like x),
   * what classifier/regressor guidance needs. No tensor other than the result outlives the call.
   *
   * @param x - `[B, imageSize, imageSize, inChannels]`.
   * @param t - timesteps.
   * @param weights - per-image weights w_i (default 1 each).
   */
  inputGradient(x: tf.Tensor4D, t: Timesteps, weights?: OutputWeights): tf.Tensor4D {
    const { value, grad } = this.valueAndInputGradient(x, t, weights);
    value.dispose();
    return grad;
  }

  /**
   * R(x, t) (`[B]`) and the gradient of `sum_i w_i R_i` with respect to `x`, in one forward and backward pass.
   *
   * @param x - `[B, imageSize, imageSize, inChannels]`.
   * @param t - timesteps.
   * @param weights - per-image weights w_i (default 1 each).
   */
  valueAndInputGradient(x: tf.Tensor4D, t: Timesteps, weights?: OutputWeights): ValueAndGradient {
    this.checkX(x, 'Regressor.valueAndInputGradient');
    if (this.config.outChannels !== 1) throw new Error(`'Regressor.valueAndInputGradient' needs outChannels 1, the model has ${this.config.outChannels}`);
    const b = x.shape[0];
    const w = weightTensor(weights, b, 'Regressor.valueAndInputGradient');
    let tt: tf.Tensor1D;
    try {
      tt = timestepTensor(t, b, 'Regressor.valueAndInputGradient');
    } catch (e) {
      w.dispose();
      throw e;
    }
    let value: tf.Tensor1D | undefined;
    try {
      const grad = tf.grad((xx: tf.Tensor) => {
        const r = tf.reshape(this.apply(xx as tf.Tensor4D, tt), [b]) as tf.Tensor1D;
        value = tf.keep(r.clone());
        return tf.sum(tf.mul(r, w));
      })(x) as tf.Tensor4D;
      return { value: value!, grad };
    } catch (e) {
      value?.dispose();
      throw e;
    } finally {
      tf.dispose([w, tt]);
    }
  }

  /**
   * A WeightsMismatchError caused by the other attention head (`out.1.*` vs
   * `out.2.*`) gets the fix added to its message: which head the weights hold
   * and which `config.head` to create the model with. Other errors unchanged.
   */
  protected override explainWeightsError(e: unknown): unknown {
    if (!(e instanceof WeightsMismatchError) || this.config.pool !== 'attention') return e;
    const has = (keys: string[], prefix: string) => keys.some((k) => k.startsWith(prefix));
    const head = this.config.head;
    const other = head === 'regression' ? 'classifier' : 'regression';
    const [mine, theirs] = head === 'regression' ? ['out.1.', 'out.2.'] : ['out.2.', 'out.1.'];
    if (!has(e.missing, mine) || !has(e.unexpected, theirs)) return e;
    const describe = (h: string) => (h === 'regression'
      ? "the regression head (GroupNorm, AttentionPool2d: out.0.*, out.1.*; the authors' regressor)"
      : "the classifier head (GroupNorm, SiLU, AttentionPool2d: out.0.*, out.2.*; stock guided-diffusion, and tumorcast regressors saved before the 'head' option)");
    const err = new WeightsMismatchError('weights', e.missing, e.unexpected, e.shapeMismatches);
    err.message = `${e.message}. The weights hold ${describe(other)} but the model was built with ${describe(head)}: create it with config.head = '${other}'`;
    return err;
  }

  private checkX(x: tf.Tensor4D, fn: string): void {
    const c = this.config;
    // The attention pool's positional embedding fixes the input size; the adaptive pool takes any size the levels divide.
    const size = c.pool === 'attention' ? { value: c.imageSize, reason: "the attention pool's size" } : undefined;
    checkImageBatch(x, { fn, channels: c.inChannels, levels: c.channelMult.length, size });
  }
}

function weightTensor(w: OutputWeights | undefined, batch: number, fn: string): tf.Tensor1D {
  if (w === undefined) return tf.ones([batch]) as tf.Tensor1D;
  if (typeof w === 'number') return tf.fill([batch], w, 'float32') as tf.Tensor1D;
  const wt = w instanceof tf.Tensor ? tf.cast(w, 'float32') : tf.tensor1d(w as number[], 'float32');
  if (wt.rank !== 1 || wt.shape[0] !== batch) {
    wt.dispose();
    throw new RangeError(`'weights' passed to '${fn}' must have one weight per image (${batch})`);
  }
  return wt as tf.Tensor1D;
}

/**
 * Creates a guided-diffusion EncoderUNetModel regressor with freshly
 * initialised weights (PyTorch's default init, zero-initialised projections
 * as the reference). The head is the authors' regression head unless the
 * config says `head: 'classifier'`.
 *
 * @param config - a {@link RegressorConfig} or a preset name (`'paper'`, `'small'`).
 * @param options - see {@link CreateRegressorOptions}.
 */
export function createRegressor(config: RegressorConfig | RegressorPresetName, options: CreateRegressorOptions = {}): Regressor {
  return new Regressor(resolveRegressorConfig(config), options);
}
