// Network building blocks: guided-diffusion's layers on tfjs variables, NHWC,
// parameters under PyTorch state_dict names.
export {
  ParamStore,
  WeightsMismatchError,
  tfShapeOf,
  torchToTf,
  tfToTorch,
} from './params.js';
export type {
  ParamLayout,
  ParamInit,
  ParamEntry,
  StateTensor,
  StateDict,
  LoadStateDictOptions,
  SaveWeightsOptions,
  LoadWeightsOptions,
  ParamStoreOptions,
} from './params.js';
export {
  groupNorm,
  groupNormSilu,
  silu,
  conv2d,
  linear,
  timestepEmbedding,
  upsampleNearest2x,
  avgPool2x,
  addBroadcast,
  qkvAttention,
  bmm,
  dropout,
} from './ops.js';
export type {
  FlopCounter,
  ForwardContext,
  SeedSource,
  GroupNormOptions,
  Conv2dOptions,
  TimestepEmbeddingOptions,
  QkvAttentionOptions,
} from './ops.js';
export {
  GroupNorm,
  Conv2d,
  Linear,
  Downsample,
  Upsample,
  ResBlock,
  AttentionBlock,
  AttentionPool2d,
  TimeEmbed,
  Embedding,
  EmbedSequential,
} from './blocks.js';
export type {
  EmbedLayer,
  Conv2dLayerOptions,
  ResBlockOptions,
  AttentionBlockOptions,
  UpsampleOptions,
} from './blocks.js';
export { checkpoint, recomputeGradients } from './checkpoint.js';
export type { CheckpointedForward, CheckpointOptions } from './checkpoint.js';
export { buildInputBlocks, buildMiddleBlock, defaultChannelMult, attentionDownsampleFactors } from './encoder.js';
export type { EncoderSpec, InputBlocks } from './encoder.js';
