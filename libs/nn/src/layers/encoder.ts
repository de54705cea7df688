/**
 * The encoder half shared by guided-diffusion's UNetModel and
 * EncoderUNetModel: `input_blocks` and `middle_block`, with the same module
 * indices (hence `state_dict` names) as the reference.
 */
import { AttentionBlock, Conv2d, Downsample, EmbedSequential, ResBlock } from './blocks.js';
import type { EmbedLayer } from './blocks.js';
import type { ParamStore } from './params.js';

/** The architecture options the encoder half reads (guided-diffusion's names, camelCase). */
export interface EncoderSpec {
  /** Input image channels. */
  inChannels: number;
  /** Base channel count. */
  modelChannels: number;
  /** Residual blocks per level. */
  numResBlocks: number;
  /** Downsample factors (1, 2, 4, ...) at which attention blocks are inserted. */
  attentionDs: readonly number[];
  /** Dropout rate inside residual blocks. */
  dropout: number;
  /** Channel multiplier per level. */
  channelMult: readonly number[];
  /** Learned (conv) down/upsampling instead of pooling / plain nearest. */
  convResample: boolean;
  /** Attention heads (when `numHeadChannels` is -1). */
  numHeads: number;
  /** Channels per attention head, or -1. */
  numHeadChannels: number;
  /** Scale-shift conditioning in residual blocks. */
  useScaleShiftNorm: boolean;
  /** Residual blocks with built-in up/downsampling instead of Downsample/Upsample layers. */
  resblockUpdown: boolean;
  /** QKVAttention order instead of the legacy one. */
  useNewAttentionOrder: boolean;
  /**
   * Gradient checkpointing of every residual and attention block (guided-diffusion's `use_checkpoint`).
   * @defaultValue false
   */
  useCheckpoint?: boolean;
}

/** What {@link buildInputBlocks} returns. */
export interface InputBlocks {
  /** `input_blocks.0` ... in order. */
  blocks: EmbedSequential[];
  /** Channels of each block's output (guided-diffusion's `input_block_chans`). */
  blockChannels: number[];
  /** Channels after the last block. */
  channels: number;
  /** Downsample factor after the last block. */
  ds: number;
}

/**
 * Builds guided-diffusion's `input_blocks` (registered as
 * `input_blocks.<i>.<j>.*`): a 3x3 conv, then per level `numResBlocks`
 * residual blocks (each followed by attention where the downsample factor is
 * in `attentionDs`) and, except at the last level, a downsampling block.
 *
 * @param store - where the parameters are registered.
 * @param spec - see {@link EncoderSpec}.
 * @param embDim - width of the timestep embedding (4 * modelChannels).
 */
export function buildInputBlocks(store: ParamStore, spec: EncoderSpec, embDim: number): InputBlocks {
  const mc = spec.modelChannels;
  let ch = Math.trunc(spec.channelMult[0]! * mc);
  const blocks: EmbedSequential[] = [new EmbedSequential([new Conv2d(store, 'input_blocks.0.0', spec.inChannels, ch, 3)])];
  const blockChannels = [ch];
  let ds = 1;
  const attn = (prefix: string, c: number) =>
    new AttentionBlock(store, prefix, c, {
      numHeads: spec.numHeads,
      numHeadChannels: spec.numHeadChannels,
      useNewAttentionOrder: spec.useNewAttentionOrder,
      useCheckpoint: spec.useCheckpoint,
    });
  spec.channelMult.forEach((mult, level) => {
    for (let r = 0; r < spec.numResBlocks; r++) {
      const i = blocks.length;
      const out = Math.trunc(mult * mc);
      const layers: EmbedLayer[] = [
        new ResBlock(store, `input_blocks.${i}.0`, ch, embDim, { outChannels: out, dropout: spec.dropout, useScaleShiftNorm: spec.useScaleShiftNorm, useCheckpoint: spec.useCheckpoint }),
      ];
      ch = out;
      if (spec.attentionDs.includes(ds)) layers.push(attn(`input_blocks.${i}.1`, ch));
      blocks.push(new EmbedSequential(layers));
      blockChannels.push(ch);
    }
    if (level !== spec.channelMult.length - 1) {
      const i = blocks.length;
      const layer = spec.resblockUpdown
        ? new ResBlock(store, `input_blocks.${i}.0`, ch, embDim, { outChannels: ch, dropout: spec.dropout, useScaleShiftNorm: spec.useScaleShiftNorm, down: true, useCheckpoint: spec.useCheckpoint })
        : new Downsample(store, `input_blocks.${i}.0`, ch, spec.convResample, ch);
      blocks.push(new EmbedSequential([layer]));
      blockChannels.push(ch);
      ds *= 2;
    }
  });
  return { blocks, blockChannels, channels: ch, ds };
}

/**
 * Builds guided-diffusion's `middle_block` (`middle_block.0` ResBlock,
 * `middle_block.1` AttentionBlock, `middle_block.2` ResBlock).
 *
 * @param store - where the parameters are registered.
 * @param spec - see {@link EncoderSpec}.
 * @param channels - channels at the bottom of the encoder.
 * @param embDim - width of the timestep embedding.
 */
export function buildMiddleBlock(store: ParamStore, spec: EncoderSpec, channels: number, embDim: number): EmbedSequential {
  const rb = (i: number) =>
    new ResBlock(store, `middle_block.${i}`, channels, embDim, { dropout: spec.dropout, useScaleShiftNorm: spec.useScaleShiftNorm, useCheckpoint: spec.useCheckpoint });
  const r0 = rb(0);
  const a1 = new AttentionBlock(store, 'middle_block.1', channels, {
    numHeads: spec.numHeads,
    numHeadChannels: spec.numHeadChannels,
    useNewAttentionOrder: spec.useNewAttentionOrder,
    useCheckpoint: spec.useCheckpoint,
  });
  return new EmbedSequential([r0, a1, rb(2)]);
}

/**
 * guided-diffusion's default channel multipliers for an image size (used by
 * its `create_model` / `create_classifier` when none are given): 512:
 * (0.5,1,1,2,2,4,4), 256: (1,1,2,2,4,4), 128: (1,1,2,3,4), 64: (1,2,3,4).
 * Other sizes have no default and throw.
 */
export function defaultChannelMult(imageSize: number): number[] {
  switch (imageSize) {
    case 512:
      return [0.5, 1, 1, 2, 2, 4, 4];
    case 256:
      return [1, 1, 2, 2, 4, 4];
    case 128:
      return [1, 1, 2, 3, 4];
    case 64:
      return [1, 2, 3, 4];
    default:
      throw new RangeError(`'imageSize' passed to 'defaultChannelMult' has no guided-diffusion default (512, 256, 128, 64), got ${imageSize}; give 'channelMult'`);
  }
}

/**
 * Converts attention resolutions (feature-map sizes, as guided-diffusion's
 * command-line `--attention_resolutions 32,16,8`) to the downsample factors
 * the networks use: `imageSize // resolution`.
 */
export function attentionDownsampleFactors(imageSize: number, resolutions: readonly number[]): number[] {
  return resolutions.map((r) => {
    if (!Number.isInteger(r) || r < 1) throw new RangeError(`'resolutions' passed to 'attentionDownsampleFactors' must be positive integers, got ${r}`);
    return Math.floor(imageSize / r);
  });
}
