/**
 * Real follow-up scans for evaluation. A truth folder is either a folder of
 * slice folders `<pid>_<slice>/` (e.g. the phantom's `followup/`) or a data
 * root in the BraTS slice layout (`testing/`, `validation/` or `training/` slice
 * folders). Each follow-up needs the four modalities and a label: the
 * folder's `seg` file, or `DIR/test_labels/<pid>_<slice>-label.nii[.gz]` —
 * found by the data set reader of `@tumorcast/dataset`, so the rules are the
 * ones training uses.
 */
import fs from 'node:fs';
import path from 'node:path';
import { DatasetError, loadSample, readSampleFolder } from '@tumorcast/dataset';
import type { SliceSample, SliceSampleInfo, Split } from '@tumorcast/dataset';
import { PipelineDataError, PipelineInputError, apiOptionName } from './errors.js';
import type { OptionNamer } from './errors.js';
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

/**
 * The places {@link findTruthFolder} looks for slice `id` under `root`, in order.
 *
 * @param root - the truth folder.
 * @param id - the slice id.
 */
export function truthCandidates(root: string, id: string): string[] {
  return [path.join(root, id), ...TRUTH_SPLITS.map((s) => path.join(root, s, id))];
}

/**
 * Finds the follow-up folder of slice `id` under `root` (directly, or in a split folder).
 *
 * @param root - the truth folder.
 * @param id - the slice id.
 */
export function findTruthFolder(root: string, id: string): string | undefined {
  return truthCandidates(root, id).find(isDir);
}

/**
 * Finds the follow-up of slice `id`: its files and label (paths only).
 *
 * @param root - the truth folder.
 * @param id - the slice id.
 * @returns the sample, or undefined when `root` has no folder for `id`.
 * @throws PipelineDataError naming the folder when it lacks a modality or a label.
 */
export async function findTruth(root: string, id: string): Promise<SliceSampleInfo | undefined> {
  const dir = findTruthFolder(root, id);
  if (!dir) return undefined;
  const split = TRUTH_SPLITS.find((s) => dir === path.join(root, s, id)) ?? 'testing';
  try {
    return await readSampleFolder(dir, { split, root, requireLabel: true });
  } catch (e) {
    if (e instanceof DatasetError) throw new PipelineDataError(`real follow-up ${e.message}`, { cause: e });
    throw e;
  }
}

async function loadTruthSample(info: SliceSampleInfo): Promise<SliceSample> {
  try {
    return await loadSample(info, { size: null, layout: 'hwc', label: true });
  } catch (e) {
    throw new PipelineDataError(`real follow-up ${(e as Error).message}`, { cause: e });
  }
}

/**
 * Loads the real follow-up of slice `id`.
 *
 * @param root - the truth folder.
 * @param id - the slice id.
 * @returns the follow-up, or undefined when `root` has none for `id`.
 * @throws PipelineDataError naming the folder or file when it is incomplete or unreadable.
 */
export async function loadTruth(root: string, id: string): Promise<FollowupTruth | undefined> {
  const info = await findTruth(root, id);
  if (!info) return undefined;
  const s = await loadTruthSample(info);
  return { image: s.image, label: s.label as Uint8Array };
}

/** Options of {@link checkTruth}. */
export interface CheckTruthOptions {
  /**
   * Keep the loaded follow-ups (in order) while their total stays within
   * this many bytes, so that scoring need not load them again.
   * @defaultValue 0
   */
  keepBytes?: number;
  /**
   * How messages name the options.
   * @defaultValue apiOptionName
   */
  names?: OptionNamer;
}

/**
 * Checks, before any sampling, that `root` holds a readable follow-up with a
 * label for every baseline slice, of the baseline's size.
 *
 * @param root - the truth folder.
 * @param baselines - the baseline slices to be predicted, with their native size.
 * @param options - see {@link CheckTruthOptions}.
 * @returns the follow-ups kept (see {@link CheckTruthOptions.keepBytes}), by slice id.
 * @throws PipelineInputError when `root` does not exist; PipelineDataError naming the folder or file and what is wrong.
 */
export async function checkTruth(
  root: string, baselines: readonly { id: string; width: number; height: number }[], options: CheckTruthOptions = {},
): Promise<Map<string, FollowupTruth>> {
  const names = options.names ?? apiOptionName;
  if (!isDir(root)) throw new PipelineInputError(`${names('truth')} folder ${root} does not exist`);
  const missing = baselines.filter((b) => !findTruthFolder(root, b.id));
  if (missing.length) {
    const first = missing[0]!.id;
    throw new PipelineDataError(`${names('truth', root)} has no real follow-up for slice(s) ${missing.slice(0, 5).map((b) => b.id).join(', ')}${missing.length > 5 ? ', ...' : ''} `
      + `(looked for ${truthCandidates(root, first).map((c) => path.relative(root, c)).join(', ')}); leave those slices out with ${names('slices')}, or drop ${names('truth')}`);
  }
  let budget = options.keepBytes ?? 0;
  const kept = new Map<string, FollowupTruth>();
  for (const b of baselines) {
    const info = (await findTruth(root, b.id)) as SliceSampleInfo;
    const t = await loadTruthSample(info);
    if (t.width !== b.width || t.height !== b.height) {
      throw new PipelineDataError(`real follow-up ${info.dir}: ${t.width}x${t.height} pixels, but the baseline slice ${b.id} is ${b.width}x${b.height}`);
    }
    const bytes = t.image.byteLength + (t.label?.byteLength ?? 0);
    if (bytes <= budget) {
      budget -= bytes;
      kept.set(b.id, { image: t.image, label: t.label as Uint8Array });
    }
  }
  return kept;
}
