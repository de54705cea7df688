/**
 * guided-diffusion's EncoderUNetModel as a regressor (one value per image),
 * on tfjs variables (NHWC), with the PyTorch `state_dict` names and shapes,
 * and the input gradient that guidance needs.
 */
import * as tf from '@tensorflow/tfjs';
import {
  AttentionPool2d,
  Conv2d,
  EmbedSequential,
  GroupNorm,
  ParamStore,
  TimeEmbed,
  buildInputBlocks,
  buildMiddleBlock,
  WeightsMismatchError,
  silu,
  timestepEmbedding,
} from '@tumorcast/nn';
import type { FlopCounter, LoadStateDictOptions, LoadWeightsOptions, Rng, SaveWeightsOptions, Seed, StateDict } from '@tumorcast/nn';
import { resolveRegressorConfig } from './config.js';
import type { RegressorConfig, RegressorPresetName, ResolvedRegressorConfig } from './config.js';

/** The safetensors metadata key under which regressor weights files carry their config (JSON). */
export const REGRESSOR_CONFIG_KEY = 'tumorcast.regressor.config';

/** Options of {@link createRegressor}. */
export interface CreateRegressorOptions {
  /**
   * Seed of the random initialisation.
   * @defaultValue 0
   */
  seed?: Seed;
}

/** Options of {@link Regressor.apply}. */
export interface RegressorApplyOptions {
  /**
   * Training mode (dropout active when the config has dropout > 0).
   * @defaultValue false
   */
  training?: boolean;
  /**
   * Seeded source of dropout masks; required when training with dropout.
   * @defaultValue none
   */
  rng?: Rng;
  /**
   * Accumulates the call's FLOPs.
   * @defaultValue none
   */
  flops?: FlopCounter;
}

/** Timesteps: one per image (`[B]` tensor or array), or one number for the whole batch. */
export type Timesteps = tf.Tensor1D | readonly number[] | number;

/** Per-image weights of the summed output whose gradient is taken: `[B]` tensor or array, or one number. */
export type OutputWeights = tf.Tensor1D | readonly number[] | number;

/** What {@link Regressor.valueAndInputGradient} returns (both tensors belong to the caller). */
export interface ValueAndGradient {
  /** R(x, t), one value per image, `[B]`. */
  value: tf.Tensor1D;
  /** d(sum_i w_i R_i)/dx, NHWC like x. */
  grad: tf.Tensor4D;
}

/**
 * guided-diffusion's EncoderUNetModel with a regression head (by default the
 * authors' `[GroupNorm, AttentionPool2d]`; see `RegressorConfig.head`).
 * Create with {@link createRegressor}; call {@link Regressor.dispose} when done.
 */
export class Regressor {
  /** The configuration, defaults applied. */
  readonly config: ResolvedRegressorConfig;
  /** The parameters under their PyTorch names. */
  readonly params: ParamStore;
  private readonly timeEmbed: TimeEmbed;
  private readonly inputBlocks: EmbedSequential[];
  private readonly middleBlock: EmbedSequential;
  private readonly outNorm: GroupNorm;
  /** SiLU between the GroupNorm and the pool (classifier head and adaptive pool; not the authors' regression head). */
  private readonly outSilu: boolean;
  private readonly pool: AttentionPool2d | null;
  private readonly adaptiveConv: Conv2d | null;
  private readonly levels: number;

  /**
   * @param config - the resolved configuration (see {@link createRegressor}).
   * @param options - see {@link CreateRegressorOptions}.
   */
  constructor(config: ResolvedRegressorConfig, options: CreateRegressorOptions = {}) {
    this.config = config;
    const c = config;
    const store = new ParamStore({ seed: options.seed ?? 0 });
    this.params = store;
    this.levels = c.channelMult.length;
    try {
      const embDim = 4 * c.modelChannels;
      this.timeEmbed = new TimeEmbed(store, 'time_embed', c.modelChannels, embDim);
      const enc = buildInputBlocks(store, c, embDim);
      this.inputBlocks = enc.blocks;
      this.middleBlock = buildMiddleBlock(store, c, enc.channels, embDim);
      this.outNorm = new GroupNorm(store, 'out.0', enc.channels);
      if (c.pool === 'attention') {
        // The regression head has no SiLU module, so the pool is `out.1` (`out.2` after the classifier head's SiLU).
        const regression = c.head === 'regression';
        this.outSilu = !regression;
        this.pool = new AttentionPool2d(store, regression ? 'out.1' : 'out.2', c.imageSize / enc.ds, enc.channels, c.numHeadChannels, c.outChannels);
        this.adaptiveConv = null;
      } else {
        this.outSilu = true;
        this.pool = null;
        this.adaptiveConv = new Conv2d(store, 'out.3', enc.channels, c.outChannels, 1, { zeroInit: true });
      }
    } catch (e) {
      store.dispose();
      throw e;
    }
  }

  /** The trainable variables (for a tfjs optimizer's `varList` or `tf.variableGrads`). */
  get trainableVariables(): tf.Variable[] {
    return this.params.variables;
  }

  /** Number of scalar parameters. */
  get parameterCount(): number {
    return this.params.parameterCount;
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
    return tf.tidy(() => {
      const tt = timestepTensor(t, x.shape[0], 'Regressor.apply');
      const emb = this.timeEmbed.apply(timestepEmbedding(tt, c.modelChannels), ctx);
      let h = x;
      for (const block of this.inputBlocks) h = block.apply(h, emb, ctx);
      h = this.middleBlock.apply(h, emb, ctx);
      const n = this.outNorm.apply(h);
      const a = (this.outSilu ? silu(n) : n) as tf.Tensor4D;
      if (this.pool) return this.pool.apply(a, ctx);
      const pooled = tf.mean(a, [1, 2], true) as tf.Tensor4D;
      return tf.reshape(this.adaptiveConv!.apply(pooled, undefined, ctx), [x.shape[0], c.outChannels]) as tf.Tensor2D;
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

  /** The parameters as a PyTorch state dict (guided-diffusion names, conv weights OIHW). */
  stateDict(): Map<string, { shape: number[]; data: Float32Array }> {
    return this.params.stateDict();
  }

  /**
   * Assigns the parameters from a PyTorch state dict; see
   * {@link ParamStore.loadStateDict}. Weights of the other attention head
   * (`out.1.*` vs `out.2.*`) are refused with a `WeightsMismatchError` that
   * says which head the weights hold and which `head` to configure.
   */
  loadStateDict(dict: StateDict, options: LoadStateDictOptions = {}): void {
    try {
      this.params.loadStateDict(dict, options);
    } catch (e) {
      throw this.withHeadHint(e);
    }
  }

  /** Saves the weights as safetensors with PyTorch names and layouts (config in the metadata), atomically. */
  async saveWeights(path: string, options: SaveWeightsOptions = {}): Promise<void> {
    await this.params.saveWeights(path, { ...options, metadata: { [REGRESSOR_CONFIG_KEY]: JSON.stringify(this.config), ...options.metadata } });
  }

  /**
   * Loads weights with PyTorch names from a safetensors file or a PyTorch
   * `.pt`/`.pth` state dict (`module.` prefixes stripped); see
   * `ParamStore.loadWeights` in @tumorcast/nn. Returns the safetensors metadata.
   */
  async loadWeights(path: string, options: LoadWeightsOptions = {}): Promise<Record<string, string>> {
    try {
      return await this.params.loadWeights(path, options);
    } catch (e) {
      throw this.withHeadHint(e);
    }
  }

  /** Frees the variables. */
  dispose(): void {
    this.params.dispose();
  }

  /** A WeightsMismatchError caused by the other attention head, with the fix added to its message; other errors unchanged. */
  private withHeadHint(e: unknown): unknown {
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
    if (!(x instanceof tf.Tensor) || x.rank !== 4) throw new RangeError(`'x' passed to '${fn}' must be a 4-D NHWC tensor`);
    const [, h, w, ch] = x.shape;
    if (ch !== c.inChannels) throw new RangeError(`'x' passed to '${fn}' must have ${c.inChannels} channels (NHWC), got shape [${x.shape}]`);
    if (c.pool === 'attention' && (h !== c.imageSize || w !== c.imageSize)) {
      throw new RangeError(`'x' passed to '${fn}' must be ${c.imageSize}x${c.imageSize} (the attention pool's size), got ${h}x${w}`);
    }
    const factor = 2 ** (this.levels - 1);
    if (h % factor !== 0 || w % factor !== 0) throw new RangeError(`'x' passed to '${fn}' must have height and width divisible by ${factor}, got ${h}x${w}`);
  }
}

function timestepTensor(t: Timesteps, batch: number, fn: string): tf.Tensor1D {
  if (typeof t === 'number') {
    if (!Number.isFinite(t)) throw new RangeError(`'t' passed to '${fn}' must be finite, got ${t}`);
    return tf.fill([batch], t, 'float32') as tf.Tensor1D;
  }
  const tt = t instanceof tf.Tensor ? tf.cast(t, 'float32') : tf.tensor1d(t as number[], 'float32');
  if (tt.rank !== 1 || tt.shape[0] !== batch) {
    tt.dispose();
    throw new RangeError(`'t' passed to '${fn}' must have one timestep per image (${batch}), got shape [${t instanceof tf.Tensor ? t.shape : (t as number[]).length}]`);
  }
  return tt as tf.Tensor1D;
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
