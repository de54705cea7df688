/**
 * How `predictSlice` hands a probability map to someone else to compute (e.g.
 * the worker pool of `@tumorcast/pipeline/node`): the request is plain data,
 * so that it can be copied to another thread or process.
 */
import type { SampleSettings } from './settings.js';

/** One slice's probability map to compute: the inputs of its runs, as plain arrays. */
export interface ProbabilityMapRequest {
  /** The baseline at the networks' size, HWC (4 channels) in [0, 1] (`SliceImages.model`). */
  image: Float32Array;
  /** The networks' input size S (`image` holds S·S·4 values). */
  imageSize: number;
  /** The baseline tumour mask at the networks' size, HW (0/1). */
  baselineMask: Float32Array;
  /** Baseline burden r0, as `predictSlice` resolved it (`settings.baselineBurden`): the runs use it as given. */
  baselineBurden: number;
  /** Relative change d. */
  relativeChange: number;
  /** The sampling settings (all of them; `samples` is the number of runs). */
  settings: SampleSettings;
}

/**
 * Computes a probability map: run s (0 ≤ s < `settings.samples`) of the map
 * must draw the noise of run s of `growthProbabilityMap` (its `firstRun`
 * option), so that the map equals the one `predictSlice` computes itself.
 * Calls `onRun` after each finished run with the number of runs done, and
 * resolves with the map at the networks' size (HW).
 */
export type ProbabilityMapRunner = (request: ProbabilityMapRequest, onRun?: (done: number, total: number) => void) => Promise<Float32Array>;
