// Backend selection with stubbed optional packages: tfjs-node(-gpu) bindings that register a
// stub 'tensorflow' backend, and a WebGPU adapter (navigator.gpu) with a stub tfjs webgpu
// backend, hardware or software. No GPU, no native binding and no Dawn are loaded here; the
// real webgpu backend is tested in libs/pipeline/test/webgpu.test.ts.
import { afterEach, beforeAll, describe, expect, it } from '@jest/globals';
import * as tf from '@tensorflow/tfjs';
import { BackendError, initBackend } from './init.js';
import { assertFitsMemory, MemoryBudgetError } from './memory.js';
import { clearWebGPUDeviceError, isSoftwareAdapter, setUpWebGPU, syncReadsAvailable, webgpuAdapter, webgpuDeviceError, type ModuleImporter } from './webgpu.js';

/** A backend that only exists: selection needs no kernels. */
class StubBackend extends tf.KernelBackend {
  override numDataIds(): number {
    return 0;
  }
  override dispose(): void {}
  override memory(): { unreliable: boolean; numBytesInGPU: number; numBytesAllocatedInGPU: number } {
    return { unreliable: false, numBytesInGPU: 0, numBytesAllocatedInGPU: 0 };
  }
}

/** A fake GPUDevice whose uncaptured-error listener the test can fire. */
function fakeDevice() {
  const listeners: ((e: { error: { message: string } }) => void)[] = [];
  return {
    lost: new Promise(() => undefined),
    features: new Set<string>(),
    addEventListener: (_type: string, l: (e: { error: { message: string } }) => void) => listeners.push(l),
    fire: (error: { message: string }) => listeners.forEach((l) => l({ error })),
  };
}

let device = fakeDevice();

/** navigator.gpu with one adapter described by `info`. */
function fakeGpu(info: Record<string, unknown>, isFallbackAdapter = false) {
  return {
    requestAdapter: async () => ({
      info, isFallbackAdapter, features: new Set<string>(), limits: { maxBufferSize: 2 ** 30, maxStorageBufferBindingSize: 2 ** 30 },
      requestDevice: async () => {
        device = fakeDevice();
        return device;
      },
    }),
  };
}

/** The stub tfjs webgpu package: its WebGPUBackend is a StubBackend. */
const webgpuPackage = { WebGPUBackend: class extends StubBackend {} };

/** An importer in which only `present` can be loaded; tfjs-node(-gpu) register a stub 'tensorflow' backend. */
function importer(present: string[], calls: string[] = []): ModuleImporter {
  return async (specifier) => {
    calls.push(specifier);
    if (!present.includes(specifier)) throw new Error(`Cannot find package '${specifier}'`);
    if (specifier.startsWith('@tensorflow/tfjs-node')) {
      if (!tf.findBackendFactory('tensorflow')) tf.registerBackend('tensorflow', () => new StubBackend());
      return {};
    }
    if (specifier === '@tensorflow/tfjs-backend-webgpu') return webgpuPackage;
    throw new Error(`unexpected import of '${specifier}'`);
  };
}

function setNavigatorGpu(gpu: unknown): void {
  const nav = (globalThis as { navigator?: object }).navigator;
  if (nav) Object.defineProperty(nav, 'gpu', { value: gpu, configurable: true, writable: true });
  else Object.defineProperty(globalThis, 'navigator', { value: { gpu }, configurable: true, writable: true });
}

beforeAll(async () => {
  await initBackend({ backend: 'wasm', log: false });
});

afterEach(async () => {
  delete process.env['TUMORCAST_BACKEND'];
  setNavigatorGpu(undefined);
  await initBackend({ backend: 'wasm', log: false });
  for (const b of ['tensorflow', 'webgpu']) if (tf.findBackendFactory(b)) tf.removeBackend(b);
});

describe('auto selection with stubbed bindings', () => {
  it('prefers tfjs-node-gpu, without looking for WebGPU', async () => {
    const calls: string[] = [];
    const lines: string[] = [];
    setNavigatorGpu(fakeGpu({ vendor: 'nvidia', architecture: 'ampere' }));
    expect(await initBackend({ importer: importer(['@tensorflow/tfjs-node-gpu', '@tensorflow/tfjs-backend-webgpu'], calls), log: (m) => lines.push(m) })).toBe('tensorflow');
    expect(tf.getBackend()).toBe('tensorflow');
    expect(lines).toEqual(["tumorcast: compute backend 'tensorflow' (@tensorflow/tfjs-node-gpu)"]);
    expect(calls).toEqual(['@tensorflow/tfjs-node-gpu']);
  });

  it('takes a hardware WebGPU adapter over tfjs-node (CPU)', async () => {
    const lines: string[] = [];
    setNavigatorGpu(fakeGpu({ vendor: 'nvidia', architecture: 'hopper', description: 'NVIDIA H100' }));
    expect(await initBackend({ importer: importer(['@tensorflow/tfjs-node', '@tensorflow/tfjs-backend-webgpu']), log: (m) => lines.push(m) })).toBe('webgpu');
    expect(tf.getBackend()).toBe('webgpu');
    expect(lines).toEqual(["tumorcast: compute backend 'webgpu' (nvidia hopper, NVIDIA H100, through navigator.gpu)"]);
    expect(webgpuAdapter()).toMatchObject({ vendor: 'nvidia', software: false, source: 'navigator.gpu', maxBufferSize: 2 ** 30 });
  });

  it('never takes a software adapter: falls to tfjs-node, then wasm, saying why', async () => {
    const lines: string[] = [];
    setNavigatorGpu(fakeGpu({ vendor: 'google', architecture: 'swiftshader', description: 'SwiftShader driver 5.0.0' }));
    expect(await initBackend({ importer: importer(['@tensorflow/tfjs-node', '@tensorflow/tfjs-backend-webgpu']), log: (m) => lines.push(m) })).toBe('tensorflow');
    expect(lines[0]).toMatch(/'tensorflow' \(@tensorflow\/tfjs-node; no WebGPU: the only WebGPU adapter is a software one \(google swiftshader, SwiftShader driver 5\.0\.0 \(software\)\)/);
    await initBackend({ backend: 'cpu', log: false });
    lines.length = 0;
    setNavigatorGpu(fakeGpu({ vendor: 'mesa', description: 'some driver' }, true)); // a fallback adapter, whatever its name
    expect(await initBackend({ importer: importer(['@tensorflow/tfjs-backend-webgpu']), log: (m) => lines.push(m) })).toBe('wasm');
    expect(lines[0]).toMatch(/'wasm' \(SIMD on, .*; no WebGPU: the only WebGPU adapter is a software one/);
  });

  it('without navigator.gpu and without the webgpu package, auto uses wasm and says why', async () => {
    const lines: string[] = [];
    expect(await initBackend({ backend: 'cpu', log: false })).toBe('cpu');
    const calls: string[] = [];
    expect(await initBackend({ importer: importer([], calls), log: (m) => lines.push(m) })).toBe('wasm');
    // By default auto does not load Dawn in Node (some tools still read synchronously).
    expect(lines[0]).toMatch(/'wasm' \(SIMD on, .*; no WebGPU: auto does not load Dawn in Node/);
    expect(calls).not.toContain('webgpu');
    await initBackend({ backend: 'cpu', log: false });
    // Asked to: either the Vulkan check (Linux) or the missing package, depending on the machine.
    expect(await initBackend({ importer: importer([]), webgpuInAuto: true, log: (m) => lines.push(m) })).toBe('wasm');
    expect(lines[1]).toMatch(/'wasm' \(SIMD on, .*; no WebGPU: (.*Vulkan|.*'webgpu' \(Dawn for Node\) could not be loaded)/);
  });
});

describe("backend 'webgpu'", () => {
  it('accepts a software adapter when asked by name (TUMORCAST_BACKEND too)', async () => {
    setNavigatorGpu(fakeGpu({ vendor: 'google', architecture: 'swiftshader' }));
    process.env['TUMORCAST_BACKEND'] = 'webgpu';
    const lines: string[] = [];
    expect(await initBackend({ importer: importer(['@tensorflow/tfjs-backend-webgpu']), log: (m) => lines.push(m) })).toBe('webgpu');
    expect(lines[0]).toMatch(/'webgpu' \(google swiftshader \(software\), through navigator.gpu\)/);
    expect(webgpuAdapter()?.software).toBe(true);
  });

  it('says what to install when the webgpu package is missing', async () => {
    const err = await initBackend({ backend: 'webgpu', importer: importer([]), log: false }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(BackendError);
    expect((err as Error).message).toMatch(/backend 'webgpu' requested but the optional package 'webgpu' \(Dawn for Node\) could not be loaded .*npm install webgpu.*or use backend 'wasm'/);
  });

  it('says what is missing when there is no adapter or no tfjs webgpu backend', async () => {
    setNavigatorGpu({ requestAdapter: async () => null });
    await expect(initBackend({ backend: 'webgpu', importer: importer([]), log: false })).rejects.toThrow(/no WebGPU adapter is available; Dawn needs/);
    setNavigatorGpu(fakeGpu({ vendor: 'amd' }));
    await expect(initBackend({ backend: 'webgpu', importer: importer([]), log: false })).rejects.toThrow(/@tensorflow\/tfjs-backend-webgpu could not be loaded/);
    // ... unless the app imported the package itself (a bundled browser app): its own registration is used
    tf.registerBackend('webgpu', () => new StubBackend());
    expect(await initBackend({ backend: 'webgpu', importer: importer([]), log: false })).toBe('webgpu');
  });

  it('the memory guard reports a GPU out-of-memory error with the GPU memory in use, once', async () => {
    setNavigatorGpu(fakeGpu({ vendor: 'nvidia' }));
    await initBackend({ backend: 'webgpu', importer: importer(['@tensorflow/tfjs-backend-webgpu']), log: false });
    expect(() => assertFitsMemory(10 * 1024 ** 3, 'a big step')).not.toThrow(); // WebGPU does not report its memory size
    class GPUOutOfMemoryError {
      constructor(readonly message: string) {}
    }
    device.fire(new GPUOutOfMemoryError('Out of memory creating buffer'));
    device.fire({ message: 'a later validation error' });
    expect(webgpuDeviceError()).toEqual({ kind: 'out-of-memory', message: 'Out of memory creating buffer' });
    expect(() => assertFitsMemory(0, 'training step 3', { hint: 'reduce --batch-size' })).toThrow(MemoryBudgetError);
    expect(webgpuDeviceError()).toBeUndefined();
    device.fire(new GPUOutOfMemoryError('Out of memory'));
    expect(() => assertFitsMemory(0, 'training step 4', { hint: 'reduce --batch-size' }))
      .toThrow(/^the GPU ran out of memory before training step 4 \(tensors held 0\.00 GiB, the backend's buffers 0\.00 GiB\): Out of memory; results since then are invalid; reduce --batch-size/);
    device.fire({ message: 'bad bind group' }); // any device error invalidates what follows
    expect(() => assertFitsMemory(0, 'step 5')).toThrow(/^the GPU reported an error before step 5 .*: bad bind group/);
    clearWebGPUDeviceError();
  });
});

describe('helpers', () => {
  it('isSoftwareAdapter knows the software drivers and the fallback flag', () => {
    expect(isSoftwareAdapter({ vendor: 'nvidia', architecture: 'ampere', description: 'NVIDIA GeForce RTX 3090' })).toBe(false);
    expect(isSoftwareAdapter({ vendor: 'apple', architecture: 'metal-3' })).toBe(false);
    expect(isSoftwareAdapter({ vendor: 'google', architecture: 'swiftshader' })).toBe(true);
    expect(isSoftwareAdapter({ vendor: 'mesa', description: 'llvmpipe (LLVM 15.0.6, 256 bits)' })).toBe(true);
    expect(isSoftwareAdapter({ description: 'Microsoft Basic Render Driver' })).toBe(true);
    expect(isSoftwareAdapter({ vendor: 'amd' }, true)).toBe(true);
    expect(isSoftwareAdapter({ vendor: 'amd', isFallbackAdapter: true })).toBe(true);
    expect(() => isSoftwareAdapter(null as never)).toThrow(/'info' passed to 'isSoftwareAdapter'/);
  });

  it('setUpWebGPU validates its options', async () => {
    await expect(setUpWebGPU({ importer: 'webgpu' as never })).rejects.toThrow(/'importer' passed to 'setUpWebGPU' must be a function/);
  });

  it('synchronous reads are available on wasm', () => {
    expect(syncReadsAvailable()).toBe(true);
  });
});
