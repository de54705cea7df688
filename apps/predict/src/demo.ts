/**
 * `tumorcast-predict demo` (`npm run demo`): the whole pipeline on a
 * built-in synthetic phantom patient (@tumorcast/phantom, seeded) with the
 * shipped small models: the growth model is fitted to the sizes up to the
 * baseline scan, the follow-up is predicted and compared with the phantom's
 * true follow-up, and `report.html` is written.
 */
import path from 'node:path';
import { spaceTimesteps } from '@tumorcast/diffusion';
import { writePhantomDataset } from '@tumorcast/phantom';
import { DEFAULT_SAMPLE_SETTINGS, DEMO_NETWORK_SETTINGS, describePlan, samplingPlan } from '@tumorcast/pipeline';
import type { SampleSettings, SamplingPlan } from '@tumorcast/pipeline';
import type { SliceResult } from '@tumorcast/pipeline/node';
import { builtinModelPaths } from './models.js';
import { runPipeline } from './run.js';

/** Options of {@link runDemo}. */
export interface DemoOptions {
  /** Output folder. */
  out: string;
  /** Phantom and sampling seed. */
  seed: number;
  /** Runs per probability map. */
  samples: number;
  /** Slices of the phantom patient (1-5, around the tumour's centre). */
  slices: number;
  /** Map worker threads (see `RunDatasetOptions.workers`). @defaultValue 'auto' */
  workers?: number | 'auto';
  /** Log lines. */
  log: (m: string) => void;
}

const SLICE_IDS = [80, 84, 76, 88, 72];

/**
 * The demo's sample settings: the pipeline's defaults with the guidance tuned
 * for the shipped networks (`DEMO_NETWORK_SETTINGS` of @tumorcast/pipeline;
 * measured in docs/pretrained-models.md).
 */
export const DEMO_SAMPLE_SETTINGS: Readonly<SampleSettings> = Object.freeze({ ...DEFAULT_SAMPLE_SETTINGS, ...DEMO_NETWORK_SETTINGS });

/**
 * Wall seconds per image-step (one network evaluation of one image, averaged
 * over guided and batched map steps, overheads included) of the shipped
 * networks on the idle 2-core development machine with the demo's defaults
 * (threaded wasm, two map workers): the default demo's 720 image-steps took
 * 67 s there. A busy machine takes longer; the progress bar shows the ETA.
 */
export const DEMO_SECONDS_PER_IMAGE_STEP = 0.093;

/** The demo's sampling plan (the shipped diffusion model has 1000 steps) and its expected seconds on an idle machine. */
export function demoPlan(slices: number, samples: number): { plan: SamplingPlan; seconds: number } {
  const s = DEMO_SAMPLE_SETTINGS;
  const plan = samplingPlan({ timestepMap: Int32Array.from(spaceTimesteps(1000, s.respacing || '1000')) }, { noiseLevel: s.noiseLevel, samples }, slices);
  return { plan, seconds: plan.imageSteps * DEMO_SECONDS_PER_IMAGE_STEP };
}

/** Runs the demo; returns the slice results. */
export async function runDemo(o: DemoOptions): Promise<SliceResult[]> {
  const t0 = performance.now();
  const { plan, seconds } = demoPlan(o.slices, o.samples);
  const expected = seconds < 90 ? `${Math.max(10, Math.round(seconds / 10) * 10)} s` : `${Math.round(seconds / 60)} min`;
  o.log(`demo ${describePlan(plan)}; expected about ${expected} on an idle 2-core machine, longer on a busy one (the bar shows the ETA)`);
  const data = path.join(o.out, 'data');
  o.log(`writing a synthetic phantom patient to ${data}`);
  const manifest = await writePhantomDataset(data, {
    seed: o.seed, patients: 1, trainingPatients: 0, preview: false,
    // Enough scans before the baseline to fit the six free parameters of the two-phase model.
    patient: { sliceIds: SLICE_IDS.slice(0, o.slices), tumourHalfHeight: 10, days: [0, 14, 21, 35, 49, 63, 90, 120, 150, 210] },
  });
  const patient = manifest.testing[0]!;
  o.log(`patient ${patient.patientId}: scans on days ${patient.days.join(', ')}, radiotherapy days ${patient.rtStartDay}-${patient.rtEndDay}; baseline day ${patient.baselineDay}, predicting day ${patient.followupDay}`);
  const results = await runPipeline({
    data,
    out: o.out,
    models: builtinModelPaths(),
    targets: { kind: 'series', file: path.join(data, manifest.files.seriesToBaselineCsv), followupDay: patient.followupDay, baselineDay: patient.baselineDay },
    truth: path.join(data, 'followup'),
    settings: { ...DEMO_SAMPLE_SETTINGS, seed: o.seed, samples: o.samples },
    maps: true,
    report: true,
    workers: o.workers ?? 'auto',
    // A demo of another seed rewrote the phantom above: its results are replaced, not refused.
    overwrite: true,
    title: `tumorcast demo: synthetic phantom patient ${patient.patientId}`,
    // The phantom's sizes are rendered tumour areas; its true follow-up size is known.
    sizeUnit: 'mm²',
    followupSizes: Object.fromEntries(patient.slices.map((s) => [`${patient.patientId}/${s.sliceId}`, s.sizes[patient.days.indexOf(patient.followupDay)]!])),
    note: 'The scans, sizes and follow-ups in this report are synthetic (tumorcast phantom), and the networks are tiny 64x64 models trained for minutes on a CPU: the report shows the pipeline working, not clinical performance.',
    log: o.log,
  });
  o.log(`demo finished in ${Math.round((performance.now() - t0) / 1000)} s; open ${path.resolve(o.out, 'report.html')}`);
  return results;
}
