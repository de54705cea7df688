import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { listSamples, loadSample } from '@tumorcast/dataset';
import { saveNifti } from '@tumorcast/nifti/node';
import { writePhantomDataset } from '@tumorcast/phantom';
import { PipelineDataError, PipelineInputError } from './errors.js';
import { checkSlices, listPredictionSlices, loadNativeSlice, loadPredictionSlice, predictionSliceOf, shardSlices } from './slices.js';

const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'tc-pipeline-slices-'));
const root = path.join(tmp, 'phantom');
afterAll(() => fs.rmSync(tmp, { recursive: true, force: true }));
beforeAll(async () => {
  await writePhantomDataset(root, { seed: 5, patients: 1, preview: false, patient: { sliceIds: [80, 84], slice: { width: 96 } } });
});

describe('shardSlices', () => {
  it('covers every slice exactly once over the shards', () => {
    const ids = Array.from({ length: 7 }, (_, i) => ({ id: `p_${i}` }));
    const parts = [1, 2, 3].map((i) => shardSlices(ids, `${i}/3`).map((s) => s.id));
    expect(parts.flat().sort()).toEqual(ids.map((s) => s.id).sort());
    expect(parts.map((p) => p.length)).toEqual([3, 2, 2]);
    expect(shardSlices(ids, undefined)).toHaveLength(7);
  });

  it('refuses a malformed shard, naming the option as the caller names it', () => {
    expect(() => shardSlices([], '4/3')).toThrow(/^'shard' must be i\/n with 1 <= i <= n \(e\.g\. 2\/8\), got '4\/3'$/);
    expect(() => shardSlices([], 'x')).toThrow(PipelineInputError);
    expect(() => shardSlices([], '0/2', (o) => `--${o}`)).toThrow(/^--shard must be i\/n/);
  });
});

describe('loading slices, each file decoded once', () => {
  it('gives the same images, label and burden as the data set reader at both sizes', async () => {
    const infos = await listPredictionSlices(root);
    expect(infos.map((i) => i.split)).toEqual(['testing', 'testing']);
    const checked = await checkSlices(infos, { keepBytes: 1 << 30 });
    for (const [k, info] of infos.entries()) {
      const c = checked[k]!;
      expect(c.files).toBeDefined();
      const s = predictionSliceOf(c.files!, 32);
      // The reader's own two loads (native, then padded to 256 and resized to 32) are the reference.
      const native = await loadSample(info, { size: null, layout: 'hwc', label: true });
      const model = await loadSample(info, { size: 256, resize: 32, layout: 'hwc', label: true });
      expect(s.native).toEqual(native.image);
      expect(s.nativeLabel).toEqual(native.label);
      expect(s.model).toEqual(model.image);
      expect(s.modelLabel).toEqual(model.label);
      expect([s.width, s.height, s.burden]).toEqual([native.width, native.height, native.burden]);
      expect(c.burden).toBe(native.burden);
      expect(s.affine).toEqual(c.files!.images.t1n.affine);
      expect(await loadPredictionSlice(info, 32)).toEqual(s);
      const n = await loadNativeSlice(info);
      expect(n.native).toEqual(s.native);
      expect(n.spacing).toEqual(s.spacing);
    }
    // Without a budget nothing is kept.
    expect((await checkSlices(infos)).every((c) => c.files === undefined)).toBe(true);
  });

  it('refuses NaN voxels naming the file and the voxel, and a missing or empty data folder', async () => {
    const [info] = await listSamples(root, { split: 'testing' });
    const bad = path.join(tmp, 'bad');
    fs.cpSync(root, bad, { recursive: true });
    const [badInfo] = await listSamples(bad, { split: 'testing' });
    const data = new Float32Array(96 * 96);
    data[96 * 3 + 5] = Number.NaN;
    await saveNifti(badInfo!.files.t1c, { shape: [96, 96], data });
    const check = checkSlices([badInfo!]);
    await expect(check).rejects.toThrow(new RegExp(`slice ${info!.id}: ${badInfo!.files.t1c} holds NaN at x 5, y 3; .*fix or leave out this slice \\('slices'\\)`));
    await expect(check).rejects.toBeInstanceOf(PipelineDataError);
    await expect(listPredictionSlices(path.join(tmp, 'nope'))).rejects.toBeInstanceOf(PipelineInputError);
    fs.mkdirSync(path.join(tmp, 'empty'));
    await expect(listPredictionSlices(path.join(tmp, 'empty'))).rejects.toThrow(/no slices found/);
  });
});
