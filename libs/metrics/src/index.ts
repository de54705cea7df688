/**
 * @packageDocumentation
 * `@tumorcast/metrics`: image similarity (MSE, MAE, PSNR, SSIM), overlap
 * (Dice, Jaccard, sensitivity, specificity, volume difference), surface
 * distances (Hausdorff, HD95, ASSD) on an exact anisotropic Euclidean distance
 * transform, and probability-map evaluation. Pure TypeScript; agrees with
 * scipy/skimage (see the package README for the exact definitions).
 */


export { fromNifti, fromTensor, fromTensorAsync } from './grid.js';
export type { Grid, Float64Grid, MaskGrid, NiftiLike, FromNiftiOptions, TensorLike, AsyncTensorLike } from './grid.js';
export { DEFAULT_EMPTY_MASK_POLICY } from './policy.js';
export type { EmptyMaskPolicy } from './policy.js';
export { mse, mae, psnr, ssim, perChannel } from './image.js';
export type { ImageMetricOptions, PsnrOptions, SsimOptions, ImageMetric } from './image.js';
export { overlapCounts, dice, jaccard, sensitivity, specificity, volumeDifference } from './overlap.js';
export type { OverlapOptions, OverlapCounts, VolumeDifferenceOptions } from './overlap.js';
export { euclideanDistanceTransform } from './edt.js';
export type { EdtOptions } from './edt.js';
export { surface, surfaceDistances, hausdorff, hausdorff95, assd } from './surface.js';
export type {
  SurfaceOptions,
  SurfaceDistanceOptions,
  Hausdorff95Options,
  AssdOptions,
  SurfaceDistances,
} from './surface.js';
export { percentile, percentileInPlace } from './percentile.js';
export { brierScore, evaluateProbabilityMap } from './probability.js';
export type { BrierOptions, ProbabilityMapOptions, ThresholdResult, ProbabilityMapEvaluation } from './probability.js';
export { wilcoxon, normalSf } from './wilcoxon.js';
export type { WilcoxonOptions, WilcoxonResult, WilcoxonZeroMethod, WilcoxonAlternative } from './wilcoxon.js';
