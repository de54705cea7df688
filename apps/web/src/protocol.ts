/**
 * The messages between the page and the prediction worker.
 */
import type { SampleSettings, SliceImages, SlicePrediction } from '@tumorcast/pipeline';
import type { BackendChoice, BrowserBackend } from './backend-choice.js';
import type { WeightsFiles } from './models.js';

/** The slice as the worker needs it: the pipeline's own slice at native and network size. */
export type WorkerSlice = SliceImages;

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
  /**
   * The weights are the shipped demo networks: the worker guides with the
   * settings tuned for them (`DEMO_NETWORK_SETTINGS`) under `settings`.
   * @defaultValue false
   */
  demoNetworks?: boolean;
};

/** What a finished prediction sends back (native geometry): the burdens and trajectory of `predictSlice`, and the images. */
export interface WorkerResult
  extends Pick<SlicePrediction, 'relativeChange' | 'baselineBurden' | 'baselineBurdenSource' | 'targetBurden' | 'predictedBurden' | 'trajectory'> {
  /** Predicted follow-up, HWC. */
  followup: Float32Array;
  /** Probability map, HW. */
  probability: Float32Array;
  /** Follow-up tumour mask, HW. */
  followupMask: Uint8Array;
  /** Baseline tumour mask, HW. */
  baselineMask: Uint8Array;
  /** The sampling settings the worker used (defaults and the demo networks' tuning filled in). */
  settings: SampleSettings;
}

/** Worker to page. */
export type FromWorker =
  | { type: 'backend'; name: BrowserBackend; skipped: string[] }
  | { type: 'status'; message: string }
  | { type: 'progress'; what: string; done: number; total: number }
  | { type: 'resize'; imageSize: number }
  | { type: 'result'; result: WorkerResult }
  | { type: 'error'; name: string; message: string };
