/**
 * Choosing and initialising the TensorFlow.js compute backend.
 */
import * as tf from '@tensorflow/tfjs';
import { registerWasmKernelFills } from './wasm-kernels.js';
import { startWasm, type WasmThreadsRequest } from './threads.js';
import { defaultImporter, startWebGPU, type ModuleImporter } from './webgpu.js';

/** A backend request: `auto` picks the fastest one available. */
export type BackendRequest = 'auto' | 'tensorflow' | 'webgpu' | 'wasm' | 'cpu';
/** The backend actually in use after {@link initBackend}. */
export type BackendName = 'tensorflow' | 'webgpu' | 'wasm' | 'cpu';

/** Options of {@link initBackend}. */
export interface InitBackendOptions {
  /**
   * Which backend to use. `auto`: `@tensorflow/tfjs-node-gpu` when
   * installed, else WebGPU on a hardware adapter (never a software one such
   * as SwiftShader), else `@tensorflow/tfjs-node`, else wasm with SIMD.
   * `webgpu` accepts software adapters too. `cpu` (the pure-JS backend,
   * ~100x slower) is used only when asked for by name. The environment
   * variable `TUMORCAST_BACKEND` overrides this option.
   * @defaultValue 'auto'
   */
  backend?: BackendRequest;
  /**
   * Where the one-line "backend chosen" message goes; `false` silences it.
   * @defaultValue console.error (stderr, so that stdout stays machine-readable)
   */
  log?: ((message: string) => void) | false;
  /**
   * Loads the optional packages (`@tensorflow/tfjs-node(-gpu)`, `webgpu`,
   * `@tensorflow/tfjs-backend-webgpu`); tests pass a stub.
   * @defaultValue a dynamic import()
   */
  importer?: ModuleImporter;
  /**
   * Whether `auto` considers WebGPU in Node, where it loads Dawn (the
   * optional `webgpu` package) when a hardware Vulkan/Metal/D3D12 driver may
   * be there, and takes the adapter only when it is a hardware one. On by
   * default; `false` (or the environment variable `TUMORCAST_WEBGPU_AUTO=0`,
   * which overrides this option; `=1` turns it on) keeps `auto` to
   * tfjs-node(-gpu) and wasm, e.g. for code of your own that reads tensors
   * synchronously (`dataSync`), which WebGPU cannot do in Node. Browsers
   * always consider `navigator.gpu`.
   * @defaultValue true
   */
  webgpuInAuto?: boolean;
  /**
   * Threads of the wasm backend's XNNPACK pool: a positive integer, or
   * `auto` for the cores this process may use (`os.availableParallelism()`,
   * at most 8; 1 inside a Jest worker). Fixed once the wasm backend has
   * started. The environment variable `TUMORCAST_WASM_THREADS` overrides
   * this option. See {@link startWasm}.
   * @defaultValue 'auto'
   */
  threads?: WasmThreadsRequest;
}

/** The node bindings, in order of preference. */
const NODE_BINDINGS = ['@tensorflow/tfjs-node-gpu', '@tensorflow/tfjs-node'] as const;

let current: { request: BackendRequest; name: BackendName; detail: string } | undefined;

/** Error thrown when a requested backend cannot be set up; says what to install or change. */
export class BackendError extends Error {
  /** @param message - what failed and what to do about it. */
  constructor(message: string) {
    super(message);
    this.name = 'BackendError';
  }
}

function parseRequest(value: string | undefined, source: string): BackendRequest | undefined {
  if (value === undefined || value === '') return undefined;
  const v = value.trim().toLowerCase();
  if (v === 'auto' || v === 'tensorflow' || v === 'webgpu' || v === 'wasm' || v === 'cpu') return v;
  if (v === 'node' || v === 'tfjs-node' || v === 'gpu') return 'tensorflow';
  throw new BackendError(`${source} must be one of auto, tensorflow, webgpu, wasm, cpu; got '${value}'`);
}

/** The environment variable that overrides {@link InitBackendOptions.webgpuInAuto}. */
const WEBGPU_AUTO_ENV = 'TUMORCAST_WEBGPU_AUTO';

/** Whether `auto` loads Dawn in Node: the environment variable, else the option, else true. */
function webgpuInAuto(option: boolean | undefined): boolean {
  const env = typeof process !== 'undefined' ? process.env[WEBGPU_AUTO_ENV]?.trim().toLowerCase() : undefined;
  if (env) {
    if (['0', 'false', 'off', 'no'].includes(env)) return false;
    if (['1', 'true', 'on', 'yes'].includes(env)) return true;
    throw new BackendError(`${WEBGPU_AUTO_ENV} must be 0 (auto never loads Dawn in Node) or 1, got '${process.env[WEBGPU_AUTO_ENV]}'`);
  }
  if (option !== undefined && typeof option !== 'boolean') throw new BackendError(`'webgpuInAuto' passed to 'initBackend' must be true or false, got ${String(option)}`);
  return option ?? true;
}

async function tryNodeBinding(importer: ModuleImporter): Promise<string | undefined> {
  for (const name of NODE_BINDINGS) {
    try {
      await importer(name);
      if (tf.findBackend('tensorflow')) return name;
    } catch {
      // Not installed (or its native library failed to load): try the next one.
    }
  }
  return undefined;
}

async function setUp(name: BackendName): Promise<boolean> {
  const ok = await tf.setBackend(name);
  if (ok) await tf.ready();
  return ok && tf.getBackend() === name;
}

/**
 * Selects and initialises the compute backend, and returns the one chosen.
 * Safe to call many times: later calls with the same request return at once.
 *
 * On wasm it also registers tumorcast's kernel fills (the weight gradient of
 * conv2d and gather's gradient, which the wasm backend lacks, and a faster
 * conv2d input gradient); see {@link registerWasmKernelFills}.
 *
 * @example
 * ```ts
 * import { initBackend } from '@tumorcast/nn';
 * // tfjs-node-gpu, else a hardware WebGPU adapter, else tfjs-node, else wasm; logs which and why
 * const backend = await initBackend();
 * ```
 */
export async function initBackend(options: InitBackendOptions = {}): Promise<BackendName> {
  const env = typeof process !== 'undefined' ? process.env['TUMORCAST_BACKEND'] : undefined;
  const request = parseRequest(env, 'TUMORCAST_BACKEND') ?? parseRequest(options.backend, "'backend' passed to 'initBackend'") ?? 'auto';
  const log = options.log === false ? () => undefined : (options.log ?? ((m: string) => console.error(m)));

  if (current && current.request === request && tf.getBackend() === current.name) return current.name;

  const importer = options.importer ?? defaultImporter;
  let name: BackendName;
  let detail = '';
  // Why auto did not take WebGPU, for the log line.
  let noGpu = '';
  if (request === 'webgpu') {
    const gpu = await startWebGPU({ allowSoftware: true, importer });
    if (!gpu.ok) throw new BackendError(`backend 'webgpu' requested but ${gpu.reason}; ${gpu.hint}; or use backend 'wasm'`);
    name = 'webgpu';
    detail = gpu.detail;
  } else if (request === 'auto' || request === 'tensorflow') {
    const binding = await tryNodeBinding(importer);
    // tfjs-node-gpu first, then a hardware WebGPU adapter, then tfjs-node (CPU).
    const gpu = request === 'auto' && binding !== NODE_BINDINGS[0] ? await startWebGPU({ importer, loadDawn: webgpuInAuto(options.webgpuInAuto) }) : undefined;
    if (gpu && !gpu.ok) noGpu = `; no WebGPU: ${gpu.reason}`;
    if (request === 'auto' && !binding && typeof process !== 'undefined' && typeof process.versions?.node === 'string') noGpu += '; no tfjs-node: neither @tensorflow/tfjs-node-gpu nor @tensorflow/tfjs-node is installed';
    if (gpu?.ok) {
      name = 'webgpu';
      detail = gpu.detail;
    } else if (binding && (await setUp('tensorflow'))) {
      name = 'tensorflow';
      detail = `${binding}${noGpu}`;
    } else if (request === 'tensorflow') {
      throw new BackendError(
        "backend 'tensorflow' requested but neither @tensorflow/tfjs-node-gpu nor @tensorflow/tfjs-node could be loaded; " +
          "install one of them (npm install @tensorflow/tfjs-node) or use backend 'wasm'",
      );
    } else {
      name = 'wasm';
      detail = `${await initWasm(options.threads)}${noGpu}`;
    }
  } else if (request === 'wasm') {
    name = 'wasm';
    detail = await initWasm(options.threads);
  } else {
    if (!(await setUp('cpu'))) throw new BackendError("could not initialise tfjs's 'cpu' backend");
    name = 'cpu';
    detail = 'pure JavaScript';
    log("tumorcast: warning: the 'cpu' backend is about 100x slower than wasm; use it only for debugging");
  }
  if (!current || current.name !== name || current.request !== request) log(`tumorcast: compute backend '${name}' (${detail})`);
  current = { request, name, detail };
  return name;
}

/** Starts wasm (threaded per `threads`) with the kernel fills; returns the log line's detail. */
async function initWasm(threads: WasmThreadsRequest | undefined): Promise<string> {
  try {
    await import('@tensorflow/tfjs-backend-wasm');
  } catch (e) {
    throw new BackendError(`could not load @tensorflow/tfjs-backend-wasm (${(e as Error).message}); run npm install`);
  }
  const started = await startWasm(threads, () => setUp('wasm'));
  if (!started.ok) {
    // Never fall back to the slow pure-JS backend silently.
    throw new BackendError("the wasm backend failed to initialise; pass { backend: 'cpu' } explicitly to run (slowly) without it");
  }
  registerWasmKernelFills();
  return `SIMD ${tf.env().getBool('WASM_HAS_SIMD_SUPPORT') ? 'on' : 'off'}, ${started.detail}`;
}

/** The backend chosen by the last {@link initBackend} call, or undefined before it. */
export function currentBackend(): BackendName | undefined {
  return current?.name;
}
