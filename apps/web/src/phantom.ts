/**
 * The built-in phantom patient: generated in the browser with
 * `@tumorcast/phantom` (seeded, synthetic) and handed to the app as the
 * files a user would drop (NIfTI slices named as in the BraTS slice layout,
 * and a size CSV), so that it takes the same path as real data.
 */
import { generatePhantomPatient, PHANTOM_MODALITIES, sliceFileName, sliceLabelFileName } from '@tumorcast/phantom';
import { writeNifti } from '@tumorcast/nifti';
import type { NamedBytes } from './slice.js';

/** The phantom patient as input files. */
export interface PhantomInputs {
  /** The baseline's four modalities and its segmentation, as NIfTI files. */
  files: NamedBytes[];
  /** The size CSV up to the baseline (patient_id,day,size,rt_end_day). */
  csv: NamedBytes;
  /** The baseline and follow-up days, and the radiotherapy's last day. */
  baselineDay: number;
  /** The phantom's follow-up day (its true size is known). */
  followupDay: number;
  /** Last radiotherapy day. */
  rtEndDay: number;
  /** The phantom's true size at the follow-up day (mm²). */
  trueFollowupSize: number;
  /** The phantom's true follow-up FLAIR (t2f), for comparison. */
  trueFollowup: NamedBytes;
}

/** The scan days of the built-in patient: enough scans before the baseline to fit the two-phase model's parameters. */
export const PHANTOM_DAYS: readonly number[] = Object.freeze([0, 14, 21, 35, 49, 63, 90, 120, 150, 210]);

function nifti(data: Float32Array, width: number, height: number, spacing: number): Uint8Array {
  return writeNifti({
    shape: [width, height], data,
    affine: [[spacing, 0, 0, 0], [0, spacing, 0, 0], [0, 0, 1, 0], [0, 0, 0, 1]],
    header: { qformCode: 1, sformCode: 1, xyztUnits: 2, descrip: 'tumorcast phantom (synthetic)' },
  }, { gzip: true });
}

/**
 * Generates the phantom patient (one slice, the scans of the baseline and
 * follow-up days) and its input files.
 *
 * @param seed - the phantom's seed.
 * @defaultValue seed 0
 */
export function phantomInputs(seed = 0): PhantomInputs {
  if (!Number.isInteger(seed) || seed < 0) throw new RangeError(`'seed' passed to 'phantomInputs' must be a non-negative integer, got ${seed}`);
  const sliceId = 80;
  const p = generatePhantomPatient({ seed, days: [...PHANTOM_DAYS], sliceIds: [sliceId], render: 'baseline-followup', tumourHalfHeight: 10 });
  const s = p.slices[0]!;
  const scan = s.scans[p.baselineIndex]!;
  const pid = p.patientId;
  const files: NamedBytes[] = PHANTOM_MODALITIES.map((m) => ({
    name: sliceFileName('phantom', 'test', pid, m, sliceId), bytes: nifti(scan.modalities[m], scan.width, scan.height, scan.pixelSpacing),
  }));
  files.push({ name: sliceLabelFileName(pid, sliceId), bytes: nifti(Float32Array.from(scan.label), scan.width, scan.height, scan.pixelSpacing) });
  const rows = ['patient_id,day,size,rt_end_day'];
  for (let i = 0; i <= p.baselineIndex; i++) rows.push(`${pid},${p.days[i]},${s.sizes[i]},${p.rtEndDay}`);
  const follow = s.scans[p.followupIndex]!;
  return {
    files,
    csv: { name: `phantom_${pid}_sizes.csv`, bytes: new TextEncoder().encode(`${rows.join('\n')}\n`) },
    baselineDay: p.days[p.baselineIndex]!, followupDay: p.days[p.followupIndex]!, rtEndDay: p.rtEndDay,
    trueFollowupSize: s.sizes[p.followupIndex]!,
    trueFollowup: { name: 'phantom_true_followup_t2f.nii.gz', bytes: nifti(follow.modalities.t2f, follow.width, follow.height, follow.pixelSpacing) },
  };
}
