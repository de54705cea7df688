/**
 * Configuration of the diffusion U-Net: guided-diffusion's UNetModel options
 * (camelCase), defaults in one place, validation, and presets.
 */
import { attentionDownsampleFactors, defaultChannelMult } from '@tumorcast/nn';

/** guided-diffusion `UNetModel` options (2-D). */
export interface UNetConfig {
  /** Training image size (height = width); inputs may be any size divisible by 2^(levels-1). */
  imageSize: number;
  /** Input image channels. */
  inChannels: number;
  /** Base channel count (multiple of 32: GroupNorm has 32 groups). */
  modelChannels: number;
  /**
   * Residual blocks per level.
   * @defaultValue 2
   */
  numResBlocks?: number;
  /**
   * Feature-map resolutions at which attention is used, as on guided-diffusion's
   * command line (`--attention_resolutions 16` at 256 = downsample factor 16);
   * converted to downsample factors `imageSize // r` like its `create_model`.
   * @defaultValue [16, 8]
   */
  attentionResolutions?: readonly number[];
  /**
   * Learn the variance: output channels are `2 * inChannels` unless `outChannels` is given.
   * @defaultValue false
   */
  learnSigma?: boolean;
  /**
   * Output channels.
   * @defaultValue inChannels, doubled with learnSigma
   */
  outChannels?: number;
  /**
   * Dropout rate in residual blocks (training only).
   * @defaultValue 0
   */
  dropout?: number;
  /**
   * Channel multiplier per level.
   * @defaultValue guided-diffusion's default for the image size (256: [1,1,2,2,4,4])
   */
  channelMult?: readonly number[];
  /**
   * Learned (conv) down/upsampling.
   * @defaultValue true
   */
  convResample?: boolean;
  /**
   * Number of classes for class conditioning (`label_emb`), or null.
   * @defaultValue null
   */
  numClasses?: number | null;
  /**
   * Attention heads (when `numHeadChannels` is -1).
   * @defaultValue 1
   */
  numHeads?: number;
  /**
   * Channels per head (overrides `numHeads`), or -1.
   * @defaultValue -1
   */
  numHeadChannels?: number;
  /**
   * Heads in the decoder's attention blocks; -1: same as `numHeads`.
   * @defaultValue -1
   */
  numHeadsUpsample?: number;
  /**
   * Scale-shift (FiLM) conditioning in residual blocks.
   * @defaultValue false
   */
  useScaleShiftNorm?: boolean;
  /**
   * Residual blocks with built-in up/downsampling.
   * @defaultValue false
   */
  resblockUpdown?: boolean;
  /**
   * QKVAttention channel order instead of the legacy one.
   * @defaultValue false
   */
  useNewAttentionOrder?: boolean;
}

/** A {@link UNetConfig} with every default applied, plus the derived downsample factors. */
export interface ResolvedUNetConfig extends Required<Omit<UNetConfig, 'numClasses'>> {
  /** Number of classes, or null. */
  numClasses: number | null;
  /** Downsample factors at which attention is used. */
  attentionDs: number[];
}

/** Named U-Net configurations. */
export type UNetPresetName = 'paper' | 'small';

/**
 * Presets. `paper`: the paper's diffusion model (docs/method.md section 3; 256x256,
 * 4 channels, 128 base channels, (1,1,2,2,4,4), 2 blocks, attention at 16,
 * 1 head, 2 classes, learn_sigma). `small`: a CPU-sized variant for tests and
 * the demo (64x64, 32 channels, (1,2,2), 2 blocks, attention at 16).
 */
export const UNET_PRESETS: Readonly<Record<UNetPresetName, Readonly<UNetConfig>>> = Object.freeze({
  paper: Object.freeze({
    imageSize: 256,
    inChannels: 4,
    modelChannels: 128,
    numResBlocks: 2,
    attentionResolutions: [16],
    learnSigma: true,
    dropout: 0,
    channelMult: [1, 1, 2, 2, 4, 4],
    convResample: true,
    numClasses: 2,
    numHeads: 1,
    numHeadChannels: -1,
    numHeadsUpsample: -1,
    useScaleShiftNorm: false,
    resblockUpdown: false,
    useNewAttentionOrder: false,
  }),
  small: Object.freeze({
    imageSize: 64,
    inChannels: 4,
    modelChannels: 32,
    numResBlocks: 2,
    attentionResolutions: [16],
    learnSigma: true,
    dropout: 0,
    channelMult: [1, 2, 2],
    convResample: true,
    numClasses: 2,
    numHeads: 1,
    numHeadChannels: -1,
    numHeadsUpsample: -1,
    useScaleShiftNorm: false,
    resblockUpdown: false,
    useNewAttentionOrder: false,
  }),
});

function posInt(v: number, name: string): void {
  if (!Number.isInteger(v) || v < 1) throw new RangeError(`'config.${name}' passed to 'createUNet' must be a positive integer, got ${v}`);
}

/** Applies the defaults to `config` and validates it; errors name the field. */
export function resolveUNetConfig(config: UNetConfig | UNetPresetName): ResolvedUNetConfig {
  if (typeof config === 'string') {
    const preset = UNET_PRESETS[config];
    if (!preset) throw new RangeError(`'config' passed to 'createUNet' must be a config or one of ${Object.keys(UNET_PRESETS).join(', ')}, got '${config}'`);
    config = preset;
  }
  if (config === null || typeof config !== 'object') throw new TypeError(`'config' passed to 'createUNet' must be an object or a preset name`);
  posInt(config.imageSize, 'imageSize');
  posInt(config.inChannels, 'inChannels');
  posInt(config.modelChannels, 'modelChannels');
  const learnSigma = config.learnSigma ?? false;
  const channelMult = [...(config.channelMult ?? defaultChannelMult(config.imageSize))];
  const attentionResolutions = [...(config.attentionResolutions ?? [16, 8])];
  const r: ResolvedUNetConfig = {
    imageSize: config.imageSize,
    inChannels: config.inChannels,
    modelChannels: config.modelChannels,
    numResBlocks: config.numResBlocks ?? 2,
    attentionResolutions,
    learnSigma,
    outChannels: config.outChannels ?? config.inChannels * (learnSigma ? 2 : 1),
    dropout: config.dropout ?? 0,
    channelMult,
    convResample: config.convResample ?? true,
    numClasses: config.numClasses ?? null,
    numHeads: config.numHeads ?? 1,
    numHeadChannels: config.numHeadChannels ?? -1,
    numHeadsUpsample: config.numHeadsUpsample ?? -1,
    useScaleShiftNorm: config.useScaleShiftNorm ?? false,
    resblockUpdown: config.resblockUpdown ?? false,
    useNewAttentionOrder: config.useNewAttentionOrder ?? false,
    attentionDs: attentionDownsampleFactors(config.imageSize, attentionResolutions),
  };
  posInt(r.numResBlocks, 'numResBlocks');
  posInt(r.outChannels, 'outChannels');
  if (!(r.dropout >= 0 && r.dropout < 1)) throw new RangeError(`'config.dropout' passed to 'createUNet' must be in [0, 1), got ${r.dropout}`);
  if (channelMult.length === 0) throw new RangeError(`'config.channelMult' passed to 'createUNet' must not be empty`);
  for (const m of channelMult) {
    const ch = Math.trunc(m * r.modelChannels);
    if (!(m > 0) || ch % 32 !== 0) {
      throw new RangeError(`'config.channelMult' passed to 'createUNet': ${m} x modelChannels ${r.modelChannels} = ${ch} channels, not a positive multiple of 32 (GroupNorm groups)`);
    }
  }
  const factor = 2 ** (channelMult.length - 1);
  if (r.imageSize % factor !== 0) {
    throw new RangeError(`'config.imageSize' passed to 'createUNet' must be divisible by 2^(levels-1) = ${factor}, got ${r.imageSize}`);
  }
  if (r.numClasses !== null) posInt(r.numClasses, 'numClasses');
  if (r.numHeadChannels === -1) posInt(r.numHeads, 'numHeads');
  else posInt(r.numHeadChannels, 'numHeadChannels');
  if (r.numHeadsUpsample !== -1) posInt(r.numHeadsUpsample, 'numHeadsUpsample');
  return r;
}
