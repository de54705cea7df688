/**
 * Tiny slice data sets in the BraTS slice layout, written by the tests themselves
 * (so that they need no data beside the repository): each slice folder has
 * the four modalities and a `seg` with a disc-shaped tumour.
 */
import fs from 'node:fs';
import path from 'node:path';
import { MODALITIES } from '@tumorcast/dataset';
import { saveNifti } from '@tumorcast/nifti/node';

/** Options of {@link writeSlice}. */
export interface WriteSliceOptions {
  /** Side length in voxels. @defaultValue 240 */
  size?: number;
  /** Put a NaN voxel into this modality. @defaultValue none */
  nanIn?: (typeof MODALITIES)[number];
  /** Tumour radius in voxels (0: no tumour). @defaultValue size / 8 */
  radius?: number;
}

/** Writes `<root>/training/<pid>_<slice>/` with t1n, t1c, t2w, t2f and seg; returns the folder. */
export async function writeSlice(root: string, pid: string, slice: number, o: WriteSliceOptions = {}): Promise<string> {
  const size = o.size ?? 240;
  const radius = o.radius ?? size / 8;
  const dir = path.join(root, 'training', `${pid}_${slice}`);
  fs.mkdirSync(dir, { recursive: true });
  const affine = [[1, 0, 0, 0], [0, 1, 0, 0], [0, 0, 1, 0], [0, 0, 0, 1]];
  const c = size / 2;
  const cx = c + ((slice * 7) % 11) - 5;
  for (const [k, mod] of [...MODALITIES, 'seg' as const].entries()) {
    const data = new Float32Array(size * size);
    for (let y = 0; y < size; y++) {
      for (let x = 0; x < size; x++) {
        const brain = (x - c) ** 2 + (y - c) ** 2 < (0.4 * size) ** 2;
        const tumour = (x - cx) ** 2 + (y - c) ** 2 < radius ** 2;
        data[x + size * y] = mod === 'seg' ? (tumour ? 2 : 0) : brain ? 0.2 + 0.1 * k + (tumour ? 0.4 : 0) + 0.05 * Math.sin(x / 5 + y / 7) : 0;
      }
    }
    if (mod === o.nanIn) data[c + size * c] = Number.NaN;
    await saveNifti(path.join(dir, `tiny_train_${pid}_${mod}_${slice}_w.nii.gz`), { shape: [size, size, 1], data, affine });
  }
  return dir;
}

/** Writes `count` slices of one patient under `root`; returns `root`. */
export async function writeSlices(root: string, count: number, o: WriteSliceOptions = {}): Promise<string> {
  for (let i = 0; i < count; i++) await writeSlice(root, '00000001', 20 + i, o);
  return root;
}
