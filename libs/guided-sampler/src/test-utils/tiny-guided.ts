/** Test helpers (not part of the build): the tiny guided-sampling fixture and its networks. */
import { readFileSync } from 'node:fs';
import { initBackend } from '@tumorcast/nn';
import type { DiffusionModel } from '@tumorcast/diffusion';
import type { RegressorFn } from '../index.js';
import { tinyEps, tinyRegressor } from '../../../diffusion/src/test-utils/tiny-nets.js';

/** test/fixtures/guided.json: tiny networks' weights, an image and PyTorch reference runs. */
export const fx = JSON.parse(readFileSync(new URL('../../test/fixtures/guided.json', import.meta.url), 'utf8'));
/** The fixture image's shape, [batch, height, width, channels]. */
export const shape = fx.shape as [number, number, number, number];

/**
 * Starts the backend, then builds the fixture's tiny ε-network and regressor
 * (in a `beforeAll`: networks are made after the backend is chosen, not at
 * collection time).
 */
export async function tinyGuidedNets(): Promise<{ model: DiffusionModel; regressor: RegressorFn }> {
  await initBackend({ log: false });
  return { model: tinyEps(fx.net), regressor: tinyRegressor(fx.regressor) };
}
