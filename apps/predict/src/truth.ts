/**
 * Real follow-up scans for evaluation: a folder of slice folders
 * `<pid>_<slice>/` (four modalities and `seg`, any `<dataset>_<split>_` prefix
 * — e.g. the phantom's `followup/`), or a data root in the seed layout.
 */
import fs from 'node:fs';
import path from 'node:path';
import { loadSample } from '@tumorcast/nifti';
import type { SliceSampleInfo } from '@tumorcast/nifti';
import { CliError } from '@tumorcast/cli';
import type { FollowupTruth } from './evaluate.js';

const FILE_RE = /_(t1n|t1c|t2w|t2f|seg)_(\d+)(?:_w)?\.nii(?:\.gz)?$/;

/** Finds the follow-up folder of slice `id` under `root` (directly, or in a split folder). */
export function findTruthFolder(root: string, id: string): string | undefined {
  for (const dir of [path.join(root, id), ...['testing', 'validation', 'training'].map((s) => path.join(root, s, id))]) {
    if (fs.existsSync(dir) && fs.statSync(dir).isDirectory()) return dir;
  }
  return undefined;
}

/** Loads the real follow-up of slice `id`, or undefined when `root` has none for it. */
export async function loadTruth(root: string, id: string): Promise<FollowupTruth | undefined> {
  const dir = findTruthFolder(root, id);
  if (!dir) return undefined;
  const files: Partial<Record<string, string>> = {};
  for (const f of fs.readdirSync(dir)) {
    const m = FILE_RE.exec(f);
    if (m) files[m[1] as string] = path.join(dir, f);
  }
  const missing = ['t1n', 't1c', 't2w', 't2f', 'seg'].filter((k) => !files[k]);
  if (missing.length) throw new CliError(`follow-up ${dir}: missing ${missing.join(', ')} (need the four modalities and seg)`, 1);
  const slice = Number(id.slice(id.lastIndexOf('_') + 1));
  const info = {
    id, patientId: id.slice(0, id.lastIndexOf('_')), slice, split: 'testing', root, dir,
    files: { t1n: files['t1n']!, t1c: files['t1c']!, t2w: files['t2w']!, t2f: files['t2f']! }, label: files['seg'],
  } as SliceSampleInfo;
  try {
    const s = await loadSample(info, { size: null, layout: 'hwc', label: true });
    return { image: s.image, label: s.label ?? new Uint8Array(s.width * s.height) };
  } catch (e) {
    throw new CliError(`follow-up ${dir}: ${(e as Error).message}`, 1);
  }
}
