/**
 * The segmentation U-Net: a plain 2-D U-Net without timestep embedding,
 * built from @tumorcast/nn's layers, NHWC, parameters under PyTorch
 * `state_dict` names; a `Module` of @tumorcast/nn.
 */
import * as tf from '@tensorflow/tfjs';
import { Conv2d, Downsample, GroupNorm, Module, Upsample, dropout as applyDropout, checkImageBatch, silu } from '@tumorcast/nn';
import type { ModuleOptions, ParamStore } from '@tumorcast/nn';
import type { Rng } from '@tumorcast/random';
import { SEGMENTER_CONFIG_KEY, resolveSegmenterConfig } from './config.js';
import type { ResolvedSegmenterConfig, SegmenterConfig, SegmenterPresetName } from './config.js';

/** Options of {@link createSegmenterNet} (see `ModuleOptions` in @tumorcast/nn: the initialisation seed). */
export type CreateSegmenterNetOptions = ModuleOptions;

/** Options of {@link SegmenterNet.apply}. */
export interface SegmenterApplyOptions {
  /**
   * Training mode (dropout active when the config has dropout > 0).
   * @defaultValue false
   */
  training?: boolean;
  /**
   * Seeded source of dropout masks; required when training with dropout > 0.
   * @defaultValue none
   */
  rng?: Rng;
}

interface BlockContext {
  training: boolean;
  rng: Rng | undefined;
}

/**
 * One convolution block: `GroupNorm -> SiLU -> conv3x3 -> GroupNorm -> SiLU
 * -> dropout -> conv3x3`, plus the input (through a 1x1 conv when the channel
 * count changes). Parameters `<prefix>.norm1`, `.conv1`, `.norm2`, `.conv2`, `.skip`.
 */
class ConvBlock {
  private readonly norm1: GroupNorm;
  private readonly conv1: Conv2d;
  private readonly norm2: GroupNorm;
  private readonly conv2: Conv2d;
  private readonly skip: Conv2d | null;
  private readonly dropout: number;

  constructor(store: ParamStore, prefix: string, inChannels: number, outChannels: number, groups: number, dropout: number) {
    this.norm1 = new GroupNorm(store, `${prefix}.norm1`, inChannels, groups);
    this.conv1 = new Conv2d(store, `${prefix}.conv1`, inChannels, outChannels, 3);
    this.norm2 = new GroupNorm(store, `${prefix}.norm2`, outChannels, groups);
    this.conv2 = new Conv2d(store, `${prefix}.conv2`, outChannels, outChannels, 3);
    this.skip = inChannels === outChannels ? null : new Conv2d(store, `${prefix}.skip`, inChannels, outChannels, 1);
    this.dropout = dropout;
  }

  apply(x: tf.Tensor4D, ctx: BlockContext): tf.Tensor4D {
    return tf.tidy(() => {
      let h = this.conv1.apply(silu(this.norm1.apply(x)) as tf.Tensor4D);
      h = silu(this.norm2.apply(h)) as tf.Tensor4D;
      if (ctx.training && this.dropout > 0) h = applyDropout(h, this.dropout, ctx.rng!) as tf.Tensor4D;
      h = this.conv2.apply(h);
      return tf.add(this.skip ? this.skip.apply(x) : x, h) as tf.Tensor4D;
    });
  }
}

/** The segmenter's layers, in PyTorch module order. */
interface SegmenterLayers {
  inConv: Conv2d;
  encoder: { blocks: ConvBlock[]; down: Downsample | null }[];
  middle: ConvBlock;
  decoder: { blocks: ConvBlock[]; up: Upsample | null }[];
  outNorm: GroupNorm;
  outConv: Conv2d;
}

/** Registers the segmenter's parameters in `store` (the layout described at {@link SegmenterNet}). */
function buildSegmenterLayers(store: ParamStore, c: ResolvedSegmenterConfig): SegmenterLayers {
  const g = c.normGroups;
  const chans = c.channelMult.map((m) => Math.trunc(m * c.baseChannels));
  const levels = chans.length;
  let ch = chans[0]!;
  const inConv = new Conv2d(store, 'in_conv', c.inChannels, ch, 3);
  const encoder: SegmenterLayers['encoder'] = [];
  for (let l = 0; l < levels; l++) {
    const blocks: ConvBlock[] = [];
    for (let r = 0; r < c.numResBlocks; r++) {
      blocks.push(new ConvBlock(store, `encoder.${l}.blocks.${r}`, ch, chans[l]!, g, c.dropout));
      ch = chans[l]!;
    }
    const down = l < levels - 1 ? new Downsample(store, `encoder.${l}.down`, ch, true, ch) : null;
    encoder.push({ blocks, down });
  }
  const middle = new ConvBlock(store, 'middle', ch, ch, g, c.dropout);
  const decoder: SegmenterLayers['decoder'] = [];
  for (let i = 0; i < levels; i++) {
    const l = levels - 1 - i;
    const blocks: ConvBlock[] = [];
    for (let r = 0; r < c.numResBlocks; r++) {
      const inCh = r === 0 ? ch + chans[l]! : ch;
      blocks.push(new ConvBlock(store, `decoder.${i}.blocks.${r}`, inCh, chans[l]!, g, c.dropout));
      ch = chans[l]!;
    }
    const up = l > 0 ? new Upsample(store, `decoder.${i}.up`, ch, true, ch) : null;
    decoder.push({ blocks, up });
  }
  const outNorm = new GroupNorm(store, 'out_norm', ch, g);
  const outConv = new Conv2d(store, 'out_conv', ch, 1, 3);
  return { inConv, encoder, middle, decoder, outNorm, outConv };
}

/**
 * A 2-D U-Net that maps a `[B, H, W, inChannels]` slice with values in
 * [0, 1] to tumour logits `[B, H, W, 1]`.
 *
 * Architecture (L = `channelMult.length` levels, `c_l = trunc(channelMult[l] * baseChannels)`):
 * - `in_conv`: conv 3x3, `inChannels -> c_0`, applied to `2x - 1` (inputs mapped to [-1, 1]);
 * - `encoder.<l>.blocks.<r>` (r < numResBlocks): conv blocks to `c_l`; the
 *   level's output is kept as a skip; `encoder.<l>.down.op` (l < L-1): conv 3x3, stride 2;
 * - `middle`: one conv block at the bottom;
 * - `decoder.<i>` for level `l = L-1-i` (deepest first): the skip of level l is
 *   concatenated (channels last), `decoder.<i>.blocks.<r>` conv blocks to
 *   `c_l`, then `decoder.<i>.up.conv` (l > 0): nearest x2 and conv 3x3;
 * - `out_norm` (GroupNorm), SiLU, `out_conv` (conv 3x3 to 1 channel).
 *
 * Conv blocks are described at {@link SegmenterConfig.numResBlocks}. Weights
 * are initialised as PyTorch's defaults (uniform ±1/sqrt(fan_in); GroupNorm 1 and 0).
 * Weights, saving, loading and disposal come from the `Module` base class of
 * @tumorcast/nn (config stored under `SEGMENTER_CONFIG_KEY`). Create with {@link createSegmenterNet}; call {@link SegmenterNet.dispose} when done.
 */
export class SegmenterNet extends Module<ResolvedSegmenterConfig> {
  private readonly layers: SegmenterLayers;

  /**
   * @param config - a config or preset name (validated; see {@link createSegmenterNet}).
   * @param options - see {@link CreateSegmenterNetOptions}.
   */
  constructor(config: SegmenterConfig | SegmenterPresetName, options: CreateSegmenterNetOptions = {}) {
    const c = resolveSegmenterConfig(config, 'createSegmenterNet');
    super(c, SEGMENTER_CONFIG_KEY, options);
    this.layers = this.build((store) => buildSegmenterLayers(store, c));
  }

  /** The height and width of inputs must be divisible by this (`2^(levels - 1)`). */
  get sizeFactor(): number {
    return 2 ** (this.config.channelMult.length - 1);
  }

  /**
   * Tumour logits for a batch of slices.
   *
   * @param x - `[B, H, W, inChannels]` NHWC, values in [0, 1] (BraTS channel
   *   order `t1n, t1c, t2w, t2f`, background 0, as the data set provides); H
   *   and W divisible by {@link SegmenterNet.sizeFactor}. Mapped to [-1, 1] inside.
   * @param options - see {@link SegmenterApplyOptions}.
   * @returns logits `[B, H, W, 1]` (apply a sigmoid for probabilities).
   */
  apply(x: tf.Tensor4D, options: SegmenterApplyOptions = {}): tf.Tensor4D {
    this.checkInput(x, 'SegmenterNet.apply');
    const training = options.training ?? false;
    if (training && this.config.dropout > 0 && !options.rng) {
      throw new Error(`'options.rng' passed to 'SegmenterNet.apply' is required when training with dropout ${this.config.dropout}`);
    }
    const ctx: BlockContext = { training, rng: options.rng };
    const L = this.layers;
    return tf.tidy(() => {
      let h = L.inConv.apply(tf.sub(tf.mul(tf.cast(x, 'float32'), 2), 1) as tf.Tensor4D);
      const skips: tf.Tensor4D[] = [];
      for (const level of L.encoder) {
        for (const b of level.blocks) h = b.apply(h, ctx);
        skips.push(h);
        if (level.down) h = level.down.apply(h);
      }
      h = L.middle.apply(h, ctx);
      for (const level of L.decoder) {
        h = tf.concat([h, skips.pop()!], 3);
        for (const b of level.blocks) h = b.apply(h, ctx);
        if (level.up) h = level.up.apply(h);
      }
      return L.outConv.apply(silu(L.outNorm.apply(h)) as tf.Tensor4D);
    });
  }

  /**
   * Tumour probabilities (`sigmoid` of {@link SegmenterNet.apply}), `[B, H, W, 1]` in (0, 1).
   *
   * @param x - as for {@link SegmenterNet.apply}.
   */
  predictProbabilities(x: tf.Tensor4D): tf.Tensor4D {
    this.checkInput(x, 'SegmenterNet.predictProbabilities');
    return tf.tidy(() => tf.sigmoid(this.apply(x)));
  }

  /** Throws a RangeError naming `fn` unless `x` is a 4-D NHWC tensor this net accepts. */
  checkInput(x: tf.Tensor, fn: string, arg = 'x'): asserts x is tf.Tensor4D {
    checkImageBatch(x, { fn, arg, channels: this.config.inChannels, levels: this.config.channelMult.length, nonEmpty: true });
  }
}

/**
 * Creates a segmentation U-Net with freshly initialised weights.
 *
 * @param config - a {@link SegmenterConfig} or a preset name (`'small'`, `'paper'`; see {@link SEGMENTER_PRESETS}).
 * @param options - see {@link CreateSegmenterNetOptions}.
 *
 * @example
 * ```ts
 * await initBackend();
 * const net = createSegmenterNet('small', { seed: 1 });
 * const probs = net.predictProbabilities(images); // images: [B, 64, 64, 4] in [0, 1]
 * ```
 */
export function createSegmenterNet(config: SegmenterConfig | SegmenterPresetName, options: CreateSegmenterNetOptions = {}): SegmenterNet {
  return new SegmenterNet(config, options);
}
