/**
 * The messages between the page and the prediction worker.
 */
import type { SampleSettings } from '@tumorcast/pipeline';
import type { BackendChoice, BrowserBackend } from './backend-choice.js';
import type { WeightsFiles } from './models.js';

/** The slice as the worker needs it (the `SliceImages` of `@tumorcast/pipeline`). */
export interface WorkerSlice {
  /** Native width. */
  width: number;
  /** Native height. */
  height: number;
  /** Native image, HWC. */
  native: Float32Array;
  /** Native label, when known. */
  nativeLabel?: Uint8Array;
  /** Image at the networks' size, HWC. */
  model: Float32Array;
  /** Label at the networks' size, when known. */
  modelLabel?: Uint8Array;
  /** Baseline burden of the label, when known. */
  burden?: number;
}

/** Page to worker. */
export type ToWorker = {
  type: 'run';
  /** Backend choice (used on the worker's first run). */
  backend: BackendChoice;
  /** The networks' weights. */
  weights: WeightsFiles;
  /** The side the page resized the slice to. */
  modelSize: number;
  /** The baseline. */
  slice: WorkerSlice;
  /** d, from the growth model. */
  relativeChange: number;
  /** Sampling settings. */
  settings: Partial<SampleSettings>;
};

/** What a finished prediction sends back (native geometry). */
export interface WorkerResult {
  /** The relative change used. */
  relativeChange: number;
  /** r0. */
  baselineBurden: number;
  /** Where r0 came from. */
  baselineBurdenSource: string;
  /** r*. */
  targetBurden: number;
  /** The regressor's burden of the generated follow-up. */
  predictedBurden: number;
  /** The regressor's burden per decoding step. */
  trajectory: number[];
  /** Predicted follow-up, HWC. */
  followup: Float32Array;
  /** Probability map, HW. */
  probability: Float32Array;
  /** Follow-up tumour mask, HW. */
  followupMask: Uint8Array;
  /** Baseline tumour mask, HW. */
  baselineMask: Uint8Array;
}

/** Worker to page. */
export type FromWorker =
  | { type: 'backend'; name: BrowserBackend; skipped: string[] }
  | { type: 'status'; message: string }
  | { type: 'progress'; what: string; done: number; total: number }
  | { type: 'resize'; imageSize: number }
  | { type: 'result'; result: WorkerResult }
  | { type: 'error'; name: string; message: string };
