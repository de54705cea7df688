/**
 * @packageDocumentation
 * @tumorcast/segmenter — a learned tumour segmenter: a small 2-D U-Net
 * without timestep embedding (Dice + BCE), usable as the guided sampler's
 * `Segmenter` for growth probability maps, and its soft tumour burden
 * (`segmenterBurden`), differentiable, to guide sampling on the denoised
 * estimate.
 */
export { SEGMENTER_PRESETS, SEGMENTER_CONFIG_KEY, resolveSegmenterConfig } from './config.js';
export type { SegmenterConfig, ResolvedSegmenterConfig, SegmenterPresetName } from './config.js';
export { SegmenterNet, createSegmenterNet } from './net.js';
export type { CreateSegmenterNetOptions, SegmenterApplyOptions } from './net.js';
export { segmentationLoss, diceScore, diceScoreAsync } from './loss.js';
export type { SegmentationLossOptions, DiceScoreOptions } from './loss.js';
export { learnedSegmenter } from './segmenter.js';
export type { LearnedSegmenterInput, SegmenterInputRange, LearnedSegmenter, LearnedSegmenterOptions } from './segmenter.js';
export { segmenterBurden } from './burden.js';
export type { SegmenterBurdenFn, SegmenterBurdenOptions } from './burden.js';
export { saveSegmenter, loadSegmenter } from './io.js';
export type { SaveSegmenterOptions } from './io.js';

