/**
 * Real follow-up scans for evaluation. `--truth DIR` is either a folder of
 * slice folders `<pid>_<slice>/` (e.g. the phantom's `followup/`) or a data
 * root in the seed layout (`testing/`, `validation/` or `training/` slice
 * folders). Each follow-up needs the four modalities and a label: the
 * folder's `seg` file, or `DIR/test_labels/<pid>_<slice>-label.nii[.gz]` —
 * found by the data set reader of `@tumorcast/nifti`, so the rules are the
 * ones training uses.
 */
import fs from 'node:fs';
import path from 'node:path';
import { DatasetError, loadSample, readSampleFolder } from '@tumorcast/dataset';
import type { SliceSample, SliceSampleInfo, Split } from '@tumorcast/dataset';
import { CliError } from '@tumorcast/cli';
import type { FollowupTruth } from './evaluate.js';

/** The split folders searched for a follow-up, after `DIR/<id>` itself. */
const TRUTH_SPLITS: readonly Split[] = ['testing', 'validation', 'training'];

function isDir(p: string): boolean {
  try {
    return fs.statSync(p).isDirectory();
  } catch {
    return false;
  }
}

/** The places {@link findTruthFolder} looks for slice `id` under `root`, in order. */
export function truthCandidates(root: string, id: string): string[] {
  return [path.join(root, id), ...TRUTH_SPLITS.map((s) => path.join(root, s, id))];
}

/** Finds the follow-up folder of slice `id` under `root` (directly, or in a split folder). */
export function findTruthFolder(root: string, id: string): string | undefined {
  return truthCandidates(root, id).find(isDir);
}

/**
 * Finds the follow-up of slice `id`: its files and label (paths only).
 *
 * @returns the sample, or undefined when `root` has no folder for `id`.
 * @throws CliError naming the folder when it lacks a modality or a label.
 */
export async function findTruth(root: string, id: string): Promise<SliceSampleInfo | undefined> {
  const dir = findTruthFolder(root, id);
  if (!dir) return undefined;
  const split = TRUTH_SPLITS.find((s) => dir === path.join(root, s, id)) ?? 'testing';
  try {
    return await readSampleFolder(dir, { split, root, requireLabel: true });
  } catch (e) {
    if (e instanceof DatasetError) throw new CliError(`real follow-up ${e.message}`, 1);
    throw e;
  }
}

async function loadTruthSample(info: SliceSampleInfo): Promise<SliceSample> {
  try {
    return await loadSample(info, { size: null, layout: 'hwc', label: true });
  } catch (e) {
    throw new CliError(`real follow-up ${(e as Error).message}`, 1);
  }
}

/** Loads the real follow-up of slice `id`, or undefined when `root` has none for it. */
export async function loadTruth(root: string, id: string): Promise<FollowupTruth | undefined> {
  const info = await findTruth(root, id);
  if (!info) return undefined;
  const s = await loadTruthSample(info);
  return { image: s.image, label: s.label as Uint8Array };
}

/**
 * Checks, before any sampling, that `root` holds a readable follow-up with a
 * label for every baseline slice, of the baseline's size.
 *
 * @param root - the `--truth` folder.
 * @param baselines - the baseline slices to be predicted, with their native size.
 * @throws CliError naming the folder or file and what is wrong.
 */
export async function checkTruth(root: string, baselines: readonly { id: string; width: number; height: number }[]): Promise<void> {
  if (!isDir(root)) throw new CliError(`--truth folder ${root} does not exist`, 2);
  const missing = baselines.filter((b) => !findTruthFolder(root, b.id));
  if (missing.length) {
    const first = missing[0]!.id;
    throw new CliError(`--truth ${root} has no real follow-up for slice(s) ${missing.slice(0, 5).map((b) => b.id).join(', ')}${missing.length > 5 ? ', ...' : ''} `
      + `(looked for ${truthCandidates(root, first).map((c) => path.relative(root, c)).join(', ')}); leave those slices out with --slices, or drop --truth`, 1);
  }
  for (const b of baselines) {
    const info = (await findTruth(root, b.id)) as SliceSampleInfo;
    const t = await loadTruthSample(info);
    if (t.width !== b.width || t.height !== b.height) {
      throw new CliError(`real follow-up ${info.dir}: ${t.width}x${t.height} pixels, but the baseline slice ${b.id} is ${b.width}x${b.height}`, 1);
    }
  }
}
