/**
 * Configuration of the tumour-burden regressor: guided-diffusion's
 * EncoderUNetModel options (camelCase), defaults in one place, validation,
 * and presets.
 */
import { attentionDownsampleFactors, defaultChannelMult } from '@tumorcast/nn';

/** Output pooling: `'attention'` (GroupNorm, AttentionPool2d; see {@link RegressorHead}) or `'adaptive'` (GroupNorm, SiLU, global mean, 1x1 conv). */
export type RegressorPool = 'attention' | 'adaptive';

/**
 * The attention-pool head:
 * - `'regression'`: `out = [GroupNorm, AttentionPool2d]` (parameters `out.0.*`,
 *   `out.1.*`), the authors' regressor (their guided-diffusion fork's
 *   `EncoderUNetModel(regression=True)`, which drops the SiLU);
 * - `'classifier'`: `out = [GroupNorm, SiLU, AttentionPool2d]` (`out.0.*`,
 *   `out.2.*`), stock guided-diffusion's classifier head, which tumorcast
 *   regressors used before this option existed (the shipped demo regressor).
 *
 * The adaptive pool is the same for both, as in the reference.
 */
export type RegressorHead = 'regression' | 'classifier';

/** Every {@link RegressorHead}. */
export const REGRESSOR_HEADS: readonly RegressorHead[] = Object.freeze(['regression', 'classifier'] as const);

/** guided-diffusion `EncoderUNetModel` options (2-D) for a regression head. */
export interface RegressorConfig {
  /** Image size (height = width); the attention pool is sized for it. */
  imageSize: number;
  /** Input image channels. */
  inChannels: number;
  /** Base channel count, the reference's `regressor_width` (multiple of 32). */
  modelChannels: number;
  /**
   * Outputs per image (1 for the tumour burden).
   * @defaultValue 1
   */
  outChannels?: number;
  /**
   * Residual blocks per level, the reference's `regressor_depth`.
   * @defaultValue 2
   */
  numResBlocks?: number;
  /**
   * Feature-map resolutions with attention, as on the command line
   * (`--regressor_attention_resolutions 32,16,8`); converted to downsample
   * factors `imageSize // r` like guided-diffusion's `create_classifier`.
   * @defaultValue [32, 16, 8]
   */
  attentionResolutions?: readonly number[];
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
   * Learned (conv) downsampling when `resblockUpdown` is off.
   * @defaultValue true
   */
  convResample?: boolean;
  /**
   * Attention heads when `numHeadChannels` is -1 (not allowed with the attention pool).
   * @defaultValue 1
   */
  numHeads?: number;
  /**
   * Channels per attention head.
   * @defaultValue 64
   */
  numHeadChannels?: number;
  /**
   * Scale-shift (FiLM) conditioning in residual blocks.
   * @defaultValue true
   */
  useScaleShiftNorm?: boolean;
  /**
   * Residual blocks with built-in downsampling.
   * @defaultValue true
   */
  resblockUpdown?: boolean;
  /**
   * QKVAttention channel order in attention blocks instead of the legacy one.
   * @defaultValue false
   */
  useNewAttentionOrder?: boolean;
  /**
   * Output pooling.
   * @defaultValue 'attention'
   */
  pool?: RegressorPool;
  /**
   * The attention pool's head: the authors' `'regression'` head (no SiLU
   * before the pool) or stock guided-diffusion's `'classifier'` head; see
   * {@link RegressorHead}. A config read from a tumorcast checkpoint without
   * this key is `'classifier'` (see {@link regressorConfigFromMetadata}).
   * @defaultValue 'regression'
   */
  head?: RegressorHead;
}

/** A {@link RegressorConfig} with every default applied, plus the derived downsample factors. */
export interface ResolvedRegressorConfig extends Required<RegressorConfig> {
  /** Downsample factors at which attention is used. */
  attentionDs: number[];
}

/** Named regressor configurations. */
export type RegressorPresetName = 'paper' | 'small';

/**
 * Presets. `paper`: the authors' regressor (256x256, 4 channels, width 32,
 * depth 4, (1,1,2,2,4,4), attention at 32,16,8, 64 channels per head,
 * scale-shift, resblock down, attention pool with the regression head, 1
 * output). `small`: a CPU-sized variant (64x64, width 32, depth 1,
 * (1,1,2,2), attention at 16,8, 32 channels per head, regression head).
 */
export const REGRESSOR_PRESETS: Readonly<Record<RegressorPresetName, Readonly<RegressorConfig>>> = Object.freeze({
  paper: Object.freeze({
    imageSize: 256,
    inChannels: 4,
    modelChannels: 32,
    outChannels: 1,
    numResBlocks: 4,
    attentionResolutions: [32, 16, 8],
    dropout: 0,
    channelMult: [1, 1, 2, 2, 4, 4],
    convResample: true,
    numHeads: 1,
    numHeadChannels: 64,
    useScaleShiftNorm: true,
    resblockUpdown: true,
    useNewAttentionOrder: false,
    pool: 'attention',
    head: 'regression',
  }),
  small: Object.freeze({
    imageSize: 64,
    inChannels: 4,
    modelChannels: 32,
    outChannels: 1,
    numResBlocks: 1,
    attentionResolutions: [16, 8],
    dropout: 0,
    channelMult: [1, 1, 2, 2],
    convResample: true,
    numHeads: 1,
    numHeadChannels: 32,
    useScaleShiftNorm: true,
    resblockUpdown: true,
    useNewAttentionOrder: false,
    pool: 'attention',
    head: 'regression',
  }),
});

function posInt(v: number, name: string): void {
  if (!Number.isInteger(v) || v < 1) throw new RangeError(`'config.${name}' passed to 'createRegressor' must be a positive integer, got ${v}`);
}

/** Applies the defaults to `config` and validates it; errors name the field. */
export function resolveRegressorConfig(config: RegressorConfig | RegressorPresetName): ResolvedRegressorConfig {
  if (typeof config === 'string') {
    const preset = REGRESSOR_PRESETS[config];
    if (!preset) throw new RangeError(`'config' passed to 'createRegressor' must be a config or one of ${Object.keys(REGRESSOR_PRESETS).join(', ')}, got '${config}'`);
    config = preset;
  }
  if (config === null || typeof config !== 'object') throw new TypeError(`'config' passed to 'createRegressor' must be an object or a preset name`);
  posInt(config.imageSize, 'imageSize');
  posInt(config.inChannels, 'inChannels');
  posInt(config.modelChannels, 'modelChannels');
  const channelMult = [...(config.channelMult ?? defaultChannelMult(config.imageSize))];
  const attentionResolutions = [...(config.attentionResolutions ?? [32, 16, 8])];
  const r: ResolvedRegressorConfig = {
    imageSize: config.imageSize,
    inChannels: config.inChannels,
    modelChannels: config.modelChannels,
    outChannels: config.outChannels ?? 1,
    numResBlocks: config.numResBlocks ?? 2,
    attentionResolutions,
    dropout: config.dropout ?? 0,
    channelMult,
    convResample: config.convResample ?? true,
    numHeads: config.numHeads ?? 1,
    numHeadChannels: config.numHeadChannels ?? 64,
    useScaleShiftNorm: config.useScaleShiftNorm ?? true,
    resblockUpdown: config.resblockUpdown ?? true,
    useNewAttentionOrder: config.useNewAttentionOrder ?? false,
    pool: config.pool ?? 'attention',
    head: config.head ?? 'regression',
    attentionDs: attentionDownsampleFactors(config.imageSize, attentionResolutions),
  };
  posInt(r.outChannels, 'outChannels');
  posInt(r.numResBlocks, 'numResBlocks');
  if (!(r.dropout >= 0 && r.dropout < 1)) throw new RangeError(`'config.dropout' passed to 'createRegressor' must be in [0, 1), got ${r.dropout}`);
  if (r.pool !== 'attention' && r.pool !== 'adaptive') throw new RangeError(`'config.pool' passed to 'createRegressor' must be 'attention' or 'adaptive', got '${String(r.pool)}'`);
  if (r.head !== 'regression' && r.head !== 'classifier') {
    throw new RangeError(`'config.head' passed to 'createRegressor' must be 'regression' (the authors' head: GroupNorm, AttentionPool2d) or 'classifier' (guided-diffusion's: GroupNorm, SiLU, AttentionPool2d), got '${String(r.head)}'`);
  }
  if (channelMult.length === 0) throw new RangeError(`'config.channelMult' passed to 'createRegressor' must not be empty`);
  for (const m of channelMult) {
    const ch = Math.trunc(m * r.modelChannels);
    if (!(m > 0) || ch % 32 !== 0) {
      throw new RangeError(`'config.channelMult' passed to 'createRegressor': ${m} x modelChannels ${r.modelChannels} = ${ch} channels, not a positive multiple of 32 (GroupNorm groups)`);
    }
  }
  const factor = 2 ** (channelMult.length - 1);
  if (r.imageSize % factor !== 0) {
    throw new RangeError(`'config.imageSize' passed to 'createRegressor' must be divisible by 2^(levels-1) = ${factor}, got ${r.imageSize}`);
  }
  if (r.numHeadChannels === -1) {
    if (r.pool === 'attention') throw new RangeError(`'config.numHeadChannels' passed to 'createRegressor' must be set (not -1) with the attention pool`);
    posInt(r.numHeads, 'numHeads');
  } else posInt(r.numHeadChannels, 'numHeadChannels');
  return r;
}

/**
 * The regressor config stored in a tumorcast checkpoint's metadata (the JSON
 * under `tumorcast.regressor.config`), ready for `createRegressor`. Configs
 * written before the `head` option existed describe the classifier head
 * (GroupNorm, SiLU, AttentionPool2d), which tumorcast always built then, so a
 * config without `head` gets `head: 'classifier'`.
 *
 * @param json - the metadata value (JSON text) or the parsed object.
 * @param source - where it comes from, for errors.
 */
export function regressorConfigFromMetadata(json: string | Readonly<Record<string, unknown>>, source: string): RegressorConfig {
  let obj: unknown = json;
  if (typeof json === 'string') {
    try {
      obj = JSON.parse(json);
    } catch {
      throw new RangeError(`${source}: the regressor config in the metadata is not valid JSON`);
    }
  }
  if (obj === null || typeof obj !== 'object' || Array.isArray(obj)) throw new RangeError(`${source}: the regressor config in the metadata must be a JSON object`);
  const c = obj as Record<string, unknown>;
  return { ...(c as unknown as RegressorConfig), head: (c['head'] as RegressorHead | undefined) ?? 'classifier' };
}
