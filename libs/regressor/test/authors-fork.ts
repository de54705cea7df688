// Reads the golden files of tools/networks/make_authors_fixtures.py: a tiny U-Net and
// regressor built and saved as the authors' guided-diffusion fork does, and PyTorch's
// outputs for them. Used by the regressor, guided-sampler and predict tests.
import * as tf from '@tensorflow/tfjs';
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { readSafetensors } from '@tumorcast/nn';
import type { RegressorConfig } from '../src/index.js';

/** Folder of the fixtures. */
export const AUTHORS_FORK_DIR = fileURLToPath(new URL('./fixtures/authors-fork/', import.meta.url));
/** The authors'-fork U-Net, as `torch.save` of its state dict (nn.Parameter values). */
export const AUTHORS_UNET_PT = `${AUTHORS_FORK_DIR}unet.pt`;
/** The authors'-fork regressor (regression head), saved the same way. */
export const AUTHORS_REGRESSOR_PT = `${AUTHORS_FORK_DIR}regressor.pt`;

/** One guided sample-known run of the reference. */
export interface AuthorsRun {
  respacing: string;
  noiseLevel: number;
  scale: number;
  steps: number;
  predictions: number[][];
  finalPrediction: number[];
  finalPredictionScale0: number[];
  latent: Float32Array;
  sample: Float32Array;
  sampleScale0: Float32Array;
}

/** The reference outputs and the networks' configs in tumorcast's terms. */
export interface AuthorsReference {
  io: Map<string, { shape: number[]; data: Float32Array | BigInt64Array }>;
  /** The U-Net's config for `createUNet` (a plain object: the test imports no U-Net types). */
  unetConfig: Record<string, unknown>;
  /** The regressor's config for `createRegressor` (the regression head is the default). */
  regressorConfig: RegressorConfig;
  runs: AuthorsRun[];
  baselineBurden: number[];
  relativeChange: number[];
  classLabel: number;
}

/** Reads `reference.safetensors`. */
export function loadAuthorsReference(): AuthorsReference {
  const file = readSafetensors(readFileSync(`${AUTHORS_FORK_DIR}reference.safetensors`), { source: 'reference.safetensors' });
  const io = new Map<string, { shape: number[]; data: Float32Array | BigInt64Array }>();
  for (const [k, v] of file.tensors) io.set(k, { shape: v.shape, data: v.data as Float32Array | BigInt64Array });
  const m = file.metadata;
  // The fixture's kwargs, typed `never` so that each fits its config field.
  const u = JSON.parse(m['unet']!) as Record<
    | 'image_size' | 'in_channels' | 'model_channels' | 'out_channels' | 'num_res_blocks' | 'attention_resolutions' | 'dropout'
    | 'channel_mult' | 'conv_resample' | 'num_classes' | 'num_heads' | 'num_head_channels' | 'use_scale_shift_norm'
    | 'resblock_updown' | 'use_new_attention_order',
    never
  >;
  const size: number = u['image_size'];
  const attention: number[] = u['attention_resolutions'];
  const r = JSON.parse(m['regressor']!) as Record<
    | 'image_size' | 'regressor_width' | 'regressor_depth' | 'attention_resolutions' | 'channel_mult' | 'num_head_channels'
    | 'use_scale_shift_norm' | 'resblock_updown' | 'pool',
    never
  >;
  const runs = (JSON.parse(m['runs']!) as Omit<AuthorsRun, 'latent' | 'sample' | 'sampleScale0'>[]).map((run, k) => ({
    ...run,
    latent: io.get(`guided.${k}.latent`)!.data as Float32Array,
    sample: io.get(`guided.${k}.sample`)!.data as Float32Array,
    sampleScale0: io.get(`guided.${k}.sampleScale0`)!.data as Float32Array,
  }));
  return {
    io,
    unetConfig: {
      imageSize: size,
      inChannels: u['in_channels'],
      modelChannels: u['model_channels'],
      numResBlocks: u['num_res_blocks'],
      // the fixture lists downsample factors; tumorcast takes feature-map sizes
      attentionResolutions: attention.map((ds) => size / ds),
      learnSigma: u['out_channels'] === 2 * u['in_channels'],
      dropout: u['dropout'],
      channelMult: u['channel_mult'],
      convResample: u['conv_resample'],
      numClasses: u['num_classes'],
      numHeads: u['num_heads'],
      numHeadChannels: u['num_head_channels'],
      useScaleShiftNorm: u['use_scale_shift_norm'],
      resblockUpdown: u['resblock_updown'],
      useNewAttentionOrder: u['use_new_attention_order'],
    },
    regressorConfig: {
      imageSize: r['image_size'],
      inChannels: 4,
      modelChannels: r['regressor_width'],
      numResBlocks: r['regressor_depth'],
      attentionResolutions: r['attention_resolutions'],
      channelMult: r['channel_mult'],
      numHeadChannels: r['num_head_channels'],
      useScaleShiftNorm: r['use_scale_shift_norm'],
      resblockUpdown: r['resblock_updown'],
      pool: r['pool'],
    },
    runs,
    baselineBurden: JSON.parse(m['baselineBurden']!) as number[],
    relativeChange: JSON.parse(m['relativeChange']!) as number[],
    classLabel: Number(m['classLabel']),
  };
}

/** An io tensor as a float32 tfjs tensor (int64 labels become plain numbers). */
export function refTensor(ref: AuthorsReference, name: string): tf.Tensor {
  const t = ref.io.get(name);
  if (!t) throw new Error(`reference.safetensors lacks ${name}`);
  const data = t.data instanceof BigInt64Array ? Float32Array.from(t.data, (v) => Number(v)) : t.data;
  return tf.tensor(data, t.shape);
}

/** An io tensor as a number array. */
export function refArray(ref: AuthorsReference, name: string): number[] {
  const t = ref.io.get(name);
  if (!t) throw new Error(`reference.safetensors lacks ${name}`);
  return Array.from(t.data as ArrayLike<number | bigint>, (v) => Number(v));
}

/** The state-dict names and shapes of the fork's preset-sized networks. */
export function authorsPresetShapes(): Record<string, { parameters: number; shapes: [string, number[]][] }> {
  return JSON.parse(readFileSync(`${AUTHORS_FORK_DIR}preset_shapes.json`, 'utf8')) as Record<string, { parameters: number; shapes: [string, number[]][] }>;
}
