/**
 * Probability maps on every core: tfjs's wasm backend runs on one thread in
 * Node, so a map's runs are farmed out to a pool of worker threads, each with
 * its own backend and its own copy of the networks (loaded from the files
 * once, kept for every slice). Run s is computed exactly as the serial map
 * computes it (its own noise stream), and the runs' masks are summed in run
 * order, so the map is the serial one.
 */
import fs from 'node:fs';
import os from 'node:os';
import { fileURLToPath } from 'node:url';
import { Worker } from 'node:worker_threads';
import { estimateSamplerBytes } from '@tumorcast/guided-sampler';
import { WASM_HEAP_LIMIT_BYTES, WASM_THREADS_ENV, currentBackend } from '@tumorcast/nn';
import type { BackendName, BackendRequest } from '@tumorcast/nn';
import { PipelineDataError, PipelineInputError, apiOptionName } from './errors.js';
import type { OptionNamer } from './errors.js';
import type { LoadModelsOptions, ModelPaths } from './models.js';
import type { ProbabilityMapRequest, ProbabilityMapRunner } from './parallel.js';
import type { FromWorker, MapWorkerData, ToWorker, WorkerError } from './parallel-protocol.js';

/** Bytes a worker takes besides its networks and sampling: a Node isolate, TensorFlow.js and the wasm module. */
export const MAP_WORKER_BASE_BYTES = 256 * 1024 ** 2;

/**
 * The memory one map worker is counted with by {@link resolveMapWorkers}:
 * `MAP_WORKER_BASE_BYTES + min(wasm heap limit (3.84 GiB), 2 × the network
 * files' bytes + estimateSamplerBytes of one image)` — the weights twice
 * (the file read and the tensors), and the guided sampler's own estimate of
 * one run.
 *
 * @param models - the network files (their sizes on disk).
 * @param imageSize - the networks' input size.
 */
export function mapWorkerBytes(models: ModelPaths, imageSize: number): number {
  const files = [models.diffusion, models.regressor, models.segmenter].filter((f): f is string => typeof f === 'string');
  const weights = files.reduce((sum, f) => sum + (fs.existsSync(f) ? fs.statSync(f).size : 0), 0);
  const sampling = estimateSamplerBytes({ batch: 1, height: imageSize, width: imageSize, channels: 4 });
  return MAP_WORKER_BASE_BYTES + Math.min(WASM_HEAP_LIMIT_BYTES, 2 * weights + sampling);
}

/** What {@link resolveMapWorkers} decides from. */
export interface MapWorkersInput {
  /** The `workers` option: a count (>= 1), or `'auto'`. */
  workers: number | 'auto';
  /** Runs per map. */
  samples: number;
  /** The networks' input size. */
  imageSize: number;
  /** The network files. */
  models: ModelPaths;
  /**
   * The compute backend of this thread.
   * @defaultValue currentBackend() of `@tumorcast/nn`
   */
  backend?: BackendName;
  /**
   * Cores to use.
   * @defaultValue os.availableParallelism()
   */
  cores?: number;
  /**
   * Free memory in bytes.
   * @defaultValue os.freemem()
   */
  freeMemory?: number;
  /**
   * How messages name the options.
   * @defaultValue apiOptionName
   */
  names?: OptionNamer;
}

/** What {@link resolveMapWorkers} decided. */
export interface MapWorkersDecision {
  /** Worker threads to start; 1 is the serial map in this thread (no pool). */
  workers: number;
  /** Why, in words (for a log line). */
  reason: string;
  /** A warning when a count that was asked for exceeds the memory rule. */
  warning?: string;
}

const gib = (b: number) => `${(b / 1024 ** 3).toFixed(1)} GiB`;

/**
 * How many map workers a run starts. A map of one run needs none (it is the
 * guided sample). A count is taken as given, but never more than the runs
 * per map (each worker computes whole runs). `'auto'` is the smallest of:
 * the cores (`os.availableParallelism()`), the runs per map, and the workers
 * that fit in the free memory (`os.freemem()` divided by
 * {@link mapWorkerBytes}; at least 1). On the `tensorflow` backend
 * (tfjs-node, which uses every core itself), on the `webgpu` backend (the
 * GPU runs each run in parallel; a count > 1 is taken as given, and each
 * worker opens a GPU device of its own and holds its own copy of the
 * networks in GPU memory), with the `'onnx'` denoiser
 * (ONNX Runtime does too), and inside a Jest worker
 * (Jest runs one test file per core) unless `cores` is given, `'auto'` is 1.
 *
 * @param input - see {@link MapWorkersInput}.
 * @throws PipelineInputError for a count that is not an integer >= 1 or 'auto'.
 */
export function resolveMapWorkers(input: MapWorkersInput): MapWorkersDecision {
  const names = input.names ?? apiOptionName;
  const w = input.workers;
  if (w !== 'auto' && !(Number.isInteger(w) && w >= 1)) {
    throw new PipelineInputError(`${names('workers', String(w))} is not 'auto' or an integer >= 1 (map worker threads; 1 computes maps in this thread)`);
  }
  const runs = input.samples;
  if (runs < 2) return { workers: 1, reason: 'none: a one-run map is the guided sample itself' };
  const perWorker = mapWorkerBytes(input.models, input.imageSize);
  const free = input.freeMemory ?? os.freemem();
  const fit = Math.max(1, Math.floor(free / perWorker));
  if (w !== 'auto') {
    const n = Math.min(w, runs);
    const reason = n === 1 ? '1 (maps in this thread)' : `${n}${n < w ? ` (${w} asked for, capped by the ${runs} runs per map)` : ''}`;
    const warnings = [
      n > fit ? `${n} map workers may need about ${gib(n * perWorker)} of memory (${gib(perWorker)} each), more than the ${gib(free)} free: use fewer ${names('workers')} if the run fails or swaps` : '',
      n > 1 && (input.backend ?? currentBackend()) === 'webgpu'
        ? `on the 'webgpu' backend each of the ${n} map workers opens a GPU device of its own and holds its own copy of the networks in GPU memory (auto uses one: ${names('workers', '1')})`
        : '',
    ].filter(Boolean);
    return { workers: n, reason, ...(warnings.length ? { warning: warnings.join('; ') } : {}) };
  }
  const backend = input.backend ?? currentBackend();
  if (backend === 'tensorflow') return { workers: 1, reason: "1 (auto: the 'tensorflow' backend uses every core itself)" };
  // The GPU already runs a run's kernels in parallel; each worker would open a device of its own, with its own copy of the networks in GPU memory.
  if (backend === 'webgpu') return { workers: 1, reason: "1 (auto: on the 'webgpu' backend the GPU computes each run in parallel itself; each worker would open its own GPU device)" };
  if (input.models.denoiser === 'onnx') return { workers: 1, reason: "1 (auto: the 'onnx' denoiser's ONNX Runtime uses every core itself)" };
  // As the wasm backend's own thread count: Jest already runs one test file per core.
  if (input.cores === undefined && process.env['JEST_WORKER_ID'] !== undefined) return { workers: 1, reason: '1 (auto: inside a Jest worker, which runs one test file per core)' };
  const cores = input.cores ?? os.availableParallelism();
  const n = Math.max(1, Math.min(cores, runs, fit));
  return {
    workers: n,
    reason: `${n} (auto: the least of ${cores} core(s), ${runs} runs per map, and ${fit} worker(s) of ${gib(perWorker)} in ${gib(free)} free memory)`,
  };
}

/** Options of {@link MapPool.start}. */
export interface MapPoolOptions {
  /** The network files: every worker loads them once. */
  models: ModelPaths;
  /** Worker threads to start (>= 1; see {@link resolveMapWorkers}). */
  workers: number;
  /**
   * Options of `loadModels` for the workers (plain data; not `names`): the
   * ones the main thread loaded its networks with, so that both compute the same.
   * @defaultValue {}
   */
  loadOptions?: Omit<LoadModelsOptions, 'names'>;
  /**
   * The backend the workers start.
   * @defaultValue this thread's (currentBackend() of `@tumorcast/nn`), else 'auto'
   */
  backend?: BackendRequest;
  /**
   * Terminate the workers on SIGINT (pending maps reject); the signal's
   * default action (exit) follows when nothing else listens for it.
   * @defaultValue true
   */
  handleSigint?: boolean;
  /**
   * The workers' entry module, and the Node options it runs with.
   * @defaultValue map-worker.js next to this module (from the TypeScript
   * sources: map-worker.ts through the repository's TypeScript hooks)
   */
  worker?: { script: URL; execArgv?: string[] };
}

/** Options of {@link MapPool.probabilityMap}. */
export interface PoolMapOptions {
  /**
   * The slice's id, named by errors.
   * @defaultValue 'the slice'
   */
  slice?: string;
  /**
   * Called after each finished run with the runs done (in the order they finish).
   * @defaultValue undefined
   */
  onRun?: (done: number, total: number) => void;
}

/** A map in the pool. */
interface MapJob {
  what: string;
  runs: number;
  masks: (Float32Array | undefined)[];
  done: number;
  settled: boolean;
  onRun?: (done: number, total: number) => void;
  resolve: (map: Float32Array) => void;
  reject: (e: Error) => void;
}

/** One run of a map, queued or running. */
interface Task { id: number; job: MapJob; run: number; request: ProbabilityMapRequest }

interface Slot { index: number; worker: Worker; task?: Task; alive: boolean; lastError?: WorkerError }

function defaultWorker(): { script: URL; execArgv?: string[] } {
  const here = import.meta.url;
  if (here.endsWith('.ts')) {
    // Running from the TypeScript sources (the repository's tests): the worker runs them through the repository's hooks.
    return { script: new URL('./map-worker.ts', here), execArgv: ['--import', fileURLToPath(new URL('../../../tools/test-utils/run-ts.mjs', here))] };
  }
  return { script: new URL('./map-worker.js', here) };
}

const errorText = (e: WorkerError) => `${e.name && e.name !== 'Error' ? `${e.name}: ` : ''}${e.message}`;

/**
 * A pool of worker threads that compute probability maps, each worker with
 * its own TensorFlow.js backend (wasm on one thread) and its own copy of the
 * networks. A map's
 * runs are queued and each free worker takes the next; the masks are summed
 * in run order when all are done. Equal to the map `predictSlice` computes
 * in its own thread (tested).
 *
 * A worker that dies (e.g. out of memory) rejects every pending map and
 * closes the pool; a run that throws rejects its map (naming the slice and
 * the run). Workers hold the process open only while they compute.
 *
 * @example
 * ```ts
 * import { MapPool, loadModels, predictSlice } from '@tumorcast/pipeline/node';
 * const paths = { diffusion: 'diffusion.safetensors', regressor: 'regressor.safetensors' };
 * const networks = await loadModels(paths);
 * const pool = await MapPool.start({ models: paths, workers: 4 });
 * try {
 *   const p = await predictSlice(networks, slice, 0.3, { settings: { samples: 16 }, mapRunner: pool.runner('patient7/80') });
 * } finally {
 *   await pool.close();
 * }
 * ```
 */
export class MapPool {
  private readonly slots: Slot[] = [];
  private readonly queue: Task[] = [];
  private nextTask = 0;
  private failure: Error | undefined;
  private sigint: (() => void) | undefined;

  private constructor() {}

  /** Worker threads of the pool. */
  get size(): number {
    return this.slots.length;
  }

  /**
   * Starts the workers and waits until each has loaded the networks.
   *
   * @param options - see {@link MapPoolOptions}.
   * @throws PipelineInputError for a bad worker count; PipelineDataError when a worker cannot start or load the networks (the others are terminated).
   */
  static async start(options: MapPoolOptions): Promise<MapPool> {
    const fn = 'MapPool.start';
    if (!options || typeof options !== 'object') throw new PipelineInputError(`'options' passed to '${fn}' must be an object`);
    if (!Number.isInteger(options.workers) || options.workers < 1) throw new PipelineInputError(`'workers' passed to '${fn}' must be an integer >= 1, got ${options.workers}`);
    if (!options.models || typeof options.models.diffusion !== 'string' || typeof options.models.regressor !== 'string') {
      throw new PipelineInputError(`'models' passed to '${fn}' must name the 'diffusion' and 'regressor' files`);
    }
    const pool = new MapPool();
    const { script, execArgv } = options.worker ?? defaultWorker();
    const data: MapWorkerData = { models: options.models, loadOptions: options.loadOptions ?? {}, backend: options.backend ?? currentBackend() ?? 'auto' };
    const started: Promise<void>[] = [];
    const spawn = (index: number) => {
      // Each worker is one core: its wasm backend runs one thread (the variable wins over initBackend's option).
      const env = { ...process.env, [WASM_THREADS_ENV]: '1' };
      const worker = new Worker(script, { workerData: data, env, ...(execArgv ? { execArgv } : {}) });
      const slot: Slot = { index, worker, alive: true };
      pool.slots.push(slot);
      started.push(new Promise<void>((resolve, reject) => {
        const early = (m: FromWorker) => {
          if (m.type === 'ready') resolve();
          else if (m.type === 'init-failed') reject(new PipelineDataError(`map worker ${index + 1} of ${options.workers} could not start: ${errorText(m.error)}`));
        };
        worker.once('message', early);
        worker.once('exit', (code) => reject(new PipelineDataError(`map worker ${index + 1} of ${options.workers} stopped while starting (exit code ${code}`
          + `${slot.lastError ? `: ${errorText(slot.lastError)}` : ''})`)));
      }));
      worker.on('error', (e: Error) => { slot.lastError = { name: e.name, message: e.message, stack: e.stack }; });
    };
    try {
      for (let index = 0; index < options.workers; index++) spawn(index);
      await Promise.all(started);
    } catch (e) {
      // The workers that started (or are still starting) are terminated.
      await pool.close();
      throw e;
    }
    for (const slot of pool.slots) {
      slot.worker.on('message', (m: FromWorker) => pool.onMessage(slot, m));
      slot.worker.on('exit', (code) => pool.onExit(slot, code));
      slot.worker.unref();
    }
    if (options.handleSigint ?? true) {
      const handler = () => {
        process.removeListener('SIGINT', handler);
        pool.sigint = undefined;
        pool.fail(new Error('interrupted (SIGINT): the map workers were terminated'));
        void pool.close();
        // Without other listeners, SIGINT's default action: the process exits as it would have without the pool.
        if (process.listenerCount('SIGINT') === 0) process.kill(process.pid, 'SIGINT');
      };
      pool.sigint = handler;
      process.on('SIGINT', handler);
    }
    return pool;
  }

  /**
   * Computes one slice's probability map on the workers.
   *
   * @param request - the map's inputs (`request.settings.samples` runs).
   * @param options - see {@link PoolMapOptions}.
   * @returns the map at the networks' size (HW): the runs' masks summed in run order, divided by the runs.
   * @throws PipelineDataError naming the slice when a run fails, a worker dies, or the pool is closed.
   */
  probabilityMap(request: ProbabilityMapRequest, options: PoolMapOptions = {}): Promise<Float32Array> {
    const what = `slice ${options.slice ?? '(unnamed)'}`;
    if (this.failure) return Promise.reject(new PipelineDataError(`${what}: ${this.failure.message}`, { cause: this.failure }));
    const runs = request?.settings?.samples;
    if (!Number.isInteger(runs) || runs < 1) return Promise.reject(new PipelineInputError(`'request.settings.samples' passed to 'MapPool.probabilityMap' must be an integer >= 1, got ${runs}`));
    const S = request.imageSize;
    if (!(request.image instanceof Float32Array) || request.image.length !== S * S * 4 || !(request.baselineMask instanceof Float32Array) || request.baselineMask.length !== S * S) {
      return Promise.reject(new PipelineInputError(`'request' passed to 'MapPool.probabilityMap' must hold an image of ${S}x${S}x4 and a mask of ${S}x${S} values (Float32Array)`));
    }
    return new Promise<Float32Array>((resolve, reject) => {
      const job: MapJob = { what, runs, masks: new Array(runs).fill(undefined), done: 0, settled: false, onRun: options.onRun, resolve, reject };
      for (let run = 0; run < runs; run++) this.queue.push({ id: this.nextTask++, job, run, request });
      this.dispatch();
    });
  }

  /**
   * A {@link ProbabilityMapRunner} for `predictSlice`'s `mapRunner`, whose errors name `slice`.
   *
   * @param slice - the slice's id.
   */
  runner(slice: string): ProbabilityMapRunner {
    return (request, onRun) => this.probabilityMap(request, { slice, onRun });
  }

  /** Terminates the workers; maps still pending reject. Safe to call more than once. */
  async close(): Promise<void> {
    if (this.sigint) process.removeListener('SIGINT', this.sigint);
    this.sigint = undefined;
    this.fail(this.failure ?? new Error('the map pool was closed'));
    await Promise.all(this.slots.map((s) => {
      s.alive = false;
      return s.worker.terminate();
    }));
  }

  /** Rejects every pending map with `e` (named by its slice); later maps reject too. */
  private fail(e: Error): void {
    this.failure ??= e;
    const jobs = new Set([...this.queue.map((t) => t.job), ...this.slots.flatMap((s) => (s.task ? [s.task.job] : []))]);
    this.queue.length = 0;
    for (const job of jobs) this.settle(job, new PipelineDataError(`${job.what}: ${e.message}`, { cause: e }));
  }

  private settle(job: MapJob, result: Float32Array | Error): void {
    if (job.settled) return;
    job.settled = true;
    if (result instanceof Error) job.reject(result);
    else job.resolve(result);
  }

  private dispatch(): void {
    for (const slot of this.slots) {
      if (!slot.alive || slot.task) continue;
      let task = this.queue.shift();
      // Runs of a map that has already failed are dropped.
      while (task && task.job.settled) task = this.queue.shift();
      if (!task) break;
      slot.task = task;
      slot.worker.ref();
      const m: ToWorker = { type: 'run', task: task.id, run: task.run, request: task.request };
      slot.worker.postMessage(m);
    }
  }

  private onMessage(slot: Slot, m: FromWorker): void {
    const task = slot.task;
    if (!task || (m.type !== 'done' && m.type !== 'failed') || m.task !== task.id) return;
    slot.task = undefined;
    slot.worker.unref();
    const job = task.job;
    if (m.type === 'failed') {
      this.settle(job, new PipelineDataError(`${job.what}: probability-map run ${task.run + 1} of ${job.runs} failed in map worker ${slot.index + 1}: ${errorText(m.error)}`));
    } else if (!job.settled) {
      job.masks[task.run] = m.mask;
      job.done++;
      try {
        job.onRun?.(job.done, job.runs);
        if (job.done === job.runs) this.settle(job, mergeRuns(job.masks as Float32Array[]));
      } catch (e) {
        // The caller's progress callback threw: its map fails (not the process, from inside a message handler).
        this.settle(job, e instanceof Error ? e : new Error(String(e)));
      }
    }
    this.dispatch();
  }

  private onExit(slot: Slot, code: number): void {
    if (!slot.alive) return; // terminated by close()
    slot.alive = false;
    const running = slot.task ? ` while computing run ${slot.task.run + 1} of ${slot.task.job.runs} of slice ${slot.task.job.what.replace(/^slice /, '')}` : '';
    const why = slot.lastError ? `: ${errorText(slot.lastError)}` : ' (out of memory, or killed)';
    this.fail(new Error(`map worker ${slot.index + 1} of ${this.slots.length} stopped (exit code ${code})${running}${why}; the map pool is closed`));
    void this.close();
  }
}

/**
 * The map of a slice's runs: the masks summed in run order, divided by the
 * number of runs (float32, as the serial map sums and divides; the masks are
 * 0/1, so the sums are exact).
 */
function mergeRuns(masks: readonly Float32Array[]): Float32Array {
  const sum = new Float32Array(masks[0]!.length);
  for (const m of masks) for (let i = 0; i < sum.length; i++) sum[i]! += m[i]!;
  for (let i = 0; i < sum.length; i++) sum[i]! /= masks.length;
  return sum;
}
