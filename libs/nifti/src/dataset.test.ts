import { cpSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from '@jest/globals';
import { DatasetError, iterateBatches, listSamples, loadNifti, loadSample, saveNifti, shuffleSamples, type SliceSampleInfo } from './index.js';
import { padOrCrop, resizePlane } from './dataset.js';
import { FIXTURES, SAMPLE_ROOT, fixtureJson } from './test-utils/fixtures.js';

const sample = fixtureJson<{
  files: Record<string, { sum: number }>;
  burden: Record<string, { tumour: number; brain: number; burden: number }>;
}>('sample.json');
const tmp = mkdtempSync(path.join(os.tmpdir(), 'tumorcast-dataset-'));
afterAll(() => rmSync(tmp, { recursive: true, force: true }));

async function expectDatasetError(p: Promise<unknown>, file: string, problem: RegExp): Promise<void> {
  let err: unknown;
  try {
    await p;
  } catch (e) {
    err = e;
  }
  expect(err).toBeInstanceOf(DatasetError);
  expect((err as DatasetError).file).toBe(file);
  expect((err as DatasetError).problem).toMatch(problem);
}

/** A copy of the sample's training folder (outside the repository) to break. */
function copyRoot(name: string): string {
  const root = path.join(tmp, name);
  cpSync(path.join(SAMPLE_ROOT, 'training'), path.join(root, 'training'), { recursive: true });
  return root;
}

describe('listSamples', () => {
  it('lists the training slices with their seg, sorted, without loading', async () => {
    const s = await listSamples(SAMPLE_ROOT);
    expect(s.map((x) => x.id)).toEqual(Array.from({ length: 11 }, (_, i) => `00004000_${20 + i}`));
    const first = s[0] as SliceSampleInfo;
    expect(first.patientId).toBe('00004000');
    expect(first.slice).toBe(20);
    expect(first.split).toBe('training');
    expect(path.basename(first.files.t2f)).toBe('brats_train_00004000_t2f_20_w.nii.gz');
    expect(path.basename(first.label as string)).toBe('brats_train_00004000_seg_20_w.nii.gz');
  });

  it('finds validation labels in test_labels/', async () => {
    const s = await listSamples(SAMPLE_ROOT, { split: 'validation', requireLabels: true });
    expect(s).toHaveLength(6);
    expect(s[0]?.label).toBe(path.join(SAMPLE_ROOT, 'test_labels', '00002000_25-label.nii.gz'));
  });

  it('combines several roots in the order given', async () => {
    const other = copyRoot('second');
    const s = await listSamples([SAMPLE_ROOT, other]);
    expect(s).toHaveLength(22);
    expect(s[0]?.root).toBe(SAMPLE_ROOT);
    expect(s[11]?.root).toBe(other);
  });

  it('errors: missing root, missing split folder, bad folder name, missing and duplicated modality, missing label', async () => {
    await expectDatasetError(listSamples(path.join(tmp, 'nope')), path.join(tmp, 'nope'), /data set root folder not found/);
    await expectDatasetError(listSamples(SAMPLE_ROOT, { split: 'testing' }), path.join(SAMPLE_ROOT, 'testing'), /the 'testing' folder is missing/);

    const r1 = copyRoot('missing-mod');
    const dir = path.join(r1, 'training', '00004000_22');
    rmSync(path.join(dir, 'brats_train_00004000_t2w_22_w.nii.gz'));
    await expectDatasetError(listSamples(r1), dir, /missing modality 't2w'/);

    const r2 = copyRoot('bad-name');
    cpSync(path.join(r2, 'training', '00004000_22'), path.join(r2, 'training', 'slice-22'), { recursive: true });
    await expectDatasetError(listSamples(r2), path.join(r2, 'training', 'slice-22'), /must be <pid>_<slice>/);

    const r3 = copyRoot('dup');
    const d3 = path.join(r3, 'training', '00004000_20');
    cpSync(path.join(d3, 'brats_train_00004000_t1n_20_w.nii.gz'), path.join(d3, 'brats_train_00004000_t1n_20_w.nii'));
    await expectDatasetError(listSamples(r3), d3, /two files for modality 't1n'/);

    const r4 = copyRoot('nolabel');
    const d4 = path.join(r4, 'training', '00004000_20');
    rmSync(path.join(d4, 'brats_train_00004000_seg_20_w.nii.gz'));
    await expectDatasetError(listSamples(r4, { requireLabels: true }), d4, /no label/);
    const s4 = await listSamples(r4);
    expect(s4[0]?.label).toBeUndefined();
    // a batch mixing labelled and unlabelled samples
    await expectDatasetError(iterateBatches(s4.slice(0, 2), { shuffle: false, batchSize: 2 }).next(), d4, /has no label while other samples of the batch do/);
  });
});

describe('loadSample', () => {
  it('loads t1n, t1c, t2w, t2f in that order, padded 240 -> 256, with label and burden (nibabel fixtures)', async () => {
    const infos = await listSamples(SAMPLE_ROOT);
    for (const info of infos) {
      const s = await loadSample(info);
      expect(s.width).toBe(256);
      expect(s.height).toBe(256);
      expect(s.image).toHaveLength(4 * 256 * 256);
      const n = 256 * 256;
      ['t1n', 't1c', 't2w', 't2f'].forEach((m, c) => {
        const rel = path.relative(SAMPLE_ROOT, info.files[m as 't1n']);
        let sum = 0;
        for (let i = c * n; i < (c + 1) * n; i++) sum += s.image[i] as number;
        const want = (sample.files[rel] as { sum: number }).sum;
        expect(Math.abs(sum - want)).toBeLessThanOrEqual(1e-5 * Math.max(1, want)); // float32 values
      });
      // 8-pixel zero border
      for (let c = 0; c < 4; c++) for (let x = 0; x < 256; x++) {
        expect(s.image[c * n + x]).toBe(0);
        expect(s.image[c * n + 3 * 256 + x]).toBe(0);
      }
      const b = sample.burden[`training/${info.id}`] as { tumour: number; burden: number };
      expect(s.burden).toBe(b.burden);
      expect((s.label as Uint8Array).reduce((a, v) => a + v, 0)).toBe(b.tumour);
    }
  });

  it('maps pixel (row r, column c) to NIfTI voxel (i = c, j = r)', async () => {
    const [info] = await listSamples(SAMPLE_ROOT);
    const s = await loadSample(info as SliceSampleInfo, { size: null });
    const t1c = await loadNifti((info as SliceSampleInfo).files.t1c);
    const n = 240 * 240;
    for (const [i, j] of [[100, 50], [60, 170], [120, 120]] as const) {
      expect(s.image[n + j * 240 + i]).toBe(Math.fround(t1c.data[i + 240 * j] as number));
    }
  });

  it('validation burdens from test_labels match numpy', async () => {
    for (const info of await listSamples(SAMPLE_ROOT, { split: 'validation' })) {
      const s = await loadSample(info, { size: 240 });
      expect(s.burden).toBe(sample.burden[`validation/${info.id}`]?.burden);
    }
  });

  it('resizes 256 -> 64 like numpy block means (tolerance 1e-7, labels exact)', async () => {
    const info = (await listSamples(SAMPLE_ROOT)).find((x) => x.id === '00004000_25') as SliceSampleInfo;
    const s = await loadSample(info, { resize: 64 });
    const ref = new Float32Array(new Uint8Array(readFileSync(path.join(FIXTURES, 'sample-64.f32'))).buffer);
    expect(s.image).toHaveLength(4 * 64 * 64);
    let maxDiff = 0;
    for (let i = 0; i < s.image.length; i++) maxDiff = Math.max(maxDiff, Math.abs((s.image[i] as number) - (ref[i] as number)));
    expect(maxDiff).toBeLessThanOrEqual(1e-7);
    expect(Array.from(s.label as Uint8Array)).toEqual(Array.from(ref.subarray(4 * 64 * 64)));
  });

  it("lays channels out as 'hwc' on request", async () => {
    const [info] = await listSamples(SAMPLE_ROOT);
    const chw = await loadSample(info as SliceSampleInfo, { resize: 32 });
    const hwc = await loadSample(info as SliceSampleInfo, { resize: 32, layout: 'hwc' });
    const n = 32 * 32;
    for (let p = 0; p < n; p += 37) for (let c = 0; c < 4; c++) expect(hwc.image[4 * p + c]).toBe(chw.image[c * n + p]);
  });

  it('centre-crops when the size is smaller; bilinear resize keeps a linear ramp', () => {
    const v = new Float64Array(10 * 8).map((_, k) => k);
    const c = padOrCrop({ w: 10, h: 8, v }, 4);
    expect(Array.from(c.v.subarray(0, 4))).toEqual([2 * 10 + 3, 2 * 10 + 4, 2 * 10 + 5, 2 * 10 + 6]);
    const ramp = { w: 9, h: 9, v: new Float64Array(81).map((_, k) => k % 9) };
    const r = resizePlane(ramp, 6, 6);
    // interior samples lie on the ramp: x_src = (x + 0.5) * 1.5 - 0.5
    expect(r.v[2]).toBeCloseTo(2.5 * 1.5 - 0.5, 12);
  });

  it('errors: shapes that differ, unreadable files', async () => {
    const root = copyRoot('shapes');
    const [info] = await listSamples(root);
    const t1c = (info as SliceSampleInfo).files.t1c;
    await saveNifti(t1c, { shape: [10, 10], data: new Float32Array(100) });
    await expectDatasetError(loadSample(info as SliceSampleInfo), t1c, /shape 10x10 differs from t1n's 240x240/);
    const t2w = (info as SliceSampleInfo).files.t2w;
    writeFileSync(t2w, readFileSync(t2w).subarray(0, 100));
    await saveNifti(t1c, await loadNifti((info as SliceSampleInfo).files.t1n));
    await expectDatasetError(loadSample(info as SliceSampleInfo), t2w, /gzip/);
    await expect(loadSample(info as SliceSampleInfo, { resize: 0 })).rejects.toThrow(/'options\.resize' passed to 'loadSample' must be a positive integer/);
  });
});

describe('shuffleSamples and iterateBatches', () => {
  it('shuffles reproducibly per seed and epoch, without touching the input', () => {
    const items = Array.from({ length: 20 }, (_, i) => i);
    const a = shuffleSamples(items, 7, 0);
    expect(shuffleSamples(items, 7, 0)).toEqual(a);
    expect(shuffleSamples(items, 7, 1)).not.toEqual(a);
    expect(shuffleSamples(items, 8, 0)).not.toEqual(a);
    expect([...a].sort((x, y) => x - y)).toEqual(items);
    expect(items).toEqual(Array.from({ length: 20 }, (_, i) => i));
  });

  it('batches every sample once, with labels and burdens', async () => {
    const infos = await listSamples(SAMPLE_ROOT);
    const seen: string[] = [];
    const sizes: number[] = [];
    for await (const b of iterateBatches(infos, { batchSize: 4, seed: 3, resize: 32 })) {
      sizes.push(b.infos.length);
      expect(b.images).toHaveLength(b.infos.length * 4 * 32 * 32);
      expect(b.labels).toHaveLength(b.infos.length * 32 * 32);
      expect(b.burdens).toHaveLength(b.infos.length);
      b.infos.forEach((x, k) => expect(b.burdens?.[k]).toBeCloseTo(sample.burden[`training/${x.id}`]?.burden as number, 6));
      seen.push(...b.infos.map((x) => x.id));
    }
    expect(sizes).toEqual([4, 4, 3]);
    expect([...seen].sort()).toEqual(infos.map((x) => x.id).sort());
    expect(seen).toEqual(shuffleSamples(infos, 3).map((x) => x.id));
    const dropped: number[] = [];
    for await (const b of iterateBatches(infos, { batchSize: 4, dropLast: true, shuffle: false, resize: 16, label: false })) {
      dropped.push(b.infos.length);
      expect(b.labels).toBeUndefined();
    }
    expect(dropped).toEqual([4, 4]);
  });
});
