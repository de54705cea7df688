import { describe, expect, it } from '@jest/globals';
import { readNifti } from '@tumorcast/nifti';
import { generatePhantomPatient } from '@tumorcast/phantom';
import { parseSizeCsv } from './growth.js';
import { sortInputFiles } from './layout.js';
import { PHANTOM_DAYS, phantomInputs } from './phantom.js';

describe('phantomInputs', () => {
  const p = phantomInputs(0);

  it('gives files the page recognises: four modalities, the label and the CSV', () => {
    const s = sortInputFiles([...p.files, p.csv]);
    expect(Object.keys(s.images).sort()).toEqual(['t1c', 't1n', 't2f', 't2w']);
    expect(s.seg?.name).toMatch(/-label\.nii\.gz$/);
    expect(s.csv).toBe(p.csv);
    expect(s.unknown).toEqual([]);
  });

  it('holds the patient of @tumorcast/phantom: its baseline scan and its sizes up to the baseline', () => {
    const patient = generatePhantomPatient({ seed: 0, days: [...PHANTOM_DAYS], sliceIds: [80], render: 'baseline-followup', tumourHalfHeight: 10 });
    const scan = patient.slices[0]!.scans[patient.baselineIndex]!;
    const t2f = readNifti(p.files.find((f) => f.name.includes('_t2f_'))!.bytes);
    expect(t2f.shape).toEqual([scan.width, scan.height]);
    expect(Array.from(t2f.data as Float32Array)).toEqual(Array.from(scan.modalities.t2f));
    const [series] = parseSizeCsv(new TextDecoder().decode(p.csv.bytes), p.csv.name);
    expect(series!.times).toEqual(PHANTOM_DAYS.slice(0, patient.baselineIndex + 1));
    expect(series!.sizes).toEqual(patient.slices[0]!.sizes.slice(0, patient.baselineIndex + 1));
    expect(series!.rtEndDay).toBe(63);
    expect([p.baselineDay, p.followupDay, p.rtEndDay]).toEqual([150, 210, 63]);
    expect(p.trueFollowupSize).toBe(patient.slices[0]!.sizes[patient.followupIndex]);
  });

  it('refuses a bad seed', () => {
    expect(() => phantomInputs(-1)).toThrow("'seed' passed to 'phantomInputs' must be a non-negative integer, got -1");
  });
});
