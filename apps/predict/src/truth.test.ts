import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { initBackend } from '@tumorcast/nn';
import { writePhantomDataset } from '@tumorcast/phantom';
import type { PhantomDatasetManifest, PhantomManifestSlice } from '@tumorcast/phantom';
import { predictCli } from './cli.js';
import { checkTruth, findTruth, loadTruth } from './truth.js';
import type { SliceResult } from './run.js';

const repo = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../..');
const SAMPLE = path.resolve(repo, '../shared/data/brats-sample');
// Fast sampling: L = 100 in 5 respaced steps, 2 runs per map.
const FAST = ['--respacing', 'ddim50', '--noise-level', '100', '--samples', '2'];

let tmp: string;
let root: string;
let manifest: PhantomDatasetManifest;
let slices: PhantomManifestSlice[];
let baselineIndex: number;
let followupIndex: number;
beforeAll(async () => {
  tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'tc-truth-'));
  await initBackend({ log: false });
  // A phantom patient in the seed layout: baselines in testing/ with their labels in test_labels/,
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
  it('reads labels from test_labels/ of a data root in the seed layout', async () => {
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
    await expect(checkTruth(path.join(tmp, 'nope'), [])).rejects.toThrow(/--truth folder .*nope does not exist/);
  });

  it('checkTruth refuses a follow-up without a label, with a modality missing, or of another size', async () => {
    const s = slices[0]!;
    const ok = { id: s.key, width: 96, height: 96 };
    await expect(checkTruth(root, [ok])).resolves.toBeUndefined();
    const noLabel = copyRoot('no-label');
    fs.rmSync(path.join(noLabel, 'test_labels', `${s.key}-label.nii.gz`));
    await expect(checkTruth(noLabel, [ok])).rejects.toThrow(new RegExp(`real follow-up ${path.join(noLabel, 'testing', s.key)}: no label`));
    const noMod = copyRoot('no-t2w');
    fs.rmSync(path.join(noMod, s.baseline.t2w));
    await expect(checkTruth(noMod, [ok])).rejects.toThrow(/missing modality 't2w'/);
    await expect(checkTruth(root, [{ ...ok, width: 240, height: 240 }])).rejects.toThrow(/96x96 pixels, but the baseline slice .* is 240x240/);
  });
});

describe('tumorcast-predict run checks every input before sampling', () => {
  /** Runs the CLI expecting an error; asserts that nothing was sampled or written. */
  async function refused(argv: string[], re: RegExp): Promise<void> {
    const out = path.join(tmp, `refused-${Math.random().toString(36).slice(2)}`);
    const lines: string[] = [];
    await expect(predictCli([...argv, '--out', out, ...FAST], (m) => lines.push(m))).rejects.toThrow(re);
    // The networks are loaded right before the first sampling step and logged; no slice output exists.
    expect(lines.filter((l) => /^models:/.test(l))).toEqual([]);
    expect(fs.existsSync(path.join(out, 'slices'))).toBe(false);
    expect(fs.existsSync(path.join(out, 'run.json'))).toBe(false);
  }

  it('a real follow-up without a label (seed layout: none in test_labels/)', async () => {
    const truth = copyRoot('truth-missing-label');
    const key = slices[1]!.key;
    fs.rmSync(path.join(truth, 'test_labels', `${key}-label.nii.gz`));
    await refused(['run', '--data', root, '--relative-change', '0.2', '--truth', truth], new RegExp(`${path.join(truth, 'testing', key)}: no label: neither a '_seg_' file`));
  });

  it('a real follow-up folder without a seg file', async () => {
    const truth = path.join(copyRoot('truth-missing-seg'), 'followup');
    const s = slices[0]!;
    fs.rmSync(path.join(truth, s.key, path.basename(s.followup.label)));
    await refused(['run', '--data', root, '--relative-change', '0.2', '--truth', truth], new RegExp(`${path.join(truth, s.key)}: no label`));
  });

  it('a slice without any real follow-up', async () => {
    const truth = path.join(copyRoot('truth-missing-slice'), 'followup');
    fs.rmSync(path.join(truth, slices[1]!.key), { recursive: true });
    await refused(['run', '--data', root, '--relative-change', '0.2', '--truth', truth], new RegExp(`has no real follow-up for slice\\(s\\) ${slices[1]!.key}`));
  });

  it('an unreadable baseline modality, naming the file', async () => {
    const data = copyRoot('bad-baseline');
    const f = path.join(data, slices[1]!.baseline.t1c);
    fs.writeFileSync(f, Buffer.from('not a nifti'));
    await refused(['sample', '--data', data, '--relative-change', '0.2'], new RegExp(`slice ${path.join(data, 'testing', slices[1]!.key)}: ${f}`));
  });

  it('a relative change below -1 in the targets, and a slice without one', async () => {
    const targets = path.join(tmp, 'targets.json');
    fs.writeFileSync(targets, JSON.stringify({ [slices[0]!.key]: { relativeChange: 0.1 }, [slices[1]!.key]: { relativeChange: -1.5 } }));
    await refused(['run', '--data', root, '--targets', targets], new RegExp(`relative change of slice ${slices[1]!.key} is -1.5: it must be >= -1`));
    fs.writeFileSync(targets, JSON.stringify({ [slices[0]!.key]: { relativeChange: 0.1 } }));
    await refused(['run', '--data', root, '--targets', targets], new RegExp(`no relative change for slice\\(s\\) ${slices[1]!.key}`));
  });

  it('a missing network file', async () => {
    await refused(['sample', '--data', root, '--relative-change', '0.2', '--regressor', path.join(tmp, 'nope.safetensors')], /regressor weights .*nope\.safetensors do not exist/);
  });
});

describe('tumorcast-predict run scored against follow-ups in the seed layout', () => {
  it('finds the labels in test_labels/ and scores each slice (the baseline against itself: Dice 1, MSE 0)', async () => {
    // The data root doubles as the "follow-up": the baseline then scores perfectly, which shows the
    // truth and its label were read, and from the right place.
    const out = path.join(tmp, 'scored');
    const key = slices[0]!.key;
    expect(await predictCli(['run', '--data', root, '--relative-change', '0.2', '--truth', root, '--slices', key, '--out', out, ...FAST], () => undefined)).toBe(0);
    const r = JSON.parse(fs.readFileSync(path.join(out, 'slices', key, 'result.json'), 'utf8')) as SliceResult;
    expect(r.scores?.baseline.dice).toBe(1);
    expect(r.scores?.baseline.mse).toBe(0);
    expect(r.scores?.baseline.hd95).toBe(0);
    expect(fs.readFileSync(path.join(out, 'metrics.csv'), 'utf8')).toMatch(new RegExp(`^${key},`, 'm'));
  }, 300_000);
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
    await expect(checkTruth(SAMPLE, ['25', '26', '27', '28', '29', '30'].map((k) => ({ id: `00002000_${k}`, width: 240, height: 240 })))).resolves.toBeUndefined();
  });
});
