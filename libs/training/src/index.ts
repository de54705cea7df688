/**
 * @packageDocumentation
 * Training of tumorcast's networks as a library: {@link trainDiffusion},
 * {@link trainRegressor} and {@link trainSegmenter} train the three networks
 * on slices in the BraTS slice layout; {@link runTraining} trains a network
 * of one's own with the same loop (seeded steps, AdamW, EMA, the memory
 * check, checkpoints, resume, fine-tuning from a weights file ({@link loadInitWeights}),
 * `log.csv` and `loss.svg`, SIGINT/SIGTERM
 * honoured within one step); {@link validateCheckpoint} scores a checkpoint.
 * Node only: it reads data folders and writes checkpoints. `tumorcast-train`
 * is a thin command line on top.
 */
export {
  TRAINING_DEFAULTS, DIFFUSION_PROCESS_DEFAULTS, resolveTrainingOptions, resolveDiffusionProcess, withDefaults, checkNumber, recordedConfig,
} from './options.js';
export type { TrainingOptions, DiffusionProcessOptions, Resolved, ResolvedTrainingOptions, ResolvedDiffusionProcess } from './options.js';
export {
  trainDiffusion, diffusionHooks, resolveDiffusionTrainingOptions, unetConfigOf, diffusionStepBytes, diffusionValidationMse, DIFFUSION_TRAINING_DEFAULTS,
} from './diffusion.js';
export type { DiffusionTrainingOptions, DiffusionNetworkOptions, ResolvedDiffusionTrainingOptions } from './diffusion.js';
export {
  trainRegressor, regressorHooks, resolveRegressorTrainingOptions, regressorConfigOf, regressorStepBytes, regressorMse, REGRESSOR_TRAINING_DEFAULTS,
} from './regressor.js';
export type { RegressorTrainingOptions, RegressorNetworkOptions, ResolvedRegressorTrainingOptions } from './regressor.js';
export { trainSegmenter, segmenterHooks, resolveSegmenterTrainingOptions, segmenterDice, SEGMENTER_TRAINING_DEFAULTS } from './segmenter.js';
export type { SegmenterTrainingOptions, ResolvedSegmenterTrainingOptions } from './segmenter.js';
export { validateCheckpoint, VALIDATE_DEFAULTS } from './validate.js';
export type { ValidateOptions, ValidateResult } from './validate.js';
export { runTraining, MEMORY_COLUMNS, meanOverSlices, drawNoise, noisedTensors, noisedValidationMean } from './train-skeleton.js';
export type { TrainHooks, StepLoss, PreparedStepLoss, MeanOverSlicesOptions, NoiseDraws, NoisedValidationOptions } from './train-skeleton.js';
export { trainLoop, prepareLog, scalarValue, scalarValueAsync } from './loop.js';
export type { TrainLoopOptions, TrainLoopResult, StopSignal } from './loop.js';
export {
  saveCheckpoint, loadCheckpoint, latestCheckpoint, latestIntactCheckpoint, checkpointFiles, checkpointProblem, safetensorsProblem,
  readCheckpointInfo, stepOfCheckpoint, stepTag,
} from './checkpoint.js';
export type { TrainState, LatestIntactCheckpoint } from './checkpoint.js';
export { resolveResume, prepareResultsDir } from './resume.js';
export { loadInitWeights, isTorchFile, INIT_WEIGHTS_KEY } from './init-weights.js';
export type { InitWeightsInfo, InitWeightsTarget } from './init-weights.js';
export type { PrepareResultsDirOptions } from './resume.js';
export {
  readSafetensorsMetadata, assertResumable, UNET_CONFIG_KEY, DIFFUSION_CONFIG_KEY, REGRESSOR_CONFIG_KEY, SEGMENTER_CONFIG_KEY, DATA_RANGE_KEY,
} from './metadata.js';
export { openSlices, toModelBatch, OPEN_SLICES_DEFAULTS } from './data.js';
export type { SliceBatch, SliceSource, OpenSlicesOptions } from './data.js';
export { niftiSliceShape, checkSameShape } from './data-nifti.js';
