import { describe, it, expect, beforeAll, afterAll } from '@jest/globals';
import { execFileSync, spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, readdirSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { writePhantomDataset, type PhantomDatasetManifest, type PhantomDatasetOptions } from './dataset.js';
import { generatePhantomPatient } from './patient.js';
import { generatePhantomSlice, PHANTOM_MODALITIES } from './slice.js';
import { writeNifti2d } from './nifti-write.js';
import { readTestNifti } from './test-utils/read-nifti.js';

const here = path.dirname(fileURLToPath(import.meta.url));
const repoRoot = path.resolve(here, '../../..');
const fixture = JSON.parse(readFileSync(path.join(here, '../test/fixtures/nibabel-summary.json'), 'utf8')) as {
  options: PhantomDatasetOptions;
  nibabel: { files: Record<string, { shape: number[]; dtype: string; affine: number[][]; qform_code: number; sform_code: number; vox_offset: number; min: number; max: number; sum: number; nonzero: number; argmax: number[]; samples: Record<string, number> }> };
};

function listFiles(dir: string, rel = ''): string[] {
  const out: string[] = [];
  for (const name of readdirSync(path.join(dir, rel))) {
    const r = rel ? `${rel}/${name}` : name;
    if (statSync(path.join(dir, r)).isDirectory()) out.push(...listFiles(dir, r));
    else out.push(r);
  }
  return out.sort();
}

function hasNibabel(): boolean {
  if (!existsSync('/usr/bin/python3')) return false;
  return spawnSync('/usr/bin/python3', ['-c', 'import nibabel'], { stdio: 'ignore' }).status === 0;
}

describe('writePhantomDataset', () => {
  let dir: string;
  let manifest: PhantomDatasetManifest;
  beforeAll(async () => {
    dir = mkdtempSync(path.join(tmpdir(), 'phantom-ds-'));
    manifest = await writePhantomDataset(dir, fixture.options);
  });
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it('writes the BraTS slice layout, the tables and the manifest, and nothing else', () => {
    const files = listFiles(dir);
    const nii = files.filter((f) => f.endsWith('.nii.gz'));
    expect(nii).toEqual(Object.keys(fixture.nibabel.files).sort());
    const pid = '90000000', sl = 80, key = `${pid}_${sl}`;
    for (const mod of PHANTOM_MODALITIES) {
      expect(files).toContain(`testing/${key}/phantom_test_${pid}_${mod}_${sl}_w.nii.gz`);
      expect(files).toContain(`followup/${key}/phantom_test_${pid}_${mod}_${sl}_w.nii.gz`);
      for (const t of ['000', '001', '002']) expect(files).toContain(`training/91000${t}_${sl}/phantom_train_91000${t}_${mod}_${sl}_w.nii.gz`);
    }
    expect(files).toContain(`test_labels/${key}-label.nii.gz`);
    expect(files).toContain(`followup/${key}/phantom_test_${pid}_seg_${sl}_w.nii.gz`);
    expect(files).toContain(`training/91000002_${sl}/phantom_train_91000002_seg_${sl}_w.nii.gz`);
    expect(files.filter((f) => !f.endsWith('.nii.gz'))).toEqual(['manifest.json', 'relative_changes.json', 'series.csv', 'series_to_baseline.csv']);
    expect(JSON.parse(readFileSync(path.join(dir, 'manifest.json'), 'utf8'))).toEqual(JSON.parse(JSON.stringify(manifest)));
  });

  it('writes the series CSVs and the true relative changes', () => {
    const p = manifest.testing[0]!;
    const s = p.slices[0]!;
    const rows = readFileSync(path.join(dir, 'series.csv'), 'utf8').trim().split('\n');
    expect(rows[0]).toBe('patient_id,day,size,slice_id,rt_end_day');
    expect(rows.slice(1)).toEqual(p.days.map((d, t) => `${p.patientId},${d},${+s.sizes[t]!.toFixed(4)},80,${p.rtEndDay}`));
    const toBaseline = readFileSync(path.join(dir, 'series_to_baseline.csv'), 'utf8').trim().split('\n');
    expect(toBaseline.length).toBe(1 + p.days.filter((d) => d <= p.baselineDay).length);
    const changes = JSON.parse(readFileSync(path.join(dir, 'relative_changes.json'), 'utf8'));
    const bl = s.sizes[p.days.indexOf(p.baselineDay)]!, fu = s.sizes[p.days.indexOf(p.followupDay)]!;
    expect(changes[s.key]).toBeCloseTo(fu / bl - 1, 12);
    expect(s.relativeChange).toBeCloseTo(fu / bl - 1, 12);
  });

  it('files read back (independent reader) agree with the committed nibabel summary', () => {
    for (const [rel, nb] of Object.entries(fixture.nibabel.files)) {
      const f = readTestNifti(path.join(dir, rel));
      const [W, H] = nb.shape as [number, number];
      expect(f.sizeofHdr).toBe(348);
      expect(f.magic).toBe('n+1');
      expect(f.dim.slice(0, 3)).toEqual([2, W, H]);
      expect(f.datatype).toBe(16);
      expect(f.bitpix).toBe(32);
      expect(f.voxOffset).toBe(nb.vox_offset);
      expect(f.qformCode).toBe(nb.qform_code);
      expect(f.sformCode).toBe(nb.sform_code);
      expect(f.srow).toEqual(nb.affine.slice(0, 3));
      let min = Infinity, max = -Infinity, sum = 0, nonzero = 0;
      for (const v of f.data) { min = Math.min(min, v); max = Math.max(max, v); sum += v; if (v !== 0) nonzero++; }
      expect(min).toBeCloseTo(nb.min, 6);
      expect(max).toBeCloseTo(nb.max, 6);
      expect(Math.abs(sum - nb.sum)).toBeLessThanOrEqual(1e-5 * Math.max(1, Math.abs(nb.sum)));
      expect(Math.abs(nonzero - nb.nonzero)).toBeLessThanOrEqual(2);
      // Orientation: nibabel's data[i, j] is our pixel (x = i, y = j) at j * W + i.
      const [ai, aj] = nb.argmax as [number, number];
      expect(f.data[aj * W + ai]).toBeCloseTo(nb.max, 6);
      for (const [k, v] of Object.entries(nb.samples)) {
        const [i, j] = k.split(',').map(Number) as [number, number];
        expect(f.data[j * W + i]).toBeCloseTo(v, 5);
      }
    }
  });

  it('stores exactly the generated images (baseline and true follow-up)', () => {
    const mp = manifest.testing[0]!;
    const sl = mp.slices[0]!;
    const p = generatePhantomPatient({
      ...fixture.options.patient,
      seed: mp.seed,
      patientId: mp.patientId,
      params: mp.params,
      initialSize: mp.initialSize,
      render: 'baseline-followup',
    });
    const bl = p.slices[0]!.scans[p.baselineIndex]!, fu = p.slices[0]!.scans[p.followupIndex]!;
    for (const mod of PHANTOM_MODALITIES) {
      expect(Array.from(readTestNifti(path.join(dir, sl.baseline[mod])).data)).toEqual(Array.from(bl.modalities[mod]));
      expect(Array.from(readTestNifti(path.join(dir, sl.followup[mod])).data)).toEqual(Array.from(fu.modalities[mod]));
    }
    expect(Array.from(readTestNifti(path.join(dir, sl.baseline.label)).data)).toEqual(Array.from(bl.label));
    expect(Array.from(readTestNifti(path.join(dir, sl.followup.label)).data)).toEqual(Array.from(fu.label));
    expect(sl.burden.baseline).toBe(bl.burden);
  });

  (hasNibabel() ? it : it.skip)("loads in Debian's nibabel (tools/phantom/check_nifti.py)", () => {
    const out = execFileSync('/usr/bin/python3', [path.join(repoRoot, 'tools/phantom/check_nifti.py'), dir], { encoding: 'utf8' });
    const r = JSON.parse(out);
    expect(r.missing).toEqual([]);
    expect(r.bad).toEqual({});
    expect(Object.keys(r.files).length).toBe(25);
  });
});

describe('NIfTI writer (internal)', () => {
  let dir: string;
  beforeAll(() => {
    dir = mkdtempSync(path.join(tmpdir(), 'phantom-nii-'));
  });
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it('writes a 240x240 slice with the identity affine, uncompressed or gzip, atomically', async () => {
    const s = generatePhantomSlice({ seed: 1, size: 500 });
    for (const name of ['a.nii', 'a.nii.gz']) {
      await writeNifti2d(path.join(dir, name), s.modalities.t2f, 240, 240, 1);
      const f = readTestNifti(path.join(dir, name));
      expect(f.srow).toEqual([[1, 0, 0, 0], [0, 1, 0, 0], [0, 0, 1, 0]]);
      expect(f.pixdim.slice(0, 3)).toEqual([1, 1, 1]);
      expect(f.xyztUnits).toBe(2);
      expect(f.sclSlope).toBe(1);
      expect(Array.from(f.data)).toEqual(Array.from(s.modalities.t2f));
    }
    expect(statSync(path.join(dir, 'a.nii')).size).toBe(352 + 4 * 240 * 240);
    expect(readdirSync(dir).sort()).toEqual(['a.nii', 'a.nii.gz']);
  });

  (existsSync('/usr/bin/nifti_tool') ? it : it.skip)('passes nifti_tool -check_hdr -check_nim', async () => {
    const s = generatePhantomSlice({ seed: 2, size: 700, width: 64 });
    for (const [name, sp] of [['b.nii.gz', 1], ['c.nii', 3.75]] as const) {
      await writeNifti2d(path.join(dir, name), s.modalities.t1c, 64, 64, sp);
      const r = spawnSync('/usr/bin/nifti_tool', ['-check_hdr', '-check_nim', '-infiles', path.join(dir, name)], { encoding: 'utf8' });
      expect(r.status).toBe(0);
      expect(r.stdout).toMatch(/header IS GOOD/);
      expect(r.stdout).toMatch(/nifti_image IS GOOD/);
    }
  });
});

describe('writePhantomDataset options', () => {
  it('writes .nii when gzip is false, with previews', async () => {
    const dir = mkdtempSync(path.join(tmpdir(), 'phantom-ds2-'));
    try {
      const m = await writePhantomDataset(dir, { seed: 3, gzip: false, datasetName: 'brats', patient: { days: [0, 40], slice: { width: 64 } } });
      const sl = m.testing[0]!.slices[0]!;
      expect(sl.baseline.t1n).toBe('testing/90000000_80/brats_test_90000000_t1n_80_w.nii');
      expect(sl.baseline.label).toBe('test_labels/90000000_80-label.nii');
      expect(existsSync(path.join(dir, sl.preview!))).toBe(true);
      expect(m.training).toEqual([]);
      expect(m.pixelSpacing).toBe(3.75);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('rejects bad arguments with the argument named', async () => {
    await expect(writePhantomDataset('')).rejects.toThrow(/'dir' passed to 'writePhantomDataset'/);
    await expect(writePhantomDataset('/tmp/x', { patients: -1 })).rejects.toThrow(/'patients' passed to 'writePhantomDataset'/);
    await expect(writePhantomDataset('/tmp/x', { datasetName: 'a_b' })).rejects.toThrow(/'datasetName'/);
    await expect(writePhantomDataset('/tmp/x', { gzip: 'yes' as never })).rejects.toThrow(/'gzip'/);
  });
});
