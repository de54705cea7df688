import { afterEach, describe, expect, it } from '@jest/globals';
import * as tf from '@tensorflow/tfjs';
import { initBackend, currentBackend, BackendError } from './init.js';
import { assertFitsMemory, MemoryBudgetError } from './memory.js';

describe('initBackend', () => {
  afterEach(() => {
    delete process.env['TUMORCAST_BACKEND'];
  });

  it('chooses wasm here (tfjs-node is not installed) and logs the choice once', async () => {
    const lines: string[] = [];
    const name = await initBackend({ log: (m) => lines.push(m) });
    expect(name).toBe('wasm');
    expect(tf.getBackend()).toBe('wasm');
    expect(currentBackend()).toBe('wasm');
    await initBackend({ log: (m) => lines.push(m) });
    expect(lines).toHaveLength(1);
    expect(lines[0]).toMatch(/compute backend 'wasm' \(SIMD on/);
    // The fills are registered.
    expect(tf.getKernel('Conv2DBackpropFilter', 'wasm')).toBeDefined();
    expect(tf.getKernel('UnsortedSegmentSum', 'wasm')).toBeDefined();
  });

  it('uses cpu only when asked by name, with a warning', async () => {
    const lines: string[] = [];
    expect(await initBackend({ backend: 'cpu', log: (m) => lines.push(m) })).toBe('cpu');
    expect(lines.join('\n')).toMatch(/100x slower/);
    await initBackend({ backend: 'wasm', log: false });
  });

  it('honours TUMORCAST_BACKEND over the option', async () => {
    process.env['TUMORCAST_BACKEND'] = 'cpu';
    expect(await initBackend({ backend: 'wasm', log: false })).toBe('cpu');
    process.env['TUMORCAST_BACKEND'] = 'wasm';
    expect(await initBackend({ backend: 'cpu', log: false })).toBe('wasm');
  });

  it('explains what to install when tensorflow is requested but absent', async () => {
    await expect(initBackend({ backend: 'tensorflow', log: false })).rejects.toThrow(/npm install @tensorflow\/tfjs-node/);
    await expect(initBackend({ backend: 'tensorflow', log: false })).rejects.toBeInstanceOf(BackendError);
  });

  it('rejects an unknown backend name, naming the source', async () => {
    await expect(initBackend({ backend: 'gpu2' as never, log: false })).rejects.toThrow(/'backend' passed to 'initBackend'/);
    process.env['TUMORCAST_BACKEND'] = 'metal';
    await expect(initBackend({ log: false })).rejects.toThrow(/TUMORCAST_BACKEND/);
  });
});

describe('assertFitsMemory', () => {
  it('refuses work that would overflow the wasm heap and says what to reduce', async () => {
    await initBackend({ backend: 'wasm', log: false });
    expect(() => assertFitsMemory(1024 ** 2, 'a small step')).not.toThrow();
    expect(() => assertFitsMemory(5 * 1024 ** 3, 'a training step of batch 64 at 256x256', { hint: 'reduce --batch-size' }))
      .toThrow(MemoryBudgetError);
    expect(() => assertFitsMemory(5 * 1024 ** 3, 'a training step', { hint: 'reduce --batch-size' })).toThrow(/reduce --batch-size/);
    expect(() => assertFitsMemory(Number.NaN, 'x')).toThrow(/'estimatedBytes'/);
  });
});
