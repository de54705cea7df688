import { beforeAll, describe, expect, it } from '@jest/globals';
import * as tf from '@tensorflow/tfjs';
import { initBackend } from '../backend/index.js';
import { checkpoint, conv2d, linear, recomputeGradients } from './index.js';

// Gradients of conv2d / linear are computed per input, only for the inputs a
// backward pass needs: these tests count the kernels a backward pass runs
// (tf.profile) and compare the gradients with tfjs's own registered gradients
// of the plain operations (an independent implementation: tfjs's Conv2D,
// BiasAdd and MatMul gradient configs). TOL: float32 rounding of sums of a
// few hundred products of values in [-1, 1].
const TOL = 1e-5;

beforeAll(async () => {
  await initBackend({ backend: 'wasm', log: false });
});

/** How many times each kernel ran in `f` (which must dispose what it makes). */
async function kernelCounts(f: () => void): Promise<Map<string, number>> {
  const info = await tf.profile(f);
  const counts = new Map<string, number>();
  for (const k of info.kernels) counts.set(k.name, (counts.get(k.name) ?? 0) + 1);
  return counts;
}

function maxAbsDiff(a: tf.Tensor, b: tf.Tensor): number {
  return tf.tidy(() => tf.max(tf.abs(tf.sub(a, b))).dataSync()[0]!);
}

/** Seeded weights as variables (what a network's layers hold), an input, and an output weighting. */
function convCase(stride: number) {
  return tf.tidy(() => ({
    x: tf.keep(tf.randomUniform([2, 6, 6, 3], -1, 1, 'float32', 1)) as tf.Tensor4D,
    w: tf.variable(tf.randomUniform([3, 3, 3, 4], -1, 1, 'float32', 2)) as unknown as tf.Tensor4D,
    b: tf.variable(tf.randomUniform([4], -1, 1, 'float32', 3)) as unknown as tf.Tensor1D,
    gw: tf.keep(tf.randomUniform(stride === 1 ? [2, 6, 6, 4] : [2, 3, 3, 4], -1, 1, 'float32', 4)),
    stride,
  }));
}

/** tfjs's plain convolution with PyTorch's symmetric padding 1 and its registered gradients. */
function reference(x: tf.Tensor4D, w: tf.Tensor4D, b: tf.Tensor1D, stride: number): tf.Tensor4D {
  return tf.add(tf.conv2d(x, w, stride, [[0, 0], [1, 1], [1, 1], [0, 0]]), b) as tf.Tensor4D;
}

describe('conv2d computes only the gradients a backward pass needs', () => {
  for (const stride of [1, 2]) {
    it(`an input gradient (stride ${stride}) runs no filter gradient and equals tfjs's`, async () => {
      const c = convCase(stride);
      type Conv = (x: tf.Tensor4D, w: tf.Tensor4D, b: tf.Tensor1D) => tf.Tensor4D;
      const loss = (f: Conv) => (xx: tf.Tensor) => tf.sum(tf.mul(f(xx as tf.Tensor4D, c.w, c.b), c.gw));
      const ours: Conv = (x, w, b) => conv2d(x, w, b, { stride });
      const theirs: Conv = (x, w, b) => reference(x, w, b, stride);
      const counts = await kernelCounts(() => {
        tf.grad(loss(ours))(c.x).dispose();
      });
      expect(counts.get('Conv2DBackpropFilter') ?? 0).toBe(0);
      expect(counts.get('Conv2DBackpropInput')).toBe(1);
      const before = tf.memory().numTensors;
      tf.tidy(() => {
        const g = tf.grad(loss(ours))(c.x);
        const ref = tf.grad(loss(theirs))(c.x);
        expect(maxAbsDiff(g, ref)).toBeLessThan(TOL);
      });
      expect(tf.memory().numTensors).toBe(before);
      tf.dispose(Object.values(c).filter((v): v is tf.Tensor => v instanceof tf.Tensor));
    });
  }

  it('training gradients (x, filter, bias) equal tfjs\'s; parameters alone run no input gradient; nothing leaks', async () => {
    const c = convCase(2);
    const lossOf = (f: (x: tf.Tensor4D, w: tf.Tensor4D, b: tf.Tensor1D) => tf.Tensor4D) => (xx: tf.Tensor, ww: tf.Tensor, bb: tf.Tensor) =>
      tf.sum(tf.mul(f(xx as tf.Tensor4D, ww as tf.Tensor4D, bb as tf.Tensor1D), c.gw));
    const ours = lossOf((x, w, b) => conv2d(x, w, b, { stride: 2 }));
    const theirs = lossOf((x, w, b) => reference(x, w, b, 2));
    const before = tf.memory().numTensors;
    tf.tidy(() => {
      const g = tf.grads(ours)([c.x, c.w, c.b]);
      const ref = tf.grads(theirs)([c.x, c.w, c.b]);
      g.forEach((gi, i) => expect(maxAbsDiff(gi, ref[i]!)).toBeLessThan(TOL));
      // the same through the variables, as tf.variableGrads (training) reads them
      const vg = tf.variableGrads(() => ours(c.x, c.w, c.b) as tf.Scalar, [c.w as unknown as tf.Variable, c.b as unknown as tf.Variable]);
      expect(maxAbsDiff(vg.grads[(c.w as unknown as tf.Variable).name]!, ref[1]!)).toBeLessThan(TOL);
      expect(maxAbsDiff(vg.grads[(c.b as unknown as tf.Variable).name]!, ref[2]!)).toBeLessThan(TOL);
    });
    expect(tf.memory().numTensors).toBe(before);
    const all = await kernelCounts(() => tf.dispose(tf.grads(ours)([c.x, c.w, c.b])));
    expect(all.get('Conv2DBackpropFilter')).toBe(1);
    expect(all.get('Conv2DBackpropInput')).toBe(1);
    const paramsOnly = await kernelCounts(() => {
      const vg = tf.variableGrads(() => ours(c.x, c.w, c.b) as tf.Scalar, [c.w as unknown as tf.Variable, c.b as unknown as tf.Variable]);
      tf.dispose([vg.value, ...Object.values(vg.grads)]);
    });
    expect(paramsOnly.get('Conv2DBackpropFilter')).toBe(1);
    expect(paramsOnly.get('Conv2DBackpropInput') ?? 0).toBe(0);
    expect(tf.memory().numTensors).toBe(before);
    tf.dispose(Object.values(c).filter((v): v is tf.Tensor => v instanceof tf.Tensor));
  });

  it('a bias-free convolution and recomputeGradients (checkpointing) get the same gradients as tfjs\'s', () => {
    const c = convCase(1);
    const ref = tf.tidy(() => tf.grads((xx: tf.Tensor, ww: tf.Tensor) => tf.sum(tf.mul(tf.conv2d(xx as tf.Tensor4D, ww as tf.Tensor4D, 1, 'same'), c.gw)))([c.x, c.w]));
    const before = tf.memory().numTensors;
    tf.tidy(() => {
      const g = tf.grads((xx: tf.Tensor, ww: tf.Tensor) => tf.sum(tf.mul(conv2d(xx as tf.Tensor4D, ww as tf.Tensor4D, null), c.gw)))([c.x, c.w]);
      g.forEach((gi, i) => expect(maxAbsDiff(gi, ref[i]!)).toBeLessThan(TOL));
      const r = recomputeGradients(() => conv2d(c.x, c.w, null), [c.x, c.w], c.gw);
      r.forEach((gi, i) => expect(maxAbsDiff(gi, ref[i]!)).toBeLessThan(TOL));
      // a checkpointed convolution's input gradient through tf.grad
      const gc = tf.grad((xx: tf.Tensor) => tf.sum(tf.mul(checkpoint(([a]) => conv2d(a as tf.Tensor4D, c.w, null), [xx], [c.w as unknown as tf.Variable]), c.gw)))(c.x);
      expect(maxAbsDiff(gc, ref[0]!)).toBeLessThan(TOL);
    });
    expect(tf.memory().numTensors).toBe(before);
    tf.dispose([...ref, ...Object.values(c).filter((v): v is tf.Tensor => v instanceof tf.Tensor)]);
  });
});

describe('linear computes only the gradients a backward pass needs', () => {
  it('an input gradient runs one matrix product, training three; all equal tfjs\'s matMul gradients', async () => {
    const x = tf.randomUniform([2, 5, 6], -1, 1, 'float32', 5);
    const w = tf.variable(tf.randomUniform([6, 7], -1, 1, 'float32', 6)) as unknown as tf.Tensor2D;
    const b = tf.variable(tf.randomUniform([7], -1, 1, 'float32', 7)) as unknown as tf.Tensor1D;
    const gw = tf.randomUniform([2, 5, 7], -1, 1, 'float32', 8);
    const ours = (xx: tf.Tensor, ww: tf.Tensor, bb: tf.Tensor) => tf.sum(tf.mul(linear(xx, ww as tf.Tensor2D, bb as tf.Tensor1D), gw));
    const theirs = (xx: tf.Tensor, ww: tf.Tensor, bb: tf.Tensor) => tf.sum(tf.mul(tf.add(tf.matMul(tf.reshape(xx, [10, 6]) as tf.Tensor2D, ww as tf.Tensor2D), bb), tf.reshape(gw, [10, 7])));
    const inputOnly = await kernelCounts(() => tf.grad((xx: tf.Tensor) => ours(xx, w, b))(x).dispose());
    expect(inputOnly.get('BatchMatMul')).toBe(1);
    const all = await kernelCounts(() => tf.dispose(tf.grads(ours)([x, w, b])));
    expect(all.get('BatchMatMul')).toBe(3);
    const before = tf.memory().numTensors;
    tf.tidy(() => {
      const g = tf.grads(ours)([x, w, b]);
      const ref = tf.grads(theirs)([x, w, b]);
      g.forEach((gi, i) => expect(maxAbsDiff(gi, ref[i]!)).toBeLessThan(TOL));
      expect(maxAbsDiff(tf.grad((xx: tf.Tensor) => ours(xx, w, b))(x), ref[0]!)).toBeLessThan(TOL);
      // no bias: the zeros standing in for it get no gradient
      const g2 = tf.grads((xx: tf.Tensor, ww: tf.Tensor) => tf.sum(tf.mul(linear(xx, ww as tf.Tensor2D, null), gw)))([x, w]);
      const ref2 = tf.grads((xx: tf.Tensor, ww: tf.Tensor) => tf.sum(tf.mul(tf.matMul(tf.reshape(xx, [10, 6]) as tf.Tensor2D, ww as tf.Tensor2D), tf.reshape(gw, [10, 7]))))([x, w]);
      g2.forEach((gi, i) => expect(maxAbsDiff(gi, ref2[i]!)).toBeLessThan(TOL));
    });
    expect(tf.memory().numTensors).toBe(before);
    tf.dispose([x, w, b, gw]);
  });
});
