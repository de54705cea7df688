/**
 * The messages between a `MapPool` and its worker threads (internal).
 */
import type { BackendRequest } from '@tumorcast/nn';
import type { LoadModelsOptions, ModelPaths } from './models.js';
import type { ProbabilityMapRequest } from './parallel.js';

/** What a worker starts with (`workerData`). */
export interface MapWorkerData {
  /** The network files, loaded once. */
  models: ModelPaths;
  /** How to load them (as the main thread did). */
  loadOptions: Omit<LoadModelsOptions, 'names'>;
  /** The backend to start (the main thread's). */
  backend: BackendRequest;
}

/** An error, as it crosses threads. */
export interface WorkerError {
  /** The error's name (e.g. 'PipelineDataError'). */
  name: string;
  /** Its message. */
  message: string;
  /** Its stack, when it had one. */
  stack?: string;
}

/** Main thread to worker: compute run `run` of a map. */
export type ToWorker = { type: 'run'; task: number; run: number; request: ProbabilityMapRequest };

/** Worker to main thread. */
export type FromWorker =
  | { type: 'ready'; imageSize: number }
  | { type: 'init-failed'; error: WorkerError }
  | { type: 'done'; task: number; mask: Float32Array }
  | { type: 'failed'; task: number; error: WorkerError };
