import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { saveNifti } from '@tumorcast/nifti/node';
import { COHORT_FORMAT, CohortError, DatasetError, DEFAULT_COHORT_SPLIT, formatCohortProblem, parseCohort, readCohort } from './index.js';
import type { CohortProblem } from './index.js';

// Self-made 4x4 slices: the reader checks paths and names, not pixels.
const tmp = mkdtempSync(path.join(os.tmpdir(), 'tumorcast-cohort-'));
afterAll(() => rmSync(tmp, { recursive: true, force: true }));
const plane = () => ({ data: new Float32Array(16), shape: [4, 4] });
const MODS = ['t1n', 't1c', 't2w', 't2f'];

async function writeSlice(dir: string, kinds: readonly string[] = MODS): Promise<void> {
  mkdirSync(dir, { recursive: true });
  const [pid, slice] = path.basename(dir).split('_') as [string, string];
  for (const k of kinds) await saveNifti(path.join(dir, `ds_test_${pid}_${k}_${slice}_w.nii.gz`), plane());
}

const FILE = () => path.join(tmp, 'cohort.json');

function patient(id: string, extra: Record<string, unknown> = {}): Record<string, unknown> {
  return {
    id, rtEndDay: 52,
    scans: [
      { day: 0, size: 100, slices: [{ kind: 'initial', slice: 5, folder: `${id}/d0/${id}d0_5` }] },
      { day: 60, size: 80, slices: [{ kind: 'initial', slice: 5, folder: `${id}/d60/${id}d60_5`, size: 12.5 }] },
      { day: 120, size: 140 },
    ],
    ...extra,
  };
}

const cohort = (patients: unknown[], extra: Record<string, unknown> = {}) => ({ format: COHORT_FORMAT, version: 1, sizeUnit: 'mm²', patients, ...extra });

async function problemsOf(json: unknown, options = {}): Promise<CohortProblem[]> {
  try {
    await parseCohort(json, FILE(), options);
  } catch (e) {
    expect(e).toBeInstanceOf(CohortError);
    return [...(e as CohortError).problems];
  }
  throw new Error('expected a CohortError');
}

beforeAll(async () => {
  for (const id of ['P1', 'P2']) {
    await writeSlice(path.join(tmp, id, 'd0', `${id}d0_5`));
    await writeSlice(path.join(tmp, id, 'd60', `${id}d60_5`), [...MODS, 'seg']);
  }
  await writeSlice(path.join(tmp, 'P3', 'd0', 'P3d0_5'), ['t1n', 't1c', 't2w']); // no t2f
});

describe('readCohort', () => {
  it('reads patients, scans, slices, RT days and the default split', async () => {
    writeFileSync(FILE(), JSON.stringify(cohort([patient('P1'), patient('P2', { rtStartDay: 3, rtEndDay: 40, split: { mode: 'pre_rt_points' }, followupDay: 60 })])));
    const c = await readCohort(FILE());
    expect(c.patients.map((p) => p.id)).toEqual(['P1', 'P2']);
    expect(c.sizeUnit).toBe('mm²');
    expect(c.synthetic).toBe(false);
    const [p1, p2] = c.patients as [typeof c.patients[0], typeof c.patients[0]];
    expect(p1.rtEndDay).toBe(52);
    expect(p1.rtStartDay).toBe(10); // rtEndDay - 42
    expect(p1.split).toEqual(DEFAULT_COHORT_SPLIT);
    expect(p1.scans.map((s) => [s.day, s.size, s.slices.length])).toEqual([[0, 100, 1], [60, 80, 1], [120, 140, 0]]);
    const sl = p1.scans[1]!.slices[0]!;
    expect(sl).toMatchObject({ kind: 'initial', slice: 5, key: 'initial_5', size: 12.5, folder: path.join(tmp, 'P1/d60/P1d60_5') });
    expect(sl.info?.label).toMatch(/_seg_5_w\.nii\.gz$/);
    expect(p2).toMatchObject({ rtStartDay: 3, rtEndDay: 40, split: { mode: 'pre_rt_points' }, followupDay: 60 });
    expect(c.skipped).toEqual([]);
  });

  it('parses the three split modes', async () => {
    const c = await parseCohort(cohort([
      patient('A', { split: { mode: 'last_n', n: 2 } }),
      patient('B', { split: { mode: 'remove_last_predict', removeLast: 1, predictRemaining: 1 } }),
      patient('C', { split: { mode: 'remove_last_predict', removeLast: 0 } }),
    ]), FILE(), { checkFolders: false });
    expect(c.patients[0]!.fixed).toBeUndefined();
    expect((await parseCohort(cohort([patient('F', { fixed: { lambdaDecay: 0.02 }, note: 'short' })]), FILE(), { checkFolders: false })).patients[0]!.fixed).toEqual({ lambdaDecay: 0.02 });
    expect((await problemsOf(cohort([patient('F', { fixed: { lambdaDecay: 'x' } })]), { checkFolders: false }))[0]).toMatchObject({ field: 'patients[0].fixed' });
    expect(c.patients.map((p) => p.split)).toEqual([
      { mode: 'last_n', n: 2 }, { mode: 'remove_last_predict', removeLast: 1, predictRemaining: 1 }, { mode: 'remove_last_predict', removeLast: 0, predictRemaining: 1 },
    ]);
  });

  it('names the patient, file and field of every problem, all of them at once', async () => {
    const bad = patient('Q', {
      rtEndDay: 'x', split: { mode: 'last_k' }, followupDay: 7,
      scans: [
        { day: 0, size: 100, slices: [{ kind: 'middle', slice: 5, folder: 'Q/x_5' }] },
        { day: 0, size: -1 },
        { day: 30, size: 50, slices: [{ kind: 'initial', slice: 4, folder: 'Q/y_5' }, { kind: 'initial', slice: 6, folder: 'noname' }] },
      ],
      colour: 'red',
    });
    const problems = await problemsOf(cohort([patient('P1'), bad]), { checkFolders: false });
    const fields = problems.map((p) => p.field);
    for (const p of problems) {
      expect(p.patient).toBe('Q');
      expect(p.file.startsWith(tmp) || p.file === FILE()).toBe(true);
    }
    expect(fields).toEqual(expect.arrayContaining([
      'patients[1].colour', 'patients[1].rtEndDay', 'patients[1].split.mode', 'patients[1].scans[0].slices[0].kind',
      'patients[1].scans[1].size', 'patients[1].scans[1].day', 'patients[1].scans[2].slices[0].folder', 'patients[1].scans[2].slices[1].folder',
    ]));
    expect(problems.find((p) => p.field === 'patients[1].scans[1].day')!.problem).toMatch(/increase strictly/);
    expect(problems.find((p) => p.field === 'patients[1].scans[2].slices[0].folder')!.problem).toMatch(/slice number \(5\) differs from slice \(4\)/);
    expect(formatCohortProblem(problems[0]!)).toMatch(/: patient Q: patients\[1\]\./);
  });

  it('checks the slice folders: missing folder, missing modality', async () => {
    const p1 = patient('P1');
    const p3 = patient('P3', { scans: [{ day: 0, size: 5, slices: [{ kind: 'largest', slice: 5, folder: 'P3/d0/P3d0_5' }] }, { day: 9, size: 5, slices: [{ kind: 'largest', slice: 5, folder: 'P3/none_5' }] }] });
    const problems = await problemsOf(cohort([p1, p3]));
    expect(problems).toHaveLength(2);
    expect(problems[0]).toMatchObject({ patient: 'P3', field: 'patients[1].scans[0].slices[0].folder', file: path.join(tmp, 'P3/d0/P3d0_5') });
    expect(problems[0]!.problem).toMatch(/missing modality 't2f'/);
    expect(problems[1]).toMatchObject({ patient: 'P3', field: 'patients[1].scans[1].slices[0].folder', problem: 'slice folder not found' });
  });

  it('skipInvalid leaves out the bad patients and lists them', async () => {
    const c = await parseCohort(cohort([patient('P1'), patient('P3', { rtEndDay: undefined }), { scans: 3 }]), FILE(), { checkFolders: false, skipInvalid: true });
    expect(c.patients.map((p) => p.id)).toEqual(['P1']);
    expect(c.skipped.map((s) => s.patient)).toEqual(['P3', '#2']);
    expect(c.skipped[0]!.problems[0]).toMatchObject({ field: 'patients[1].rtStartDay', problem: expect.stringMatching(/give rtStartDay or rtEndDay/) });
  });

  it('refuses problems of the file itself, duplicates, a zero first size, a follow-up day that is no scan day, and no patient left', async () => {
    expect((await problemsOf({ format: 'x', version: 2, patients: [] })).map((p) => p.field)).toEqual(['format', 'version', 'patients']);
    expect((await problemsOf(cohort([patient('A'), patient('A')]), { checkFolders: false }))[0]).toMatchObject({ field: 'patients[1].id', problem: "duplicate patient id 'A'" });
    const zero = patient('Z', { followupDay: 61, scans: [{ day: 0, size: 0 }, { day: 5, size: 2 }] });
    expect((await problemsOf(cohort([zero]), { checkFolders: false })).map((p) => p.field)).toEqual(['patients[0].scans[0].size', 'patients[0].followupDay']);
    const none = await problemsOf(cohort([{ id: 'only', rtEndDay: 3, scans: [] }]), { skipInvalid: true });
    expect(none.at(-1)).toMatchObject({ field: 'patients', problem: 'no valid patient left' });
    await expect(parseCohort(cohort([patient('A')]), FILE(), { courseDays: 0 })).rejects.toThrow(/courseDays/);
  });

  it('a missing or non-JSON file is a DatasetError naming it', async () => {
    await expect(readCohort(path.join(tmp, 'nope.json'))).rejects.toThrow(DatasetError);
    writeFileSync(path.join(tmp, 'bad.json'), '{ nope');
    await expect(readCohort(path.join(tmp, 'bad.json'))).rejects.toThrow(/bad\.json: not valid JSON/);
  });
});
