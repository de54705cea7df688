// Test helpers: a tiny synthetic data set and fixture readers (not part of the build).
import * as tf from '@tensorflow/tfjs';
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { Rng } from '@tumorcast/random';

/** Folder of the committed golden files (tools/segmenter/make_fixtures.py). */
export const FIXTURES = fileURLToPath(new URL('../../test/fixtures/', import.meta.url));

/** Reads a JSON fixture. */
export function readJsonFixture<T>(name: string): T {
  return JSON.parse(readFileSync(`${FIXTURES}${name}`, 'utf8')) as T;
}

/**
 * `n` slices `size x size x 4` in [0, 1]: a noisy elliptic "brain" with a
 * bright disc (the tumour, brighter in t2f and t1c) at a seeded position; the
 * target is the disc. Returns `{ images, masks }` (`[n, size, size, 4]`, `[n, size, size, 1]`).
 */
export function discDataset(n: number, size: number, seed = 1): { images: tf.Tensor4D; masks: tf.Tensor4D } {
  const rng = new Rng(seed);
  const img = new Float32Array(n * size * size * 4);
  const mask = new Float32Array(n * size * size);
  const c = (size - 1) / 2;
  for (let b = 0; b < n; b++) {
    const r = size * (0.1 + 0.08 * rng.uniform());
    const cx = c + (rng.uniform() - 0.5) * size * 0.35;
    const cy = c + (rng.uniform() - 0.5) * size * 0.35;
    for (let y = 0; y < size; y++) {
      for (let x = 0; x < size; x++) {
        const i = (b * size + y) * size + x;
        const inBrain = ((x - c) / (0.45 * size)) ** 2 + ((y - c) / (0.4 * size)) ** 2 <= 1;
        const inTumour = (x - cx) ** 2 + (y - cy) ** 2 <= r * r;
        if (inTumour) mask[i] = 1;
        if (!inBrain && !inTumour) continue;
        const base = [0.35, 0.4, 0.45, 0.3];
        const boost = inTumour ? [0.1, 0.4, 0.3, 0.55] : [0, 0, 0, 0];
        for (let ch = 0; ch < 4; ch++) img[i * 4 + ch] = Math.min(1, Math.max(0, base[ch]! + boost[ch]! + 0.05 * rng.normal(0, 1)));
      }
    }
  }
  return { images: tf.tensor4d(img, [n, size, size, 4]), masks: tf.tensor4d(mask, [n, size, size, 1]) };
}
