/**
 * `tumorcast-train prepare`: turns 3-D BraTS volumes
 * (`BraTS-GLI-xxxxx-xxx-t1n.nii.gz`, ...) into the 2-D BraTS slice layout
 * with @tumorcast/nifti's `convertBratsVolumes` (each modality normalised to
 * [0, 1] over its volume, clipped at the 99.5th percentile).
 */
import { convertBratsVolumes } from '@tumorcast/dataset';
import type { SliceSelection } from '@tumorcast/dataset';
import { CliError, Progress } from '@tumorcast/cli';
import type { PrepareConfig } from './schema.js';


/** Parses `all`, `tumour` or `a:b` (inclusive start, exclusive end). */
export function parseSliceSelection(s: string): SliceSelection {
  if (s === 'all' || s === 'tumour') return s;
  const m = /^(\d+):(\d+)$/.exec(s);
  if (!m || Number(m[2]) <= Number(m[1])) throw new CliError(`'slices' must be 'all', 'tumour' or a range 'a:b' with a < b, got '${s}'`);
  return { start: Number(m[1]), end: Number(m[2]) };
}

/** Runs the command. */
export async function prepareSlices(c: PrepareConfig, log: (m: string) => void): Promise<void> {
  const slices = parseSliceSelection(c.slices);
  let bar: Progress | undefined;
  try {
    const r = await convertBratsVolumes(c.input, c.out, {
      split: c.split,
      slices,
      dataset: c.dataset,
      onProgress: (p) => {
        bar ??= new Progress(p.caseCount, { label: 'prepare' });
        bar.tick({ slices: p.totalSlices });
      },
    });
    bar?.done();
    log(`wrote ${r.samples.length} slices of ${r.cases} cases to ${c.out}/${c.split}/`);
  } catch (e) {
    if (e instanceof CliError) throw e;
    throw new CliError((e as Error).message, 1);
  }
}
