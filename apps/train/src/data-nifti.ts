/**
 * {@link SliceSource} over the seed layout, on @tumorcast/nifti's data set
 * reader; slices are cached in memory after their first load.
 */
import { listSamples, loadSample, SPLITS } from '@tumorcast/nifti';
import type { SliceSample, SliceSampleInfo } from '@tumorcast/nifti';
import { CliError } from '@tumorcast/cli';
import type { OpenSlicesOptions, SliceBatch, SliceSource } from './data.js';

async function listAll(roots: readonly string[], o: OpenSlicesOptions): Promise<SliceSampleInfo[]> {
  if (o.split === 'training') return listSamples(roots, { split: 'training', requireLabels: o.requireLabels });
  const out: SliceSampleInfo[] = [];
  for (const split of SPLITS) {
    for (const root of roots) {
      const found = await listSamples(root, { split, requireLabels: false }).catch(() => [] as SliceSampleInfo[]);
      out.push(...found);
    }
  }
  if (o.requireLabels) {
    const missing = out.filter((s) => !s.label);
    if (missing.length) throw new CliError(`${missing[0]!.dir}: no label (seg file or test_labels/${missing[0]!.id}-label.nii.gz), needed here`, 1);
  }
  return out;
}

/** Opens the slices under `roots` (see {@link OpenSlicesOptions}). */
export async function openSlices(roots: readonly string[], o: OpenSlicesOptions): Promise<SliceSource> {
  let infos: SliceSampleInfo[];
  try {
    infos = await listAll(roots, o);
  } catch (e) {
    if (e instanceof CliError) throw e;
    throw new CliError((e as Error).message, 1);
  }
  if (o.maxSlices > 0) infos = infos.slice(0, o.maxSlices);
  if (!infos.length) throw new CliError(`no slices found under ${roots.join(', ')} (expected ${o.split === 'training' ? 'training/' : 'training/, validation/ or testing/'}<pid>_<slice>/ folders)`, 1);
  const size = o.imageSize;
  const cache = new Map<number, SliceSample>();
  const load = async (i: number): Promise<SliceSample> => {
    let s = cache.get(i);
    if (!s) {
      const info = infos[i] as SliceSampleInfo;
      try {
        s = await loadSample(info, { size: 256, resize: size === 256 ? undefined : size, layout: 'hwc', label: true });
      } catch (e) {
        throw new CliError(`slice ${info.dir}: ${(e as Error).message}`, 1);
      }
      cache.set(i, s);
    }
    return s;
  };
  return {
    size: infos.length,
    imageSize: size,
    async batch(indices: readonly number[]): Promise<SliceBatch> {
      const n = indices.length;
      const images = new Float32Array(n * size * size * 4);
      const masks = new Float32Array(n * size * size);
      const burden: number[] = [];
      const hasTumour: number[] = [];
      const ids: string[] = [];
      for (let k = 0; k < n; k++) {
        const s = await load(indices[k] as number);
        images.set(s.image, k * size * size * 4);
        if (s.label) masks.set(s.label, k * size * size);
        burden.push(s.burden ?? 0);
        hasTumour.push((s.burden ?? 0) > 0 ? 1 : 0);
        ids.push(s.info.id);
      }
      return { images, masks, burden, hasTumour, ids };
    },
  };
}
