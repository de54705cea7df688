/**
 * Test helpers for the PyTorch golden files of the regressor's losses
 * (`test/fixtures/loss/*.safetensors`): named tensors as arrays and NHWC
 * tensors, the error measure the tests state their tolerances in, and the
 * authors'-fork regressor the goldens were computed with.
 */
import * as tf from '@tensorflow/tfjs';
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { readSafetensors } from '@tumorcast/nn';
import type { SafetensorsFile } from '@tumorcast/nn';
import { createRegressor } from '../src/index.js';
import type { Regressor } from '../src/index.js';
import { AUTHORS_REGRESSOR_PT, loadAuthorsReference } from './authors-fork.js';

/** A golden file and its tensors by name. */
export interface GoldenFile {
  /** The parsed file (metadata: the cases). */
  file: SafetensorsFile;
  /** A stored tensor's shape and float32 values (int64 converted). */
  ref(name: string): { shape: number[]; data: Float32Array };
  /** A stored NHWC image batch as a tensor (the caller's scope owns it). */
  image(name: string): tf.Tensor4D;
}

/** Reads `test/fixtures/loss/<name>`. */
export function readGolden(name: string): GoldenFile {
  const path = fileURLToPath(new URL(`./fixtures/loss/${name}`, import.meta.url));
  const file = readSafetensors(readFileSync(path), { source: name });
  const ref = (key: string) => {
    const t = file.tensors.get(key);
    if (!t) throw new Error(`${name} lacks ${key}`);
    return { shape: t.shape, data: t.data instanceof BigInt64Array ? Float32Array.from(t.data, Number) : (t.data as Float32Array) };
  };
  const image = (key: string) => {
    const r = ref(key);
    return tf.tensor4d(r.data, r.shape as [number, number, number, number]);
  };
  return { file, ref, image };
}

/** The largest absolute difference over the largest |want|. */
export function maxRelErr(got: ArrayLike<number>, want: ArrayLike<number>): number {
  let scale = 0;
  let err = 0;
  for (let i = 0; i < want.length; i++) {
    scale = Math.max(scale, Math.abs(want[i]!));
    err = Math.max(err, Math.abs(got[i]! - want[i]!));
  }
  return err / scale;
}

/** The authors'-fork regressor with its weights loaded (the caller disposes it). */
export async function loadAuthorsRegressor(): Promise<Regressor> {
  const net = createRegressor(loadAuthorsReference().regressorConfig);
  await net.loadWeights(AUTHORS_REGRESSOR_PT);
  return net;
}
