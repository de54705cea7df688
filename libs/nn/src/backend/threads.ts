/**
 * Multi-threaded wasm in Node.js.
 *
 * `@tensorflow/tfjs-backend-wasm` ships an XNNPACK build with a thread pool
 * (Emscripten pthreads), but only turns it on in browsers. In Node its
 * pthread workers cannot start as tfjs sets them up (their script is a Blob
 * URL, which `worker_threads` cannot load), so the flag is off there. This
 * module starts those workers from the same script text through
 * `node:worker_threads`, which makes the threaded build work in Node.
 *
 * Three details matter: the pool size is capped by the C++ side at half of
 * the logical cores it is told about (it assumes two hardware threads per
 * core), so the count is reported as twice the request while the module
 * starts; the pool's workers are kept from holding the process open (they
 * only ever run while the main thread waits for them); and all of it must
 * happen before the wasm backend first initialises, since the thread count
 * is fixed for the life of the process.
 */
import type * as NodeOs from 'node:os';
import type { Worker as NodeWorker } from 'node:worker_threads';
import * as tf from '@tensorflow/tfjs';

// Node built-ins are loaded when the threaded build starts, never by a static
// import: this module is reachable from the package's browser-safe main entry.
type NodeModules = {
  os: typeof NodeOs;
  createRequire: typeof import('node:module').createRequire;
  path: typeof import('node:path');
  Worker: typeof NodeWorker;
};

async function loadNodeModules(): Promise<NodeModules> {
  const [os, mod, path, wt] = await Promise.all([import('node:os'), import('node:module'), import('node:path'), import('node:worker_threads')]);
  return { os: os.default, createRequire: mod.createRequire, path: path.default, Worker: wt.Worker };
}

/** `node:os` when running in Node (synchronously, through process.getBuiltinModule where present). */
function nodeOsSync(): typeof NodeOs | undefined {
  const p = typeof process !== 'undefined' ? (process as { getBuiltinModule?: (id: string) => unknown }) : undefined;
  return typeof p?.getBuiltinModule === 'function' ? (p.getBuiltinModule('node:os') as typeof NodeOs) : undefined;
}

/** A thread-count request: a positive integer, or `auto` for the cores this process may use. */
export type WasmThreadsRequest = number | 'auto';

/** The most threads the tfjs wasm build's pool can run (its pre-started worker count). */
export const MAX_WASM_THREADS = 8;

/** The environment variable that overrides the `threads` option of `initBackend`. */
export const WASM_THREADS_ENV = 'TUMORCAST_WASM_THREADS';

/**
 * The number of threads `auto` means: the cores this process may use
 * (`os.availableParallelism()`), at most {@link MAX_WASM_THREADS}. Inside a
 * Jest worker it is 1: Jest already runs one test file per core, and more
 * threads than cores make the pool's spinning workers slow everything down.
 */
export function autoWasmThreads(): number {
  if (typeof process !== 'undefined' && process.env['JEST_WORKER_ID'] !== undefined) return 1;
  const os = nodeOsSync();
  const nav = (globalThis as { navigator?: { hardwareConcurrency?: number } }).navigator;
  const cores = os ? (typeof os.availableParallelism === 'function' ? os.availableParallelism() : os.cpus().length) : (nav?.hardwareConcurrency ?? 1);
  return Math.max(1, Math.min(MAX_WASM_THREADS, cores));
}

/**
 * Resolves a thread request to a count in [1, {@link MAX_WASM_THREADS}]. The
 * environment variable {@link WASM_THREADS_ENV}, when set, wins over
 * `request`. Throws a `RangeError` naming the source for anything that is not
 * `auto` or a positive integer; counts above the maximum are clamped.
 *
 * @param request - the `threads` option, undefined meaning `auto`.
 * @param env - the environment variable's value (read from `process.env` by default).
 */
export function resolveWasmThreads(
  request: WasmThreadsRequest | undefined,
  env: string | undefined = typeof process !== 'undefined' ? process.env[WASM_THREADS_ENV] : undefined,
): number {
  const parse = (value: WasmThreadsRequest | string, source: string): number => {
    if (value === 'auto') return autoWasmThreads();
    const n = typeof value === 'number' ? value : /^\s*\d+\s*$/.test(value) ? Number(value) : Number.NaN;
    if (!Number.isInteger(n) || n < 1) {
      throw new RangeError(`${source} must be 'auto' or a positive integer (number of wasm threads), got '${String(value)}'`);
    }
    return Math.min(n, MAX_WASM_THREADS);
  };
  if (env !== undefined && env.trim() !== '') return parse(env.trim().toLowerCase(), WASM_THREADS_ENV);
  return parse(request ?? 'auto', "'threads' passed to 'initBackend'");
}

interface WasmBackendModule {
  setThreadsCount(n: number): void;
  getThreadsCount(): number;
}

interface ThreadedAssets {
  /** The pthread worker's script text, as tfjs embeds it. */
  workerSource: string;
  /** The path of the threaded Emscripten module script, which each worker loads. */
  mainScript: string;
}

function threadedAssets({ createRequire, path }: NodeModules): ThreadedAssets {
  const require = createRequire(import.meta.url);
  const dir = path.dirname(require.resolve('@tensorflow/tfjs-backend-wasm/package.json'));
  const worker = require(path.join(dir, 'wasm-out', 'tfjs-backend-wasm-threaded-simd.worker.js')) as { wasmWorkerContents?: unknown };
  if (typeof worker.wasmWorkerContents !== 'string') {
    throw new Error('the installed @tensorflow/tfjs-backend-wasm has no threaded worker script (wasm-out/tfjs-backend-wasm-threaded-simd.worker.js)');
  }
  // tfjs escapes newlines the same way before it makes its Blob: the text holds "\n" inside string literals.
  return {
    workerSource: worker.wasmWorkerContents.replace(/\n/g, '\\n'),
    mainScript: path.join(dir, 'wasm-out', 'tfjs-backend-wasm-threaded-simd.js'),
  };
}

/** A `Worker` for Emscripten's pthread pool, built on `node:worker_threads`. */
function workerClass(assets: ThreadedAssets, Worker: typeof NodeWorker): typeof NodeWorker {
  return class TfjsWasmPthreadWorker extends Worker {
    constructor() {
      // The URL tfjs passes is a Blob URL that worker_threads cannot load; the text is known.
      super(assets.workerSource, { eval: true });
      this.unref();
    }

    /** Emscripten refs a worker while it runs a pthread; the pool's threads never end, so keep them unreferenced. */
    override ref(): void {}

    override postMessage(message: unknown, transferList?: readonly unknown[]): void {
      const m = message as { cmd?: unknown; urlOrBlob?: unknown } | null;
      // The worker would import the module from a Blob; give it the module's file instead.
      const out = m && m.cmd === 'load' && typeof m.urlOrBlob !== 'string' ? { ...m, urlOrBlob: assets.mainScript } : message;
      super.postMessage(out, transferList as Parameters<NodeWorker['postMessage']>[1]);
    }
  };
}

/** What {@link startWasm} did. */
export interface StartWasmResult {
  /** Whether the wasm backend is initialised and current. */
  ok: boolean;
  /** Threads the XNNPACK pool runs (1 when the threaded build could not be used). */
  threads: number;
  /** Why the threaded build was not used although more than one thread was asked for; undefined otherwise. */
  fallbackReason?: string;
  /** For the backend log line, e.g. `threads 2` or `threads 1 (threaded build unavailable: ...)`. */
  detail: string;
}

/**
 * Initialises tfjs's wasm backend with the requested number of threads: for
 * more than one, the threaded SIMD build, its pthread workers started on
 * `node:worker_threads`; for one, the plain SIMD build. `setUp` is the call
 * that makes tfjs initialise the backend (`tf.setBackend('wasm')` then
 * `tf.ready()`) and resolves to whether it succeeded. When the threaded build
 * fails to start, the plain one is used and the reason returned. The count is
 * fixed when the wasm backend first initialises: once it has, `setUp` runs
 * as is and the count in use is reported.
 *
 * @param request - a positive integer or `auto` (see {@link resolveWasmThreads}; `TUMORCAST_WASM_THREADS` wins).
 * @param setUp - initialises (or switches to) the wasm backend; resolves to true on success.
 */
export async function startWasm(request: WasmThreadsRequest | undefined, setUp: () => Promise<boolean>): Promise<StartWasmResult> {
  const threads = resolveWasmThreads(request);
  const wasm = await loadWasmModule();
  const done = (ok: boolean, n: number, fallbackReason?: string): StartWasmResult => ({
    ok,
    threads: n,
    fallbackReason,
    detail: `threads ${n}${fallbackReason ? ` (threaded build unavailable: ${fallbackReason})` : ''}`,
  });
  if (wasmStarted()) {
    const ok = await setUp();
    const n = wasmThreadsInUse() ?? 1;
    return { ...done(ok, n), detail: `threads ${n}${n !== threads ? ` (fixed when wasm first started; ${threads} asked for)` : ''}` };
  }
  const isNode = tf.env().getBool('IS_NODE');
  if (threads === 1 || !isNode) {
    // Browsers keep tfjs's own feature test; in Node one thread is the plain SIMD build.
    if (isNode) tf.env().set('WASM_HAS_MULTITHREAD_SUPPORT', false);
    wasm.setThreadsCount(threads);
    const ok = await setUp();
    return done(ok, ok ? wasmThreadsInUse() ?? 1 : 1);
  }
  let fallbackReason: string | undefined;
  if (typeof SharedArrayBuffer === 'undefined') {
    fallbackReason = 'SharedArrayBuffer is not available in this runtime';
  } else {
    let assets: ThreadedAssets | undefined;
    let node: NodeModules | undefined;
    try {
      node = await loadNodeModules();
      assets = threadedAssets(node);
    } catch (e) {
      fallbackReason = (e as Error).message;
    }
    if (assets && node) {
      const os = node.os;
      const g = globalThis as Record<string, unknown>;
      const workerBefore = Object.getOwnPropertyDescriptor(g, 'Worker');
      const Shim = workerClass(assets, node.Worker);
      // Emscripten assigns worker_threads' Worker to the global in Node; keep the shim in place while it starts.
      Object.defineProperty(g, 'Worker', { configurable: true, get: () => Shim, set: () => undefined });
      const mutableOs = os as { cpus: () => NodeOs.CpuInfo[] };
      const cpusBefore = mutableOs.cpus;
      const cores = Array.from({ length: 2 * threads }, () => cpusBefore()[0] as NodeOs.CpuInfo);
      // The C++ side caps the pool at half the logical cores it is told about.
      mutableOs.cpus = () => cores.slice();
      tf.env().set('WASM_HAS_MULTITHREAD_SUPPORT', true);
      wasm.setThreadsCount(threads);
      let ok = false;
      try {
        ok = await setUp();
      } catch (e) {
        fallbackReason = (e as Error).message ?? String(e);
      } finally {
        mutableOs.cpus = cpusBefore;
        if (workerBefore) Object.defineProperty(g, 'Worker', workerBefore);
        else delete g['Worker'];
      }
      if (ok) return done(true, wasmThreadsInUse() ?? threads);
      fallbackReason ??= 'the threaded wasm build failed to initialise';
    }
  }
  tf.env().set('WASM_HAS_MULTITHREAD_SUPPORT', false);
  wasm.setThreadsCount(1);
  const ok = await setUp();
  return done(ok, 1, fallbackReason);
}

let wasmModule: WasmBackendModule | undefined;

/** Whether the wasm backend has initialised (without starting it, as `tf.findBackend` would). */
function wasmStarted(): boolean {
  const registry = (tf.engine() as unknown as { registry?: Record<string, unknown> }).registry;
  return registry?.['wasm'] !== undefined;
}

async function loadWasmModule(): Promise<WasmBackendModule> {
  if (!wasmModule) {
    const m = (await import('@tensorflow/tfjs-backend-wasm')) as unknown as WasmBackendModule & { default?: WasmBackendModule };
    wasmModule = typeof m.setThreadsCount === 'function' ? m : (m.default as WasmBackendModule);
  }
  return wasmModule;
}

/**
 * Threads the initialised wasm backend's XNNPACK pool runs, or undefined
 * before the wasm backend has initialised.
 */
export function wasmThreadsInUse(): number | undefined {
  if (!wasmModule || !wasmStarted()) return undefined;
  try {
    return wasmModule.getThreadsCount();
  } catch {
    return undefined;
  }
}
