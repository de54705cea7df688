import { describe, expect, it } from '@jest/globals';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import {
  SafetensorsError, float16ToNumber, loadSafetensors, numberToFloat16, readSafetensors, saveSafetensors, writeSafetensors,
} from './safetensors.js';

const fixtures = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../test/fixtures');
const bytes = fs.readFileSync(path.join(fixtures, 'sample.safetensors'));
const expected = JSON.parse(fs.readFileSync(path.join(fixtures, 'sample.safetensors.json'), 'utf8')) as {
  metadata: Record<string, string>;
  tensors: Record<string, { dtype: string; shape: number[]; values: (number | string)[] }>;
};

describe('readSafetensors against a numpy-written fixture', () => {
  const file = readSafetensors(bytes, { source: 'sample.safetensors' });

  it('reads metadata and the tensor list in file order', () => {
    expect(file.metadata).toEqual(expected.metadata);
    expect([...file.tensors.keys()]).toEqual(Object.keys(expected.tensors));
  });

  it.each(Object.keys(expected.tensors))('tensor %s: dtype, shape and exact values', (name) => {
    const t = file.tensors.get(name)!;
    const e = expected.tensors[name]!;
    expect(t.dtype).toBe(e.dtype);
    expect(t.shape).toEqual(e.shape);
    if (e.dtype === 'I64') {
      expect(Array.from(t.data as BigInt64Array, String)).toEqual(e.values);
    } else if (e.dtype === 'F32') {
      // float32 values printed by numpy as doubles round-trip exactly through Math.fround.
      expect(Array.from(t.data as Float32Array)).toEqual((e.values as number[]).map(Math.fround));
    } else {
      expect(Array.from(t.data as ArrayLike<number>)).toEqual(e.values);
    }
  });

  it('widens F16/BF16 to Float32Array and narrows F64 on request', () => {
    expect(file.tensors.get('half')!.data).toBeInstanceOf(Float32Array);
    expect(file.tensors.get('brain')!.data).toBeInstanceOf(Float32Array);
    expect(file.tensors.get('double')!.data).toBeInstanceOf(Float64Array);
    expect(readSafetensors(bytes, { widenToFloat32: true }).tensors.get('double')!.data).toBeInstanceOf(Float32Array);
  });
});

describe('writeSafetensors', () => {
  it('round-trips every dtype exactly, with metadata', () => {
    const src = readSafetensors(bytes);
    const again = readSafetensors(writeSafetensors(src.tensors, { metadata: src.metadata }));
    expect(again.metadata).toEqual(src.metadata);
    for (const [name, t] of src.tensors) {
      const u = again.tensors.get(name)!;
      expect(u.dtype).toBe(t.dtype);
      expect(u.shape).toEqual(t.shape);
      expect(Array.from(u.data as ArrayLike<number>)).toEqual(Array.from(t.data as ArrayLike<number>));
    }
  });

  it('pads the header to 8 bytes like the reference writer', () => {
    const out = writeSafetensors({ a: { shape: [1], data: new Float32Array([1]) } });
    const n = Number(new DataView(out.buffer).getBigUint64(0, true));
    expect(n % 8).toBe(0);
  });

  it('stores floats as F16 on request (round to nearest even)', () => {
    const values = new Float32Array([0, 1, -2.5, 65504, 1e-7, 3.14159]);
    const t = readSafetensors(writeSafetensors({ w: { shape: [6], data: values } }, { floatDtype: 'F16' })).tensors.get('w')!;
    expect(t.dtype).toBe('F16');
    const got = Array.from(t.data as Float32Array);
    // Independent expectation: numpy's float16 of these values.
    expect(got).toEqual([0, 1, -2.5, 65504, 1.1920928955078125e-7, 3.140625]);
  });

  it('half-precision helpers handle subnormals, infinities and NaN', () => {
    expect(float16ToNumber(0x0001)).toBe(2 ** -24);
    expect(float16ToNumber(0x7c00)).toBe(Infinity);
    expect(Number.isNaN(float16ToNumber(0x7e00))).toBe(true);
    expect(numberToFloat16(1e6)).toBe(0x7c00);
    expect(numberToFloat16(-0)).toBe(0x8000);
  });

  it('rejects a shape/data mismatch naming the tensor', () => {
    expect(() => writeSafetensors({ w: { shape: [2, 2], data: new Float32Array(3) } })).toThrow(/'w' has 3 values but shape \[2,2\] needs 4/);
  });
});

describe('bad safetensors input', () => {
  const cases: [string, Uint8Array, RegExp][] = [
    ['shorter than 8 bytes', bytes.subarray(0, 5), /truncated: 5 bytes/],
    ['truncated data', bytes.subarray(0, bytes.length - 3), /truncated: tensor/],
    ['header length past the end', (() => { const b = new Uint8Array(bytes); new DataView(b.buffer).setBigUint64(0, 10n ** 9n, true); return b; })(), /header length/],
    ['garbage header', (() => { const b = new Uint8Array(bytes); b[9] = 0xff; return b; })(), /not valid UTF-8 JSON/],
  ];
  it.each(cases)('%s', (_name, data, re) => {
    expect(() => readSafetensors(data, { source: 'bad.safetensors' })).toThrow(SafetensorsError);
    expect(() => readSafetensors(data, { source: 'bad.safetensors' })).toThrow(re);
    expect(() => readSafetensors(data, { source: 'bad.safetensors' })).toThrow(/^bad\.safetensors: /);
  });

  it('rejects an unsupported dtype and wrong offsets', () => {
    const mk = (h: object, dataLen: number) => {
      const j = new TextEncoder().encode(JSON.stringify(h));
      const b = new Uint8Array(8 + j.length + dataLen);
      new DataView(b.buffer).setBigUint64(0, BigInt(j.length), true);
      b.set(j, 8);
      return b;
    };
    expect(() => readSafetensors(mk({ a: { dtype: 'C64', shape: [1], data_offsets: [0, 8] } }, 8))).toThrow(/unsupported dtype "C64"/);
    expect(() => readSafetensors(mk({ a: { dtype: 'F32', shape: [2], data_offsets: [0, 4] } }, 8))).toThrow(/needs 8/);
    expect(() => readSafetensors(mk({ a: { dtype: 'F32', shape: [1], data_offsets: [0, 4] }, b: { dtype: 'F32', shape: [1], data_offsets: [2, 6] } }, 8))).toThrow(/overlap/);
  });
});

describe('loadSafetensors / saveSafetensors', () => {
  it('saves atomically and loads back; a missing file names the path', async () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'tc-st-'));
    const p = path.join(dir, 'w.safetensors');
    await saveSafetensors(p, { x: { shape: [2], data: new Float32Array([1, 2]) } });
    expect(fs.readdirSync(dir)).toEqual(['w.safetensors']);
    const f = await loadSafetensors(p);
    expect(Array.from(f.tensors.get('x')!.data as Float32Array)).toEqual([1, 2]);
    await expect(loadSafetensors(path.join(dir, 'nope.safetensors'))).rejects.toThrow(/nope\.safetensors: cannot read \(ENOENT\)/);
    fs.rmSync(dir, { recursive: true });
  });
});
