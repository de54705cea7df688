// Backend selection with stubbed optional packages: tfjs-node(-gpu) bindings that register a
// stub 'tensorflow' backend, and a WebGPU adapter (navigator.gpu) with a stub tfjs webgpu
// backend, hardware or software. No GPU, no native binding and no Dawn are loaded here; the
// real webgpu backend is tested in libs/pipeline/test/webgpu.test.ts.
import { afterEach, beforeAll, beforeEach, describe, expect, it } from '@jest/globals';
import * as tf from '@tensorflow/tfjs';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
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

/**
 * An importer in which only `present` can be loaded; tfjs-node(-gpu) register a stub 'tensorflow'
 * backend; `webgpu` (Dawn), when present, creates a GPU with one adapter described by `dawnAdapter`.
 */
function importer(present: string[], calls: string[] = [], dawnAdapter: Record<string, unknown> = { vendor: 'nvidia', architecture: 'hopper' }): ModuleImporter {
  return async (specifier) => {
    calls.push(specifier);
    if (!present.includes(specifier)) throw new Error(`Cannot find package '${specifier}'`);
    if (specifier.startsWith('@tensorflow/tfjs-node')) {
      if (!tf.findBackendFactory('tensorflow')) tf.registerBackend('tensorflow', () => new StubBackend());
      return {};
    }
    if (specifier === '@tensorflow/tfjs-backend-webgpu') return webgpuPackage;
    if (specifier === 'webgpu') return { create: () => fakeGpu(dawnAdapter), globals: {} };
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

// The tests' setup turns WebGPU off for auto (other tests read synchronously); here the default is under test.
const savedEnv = { auto: process.env['TUMORCAST_WEBGPU_AUTO'], icd: process.env['VK_ICD_FILENAMES'] };
/** A Vulkan driver manifest that names a hardware driver (the Linux pre-check reads it; the stub Dawn never loads it). */
const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'tumorcast-vk-'));
const HARDWARE_ICD = path.join(tmp, 'nvidia_icd.json');
const SOFTWARE_ICD = path.join(tmp, 'vk_swiftshader_icd.json');
fs.writeFileSync(HARDWARE_ICD, JSON.stringify({ ICD: { library_path: 'libGLX_nvidia.so.0' } }));
fs.writeFileSync(SOFTWARE_ICD, JSON.stringify({ ICD: { library_path: './libvk_swiftshader.so' } }));

beforeEach(() => {
  delete process.env['TUMORCAST_WEBGPU_AUTO'];
  process.env['VK_ICD_FILENAMES'] = HARDWARE_ICD;
});

afterEach(async () => {
  delete process.env['TUMORCAST_BACKEND'];
  for (const [k, v] of [['TUMORCAST_WEBGPU_AUTO', savedEnv.auto], ['VK_ICD_FILENAMES', savedEnv.icd]] as const) {
    if (v === undefined) delete process.env[k];
    else process.env[k] = v;
  }
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

  it('in Node takes a hardware adapter from Dawn by default', async () => {
    const lines: string[] = [];
    const calls: string[] = [];
    expect(await initBackend({ backend: 'cpu', log: false })).toBe('cpu');
    const got = await initBackend({ importer: importer(['webgpu', '@tensorflow/tfjs-node', '@tensorflow/tfjs-backend-webgpu'], calls), log: (m) => lines.push(m) });
    expect(got).toBe('webgpu');
    expect(lines).toEqual(["tumorcast: compute backend 'webgpu' (nvidia hopper, through webgpu (Dawn))"]);
    expect(calls).toEqual(['@tensorflow/tfjs-node-gpu', '@tensorflow/tfjs-node', 'webgpu', '@tensorflow/tfjs-backend-webgpu']);
    expect(webgpuAdapter()).toMatchObject({ software: false, source: 'webgpu (Dawn)' });
  });

  it("in Node rejects Dawn's software adapter, saying why, and falls to wasm", async () => {
    const lines: string[] = [];
    expect(await initBackend({ backend: 'cpu', log: false })).toBe('cpu');
    const swiftshader = { vendor: 'google', architecture: 'swiftshader', description: 'SwiftShader driver 5.0.0' };
    expect(await initBackend({ importer: importer(['webgpu', '@tensorflow/tfjs-backend-webgpu'], [], swiftshader), log: (m) => lines.push(m) })).toBe('wasm');
    expect(lines).toHaveLength(1);
    expect(lines[0]).toMatch(/^tumorcast: compute backend 'wasm' \(SIMD on, .*; no WebGPU: the only WebGPU adapter is a software one \(google swiftshader, SwiftShader driver 5\.0\.0 \(software\)\), slower than wasm; no tfjs-node: neither @tensorflow\/tfjs-node-gpu nor @tensorflow\/tfjs-node is installed\)$/);
  });

  it('on Linux does not load Dawn when the only Vulkan driver is a software one', async () => {
    if (process.platform !== 'linux') return; // the pre-check reads Linux's Vulkan driver manifests
    process.env['VK_ICD_FILENAMES'] = SOFTWARE_ICD;
    const lines: string[] = [];
    const calls: string[] = [];
    expect(await initBackend({ backend: 'cpu', log: false })).toBe('cpu');
    expect(await initBackend({ importer: importer(['webgpu', '@tensorflow/tfjs-backend-webgpu'], calls), log: (m) => lines.push(m) })).toBe('wasm');
    expect(lines[0]).toMatch(/no WebGPU: the only Vulkan drivers are software ones \(vk_swiftshader_icd\.json\)/);
    expect(calls).not.toContain('webgpu');
  });

  it('without the webgpu package (Dawn), auto uses wasm and says what is missing', async () => {
    const lines: string[] = [];
    expect(await initBackend({ backend: 'cpu', log: false })).toBe('cpu');
    expect(await initBackend({ importer: importer(['@tensorflow/tfjs-backend-webgpu']), log: (m) => lines.push(m) })).toBe('wasm');
    expect(lines[0]).toMatch(/'wasm' \(SIMD on, .*; no WebGPU: the optional package 'webgpu' \(Dawn for Node\) could not be loaded \(Cannot find package 'webgpu'\)/);
  });

  it('honours the opt-out (webgpuInAuto: false, TUMORCAST_WEBGPU_AUTO=0), the variable over the option', async () => {
    const lines: string[] = [];
    const calls: string[] = [];
    const present = ['webgpu', '@tensorflow/tfjs-backend-webgpu'];
    expect(await initBackend({ backend: 'cpu', log: false })).toBe('cpu');
    expect(await initBackend({ importer: importer(present, calls), webgpuInAuto: false, log: (m) => lines.push(m) })).toBe('wasm');
    expect(lines[0]).toMatch(/; no WebGPU: auto was told not to load Dawn in Node \(webgpuInAuto: false or TUMORCAST_WEBGPU_AUTO=0\)/);
    expect(calls).not.toContain('webgpu');
    await initBackend({ backend: 'cpu', log: false });
    process.env['TUMORCAST_WEBGPU_AUTO'] = '0';
    expect(await initBackend({ importer: importer(present, calls), webgpuInAuto: true, log: false })).toBe('wasm');
    expect(calls).not.toContain('webgpu');
    await initBackend({ backend: 'cpu', log: false });
    process.env['TUMORCAST_WEBGPU_AUTO'] = '1';
    expect(await initBackend({ importer: importer(present, calls), webgpuInAuto: false, log: false })).toBe('webgpu');
    process.env['TUMORCAST_WEBGPU_AUTO'] = 'maybe';
    await expect(initBackend({ backend: 'cpu', importer: importer(present), log: false })).resolves.toBe('cpu'); // read by auto only
    await expect(initBackend({ importer: importer(present), log: false })).rejects.toThrow(/TUMORCAST_WEBGPU_AUTO must be 0 .* or 1, got 'maybe'/);
    delete process.env['TUMORCAST_WEBGPU_AUTO'];
    await expect(initBackend({ importer: importer(present), webgpuInAuto: 'yes' as never, log: false })).rejects.toThrow(/'webgpuInAuto' passed to 'initBackend' must be true or false/);
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
