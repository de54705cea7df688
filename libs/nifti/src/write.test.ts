import { execFileSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, readdirSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from '@jest/globals';
import { gunzipSync } from 'fflate';
import { NIFTI_DATATYPES, NiftiError, readNifti, writeNifti, type NiftiDatatype } from './index.js';
import { loadNifti, saveNifti } from './node.js';
import { FIXTURES, firstMismatch, fixtureJson, maxAbsDiff } from './test-utils/fixtures.js';

interface SynthCase {
  file: string;
  header?: string;
  version?: number;
  datatype?: string;
}
interface TsCase {
  name: string;
  version: 1 | 2;
  datatype: NiftiDatatype;
  shape: number[];
  channels: 1 | 3;
  data: number[];
  affine: number[][];
}
interface NibabelRead {
  dtype: string;
  shape: number[];
  data: number[];
  affine: number[][];
  qform: number[][];
  sform: number[][];
  qform_code: number;
  sform_code: number;
  zooms: number[];
  data_equal: boolean;
  affine_equal: boolean;
}

const synthetic = fixtureJson<Record<string, SynthCase>>('synthetic.json');
const tsCases = fixtureJson<TsCase[]>('ts-write-cases.json');
const nibabelRead = fixtureJson<Record<string, NibabelRead>>('ts-written-nibabel.json');
const tmp = mkdtempSync(path.join(os.tmpdir(), 'tumorcast-nifti-'));
afterAll(() => rmSync(tmp, { recursive: true, force: true }));

describe('writeNifti round trip (every datatype, NIfTI-1 and NIfTI-2, plain and gzip)', () => {
  const typed = Object.entries(synthetic).filter(([, c]) => c.datatype !== undefined);
  it('covers every datatype in both versions', () => {
    for (const dt of NIFTI_DATATYPES) for (const v of [1, 2]) expect(typed.some(([, c]) => c.datatype === dt && c.version === v)).toBe(true);
  });
  it.each(typed.map(([n]) => n))('%s: read(write(read(file))) is exact', async (name) => {
    const c = synthetic[name]!;
    const img = await loadNifti(path.join(FIXTURES, c.file));
    for (const gzip of [false, true]) {
      const bytes = writeNifti(img, { datatype: img.datatype, version: c.version as 1 | 2, gzip });
      const back = readNifti(bytes);
      expect(back.datatype).toBe(img.datatype);
      expect(back.header.version).toBe(c.version);
      expect(back.shape).toEqual(img.shape);
      expect(back.data.constructor).toBe(img.data.constructor);
      expect(firstMismatch(back.data, Array.from(img.data))).toBe(-1);
      expect(back.affine).toEqual(img.affine);
      expect(back.spacing).toEqual(img.spacing);
      expect(back.channels).toBe(img.channels);
    }
  });

  it('writes float32 by default, NIfTI-1, sform and qform both set', () => {
    const img = { shape: [2, 3], data: [0, 1, 2, 3, 4, 5.5] };
    const back = readNifti(writeNifti(img));
    expect(back.datatype).toBe('float32');
    expect(back.header.version).toBe(1);
    expect(back.header.sformCode).toBe(2);
    expect(back.header.qformCode).toBe(2);
    expect(back.header.voxOffset).toBe(352);
    expect(Array.from(back.data)).toEqual(img.data);
    expect(back.affine).toEqual([[1, 0, 0, 0], [0, 1, 0, 0], [0, 0, 1, 0], [0, 0, 0, 1]]);
  });

  it('sets the qform so that it alone reproduces the affine (qfac -1 included), within float32 precision', () => {
    for (const c of tsCases.slice(0, 4)) {
      const bytes = writeNifti({ shape: c.shape, data: c.data, affine: c.affine, channels: c.channels }, { datatype: c.datatype });
      const u = Uint8Array.from(bytes);
      new DataView(u.buffer).setInt16(254, 0, true); // sform_code = 0: the reader must use the qform
      const q = readNifti(u);
      expect(q.header.sformCode).toBe(0);
      expect(maxAbsDiff(q.affine, c.affine)).toBeLessThan(1e-5);
    }
  });

  it('keeps spacing beyond the third dimension and carries header fields', () => {
    const img = {
      shape: [2, 2, 1, 3],
      data: new Float32Array(12).fill(1),
      spacing: [1, 1, 1, 2.5],
      header: { descrip: 'tumorcast test', xyztUnits: 10, intentName: 'burden', calMax: 1 },
    };
    const back = readNifti(writeNifti(img, { version: 2 }));
    expect(back.spacing).toEqual([1, 1, 1, 2.5]);
    expect(back.header.descrip).toBe('tumorcast test');
    expect(back.header.xyztUnits).toBe(10);
    expect(back.header.intentName).toBe('burden');
    expect(back.header.calMax).toBe(1);
  });
});

describe('files written by writeNifti, as nibabel reads them (tools/nifti/make_fixtures.py --check-ts)', () => {
  it.each(tsCases.map((c) => c.name))('%s', (name) => {
    const c = tsCases.find((x) => x.name === name) as TsCase;
    const bytes = writeNifti({ shape: c.shape, data: c.data, affine: c.affine, channels: c.channels }, {
      datatype: c.datatype,
      version: c.version,
      gzip: name.endsWith('.gz'),
    });
    // the committed file is what the current writer produces (compared decompressed: gzip bytes may vary by fflate version)
    const committed = new Uint8Array(readFileSync(path.join(FIXTURES, 'ts-written', name)));
    const plain = (b: Uint8Array) => (name.endsWith('.gz') ? gunzipSync(b) : b);
    expect(Buffer.from(plain(bytes)).equals(Buffer.from(plain(committed)))).toBe(true);
    // and nibabel read exactly the intended data and affine
    const nb = nibabelRead[name]!;
    expect(nb.data_equal).toBe(true);
    expect(nb.affine_equal).toBe(true);
    expect(nb.shape).toEqual(c.shape);
    expect(nb.dtype).toBe(c.datatype);
    expect(firstMismatch(nb.data, c.data)).toBe(-1);
    expect(nb.affine).toEqual(c.affine);
    expect(maxAbsDiff(nb.qform, c.affine)).toBeLessThan(1e-5); // quaternion stored in float32 (NIfTI-1)
    expect(nb.sform_code).toBe(2);
    expect(nb.qform_code).toBe(2);
  });

  const nt = ['/usr/bin/nifti_tool', '/usr/local/bin/nifti_tool'].find((p) => existsSync(p));
  (nt ? it : it.skip)('nifti_tool -check_hdr -check_nim accepts the NIfTI-1 files (skipped without nifti_tool)', () => {
    const files = tsCases.filter((c) => c.version === 1).map((c) => path.join(FIXTURES, 'ts-written', c.name));
    const out = execFileSync(nt!, ['-check_hdr', '-check_nim', '-infiles', ...files], { encoding: 'utf8' });
    for (const f of files) {
      expect(out).toContain(`header IS GOOD for file ${f}`);
      expect(out).toContain(`nifti_image IS GOOD for file ${f}`);
    }
  });
});

describe('saveNifti', () => {
  it('writes .nii and .nii.gz atomically, leaving no temp files', async () => {
    const img = { shape: [4, 4], data: new Float64Array(16).map((_, i) => i / 3), affine: [[2, 0, 0, 1], [0, 2, 0, 2], [0, 0, 2, 3], [0, 0, 0, 1]] };
    const dir = path.join(tmp, 'save');
    await saveNifti(path.join(dir, 'a.nii.gz'), img, { datatype: 'float64' });
    await saveNifti(path.join(dir, 'a.nii'), img, { datatype: 'float64' });
    expect(readdirSync(dir).sort()).toEqual(['a.nii', 'a.nii.gz']);
    const raw = readFileSync(path.join(dir, 'a.nii.gz'));
    expect([raw[0], raw[1]]).toEqual([0x1f, 0x8b]);
    for (const f of ['a.nii', 'a.nii.gz']) {
      const back = await loadNifti(path.join(dir, f));
      expect(Array.from(back.data)).toEqual(Array.from(img.data));
      expect(back.affine).toEqual(img.affine);
      expect(back.spacing).toEqual([2, 2]);
    }
  });

  it('leaves no file behind when the data does not fit', async () => {
    const dir = path.join(tmp, 'fail');
    const f = path.join(dir, 'b.nii');
    await expect(saveNifti(f, { shape: [2], data: [1, 300] }, { datatype: 'uint8' })).rejects.toThrow(NiftiError);
    await expect(saveNifti(f, { shape: [2], data: [1, 300] }, { datatype: 'uint8' })).rejects.toThrow(/b\.nii: 'image\.data' passed to 'writeNifti' has value 300 at index 1/);
    expect(existsSync(f)).toBe(false);
  });

  it('refuses other extensions and a gzip option that contradicts the name', async () => {
    const img = { shape: [1], data: [1] };
    await expect(saveNifti(path.join(tmp, 'c.img'), img)).rejects.toThrow(/c\.img: 'file' passed to 'saveNifti' must end in \.nii or \.nii\.gz/);
    await expect(saveNifti(path.join(tmp, 'c.nii'), img, { gzip: true })).rejects.toThrow(/'options\.gzip' is true but the file name ends in \.nii/);
  });
});

describe('writeNifti argument errors', () => {
  const ok = { shape: [2, 2], data: [0, 1, 2, 3] };
  it.each([
    [{ ...ok, shape: [] }, {}, /'image\.shape' passed to 'writeNifti' must be 1 to 7 integers/],
    [{ ...ok, shape: [2, 0] }, {}, /'image\.shape'/],
    [{ shape: [40000], data: new Uint8Array(40000) }, {}, /use version 2 for larger dims/],
    [{ ...ok, data: [1, 2, 3] }, {}, /'image\.data' passed to 'writeNifti' must have prod\(shape\) \* channels = 4 values, got 3/],
    [{ ...ok, affine: [[1, 0], [0, 1]] }, {}, /'image\.affine' passed to 'writeNifti' must be a 4x4 array of finite numbers/],
    [{ ...ok, affine: [[1, 0, 0, 0], [0, 1, 0, 0], [0, 0, 1, 0], [0, 0, 1, 1]] }, {}, /last row \[0, 0, 0, 1\]/],
    [ok, { datatype: 'complex64' }, /'options\.datatype' passed to 'writeNifti' must be one of/],
    [ok, { datatype: 'rgb24' }, /rgb24 needs exactly 3 channels/],
    [ok, { datatype: 'int8', version: 3 }, /'options\.version' passed to 'writeNifti' must be 1 or 2/],
    [{ ...ok, data: [0, 1, 2, 1.5] }, { datatype: 'int16' }, /value 1\.5 at index 3, which int16 cannot hold exactly/],
    [{ ...ok, data: [0, 1, 2, -1] }, { datatype: 'uint32' }, /value -1 at index 3/],
    [{ ...ok, data: [0, 1, 2, 2 ** 60] }, { datatype: 'int64' }, /int64 cannot hold exactly/],
  ])('%#', (img, opts, re) => {
    expect(() => writeNifti(img as never, opts as never)).toThrow(re);
  });
});
