import { readFileSync, statSync } from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from '@jest/globals';
import { NiftiError, readNifti, type NiftiImage } from './index.js';
import { loadNifti } from './node.js';
import { FIXTURES, firstMismatch, fixtureJson, maxAbsDiff } from './test-utils/fixtures.js';

interface SynthCase {
  file: string;
  header?: string;
  shape: number[];
  dtype: string;
  data: (number | string)[];
  affine: number[][];
  zooms: number[];
  note?: string;
  version?: number;
  ext_code?: number;
  ext_text?: string;
}

const synthetic = fixtureJson<Record<string, SynthCase>>('synthetic.json');

const ARRAY_OF: Record<string, string> = {
  uint8: 'Uint8Array',
  int8: 'Int8Array',
  int16: 'Int16Array',
  uint16: 'Uint16Array',
  int32: 'Int32Array',
  uint32: 'Uint32Array',
  int64: 'Float64Array',
  uint64: 'Float64Array',
  float32: 'Float32Array',
  float64: 'Float64Array',
  rgb24: 'Uint8Array',
};

function expectNiftiError(f: () => unknown, file: string, problem: RegExp): void {
  let err: unknown;
  try {
    f();
  } catch (e) {
    err = e;
  }
  expect(err).toBeInstanceOf(NiftiError);
  expect((err as NiftiError).file).toBe(file);
  expect((err as NiftiError).problem).toMatch(problem);
  expect((err as NiftiError).message).toContain(file);
}

async function expectNiftiErrorAsync(p: Promise<unknown>, file: string, problem: RegExp): Promise<void> {
  let err: unknown;
  try {
    await p;
  } catch (e) {
    err = e;
  }
  expect(err).toBeInstanceOf(NiftiError);
  expect((err as NiftiError).file).toBe(file);
  expect((err as NiftiError).problem).toMatch(problem);
}

describe('readNifti on synthetic files written by nibabel', () => {
  it.each(Object.keys(synthetic))('%s', async (name) => {
    const c = synthetic[name]!;
    const img: NiftiImage = await loadNifti(path.join(FIXTURES, c.header ?? c.file));
    expect(img.shape).toEqual(c.shape);
    expect(img.data.constructor.name).toBe(ARRAY_OF[c.dtype] ?? 'Float64Array');
    if (c.dtype === 'rgb24') expect(img.channels).toBe(3);
    expect(firstMismatch(img.data, c.data)).toBe(-1);
    // sform affines are float32 values copied exactly; qform/base affines are
    // recomputed (nibabel uses long double): agree to 1e-12.
    expect(maxAbsDiff(img.affine, c.affine)).toBeLessThanOrEqual(1e-12);
    expect(img.spacing).toEqual(c.zooms);
    if (c.ext_code !== undefined) {
      expect(img.header.extensions).toHaveLength(1);
      expect(img.header.extensions[0]?.code).toBe(c.ext_code);
      expect(new TextDecoder().decode(img.header.extensions[0]?.data).replace(/\0+$/, '')).toBe(c.ext_text);
    }
  });

  it('reads both endiannesses and both versions to the same values', async () => {
    for (const dt of ['int16', 'float64', 'uint64']) {
      const le1 = await loadNifti(path.join(FIXTURES, 'synthetic', `v1-le-${dt}.nii${dt === 'int16' ? '.gz' : ''}`));
      const be2 = await loadNifti(path.join(FIXTURES, 'synthetic', `v2-be-${dt}.nii${dt === 'int16' ? '.gz' : ''}`));
      expect(le1.header.littleEndian).toBe(true);
      expect(be2.header.littleEndian).toBe(false);
      expect(be2.header.version).toBe(2);
      expect(le1.datatype).toBe(dt);
    }
  });

  it('applies scaling like nibabel (slope 0 / NaN = none; int or float + scaling -> Float64Array)', async () => {
    const s = await loadNifti(path.join(FIXTURES, 'synthetic/scale-int16-slope-inter.nii'));
    expect(s.data).toBeInstanceOf(Float64Array);
    expect(Array.from(s.data)).toEqual([-3 * 2.5 - 3, -3, 7 * 2.5 - 3, 247, -32768 * 2.5 - 3, 32767 * 2.5 - 3]);
    expect((await loadNifti(path.join(FIXTURES, 'synthetic/scale-int16-slope-zero.nii'))).data).toBeInstanceOf(Int16Array);
    expect((await loadNifti(path.join(FIXTURES, 'synthetic/scale-int16-slope-nan.nii'))).data).toBeInstanceOf(Int16Array);
    expect((await loadNifti(path.join(FIXTURES, 'synthetic/scale-uint8-identity.nii'))).data).toBeInstanceOf(Uint8Array);
    expect((await loadNifti(path.join(FIXTURES, 'synthetic/scale-float32-slope.nii'))).data).toBeInstanceOf(Float64Array);
  });
});

describe('nifti-reader-js traps are guarded', () => {
  it('reads a tiny .nii.gz synchronously (the async header reader can hang on small gzip files)', () => {
    const file = path.join(FIXTURES, 'synthetic/tiny.nii.gz');
    expect(statSync(file).size).toBeLessThan(540);
    const img = readNifti(readFileSync(file), { name: file });
    expect(img).not.toBeInstanceOf(Promise);
    expect(img.shape).toEqual([1]);
    expect(Array.from(img.data)).toEqual([42]);
  });

  it('uses dim[0]: junk in dim[3..7] of a 2-D file is ignored (nifti-reader-js multiplies dims[1..5])', () => {
    const file = path.join(FIXTURES, 'synthetic/junk-dims.nii');
    const img = readNifti(readFileSync(file), { name: file });
    expect(img.header.dim).toEqual([2, 4, 3, 0, 9, 7, 0, 0]);
    expect(img.shape).toEqual([4, 3]);
    expect(Array.from(img.data)).toEqual([0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11]);
  });

  it('does not take raw image data starting with 1f 8b for gzip (nifti-reader-js isCompressed is loose)', async () => {
    const hdr = path.join(FIXTURES, 'synthetic/pair-v1.hdr');
    const imgFile = path.join(FIXTURES, 'synthetic/pair-v1.img');
    const raw = readFileSync(imgFile);
    expect([raw[0], raw[1], raw[2]]).toEqual([0x1f, 0x8b, 0x08]);
    const viaPath = await loadNifti(imgFile);
    expect(Array.from(viaPath.data.slice(0, 4))).toEqual([31, 139, 8, 0]);
    const viaBytes = readNifti(readFileSync(hdr), { name: hdr, image: raw });
    expect(Array.from(viaBytes.data)).toEqual(Array.from(viaPath.data));
    // a byte 0x1f alone at offset 0 (nifti-reader-js would call that gzip) is data too
    const other = Uint8Array.from(raw);
    other[1] = 0;
    expect(readNifti(readFileSync(hdr), { name: hdr, image: other }).data[0]).toBe(31);
  });

  it('reads views into larger (pooled) buffers at their own offset', () => {
    const file = path.join(FIXTURES, 'synthetic/v1-le-int32.nii');
    const bytes = readFileSync(file);
    const big = new Uint8Array(bytes.length + 1000).fill(0xee);
    big.set(bytes, 501);
    const view = big.subarray(501, 501 + bytes.length);
    const pooled = Buffer.from(Uint8Array.from(readFileSync(path.join(FIXTURES, 'synthetic/tiny.nii.gz'))));
    const a = readNifti(view, { name: file });
    const b = readNifti(new Uint8Array(bytes), { name: file });
    expect(view.byteOffset).toBe(501);
    expect(Array.from(a.data)).toEqual(Array.from(b.data));
    // Buffer.from(...) of a small array lives in Node's shared pool
    expect(pooled.buffer.byteLength).toBeGreaterThan(pooled.length);
    expect(Array.from(readNifti(pooled).data)).toEqual([42]);
  });

  it('decodes every member of a multi-member gzip file', () => {
    const file = path.join(FIXTURES, 'synthetic/multi-member.nii.gz');
    const img = readNifti(readFileSync(file), { name: file });
    expect(img.shape).toEqual([4, 4, 2]);
  });
});

describe('bad input: each a NiftiError naming the file and the problem', () => {
  const good = path.join(FIXTURES, 'synthetic/v1-le-float64.nii');
  const goodBytes = () => Uint8Array.from(readFileSync(good));
  const goodGz = path.join(FIXTURES, 'synthetic/v1-le-int16.nii.gz');
  const name = 'bad.nii';
  const dv = (u: Uint8Array) => new DataView(u.buffer, u.byteOffset, u.byteLength);

  it('truncated data', () => {
    const b = goodBytes();
    expectNiftiError(() => readNifti(b.subarray(0, b.length - 9), { name }), name, /truncated or dims do not match the file size/);
  });
  it('truncated header', () => {
    expectNiftiError(() => readNifti(goodBytes().subarray(0, 200), { name }), name, /truncated: 200 bytes, a NIfTI-1 header needs 348/);
    expectNiftiError(() => readNifti(new Uint8Array(2), { name }), name, /truncated/);
  });
  it('wrong magic', () => {
    const b = goodBytes();
    b[344] = 0x78;
    expectNiftiError(() => readNifti(b, { name }), name, /magic is "x\+1"/);
  });
  it('not a NIfTI file at all (sizeof_hdr)', () => {
    expectNiftiError(() => readNifti(new TextEncoder().encode('hello world, this is not an image'.repeat(20)), { name }), name, /sizeof_hdr/);
  });
  it('corrupt gzip', () => {
    const b = Uint8Array.from(readFileSync(goodGz));
    for (let i = 30; i < 60; i++) b[i] = b[i]! ^ 0x5a;
    expectNiftiError(() => readNifti(b, { name: 'bad.nii.gz' }), 'bad.nii.gz', /gzip/);
  });
  it('truncated gzip', () => {
    const b = readFileSync(goodGz);
    expectNiftiError(() => readNifti(b.subarray(0, b.length - 20), { name: 'bad.nii.gz' }), 'bad.nii.gz', /gzip/);
  });
  it('gzip with a wrong CRC', () => {
    const b = Uint8Array.from(readFileSync(goodGz));
    b[b.length - 8] = b[b.length - 8]! ^ 1;
    expectNiftiError(() => readNifti(b, { name: 'bad.nii.gz' }), 'bad.nii.gz', /CRC-32 check failed/);
  });
  it('zero dims', () => {
    const b = goodBytes();
    dv(b).setInt16(44, 0, true);
    expectNiftiError(() => readNifti(b, { name }), name, /dim\[2\] is 0: dimensions must be >= 1/);
  });
  it('negative dims', () => {
    const b = goodBytes();
    dv(b).setInt16(42, -3, true);
    expectNiftiError(() => readNifti(b, { name }), name, /dim\[1\] is -3/);
  });
  it('dim[0] out of 1..7', () => {
    const b = goodBytes();
    dv(b).setInt16(40, 0, true);
    expectNiftiError(() => readNifti(b, { name }), name, /dim\[0\] .* is 0, must be 1\.\.7/);
    dv(b).setInt16(40, 8, true);
    expectNiftiError(() => readNifti(b, { name }), name, /dim\[0\] .* is 8/);
  });
  it('a dims product larger than the file holds', () => {
    const b = goodBytes();
    dv(b).setInt16(46, 6, true); // 3x4x6 float64 instead of 3x4x5
    expectNiftiError(() => readNifti(b, { name }), name, /dims \[3,4,6\] of float64 need 576 bytes of voxel data from offset 352, but only 480 are there/);
  });
  it('vox_offset past the end', () => {
    const b = goodBytes();
    dv(b).setFloat32(108, 100000, true);
    expectNiftiError(() => readNifti(b, { name }), name, /vox_offset 100000 is past the end of the file \(832 bytes\)/);
  });
  it('vox_offset inside the header', () => {
    const b = goodBytes();
    dv(b).setFloat32(108, 0, true);
    expectNiftiError(() => readNifti(b, { name }), name, /vox_offset is 0, but the data of a single NIfTI-1 file cannot start before byte 352/);
  });
  it('unsupported datatype', () => {
    const b = goodBytes();
    dv(b).setInt16(70, 32, true);
    expectNiftiError(() => readNifti(b, { name }), name, /unsupported datatype 32 \(complex64\)/);
    dv(b).setInt16(70, 17, true);
    expectNiftiError(() => readNifti(b, { name }), name, /unknown datatype code 17/);
  });
  it('int64 values that float64 cannot hold exactly', () => {
    const file = path.join(FIXTURES, 'synthetic/v1-le-int64.nii');
    const b = Uint8Array.from(readFileSync(file));
    dv(b).setBigInt64(352, 2n ** 60n, true);
    expectNiftiError(() => readNifti(b, { name }), name, /int64 voxel 0 has value 1152921504606846976/);
  });
  it('valid slope with a non-finite intercept (nibabel refuses it too)', () => {
    const b = goodBytes();
    dv(b).setFloat32(112, 2, true);
    dv(b).setFloat32(116, Infinity, true);
    expectNiftiError(() => readNifti(b, { name }), name, /invalid scl_inter Infinity/);
  });
  it('an invalid qform quaternion', () => {
    const file = path.join(FIXTURES, 'synthetic/qform-only.nii');
    const b = Uint8Array.from(readFileSync(file));
    dv(b).setFloat32(256, 0.9, true);
    dv(b).setFloat32(260, 0.9, true);
    expectNiftiError(() => readNifti(b, { name }), name, /invalid qform quaternion/);
  });
  it('a pair header without its image', async () => {
    const hdr = path.join(FIXTURES, 'synthetic/pair-v1.hdr');
    expectNiftiError(() => readNifti(readFileSync(hdr), { name: hdr }), hdr, /no image data was given/);
    const lonely = path.join(FIXTURES, 'synthetic/nothing-here.hdr');
    await expectNiftiErrorAsync(loadNifti(lonely), lonely, /file not found/);
  });
  it('a missing file', async () => {
    const f = path.join(FIXTURES, 'does-not-exist.nii.gz');
    await expectNiftiErrorAsync(loadNifti(f), f, /file not found/);
  });
  it('wrong argument types are TypeErrors naming the argument', () => {
    expect(() => readNifti('x' as unknown as Uint8Array)).toThrow(/'bytes' passed to 'readNifti' must be a Uint8Array or an ArrayBuffer/);
  });
});
