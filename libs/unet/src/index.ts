/**
 * @packageDocumentation
 * @tumorcast/unet — guided-diffusion's UNetModel (the diffusion U-Net) on
 * TensorFlow.js, weight-compatible with PyTorch checkpoints.
 */
export { createUNet, UNet, UNET_CONFIG_KEY } from './unet.js';
/** Kept for callers of the package's earlier API: the shared implementation now lives in @tumorcast/nn. */
export { timestepTensor } from '@tumorcast/nn';
export type { CreateUNetOptions, UNetApplyOptions, Timesteps, Labels } from './unet.js';
export { UNET_PRESETS, resolveUNetConfig } from './config.js';
export type { UNetConfig, ResolvedUNetConfig, UNetPresetName } from './config.js';

export { estimateUNetTrainingMemory } from './memory.js';
export type { UNetMemoryOptions, UNetTrainingMemory } from './memory.js';
