import { beforeAll, describe, expect, it } from '@jest/globals';
import * as tf from '@tensorflow/tfjs';
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { initBackend } from '../backend/index.js';
import { readSafetensors } from '../safetensors.js';
import {
  AttentionBlock,
  AttentionPool2d,
  Downsample,
  GroupNorm,
  ParamStore,
  ResBlock,
  Upsample,
  WeightsMismatchError,
  bmm,
  conv2d,
  groupNorm,
  linear,
  tfToTorch,
  timestepEmbedding,
  upsampleNearest2x,
} from './index.js';
import type { StateTensor } from './index.js';

// Golden files written by tools/networks/make_fixtures.py (PyTorch reference).
const FIXTURES = fileURLToPath(new URL('../../test/fixtures/networks/', import.meta.url));
const TOL = 1e-4;

interface Fixture {
  weights: Map<string, StateTensor>;
  /** PyTorch parameter gradients of sum(gw * out), PyTorch layout. */
  paramGrads: Map<string, StateTensor>;
  io: Map<string, { shape: number[]; data: Float32Array | BigInt64Array }>;
  config: Record<string, unknown>;
}

function loadFixture(name: string): Fixture {
  const file = readSafetensors(readFileSync(`${FIXTURES}${name}.safetensors`), { source: name });
  const weights = new Map<string, StateTensor>();
  const paramGrads = new Map<string, StateTensor>();
  const io = new Map<string, { shape: number[]; data: Float32Array | BigInt64Array }>();
  for (const [k, v] of file.tensors) {
    if (k.startsWith('w.')) weights.set(k.slice(2), v);
    else if (k.startsWith('pg.')) paramGrads.set(k.slice(3), v);
    else io.set(k.slice(3), { shape: v.shape, data: v.data as Float32Array });
  }
  return { weights, paramGrads, io, config: JSON.parse(file.metadata['config'] ?? '{}') as Record<string, unknown> };
}

function ioTensor(f: Fixture, name: string): tf.Tensor {
  const t = f.io.get(name);
  if (!t) throw new Error(`fixture lacks io.${name}`);
  return tf.tensor(t.data as Float32Array, t.shape);
}

function maxAbsDiff(a: tf.Tensor, b: tf.Tensor): number {
  expect(a.shape).toEqual(b.shape);
  return tf.tidy(() => tf.max(tf.abs(tf.sub(a, b))).dataSync()[0]!);
}

/** Checks output and d(sum(gw * out))/dx of `fn` against the fixture. */
function checkOutputAndGrad(f: Fixture, fn: (x: tf.Tensor4D) => tf.Tensor): void {
  tf.tidy(() => {
    const x = ioTensor(f, 'x') as tf.Tensor4D;
    const gw = ioTensor(f, 'gw');
    const out = fn(x);
    expect(maxAbsDiff(out, ioTensor(f, 'out'))).toBeLessThan(TOL);
    const gx = tf.grad((xx: tf.Tensor) => tf.sum(tf.mul(fn(xx as tf.Tensor4D), gw)))(x);
    expect(maxAbsDiff(gx, ioTensor(f, 'gx'))).toBeLessThan(TOL);
  });
}

/** Checks d(sum(gw * out))/d(parameter) of every parameter against the fixture's PyTorch gradients. */
function checkParamGrads(f: Fixture, store: ParamStore, fn: (x: tf.Tensor4D) => tf.Tensor): void {
  expect(f.paramGrads.size).toBe(store.entries().length);
  tf.tidy(() => {
    const x = ioTensor(f, 'x') as tf.Tensor4D;
    const gw = ioTensor(f, 'gw');
    const { grads } = tf.variableGrads(() => tf.sum(tf.mul(fn(x), gw)) as tf.Scalar, store.variables);
    for (const e of store.entries()) {
      const ref = f.paramGrads.get(e.name)!;
      const mine = tfToTorch(grads[e.variable.name]!.dataSync() as Float32Array, e.torchShape, e.layout);
      let worst = 0;
      for (let i = 0; i < mine.length; i++) worst = Math.max(worst, Math.abs(mine[i]! - (ref.data as Float32Array)[i]!));
      expect([e.name, worst < TOL]).toEqual([e.name, true]);
    }
  });
}

beforeAll(async () => {
  await initBackend({ log: false });
  expect(tf.getBackend()).toBe('wasm');
});

describe('layers against the PyTorch reference', () => {
  it('GroupNorm(32)', () => {
    const f = loadFixture('groupnorm');
    const store = new ParamStore();
    const gn = new GroupNorm(store, '', 64);
    store.loadStateDict(f.weights);
    checkOutputAndGrad(f, (x) => gn.apply(x));
    checkParamGrads(f, store, (x) => gn.apply(x));
    store.dispose();
  });

  it('timestep embedding ([cos, sin], odd widths padded)', () => {
    const f = loadFixture('timestep_embedding');
    const t = f.io.get('t')!.data as Float32Array;
    for (const dim of [32, 33, 128]) {
      tf.tidy(() => {
        const emb = timestepEmbedding(tf.tensor1d(t), dim);
        expect(maxAbsDiff(emb, ioTensor(f, `emb${dim}`))).toBeLessThan(TOL);
      });
    }
    expect(() => timestepEmbedding([1], 1)).toThrow(/'dim' passed to 'timestepEmbedding'/);
  });

  it.each(['attention_legacy', 'attention_new'])('AttentionBlock (%s)', (name) => {
    const f = loadFixture(name);
    const c = f.config as { channels: number; num_heads: number; num_head_channels: number; use_new_attention_order: boolean };
    const store = new ParamStore();
    const block = new AttentionBlock(store, '', c.channels, {
      numHeads: c.num_heads,
      numHeadChannels: c.num_head_channels,
      useNewAttentionOrder: c.use_new_attention_order,
    });
    store.loadStateDict(f.weights);
    checkOutputAndGrad(f, (x) => block.apply(x));
    if (name === 'attention_legacy') checkParamGrads(f, store, (x) => block.apply(x));
    store.dispose();
  });

  it('AttentionPool2d', () => {
    const f = loadFixture('attention_pool');
    const c = f.config as { spacial_dim: number; embed_dim: number; num_head_channels: number; output_dim: number };
    const store = new ParamStore();
    const pool = new AttentionPool2d(store, '', c.spacial_dim, c.embed_dim, c.num_head_channels, c.output_dim);
    store.loadStateDict(f.weights);
    checkOutputAndGrad(f, (x) => pool.apply(x));
    expect(() => tf.tidy(() => pool.apply(tf.zeros([1, 3, 3, 64])))).toThrow(/must be 4x4/);
    store.dispose();
  });

  it.each(['resblock_plain', 'resblock_down_ss', 'resblock_up'])('ResBlock (%s)', (name) => {
    const f = loadFixture(name);
    const c = f.config as { channels: number; out_channels: number; emb_channels: number; use_scale_shift_norm?: boolean; up?: boolean; down?: boolean };
    const store = new ParamStore();
    const block = new ResBlock(store, '', c.channels, c.emb_channels, {
      outChannels: c.out_channels,
      useScaleShiftNorm: c.use_scale_shift_norm ?? false,
      up: c.up ?? false,
      down: c.down ?? false,
    });
    store.loadStateDict(f.weights);
    const emb = ioTensor(f, 'emb') as tf.Tensor2D;
    checkOutputAndGrad(f, (x) => block.apply(x, emb));
    emb.dispose();
    store.dispose();
  });

  it('Downsample conv (stride 2, symmetric padding, odd size) and Upsample conv', () => {
    for (const name of ['downsample_conv', 'upsample_conv']) {
      const f = loadFixture(name);
      const store = new ParamStore();
      const layer = name.startsWith('down') ? new Downsample(store, '', 32, true) : new Upsample(store, '', 32, true);
      store.loadStateDict(f.weights);
      checkOutputAndGrad(f, (x) => layer.apply(x));
      store.dispose();
    }
  });
});

describe('ops', () => {
  it('upsampleNearest2x repeats each pixel 2x2 and its gradient sums the 2x2 block, for batch > 1', () => {
    tf.tidy(() => {
      const x = tf.tensor4d([1, 2, 3, 4, 5, 6, 7, 8], [2, 2, 2, 1]);
      const y = upsampleNearest2x(x);
      expect(y.shape).toEqual([2, 4, 4, 1]);
      expect(Array.from(y.dataSync().slice(0, 8))).toEqual([1, 1, 2, 2, 1, 1, 2, 2]);
      const w = tf.range(0, 32).reshape([2, 4, 4, 1]);
      const g = tf.grad((xx: tf.Tensor) => tf.sum(tf.mul(upsampleNearest2x(xx as tf.Tensor4D), w)))(x);
      // block sums of 0..31 laid out 4x4 per image
      expect(Array.from(g.dataSync())).toEqual([10, 18, 42, 50, 74, 82, 106, 114]);
    });
  });

  it('groupNorm, linear and bmm have the gradients of their plain tfjs formulations', () => {
    tf.tidy(() => {
      const x = tf.add(tf.mul(tf.randomNormal([3, 5, 4, 64], 0, 1, 'float32', 1), 3), 1.5);
      const g = tf.randomNormal([64], 1, 0.3, 'float32', 2) as tf.Tensor1D;
      const b = tf.randomNormal([64], 0, 0.3, 'float32', 3) as tf.Tensor1D;
      const w = tf.randomNormal([3, 5, 4, 64], 0, 1, 'float32', 4);
      const plainGn = (xx: tf.Tensor, gg: tf.Tensor, bb: tf.Tensor) => {
        const r = tf.reshape(xx, [3, -1, 32, 2]);
        const { mean, variance } = tf.moments(r, [1, 3], true);
        return tf.add(tf.mul(tf.reshape(tf.div(tf.sub(r, mean), tf.sqrt(tf.add(variance, 1e-5))), xx.shape), gg), bb);
      };
      const mine = tf.grads((xx: tf.Tensor, gg: tf.Tensor, bb: tf.Tensor) => tf.sum(tf.mul(groupNorm(xx, gg as tf.Tensor1D, bb as tf.Tensor1D), w)))([x, g, b]);
      const ref = tf.grads((xx: tf.Tensor, gg: tf.Tensor, bb: tf.Tensor) => tf.sum(tf.mul(plainGn(xx, gg, bb), w)))([x, g, b]);
      mine.forEach((m, i) => expect(maxAbsDiff(m, ref[i]!)).toBeLessThan(1e-4));
      expect(maxAbsDiff(groupNorm(x, g, b), plainGn(x, g, b))).toBeLessThan(1e-5);

      const a = tf.randomNormal([2, 7, 16], 0, 1, 'float32', 5);
      const wt = tf.randomNormal([16, 24], 0, 1, 'float32', 6) as tf.Tensor2D;
      const bias = tf.randomNormal([24], 0, 1, 'float32', 7) as tf.Tensor1D;
      const dy = tf.randomNormal([2, 7, 24], 0, 1, 'float32', 8);
      const lm = tf.grads((aa: tf.Tensor, ww: tf.Tensor, bb: tf.Tensor) => tf.sum(tf.mul(linear(aa, ww as tf.Tensor2D, bb as tf.Tensor1D), dy)))([a, wt, bias]);
      const lr = tf.grads((aa: tf.Tensor, ww: tf.Tensor, bb: tf.Tensor) => tf.sum(tf.mul(tf.add(tf.matMul(tf.reshape(aa, [14, 16]), ww).reshape([2, 7, 24]), bb), dy)))([a, wt, bias]);
      lm.forEach((m, i) => expect(maxAbsDiff(m, lr[i]!)).toBeLessThan(1e-4));

      const p = tf.randomNormal([3, 5, 6], 0, 1, 'float32', 9) as tf.Tensor3D;
      const q = tf.randomNormal([3, 6, 4], 0, 1, 'float32', 10) as tf.Tensor3D;
      const dz = tf.randomNormal([3, 5, 4], 0, 1, 'float32', 11);
      expect(maxAbsDiff(bmm(p, q), tf.matMul(p, q))).toBeLessThan(1e-5);
      const bm = tf.grads((pp: tf.Tensor, qq: tf.Tensor) => tf.sum(tf.mul(bmm(pp as tf.Tensor3D, qq as tf.Tensor3D), dz)))([p, q]);
      const br = tf.grads((pp: tf.Tensor, qq: tf.Tensor) => tf.sum(tf.mul(tf.matMul(pp as tf.Tensor3D, qq as tf.Tensor3D), dz)))([p, q]);
      bm.forEach((m, i) => expect(maxAbsDiff(m, br[i]!)).toBeLessThan(1e-4));
      expect(() => bmm(p, p)).toThrow(/'a' and 'b' passed to 'bmm'/);
    });
  });

  it('conv2d validates its arguments', () => {
    tf.tidy(() => {
      expect(() => conv2d(tf.zeros([1, 4, 4, 3]) as tf.Tensor4D, tf.zeros([3, 3, 2, 5]) as tf.Tensor4D, null)).toThrow(/'x' passed to 'conv2d'/);
    });
  });

  it('does not leak tensors across repeated forward and backward calls', () => {
    const store = new ParamStore({ seed: 3 });
    const block = new ResBlock(store, '', 32, 16, { outChannels: 64, useScaleShiftNorm: true, down: true });
    const attn = new AttentionBlock(store, 'a', 64, { numHeads: 2 });
    const x = tf.randomNormal([2, 8, 8, 32]) as tf.Tensor4D;
    const emb = tf.randomNormal([2, 16]) as tf.Tensor2D;
    const step = () => {
      const { value, grads } = tf.variableGrads(() => tf.sum(attn.apply(block.apply(x, emb))) as tf.Scalar, store.variables);
      value.dispose();
      tf.dispose(grads);
      tf.tidy(() => {
        attn.apply(block.apply(x, emb));
      });
    };
    step();
    const before = tf.memory().numTensors;
    for (let i = 0; i < 3; i++) step();
    expect(tf.memory().numTensors).toBe(before);
    tf.dispose([x, emb]);
    store.dispose();
  });
});

describe('ParamStore', () => {
  it('converts PyTorch layouts both ways and round-trips a state dict', () => {
    const store = new ParamStore({ seed: 1 });
    new ResBlock(store, 'blk', 32, 8, { outChannels: 64 });
    new AttentionPool2d(store, 'pool', 2, 32, 32, 1);
    const sd = store.stateDict();
    expect(sd.get('blk.in_layers.2.weight')!.shape).toEqual([64, 32, 3, 3]);
    expect(store.get('blk.in_layers.2.weight').shape).toEqual([3, 3, 32, 64]);
    expect(sd.get('blk.emb_layers.1.weight')!.shape).toEqual([64, 8]);
    expect(sd.get('pool.qkv_proj.weight')!.shape).toEqual([96, 32, 1]);
    expect(sd.get('pool.positional_embedding')!.shape).toEqual([32, 5]);
    // OIHW element (o=5, i=7, y=2, x=1) is HWIO element (2, 1, 7, 5)
    const w = sd.get('blk.in_layers.2.weight')!.data;
    const hwio = store.get('blk.in_layers.2.weight').variable.dataSync();
    expect(hwio[((2 * 3 + 1) * 32 + 7) * 64 + 5]).toBe(w[((5 * 32 + 7) * 3 + 2) * 3 + 1]);
    // zero-initialised output conv, as guided-diffusion's zero_module
    expect(Math.max(...Array.from(sd.get('blk.out_layers.3.weight')!.data, Math.abs))).toBe(0);
    const other = new ParamStore({ seed: 2 });
    new ResBlock(other, 'blk', 32, 8, { outChannels: 64 });
    new AttentionPool2d(other, 'pool', 2, 32, 32, 1);
    const prefixed = new Map([...sd].map(([k, v]) => [`module.${k}`, v]));
    other.loadStateDict(prefixed);
    for (const [k, v] of other.stateDict()) expect(Array.from(v.data)).toEqual(Array.from(sd.get(k)!.data));
    store.dispose();
    other.dispose();
  });

  it('stateDictAsync gives the same keys, shapes and values as stateDict', async () => {
    const store = new ParamStore({ seed: 3 });
    new ResBlock(store, 'blk', 32, 8, { outChannels: 64 });
    const sd = store.stateDict();
    const sda = await store.stateDictAsync();
    expect([...sda.keys()]).toEqual([...sd.keys()]);
    for (const [k, v] of sd) {
      expect(sda.get(k)!.shape).toEqual(v.shape);
      expect(Array.from(sda.get(k)!.data)).toEqual(Array.from(v.data));
    }
    store.dispose();
    await expect(store.stateDictAsync()).rejects.toThrow(/after 'dispose'/);
  });

  it('loads a PyTorch .pt checkpoint (float16, module. prefixes, under a key) like the safetensors weights', async () => {
    const f = loadFixture('resblock_down_ss');
    const store = new ParamStore();
    new ResBlock(store, '', 32, 64, { outChannels: 32, useScaleShiftNorm: true, down: true });
    const meta = await store.loadWeights(`${FIXTURES}resblock_down_ss.pt`, { key: 'model' });
    expect(meta).toEqual({});
    const sd = store.stateDict();
    for (const [k, v] of f.weights) expect(Array.from(sd.get(k)!.data)).toEqual(Array.from(v.data as Float32Array));
    await expect(store.loadWeights(`${FIXTURES}resblock_down_ss.pt`)).rejects.toThrow(/key/);
    await expect(store.loadWeights(`${FIXTURES}resblock_down_ss.pt`, { format: 'safetensors' })).rejects.toThrow(/resblock_down_ss\.pt/);
    store.dispose();
  });

  it('refuses mismatched weights, listing the offending keys, and changes nothing', () => {
    const store = new ParamStore();
    new GroupNorm(store, 'n', 32);
    new ResBlock(store, 'r', 32, 8);
    const sd = store.stateDict();
    const bad = new Map(sd);
    bad.delete('n.bias');
    bad.set('n.extra', { shape: [1], data: new Float32Array(1) });
    bad.set('r.in_layers.2.weight', { shape: [32, 32, 1, 1], data: new Float32Array(32 * 32) });
    let err: unknown;
    try {
      store.loadStateDict(bad, { source: 'bad.safetensors' });
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(WeightsMismatchError);
    const m = (err as Error).message;
    expect(m).toMatch(/bad\.safetensors/);
    expect(m).toMatch(/missing keys \(1\): n\.bias/);
    expect(m).toMatch(/unexpected keys \(1\): n\.extra/);
    expect(m).toMatch(/r\.in_layers\.2\.weight expected \[32,32,3,3\] got \[32,32,1,1\]/);
    // non-strict still refuses shape mismatches
    expect(() => store.loadStateDict(bad, { strict: false })).toThrow(/shape mismatches/);
    store.dispose();
    expect(() => store.stateDict()).toThrow(/after 'dispose'/);
  });
});
