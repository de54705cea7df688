// Golden tests: fixtures written by Debian's PyTorch 1.13 (tools/torch-pt/make_fixtures.py),
// expected names, dtypes, shapes and values as torch itself reports them. Compared exactly.
import { describe, expect, it } from '@jest/globals';
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { TorchFileError } from './errors.js';
import { PickleOpaque } from './pickle.js';
import { TorchTensor, readTorchFile, readTorchStateDict } from './read.js';
import type { TorchValue } from './read.js';
import { readZip } from './zip.js';

const dir = fileURLToPath(new URL('../../test/fixtures/torch/', import.meta.url));
const fixture = (name: string): Uint8Array => readFileSync(dir + name);

interface Expected {
  dtype: string;
  shape: number[];
  values: (number | string | boolean)[];
  bits?: number[];
}
const expected = JSON.parse(readFileSync(dir + 'expected.json', 'utf8')) as Record<string, Record<string, Expected>>;

/** Expected values decoded as the reader returns them (numbers, bigints, 0/1). */
function decode(e: Expected): (number | bigint)[] {
  return e.values.map((v) => {
    if (e.dtype === 'int64') return BigInt(v as string);
    if (typeof v === 'boolean') return v ? 1 : 0;
    if (v === 'nan') return NaN;
    if (v === 'inf') return Infinity;
    if (v === '-inf') return -Infinity;
    return v as number;
  });
}

function expectTensor(t: TorchTensor | undefined, e: Expected, name: string): void {
  expect(t).toBeInstanceOf(TorchTensor);
  const tensor = t as TorchTensor;
  expect({ name, dtype: tensor.storedDtype, shape: tensor.shape }).toEqual({ name, dtype: e.dtype, shape: e.shape });
  if (e.bits) {
    expect(tensor.data).toBeInstanceOf(Uint16Array);
    expect(Array.from(tensor.data as Uint16Array)).toEqual(e.bits);
  } else {
    expect(Array.from(tensor.data as ArrayLike<number | bigint>)).toEqual(decode(e));
  }
}

function expectStateDict(sd: Map<string, TorchTensor>, exp: Record<string, Expected>): void {
  const names = Object.keys(exp).filter((k) => !k.startsWith('_'));
  expect([...sd.keys()].sort()).toEqual(names.sort());
  for (const name of names) expectTensor(sd.get(name), exp[name]!, name);
}

describe('readTorchStateDict (golden, PyTorch 1.13)', () => {
  it.each(['tiny.pt', 'dtypes.pt', 'views.pt', 'params.pt', 'protocol4.pt', 'deflated.pt', 'bigendian.pt', 'zip64.pt', 'legacy.pt', 'from_type_v2.pt'])(
    'reads %s exactly',
    (file) => {
      const sd = readTorchStateDict(fixture(file), { fileName: file });
      expectStateDict(sd, expected[file]!);
    },
  );

  it('keeps the file order of names and the typed array of each dtype', () => {
    const sd = readTorchStateDict(fixture('dtypes.pt'));
    expect([...sd.keys()]).toEqual(['f32', 'f16', 'bf16', 'f64', 'i64', 'i32', 'i16', 'i8', 'u8', 'bool', 'scalar', 'empty']);
    const types = Object.fromEntries([...sd].map(([k, t]) => [k, [t.dtype, t.data.constructor.name]]));
    expect(types).toEqual({
      f32: ['float32', 'Float32Array'],
      f16: ['float16', 'Uint16Array'],
      bf16: ['bfloat16', 'Uint16Array'],
      f64: ['float64', 'Float64Array'],
      i64: ['int64', 'BigInt64Array'],
      i32: ['int32', 'Int32Array'],
      i16: ['int16', 'Int16Array'],
      i8: ['int8', 'Int8Array'],
      u8: ['uint8', 'Uint8Array'],
      bool: ['bool', 'Uint8Array'],
      scalar: ['float32', 'Float32Array'],
      empty: ['float32', 'Float32Array'],
    });
    expect(sd.get('scalar')?.shape).toEqual([]);
    expect(sd.get('empty')?.data.length).toBe(0);
  });

  it('widens float16 and bfloat16 exactly and rounds float64 with toFloat32', () => {
    const sd = readTorchStateDict(fixture('dtypes.pt'), { toFloat32: true });
    for (const name of ['f16', 'bf16', 'f64']) {
      const t = sd.get(name) as TorchTensor;
      const e = expected['dtypes.pt']![name]!;
      expect(t.dtype).toBe('float32');
      expect(t.storedDtype).toBe(e.dtype);
      expect(t.data).toBeInstanceOf(Float32Array);
      // float16/bfloat16: torch's own float32 widening (exact); float64: round to nearest float32.
      const want = decode(e).map((v) => (name === 'f64' ? Math.fround(v as number) : v));
      expect(Array.from(t.data as Float32Array)).toEqual(want);
    }
    // Other dtypes are untouched.
    expect(sd.get('i64')?.data).toBeInstanceOf(BigInt64Array);
    expect(sd.get('f32')?.dtype).toBe('float32');
  });

  it('returns independent copies of views that share a storage', () => {
    const sd = readTorchStateDict(fixture('views.pt'));
    const whole = sd.get('shared_whole') as TorchTensor;
    const tail = sd.get('shared_tail') as TorchTensor;
    (whole.data as Float32Array)[5] = 100;
    expect((tail.data as Float32Array)[1]).toBe(5);
    expect(whole.data.buffer).not.toBe(tail.data.buffer);
  });

  it("strips DataParallel's 'module.' prefix by default", () => {
    const sd = readTorchStateDict(fixture('dataparallel.pt'));
    const exp = Object.fromEntries(Object.entries(expected['dataparallel.pt']!).map(([k, v]) => [k.slice('module.'.length), v]));
    expectStateDict(sd, exp);
    const kept = readTorchStateDict(fixture('dataparallel.pt'), { stripPrefix: false });
    expectStateDict(kept, expected['dataparallel.pt']!);
  });

  it('strips a prefix only when every name has it', () => {
    const sd = readTorchStateDict(fixture('tiny.pt'), { stripPrefix: 'conv.' });
    expect([...sd.keys()]).toContain('conv.weight');
    const all = readTorchStateDict(fixture('dataparallel.pt'), { stripPrefix: 'module.conv.' });
    expect([...all.keys()]).toContain('module.conv.weight');
  });

  it('selects a state dict nested in a checkpoint with key', () => {
    const ckpt = fixture('checkpoint.pt');
    expectStateDict(readTorchStateDict(ckpt, { key: 'model' }), expected['checkpoint.pt']!.model as unknown as Record<string, Expected>);
    expectStateDict(
      readTorchStateDict(ckpt, { key: ['ema', 'state_dict'] }),
      expected['checkpoint.pt']!['ema.state_dict'] as unknown as Record<string, Expected>,
    );
  });

  it('explains how to pick the state dict of a checkpoint', () => {
    const ckpt = fixture('checkpoint.pt');
    expect(() => readTorchStateDict(ckpt, { fileName: 'ckpt.pt' })).toThrow(
      /'ckpt\.pt'.*not a state dict.*'step': number.*pass the option key: 'model' or \['ema', 'state_dict'\]/,
    );
    expect(() => readTorchStateDict(ckpt, { key: 'nope' })).toThrow(/has no key 'nope' \(keys: 'model', 'step'/);
    expect(() => readTorchStateDict(ckpt, { key: 'step' })).toThrow(/key 'step' is a number, not a state dict/);
    expect(() => readTorchStateDict(ckpt, { key: ['step', 'x'] })).toThrow(/key 'step' is a number, not a dict, so it has no key 'x'/);
  });
});

describe('readTorchFile', () => {
  it('reads the plain values of a training checkpoint', () => {
    const v = readTorchFile(fixture('checkpoint.pt')) as Map<string, TorchValue>;
    expect(v).toBeInstanceOf(Map);
    expect([...v.keys()]).toEqual(['model', 'step', 'loss', 'name', 'flags', 'betas', 'optimizer', 'ema']);
    expect(v.get('step')).toBe(10);
    expect(v.get('loss')).toBe(0.25);
    expect(v.get('name')).toBe('run-1');
    expect(v.get('flags')).toEqual([true, false, null]);
    expect(v.get('betas')).toEqual([0.9, 0.999]);
    expect((v.get('ema') as Map<string, TorchValue>).get('decay')).toBe(0.9999);
    const opt = v.get('optimizer') as Map<string, TorchValue>;
    const state = opt.get('state') as Map<number, TorchValue>;
    const s0 = state.get(0) as Map<string, TorchValue>; // int keys stay numbers
    const e = expected['checkpoint.pt']!;
    expectTensor(s0.get('exp_avg') as TorchTensor, e['optimizer.state.0.exp_avg']!, 'exp_avg');
    const group = (opt.get('param_groups') as Map<string, TorchValue>[])[0]!;
    expect(group.get('lr')).toBe(e['optimizer.param_groups.0.lr']);
    expect(group.get('params')).toEqual(e['optimizer.param_groups.0.params']);
  });

  it('accepts an ArrayBuffer', () => {
    const b = fixture('tiny.pt');
    const copy = new Uint8Array(b).buffer; // an ArrayBuffer holding exactly the file
    expectStateDict(readTorchStateDict(copy), expected['tiny.pt']!);
  });

  it('reads unknown classes as inert placeholders only when asked', () => {
    expect(readTorchFile(fixture('whole_module.pt'), { unknownGlobals: 'placeholder' })).toEqual(new PickleOpaque('__main__.Tiny'));
    expect(readTorchFile(fixture('evil.pt'), { unknownGlobals: 'placeholder' })).toEqual(new PickleOpaque('os.system'));
  });
});

describe('errors', () => {
  const fails = (file: string, bytes: Uint8Array, re: RegExp, verifyChecksums = true): void => {
    let err: unknown;
    try {
      readTorchStateDict(bytes, { fileName: file, verifyChecksums });
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(TorchFileError);
    expect((err as TorchFileError).file).toBe(file);
    expect((err as Error).message).toContain(`'${file}'`);
    expect((err as Error).message).toMatch(re);
  };

  it('refuses a truncated file', () => {
    fails('truncated.pt', fixture('truncated.pt'), /truncated/);
    const full = fixture('tiny.pt');
    fails('cut.pt', full.subarray(0, full.length - 3), /truncated or corrupt/);
    fails('tiny.pt', full.subarray(0, 10), /truncated/);
  });

  it('names a missing data/ entry', () => {
    fails('missing_storage.pt', fixture('missing_storage.pt'), /storage '0' \(torch\.FloatStorage\) has no entry 'tiny\/data\/0'/);
  });

  it('refuses any global other than tensors and containers, naming it, without executing it', () => {
    fails('whole_module.pt', fixture('whole_module.pt'), /unsupported pickled global '__main__\.Tiny'.*offset 2 of 'whole_module\/data\.pkl'/);
    fails('evil.pt', fixture('evil.pt'), /unsupported pickled global 'os\.system'/);
  });

  it('refuses unsupported storage types', () => {
    fails('complex.pt', fixture('complex.pt'), /unsupported tensor storage type 'torch\.ComplexFloatStorage'/);
  });

  it('does not take an inherited object key (torch.constructor) for a storage type', () => {
    fails('inherited_key.pt', fixture('inherited_key.pt'), /unsupported pickled global 'torch\.constructor'/);
  });

  it('refuses a truncated legacy-format file', () => {
    const full = fixture('legacy.pt');
    fails('legacy.pt', full.subarray(0, full.length - 3), /truncated \(storage '\d+' needs \d+ bytes at offset \d+, the file has \d+\)/);
    fails('legacy.pt', full.subarray(0, 100), /truncated/);
  });

  it('refuses a pickle that is not a torch.save file, and the pre-0.4 tar format', () => {
    // pickle.dumps({'a': 1}, protocol=2)
    fails('x.pkl', Uint8Array.from([0x80, 0x02, 0x7d, 0x71, 0x00, 0x58, 0x01, 0, 0, 0, 0x61, 0x71, 0x01, 0x4b, 0x01, 0x73, 0x2e]), /not a torch\.save file: it is a pickle/);
    const tar = new Uint8Array(1024);
    tar.set(new TextEncoder().encode('ustar'), 257);
    fails('old.tar', tar, /tar-based torch\.save format of PyTorch < 0\.4/);
  });

  it('refuses bytes that are not a zip archive', () => {
    fails('x.bin', new TextEncoder().encode('hello world, not a torch file'), /not a PyTorch zip archive/);
    expect(() => readTorchStateDict('nope' as unknown as Uint8Array)).toThrow(/'bytes' passed to 'readTorchFile' must be/);
  });

  it('detects corrupt storage data with the CRC-32 check', () => {
    const bytes = new Uint8Array(fixture('tiny.pt')); // a copy, at byte offset 0
    const zip = readZip(bytes, 'tiny.pt');
    const entry = zip.entries.get('tiny/data/0');
    if (!entry) throw new Error('fixture has no tiny/data/0');
    const view = new DataView(bytes.buffer);
    const start = entry.localHeaderOffset + 30 + view.getUint16(entry.localHeaderOffset + 26, true) + view.getUint16(entry.localHeaderOffset + 28, true);
    bytes[start]! ^= 0x55;
    fails('tiny.pt', bytes, /zip entry 'tiny\/data\/0' fails its CRC-32 check/);
    expect(readTorchStateDict(bytes, { verifyChecksums: false }).size).toBe(11);
  });

  it('refuses a tensor view that exceeds its storage', () => {
    // Shrink the storage element count in the pickle (numel 108 -> 100): the conv weight no longer fits.
    const bytes = new Uint8Array(fixture('tiny.pt')); // a copy, at byte offset 0
    const zip = readZip(bytes, 'tiny.pt');
    const pkl = zip.read('tiny/data.pkl');
    const conv = expected['tiny.pt']!['conv.weight']!.values.length;
    const at = pkl.findIndex((b, i) => b === 0x4b && pkl[i + 1] === conv && pkl[i + 2] === 0x74); // BININT1 108 TUPLE
    expect(at).toBeGreaterThan(0);
    pkl[at + 1] = 100;
    fails('tiny.pt', bytes, /_rebuild_tensor_v2: tensor of size \[4, 3, 3, 3\], stride \[27, 9, 3, 1\] at offset 0 exceeds its storage '0' of 100 elements/, false);
  });
});
