import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { initBackend } from '@tumorcast/nn';
import { writePhantomDataset } from '@tumorcast/phantom';
import type { PhantomDatasetManifest, PhantomManifestSlice } from '@tumorcast/phantom';
import type { SliceResult } from '@tumorcast/pipeline/node';
import { predictCli } from './cli.js';

// Fast sampling: L = 100 in 5 respaced steps, 2 runs per map.
const FAST = ['--respacing', 'ddim50', '--noise-level', '100', '--samples', '2'];

let tmp: string;
let root: string;
let manifest: PhantomDatasetManifest;
let slices: PhantomManifestSlice[];
beforeAll(async () => {
  tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'tc-truth-'));
  await initBackend({ log: false });
  // A phantom patient in the BraTS slice layout: baselines in testing/ with their labels in test_labels/,
  // true follow-ups in followup/<id>/ with a seg file (96x96 keeps the test quick).
  root = path.join(tmp, 'phantom');
  manifest = await writePhantomDataset(root, { seed: 3, patients: 1, preview: false, patient: { sliceIds: [80, 84], slice: { width: 96 } } });
  const p = manifest.testing[0]!;
  slices = p.slices;
});
afterAll(() => fs.rmSync(tmp, { recursive: true, force: true }));

/** A copy of the phantom data set to break. */
function copyRoot(name: string): string {
  const dir = path.join(tmp, name);
  fs.cpSync(root, dir, { recursive: true });
  return dir;
}

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

  it('a real follow-up without a label (BraTS slice layout: none in test_labels/)', async () => {
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

describe('tumorcast-predict run scored against follow-ups in the BraTS slice layout', () => {
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
