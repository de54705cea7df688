/**
 * Metadata keys written into checkpoint files, so that a weights file alone
 * recreates its network: the network config (as `createUNet` /
 * `createRegressor` / `createSegmenterNet` take it) and the diffusion process
 * it was trained with. `tumorcast-predict` reads the same keys.
 */
import { SEGMENTER_CONFIG_KEY } from '@tumorcast/segmenter';

/** The network config (JSON) of a U-Net or regressor checkpoint. */
export const MODEL_CONFIG_KEY = 'tumorcast.model_config';
/** The diffusion process (JSON `{ steps, schedule, learnSigma }`) a checkpoint was trained with. */
export const DIFFUSION_CONFIG_KEY = 'tumorcast.diffusion';
export { SEGMENTER_CONFIG_KEY };
