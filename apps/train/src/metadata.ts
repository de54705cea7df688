/**
 * Metadata keys written into checkpoint files, so that a weights file alone
 * recreates its network: the network config (as `createUNet` /
 * `createRegressor` / `createSegmenterNet` take it) and the diffusion process
 * it was trained with. `tumorcast-predict` reads the same keys.
 */
import { SEGMENTER_CONFIG_KEY } from '@tumorcast/segmenter';

export { UNET_CONFIG_KEY } from '@tumorcast/unet';
export { REGRESSOR_CONFIG_KEY } from '@tumorcast/regressor';
export { DIFFUSION_CONFIG_KEY } from '@tumorcast/diffusion';
export { SEGMENTER_CONFIG_KEY };
