/**
 * @packageDocumentation
 * Gaussian diffusion (guided-diffusion conventions) on TensorFlow.js:
 * schedules, respacing, q-sample, posterior, p-mean-variance, training losses,
 * DDPM and DDIM sampling, DDIM inversion. The model is a plain function; see
 * the package README for the image value convention (the networks' data range).
 */


export { namedBetaSchedule, betasForAlphaBar, LINEAR_SCHEDULE_MIN_STEPS } from './schedule.js';
export type { ScheduleName } from './schedule.js';
export { spaceTimesteps } from './respace.js';
export { createDiffusion, DIFFUSION_CONFIG_KEY } from './diffusion.js';
export type { Diffusion, DiffusionOptions, FixedVariance } from './diffusion.js';
export { normalTensor, originalTimesteps } from './tensors.js';
export type { DiffusionModel, Timesteps, ClassLabels } from './tensors.js';
export {
  qSample, qPosteriorMeanVariance, predictXStartFromEps, predictEpsFromXStart, pMeanVariance,
} from './process.js';
export type { GaussianParams, PMeanVarianceOptions, PMeanVarianceResult } from './process.js';
export {
  trainingLosses, stopGradient, normalKl, approxStandardNormalCdf, discretizedGaussianLogLikelihood,
} from './losses.js';
export type { TrainingLossOptions, TrainingLosses } from './losses.js';
export {
  ddimStep, ddimReverseStep, ddpmStep, ddimSampleLoop, ddpmSampleLoop, ddimReverseLoop,
} from './sampling.js';
export type {
  StepNoise, CondScoreInfo, CondScoreFn, DdimStepOptions, StepResult, DdimReverseStepOptions, DdpmStepOptions,
  LoopProgress, LoopOptions, DdimLoopOptions, DdpmLoopOptions, DdimReverseLoopOptions,
} from './sampling.js';
export {
  toModelRange, fromModelRange, backgroundValue, checkDataRange, isDataRange, dataRangeFromMetadata,
  DATA_RANGES, DEFAULT_DATA_RANGE, REFERENCE_DATA_RANGE, DATA_RANGE_KEY,
} from './range.js';
export type { DataRange } from './range.js';
