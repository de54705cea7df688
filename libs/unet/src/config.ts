/**
 * Configuration of the diffusion U-Net: guided-diffusion's UNetModel options
 * (camelCase), defaults in one place and presets; the preset lookup, merging
 * and checks are @tumorcast/nn's `configResolver`.
 */
import { attentionDownsampleFactors, configResolver, defaultChannelMult } from '@tumorcast/nn';

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
  /**
   * Gradient checkpointing (guided-diffusion's `use_checkpoint`): every
   * residual and attention block keeps only its inputs for the backward pass
   * and recomputes its activations there. Same outputs and gradients; a
   * training step needs far less memory and takes about a third longer
   * (one more forward per block).
   * No effect on inference.
   * @defaultValue false
   */
  useCheckpoint?: boolean;
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
    useCheckpoint: false,
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
    useCheckpoint: false,
  }),
});

/** The resolved keys in the order the resolved config (and its JSON in weights files) lists them. */
const UNET_KEYS = [
  'imageSize', 'inChannels', 'modelChannels', 'numResBlocks', 'attentionResolutions', 'learnSigma', 'outChannels', 'dropout',
  'channelMult', 'convResample', 'numClasses', 'numHeads', 'numHeadChannels', 'numHeadsUpsample', 'useScaleShiftNorm',
  'resblockUpdown', 'useNewAttentionOrder', 'useCheckpoint',
] as const;

const resolveMerged = configResolver<UNetConfig, UNetPresetName, Omit<ResolvedUNetConfig, 'attentionDs'>>({
  fn: 'createUNet',
  presets: UNET_PRESETS,
  keys: UNET_KEYS,
  required: ['imageSize', 'inChannels', 'modelChannels'],
  defaults: (c) => ({
    numResBlocks: 2,
    attentionResolutions: [16, 8],
    learnSigma: false,
    outChannels: c.inChannels * (c.learnSigma ? 2 : 1),
    dropout: 0,
    // guided-diffusion's table covers a few sizes only: consulted only when channelMult is not given
    channelMult: c.channelMult ?? defaultChannelMult(c.imageSize),
    convResample: true,
    numClasses: null,
    numHeads: 1,
    numHeadChannels: -1,
    numHeadsUpsample: -1,
    useScaleShiftNorm: false,
    resblockUpdown: false,
    useNewAttentionOrder: false,
    useCheckpoint: false,
  }),
  validate: (r, check) => {
    check.positiveInt(r.numResBlocks, 'numResBlocks');
    check.positiveInt(r.outChannels, 'outChannels');
    check.dropout(r.dropout);
    check.channelMult(r.channelMult, r.modelChannels, 'modelChannels', 32, '32 (the GroupNorm groups)');
    check.divisibleByLevels(r.imageSize, r.channelMult.length);
    if (r.numClasses !== null) check.positiveInt(r.numClasses, 'numClasses');
    if (r.numHeadChannels === -1) check.positiveInt(r.numHeads, 'numHeads');
    else check.positiveInt(r.numHeadChannels, 'numHeadChannels');
    if (r.numHeadsUpsample !== -1) check.positiveInt(r.numHeadsUpsample, 'numHeadsUpsample');
    if (typeof r.useCheckpoint !== 'boolean') throw check.error('useCheckpoint', `must be true or false, got ${JSON.stringify(r.useCheckpoint)}`);
  },
});

/**
 * Applies the defaults to `config` (or looks up a preset) and validates it;
 * errors name the field and `fn`. The attention downsample factors are derived
 * from `attentionResolutions`.
 *
 * @param config - a config or a preset name.
 * @param fn - the function named in errors.
 * @defaultValue fn: 'createUNet'
 */
export function resolveUNetConfig(config: UNetConfig | UNetPresetName, fn = 'createUNet'): ResolvedUNetConfig {
  const r = resolveMerged(config, fn);
  return { ...r, attentionDs: attentionDownsampleFactors(r.imageSize, r.attentionResolutions) };
}
