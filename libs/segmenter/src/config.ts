/**
 * Configuration of the segmentation U-Net: options, defaults in one place and
 * presets; the preset lookup, merging and checks are @tumorcast/nn's
 * `configResolver`.
 */
import { configResolver } from '@tumorcast/nn';

/** The safetensors metadata key holding the network's config as JSON. */
export const SEGMENTER_CONFIG_KEY = 'tumorcast.segmenter.config';

/** Options of the segmentation U-Net (see {@link createSegmenterNet}). */
export interface SegmenterConfig {
  /**
   * Training image size (height = width). Inputs of any height and width
   * divisible by `2^(channelMult.length - 1)` are accepted at run time.
   */
  imageSize: number;
  /**
   * Input channels (BraTS order `t1n, t1c, t2w, t2f`).
   * @defaultValue 4
   */
  inChannels?: number;
  /** Channels at the first level; every level's channels must be a multiple of `normGroups`. */
  baseChannels: number;
  /**
   * Channel multiplier per level; the number of levels is its length (the
   * image is halved `channelMult.length - 1` times).
   * @defaultValue [1, 2, 2]
   */
  channelMult?: readonly number[];
  /**
   * Convolution blocks per level (each: GroupNorm, SiLU, conv 3x3, GroupNorm,
   * SiLU, dropout, conv 3x3, plus a residual connection, 1x1 conv when the
   * channel count changes).
   * @defaultValue 2
   */
  numResBlocks?: number;
  /**
   * Dropout rate before each block's second conv (training only).
   * @defaultValue 0
   */
  dropout?: number;
  /**
   * Number of GroupNorm groups (every level's channel count must be divisible by it).
   * @defaultValue 32
   */
  normGroups?: number;
}

/** A {@link SegmenterConfig} with every default applied (what is stored with the weights). */
export interface ResolvedSegmenterConfig {
  /** See {@link SegmenterConfig.imageSize}. */
  imageSize: number;
  /** See {@link SegmenterConfig.inChannels}. */
  inChannels: number;
  /** See {@link SegmenterConfig.baseChannels}. */
  baseChannels: number;
  /** See {@link SegmenterConfig.channelMult}. */
  channelMult: number[];
  /** See {@link SegmenterConfig.numResBlocks}. */
  numResBlocks: number;
  /** See {@link SegmenterConfig.dropout}. */
  dropout: number;
  /** See {@link SegmenterConfig.normGroups}. */
  normGroups: number;
}

/** Names of the built-in presets. */
export type SegmenterPresetName = 'small' | 'paper';

/**
 * Built-in configurations:
 * - `small`: 64x64 slices, 32 base channels, levels (1, 2, 2), 2 blocks per
 *   level (0.96 M parameters; trains on a laptop CPU).
 * - `paper`: 256x256 slices (the paper's padded BraTS slices), 64 base
 *   channels, levels (1, 1, 2, 2, 4), 2 blocks per level (11.2 M parameters).
 */
export const SEGMENTER_PRESETS: Readonly<Record<SegmenterPresetName, Readonly<SegmenterConfig>>> = Object.freeze({
  small: Object.freeze({ imageSize: 64, inChannels: 4, baseChannels: 32, channelMult: Object.freeze([1, 2, 2]), numResBlocks: 2, dropout: 0 }),
  paper: Object.freeze({ imageSize: 256, inChannels: 4, baseChannels: 64, channelMult: Object.freeze([1, 1, 2, 2, 4]), numResBlocks: 2, dropout: 0 }),
});

const resolveMerged = configResolver<SegmenterConfig, SegmenterPresetName, ResolvedSegmenterConfig>({
  fn: 'resolveSegmenterConfig',
  presets: SEGMENTER_PRESETS,
  keys: ['imageSize', 'inChannels', 'baseChannels', 'channelMult', 'numResBlocks', 'dropout', 'normGroups'],
  required: ['imageSize', 'baseChannels'],
  defaults: () => ({ inChannels: 4, channelMult: [1, 2, 2], numResBlocks: 2, dropout: 0, normGroups: 32 }),
  // Configs come back from weights files: a misspelt key must not be ignored.
  strictKeys: true,
  validate: (r, check) => {
    check.positiveInt(r.inChannels, 'inChannels');
    check.positiveInt(r.numResBlocks, 'numResBlocks');
    check.positiveInt(r.normGroups, 'normGroups');
    check.dropout(r.dropout);
    check.channelMult(r.channelMult, r.baseChannels, 'baseChannels', r.normGroups, `normGroups ${r.normGroups}`);
    check.divisibleByLevels(r.imageSize, r.channelMult.length);
  },
});

/**
 * Applies the defaults to a config (or looks up a preset) and validates it:
 * positive integers, `channelMult` non-empty, every level's channel count
 * `trunc(mult * baseChannels)` a positive multiple of `normGroups`,
 * `imageSize` divisible by `2^(levels - 1)`, dropout in [0, 1), no unknown keys.
 *
 * @param config - a config or a preset name.
 * @param fn - the calling function, for error messages.
 * @defaultValue fn: 'resolveSegmenterConfig'
 */
export function resolveSegmenterConfig(config: SegmenterConfig | SegmenterPresetName, fn = 'resolveSegmenterConfig'): ResolvedSegmenterConfig {
  return resolveMerged(config, fn);
}
