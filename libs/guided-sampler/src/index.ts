/**
 * @packageDocumentation
 * Regressor-guided DDIM from a known scan (method section 5), growth
 * probability maps, a training-free FLAIR segmenter, and per-slice targets.
 * Images are NHWC in the range the networks were trained on (`dataRange`:
 * [-1, 1] by default, [0, 1] for the authors' networks; see the README).
 */


export { guidedSampleKnown, GUIDANCE_INPUTS } from './guided.js';
export type { GuidedSampleKnownOptions, GuidedSampleKnownResult, GuidedProgress, GuidanceInput } from './guided.js';
export { regressorPredict, regressorValueAndGrad } from './regressor.js';
export type {
  Regressor, RegressorFn, RegressorObject, ValueAndInputGradient, RegressorValueAndGradient,
} from './regressor.js';
export { growthProbabilityMap } from './probability-map.js';
export type { GrowthProbabilityMapOptions, GrowthProbabilityMapResult } from './probability-map.js';
export { createFlairSegmenter, otsuThreshold } from './segmenter.js';
export type { Segmenter, SegmenterInput, FlairSegmenterOptions, ThresholdMethod } from './segmenter.js';
export { parseGrowthTargets } from './targets.js';
export type { GrowthTarget, GrowthTargets } from './targets.js';
export { estimateSamplerBytes, checkSamplerMemory, SAMPLER_IMAGE_COPIES } from './memory.js';
export { WASM_HEAP_LIMIT_BYTES } from '@tumorcast/nn';
export type { SamplerMemoryInput } from './memory.js';
export { toModelRange, fromModelRange, backgroundValue } from '@tumorcast/diffusion';
export type { DataRange } from '@tumorcast/diffusion';
