/**
 * The config keys of each training command (the keys of the YAML configs in
 * `apps/train/configs/`), with defaults; the resolved configs' types come
 * from them. The training keys are the snake_case forms of
 * @tumorcast/training's options, with the same defaults (a test checks both).
 */
import { defineConfigSchema } from '@tumorcast/cli';
import type { ConfigOf } from '@tumorcast/cli';

/** The keys every training command shares. */
export const COMMON_SCHEMA = defineConfigSchema({
  data_dir: { type: 'string[]', description: 'data root(s) in the BraTS slice layout (training/ under each); comma-separated list allowed' },
  data_dir_val: { type: 'string[]', description: 'validation data root(s) (validation/ and testing/ with test_labels/, or training/)', optional: true },
  image_size: { type: 'integer', description: 'network input size: slices are zero-padded 240 -> 256, then resized to this', default: 256, min: 8 },
  lr: { type: 'number', description: 'AdamW learning rate', default: 1e-4, min: 0 },
  weight_decay: { type: 'number', description: 'AdamW decoupled weight decay', default: 0, min: 0 },
  batch_size: { type: 'integer', description: 'slices per step', default: 10, min: 1 },
  iterations: { type: 'integer', description: 'train until this many steps in total', default: 100000, min: 1 },
  save_interval: { type: 'integer', description: 'save a checkpoint every N steps (0: only at the end)', default: 5000, min: 0 },
  eval_interval: { type: 'integer', description: 'validate every N steps (0: never)', default: 0, min: 0 },
  results_dir: { type: 'string', description: 'where checkpoints, log.csv and loss.svg go', default: './results' },
  resume_checkpoint: { type: 'string', description: "a modelNNNNNN.safetensors to resume from, or 'latest' (newest in results_dir)", optional: true },
  init_weights: {
    type: 'string',
    description: "fine-tune: start at step 0 with a fresh optimiser from the weights in FILE (a modelNNNNNN/emaNNNNNN.safetensors, an exported float16 model such as apps/predict/models/*.safetensors, or a PyTorch .pt state_dict) instead of a random initialisation; its network must match the config's; not with resume_checkpoint",
    optional: true,
  },
  seed: { type: 'integer', description: 'seed of initialisation, batches and noise', default: 0, min: 0 },
  max_slices: { type: 'integer', description: 'use at most N slices of the data (0: all)', default: 0, min: 0 },
});

const diffusionProcess = defineConfigSchema({
  diffusion_steps: { type: 'integer', description: 'T, the number of diffusion steps', default: 1000, min: 1 },
  noise_schedule: { type: 'string', description: 'beta schedule', default: 'linear', choices: ['linear', 'cosine'] },
  data_range: {
    type: 'string',
    description: "value range the network sees: '[-1,1]' (2x - 1 of the [0,1] slices, the DDPM convention) or '[0,1]' (the slices unchanged, as the authors' code); recorded in the checkpoint; the diffusion model and the regressor used together must share it (quote it in YAML)",
    default: '[-1,1]',
    choices: ['[-1,1]', '[0,1]'],
  },
});

/** `tumorcast-train diffusion` keys (guided-diffusion UNetModel options). */
export const DIFFUSION_SCHEMA = defineConfigSchema({
  ...COMMON_SCHEMA,
  ...diffusionProcess,
  num_channels: { type: 'integer', description: 'U-Net base channels (multiple of 32)', default: 128, min: 32 },
  num_res_blocks: { type: 'integer', description: 'residual blocks per level', default: 2, min: 1 },
  channel_mult: { type: 'integer[]', description: "channel multiplier per level ('' = guided-diffusion's default for the size)", default: [] },
  attention_resolutions: { type: 'integer[]', description: 'feature-map sizes with attention, as on guided-diffusion command lines', default: [16] },
  num_heads: { type: 'integer', description: 'attention heads', default: 1, min: 1 },
  num_head_channels: { type: 'integer', description: 'channels per head (-1: use num_heads)', default: -1, min: -1 },
  learn_sigma: { type: 'boolean', description: 'learn the variance (hybrid loss, 8 output channels)', default: true },
  class_cond: { type: 'boolean', description: 'condition on slice-has-tumour (2 classes)', default: true },
  use_scale_shift_norm: { type: 'boolean', description: 'scale-shift norm in residual blocks', default: false },
  resblock_updown: { type: 'boolean', description: 'residual up/down-sampling blocks', default: false },
  dropout: { type: 'number', description: 'dropout rate', default: 0, min: 0, max: 1 },
  use_checkpoint: {
    type: 'boolean',
    description: 'gradient checkpointing: recompute each block in the backward pass instead of keeping its activations (same gradients, far less memory, about a third more time)',
    default: false,
  },
  ema_rate: { type: 'number', description: 'EMA rate of the weights', default: 0.9999, min: 0, max: 0.999999 },
});

/** `tumorcast-train regressor` keys (guided-diffusion EncoderUNetModel options). */
export const REGRESSOR_SCHEMA = defineConfigSchema({
  ...COMMON_SCHEMA,
  ...diffusionProcess,
  regressor_width: { type: 'integer', description: 'regressor base channels (multiple of 32)', default: 32, min: 32 },
  regressor_depth: { type: 'integer', description: 'residual blocks per level', default: 4, min: 1 },
  regressor_channel_mult: { type: 'integer[]', description: "channel multiplier per level ('' = default for the size)", default: [] },
  regressor_attention_resolutions: { type: 'integer[]', description: 'feature-map sizes with attention', default: [32, 16, 8] },
  regressor_num_head_channels: { type: 'integer', description: 'channels per attention head', default: 64, min: 1 },
  regressor_use_scale_shift_norm: { type: 'boolean', description: 'scale-shift norm', default: true },
  regressor_resblock_updown: { type: 'boolean', description: 'residual up/down-sampling blocks', default: true },
  regressor_pool: { type: 'string', description: 'output pooling', default: 'attention', choices: ['attention'] },
  regressor_head: {
    type: 'string',
    description: "attention-pool head: 'regression' (GroupNorm, AttentionPool2d: the authors' regressor) or 'classifier' (GroupNorm, SiLU, AttentionPool2d: stock guided-diffusion, the shipped demo regressor)",
    default: 'regression',
    choices: ['regression', 'classifier'],
  },
  regressor_use_checkpoint: {
    type: 'boolean',
    description: 'gradient checkpointing of the regressor\'s blocks (same gradients, less memory, more time)',
    default: false,
  },
  max_timestep: { type: 'integer', description: 'draw training timesteps uniformly in [0, max_timestep) (0: all of [0, T), as the paper); guidance only queries t < its noise level', default: 0, min: 0 },
  adversarial_epsilon: {
    type: 'number',
    description: 'adversarial training (0: off, as the paper): L2 radius per image, in the network\'s data units, of the worst-case perturbation of x_t the regressor learns on; makes guidance change the tumour, not imperceptible details (each step costs about adversarial_steps + 1 plain steps)',
    default: 0,
    min: 0,
  },
  adversarial_steps: { type: 'integer', description: 'projected gradient steps of the adversarial perturbation', default: 1, min: 1 },
});

/** `tumorcast-train segmenter` keys. */
export const SEGMENTER_SCHEMA = defineConfigSchema({
  ...COMMON_SCHEMA,
  base_channels: { type: 'integer', description: 'segmenter base channels (multiple of 32)', default: 32, min: 32 },
  channel_mult: { type: 'integer[]', description: 'channel multiplier per level', default: [1, 2, 2] },
  num_res_blocks: { type: 'integer', description: 'conv blocks per level', default: 1, min: 1 },
  dice_weight: { type: 'number', description: 'weight of the soft Dice loss', default: 1, min: 0 },
  bce_weight: { type: 'number', description: 'weight of the binary cross-entropy', default: 1, min: 0 },
  soft_labels: {
    type: 'boolean',
    description: 'train on the fraction of each pixel that is tumour (the label resized as the image is, before its 0.5 threshold): borders to a fraction of a pixel when masks are brought back to the native grid',
    default: false,
  },
});

/** `tumorcast-train validate` keys. */
export const VALIDATE_SCHEMA = defineConfigSchema({
  checkpoint: { type: 'string', description: 'a modelNNNNNN.safetensors (diffusion or regressor) to evaluate' },
  data_dir: { type: 'string[]', description: 'data root(s) to evaluate on' },
  batch_size: { type: 'integer', description: 'slices per batch', default: 4, min: 1 },
  max_slices: { type: 'integer', description: 'evaluate at most N slices (0: all)', default: 0, min: 0 },
  timesteps_per_slice: { type: 'integer', description: 'noise levels drawn per slice (uniform in [0, T))', default: 4, min: 1 },
  seed: { type: 'integer', description: 'seed of the noise and timesteps', default: 0, min: 0 },
  out: { type: 'string', description: 'write the results as JSON here', optional: true },
});

/** `tumorcast-train prepare` keys. */
export const PREPARE_SCHEMA = defineConfigSchema({
  input: { type: 'string', description: 'folder of 3-D BraTS volumes (BraTS-GLI-xxxxx-xxx-t1n.nii.gz, ...), searched recursively' },
  out: { type: 'string', description: 'output root; slices go to <out>/<split>/<pid>_<slice>/' },
  split: { type: 'string', description: 'which split folder to write', default: 'training', choices: ['training', 'validation', 'testing'] },
  slices: { type: 'string', description: "'all', 'tumour' (slices with tumour), or a range 'a:b'", default: 'tumour' },
  dataset: { type: 'string', description: 'dataset name used in file names', default: 'brats' },
});

/** The resolved `diffusion` config. */
export type DiffusionConfig = ConfigOf<typeof DIFFUSION_SCHEMA>;
/** The resolved `regressor` config. */
export type RegressorConfig = ConfigOf<typeof REGRESSOR_SCHEMA>;
/** The resolved `segmenter` config. */
export type SegmenterConfig = ConfigOf<typeof SEGMENTER_SCHEMA>;
/** The resolved `validate` config. */
export type ValidateConfig = ConfigOf<typeof VALIDATE_SCHEMA>;
/** The resolved `prepare` config. */
export type PrepareConfig = ConfigOf<typeof PREPARE_SCHEMA>;
