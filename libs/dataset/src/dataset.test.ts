import { cpSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from '@jest/globals';
import { loadNifti, saveNifti } from '@tumorcast/nifti/node';
import {
  iterateBatches, listSamples, loadSample, readSampleFiles, sampleFromFiles, shuffleSamples, type SliceSampleInfo,
} from './index.js';
import { padOrCrop, resizePlane } from './dataset.js';
import { FIXTURES, SLICES_ROOT, fixtureJson } from './test-utils/fixtures.js';
import { expectDatasetError } from './test-utils/errors.js';
import { SAMPLE_ROOT, describeWithSample } from '../test/brats-sample.js';

interface Expected {
  files: Record<string, { sum: number }>;
  burden: Record<string, { tumour: number; brain: number; burden: number }>;
}

/** A data set in the BraTS slice layout and what nibabel / numpy say about it (tools/nifti/make_fixtures.py). */
interface DataSet {
  name: string;
  root: string;
  expected: Expected;
  /** Training slice ids, sorted. */
  training: string[];
  /** Base names of the first training slice's t2f and seg files. */
  firstFiles: { t2f: string; seg: string };
  /** Validation slices (labels in test_labels/). */
  validation: string[];
  /** Native slice shape [x, y]. */
  shape: [number, number];
  /**
   * The resized reference: which slice, the options, and either the float32
   * file of its pixels (made-up data) or statistics of them (the real sample,
   * whose pixels the repository does not hold).
   */
  resized: { id: string; size: number; resize: number; file?: string; stats?: ResizedStats[] };
  batchSize: number;
}

const COMMITTED: DataSet = {
  name: 'the committed slice data set',
  root: SLICES_ROOT,
  expected: fixtureJson<Expected>('slices.json'),
  training: ['00007000_3', '00007000_4', '00007000_5'],
  firstFiles: { t2f: 'fixture_train_00007000_t2f_3_w.nii.gz', seg: 'fixture_train_00007000_seg_3_w.nii.gz' },
  validation: ['00008000_3', '00008000_4'],
  shape: [22, 26],
  resized: { id: '00007000_4', size: 32, resize: 8, file: 'slices-8.f32' },
  batchSize: 2,
};
const BRATS: DataSet = {
  name: 'the BraTS sample',
  root: SAMPLE_ROOT,
  expected: fixtureJson<Expected>('sample.json'),
  training: Array.from({ length: 11 }, (_, i) => `00004000_${20 + i}`),
  firstFiles: { t2f: 'brats_train_00004000_t2f_20_w.nii.gz', seg: 'brats_train_00004000_seg_20_w.nii.gz' },
  validation: Array.from({ length: 6 }, (_, i) => `00002000_${25 + i}`),
  shape: [240, 240],
  resized: { id: '00004000_25', size: 256, resize: 64, stats: fixtureJson<{ resized64: { channels: ResizedStats[] } }>('sample.json').resized64.channels },
  batchSize: 4,
};

/** Statistics of one resized channel (tools/nifti/make_fixtures.py `resized_stats`). */
interface ResizedStats { sum: number; sumSquares: number; weightedSum: number; nonzero: number }

/**
 * A resized slice against its reference: pixel by pixel (tolerance 1e-7,
 * labels exact), or through each channel's sum, sum of squares and
 * position-weighted sum (relative tolerance 1e-6: float32 sums) and nonzero
 * count, where a transposed or shifted layout changes the weighted sum.
 */
function expectResizedLike(image: Float32Array, label: Uint8Array, r: DataSet['resized']): void {
  const n = r.resize * r.resize;
  expect(image).toHaveLength(4 * n);
  if (r.file) {
    const ref = new Float32Array(new Uint8Array(readFileSync(path.join(FIXTURES, r.file))).buffer);
    expect(ref).toHaveLength(5 * n);
    let maxDiff = 0;
    for (let i = 0; i < image.length; i++) maxDiff = Math.max(maxDiff, Math.abs(image[i]! - ref[i]!));
    expect(maxDiff).toBeLessThanOrEqual(1e-7);
    expect(Array.from(label)).toEqual(Array.from(ref.subarray(4 * n)));
    return;
  }
  const planes = [0, 1, 2, 3].map((c) => image.subarray(c * n, (c + 1) * n) as ArrayLike<number>).concat([label]);
  planes.forEach((v, c) => {
    const want = r.stats![c]!;
    let sum = 0, sumSquares = 0, weightedSum = 0, nonzero = 0;
    for (let i = 0; i < n; i++) {
      const x = v[i]!;
      sum += x;
      sumSquares += x * x;
      weightedSum += (1 + ((31 * i) % 101)) * x;
      if (x !== 0) nonzero++;
    }
    const close = (got: number, expected: number) => expect(Math.abs(got - expected)).toBeLessThanOrEqual(1e-6 * Math.max(1, Math.abs(expected)));
    close(sum, want.sum);
    close(sumSquares, want.sumSquares);
    close(weightedSum, want.weightedSum);
    expect(nonzero).toBe(want.nonzero);
  });
}

const tmp = mkdtempSync(path.join(os.tmpdir(), 'tumorcast-dataset-'));
afterAll(() => rmSync(tmp, { recursive: true, force: true }));

/** Sizes of the batches of `n` items, `b` at a time. */
function chunks(n: number, b: number, dropLast = false): number[] {
  const out = Array.from({ length: Math.ceil(n / b) }, (_, k) => Math.min(b, n - k * b));
  return dropLast ? out.filter((x) => x === b) : out;
}

/** The tests of the data set reader, on one data set. */
function datasetTests(ds: DataSet): void {
  const sample = ds.expected;
  const [W, H] = ds.shape;

  /** A copy of the data set's training folder (in a temporary folder) to break. */
  function copyRoot(name: string): string {
    const root = path.join(tmp, `${path.basename(ds.root)}-${name}`);
    cpSync(path.join(ds.root, 'training'), path.join(root, 'training'), { recursive: true });
    return root;
  }

  describe('listSamples', () => {
    it('lists the training slices with their seg, sorted, without loading', async () => {
      const s = await listSamples(ds.root);
      expect(s.map((x) => x.id)).toEqual(ds.training);
      const first = s[0]!;
      const [pid, slice] = ds.training[0]!.split('_');
      expect(first.patientId).toBe(pid);
      expect(first.slice).toBe(Number(slice));
      expect(first.split).toBe('training');
      expect(path.basename(first.files.t2f)).toBe(ds.firstFiles.t2f);
      expect(path.basename(first.label!)).toBe(ds.firstFiles.seg);
    });

    it('finds validation labels in test_labels/', async () => {
      const s = await listSamples(ds.root, { split: 'validation', requireLabels: true });
      expect(s.map((x) => x.id)).toEqual(ds.validation);
      expect(s[0]?.label).toBe(path.join(ds.root, 'test_labels', `${ds.validation[0]}-label.nii.gz`));
    });

    it('combines several roots in the order given', async () => {
      const other = copyRoot('second');
      const s = await listSamples([ds.root, other]);
      const n = ds.training.length;
      expect(s).toHaveLength(2 * n);
      expect(s[0]?.root).toBe(ds.root);
      expect(s[n]?.root).toBe(other);
    });

    it('errors: missing root, missing split folder, bad folder name, missing and duplicated modality, missing label', async () => {
      await expectDatasetError(listSamples(path.join(tmp, 'nope')), path.join(tmp, 'nope'), /data set root folder not found/);
      await expectDatasetError(listSamples(ds.root, { split: 'testing' }), path.join(ds.root, 'testing'), /the 'testing' folder is missing/);

      const r1 = copyRoot('missing-mod');
      const i1 = (await listSamples(r1))[1]!;
      rmSync(i1.files.t2w);
      await expectDatasetError(listSamples(r1), i1.dir, /missing modality 't2w'/);

      const r2 = copyRoot('bad-name');
      cpSync(path.join(r2, 'training', ds.training[1]!), path.join(r2, 'training', 'slice-22'), { recursive: true });
      await expectDatasetError(listSamples(r2), path.join(r2, 'training', 'slice-22'), /must be <pid>_<slice>/);

      const r3 = copyRoot('dup');
      const i3 = (await listSamples(r3))[0]!;
      const t1n = i3.files.t1n;
      cpSync(t1n, t1n.endsWith('.gz') ? t1n.slice(0, -3) : `${t1n}.gz`);
      await expectDatasetError(listSamples(r3), i3.dir, /two files for modality 't1n'/);

      const r4 = copyRoot('nolabel');
      const i4 = (await listSamples(r4))[0]!;
      rmSync(i4.label!);
      await expectDatasetError(listSamples(r4, { requireLabels: true }), i4.dir, /no label/);
      const s4 = await listSamples(r4);
      expect(s4[0]?.label).toBeUndefined();
      // a batch mixing labelled and unlabelled samples
      await expectDatasetError(iterateBatches(s4.slice(0, 2), { shuffle: false, batchSize: 2 }).next(), i4.dir, /has no label while other samples of the batch do/);
    });
  });

  describe('loadSample', () => {
    it(`loads t1n, t1c, t2w, t2f in that order, zero-padded ${W}x${H} -> 256, with label and burden (nibabel fixtures)`, async () => {
      const infos = await listSamples(ds.root);
      const n = 256 * 256;
      // the reader centres the slice: floor((256 - side) / 2) zeros before it
      const ox = Math.floor((256 - W) / 2);
      const oy = Math.floor((256 - H) / 2);
      for (const info of infos) {
        const s = await loadSample(info);
        expect(s.width).toBe(256);
        expect(s.height).toBe(256);
        expect(s.image).toHaveLength(4 * n);
        ['t1n', 't1c', 't2w', 't2f'].forEach((m, c) => {
          const rel = path.relative(ds.root, info.files[m as 't1n']);
          let sum = 0;
          for (let i = c * n; i < (c + 1) * n; i++) sum += s.image[i]!;
          const want = sample.files[rel]!.sum;
          expect(Math.abs(sum - want)).toBeLessThanOrEqual(1e-5 * Math.max(1, want)); // float32 values
          // the zero border: rows above and columns left of the slice
          let border = 0;
          for (let y = 0; y < 256; y++) for (let x = 0; x < 256; x++) {
            if (y < oy || y >= oy + H || x < ox || x >= ox + W) border += Math.abs(s.image[c * n + y * 256 + x]!);
          }
          expect(border).toBe(0);
        });
        const b = sample.burden[`training/${info.id}`] as { tumour: number; burden: number };
        expect(s.burden).toBe(b.burden);
        expect((s.label as Uint8Array).reduce((a, v) => a + v, 0)).toBe(b.tumour);
      }
    });

    it('maps pixel (row r, column c) to NIfTI voxel (i = c, j = r)', async () => {
      const [info] = await listSamples(ds.root);
      const s = await loadSample(info as SliceSampleInfo, { size: null });
      expect([s.width, s.height]).toEqual([W, H]);
      const t1c = await loadNifti((info as SliceSampleInfo).files.t1c);
      const n = W * H;
      // foreground voxels off the diagonal (i != j), so that a transposed layout fails
      const fg: [number, number][] = [];
      for (let k = 0; k < n; k++) {
        const i = k % W, j = Math.floor(k / W);
        if (t1c.data[k] !== 0 && i !== j && s.image[n + i * W + j] !== t1c.data[k]) fg.push([i, j]);
      }
      expect(fg.length).toBeGreaterThan(10);
      for (const [i, j] of [fg[0], fg[fg.length >> 1], fg[fg.length - 1]] as [number, number][]) {
        expect(s.image[n + j * W + i]).toBe(Math.fround(t1c.data[i + W * j]!));
      }
    });

    it('validation burdens from test_labels match numpy', async () => {
      for (const info of await listSamples(ds.root, { split: 'validation' })) {
        const s = await loadSample(info, { size: null });
        expect(s.burden).toBe(sample.burden[`validation/${info.id}`]?.burden);
      }
    });

    it(`pads to ${ds.resized.size} and resizes to ${ds.resized.resize} like numpy block means (pixels within 1e-7 and exact labels, or the sample's statistics within 1e-6)`, async () => {
      const r = ds.resized;
      const info = (await listSamples(ds.root)).find((x) => x.id === r.id) as SliceSampleInfo;
      const s = await loadSample(info, { size: r.size, resize: r.resize });
      expectResizedLike(s.image, s.label as Uint8Array, r);
    });

    if (ds.resized.file) {
      it('labelFraction keeps the resized label before its threshold: the numpy 4x4 block means of seg > 0 (within 1e-7), and only when asked', async () => {
        const r = ds.resized;
        const info = (await listSamples(ds.root)).find((x) => x.id === r.id) as SliceSampleInfo;
        const s = await loadSample(info, { size: r.size, resize: r.resize, labelFraction: true });
        const ref = new Float32Array(new Uint8Array(readFileSync(path.join(FIXTURES, 'slices-8-fraction.f32'))).buffer);
        expect(s.labelFraction).toHaveLength(r.resize * r.resize);
        let maxDiff = 0;
        for (let i = 0; i < ref.length; i++) maxDiff = Math.max(maxDiff, Math.abs(s.labelFraction![i]! - ref[i]!));
        expect(maxDiff).toBeLessThanOrEqual(1e-7);
        // Some pixels are partly tumour, and the binary label is their threshold at 0.5.
        expect(Array.from(ref).some((v) => v > 0 && v < 1)).toBe(true);
        expect(Array.from(s.label!)).toEqual(Array.from(ref, (v) => (v >= 0.5 ? 1 : 0)));
        expect((await loadSample(info, { size: r.size, resize: r.resize })).labelFraction).toBeUndefined();
        expect((await loadSample(info, { size: r.size, resize: r.resize, label: false, labelFraction: true })).labelFraction).toBeUndefined();
        await expect(loadSample(info, { labelFraction: 'yes' as never })).rejects.toThrow(/'options.labelFraction' passed to 'loadSample' must be true or false/);
      });
    }

    it('readSampleFiles decodes once; sampleFromFiles builds both sizes from it (the numpy block means, and the native slice)', async () => {
      const r = ds.resized;
      const info = (await listSamples(ds.root)).find((x) => x.id === r.id) as SliceSampleInfo;
      const files = await readSampleFiles(info);
      expect(files.label).toBeDefined();
      const s = sampleFromFiles(files, { size: r.size, resize: r.resize });
      expectResizedLike(s.image, s.label as Uint8Array, r);
      const native = sampleFromFiles(files, { size: null, layout: 'hwc' });
      expect([native.width, native.height]).toEqual([W, H]);
      expect(native.burden).toBe(sample.burden[`training/${info.id}`]?.burden);
      expect(Array.from(native.image.subarray(0, 4 * 50))).toEqual(Array.from((await loadSample(info, { size: null, layout: 'hwc' })).image.subarray(0, 4 * 50)));
      // Without the label file decoded, no label; bad arguments name the function.
      expect(sampleFromFiles({ ...files, label: undefined }, { size: null }).label).toBeUndefined();
      expect(() => sampleFromFiles({} as never)).toThrow(/'files' passed to 'sampleFromFiles'/);
      expect(() => sampleFromFiles(files, { resize: 0 })).toThrow(/'options.resize' passed to 'sampleFromFiles'/);
    });

    it("lays channels out as 'hwc' on request", async () => {
      const [info] = await listSamples(ds.root);
      const chw = await loadSample(info as SliceSampleInfo, { resize: 32 });
      const hwc = await loadSample(info as SliceSampleInfo, { resize: 32, layout: 'hwc' });
      const n = 32 * 32;
      for (let p = 0; p < n; p += 37) for (let c = 0; c < 4; c++) expect(hwc.image[4 * p + c]).toBe(chw.image[c * n + p]);
    });

    it('errors: shapes that differ, unreadable files', async () => {
      const root = copyRoot('shapes');
      const [info] = await listSamples(root);
      const t1c = (info as SliceSampleInfo).files.t1c;
      await saveNifti(t1c, { shape: [10, 10], data: new Float32Array(100) });
      await expectDatasetError(loadSample(info as SliceSampleInfo), t1c, new RegExp(`shape 10x10 differs from t1n's ${W}x${H}`));
      const t2w = (info as SliceSampleInfo).files.t2w;
      writeFileSync(t2w, readFileSync(t2w).subarray(0, 100));
      await saveNifti(t1c, await loadNifti((info as SliceSampleInfo).files.t1n));
      await expectDatasetError(loadSample(info as SliceSampleInfo), t2w, /gzip/);
      await expect(loadSample(info as SliceSampleInfo, { resize: 0 })).rejects.toThrow(/'options\.resize' passed to 'loadSample' must be a positive integer/);
    });
  });

  describe('iterateBatches', () => {
    it('batches every sample once, with labels and burdens', async () => {
      const infos = await listSamples(ds.root);
      const b0 = ds.batchSize;
      const seen: string[] = [];
      const sizes: number[] = [];
      for await (const b of iterateBatches(infos, { batchSize: b0, seed: 3, resize: 32 })) {
        sizes.push(b.infos.length);
        expect(b.images).toHaveLength(b.infos.length * 4 * 32 * 32);
        expect(b.labels).toHaveLength(b.infos.length * 32 * 32);
        expect(b.burdens).toHaveLength(b.infos.length);
        b.infos.forEach((x, k) => expect(b.burdens?.[k]).toBeCloseTo(sample.burden[`training/${x.id}`]!.burden, 6));
        seen.push(...b.infos.map((x) => x.id));
      }
      expect(sizes).toEqual(chunks(infos.length, b0));
      expect([...seen].sort()).toEqual(infos.map((x) => x.id).sort());
      expect(seen).toEqual(shuffleSamples(infos, 3).map((x) => x.id));
      const dropped: number[] = [];
      for await (const b of iterateBatches(infos, { batchSize: b0, dropLast: true, shuffle: false, resize: 16, label: false })) {
        dropped.push(b.infos.length);
        expect(b.labels).toBeUndefined();
      }
      expect(dropped).toEqual(chunks(infos.length, b0, true));
    });
  });
}

describe('on the committed slice data set', () => datasetTests(COMMITTED));
describeWithSample('on the BraTS sample', () => datasetTests(BRATS));

describe('padOrCrop and resizePlane', () => {
  it('centre-crops when the size is smaller; bilinear resize keeps a linear ramp', () => {
    const v = new Float64Array(10 * 8).map((_, k) => k);
    const c = padOrCrop({ w: 10, h: 8, v }, 4);
    expect(Array.from(c.v.subarray(0, 4))).toEqual([2 * 10 + 3, 2 * 10 + 4, 2 * 10 + 5, 2 * 10 + 6]);
    const ramp = { w: 9, h: 9, v: new Float64Array(81).map((_, k) => k % 9) };
    const r = resizePlane(ramp, 6, 6);
    // interior samples lie on the ramp: x_src = (x + 0.5) * 1.5 - 0.5
    expect(r.v[2]).toBeCloseTo(2.5 * 1.5 - 0.5, 12);
  });
});

describe('shuffleSamples', () => {
  it('shuffles reproducibly per seed and epoch, without touching the input', () => {
    const items = Array.from({ length: 20 }, (_, i) => i);
    const a = shuffleSamples(items, 7, 0);
    expect(shuffleSamples(items, 7, 0)).toEqual(a);
    expect(shuffleSamples(items, 7, 1)).not.toEqual(a);
    expect(shuffleSamples(items, 8, 0)).not.toEqual(a);
    expect([...a].sort((x, y) => x - y)).toEqual(items);
    expect(items).toEqual(Array.from({ length: 20 }, (_, i) => i));
  });
});
