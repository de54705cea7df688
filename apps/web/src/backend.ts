/**
 * The compute backend in the browser: WebGPU when the browser has it, else
 * WebGL, else wasm (TensorFlow.js's three browser backends), or the one the
 * user asks for. On wasm, tumorcast's kernel fills are registered (the
 * gradients the wasm backend lacks), as `initBackend` of `@tumorcast/nn`
 * does in Node.
 */
import * as tf from '@tensorflow/tfjs';
import '@tensorflow/tfjs-backend-webgpu';
import { setWasmPaths } from '@tensorflow/tfjs-backend-wasm';
import { registerWasmKernelFills } from '@tumorcast/nn';

import { BACKEND_ORDER } from './backend-choice.js';
import type { BackendChoice, BrowserBackend } from './backend-choice.js';

export { BACKEND_ORDER, parseBackendChoice } from './backend-choice.js';
export type { BackendChoice, BrowserBackend } from './backend-choice.js';

/** The backend in use and why the faster ones were passed over. */
export interface BackendSelection {
  /** The backend in use. */
  name: BrowserBackend;
  /** One line per backend that was tried and did not start. */
  skipped: string[];
}

/** Where the wasm backend's binaries are served (the app's own files). */
export type WasmPaths = Record<'tfjs-backend-wasm.wasm' | 'tfjs-backend-wasm-simd.wasm' | 'tfjs-backend-wasm-threaded-simd.wasm', string>;

async function tryBackend(name: BrowserBackend): Promise<string | undefined> {
  try {
    if (name === 'webgpu' && !(typeof navigator !== 'undefined' && 'gpu' in navigator)) return 'webgpu: this browser has no WebGPU (navigator.gpu)';
    const ok = await tf.setBackend(name);
    if (!ok) return `${name}: did not start`;
    await tf.ready();
    if (tf.getBackend() !== name) return `${name}: did not start`;
    return undefined;
  } catch (e) {
    return `${name}: ${(e as Error).message}`;
  }
}

/**
 * Selects and starts the compute backend.
 *
 * @param choice - see {@link BackendChoice}.
 * @param wasmPaths - where the wasm binaries are.
 * @throws Error listing why each backend failed when none starts.
 */
export async function selectBackend(choice: BackendChoice, wasmPaths: WasmPaths): Promise<BackendSelection> {
  setWasmPaths(wasmPaths);
  // The multi-threaded wasm binary fails to start its threads inside a module worker (where the
  // prediction runs) on a cross-origin-isolated page: keep to the single-threaded SIMD one.
  tf.env().set('WASM_HAS_MULTITHREAD_SUPPORT', false);
  const order = choice === 'auto' ? BACKEND_ORDER : [choice];
  const skipped: string[] = [];
  for (const name of order) {
    const why = await tryBackend(name);
    if (why === undefined) {
      if (name === 'wasm') registerWasmKernelFills();
      return { name, skipped };
    }
    skipped.push(why);
  }
  throw new Error(`no compute backend started: ${skipped.join('; ')}`);
}
