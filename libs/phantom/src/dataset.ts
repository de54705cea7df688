/**
 * Writes phantom patients to disk in the BraTS slice layout (docs/method.md section 1),
 * with the size series CSV, the true follow-ups, previews and a manifest.
 */
import { Rng, type Seed } from '@tumorcast/random';
import type { TwoPhaseParams } from './growth.js';
import { sliceFileName, sliceKey, sliceLabelFileName } from './layout.js';
import { writeNifti2d } from './nifti-write.js';
import { generatePhantomPatient, type PhantomPatient, type PhantomPatientOptions } from './patient.js';
import { renderPhantomPreview } from './preview.js';
import { PHANTOM_LABELS, PHANTOM_MODALITIES, type PhantomSlice } from './slice.js';
import { checkBool, checkInt, checkOptions, checkSeed } from './validate.js';

/** Patient settings shared by all patients of a dataset. */
export type PhantomDatasetPatientOptions = Omit<PhantomPatientOptions, 'seed' | 'patientId' | 'render'>;

/** Options of {@link writePhantomDataset}. */
export interface PhantomDatasetOptions {
  /**
   * Dataset seed; patient `i` gets an independent seed derived from it.
   * @defaultValue 0
   */
  seed?: Seed;
  /**
   * Longitudinal test patients (baseline in `testing/`, follow-up in `followup/`).
   * @defaultValue 1
   */
  patients?: number;
  /**
   * Training-style patients: every time point of each is written to
   * `training/` with its `seg`, as a separate BraTS-style subject.
   * @defaultValue 0
   */
  trainingPatients?: number;
  /**
   * Dataset name, the first part of each file name.
   * @defaultValue 'phantom'
   */
  datasetName?: string;
  /**
   * Settings shared by all patients (days, RT, slices, rendering...).
   * @defaultValue {}
   */
  patient?: PhantomDatasetPatientOptions;
  /**
   * Draw each patient's initial size and model parameters at random (fields
   * given in `patient` always win); `false` uses the defaults for everyone.
   * @defaultValue true
   */
  vary?: boolean;
  /**
   * Write `.nii.gz` (true) or `.nii`.
   * @defaultValue true
   */
  gzip?: boolean;
  /**
   * Write a PNG preview per test slice (baseline and follow-up rows).
   * @defaultValue true
   */
  preview?: boolean;
}

/** Files of one scan, relative to the dataset folder. */
export interface PhantomScanFiles {
  /** t1n image. */
  t1n: string;
  /** t1c image. */
  t1c: string;
  /** t2w image. */
  t2w: string;
  /** t2f image. */
  t2f: string;
  /** Label map (BraTS labels). */
  label: string;
}

/** One slice of a test patient in the manifest. */
export interface PhantomManifestSlice {
  /** Slice index. */
  sliceId: number;
  /** `<pid>_<slice>`, the folder name and the key of `relative_changes.json`. */
  key: string;
  /** Rendered whole-tumour area per day, mm^2 (also in `series.csv`). */
  sizes: number[];
  /** Noise-free model size per day, mm^2. */
  modelSizes: number[];
  /** Tumour burden at baseline and follow-up. */
  burden: { baseline: number; followup: number };
  /** True relative change `size(followup) / size(baseline) - 1` (NaN-free: 0 when the baseline is empty). */
  relativeChange: number;
  /** Baseline files (`testing/`, label in `test_labels/`). */
  baseline: PhantomScanFiles;
  /** True follow-up files (`followup/`, label as the `seg` file). */
  followup: PhantomScanFiles;
  /** Preview PNG (baseline row, follow-up row), if written. */
  preview?: string;
}

/** One test patient in the manifest. */
export interface PhantomManifestPatient {
  /** Identifier in file names and `series.csv`. */
  patientId: string;
  /** The patient's seed. */
  seed: number;
  /** Scan days. */
  days: number[];
  /** Last RT day. */
  rtEndDay: number;
  /** First RT day. */
  rtStartDay: number;
  /** Model parameters. */
  params: TwoPhaseParams;
  /** Day-0 size in the tumour's central slice, mm^2. */
  initialSize: number;
  /** Baseline day (the scan in `testing/`). */
  baselineDay: number;
  /** Follow-up day (the scan in `followup/`). */
  followupDay: number;
  /** Slices. */
  slices: PhantomManifestSlice[];
}

/** One training scan in the manifest. */
export interface PhantomManifestTrainingScan {
  /** BraTS-style id: 5-digit subject + 3-digit time point. */
  patientId: string;
  /** Slice index. */
  sliceId: number;
  /** Day of the scan in its patient's series. */
  day: number;
  /** Whole-tumour area, mm^2. */
  size: number;
  /** Tumour burden. */
  burden: number;
  /** Files (the label is the `seg` file). */
  files: PhantomScanFiles;
}

/** What {@link writePhantomDataset} wrote; also saved as `manifest.json`. */
export interface PhantomDatasetManifest {
  /** `'@tumorcast/phantom'`. */
  generator: string;
  /** Always true: these images are synthetic. */
  synthetic: true;
  /** Dataset seed. */
  seed: string;
  /** Dataset name used in file names. */
  datasetName: string;
  /** Image width, pixels. */
  width: number;
  /** Image height, pixels. */
  height: number;
  /** Pixel spacing, mm. */
  pixelSpacing: number;
  /** Channel order. */
  modalities: string[];
  /** Label values. */
  labels: Record<string, number>;
  /** Paths (relative) of the tables. */
  files: { seriesCsv: string; seriesToBaselineCsv: string; relativeChanges: string; manifest: string };
  /** Test patients. */
  testing: PhantomManifestPatient[];
  /** Training scans. */
  training: PhantomManifestTrainingScan[];
}

const FN = 'writePhantomDataset';

function variedOptions(rng: Rng, base: PhantomDatasetPatientOptions, vary: boolean): PhantomDatasetPatientOptions {
  if (!vary) return base;
  const params: Partial<TwoPhaseParams> = {
    lambdaGr: 0.004 + 0.008 * rng.uniform(),
    lambdaDecay: 0.015 + 0.035 * rng.uniform(),
    delay: 10 + 20 * rng.uniform(),
    slope: 0.05 + 0.15 * rng.uniform(),
    survival: 0.05 + 0.15 * rng.uniform(),
  };
  return { ...base, initialSize: base.initialSize ?? 500 + 1000 * rng.uniform(), params: { ...params, ...base.params } };
}

async function writeScan(dir: string, folder: string, dataset: string, split: string, pid: string, s: PhantomSlice, sliceId: number, gzip: boolean, labelPath: string): Promise<PhantomScanFiles> {
  const files: Record<string, string> = {};
  for (const mod of PHANTOM_MODALITIES) {
    const rel = `${folder}/${sliceFileName(dataset, split, pid, mod, sliceId, gzip)}`;
    await writeNifti2d(`${dir}/${rel}`, s.modalities[mod], s.width, s.height, s.pixelSpacing);
    files[mod] = rel;
  }
  await writeNifti2d(`${dir}/${labelPath}`, Float32Array.from(s.label), s.width, s.height, s.pixelSpacing);
  files['label'] = labelPath;
  return files as unknown as PhantomScanFiles;
}

/**
 * Generates phantom patients and writes them in the BraTS slice layout:
 *
 * ```text
 * <dir>/testing/<pid>_<slice>/<ds>_test_<pid>_<mod>_<slice>_w.nii.gz   baseline (mod: t1n t1c t2w t2f)
 * <dir>/test_labels/<pid>_<slice>-label.nii.gz                          baseline labels
 * <dir>/followup/<pid>_<slice>/<ds>_test_<pid>_<mod>_<slice>_w.nii.gz  true follow-up
 * <dir>/followup/<pid>_<slice>/<ds>_test_<pid>_seg_<slice>_w.nii.gz    true follow-up labels
 * <dir>/training/<tid>_<slice>/<ds>_train_<tid>_<mod|seg>_<slice>_w.nii.gz  training-style scans
 * <dir>/series.csv               patient_id,day,size,slice_id,rt_end_day (all days)
 * <dir>/series_to_baseline.csv   the same, days <= baseline day only
 * <dir>/relative_changes.json    {"<pid>_<slice>": true size(followup)/size(baseline) - 1}
 * <dir>/preview/<pid>_<slice>.png
 * <dir>/manifest.json            everything above, see PhantomDatasetManifest
 * ```
 *
 * Test patient `i` has id `(90000 + i)` + `'000'`; training patient `j`
 * has subject `91000 + j` and one id per time point `t`
 * (`(91000 + j)` + `t` as 3 digits). Images are float32 NIfTI-1, 2-D,
 * diagonal affine with the pixel spacing (identity at 1 mm). Every file is
 * written atomically.
 *
 * @param dir - output folder (created; existing files are overwritten).
 * @param options - see {@link PhantomDatasetOptions}.
 * @returns the manifest (also written to `manifest.json`).
 */
export async function writePhantomDataset(dir: string, options?: PhantomDatasetOptions): Promise<PhantomDatasetManifest> {
  if (typeof dir !== 'string' || dir.length === 0) throw new TypeError(`'dir' passed to '${FN}' must be a non-empty path`);
  const o = checkOptions(FN, 'options', options);
  const seed = checkSeed(FN, 'seed', o.seed ?? 0);
  const nPatients = checkInt(FN, 'patients', o.patients ?? 1, 0, 9999);
  const nTraining = checkInt(FN, 'trainingPatients', o.trainingPatients ?? 0, 0, 999);
  const dataset = o.datasetName ?? 'phantom';
  if (typeof dataset !== 'string' || !/^[A-Za-z0-9-]+$/.test(dataset)) {
    throw new RangeError(`'datasetName' passed to '${FN}' must be letters, digits and '-', got ${String(dataset)}`);
  }
  const base = checkOptions(FN, 'patient', o.patient);
  const vary = checkBool(FN, 'vary', o.vary ?? true);
  const gzip = checkBool(FN, 'gzip', o.gzip ?? true);
  const preview = checkBool(FN, 'preview', o.preview ?? true);
  const width = base.slice?.width ?? 240;
  const height = base.slice?.height ?? width;
  const pixelSpacing = base.slice?.pixelSpacing ?? 240 / width;
  // Loaded on first use: generating phantoms needs no Node API, only writing them does.
  const { writeFileAtomic } = await import('@tumorcast/cli/files');

  const root = new Rng(seed);
  const testRng = root.fork('testing');
  const trainRng = root.fork('training');
  const testing: PhantomManifestPatient[] = [];
  const series: string[] = ['patient_id,day,size,slice_id,rt_end_day'];
  const seriesToBaseline: string[] = [series[0]!];
  const changes: Record<string, number> = {};
  for (let i = 0; i < nPatients; i++) {
    const pSeed = testRng.seedInt();
    const pid = `${String(90000 + i).padStart(5, '0')}000`;
    const popts = variedOptions(new Rng(pSeed).fork('vary'), base, vary);
    const p: PhantomPatient = generatePhantomPatient({ ...popts, seed: pSeed, patientId: pid, render: 'baseline-followup' });
    const slices: PhantomManifestSlice[] = [];
    for (const s of p.slices) {
      const key = sliceKey(pid, s.sliceId);
      const bl = s.scans[p.baselineIndex]!;
      const fu = s.scans[p.followupIndex]!;
      const baseline = await writeScan(dir, `testing/${key}`, dataset, 'test', pid, bl, s.sliceId, gzip, `test_labels/${sliceLabelFileName(pid, s.sliceId, gzip)}`);
      const followup = await writeScan(dir, `followup/${key}`, dataset, 'test', pid, fu, s.sliceId, gzip, `followup/${key}/${sliceFileName(dataset, 'test', pid, 'seg', s.sliceId, gzip)}`);
      const blSize = s.sizes[p.baselineIndex]!;
      const relativeChange = blSize > 0 ? s.sizes[p.followupIndex]! / blSize - 1 : 0;
      changes[key] = relativeChange;
      let previewPath: string | undefined;
      if (preview) {
        previewPath = `preview/${key}.png`;
        await writeFileAtomic(`${dir}/${previewPath}`, await renderPhantomPreview([bl, fu], { scale: bl.width < 128 ? 3 : 1 }));
      }
      p.days.forEach((day, t) => {
        const row = `${pid},${day},${+s.sizes[t]!.toFixed(4)},${s.sliceId},${p.rtEndDay}`;
        series.push(row);
        if (t <= p.baselineIndex) seriesToBaseline.push(row);
      });
      slices.push({
        sliceId: s.sliceId,
        key,
        sizes: s.sizes,
        modelSizes: s.modelSizes,
        burden: { baseline: bl.burden, followup: fu.burden },
        relativeChange,
        baseline,
        followup,
        ...(previewPath ? { preview: previewPath } : {}),
      });
    }
    testing.push({
      patientId: pid,
      seed: pSeed,
      days: p.days,
      rtEndDay: p.rtEndDay,
      rtStartDay: p.rtStartDay,
      params: p.params,
      initialSize: p.initialSize,
      baselineDay: p.days[p.baselineIndex]!,
      followupDay: p.days[p.followupIndex]!,
      slices,
    });
  }

  const training: PhantomManifestTrainingScan[] = [];
  for (let j = 0; j < nTraining; j++) {
    const pSeed = trainRng.seedInt();
    const subject = String(91000 + j).padStart(5, '0');
    const popts = variedOptions(new Rng(pSeed).fork('vary'), base, vary);
    const p = generatePhantomPatient({ ...popts, seed: pSeed, patientId: `${subject}000`, render: 'all' });
    for (const s of p.slices) {
      for (let t = 0; t < p.days.length; t++) {
        const scan = s.scans[t]!;
        const tid = `${subject}${String(t).padStart(3, '0')}`;
        const key = sliceKey(tid, s.sliceId);
        const files = await writeScan(dir, `training/${key}`, dataset, 'train', tid, scan, s.sliceId, gzip, `training/${key}/${sliceFileName(dataset, 'train', tid, 'seg', s.sliceId, gzip)}`);
        training.push({ patientId: tid, sliceId: s.sliceId, day: p.days[t]!, size: s.sizes[t]!, burden: scan.burden, files });
      }
    }
  }

  const manifest: PhantomDatasetManifest = {
    generator: '@tumorcast/phantom',
    synthetic: true,
    seed: String(seed),
    datasetName: dataset,
    width,
    height,
    pixelSpacing,
    modalities: [...PHANTOM_MODALITIES],
    labels: { ...PHANTOM_LABELS },
    files: { seriesCsv: 'series.csv', seriesToBaselineCsv: 'series_to_baseline.csv', relativeChanges: 'relative_changes.json', manifest: 'manifest.json' },
    testing,
    training,
  };
  await writeFileAtomic(`${dir}/series.csv`, series.join('\n') + '\n');
  await writeFileAtomic(`${dir}/series_to_baseline.csv`, seriesToBaseline.join('\n') + '\n');
  await writeFileAtomic(`${dir}/relative_changes.json`, JSON.stringify(changes, null, 2) + '\n');
  await writeFileAtomic(`${dir}/manifest.json`, JSON.stringify(manifest, null, 2) + '\n');
  return manifest;
}
