/**
 * `tumorcast-predict demo` (`npm run demo`): the whole pipeline on a
 * built-in synthetic phantom patient (@tumorcast/phantom, seeded) with the
 * shipped small models: the growth model is fitted to the sizes up to the
 * baseline scan, the follow-up is predicted and compared with the phantom's
 * true follow-up, and `report.html` is written.
 */
import path from 'node:path';
import { writePhantomDataset } from '@tumorcast/phantom';
import { builtinModelPaths } from './models.js';
import { DEFAULT_SAMPLE_SETTINGS } from './predict.js';
import { runPipeline } from './run.js';
import type { SliceResult } from './run.js';

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
  /** Log lines. */
  log: (m: string) => void;
}

const SLICE_IDS = [80, 84, 76, 88, 72];

/** Runs the demo; returns the slice results. */
export async function runDemo(o: DemoOptions): Promise<SliceResult[]> {
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
    settings: { ...DEFAULT_SAMPLE_SETTINGS, seed: o.seed, samples: o.samples },
    maps: true,
    report: true,
    title: `tumorcast demo: synthetic phantom patient ${patient.patientId}`,
    note: 'The scans, sizes and follow-ups in this report are synthetic (tumorcast phantom), and the networks are tiny 64x64 models trained for minutes on a CPU: the report shows the pipeline working, not clinical performance.',
    log: o.log,
  });
  o.log(`open ${path.resolve(o.out, 'report.html')}`);
  return results;
}
