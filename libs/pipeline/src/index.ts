/**
 * @packageDocumentation
 * `@tumorcast/pipeline`: the prediction method as functions — a baseline
 * slice and a relative change in, the guided follow-up, its tumour mask and
 * the growth probability map out (`predictSlice`), scored against a real
 * follow-up (`scoreSlice`). This entry needs no `node:fs` (it runs where
 * TensorFlow.js runs); files — loading networks, data sets on disk, the
 * growth fit from a CSV, output folders, the report — are under
 * `@tumorcast/pipeline/node`.
 */
export { PipelineError, PipelineInputError, PipelineDataError, OutputFolderError, apiOptionName } from './errors.js';
export type { PipelineErrorKind, OptionNamer } from './errors.js';
export { DEFAULT_SAMPLE_SETTINGS, DEMO_NETWORK_SETTINGS, BASELINE_BURDEN_SOURCES, GUIDANCE_NETWORKS, samplingDiffusion, checkSettingsFit, checkBaselineBurden, checkGuidance, checkGradientTemperature, checkGradientMarginPixels, guidanceSummary, gradientShaping, recordJson, RECORDED_SETTING_DEFAULTS, settingsForRecord, settingsFromRecord } from './settings.js';
export type { SampleSettings } from './settings.js';
export { segmenterOf } from './networks.js';
export type { PredictionNetworks, DiffusionProcessConfig } from './networks.js';
export { toNative, maskToNative, channelOf, PADDED_SIZE } from './geometry.js';
export type { SliceImages } from './geometry.js';
export { predictSlice, regressorBaselineReading } from './predict.js';
export type { PredictSliceOptions, SlicePrediction, SliceProgressCallback } from './predict.js';
export type { ProbabilityMapRequest, ProbabilityMapRunner } from './parallel.js';
export { scoreSlice, scoreImage, scoresToCsv, summarise } from './evaluate.js';
export type { FollowupTruth, ImageScores, SliceScores, ScoreSummary } from './evaluate.js';
export { samplingPlan, describePlan, sliceProgress, GUIDED_STEP_WEIGHT } from './plan.js';
export type { SamplingPlan, ProgressSink } from './plan.js';
