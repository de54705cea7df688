/**
 * The sampling plan of a run (slices x runs x steps) and its progress: the
 * per-step callbacks of the guided sampler and the probability map are
 * turned into one count of work units (an inversion step of one image is 1,
 * a guided step {@link GUIDED_STEP_WEIGHT}), so that the bar moves every step
 * and its ETA holds across the cheap inversion and the dearer guided phase.
 */
import type { Diffusion } from '@tumorcast/diffusion';
import type { SampleSettings } from './settings.js';

/**
 * Work units of one guided step of one image, relative to an inversion step:
 * a guided step also differentiates the regressor. Measured: 2.6 for the
 * shipped 64x64 networks (the demo on wasm), about 1.2 for the paper's
 * networks (their benchmarks: U-Net forward 23 s, regressor gradient 4.6 s);
 * 2 keeps the ETA within about 25 % for both during the first slice.
 */
export const GUIDED_STEP_WEIGHT = 2;

/** What a run will compute. */
export interface SamplingPlan {
  /** Slices to sample. */
  slices: number;
  /** DDIM inversion steps per run (the respaced steps below the noise level). */
  encodeSteps: number;
  /** Guided decoding steps per run (as many as inversion steps). */
  decodeSteps: number;
  /** Probability-map runs per slice besides the guided sample (0 for a one-run map: that run is the guided sample). */
  mapRuns: number;
  /** Map runs batched together (the probability map's default batch, min(runs, 8)). */
  mapBatch: number;
  /** Image-steps (network evaluations of one image) of the whole run: slices x (1 + mapRuns) x (encodeSteps + decodeSteps). */
  imageSteps: number;
  /** Work units per slice: (1 + mapRuns) x (encodeSteps + GUIDED_STEP_WEIGHT x decodeSteps). */
  unitsPerSlice: number;
  /** Work units of the whole run (the progress bar's total). */
  units: number;
}

/**
 * The plan of a run.
 *
 * @param diffusion - the (respaced) sampling process.
 * @param settings - the sampling settings the slices run with (noise level, runs per map).
 * @param slices - slices to sample (>= 0).
 */
export function samplingPlan(diffusion: Pick<Diffusion, 'timestepMap'>, settings: Pick<SampleSettings, 'noiseLevel' | 'samples'>, slices: number): SamplingPlan {
  if (!Number.isInteger(slices) || slices < 0) throw new RangeError(`'slices' passed to 'samplingPlan' must be a non-negative integer, got ${slices}`);
  if (!Number.isInteger(settings.samples) || settings.samples < 1) throw new RangeError(`'settings.samples' passed to 'samplingPlan' must be an integer >= 1, got ${settings.samples}`);
  // The guided sampler inverts for every respaced step whose original timestep is below L.
  const steps = Array.from(diffusion.timestepMap).filter((t) => t < settings.noiseLevel).length;
  // A one-run map is the guided sample itself (predictSlice runs no second pass).
  const mapRuns = settings.samples === 1 ? 0 : settings.samples;
  const unitsPerSlice = (1 + mapRuns) * (1 + GUIDED_STEP_WEIGHT) * steps;
  return {
    slices, encodeSteps: steps, decodeSteps: steps, mapRuns, mapBatch: Math.min(mapRuns, 8),
    imageSteps: slices * (1 + mapRuns) * 2 * steps, unitsPerSlice, units: slices * unitsPerSlice,
  };
}

/** One line describing a plan, e.g. for the log before the first step. */
export function describePlan(p: SamplingPlan): string {
  const runs = p.mapRuns ? `(1 guided sample + ${p.mapRuns} probability-map run${p.mapRuns === 1 ? '' : 's'})` : '(1 guided sample)';
  return `plan: ${p.slices} slice(s) x ${runs} x (${p.encodeSteps} inversion + ${p.decodeSteps} guided steps) = ${p.imageSteps} image-steps`
    + ` (the bar counts ${p.units} units: a guided step ${GUIDED_STEP_WEIGHT}, as it also differentiates the regressor)`;
}

/** Where {@link sliceProgress} reports: a progress bar's `update` (e.g. `Progress` of `@tumorcast/cli`). */
export interface ProgressSink {
  /** Moves to `position` work units, with what is running (e.g. `{ 'slice 1/2': 'guided 3/20' }`). */
  update(position: number, status: Record<string, string | number>): void;
}

/**
 * The `onProgress` callback of `predictSlice` for slice `index` (0-based) of
 * a plan: moves `bar` (whose total is `plan.units`) to the work units done.
 * Understands the phases `encode`/`decode` (the guided sample), `map encode`/
 * `map decode` (a batch of map runs, per step) and `map` (map runs done).
 *
 * @param bar - the run's progress bar.
 * @param plan - the run's plan.
 * @param index - the slice's position in the run.
 */
export function sliceProgress(bar: ProgressSink, plan: SamplingPlan, index: number): (what: string, done: number, total: number) => void {
  const per = plan.encodeSteps + GUIDED_STEP_WEIGHT * plan.decodeSteps;
  const into = (phase: 'encode' | 'decode', done: number) => (phase === 'decode' ? plan.encodeSteps + GUIDED_STEP_WEIGHT * done : done);
  const base = index * plan.unitsPerSlice;
  let runsDone = 0;
  const tag = `slice ${index + 1}/${plan.slices}`;
  return (what, done, total) => {
    let pos: number;
    let phase: string;
    if (what === 'encode' || what === 'decode') {
      pos = into(what, done);
      phase = `${what === 'encode' ? 'inversion' : 'guided'} ${done}/${total}`;
    } else if (what === 'map') {
      runsDone = done;
      pos = per * (1 + done);
      phase = `map ${done}/${total} runs`;
    } else if (what === 'map encode' || what === 'map decode') {
      const k = Math.min(plan.mapBatch, plan.mapRuns - runsDone);
      pos = per * (1 + runsDone) + k * into(what === 'map decode' ? 'decode' : 'encode', done);
      phase = `map runs ${runsDone + 1}-${runsDone + k}/${plan.mapRuns} ${what === 'map encode' ? 'inversion' : 'guided'} ${done}/${total}`;
    } else {
      return;
    }
    bar.update(base + Math.min(plan.unitsPerSlice, pos), { [tag]: phase });
  };
}
