/**
 * Configuration of the segmentation U-Net: options, defaults in one place,
 * validation, and presets.
 */

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

const KNOWN_KEYS = new Set(['imageSize', 'inChannels', 'baseChannels', 'channelMult', 'numResBlocks', 'dropout', 'normGroups']);

function positiveInt(value: unknown, arg: string, fn: string): number {
  if (typeof value !== 'number' || !Number.isInteger(value) || value < 1) {
    throw new RangeError(`'${arg}' passed to '${fn}' must be a positive integer, got ${JSON.stringify(value)}`);
  }
  return value;
}

/**
 * Applies the defaults to a config (or looks up a preset) and validates it:
 * positive integers, `channelMult` non-empty, every level's channel count
 * `trunc(mult * baseChannels)` a positive multiple of `normGroups`,
 * `imageSize` divisible by `2^(levels - 1)`, dropout in [0, 1), no unknown keys.
 *
 * @param config - a config or a preset name.
 * @param fn - the calling function, for error messages.
 */
export function resolveSegmenterConfig(config: SegmenterConfig | SegmenterPresetName, fn = 'resolveSegmenterConfig'): ResolvedSegmenterConfig {
  if (typeof config === 'string') {
    const preset = (SEGMENTER_PRESETS as Record<string, SegmenterConfig>)[config];
    if (!preset) throw new RangeError(`'config' passed to '${fn}' must be a config or a preset name (${Object.keys(SEGMENTER_PRESETS).join(', ')}), got '${config}'`);
    return resolveSegmenterConfig(preset, fn);
  }
  if (config === null || typeof config !== 'object') throw new TypeError(`'config' passed to '${fn}' must be an object or a preset name, got ${config === null ? 'null' : typeof config}`);
  const unknown = Object.keys(config).filter((k) => !KNOWN_KEYS.has(k));
  if (unknown.length) throw new RangeError(`'config' passed to '${fn}' has unknown keys: ${unknown.join(', ')} (valid: ${[...KNOWN_KEYS].join(', ')})`);
  const imageSize = positiveInt(config.imageSize, 'config.imageSize', fn);
  const inChannels = positiveInt(config.inChannels ?? 4, 'config.inChannels', fn);
  const baseChannels = positiveInt(config.baseChannels, 'config.baseChannels', fn);
  const numResBlocks = positiveInt(config.numResBlocks ?? 2, 'config.numResBlocks', fn);
  const normGroups = positiveInt(config.normGroups ?? 32, 'config.normGroups', fn);
  const dropout = config.dropout ?? 0;
  if (typeof dropout !== 'number' || !(dropout >= 0 && dropout < 1)) throw new RangeError(`'config.dropout' passed to '${fn}' must be in [0, 1), got ${dropout}`);
  const mult = config.channelMult ?? [1, 2, 2];
  if (!Array.isArray(mult) || mult.length === 0) throw new RangeError(`'config.channelMult' passed to '${fn}' must be a non-empty array, got ${JSON.stringify(mult)}`);
  for (const m of mult) {
    if (typeof m !== 'number' || !Number.isFinite(m) || m <= 0) throw new RangeError(`'config.channelMult' passed to '${fn}' must hold positive numbers, got ${JSON.stringify(mult)}`);
    const ch = Math.trunc(m * baseChannels);
    if (ch < 1 || ch % normGroups !== 0) {
      throw new RangeError(
        `'config.channelMult' passed to '${fn}' gives ${ch} channels at multiplier ${m} (baseChannels ${baseChannels}), not a positive multiple of normGroups ${normGroups}`,
      );
    }
  }
  const factor = 2 ** (mult.length - 1);
  if (imageSize % factor !== 0) {
    throw new RangeError(`'config.imageSize' passed to '${fn}' must be divisible by ${factor} (2^(levels-1) with ${mult.length} levels), got ${imageSize}`);
  }
  return { imageSize, inChannels, baseChannels, channelMult: [...mult], numResBlocks, dropout, normGroups };
}
