/**
 * Metadata keys written into checkpoint files, so that a weights file alone
 * recreates its network: the network config (as `createUNet` /
 * `createRegressor` / `createSegmenterNet` take it) and the diffusion process
 * it was trained with. `tumorcast-predict` reads the same keys.
 */
import { SEGMENTER_CONFIG_KEY } from '@tumorcast/segmenter';

/** The network config (JSON) of a U-Net checkpoint (the key `UNet.saveWeights` uses too). */
export const UNET_CONFIG_KEY = 'tumorcast.unet.config';
/** The network config (JSON) of a regressor checkpoint (the key `Regressor.saveWeights` uses too). */
export const REGRESSOR_CONFIG_KEY = 'tumorcast.regressor.config';
/** The diffusion process (JSON `{ steps, schedule, learnSigma }`) a checkpoint was trained with. */
export const DIFFUSION_CONFIG_KEY = 'tumorcast.diffusion';
export { SEGMENTER_CONFIG_KEY };
