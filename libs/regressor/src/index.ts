/**
 * @packageDocumentation
 * @tumorcast/regressor — guided-diffusion's EncoderUNetModel as the
 * tumour-burden regressor, with the input gradients that guidance needs and
 * its training loss, weight-compatible with PyTorch checkpoints.
 */
export { createRegressor, Regressor, REGRESSOR_CONFIG_KEY } from './regressor.js';
export type {
  CreateRegressorOptions,
  RegressorApplyOptions,
  Timesteps,
  OutputWeights,
  ValueAndGradient,
} from './regressor.js';
export { adversarialPerturbation, regressorTrainingLoss } from './loss.js';
export type { AdversarialPerturbationOptions, RegressorModel, RegressorTrainingLoss, RegressorTrainingLossOptions } from './loss.js';
export { REGRESSOR_PRESETS, REGRESSOR_HEADS, resolveRegressorConfig, regressorConfigFromMetadata } from './config.js';
export type { RegressorConfig, ResolvedRegressorConfig, RegressorPresetName, RegressorPool, RegressorHead } from './config.js';

