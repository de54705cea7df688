// Reads the golden files written by tools/networks/make_fixtures.py (PyTorch reference).
import * as tf from '@tensorflow/tfjs';
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { readSafetensors, tfToTorch } from '@tumorcast/nn';
import type { ParamStore, StateTensor } from '@tumorcast/nn';

/** Folder of the network fixtures. */
export const FIXTURES = fileURLToPath(new URL('./fixtures/networks/', import.meta.url));

/** A fixture: PyTorch weights (`w.*`), inputs/outputs (`io.*`, NHWC), and the PyTorch config. */
export interface Fixture {
  weights: Map<string, StateTensor>;
  /** PyTorch gradients of sum(io.gw * out) for some parameters (PyTorch layout). */
  paramGrads: Map<string, StateTensor>;
  io: Map<string, { shape: number[]; data: Float32Array | BigInt64Array }>;
  config: Record<string, unknown>;
}

/** Loads `<name>.safetensors`. */
export function loadFixture(name: string): Fixture {
  const file = readSafetensors(readFileSync(`${FIXTURES}${name}.safetensors`), { source: name });
  const weights = new Map<string, StateTensor>();
  const paramGrads = new Map<string, StateTensor>();
  const io = new Map<string, { shape: number[]; data: Float32Array | BigInt64Array }>();
  for (const [k, v] of file.tensors) {
    if (k.startsWith('w.')) weights.set(k.slice(2), v);
    else if (k.startsWith('pg.')) paramGrads.set(k.slice(3), v);
    else io.set(k.slice(3), { shape: v.shape, data: v.data as Float32Array | BigInt64Array });
  }
  return { weights, paramGrads, io, config: JSON.parse(file.metadata['config'] ?? '{}') as Record<string, unknown> };
}

/** An io tensor as a float32 tfjs tensor (int64 labels become plain numbers). */
export function ioTensor(f: Fixture, name: string): tf.Tensor {
  const t = f.io.get(name);
  if (!t) throw new Error(`fixture lacks io.${name}`);
  const data = t.data instanceof BigInt64Array ? Float32Array.from(t.data, (v) => Number(v)) : t.data;
  return tf.tensor(data, t.shape);
}

/** An io tensor as a number array. */
export function ioArray(f: Fixture, name: string): number[] {
  const t = f.io.get(name);
  if (!t) throw new Error(`fixture lacks io.${name}`);
  return Array.from(t.data as ArrayLike<number | bigint>, (v) => Number(v));
}

/**
 * Checks the gradients of `loss` with respect to the parameters listed in the
 * fixture against PyTorch's (converted to the PyTorch layout); returns the
 * names whose max |difference| is `tol` or more.
 */
export function paramGradMismatches(f: Fixture, store: ParamStore, loss: () => tf.Scalar, tol: number): string[] {
  const bad: string[] = [];
  const entries = [...f.paramGrads.keys()].map((k) => store.get(k));
  const { value, grads } = tf.variableGrads(loss, entries.map((e) => e.variable));
  for (const e of entries) {
    const mine = tfToTorch(grads[e.variable.name]!.dataSync() as Float32Array, e.torchShape, e.layout);
    const ref = f.paramGrads.get(e.name)!.data as Float32Array;
    let worst = 0;
    for (let i = 0; i < mine.length; i++) worst = Math.max(worst, Math.abs(mine[i]! - ref[i]!));
    if (!(worst < tol)) bad.push(`${e.name} (${worst})`);
  }
  tf.dispose([value, grads]);
  return bad;
}

/** max |a - b| (shapes must agree). */
export function maxAbsDiff(a: tf.Tensor, b: tf.Tensor): number {
  if (a.shape.join() !== b.shape.join()) throw new Error(`shape [${a.shape}] vs [${b.shape}]`);
  return tf.tidy(() => tf.max(tf.abs(tf.sub(a, b))).dataSync()[0]!);
}

/** The preset state_dict shapes written by the reference. */
export function presetShapes(): Record<string, { parameters: number; shapes: [string, number[]][] }> {
  return JSON.parse(readFileSync(`${FIXTURES}preset_shapes.json`, 'utf8')) as Record<string, { parameters: number; shapes: [string, number[]][] }>;
}
