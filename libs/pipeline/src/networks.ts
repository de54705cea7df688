/**
 * The networks a prediction runs with (however they were loaded), and the
 * segmenter it uses for maps and burdens.
 */
import * as tf from '@tensorflow/tfjs';
import { backgroundValue } from '@tumorcast/diffusion';
import type { DataRange, DiffusionModel } from '@tumorcast/diffusion';
import { createFlairSegmenter } from '@tumorcast/guided-sampler';
import type { Segmenter, SegmenterInput } from '@tumorcast/guided-sampler';
import { learnedSegmenter } from '@tumorcast/segmenter';
import type { SegmenterNet } from '@tumorcast/segmenter';
import type { UNet } from '@tumorcast/unet';
import type { Regressor } from '@tumorcast/regressor';

/** The diffusion process a checkpoint was trained with. */
export interface DiffusionProcessConfig {
  /** T. */
  steps: number;
  /** Beta schedule. */
  schedule: 'linear' | 'cosine';
  /** Whether the U-Net learns sigma. */
  learnSigma: boolean;
}

/** The networks of a prediction (see `loadModels` of `@tumorcast/pipeline/node`). */
export interface PredictionNetworks {
  /** The diffusion U-Net. */
  unet: UNet;
  /**
   * The U-Net's forward pass when it runs outside tfjs (ONNX Runtime, with
   * `loadModels`' `denoiser: 'onnx'`); the samplers call it in place of
   * `unet.apply`. Absent: `unet.apply`.
   */
  denoiser?: DiffusionModel;
  /** The regressor. */
  regressor: Regressor;
  /** The learned segmenter, when given (else the training-free FLAIR segmenter is used). */
  segmenter?: SegmenterNet;
  /** The diffusion process of the U-Net. */
  process: DiffusionProcessConfig;
  /** The networks' input size. */
  imageSize: number;
  /** The data range both networks were trained on: images are converted to it (and the map's FLAIR background follows it). */
  dataRange: DataRange;
  /** Frees every network. */
  dispose(): void;
}

/**
 * The segmenter used for maps and burdens: the learned one when loaded, else
 * the FLAIR one; both told the networks' data range (the images they get).
 *
 * @param networks - the networks.
 */
export function segmenterOf(networks: Pick<PredictionNetworks, 'segmenter' | 'dataRange'>): Segmenter {
  return networks.segmenter
    ? learnedSegmenter(networks.segmenter, { inputRange: networks.dataRange })
    : createFlairSegmenter({ background: backgroundValue(networks.dataRange) });
}

/**
 * What a segmenter's reading of `input.image` is brought to the native grid
 * from (with `maskToNative`): its tumour probabilities where it has them (a
 * learned segmenter), else its mask. A border then falls where the
 * probability crosses 0.5 between the networks' pixels, not on them.
 *
 * @param segmenter - the segmenter.
 * @param input - what it reads (one image: `[1, S, S, 4]`).
 * @returns the `S * S` values (the tensor it made is disposed).
 */
export async function segmenterReading(segmenter: Segmenter, input: SegmenterInput): Promise<Float32Array> {
  const t = (await (segmenter.probabilities ? segmenter.probabilities(input) : segmenter.segment(input))) as tf.Tensor4D;
  try {
    return Float32Array.from(await t.data());
  } finally {
    t.dispose();
  }
}
