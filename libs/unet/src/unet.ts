/**
 * guided-diffusion's UNetModel on tfjs variables (NHWC), with the PyTorch
 * `state_dict` names and shapes.
 */
import * as tf from '@tensorflow/tfjs';
import {
  AttentionBlock,
  Conv2d,
  EmbedSequential,
  Embedding,
  GroupNorm,
  ParamStore,
  ResBlock,
  TimeEmbed,
  Upsample,
  buildInputBlocks,
  buildMiddleBlock,
  silu,
  timestepEmbedding,
} from '@tumorcast/nn';
import type { EmbedLayer, FlopCounter, LoadStateDictOptions, LoadWeightsOptions, Rng, SaveWeightsOptions, Seed, StateDict } from '@tumorcast/nn';
import { resolveUNetConfig } from './config.js';
import type { ResolvedUNetConfig, UNetConfig, UNetPresetName } from './config.js';

/** The safetensors metadata key under which U-Net weights files carry their config (JSON). */
export const UNET_CONFIG_KEY = 'tumorcast.unet.config';

/** Options of {@link createUNet}. */
export interface CreateUNetOptions {
  /**
   * Seed of the random initialisation.
   * @defaultValue 0
   */
  seed?: Seed;
}

/** Options of {@link UNet.apply}. */
export interface UNetApplyOptions {
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
   * Accumulates the call's FLOPs (convolutions, linear layers, attention matmuls).
   * @defaultValue none
   */
  flops?: FlopCounter;
}

/** Timesteps: one per image (`[B]` tensor or array), or one number for the whole batch. */
export type Timesteps = tf.Tensor1D | readonly number[] | number;
/** Class labels: one integer per image (`[B]` tensor or array). */
export type Labels = tf.Tensor1D | readonly number[];

/** guided-diffusion's UNetModel. Create with {@link createUNet}; call {@link UNet.dispose} when done. */
export class UNet {
  /** The configuration, defaults applied. */
  readonly config: ResolvedUNetConfig;
  /** The parameters under their PyTorch names. */
  readonly params: ParamStore;
  private readonly timeEmbed: TimeEmbed;
  private readonly labelEmb: Embedding | null;
  private readonly inputBlocks: EmbedSequential[];
  private readonly middleBlock: EmbedSequential;
  private readonly outputBlocks: EmbedSequential[];
  private readonly outNorm: GroupNorm;
  private readonly outConv: Conv2d;

  /**
   * @param config - the resolved configuration (see {@link createUNet}).
   * @param options - see {@link CreateUNetOptions}.
   */
  constructor(config: ResolvedUNetConfig, options: CreateUNetOptions = {}) {
    this.config = config;
    const c = config;
    const store = new ParamStore({ seed: options.seed ?? 0 });
    this.params = store;
    try {
      const mc = c.modelChannels;
      const embDim = 4 * mc;
      this.timeEmbed = new TimeEmbed(store, 'time_embed', mc, embDim);
      this.labelEmb = c.numClasses !== null ? new Embedding(store, 'label_emb', c.numClasses, embDim) : null;
      const spec = { ...c, attentionDs: c.attentionDs };
      const enc = buildInputBlocks(store, spec, embDim);
      this.inputBlocks = enc.blocks;
      let ch = enc.channels;
      let ds = enc.ds;
      this.middleBlock = buildMiddleBlock(store, spec, ch, embDim);
      const chans = [...enc.blockChannels];
      const headsUp = c.numHeadsUpsample === -1 ? c.numHeads : c.numHeadsUpsample;
      this.outputBlocks = [];
      for (let level = c.channelMult.length - 1; level >= 0; level--) {
        const mult = c.channelMult[level]!;
        for (let i = 0; i <= c.numResBlocks; i++) {
          const b = this.outputBlocks.length;
          const ich = chans.pop()!;
          const out = Math.trunc(mc * mult);
          const layers: EmbedLayer[] = [
            new ResBlock(store, `output_blocks.${b}.0`, ch + ich, embDim, { outChannels: out, dropout: c.dropout, useScaleShiftNorm: c.useScaleShiftNorm }),
          ];
          ch = out;
          if (c.attentionDs.includes(ds)) {
            layers.push(
              new AttentionBlock(store, `output_blocks.${b}.1`, ch, {
                numHeads: headsUp,
                numHeadChannels: c.numHeadChannels,
                useNewAttentionOrder: c.useNewAttentionOrder,
              }),
            );
          }
          if (level > 0 && i === c.numResBlocks) {
            const j = layers.length;
            layers.push(
              c.resblockUpdown
                ? new ResBlock(store, `output_blocks.${b}.${j}`, ch, embDim, { outChannels: ch, dropout: c.dropout, useScaleShiftNorm: c.useScaleShiftNorm, up: true })
                : new Upsample(store, `output_blocks.${b}.${j}`, ch, c.convResample, ch),
            );
            ds /= 2;
          }
          this.outputBlocks.push(new EmbedSequential(layers));
        }
      }
      this.outNorm = new GroupNorm(store, 'out.0', ch);
      this.outConv = new Conv2d(store, 'out.2', Math.trunc(c.channelMult[0]! * mc), c.outChannels, 3, { zeroInit: true });
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
   * The noise prediction (and, with learnSigma, the variance interpolation
   * values) for NHWC images `x` at timesteps `t`: `[B, H, W, outChannels]`.
   *
   * @param x - `[B, H, W, inChannels]`, H and W divisible by 2^(levels-1).
   * @param t - timesteps (float), one per image or one for all.
   * @param y - class labels, required iff the model is class-conditional.
   * @param options - see {@link UNetApplyOptions}.
   */
  apply(x: tf.Tensor4D, t: Timesteps, y?: Labels, options: UNetApplyOptions = {}): tf.Tensor4D {
    const c = this.config;
    if (!(x instanceof tf.Tensor) || x.rank !== 4) throw new RangeError(`'x' passed to 'UNet.apply' must be a 4-D NHWC tensor, got ${x instanceof tf.Tensor ? `shape [${x.shape}]` : typeof x}`);
    const [b, h, w, cin] = x.shape;
    const factor = 2 ** (c.channelMult.length - 1);
    if (cin !== c.inChannels) throw new RangeError(`'x' passed to 'UNet.apply' must have ${c.inChannels} channels (NHWC), got shape [${x.shape}]`);
    if (h % factor !== 0 || w % factor !== 0) throw new RangeError(`'x' passed to 'UNet.apply' must have height and width divisible by ${factor}, got ${h}x${w}`);
    if (this.labelEmb && y === undefined) throw new Error(`'y' passed to 'UNet.apply' is required: the model is class-conditional (${c.numClasses} classes)`);
    if (!this.labelEmb && y !== undefined) throw new Error(`'y' passed to 'UNet.apply' must be omitted: the model is not class-conditional`);
    if (Array.isArray(y)) {
      for (const v of y as readonly number[]) {
        if (!Number.isInteger(v) || v < 0 || v >= c.numClasses!) throw new RangeError(`'y' passed to 'UNet.apply' must hold integers in [0, ${c.numClasses}), got ${v}`);
      }
    }
    const ctx = { training: options.training ?? false, rng: options.rng, flops: options.flops };
    return tf.tidy(() => {
      const tt = timestepTensor(t, b, 'UNet.apply');
      let emb = this.timeEmbed.apply(timestepEmbedding(tt, c.modelChannels), ctx);
      if (this.labelEmb) {
        const yy = y instanceof tf.Tensor ? y : tf.tensor1d(y as number[], 'int32');
        if (yy.rank !== 1 || yy.shape[0] !== b) throw new RangeError(`'y' passed to 'UNet.apply' must have one label per image (${b}), got shape [${yy.shape}]`);
        emb = tf.add(emb, this.labelEmb.apply(yy));
      }
      const hs: tf.Tensor4D[] = [];
      let hcur = x;
      for (const block of this.inputBlocks) {
        hcur = block.apply(hcur, emb, ctx);
        hs.push(hcur);
      }
      hcur = this.middleBlock.apply(hcur, emb, ctx);
      for (const block of this.outputBlocks) {
        hcur = block.apply(tf.concat([hcur, hs.pop()!], 3), emb, ctx);
      }
      return this.outConv.apply(silu(this.outNorm.apply(hcur)) as tf.Tensor4D, undefined, ctx);
    });
  }

  /** The parameters as a PyTorch state dict (names as guided-diffusion, conv weights OIHW). */
  stateDict(): Map<string, { shape: number[]; data: Float32Array }> {
    return this.params.stateDict();
  }

  /** Assigns the parameters from a PyTorch state dict; see {@link ParamStore.loadStateDict}. */
  loadStateDict(dict: StateDict, options: LoadStateDictOptions = {}): void {
    this.params.loadStateDict(dict, options);
  }

  /** Saves the weights as safetensors with PyTorch names and layouts (config in the metadata), atomically. */
  async saveWeights(path: string, options: SaveWeightsOptions = {}): Promise<void> {
    await this.params.saveWeights(path, { ...options, metadata: { [UNET_CONFIG_KEY]: JSON.stringify(this.config), ...options.metadata } });
  }

  /**
   * Loads weights with PyTorch names from a safetensors file or a PyTorch
   * `.pt`/`.pth` state dict (a guided-diffusion checkpoint; `module.`
   * prefixes stripped); see `ParamStore.loadWeights` in @tumorcast/nn. Returns the safetensors metadata.
   */
  async loadWeights(path: string, options: LoadWeightsOptions = {}): Promise<Record<string, string>> {
    return this.params.loadWeights(path, options);
  }

  /** Frees the variables. */
  dispose(): void {
    this.params.dispose();
  }
}

/** `t` as a float32 `[batch]` tensor (a number is repeated), validated. */
export function timestepTensor(t: Timesteps, batch: number, fn: string): tf.Tensor1D {
  if (typeof t === 'number') {
    if (!Number.isFinite(t)) throw new RangeError(`'t' passed to '${fn}' must be finite, got ${t}`);
    return tf.fill([batch], t, 'float32') as tf.Tensor1D;
  }
  const tt = t instanceof tf.Tensor ? tf.cast(t, 'float32') : tf.tensor1d(t as number[], 'float32');
  if (tt.rank !== 1 || tt.shape[0] !== batch) throw new RangeError(`'t' passed to '${fn}' must have one timestep per image (${batch}), got shape [${tt.shape}]`);
  return tt as tf.Tensor1D;
}

/**
 * Creates a guided-diffusion UNetModel with freshly initialised weights
 * (PyTorch's default init; output convs and attention projections zero, as the reference).
 *
 * @param config - a {@link UNetConfig} or a preset name (`'paper'`, `'small'`).
 * @param options - see {@link CreateUNetOptions}.
 */
export function createUNet(config: UNetConfig | UNetPresetName, options: CreateUNetOptions = {}): UNet {
  return new UNet(resolveUNetConfig(config), options);
}
