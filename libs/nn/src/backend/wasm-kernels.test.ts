import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import * as tf from '@tensorflow/tfjs';
import { Rng } from '@tumorcast/random';
import { initBackend } from './init.js';
import { conv2dBackpropFilterAsConvWasm, registerWasmKernelFills, WASM_KERNEL_FILLS } from './wasm-kernels.js';

/** PyTorch gradients (tools/nn/make_conv_grad_fixture.py): torch.nn.grad.conv2d_weight and conv2d_input in float64. */
interface ConvGradCase {
  name: string;
  xShape: [number, number, number, number];
  filterShape: [number, number, number, number];
  dyShape: [number, number, number, number];
  strides: [number, number];
  pad: 'same' | 'valid' | [[number, number], [number, number], [number, number], [number, number]];
  x: number[];
  dy: number[];
  dw: number[];
  /** The filter, [kh, kw, ci, co], for the input gradient. */
  w: number[];
  /** Input gradient of `w` and `dy`, NHWC. */
  dx: number[];
}
const convGradFixture = JSON.parse(
  fs.readFileSync(path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../test/fixtures/conv-grad.json'), 'utf8'),
) as { cases: ConvGradCase[] };

type Pad = 'same' | 'valid' | [[number, number], [number, number], [number, number], [number, number]];
interface ConvCase {
  name: string;
  x: [number, number, number, number];
  k: [number, number, number, number];
  stride: number;
  pad: Pad;
}

const explicit1: Pad = [[0, 0], [1, 1], [1, 1], [0, 0]];
const cases: ConvCase[] = [
  { name: '3x3 stride 1 same', x: [2, 8, 8, 3], k: [3, 3, 3, 4], stride: 1, pad: 'same' },
  { name: '3x3 stride 2 same (asymmetric)', x: [2, 8, 8, 3], k: [3, 3, 3, 5], stride: 2, pad: 'same' },
  { name: '3x3 stride 2 symmetric pad 1 (PyTorch)', x: [2, 8, 8, 4], k: [3, 3, 4, 4], stride: 2, pad: explicit1 },
  { name: '3x3 stride 2 valid, odd size', x: [1, 9, 7, 2], k: [3, 3, 2, 3], stride: 2, pad: 'valid' },
  { name: '1x1 stride 1', x: [3, 6, 6, 8], k: [1, 1, 8, 4], stride: 1, pad: 'valid' },
  { name: '1x1 stride 2', x: [2, 6, 6, 3], k: [1, 1, 3, 2], stride: 2, pad: 'valid' },
  { name: '4x4 stride 2 pad 1', x: [2, 8, 8, 3], k: [4, 4, 3, 2], stride: 2, pad: explicit1 },
  { name: '3x3 stride 1 valid, batch 1', x: [1, 5, 5, 1], k: [3, 3, 1, 1], stride: 1, pad: 'valid' },
];

function relErr(a: Float32Array | Int32Array | Uint8Array, b: Float32Array | Int32Array | Uint8Array): number {
  let num = 0, den = 0;
  for (let i = 0; i < a.length; i++) {
    num = Math.max(num, Math.abs((a[i] as number) - (b[i] as number)));
    den = Math.max(den, Math.abs(b[i] as number));
  }
  return num / Math.max(den, 1e-12);
}

/** Weight and input gradients of sum(conv2d(x, w) * r). */
function convGrads(c: ConvCase, seed: number): { dw: Float32Array; dx: Float32Array } {
  const rng = new Rng(seed);
  const x = tf.tensor4d(rng.normalArray(c.x.reduce((a, b) => a * b)), c.x);
  const w = tf.tensor4d(rng.normalArray(c.k.reduce((a, b) => a * b)), c.k);
  const outShape = tf.tidy(() => tf.conv2d(x, w, c.stride, c.pad).shape);
  const r = tf.tensor(rng.normalArray(outShape.reduce((a, b) => a * b)), outShape);
  const f = (xx: tf.Tensor, ww: tf.Tensor) => tf.conv2d(xx as tf.Tensor4D, ww as tf.Tensor4D, c.stride, c.pad).mul(r).sum();
  const [dx, dw] = tf.grads(f)([x, w]) as [tf.Tensor, tf.Tensor];
  const out = { dw: dw.dataSync() as Float32Array, dx: dx.dataSync() as Float32Array };
  tf.dispose([x, w, r, dx, dw]);
  return out;
}

function filterGrad(c: ConvGradCase): { dw: Float32Array; shape: number[] } {
  const x = tf.tensor4d(c.x, c.xShape);
  const dy = tf.tensor4d(c.dy, c.dyShape);
  const dw = tf.engine().runKernel('Conv2DBackpropFilter', { x, dy }, {
    strides: c.strides,
    pad: c.pad,
    dataFormat: 'NHWC',
    dimRoundingMode: undefined,
    filterShape: c.filterShape,
  } as unknown as tf.NamedAttrMap) as tf.Tensor;
  const out = { dw: dw.dataSync() as Float32Array, shape: dw.shape };
  tf.dispose([x, dy, dw]);
  return out;
}

function inputGrad(c: ConvGradCase): { dx: Float32Array; shape: number[] } {
  const w = tf.tensor4d(c.w, c.filterShape);
  const dy = tf.tensor4d(c.dy, c.dyShape);
  const dx = tf.engine().runKernel('Conv2DBackpropInput', { dy, filter: w }, {
    strides: c.strides,
    pad: c.pad,
    dataFormat: 'NHWC',
    dimRoundingMode: undefined,
    inputShape: c.xShape,
  } as unknown as tf.NamedAttrMap) as tf.Tensor;
  const out = { dx: dx.dataSync() as Float32Array, shape: dx.shape };
  tf.dispose([w, dy, dx]);
  return out;
}

/** `fn()` after a warm-up call (tfjs allocates its own bookkeeping on first use), checking it leaves no tensor or byte behind. */
function leakFree<T>(fn: () => T): T {
  fn();
  const before = tf.memory();
  const got = fn();
  expect(tf.memory().numTensors).toBe(before.numTensors);
  expect(tf.memory().numBytes).toBe(before.numBytes);
  return got;
}

/** Bytes of one filter offset's window over `rows` output rows of one image (the fill's unit of work). */
function windowBytes(c: ConvGradCase, rows: number): number {
  const [, kw, ci] = c.filterShape;
  const ow = c.dyShape[2];
  const sW = c.strides[1];
  const wp = Math.ceil(((ow - 1) * sW + kw) / sW);
  return ci * rows * wp * 4;
}

// Window budgets that take each path: the default (every offset of the whole
// batch in one product at these sizes), two offsets per product, one image per
// chunk (chunk products summed), and one output row per chunk.
const budgets: [string, (c: ConvGradCase) => number | undefined][] = [
  ['default budget', () => undefined],
  ['two offsets per product', (c) => 2 * c.xShape[0] * windowBytes(c, c.dyShape[1])],
  ['one image per chunk', (c) => windowBytes(c, c.dyShape[1])],
  ['one row per chunk', () => 16],
];

describe('wasm Conv2DBackpropFilter fill matches PyTorch', () => {
  beforeAll(async () => {
    await initBackend({ backend: 'wasm', log: false });
    await tf.setBackend('wasm');
  });
  afterAll(() => {
    registerWasmKernelFills();
  });

  describe.each(budgets)('%s', (_label, budget) => {
    it.each(convGradFixture.cases.map((c) => [c.name, c] as const))('%s', (_name, c) => {
      registerWasmKernelFills({ filterGradWindowBytes: budget(c) });
      expect(tf.getKernel('Conv2DBackpropFilter', 'wasm')?.kernelFunc).toBe(WASM_KERNEL_FILLS.Conv2DBackpropFilter);
      const got = leakFree(() => filterGrad(c));
      expect(got.shape).toEqual(c.filterShape);
      // float32 sums of up to ~1000 products against float64: max error relative to the largest entry.
      expect(relErr(got.dw, Float32Array.from(c.dw))).toBeLessThan(1e-5);
    });
  });

  it.each(convGradFixture.cases.slice(0, 6).map((c) => [c.name, c] as const))("the 'convolution' formulation agrees too: %s", (_name, c) => {
    registerWasmKernelFills({ conv2dBackpropFilter: 'convolution' });
    expect(tf.getKernel('Conv2DBackpropFilter', 'wasm')?.kernelFunc).toBe(conv2dBackpropFilterAsConvWasm);
    const got = filterGrad(c);
    registerWasmKernelFills();
    expect(relErr(got.dw, Float32Array.from(c.dw))).toBeLessThan(1e-4);
  });

  it('rejects a bad formulation name or window budget, naming the option', () => {
    expect(() => registerWasmKernelFills({ conv2dBackpropFilter: 'im2col' as 'matmul' })).toThrow(/'conv2dBackpropFilter'.*'matmul' or 'convolution'/);
    expect(() => registerWasmKernelFills({ filterGradWindowBytes: 0 })).toThrow(/'filterGradWindowBytes'.*positive/);
    expect(() => registerWasmKernelFills({ filterGradWindowBytes: Number.NaN })).toThrow(/'filterGradWindowBytes'/);
    registerWasmKernelFills();
    expect(tf.getKernel('Conv2DBackpropFilter', 'wasm')?.kernelFunc).toBe(WASM_KERNEL_FILLS.Conv2DBackpropFilter);
  });
});

describe('wasm Conv2DBackpropInput fill matches PyTorch', () => {
  beforeAll(async () => {
    await initBackend({ backend: 'wasm', log: false });
    await tf.setBackend('wasm');
    registerWasmKernelFills();
  });

  it.each(convGradFixture.cases.map((c) => [c.name, c] as const))('%s', (_name, c) => {
    expect(tf.getKernel('Conv2DBackpropInput', 'wasm')?.kernelFunc).toBe(WASM_KERNEL_FILLS.Conv2DBackpropInput);
    const got = leakFree(() => inputGrad(c));
    expect(got.shape).toEqual(c.xShape);
    // float32 sums of at most a few hundred products against float64: max error relative to the largest entry.
    expect(relErr(got.dx, Float32Array.from(c.dx))).toBeLessThan(1e-5);
  });
});

describe('wasm kernel fills agree with the cpu backend', () => {
  beforeAll(async () => {
    await initBackend({ backend: 'wasm', log: false });
  });

  it.each(cases)('conv2d gradients: $name', async (c) => {
    await tf.setBackend('cpu');
    const ref = convGrads(c, 11);
    await tf.setBackend('wasm');
    const got = convGrads(c, 11);
    expect(got.dw.length).toBe(ref.dw.length);
    expect(relErr(got.dw, ref.dw)).toBeLessThan(1e-4);
    expect(relErr(got.dx, ref.dx)).toBeLessThan(1e-4);
  });

  it('gather gradient (UnsortedSegmentSum), with repeated indices', async () => {
    const run = () => {
      const rng = new Rng(3);
      const params = tf.tensor2d(rng.normalArray(5 * 4), [5, 4]);
      const idx = tf.tensor1d([0, 2, 2, 4, 1, 2], 'int32');
      const r = tf.tensor2d(rng.normalArray(6 * 4), [6, 4]);
      const g = tf.grad((p: tf.Tensor) => tf.gather(p, idx).mul(r).sum())(params);
      const v = g.dataSync().slice();
      tf.dispose([params, idx, r, g]);
      return v;
    };
    await tf.setBackend('cpu');
    const ref = run();
    await tf.setBackend('wasm');
    const got = run();
    expect(relErr(got, ref)).toBeLessThan(1e-6);
    // Row 3 was never gathered: its gradient is exactly zero.
    expect(Array.from(got.slice(12, 16))).toEqual([0, 0, 0, 0]);
  });

  it('unsortedSegmentSum drops out-of-range ids like TensorFlow', async () => {
    await tf.setBackend('wasm');
    const x = tf.tensor2d([[1, 2], [3, 4], [5, 6]]);
    const ids = tf.tensor1d([1, -1, 1], 'int32');
    const s = tf.unsortedSegmentSum(x, ids, 3);
    expect(Array.from(s.dataSync())).toEqual([0, 0, 6, 8, 0, 0]);
    tf.dispose([x, ids, s]);
  });

  it('Identity (tf.clone, tensors saved for gradients) shares the buffer; each copy stays valid on its own', async () => {
    await tf.setBackend('wasm');
    const x = tf.tensor1d([1, 2, 3]);
    const buffers = tf.memory().numDataBuffers;
    const c = tf.clone(x);
    expect(tf.memory().numDataBuffers).toBe(buffers);
    x.dispose();
    expect(Array.from(c.dataSync())).toEqual([1, 2, 3]);
    c.dispose();
    expect(tf.memory().numDataBuffers).toBe(buffers - 1);
    const s = tf.tensor1d(['a', 'bc'], 'string');
    const cs = tf.clone(s);
    s.dispose();
    expect(cs.dataSync()).toEqual(['a', 'bc']);
    cs.dispose();
  });

  // [a shape, b shape, transposeA, transposeB]: XNNPACK-sized products (>= 2^16 multiply-adds) and small ones (the backend's loop).
  const matmuls: [number[], number[], boolean, boolean][] = [
    [[96, 40], [96, 50], true, false],
    [[40, 96], [50, 96], false, true],
    [[96, 40], [50, 96], true, true],
    [[1, 96, 40], [1, 96, 50], true, false],
    [[3, 40, 64], [3, 64, 30], false, false],
    [[2, 3, 64, 40], [2, 3, 50, 64], true, true],
    [[40, 64], [4, 64, 30], false, false],
    [[4, 40, 64], [30, 64], false, true],
    [[5, 4], [5, 3], true, false],
    [[2, 4, 5], [2, 3, 5], false, true],
  ];
  it.each(matmuls)('BatchMatMul %j x %j (transposeA %s, transposeB %s) equals the cpu backend', async (as, bs, ta, tb) => {
    expect(tf.getKernel('BatchMatMul', 'wasm')?.kernelFunc).toBe(WASM_KERNEL_FILLS.BatchMatMul);
    const run = () => {
      const rng = new Rng(5);
      const a = tf.tensor(rng.normalArray(as.reduce((p, q) => p * q)), as);
      const b = tf.tensor(rng.normalArray(bs.reduce((p, q) => p * q)), bs);
      const y = tf.matMul(a, b, ta, tb);
      const out = { shape: y.shape, data: y.dataSync().slice() };
      tf.dispose([a, b, y]);
      return out;
    };
    await tf.setBackend('cpu');
    const ref = run();
    await tf.setBackend('wasm');
    const before = tf.memory().numTensors;
    const got = run();
    expect(tf.memory().numTensors).toBe(before);
    expect(got.shape).toEqual(ref.shape);
    // Sums of up to 96 products in another order: float32 rounding.
    expect(relErr(got.data, ref.data)).toBeLessThan(1e-5);
  });

  it('matMul gradients (transposed products) equal the cpu backend', async () => {
    const run = () => {
      const rng = new Rng(6);
      const a = tf.tensor2d(rng.normalArray(64 * 96), [64, 96]);
      const b = tf.tensor2d(rng.normalArray(96 * 48), [96, 48]);
      const r = tf.tensor2d(rng.normalArray(64 * 48), [64, 48]);
      const [da, db] = tf.grads((x: tf.Tensor, y: tf.Tensor) => tf.matMul(x as tf.Tensor2D, y as tf.Tensor2D).mul(r).sum())([a, b]);
      const out = [da!.dataSync().slice(), db!.dataSync().slice()];
      tf.dispose([a, b, r, da!, db!]);
      return out;
    };
    await tf.setBackend('cpu');
    const ref = run();
    await tf.setBackend('wasm');
    const got = run();
    expect(relErr(got[0]!, ref[0]!)).toBeLessThan(1e-5);
    expect(relErr(got[1]!, ref[1]!)).toBeLessThan(1e-5);
  });

  it('BatchMatMul leaves non-float32 and mismatched products to the backend (same errors)', async () => {
    await tf.setBackend('wasm');
    const a = tf.ones([64, 64]);
    const b = tf.ones([32, 64]);
    expect(() => tf.matMul(a, b, true, false)).toThrow(/inner shapes/);
    tf.dispose([a, b]);
  });

  it('does not leak tensors across gradient steps', async () => {
    await tf.setBackend('wasm');
    const c = cases[2] as ConvCase;
    convGrads(c, 1);
    const before = tf.memory().numTensors;
    const bytesBefore = tf.memory().numBytes;
    for (let i = 0; i < 3; i++) convGrads(c, i);
    expect(tf.memory().numTensors).toBe(before);
    expect(tf.memory().numBytes).toBe(bytesBefore);
  });
});
