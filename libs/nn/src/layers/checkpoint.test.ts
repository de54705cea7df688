import { beforeAll, describe, expect, it } from '@jest/globals';
import * as tf from '@tensorflow/tfjs';
import { Rng } from '@tumorcast/random';
import { initBackend } from '../backend/index.js';
import { addBroadcast, checkpoint, conv2d, dropout, groupNorm, groupNormSilu, recomputeGradients, silu } from './index.js';
import type { ForwardContext } from './index.js';

/** max |a - b| / max |b| (0 when both are all zeros). */
function relErr(a: tf.Tensor, b: tf.Tensor): number {
  const av = a.dataSync();
  const bv = b.dataSync();
  expect(av.length).toBe(bv.length);
  let num = 0;
  let den = 0;
  for (let i = 0; i < av.length; i++) {
    num = Math.max(num, Math.abs(av[i]! - bv[i]!));
    den = Math.max(den, Math.abs(bv[i]!));
  }
  return den === 0 ? num : num / den;
}

function randn(shape: number[], seed: number): tf.Tensor {
  return tf.tensor(new Rng(seed).normalArray(shape.reduce((p, q) => p * q, 1)), shape);
}

beforeAll(async () => {
  await initBackend({ backend: 'wasm', log: false });
});

describe('checkpoint', () => {
  it('gives the analytic gradients of its inputs and of the variables it lists (float64 oracle, 1e-5 relative)', () => {
    // L = sum(tanh(x * w) * x): dL/dx = tanh(xw) + x w (1 - tanh^2(xw)), dL/dw = x^2 (1 - tanh^2(xw)), summed over rows for w.
    const xs = new Rng(1).normalArray(12);
    const ws = new Rng(2).normalArray(4);
    const x = tf.tensor2d(xs, [3, 4]);
    const w = tf.variable(tf.tensor1d(ws), true, 'ckpt-analytic-w');
    const f = ([xx]: tf.Tensor[]) => tf.mul(tf.tanh(tf.mul(xx!, w)), xx!);
    const { value, grads } = tf.tidy(() => {
      const g = tf.variableGrads(() => tf.sum(checkpoint(f, [x], [w])) as tf.Scalar, [w]);
      const gx = tf.grad((xx: tf.Tensor) => tf.sum(checkpoint(f, [xx], [w])))(x);
      return { value: g.value, grads: { w: g.grads['ckpt-analytic-w']!, x: gx } };
    });
    const wantX = new Float64Array(12);
    const wantW = new Float64Array(4);
    let wantL = 0;
    for (let i = 0; i < 12; i++) {
      const xi = xs[i]!;
      const wi = ws[i % 4]!;
      const t = Math.tanh(xi * wi);
      wantL += t * xi;
      wantX[i] = t + xi * wi * (1 - t * t);
      wantW[i % 4] = wantW[i % 4]! + xi * xi * (1 - t * t);
    }
    expect(relErr(value, tf.scalar(wantL))).toBeLessThan(1e-5);
    expect(relErr(grads.x, tf.tensor2d(Array.from(wantX), [3, 4]))).toBeLessThan(1e-5);
    expect(relErr(grads.w, tf.tensor1d(Array.from(wantW)))).toBeLessThan(1e-5);
    tf.dispose([x, w, value, grads.w, grads.x]);
  });

  it('matches the plain forward: value, input and variable gradients, dropout masks replayed, nested checkpoints', () => {
    const x = randn([2, 6, 6, 32], 3);
    const e = randn([2, 32], 4);
    const w = tf.variable(randn([3, 3, 32, 32], 5).mul(0.1), true, 'ckpt-conv-w');
    const b = tf.variable(randn([32], 6), true, 'ckpt-conv-b');
    const gamma = tf.variable(randn([32], 7).add(1), true, 'ckpt-gn-g');
    const beta = tf.variable(randn([32], 8), true, 'ckpt-gn-b');
    const vars = [w, b, gamma, beta];
    const inner = (h: tf.Tensor, c: ForwardContext) => dropout(silu(h), 0.3, c.rng!);
    const block = (xx: tf.Tensor, ee: tf.Tensor, c: ForwardContext, nested: boolean) => {
      const h = conv2d(groupNormSilu(xx, gamma as tf.Tensor1D, beta as tf.Tensor1D) as tf.Tensor4D, w as tf.Tensor4D, b as tf.Tensor1D, { cacheFilter: false });
      const a = addBroadcast(h, tf.reshape(ee, [2, 1, 1, 32]));
      const d = nested ? checkpoint(([hh], cc) => inner(hh!, cc), [a], [], c) : inner(a, c);
      return addBroadcast(xx, groupNorm(d, gamma as tf.Tensor1D, beta as tf.Tensor1D));
    };
    const run = (mode: 'plain' | 'checkpoint' | 'nested') => tf.tidy(() => {
      const ctx: ForwardContext = { training: true, rng: new Rng(9) };
      const target = randn([2, 6, 6, 32], 10);
      const loss = (xx: tf.Tensor, ee: tf.Tensor) => {
        const y = mode === 'plain'
          ? block(xx, ee, ctx, false)
          : checkpoint(([a, c], cc) => block(a!, c!, cc, mode === 'nested'), [xx, ee], vars, ctx);
        return tf.sum(tf.mul(y, target)) as tf.Scalar;
      };
      const [gx, ge] = tf.grads((xx: tf.Tensor, ee: tf.Tensor) => loss(xx, ee))([x, e]);
      const { value, grads } = tf.variableGrads(() => loss(x, e), vars);
      return { value, gx: gx!, ge: ge!, gv: vars.map((v) => grads[v.name]!) };
    });
    const plain = run('plain');
    for (const mode of ['checkpoint', 'nested'] as const) {
      const got = run(mode);
      expect(relErr(got.value, plain.value)).toBeLessThan(1e-5);
      expect(relErr(got.gx, plain.gx)).toBeLessThan(1e-5);
      expect(relErr(got.ge, plain.ge)).toBeLessThan(1e-5);
      got.gv.forEach((g, i) => expect(relErr(g, plain.gv[i]!)).toBeLessThan(1e-5));
      tf.dispose([got.value, got.gx, got.ge, ...got.gv]);
    }
    tf.dispose([plain.value, plain.gx, plain.ge, ...plain.gv, x, e, ...vars]);
  });

  it('perSample: the whole batch\'s values and gradients, one sample at a time; dropout masks drawn and replayed per sample', () => {
    const x = randn([3, 4, 4, 32], 31);
    const e = randn([3, 32], 32);
    const w = tf.variable(randn([3, 3, 32, 32], 33).mul(0.1), true, 'ckpt-ps-w');
    const gamma = tf.variable(randn([32], 34).add(1), true, 'ckpt-ps-g');
    const beta = tf.variable(randn([32], 35), true, 'ckpt-ps-b');
    const vars = [w, gamma, beta];
    const block = (xx: tf.Tensor, ee: tf.Tensor, c: ForwardContext, drop: boolean) => {
      const h = conv2d(groupNormSilu(xx, gamma as tf.Tensor1D, beta as tf.Tensor1D) as tf.Tensor4D, w as tf.Tensor4D, null);
      const a = addBroadcast(h, tf.reshape(ee, [xx.shape[0]!, 1, 1, 32]));
      return drop ? dropout(a, 0.3, c.rng!) : a;
    };
    const target = randn([3, 4, 4, 32], 36);
    for (const drop of [false, true]) {
      // The reference: the block applied to each sample in turn (one mask per sample, in order), outputs concatenated.
      const ref = (xx: tf.Tensor, ee: tf.Tensor) => {
        const c: ForwardContext = { training: true, rng: new Rng(37) };
        const parts = [0, 1, 2].map((i) => block(tf.slice(xx, [i, 0, 0, 0], [1, 4, 4, 32]), tf.slice(ee, [i, 0], [1, 32]), c, drop));
        return tf.sum(tf.mul(tf.concat(parts, 0), target)) as tf.Scalar;
      };
      const got = (xx: tf.Tensor, ee: tf.Tensor) => {
        const c: ForwardContext = { training: true, rng: new Rng(37) };
        return tf.sum(tf.mul(checkpoint(([a, b], cc) => block(a!, b!, cc, drop), [xx, ee], vars, c, { perSample: true }), target)) as tf.Scalar;
      };
      const want = tf.variableGrads(() => ref(x, e), vars);
      const have = tf.variableGrads(() => got(x, e), vars);
      expect(relErr(have.value, want.value)).toBeLessThan(1e-6);
      vars.forEach((v) => expect(relErr(have.grads[v.name]!, want.grads[v.name]!)).toBeLessThan(1e-5));
      const [gx, ge] = tf.grads(got)([x, e]);
      const [rx, re] = tf.grads(ref)([x, e]);
      expect(relErr(gx!, rx!)).toBeLessThan(1e-5);
      expect(relErr(ge!, re!)).toBeLessThan(1e-5);
      tf.dispose([want.value, have.value, ...Object.values(want.grads), ...Object.values(have.grads), gx!, ge!, rx!, re!]);
    }
    expect(() => checkpoint(([a]) => a!, [x, randn([2, 32], 38)], [], {}, { perSample: true }))
      .toThrow(/'inputs' passed to 'checkpoint' with 'perSample' must share their first \(batch\) axis/);
    tf.dispose([x, e, target, ...vars]);
  });

  it('runs the forward unchanged when no gradient is recorded, and leaks no tensors across gradient steps', () => {
    const x = randn([2, 8], 11);
    const w = tf.variable(randn([8], 12), true, 'ckpt-leak-w');
    const f = ([xx]: tf.Tensor[]) => silu(tf.mul(xx!, w));
    const plain = tf.tidy(() => f([x]));
    const inferred = tf.tidy(() => checkpoint(f, [x], [w]));
    expect(Array.from(inferred.dataSync())).toEqual(Array.from(plain.dataSync()));
    const step = () => {
      const { value, grads } = tf.variableGrads(() => tf.sum(checkpoint(f, [x], [w, w])) as tf.Scalar, [w]);
      tf.dispose([value, grads]);
    };
    step();
    const before = tf.memory();
    for (let i = 0; i < 3; i++) step();
    expect(tf.memory().numTensors).toBe(before.numTensors);
    expect(tf.memory().numBytes).toBe(before.numBytes);
    tf.dispose([x, w, plain, inferred]);
  });

  it('counts a variable listed twice once', () => {
    const x = tf.tensor1d([1, 2, 3]);
    const w = tf.variable(tf.tensor1d([0.5, -1, 2]), true, 'ckpt-twice-w');
    const { value, grads } = tf.variableGrads(() => tf.sum(checkpoint(([xx]) => tf.mul(xx!, w), [x], [w, w])) as tf.Scalar, [w]);
    expect(Array.from(grads['ckpt-twice-w']!.dataSync())).toEqual([1, 2, 3]);
    tf.dispose([x, w, value, grads]);
  });

  it('refuses bad arguments with the argument named', () => {
    const x = tf.tensor1d([1, 2]);
    const w = tf.variable(tf.tensor1d([1, 1]), true, 'ckpt-bad-w');
    const f = ([xx]: tf.Tensor[]) => xx!;
    expect(() => checkpoint(null as unknown as typeof f, [x], [])).toThrow(/'forward' passed to 'checkpoint'/);
    expect(() => checkpoint(f, [], [])).toThrow(/'inputs' passed to 'checkpoint' must be a non-empty array/);
    expect(() => checkpoint(f, [tf.tensor1d([1], 'int32')], [])).toThrow(/'inputs\[0\]' passed to 'checkpoint' must be float32/);
    expect(() => checkpoint(f, [x], [x as unknown as tf.Variable])).toThrow(/'params\[0\]' passed to 'checkpoint' must be a tf.Variable/);
    const gone = tf.tensor1d([1]);
    gone.dispose();
    expect(() => checkpoint(f, [gone], [w])).toThrow(/'inputs\[0\]' passed to 'checkpoint' is disposed/);
    tf.dispose([x, w]);
  });
});

describe('recomputeGradients', () => {
  it('equals tf.grads on a graph with a reused value, leaves dy alone and frees everything else', () => {
    const x = randn([4, 5], 13);
    const y = randn([4, 5], 14);
    const dy = randn([4, 5], 15);
    const f = () => {
      const a = tf.sigmoid(tf.mul(x, y));
      return tf.add(tf.mul(a, a), tf.mul(a, x));
    };
    const want = tf.grads((xx: tf.Tensor, yy: tf.Tensor) => {
      const a = tf.sigmoid(tf.mul(xx, yy));
      return tf.add(tf.mul(a, a), tf.mul(a, xx));
    })([x, y], dy);
    const before = tf.memory().numTensors;
    const got = recomputeGradients(f, [x, y, randn([2], 16)], dy);
    // x, y: their gradients; the unrelated third tensor: zeros. Nothing else stays.
    expect(tf.memory().numTensors).toBe(before + 3 + 1);
    expect(relErr(got[0]!, want[0]!)).toBeLessThan(1e-6);
    expect(relErr(got[1]!, want[1]!)).toBeLessThan(1e-6);
    expect(Array.from(got[2]!.dataSync())).toEqual([0, 0]);
    expect(dy.isDisposed).toBe(false);
    expect(() => recomputeGradients(f, [x], tf.zeros([3]))).toThrow(/dy has shape \[3\]/);
    tf.dispose([x, y, dy, ...want, ...got]);
  });
});

describe('memory-lean operations', () => {
  it('groupNormSilu has the values of silu(groupNorm) and the same gradients (1e-6 relative)', () => {
    const x = randn([2, 5, 3, 64], 17).mul(3).add(1);
    const g = randn([64], 18);
    const b = randn([64], 19);
    const dy = randn([2, 5, 3, 64], 20);
    const ref = (xx: tf.Tensor, gg: tf.Tensor, bb: tf.Tensor) => silu(groupNorm(xx, gg as tf.Tensor1D, bb as tf.Tensor1D));
    const fused = (xx: tf.Tensor, gg: tf.Tensor, bb: tf.Tensor) => groupNormSilu(xx, gg as tf.Tensor1D, bb as tf.Tensor1D);
    const a = tf.tidy(() => ref(x, g, b));
    const f = tf.tidy(() => fused(x, g, b));
    expect(Array.from(f.dataSync())).toEqual(Array.from(a.dataSync()));
    const ga = tf.grads(ref)([x, g, b], dy);
    const gf = tf.grads(fused)([x, g, b], dy);
    gf.forEach((t, i) => expect(relErr(t, ga[i]!)).toBeLessThan(1e-6));
    expect(() => groupNormSilu(tf.zeros([2, 3, 30]), g as tf.Tensor1D, b as tf.Tensor1D)).toThrow(/'x' passed to 'groupNormSilu' has 30 channels/);
    tf.dispose([x, g, b, dy, a, f, ...ga, ...gf]);
  });

  it('addBroadcast equals tf.add, values and gradients, and refuses a b that does not broadcast to a', () => {
    const a = randn([2, 3, 3, 4], 21);
    const b = randn([2, 1, 1, 4], 22);
    const dy = randn([2, 3, 3, 4], 23);
    const want = tf.grads((p: tf.Tensor, q: tf.Tensor) => tf.add(p, q))([a, b], dy);
    const got = tf.grads((p: tf.Tensor, q: tf.Tensor) => addBroadcast(p, q))([a, b], dy);
    got.forEach((t, i) => expect(Array.from(t.dataSync())).toEqual(Array.from(want[i]!.dataSync())));
    expect(() => addBroadcast(b, a)).toThrow(/'b' passed to 'addBroadcast'/);
    tf.dispose([a, b, dy, ...want, ...got]);
  });

  it('conv2d gives the same values without the backend keeping its copy of the filter, and tfjs conv gradients', () => {
    const x = randn([2, 7, 7, 3], 24) as tf.Tensor4D;
    const w = randn([3, 3, 3, 5], 25) as tf.Tensor4D;
    const bias = randn([5], 26) as tf.Tensor1D;
    const dy = randn([2, 4, 4, 5], 27);
    const cached = tf.tidy(() => conv2d(x, w, bias, { stride: 2, padding: 1 }));
    const fresh = tf.tidy(() => conv2d(x, w, bias, { stride: 2, padding: 1, cacheFilter: false }));
    expect(Array.from(fresh.dataSync())).toEqual(Array.from(cached.dataSync()));
    const pad: tf.backend_util.ExplicitPadding = [[0, 0], [1, 1], [1, 1], [0, 0]];
    const want = tf.grads((p: tf.Tensor, q: tf.Tensor, r: tf.Tensor) => tf.add(tf.conv2d(p as tf.Tensor4D, q as tf.Tensor4D, 2, pad), r))([x, w, bias], dy);
    const got = tf.grads((p: tf.Tensor, q: tf.Tensor, r: tf.Tensor) =>
      conv2d(p as tf.Tensor4D, q as tf.Tensor4D, r as tf.Tensor1D, { stride: 2, padding: 1, cacheFilter: false }))([x, w, bias], dy);
    got.forEach((t, i) => expect(relErr(t, want[i]!)).toBeLessThan(1e-5));
    expect(() => conv2d(x, w, tf.zeros([4]) as tf.Tensor1D)).toThrow(/'bias' passed to 'conv2d' must have 5 values/);
    tf.dispose([x, w, bias, dy, cached, fresh, ...want, ...got]);
  });
});
