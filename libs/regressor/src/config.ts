/**
 * Configuration of the tumour-burden regressor: guided-diffusion's
 * EncoderUNetModel options (camelCase), defaults in one place and presets;
 * the preset lookup, merging and checks are @tumorcast/nn's `configResolver`.
 */
import { attentionDownsampleFactors, configResolver, defaultChannelMult } from '@tumorcast/nn';

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
  /**
   * Gradient checkpointing (guided-diffusion's `use_checkpoint`): every
   * residual and attention block keeps only its inputs for the backward pass
   * and recomputes its activations there. Same outputs and gradients, less
   * memory per training step, more time (one more forward per block). No
   * effect on inference.
   * @defaultValue false
   */
  useCheckpoint?: boolean;
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
    useCheckpoint: false,
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
    useCheckpoint: false,
  }),
});

/** The resolved keys in the order the resolved config (and its JSON in weights files) lists them. */
const REGRESSOR_KEYS = [
  'imageSize', 'inChannels', 'modelChannels', 'outChannels', 'numResBlocks', 'attentionResolutions', 'dropout', 'channelMult',
  'convResample', 'numHeads', 'numHeadChannels', 'useScaleShiftNorm', 'resblockUpdown', 'useNewAttentionOrder', 'pool', 'head',
  'useCheckpoint',
] as const;

const resolveMerged = configResolver<RegressorConfig, RegressorPresetName, Omit<ResolvedRegressorConfig, 'attentionDs'>>({
  fn: 'createRegressor',
  presets: REGRESSOR_PRESETS,
  keys: REGRESSOR_KEYS,
  required: ['imageSize', 'inChannels', 'modelChannels'],
  defaults: (c) => ({
    outChannels: 1,
    numResBlocks: 2,
    attentionResolutions: [32, 16, 8],
    dropout: 0,
    // guided-diffusion's table covers a few sizes only: consulted only when channelMult is not given
    channelMult: c.channelMult ?? defaultChannelMult(c.imageSize),
    convResample: true,
    numHeads: 1,
    numHeadChannels: 64,
    useScaleShiftNorm: true,
    resblockUpdown: true,
    useNewAttentionOrder: false,
    pool: 'attention',
    head: 'regression',
    useCheckpoint: false,
  }),
  validate: (r, check) => {
    check.positiveInt(r.outChannels, 'outChannels');
    check.positiveInt(r.numResBlocks, 'numResBlocks');
    check.dropout(r.dropout);
    check.oneOf(r.pool, ['attention', 'adaptive'], 'pool');
    check.oneOf(r.head, REGRESSOR_HEADS, 'head',
      "'regression' (the authors' head: GroupNorm, AttentionPool2d) or 'classifier' (guided-diffusion's: GroupNorm, SiLU, AttentionPool2d)");
    check.channelMult(r.channelMult, r.modelChannels, 'modelChannels', 32, '32 (the GroupNorm groups)');
    check.divisibleByLevels(r.imageSize, r.channelMult.length);
    if (r.numHeadChannels === -1) {
      if (r.pool === 'attention') throw check.error('numHeadChannels', 'must be set (not -1) with the attention pool');
      check.positiveInt(r.numHeads, 'numHeads');
    } else check.positiveInt(r.numHeadChannels, 'numHeadChannels');
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
 * @defaultValue fn: 'createRegressor'
 */
export function resolveRegressorConfig(config: RegressorConfig | RegressorPresetName, fn = 'createRegressor'): ResolvedRegressorConfig {
  const r = resolveMerged(config, fn);
  return { ...r, attentionDs: attentionDownsampleFactors(r.imageSize, r.attentionResolutions) };
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
