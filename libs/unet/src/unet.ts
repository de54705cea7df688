/**
 * guided-diffusion's UNetModel on tfjs variables (NHWC), with the PyTorch
 * `state_dict` names and shapes; a `Module` of @tumorcast/nn.
 */
import * as tf from '@tensorflow/tfjs';
import {
  AttentionBlock,
  Conv2d,
  EmbedSequential,
  Embedding,
  GroupNorm,
  Module,
  ResBlock,
  TimeEmbed,
  Upsample,
  buildInputBlocks,
  buildMiddleBlock,
  checkImageBatch,
  timestepEmbedding,
  timestepTensor,
} from '@tumorcast/nn';
import type { EmbedLayer, ForwardContext, ModuleOptions, ParamStore, TimestepInput } from '@tumorcast/nn';
import { resolveUNetConfig } from './config.js';
import type { ResolvedUNetConfig, UNetConfig, UNetPresetName } from './config.js';

/** The safetensors metadata key under which U-Net weights files carry their config (JSON). */
export const UNET_CONFIG_KEY = 'tumorcast.unet.config';

/** Options of {@link createUNet} (see `ModuleOptions` in @tumorcast/nn: the initialisation seed). */
export type CreateUNetOptions = ModuleOptions;

/**
 * Options of {@link UNet.apply}: `training` (dropout active when the config has
 * dropout > 0; default false), `rng` (seeded source of dropout masks, required
 * when training with dropout) and `flops` (accumulates the call's FLOPs) —
 * `ForwardContext` of @tumorcast/nn, which every layer takes.
 */
export type UNetApplyOptions = ForwardContext;

/** Timesteps: one per image (`[B]` tensor or array), or one number for the whole batch. */
export type Timesteps = TimestepInput;
/** Class labels: one integer per image (`[B]` tensor or array). */
export type Labels = tf.Tensor1D | readonly number[];

/** The U-Net's layers, in PyTorch module order. */
interface UNetLayers {
  timeEmbed: TimeEmbed;
  labelEmb: Embedding | null;
  inputBlocks: EmbedSequential[];
  middleBlock: EmbedSequential;
  outputBlocks: EmbedSequential[];
  outNorm: GroupNorm;
  outConv: Conv2d;
}

/** Registers the U-Net's parameters in `store` (guided-diffusion's `UNetModel.__init__`). */
function buildUNetLayers(store: ParamStore, c: ResolvedUNetConfig): UNetLayers {
  const mc = c.modelChannels;
  const embDim = 4 * mc;
  const timeEmbed = new TimeEmbed(store, 'time_embed', mc, embDim);
  const labelEmb = c.numClasses !== null ? new Embedding(store, 'label_emb', c.numClasses, embDim) : null;
  const enc = buildInputBlocks(store, c, embDim);
  let ch = enc.channels;
  let ds = enc.ds;
  const middleBlock = buildMiddleBlock(store, c, ch, embDim);
  const chans = [...enc.blockChannels];
  const headsUp = c.numHeadsUpsample === -1 ? c.numHeads : c.numHeadsUpsample;
  const outputBlocks: EmbedSequential[] = [];
  for (let level = c.channelMult.length - 1; level >= 0; level--) {
    const mult = c.channelMult[level]!;
    for (let i = 0; i <= c.numResBlocks; i++) {
      const b = outputBlocks.length;
      const ich = chans.pop()!;
      const out = Math.trunc(mc * mult);
      const layers: EmbedLayer[] = [
        new ResBlock(store, `output_blocks.${b}.0`, ch + ich, embDim, {
          outChannels: out, dropout: c.dropout, useScaleShiftNorm: c.useScaleShiftNorm, useCheckpoint: c.useCheckpoint,
        }),
      ];
      ch = out;
      if (c.attentionDs.includes(ds)) {
        layers.push(
          new AttentionBlock(store, `output_blocks.${b}.1`, ch, {
            numHeads: headsUp,
            numHeadChannels: c.numHeadChannels,
            useNewAttentionOrder: c.useNewAttentionOrder,
            useCheckpoint: c.useCheckpoint,
          }),
        );
      }
      if (level > 0 && i === c.numResBlocks) {
        const j = layers.length;
        layers.push(
          c.resblockUpdown
            ? new ResBlock(store, `output_blocks.${b}.${j}`, ch, embDim, {
              outChannels: ch, dropout: c.dropout, useScaleShiftNorm: c.useScaleShiftNorm, up: true, useCheckpoint: c.useCheckpoint,
            })
            : new Upsample(store, `output_blocks.${b}.${j}`, ch, c.convResample, ch, { useCheckpoint: c.useCheckpoint }),
        );
        ds /= 2;
      }
      outputBlocks.push(new EmbedSequential(layers));
    }
  }
  const outNorm = new GroupNorm(store, 'out.0', ch);
  const outConv = new Conv2d(store, 'out.2', Math.trunc(c.channelMult[0]! * mc), c.outChannels, 3, { zeroInit: true });
  return { timeEmbed, labelEmb, inputBlocks: enc.blocks, middleBlock, outputBlocks, outNorm, outConv };
}

/**
 * guided-diffusion's UNetModel. Weights, saving, loading and disposal come
 * from the `Module` base class of @tumorcast/nn (config stored under
 * {@link UNET_CONFIG_KEY}). Create with {@link createUNet}; call
 * {@link UNet.dispose} when done.
 */
export class UNet extends Module<ResolvedUNetConfig> {
  private readonly layers: UNetLayers;

  /**
   * @param config - the resolved configuration (see {@link createUNet}).
   * @param options - see {@link CreateUNetOptions}.
   */
  constructor(config: ResolvedUNetConfig, options: CreateUNetOptions = {}) {
    super(config, UNET_CONFIG_KEY, options);
    this.layers = this.build((store) => buildUNetLayers(store, config));
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
    const L = this.layers;
    checkImageBatch(x, { fn: 'UNet.apply', channels: c.inChannels, levels: c.channelMult.length });
    const b = x.shape[0];
    if (L.labelEmb && y === undefined) throw new Error(`'y' passed to 'UNet.apply' is required: the model is class-conditional (${c.numClasses} classes)`);
    if (!L.labelEmb && y !== undefined) throw new Error(`'y' passed to 'UNet.apply' must be omitted: the model is not class-conditional`);
    if (Array.isArray(y)) {
      for (const v of y as readonly number[]) {
        if (!Number.isInteger(v) || v < 0 || v >= c.numClasses!) throw new RangeError(`'y' passed to 'UNet.apply' must hold integers in [0, ${c.numClasses}), got ${v}`);
      }
    }
    const ctx = { training: options.training ?? false, rng: options.rng, flops: options.flops };
    return tf.tidy(() => {
      const tt = timestepTensor(t, b, 'UNet.apply');
      let emb = L.timeEmbed.apply(timestepEmbedding(tt, c.modelChannels), ctx);
      if (L.labelEmb) {
        const yy = y instanceof tf.Tensor ? y : tf.tensor1d(y as number[], 'int32');
        if (yy.rank !== 1 || yy.shape[0] !== b) throw new RangeError(`'y' passed to 'UNet.apply' must have one label per image (${b}), got shape [${yy.shape}]`);
        emb = tf.add(emb, L.labelEmb.apply(yy));
      }
      const hs: tf.Tensor4D[] = [];
      let hcur = x;
      for (const block of L.inputBlocks) {
        hcur = block.apply(hcur, emb, ctx);
        hs.push(hcur);
      }
      hcur = L.middleBlock.apply(hcur, emb, ctx);
      for (const block of L.outputBlocks) {
        hcur = block.applyConcat(hcur, hs.pop()!, emb, ctx);
      }
      return L.outConv.apply(L.outNorm.applySilu(hcur) as tf.Tensor4D, undefined, ctx);
    });
  }
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
