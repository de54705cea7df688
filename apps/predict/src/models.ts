/**
 * The small pretrained models shipped with the app.
 */
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import type { ModelPaths } from '@tumorcast/pipeline/node';

/** The folder of the small pretrained models shipped with the app (trained on phantoms; see docs/pretrained-models.md). */
export const BUILTIN_MODEL_DIR = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../models');

/** The built-in models' paths. */
export function builtinModelPaths(): ModelPaths {
  return {
    diffusion: path.join(BUILTIN_MODEL_DIR, 'diffusion.safetensors'),
    regressor: path.join(BUILTIN_MODEL_DIR, 'regressor.safetensors'),
    segmenter: path.join(BUILTIN_MODEL_DIR, 'segmenter.safetensors'),
  };
}
