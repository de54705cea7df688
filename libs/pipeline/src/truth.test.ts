import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { writePhantomDataset } from '@tumorcast/phantom';
import type { PhantomDatasetManifest, PhantomManifestSlice } from '@tumorcast/phantom';
import { PipelineDataError, PipelineInputError } from './errors.js';
import { checkTruth, findTruth, loadTruth } from './truth.js';

const repo = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../..');
const SAMPLE = path.resolve(repo, '../shared/data/brats-sample');

let tmp: string;
let root: string;
let manifest: PhantomDatasetManifest;
let slices: PhantomManifestSlice[];
let baselineIndex: number;
let followupIndex: number;
beforeAll(async () => {
  tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'tc-truth-'));
  // A phantom patient in the BraTS slice layout: baselines in testing/ with their labels in test_labels/,
  // true follow-ups in followup/<id>/ with a seg file (96x96 keeps the test quick).
  root = path.join(tmp, 'phantom');
  manifest = await writePhantomDataset(root, { seed: 3, patients: 1, preview: false, patient: { sliceIds: [80, 84], slice: { width: 96 } } });
  const p = manifest.testing[0]!;
  slices = p.slices;
  baselineIndex = p.days.indexOf(p.baselineDay);
  followupIndex = p.days.indexOf(p.followupDay);
});
afterAll(() => fs.rmSync(tmp, { recursive: true, force: true }));

/** A copy of the phantom data set to break. */
function copyRoot(name: string): string {
  const dir = path.join(tmp, name);
  fs.cpSync(root, dir, { recursive: true });
  return dir;
}

/** Tumour pixels x pixel area: compared with the phantom generator's own area (mm^2, 4 decimals). */
function area(label: Uint8Array): number {
  let n = 0;
  for (const v of label) n += v;
  return n * manifest.pixelSpacing ** 2;
}

describe('finding real follow-ups', () => {
  it('reads labels from test_labels/ of a data root in the BraTS slice layout', async () => {
    for (const s of slices) {
      const info = await findTruth(root, s.key);
      expect(info?.dir).toBe(path.join(root, 'testing', s.key));
      expect(info?.label).toBe(path.join(root, 'test_labels', `${s.key}-label.nii.gz`));
      const t = await loadTruth(root, s.key);
      // The phantom's rendered tumour area is computed by the generator, not read back from disk.
      expect(area(t!.label)).toBeCloseTo(s.sizes[baselineIndex]!, 3);
      expect(t!.image).toHaveLength(4 * manifest.width * manifest.height);
    }
    expect(slices.some((s) => (s.sizes[baselineIndex] as number) > 0)).toBe(true);
  });

  it('reads labels from the seg file of a folder of slice folders', async () => {
    for (const s of slices) {
      const info = await findTruth(path.join(root, 'followup'), s.key);
      expect(info?.label).toBe(path.join(root, 'followup', s.key, path.basename(s.followup.label)));
      const t = await loadTruth(path.join(root, 'followup'), s.key);
      expect(area(t!.label)).toBeCloseTo(s.sizes[followupIndex]!, 3);
    }
  });

  it('has nothing for a slice without a folder, and checkTruth says which slices and where it looked', async () => {
    expect(await loadTruth(root, '123_4')).toBeUndefined();
    await expect(checkTruth(root, [{ id: '123_4', width: 96, height: 96 }]))
      .rejects.toThrow(/has no real follow-up for slice\(s\) 123_4 \(looked for 123_4, testing\/123_4, validation\/123_4, training\/123_4\)/);
    await expect(checkTruth(root, [{ id: '123_4', width: 96, height: 96 }])).rejects.toBeInstanceOf(PipelineDataError);
    await expect(checkTruth(path.join(tmp, 'nope'), [])).rejects.toThrow(/'truth' folder .*nope does not exist/);
    await expect(checkTruth(path.join(tmp, 'nope'), [])).rejects.toBeInstanceOf(PipelineInputError);
  });

  it('checkTruth refuses a follow-up without a label, with a modality missing, or of another size', async () => {
    const s = slices[0]!;
    const ok = { id: s.key, width: 96, height: 96 };
    // Kept within the byte budget only: 96 x 96 x 4 float32 plus the label is 148 KiB per follow-up.
    expect((await checkTruth(root, [ok])).size).toBe(0);
    const kept = await checkTruth(root, [ok], { keepBytes: 96 * 96 * 17 });
    expect(kept.get(s.key)?.image).toEqual((await loadTruth(root, s.key))!.image);
    const noLabel = copyRoot('no-label');
    fs.rmSync(path.join(noLabel, 'test_labels', `${s.key}-label.nii.gz`));
    await expect(checkTruth(noLabel, [ok])).rejects.toThrow(new RegExp(`real follow-up ${path.join(noLabel, 'testing', s.key)}: no label`));
    const noMod = copyRoot('no-t2w');
    fs.rmSync(path.join(noMod, s.baseline.t2w));
    await expect(checkTruth(noMod, [ok])).rejects.toThrow(/missing modality 't2w'/);
    await expect(checkTruth(root, [{ ...ok, width: 240, height: 240 }])).rejects.toThrow(/96x96 pixels, but the baseline slice .* is 240x240/);
  });
});

const sampleThere = fs.existsSync(SAMPLE);
describe('the BraTS sample (labels of validation slices in test_labels/)', () => {
  const run = sampleThere ? it : it.skip;
  run(`finds and loads the follow-up labels${sampleThere ? '' : ' [skipped: ../shared/data/brats-sample is not present]'}`, async () => {
    const id = '00002000_27';
    expect((await findTruth(SAMPLE, id))?.label).toBe(path.join(SAMPLE, 'test_labels', `${id}-label.nii.gz`));
    const t = (await loadTruth(SAMPLE, id))!;
    // numpy on the same files (libs/nifti fixtures): no tumour pixels, 2849 brain pixels (t2f != 0).
    let brain = 0;
    for (let i = 3; i < t.image.length; i += 4) if (t.image[i] !== 0) brain++;
    expect(brain).toBe(2849);
    expect(t.label.reduce((a, b) => a + b, 0)).toBe(0);
    await expect(checkTruth(SAMPLE, ['25', '26', '27', '28', '29', '30'].map((k) => ({ id: `00002000_${k}`, width: 240, height: 240 })))).resolves.toBeDefined();
  });
});
