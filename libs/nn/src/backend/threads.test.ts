import { afterEach, beforeAll, describe, expect, it } from '@jest/globals';
import { spawnSync } from 'node:child_process';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import * as tf from '@tensorflow/tfjs';
import { initBackend } from './init.js';
import { MAX_WASM_THREADS, resolveWasmThreads, wasmThreadsInUse, WASM_THREADS_ENV } from './threads.js';
// @ts-expect-error plain-JS test helper without type declarations
import { cases as rawCases } from './test-utils/threads-cases.mjs';

type Case = (t: typeof tf) => tf.Tensor;
const cases = rawCases as Record<string, Case>;
const here = path.dirname(fileURLToPath(import.meta.url));

/** Largest absolute difference over the largest magnitude of the reference. */
function relErr(a: ArrayLike<number>, b: ArrayLike<number>): number {
  expect(a.length).toBe(b.length);
  let num = 0;
  let den = 0;
  for (let i = 0; i < a.length; i++) {
    num = Math.max(num, Math.abs(a[i]! - b[i]!));
    den = Math.max(den, Math.abs(b[i]!));
  }
  return num / Math.max(den, 1e-12);
}

describe('resolveWasmThreads', () => {
  it("takes a count, clamps it to the pool's size, and maps auto to 1 inside Jest", () => {
    expect(resolveWasmThreads(3, undefined)).toBe(3);
    expect(resolveWasmThreads(64, undefined)).toBe(MAX_WASM_THREADS);
    expect(resolveWasmThreads('auto', undefined)).toBe(1);
    expect(resolveWasmThreads(undefined, undefined)).toBe(1);
  });

  it('lets the environment variable win over the option', () => {
    expect(resolveWasmThreads(4, '2')).toBe(2);
    expect(resolveWasmThreads(4, ' AUTO ')).toBe(1);
    expect(resolveWasmThreads(4, '')).toBe(4);
  });

  it('rejects anything but auto or a positive integer, naming the source', () => {
    for (const bad of [0, -1, 1.5, Number.NaN]) {
      expect(() => resolveWasmThreads(bad, undefined)).toThrow(/'threads' passed to 'initBackend' must be 'auto' or a positive integer/);
    }
    expect(() => resolveWasmThreads('two' as never, undefined)).toThrow(RangeError);
    for (const bad of ['0', 'two', '1.5', '-2']) {
      expect(() => resolveWasmThreads(1, bad)).toThrow(new RegExp(`${WASM_THREADS_ENV} must be 'auto' or a positive integer`));
    }
  });
});

describe('the threaded wasm backend in Node', () => {
  const lines: string[] = [];
  beforeAll(async () => {
    delete process.env[WASM_THREADS_ENV];
    // The first wasm start of this test file's module registry: the count is fixed here.
    await initBackend({ backend: 'wasm', threads: 2, log: (m) => lines.push(m) });
  });
  afterEach(async () => {
    await tf.setBackend('wasm');
  });

  it('runs a pool of 2 threads and says so in the backend line', () => {
    expect(tf.getBackend()).toBe('wasm');
    expect(wasmThreadsInUse()).toBe(2);
    expect(tf.env().getBool('WASM_HAS_MULTITHREAD_SUPPORT')).toBe(true);
    expect(lines).toEqual([expect.stringMatching(/compute backend 'wasm' \(SIMD on, threads 2\)/)]);
  });

  it('reports the count in use when asked for another one later', async () => {
    const later: string[] = [];
    await initBackend({ backend: 'cpu', log: false });
    await initBackend({ backend: 'wasm', threads: 1, log: (m) => later.push(m) });
    expect(wasmThreadsInUse()).toBe(2);
    expect(later.join('\n')).toMatch(/threads 2 \(fixed when wasm first started; 1 asked for\)/);
  });

  it('gives the single-threaded results (tfjs as it runs in Node, another process) within float32 rounding', () => {
    const child = spawnSync(process.execPath, [path.join(here, 'test-utils/single-thread-reference.mjs')], {
      encoding: 'utf8',
      env: { ...process.env, [WASM_THREADS_ENV]: '' },
      maxBuffer: 1 << 26,
      timeout: 120_000,
    });
    expect(child.stderr).toBe('');
    expect(child.status).toBe(0);
    const single = JSON.parse(child.stdout) as Record<string, number[] | boolean>;
    expect(single['multithread']).toBe(false);
    for (const [name, fn] of Object.entries(cases)) {
      const threaded = tf.tidy(() => fn(tf).dataSync());
      const ref = single[name] as number[];
      expect(ref.length).toBeGreaterThan(1000);
      // Sums of up to a few hundred products: float32 rounding, whatever the order.
      expect(relErr(threaded, ref)).toBeLessThan(1e-5);
    }
  });

  it('gives the cpu backend results for convolutions and their gradients (the kernel fills on the pool)', async () => {
    const x = tf.randomNormal([2, 32, 32, 16], 0, 1, 'float32', 11) as tf.Tensor4D;
    const w = tf.randomNormal([3, 3, 16, 32], 0, 0.2, 'float32', 12) as tf.Tensor4D;
    const r = tf.randomNormal([2, 16, 16, 32], 0, 1, 'float32', 13);
    const run = () => {
      const f = (xx: tf.Tensor, ww: tf.Tensor) => tf.conv2d(xx as tf.Tensor4D, ww as tf.Tensor4D, 2, 'same').mul(r).sum();
      return tf.tidy(() => {
        const [dx, dw] = tf.grads(f)([x, w]);
        return { y: tf.conv2d(x, w, 2, 'same').dataSync(), dx: dx!.dataSync(), dw: dw!.dataSync() };
      });
    };
    const wasm = run();
    await tf.setBackend('cpu');
    const cpu = run();
    await tf.setBackend('wasm');
    tf.dispose([x, w, r]);
    expect(relErr(wasm.y, cpu.y)).toBeLessThan(1e-5);
    expect(relErr(wasm.dx, cpu.dx)).toBeLessThan(1e-5);
    // The weight gradient sums over 2x16x16 positions.
    expect(relErr(wasm.dw, cpu.dw)).toBeLessThan(1e-5);
  });
});
