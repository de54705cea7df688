/**
 * The WebGPU route: TensorFlow.js's `webgpu` backend on `navigator.gpu` in
 * browsers, and in Node on Dawn through the optional `webgpu` package. Dawn
 * drives the machine's Vulkan driver on Linux, Metal on macOS and D3D12 on
 * Windows.
 *
 * `auto` must never pick a software adapter (SwiftShader, llvmpipe/lavapipe,
 * WARP): those run on the CPU far slower than wasm. They are still usable by
 * name (`backend: 'webgpu'`), which is how CI checks the backend on machines
 * without a GPU.
 */
import * as tf from '@tensorflow/tfjs';
import { registerWebGPUKernelFills } from './webgpu-kernels.js';

/** Loads a module by name, like `import()`; injectable so that tests can stub optional packages. */
export type ModuleImporter = (specifier: string) => Promise<unknown>;

/** The default {@link ModuleImporter}: a dynamic `import()`. */
export const defaultImporter: ModuleImporter = (specifier) => {
  // A variable specifier keeps bundlers and tsc from requiring the optional package.
  const s: string = specifier;
  return import(s);
};

/** What the WebGPU adapter in use says about itself. */
export interface WebGPUAdapterSummary {
  /** GPUAdapterInfo.vendor, e.g. `nvidia`, `google` (SwiftShader). */
  vendor: string;
  /** GPUAdapterInfo.architecture, e.g. `swiftshader`. */
  architecture: string;
  /** GPUAdapterInfo.device. */
  device: string;
  /** GPUAdapterInfo.description, e.g. the driver's name. */
  description: string;
  /** The adapter calls itself a fallback adapter (WebGPU's name for a software one). */
  fallback: boolean;
  /** A software (CPU) adapter: a fallback adapter, or one named SwiftShader, llvmpipe/lavapipe, WARP or a basic render driver. */
  software: boolean;
  /** Where the adapter came from: `navigator.gpu` (a browser, or a runtime that has it) or `webgpu (Dawn)` (Node). */
  source: 'navigator.gpu' | 'webgpu (Dawn)';
  /** The device's largest buffer, in bytes (the largest tensor it can hold). */
  maxBufferSize: number;
}

/** Options of {@link setUpWebGPU}. */
export interface WebGPUSetupOptions {
  /**
   * Accept a software adapter (SwiftShader, llvmpipe, WARP, or any adapter
   * that calls itself a fallback). `backend: 'webgpu'` accepts them (for
   * tests on machines without a GPU); `auto` does not.
   * @defaultValue false
   */
  allowSoftware?: boolean;
  /**
   * How optional packages (`webgpu`, `@tensorflow/tfjs-backend-webgpu`) are
   * loaded; tests pass a stub.
   * @defaultValue a dynamic import()
   */
  importer?: ModuleImporter;
  /**
   * In Node without `navigator.gpu`, load Dawn (the `webgpu` package).
   * `auto` passes false when told to (see `InitBackendOptions.webgpuInAuto`).
   * @defaultValue true
   */
  loadDawn?: boolean;
}

/** The result of {@link setUpWebGPU}: the adapter, or why there is none usable and what to do. */
export type WebGPUSetup =
  | { ok: true; adapter: WebGPUAdapterSummary }
  | { ok: false; reason: string; hint: string };

// The few WebGPU interfaces used here, typed locally so that this package
// needs no DOM or @webgpu/types typings.
/** What {@link isSoftwareAdapter} reads of a WebGPU adapter's `GPUAdapterInfo` (any object with these fields). */
export interface GpuAdapterInfoLike {
  vendor?: string;
  architecture?: string;
  device?: string;
  description?: string;
  isFallbackAdapter?: boolean;
}
interface GpuDeviceLike {
  lost: Promise<{ reason?: string; message?: string }>;
  addEventListener?(type: 'uncapturederror', listener: (e: { error?: { constructor?: { name?: string }; message?: string } }) => void): void;
  onuncapturederror?: ((e: { error?: { constructor?: { name?: string }; message?: string } }) => void) | null;
  features: { has(name: string): boolean };
}
interface GpuAdapterLike {
  info?: GpuAdapterInfoLike;
  isFallbackAdapter?: boolean;
  features: { has(name: string): boolean };
  limits: Record<string, number>;
  requestDevice(descriptor?: unknown): Promise<GpuDeviceLike>;
}
interface GpuLike {
  requestAdapter(options?: { powerPreference?: 'high-performance' | 'low-power' }): Promise<GpuAdapterLike | null>;
}
type WebGPUBackendClass = new (device: GpuDeviceLike, adapterInfo?: GpuAdapterInfoLike) => tf.KernelBackend;

/** A problem the GPU device reported: it ran out of memory, failed validation, or was lost. */
export interface WebGPUDeviceError {
  /** `out-of-memory`, `validation`, `internal` or `lost`. */
  kind: 'out-of-memory' | 'validation' | 'internal' | 'lost';
  /** The device's message. */
  message: string;
}

/**
 * Thrown by a synchronous read (`dataSync`, `arraySync`) of a tensor on the
 * GPU where the runtime cannot wait for the GPU synchronously: WebGPU in
 * Node (browsers read through an OffscreenCanvas).
 */
export class WebGPUSyncReadError extends Error {
  /** @param message - what to use instead. */
  constructor(message: string) {
    super(message);
    this.name = 'WebGPUSyncReadError';
  }
}

const state: { adapter?: WebGPUAdapterSummary; error?: WebGPUDeviceError } = {};

/** Adapter names of software rasterisers/compute drivers that run on the CPU. */
const SOFTWARE_NAMES = /swiftshader|llvmpipe|lavapipe|softpipe|\bwarp\b|basic render|microsoft basic|cpu/i;

/**
 * Whether an adapter is a software (CPU) one: it calls itself a fallback
 * adapter, or its vendor, architecture, device or description names
 * SwiftShader, llvmpipe/lavapipe, softpipe, WARP or a basic render driver.
 *
 * @param info - the adapter's GPUAdapterInfo (or the same fields).
 * @param isFallbackAdapter - GPUAdapter.isFallbackAdapter, where the runtime has it.
 */
export function isSoftwareAdapter(info: GpuAdapterInfoLike, isFallbackAdapter = false): boolean {
  if (info === null || typeof info !== 'object') throw new TypeError(`'info' passed to 'isSoftwareAdapter' must be a GPUAdapterInfo object, got ${String(info)}`);
  if (isFallbackAdapter || info.isFallbackAdapter === true) return true;
  return [info.vendor, info.architecture, info.device, info.description].some((s) => typeof s === 'string' && SOFTWARE_NAMES.test(s));
}

function isNode(): boolean {
  return typeof process !== 'undefined' && typeof process.versions?.node === 'string';
}

/**
 * On Linux, whether Vulkan can give Dawn a hardware adapter, read from the
 * Vulkan loader's driver manifests without starting Vulkan (which prints
 * driver warnings and costs time on every CPU-only run). Returns why not, or
 * undefined when a hardware driver may be there (or the platform is not Linux).
 */
async function linuxVulkanPrecheck(): Promise<string | undefined> {
  if (process.platform !== 'linux') return undefined;
  // Loaded on use: this module must stay importable in browsers.
  const { existsSync, readdirSync, readFileSync } = await import('node:fs');
  const explicit = process.env['VK_DRIVER_FILES'] || process.env['VK_ICD_FILENAMES'];
  let manifests: string[];
  if (explicit) {
    manifests = explicit.split(':').filter(Boolean);
  } else {
    const dirs = [
      ...(process.env['XDG_CONFIG_DIRS'] ?? '/etc/xdg').split(':').map((d) => `${d}/vulkan/icd.d`),
      '/etc/vulkan/icd.d',
      ...(process.env['XDG_DATA_DIRS'] ?? '/usr/local/share:/usr/share').split(':').map((d) => `${d}/vulkan/icd.d`),
    ];
    manifests = [];
    for (const d of dirs) {
      try {
        for (const f of readdirSync(d)) if (f.endsWith('.json')) manifests.push(`${d}/${f}`);
      } catch {
        // No such folder.
      }
    }
  }
  if (manifests.length === 0) return 'no Vulkan driver is installed (no Vulkan ICD manifest found)';
  const hardware = manifests.filter((m) => {
    let lib = '';
    try {
      lib = (JSON.parse(readFileSync(m, 'utf8')) as { ICD?: { library_path?: string } }).ICD?.library_path ?? '';
    } catch {
      return existsSync(m); // unreadable manifest: let Vulkan judge it
    }
    return !/swiftshader|lvp|lavapipe|llvmpipe/i.test(`${m} ${lib}`);
  });
  if (hardware.length === 0) return `the only Vulkan drivers are software ones (${manifests.map((m) => m.split('/').pop()).join(', ')})`;
  // A hardware driver needs its GPU's device node (Mesa's and AMD's: a DRM
  // render node; NVIDIA's: /dev/nvidia*; WSL: /dev/dxg). Without one (a
  // CPU-only machine or container with Mesa's drivers installed) Vulkan
  // finds no adapter, after printing driver warnings. Drivers chosen
  // explicitly (VK_ICD_FILENAMES) are left to Vulkan to judge.
  if (explicit) return undefined;
  let nodes: string[] = [];
  try {
    nodes = readdirSync('/dev').filter((f) => /^nvidia\d|^nvidiactl$|^dxg$/.test(f));
    nodes.push(...readdirSync('/dev/dri').filter((f) => f.startsWith('renderD')));
  } catch {
    // No /dev/dri.
  }
  if (nodes.length === 0) {
    return `no GPU device node (/dev/dri/renderD*, /dev/nvidia*, /dev/dxg) for the Vulkan drivers (${hardware.map((m) => m.split('/').pop()).join(', ')})`;
  }
  return undefined;
}

/** Finds `navigator.gpu`, or creates it in Node from Dawn (the `webgpu` package). */
async function gpuObject(importer: ModuleImporter, loadDawn: boolean): Promise<{ gpu: GpuLike; source: WebGPUAdapterSummary['source'] } | { reason: string; hint: string }> {
  const nav = (globalThis as { navigator?: { gpu?: GpuLike } }).navigator;
  if (nav?.gpu) return { gpu: nav.gpu, source: 'navigator.gpu' };
  if (!isNode()) {
    return { reason: 'this browser does not expose WebGPU (navigator.gpu)', hint: 'use a browser with WebGPU enabled (Chrome/Edge 113+, Safari 26+, Firefox 141+ on Windows), or the wasm backend' };
  }
  if (!loadDawn) {
    return {
      reason: 'auto was told not to load Dawn in Node (webgpuInAuto: false or TUMORCAST_WEBGPU_AUTO=0)',
      hint: "pass backend 'webgpu', or leave WebGPU on for auto, to use it",
    };
  }
  let dawn: { create?: (flags: string[]) => GpuLike; globals?: Record<string, unknown> };
  try {
    dawn = (await importer('webgpu')) as typeof dawn;
  } catch (e) {
    return {
      reason: `the optional package 'webgpu' (Dawn for Node) could not be loaded (${(e as Error).message.split('\n')[0]})`,
      hint: 'install it with: npm install webgpu',
    };
  }
  if (typeof dawn?.create !== 'function') return { reason: "the package 'webgpu' has no create() function", hint: 'install webgpu ^0.6 (npm install webgpu@^0.6.2)' };
  // tfjs's webgpu backend reads WebGPU's constants (GPUBufferUsage, ...) as globals.
  for (const [k, v] of Object.entries(dawn.globals ?? {})) {
    if (!(k in globalThis)) Object.defineProperty(globalThis, k, { value: v, configurable: true, writable: true });
  }
  const gpu = dawn.create([]);
  // tfjs checks navigator.gpu before its backend starts. Node 21+ has a
  // navigator object (without gpu); older Node has none.
  if (nav) Object.defineProperty(nav, 'gpu', { value: gpu, configurable: true, writable: true });
  else Object.defineProperty(globalThis, 'navigator', { value: { gpu }, configurable: true, writable: true });
  return { gpu, source: 'webgpu (Dawn)' };
}

function noAdapterHint(): string {
  if (!isNode()) return 'enable WebGPU in the browser (chrome://gpu shows why it is off) or use the wasm backend';
  switch (process.platform) {
    case 'darwin':
      return 'Dawn needs Metal (macOS 11+ on a Metal GPU)';
    case 'win32':
      return 'Dawn needs Direct3D 12 (Windows 10+, a current GPU driver)';
    default:
      return (
        "Dawn needs a Vulkan driver: the GPU vendor's (NVIDIA's driver ships one; Mesa's radv/anv for AMD/Intel) and the Vulkan loader (libvulkan1); " +
        'for tests without a GPU, point VK_ICD_FILENAMES at SwiftShader (vk_swiftshader_icd.json, shipped with Chromium)'
      );
  }
}

/**
 * Finds a WebGPU adapter and registers tfjs's `webgpu` backend on it (it
 * does not switch to it: `tf.setBackend('webgpu')` does). In Node the
 * adapter comes from Dawn (the optional `webgpu` package), which this
 * installs as `navigator.gpu`; in browsers from `navigator.gpu`.
 *
 * Never throws for a missing adapter or package: returns `{ ok: false }`
 * with the reason and what to install or set, so that `auto` can move on.
 */
export async function setUpWebGPU(options: WebGPUSetupOptions = {}): Promise<WebGPUSetup> {
  if (options === null || typeof options !== 'object') throw new TypeError(`'options' passed to 'setUpWebGPU' must be an object, got ${String(options)}`);
  const importer = options.importer ?? defaultImporter;
  if (typeof importer !== 'function') throw new TypeError("'importer' passed to 'setUpWebGPU' must be a function (specifier) => Promise<module>");
  const allowSoftware = options.allowSoftware ?? false;
  const hasNavigatorGpu = Boolean((globalThis as { navigator?: { gpu?: unknown } }).navigator?.gpu);
  if (!allowSoftware && !hasNavigatorGpu && isNode() && (options.loadDawn ?? true)) {
    const why = await linuxVulkanPrecheck();
    if (why) return { ok: false, reason: why, hint: noAdapterHint() };
  }
  const found = await gpuObject(importer, options.loadDawn ?? true);
  if (!('gpu' in found)) return { ok: false, ...found };
  let adapter: GpuAdapterLike | null = null;
  try {
    adapter = await found.gpu.requestAdapter({ powerPreference: 'high-performance' });
  } catch (e) {
    return { ok: false, reason: `requesting a WebGPU adapter failed (${(e as Error).message})`, hint: noAdapterHint() };
  }
  if (!adapter) return { ok: false, reason: 'no WebGPU adapter is available', hint: noAdapterHint() };
  const info: GpuAdapterInfoLike = adapter.info ?? {};
  const fallback = adapter.isFallbackAdapter === true || info.isFallbackAdapter === true;
  const summary: WebGPUAdapterSummary = {
    vendor: info.vendor ?? '',
    architecture: info.architecture ?? '',
    device: info.device ?? '',
    description: info.description ?? '',
    fallback,
    software: isSoftwareAdapter(info, fallback),
    source: found.source,
    maxBufferSize: adapter.limits['maxBufferSize'] ?? 0,
  };
  if (summary.software && !allowSoftware) {
    return {
      ok: false,
      reason: `the only WebGPU adapter is a software one (${describeAdapter(summary)}), slower than wasm`,
      hint: `${noAdapterHint()}; to use it anyway (tests), pass backend 'webgpu'`,
    };
  }
  let WebGPUBackend: WebGPUBackendClass | undefined;
  try {
    WebGPUBackend = ((await importer('@tensorflow/tfjs-backend-webgpu')) as { WebGPUBackend?: WebGPUBackendClass }).WebGPUBackend;
  } catch (e) {
    // A bundled browser app imports the package itself (a bundler cannot follow
    // this run-time import), which registers tfjs's own 'webgpu' factory: use it.
    if (tf.findBackendFactory('webgpu')) {
      state.adapter = summary;
      return { ok: true, adapter: summary };
    }
    return { ok: false, reason: `@tensorflow/tfjs-backend-webgpu could not be loaded (${(e as Error).message.split('\n')[0]})`, hint: 'run npm install' };
  }
  if (typeof WebGPUBackend !== 'function') return { ok: false, reason: '@tensorflow/tfjs-backend-webgpu has no WebGPUBackend export', hint: 'install @tensorflow/tfjs-backend-webgpu matching @tensorflow/tfjs (4.22)' };
  registerBackendOn(adapter, info, WebGPUBackend);
  state.adapter = summary;
  return { ok: true, adapter: summary };
}

/** Registers tfjs's `webgpu` backend on this adapter (replacing the package's own registration, which picks its own adapter). */
function registerBackendOn(adapter: GpuAdapterLike, info: GpuAdapterInfoLike, WebGPUBackend: WebGPUBackendClass): void {
  if (tf.getBackend() === 'webgpu') return; // already running on it
  if (tf.findBackendFactory('webgpu')) tf.removeBackend('webgpu');
  tf.registerBackend('webgpu', async () => {
    // The device asks for the adapter's full limits (as tfjs's own factory
    // does), so that tensors up to maxBufferSize fit.
    const l = adapter.limits;
    const requiredLimits: Record<string, number> = {};
    for (const k of ['maxComputeWorkgroupStorageSize', 'maxComputeWorkgroupsPerDimension', 'maxStorageBufferBindingSize', 'maxBufferSize', 'maxComputeWorkgroupSizeX', 'maxComputeInvocationsPerWorkgroup']) {
      if (typeof l[k] === 'number') requiredLimits[k] = l[k];
    }
    const requiredFeatures = adapter.features.has('timestamp-query') ? ['timestamp-query'] : [];
    const device = await adapter.requestDevice({ requiredFeatures, requiredLimits });
    state.error = undefined;
    const onError = (e: { error?: { constructor?: { name?: string }; message?: string } }): void => {
      const name = e.error?.constructor?.name ?? '';
      const kind: WebGPUDeviceError['kind'] = /OutOfMemory/i.test(name) ? 'out-of-memory' : /Validation/i.test(name) ? 'validation' : 'internal';
      // Keep the first out-of-memory error: what follows it is its consequence.
      if (state.error?.kind !== 'out-of-memory') state.error = { kind, message: e.error?.message ?? String(e.error) };
    };
    if (typeof device.addEventListener === 'function') device.addEventListener('uncapturederror', onError);
    else device.onuncapturederror = onError;
    void device.lost.then((l2) => {
      if (l2?.reason !== 'destroyed') state.error = { kind: 'lost', message: l2?.message ?? 'device lost' };
    });
    const backend = new WebGPUBackend(device, info);
    if (typeof (globalThis as { OffscreenCanvas?: unknown }).OffscreenCanvas === 'undefined') guardSyncReads(backend);
    return backend;
  }, 1); // below wasm's priority: tfjs must never pick it on its own
}

/**
 * tfjs's webgpu backend reads synchronously through an OffscreenCanvas,
 * which Node lacks (its error would be "OffscreenCanvas is not defined"):
 * say what to do instead. Values already on the CPU still read.
 */
function guardSyncReads(backend: tf.KernelBackend): void {
  // Its "synchronous reads are slow" warning would precede our error.
  (backend as { hasReadSyncWarned?: boolean }).hasReadSyncWarned = true;
  const readSync = backend.readSync.bind(backend);
  backend.readSync = (dataId: object) => {
    try {
      return readSync(dataId);
    } catch (e) {
      if (!(e instanceof ReferenceError) || !/OffscreenCanvas/.test(e.message)) throw e;
      throw new WebGPUSyncReadError(
        'a synchronous read (dataSync/arraySync/bufferSync) of a tensor on the GPU is not possible on the webgpu backend in Node; ' +
          "read it with 'await tensor.data()' / 'await tensor.array()' instead, or use backend 'wasm' or 'tensorflow'",
      );
    }
  };
}

/** A one-line description of an adapter, e.g. `google swiftshader, SwiftShader driver 5.0.0 (software)`. */
export function describeAdapter(a: WebGPUAdapterSummary): string {
  const names = [a.vendor, a.architecture].filter(Boolean).join(' ') || 'unnamed adapter';
  const desc = a.description ? `, ${a.description}` : '';
  return `${names}${desc}${a.software ? ' (software)' : ''}`;
}

/** The adapter the `webgpu` backend was set up on, or undefined before {@link setUpWebGPU} succeeded. */
export function webgpuAdapter(): WebGPUAdapterSummary | undefined {
  return state.adapter;
}

/**
 * The first error the GPU device reported since the `webgpu` backend
 * started (out of memory wins over later errors, which it causes), or
 * undefined. WebGPU reports such errors asynchronously, after the work that
 * caused them was queued, so tfjs cannot throw them where they happen: the
 * memory guard ({@link assertFitsMemory}) throws them before the next step.
 */
export function webgpuDeviceError(): WebGPUDeviceError | undefined {
  return state.error;
}

/** Forgets a recorded device error (after the caller has reported it). */
export function clearWebGPUDeviceError(): void {
  state.error = undefined;
}

/** GPU memory as the `webgpu` backend counts it, in bytes. */
export interface WebGPUMemory {
  /** Bytes of live tensors on the GPU (tf.memory().numBytesInGPU). */
  tensorBytes: number;
  /** Bytes the backend has allocated on the GPU, including its buffer pool (tf.memory().numBytesAllocatedInGPU). */
  allocatedBytes: number;
  /** The device's largest buffer (the largest tensor it can hold). */
  maxBufferSize: number;
}

/** GPU memory in use by the `webgpu` backend, or null when another backend is active. */
export function webgpuMemory(): WebGPUMemory | null {
  if (tf.getBackend() !== 'webgpu') return null;
  const m = tf.memory() as tf.MemoryInfo & { numBytesInGPU?: number; numBytesAllocatedInGPU?: number };
  return { tensorBytes: m.numBytesInGPU ?? 0, allocatedBytes: m.numBytesAllocatedInGPU ?? 0, maxBufferSize: state.adapter?.maxBufferSize ?? 0 };
}

/**
 * Sets up WebGPU ({@link setUpWebGPU}), switches tfjs to its `webgpu`
 * backend and registers tumorcast's kernel fills for it. Used by
 * `initBackend`; returns a description of the adapter, or why WebGPU is not
 * usable and what to do.
 *
 * @param options - whether software adapters count, and the module importer.
 */
export async function startWebGPU(options: WebGPUSetupOptions = {}): Promise<{ ok: true; detail: string } | { ok: false; reason: string; hint: string }> {
  const s = await setUpWebGPU(options);
  if (!s.ok) return s;
  let started = false;
  try {
    started = await tf.setBackend('webgpu');
    if (started) await tf.ready();
  } catch (e) {
    return { ok: false, reason: `tfjs's webgpu backend failed to start on ${describeAdapter(s.adapter)} (${(e as Error).message})`, hint: noAdapterHint() };
  }
  if (!started || tf.getBackend() !== 'webgpu') {
    return { ok: false, reason: `tfjs's webgpu backend failed to start on ${describeAdapter(s.adapter)}`, hint: noAdapterHint() };
  }
  registerWebGPUKernelFills();
  return { ok: true, detail: `${describeAdapter(s.adapter)}, through ${s.adapter.source}` };
}

/**
 * Whether `dataSync()` works on the current backend: everywhere except the
 * `webgpu` backend in Node (see {@link WebGPUSyncReadError}). Code that reads
 * values inside a synchronous callback checks this and, where false, keeps
 * the arithmetic on the GPU and reads with `await data()` later.
 */
export function syncReadsAvailable(): boolean {
  return tf.getBackend() !== 'webgpu' || typeof (globalThis as { OffscreenCanvas?: unknown }).OffscreenCanvas !== 'undefined';
}
