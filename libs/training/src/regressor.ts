/**
 * The regressor's training: the tumour-burden regressor on noised
 * slices x_t = q_sample(x0, t) at uniform t (x0 in `dataRange`), target =
 * the burden of the clean slice (count(seg>0)/count(t2f!=0)), MSE
 * (`regressorTrainingLoss` of @tumorcast/regressor), AdamW;
 * validation MSE on held-out slices every `evalInterval` steps.
 * `regressorHead` picks the attention-pool head; `adversarialEpsilon` > 0
 * trains on adversarially perturbed x_t (`adversarialPerturbation`).
 */
import * as tf from '@tensorflow/tfjs';
import { adversarialPerturbation, createRegressor, regressorTrainingLoss } from '@tumorcast/regressor';
import type { Regressor, RegressorConfig, RegressorHead } from '@tumorcast/regressor';
import { createDiffusion } from '@tumorcast/diffusion';
import type { DataRange, Diffusion } from '@tumorcast/diffusion';
import type { TrainLoopResult } from './loop.js';
import type { SliceSource } from './data.js';
import { drawNoise, noisedTensors, noisedValidationMean, runTraining } from './train-skeleton.js';
import type { TrainHooks } from './train-skeleton.js';
import { CliError, ExitCode } from '@tumorcast/cli';
import { TRAINING_DEFAULTS, checkNumber, resolveDiffusionProcess, resolveTrainingOptions, withDefaults } from './options.js';
import type { DiffusionProcessOptions, Resolved, ResolvedDiffusionProcess, ResolvedTrainingOptions, TrainingOptions } from './options.js';
import { DATA_RANGE_KEY, DIFFUSION_CONFIG_KEY, REGRESSOR_CONFIG_KEY, assertResumable } from './metadata.js';

/** The regressor's shape (guided-diffusion's `EncoderUNetModel` options). */
export interface RegressorNetworkOptions {
  /** Network input size. @defaultValue 256 */
  imageSize?: number;
  /** Base channels (a multiple of 32). @defaultValue 32 */
  regressorWidth?: number;
  /** Residual blocks per level. @defaultValue 4 */
  regressorDepth?: number;
  /** Channel multiplier per level (empty: the default for the size). @defaultValue [] */
  regressorChannelMult?: readonly number[];
  /** Feature-map sizes with attention. @defaultValue [32, 16, 8] */
  regressorAttentionResolutions?: readonly number[];
  /** Channels per attention head. @defaultValue 64 */
  regressorNumHeadChannels?: number;
  /** Scale-shift norm. @defaultValue true */
  regressorUseScaleShiftNorm?: boolean;
  /** Residual up/down-sampling blocks. @defaultValue true */
  regressorResblockUpdown?: boolean;
  /** Output pooling. @defaultValue 'attention' */
  regressorPool?: 'attention';
  /**
   * The attention-pool head: `'regression'` (GroupNorm, AttentionPool2d: the
   * authors' regressor) or `'classifier'` (GroupNorm, SiLU, AttentionPool2d: stock guided-diffusion).
   * @defaultValue 'regression'
   */
  regressorHead?: RegressorHead;
  /** Gradient checkpointing of the blocks (same gradients, less memory, more time). @defaultValue false */
  regressorUseCheckpoint?: boolean;
}

/** Options of {@link trainRegressor}. */
export interface RegressorTrainingOptions extends TrainingOptions, DiffusionProcessOptions, RegressorNetworkOptions {
  /**
   * Draw training timesteps uniformly in [0, maxTimestep) (0: all of [0, T),
   * as the paper); guidance only queries t below its noise level.
   * @defaultValue 0
   */
  maxTimestep?: number;
  /**
   * Adversarial training (0: off, as the paper): the L2 radius, per image in
   * the network's data units, of a perturbation of x_t that
   * `adversarialPerturbation` of @tumorcast/regressor picks to most increase
   * the error; the regressor learns on the perturbed x_t. A regressor that
   * small changes cannot fool gives guidance gradients that change the
   * tumour rather than imperceptible details (Madry et al. 2018; Kawar et
   * al. 2022, robust classifier guidance). Each step costs about
   * `adversarialSteps + 1` plain steps. `val_mse` stays on clean x_t.
   * @defaultValue 0
   */
  adversarialEpsilon?: number;
  /** Projected gradient steps of the perturbation (used when `adversarialEpsilon` > 0). @defaultValue 1 */
  adversarialSteps?: number;
}

/** The defaults of {@link RegressorNetworkOptions} and {@link RegressorTrainingOptions}' own keys. */
export const REGRESSOR_TRAINING_DEFAULTS = {
  regressorWidth: 32,
  regressorDepth: 4,
  regressorChannelMult: [] as readonly number[],
  regressorAttentionResolutions: [32, 16, 8] as readonly number[],
  regressorNumHeadChannels: 64,
  regressorUseScaleShiftNorm: true,
  regressorResblockUpdown: true,
  regressorPool: 'attention' as const,
  regressorHead: 'regression' as RegressorHead,
  regressorUseCheckpoint: false,
  maxTimestep: 0,
  adversarialEpsilon: 0,
  adversarialSteps: 1,
};

/** {@link RegressorTrainingOptions} after the defaults. */
export type ResolvedRegressorTrainingOptions = ResolvedTrainingOptions & ResolvedDiffusionProcess
  & Resolved<Omit<RegressorTrainingOptions, keyof TrainingOptions | keyof DiffusionProcessOptions>, keyof typeof REGRESSOR_TRAINING_DEFAULTS>;

/** The network options after the defaults, checked. */
type RegressorOwnOptions = RegressorNetworkOptions & Pick<RegressorTrainingOptions, 'maxTimestep' | 'adversarialEpsilon' | 'adversarialSteps'>;

/** The network options (and the regressor's own training keys) after the defaults, checked. */
function resolveNetwork(options: RegressorOwnOptions): Resolved<RegressorOwnOptions, keyof typeof REGRESSOR_TRAINING_DEFAULTS | 'imageSize'> {
  const o = withDefaults(withDefaults(options, REGRESSOR_TRAINING_DEFAULTS), { imageSize: TRAINING_DEFAULTS.imageSize });
  checkNumber('imageSize', o.imageSize, { integer: true, min: 8 });
  checkNumber('regressorWidth', o.regressorWidth, { integer: true, min: 32 });
  checkNumber('regressorDepth', o.regressorDepth, { integer: true, min: 1 });
  checkNumber('regressorNumHeadChannels', o.regressorNumHeadChannels, { integer: true, min: 1 });
  checkNumber('maxTimestep', o.maxTimestep, { integer: true, min: 0 });
  checkNumber('adversarialEpsilon', o.adversarialEpsilon, { min: 0 });
  checkNumber('adversarialSteps', o.adversarialSteps, { integer: true, min: 1 });
  if (o.regressorHead !== 'regression' && o.regressorHead !== 'classifier') throw new CliError(`regressorHead must be 'regression' or 'classifier', got '${String(o.regressorHead)}'`, ExitCode.usage);
  return o;
}

/**
 * The options of a regressor training run with the defaults filled in,
 * checked (each problem names the option).
 *
 * @param options - see {@link RegressorTrainingOptions}.
 */
export function resolveRegressorTrainingOptions(options: RegressorTrainingOptions): ResolvedRegressorTrainingOptions {
  return { ...resolveTrainingOptions(options), ...resolveDiffusionProcess(options), ...resolveNetwork(options) };
}

/**
 * The regressor config the options describe (4 input channels, one output;
 * the defaults of {@link RegressorNetworkOptions} for keys not given).
 *
 * @param options - the network's shape.
 */
export function regressorConfigOf(options: RegressorNetworkOptions): RegressorConfig {
  const c = resolveNetwork(options);
  return {
    imageSize: c.imageSize,
    inChannels: 4,
    modelChannels: c.regressorWidth,
    outChannels: 1,
    numResBlocks: c.regressorDepth,
    attentionResolutions: [...c.regressorAttentionResolutions],
    ...(c.regressorChannelMult.length ? { channelMult: [...c.regressorChannelMult] } : {}),
    numHeadChannels: c.regressorNumHeadChannels,
    useScaleShiftNorm: c.regressorUseScaleShiftNorm,
    resblockUpdown: c.regressorResblockUpdown,
    pool: c.regressorPool,
    head: c.regressorHead,
    useCheckpoint: c.regressorUseCheckpoint,
  };
}

/**
 * Rough peak bytes one regressor training step adds to the weights: the
 * activations, per image k * size^2 * width * (depth + 1) floats, and the
 * gradients and AdamW's moments. k is twice what was measured on wasm for
 * the paper regressor (about 20 without checkpointing at 128x128, batch 2;
 * about 2 with it at 256x256, batches 2 and 4).
 *
 * @param options - the network's shape and the batch size.
 * @param params - the network's parameter count.
 */
export function regressorStepBytes(options: RegressorNetworkOptions & { batchSize?: number }, params: number): number {
  const c = resolveNetwork(options);
  const batch = options.batchSize ?? TRAINING_DEFAULTS.batchSize;
  const k = c.regressorUseCheckpoint ? 4 : 40;
  return 4 * (batch * k * c.imageSize * c.imageSize * c.regressorWidth * (c.regressorDepth + 1) + 4 * params);
}

/**
 * Mean squared error of the regressor's burden prediction on `source` at
 * seeded timesteps (the stream `regressor-validation` of `seed`), images in
 * `dataRange` (the network's).
 *
 * @param net - the regressor.
 * @param diffusion - the diffusion process that noises the slices.
 * @param source - the slices (with segmentations).
 * @param batchSize - slices per batch.
 * @param seed - seed of the timesteps and the noise.
 * @param perSlice - noise levels per slice.
 * @param dataRange - the network's data range.
 */
export function regressorMse(
  net: Regressor, diffusion: Diffusion, source: SliceSource, batchSize: number, seed: number, perSlice = 1,
  dataRange: DataRange = '[-1,1]',
): Promise<number> {
  const options = { batchSize, passes: perSlice, seed, stream: 'regressor-validation', maxT: diffusion.numTimesteps, range: dataRange };
  return noisedValidationMean(source, options, (b, x0, t, eps) => regressorTrainingLoss(diffusion, net, x0, t, eps, b.burden).loss.sum());
}

/**
 * The burden regressor and its loss on noised slices as {@link TrainHooks},
 * for {@link runTraining}.
 *
 * @param options - see {@link RegressorTrainingOptions}.
 */
export function regressorHooks(options: RegressorTrainingOptions): TrainHooks<Regressor> {
  const c = resolveRegressorTrainingOptions(options);
  const diffusion = createDiffusion({ steps: c.diffusionSteps, schedule: c.noiseSchedule, learnSigma: false });
  const tMax = c.maxTimestep > 0 ? Math.min(c.maxTimestep, diffusion.numTimesteps) : diffusion.numTimesteps;
  return {
    kind: 'regressor',
    title: 'regressor',
    requireLabels: { training: true, validation: true },
    createNet: () => createRegressor(regressorConfigOf(c), { seed: c.seed }),
    memory: (net) => ({
      bytes: regressorStepBytes(c, net.parameterCount),
      what: `a regressor training step of batch ${c.batchSize} at ${c.imageSize}x${c.imageSize}`,
      hint: `reduce batch_size (--batch-size) or image_size${c.regressorUseCheckpoint ? '' : ', or set regressor_use_checkpoint (--regressor-use-checkpoint)'}`,
    }),
    checkResume: (file) => assertResumable(file, { dataRange: c.dataRange, head: c.regressorHead }),
    columns: ['loss', 'val_mse', 'lr'],
    objective: (net, b, rng) => {
      const draws = drawNoise(rng, b, tMax);
      // The perturbation needs its own input gradient: computed before (outside) the optimiser's tape.
      const perturbation = c.adversarialEpsilon > 0
        ? tf.tidy(() => {
          const { x0, eps } = noisedTensors(b, draws, c.imageSize, c.dataRange);
          return adversarialPerturbation(diffusion, net, x0, draws.t, eps, b.burden, { epsilon: c.adversarialEpsilon, steps: c.adversarialSteps });
        })
        : undefined;
      return {
        loss: () => {
          const { x0, eps } = noisedTensors(b, draws, c.imageSize, c.dataRange);
          return regressorTrainingLoss(diffusion, net, x0, draws.t, eps, b.burden, perturbation ? { perturbation } : {}).loss.mean() as tf.Scalar;
        },
        held: perturbation ? [perturbation] : [],
      };
    },
    evaluate: (net, val) => regressorMse(net, diffusion, val, c.batchSize, c.seed, 1, c.dataRange).then((v) => ({ val_mse: v })),
    metadata: (net) => ({
      [REGRESSOR_CONFIG_KEY]: JSON.stringify(net.config),
      [DIFFUSION_CONFIG_KEY]: JSON.stringify({ steps: c.diffusionSteps, schedule: c.noiseSchedule, learnSigma: false }),
      [DATA_RANGE_KEY]: c.dataRange,
    }),
  };
}

/**
 * Trains the tumour-burden regressor on noised slices (see the module
 * comment); the checkpoints carry the regressor config, the diffusion
 * process and the data range in their metadata.
 *
 * @param options - see {@link RegressorTrainingOptions}.
 * @returns what the loop did (steps, whether a signal stopped it, the last checkpoint).
 */
export function trainRegressor(options: RegressorTrainingOptions): Promise<TrainLoopResult> {
  return runTraining(options, regressorHooks(options));
}
