// The unpickler against CPython's pickler: pickle.dumps output at protocols
// 2-5 (tools/torch-pt/make_fixtures.py -> pickles.json), plus error paths.
import { describe, expect, it } from '@jest/globals';
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { TorchFileError } from './errors.js';
import { unpickle } from './pickle.js';
import type { PickleGlobal, UnpickleOptions } from './pickle.js';

const dir = fileURLToPath(new URL('../../test/fixtures/torch/', import.meta.url));
const cases = JSON.parse(readFileSync(dir + 'pickles.json', 'utf8')) as { name: string; protocol: number; pickle: string; value: unknown }[];

/** The same globals torch files may use for plain values (see read.ts). */
const plainGlobals = (module: string, name: string): PickleGlobal | undefined => {
  const fullName = `${module}.${name}`;
  if (fullName === 'collections.OrderedDict') return { fullName, call: () => new Map(), create: () => new Map() };
  if (fullName === '_codecs.encode') return { fullName, call: ([s]) => Uint8Array.from(s as string, (c) => c.charCodeAt(0)) };
  if (fullName === '__builtin__.bytes' || fullName === 'builtins.bytes') return { fullName, call: () => new Uint8Array(0) };
  return undefined;
};
const opts: UnpickleOptions = { file: 'test.pkl', resolveGlobal: plainGlobals };

/** Tagged JSON of an unpickled value, as tools/torch-pt/make_fixtures.py's `tag` writes it. */
function tag(v: unknown): unknown {
  if (v === null || typeof v === 'boolean' || typeof v === 'string') return v;
  if (typeof v === 'bigint') return { $int: v.toString() };
  if (typeof v === 'number') {
    if (Number.isNaN(v)) return { $float: 'nan' };
    if (!Number.isFinite(v)) return { $float: v > 0 ? 'inf' : '-inf' };
    return Object.is(v, -0) ? { $float: -0 } : v;
  }
  if (v instanceof Uint8Array) return { $bytes: Buffer.from(v).toString('base64') };
  if (Array.isArray(v)) return v.map(tag);
  if (v instanceof Map) return { $dict: [...v].map(([k, x]) => [tag(k), tag(x)]) };
  throw new Error(`unexpected value ${String(v)}`);
}

describe('unpickle (golden, CPython pickle)', () => {
  it.each(cases.map((c) => [c.name, c] as const))('reads %s', (_name, c) => {
    const value = unpickle(new Uint8Array(Buffer.from(c.pickle, 'base64')), opts);
    expect(tag(value)).toEqual(c.value);
  });

  it('keeps shared references shared (memo)', () => {
    const c = cases.find((x) => x.name === 'shared-p2');
    const v = unpickle(new Uint8Array(Buffer.from(c?.pickle ?? '', 'base64')), opts) as unknown[];
    expect(v[0]).toBe(v[1]);
    expect((v[2] as Map<string, unknown>).get('x')).toBe(v[0]);
  });
});

describe('unpickle errors', () => {
  const err = (bytes: number[], o: Partial<UnpickleOptions> = {}): TorchFileError => {
    try {
      unpickle(new Uint8Array(bytes), { ...opts, entry: 'a/data.pkl', ...o });
    } catch (e) {
      expect(e).toBeInstanceOf(TorchFileError);
      return e as TorchFileError;
    }
    throw new Error('did not throw');
  };

  it('names an unsupported opcode with its byte value and offset', () => {
    // PROTO 2, EMPTY_DICT, then EXT1 (0x82), which torch never writes.
    expect(err([0x80, 0x02, 0x7d, 0x82, 0x01]).message).toBe(
      "cannot read PyTorch file 'test.pkl': unsupported pickle opcode 0x82 (at offset 3 of 'a/data.pkl')",
    );
    expect(err([0x80, 0x02, 0x69]).message).toMatch(/unsupported pickle opcode 0x69 \('i'\) \(at offset 2 of/);
  });

  it('refuses a global that is not allowed, naming it', () => {
    const g = [...'cposix\nsystem\n'].map((c) => c.charCodeAt(0));
    expect(err([0x80, 0x02, ...g]).message).toMatch(/unsupported pickled global 'posix\.system'.*\(at offset 2 of 'a\/data\.pkl'\)/);
  });

  it('refuses to call a global that has no call handler', () => {
    const g = [...'cm\nT\n'].map((c) => c.charCodeAt(0));
    const resolveGlobal = (m: string, n: string): PickleGlobal => ({ fullName: `${m}.${n}` });
    expect(err([0x80, 0x02, ...g, 0x29, 0x52, 0x2e], { resolveGlobal }).message).toMatch(/'m\.T' cannot be called \(REDUCE\)/);
    expect(err([0x80, 0x02, ...g, 0x29, 0x81, 0x2e], { resolveGlobal }).message).toMatch(/'m\.T' cannot be instantiated \(NEWOBJ\)/);
    expect(err([0x80, 0x02, 0x4b, 0x01, 0x29, 0x52, 0x2e]).message).toMatch(/REDUCE applied to a value that is not a pickled global/);
  });

  it('refuses persistent ids without a loader', () => {
    expect(err([0x80, 0x02, 0x4b, 0x01, 0x51, 0x2e]).message).toMatch(/persistent ids \(BINPERSID\) are not allowed/);
  });

  it('detects truncation and corruption', () => {
    expect(err([0x80, 0x02, 0x58, 0x05, 0x00, 0x00, 0x00, 0x61]).message).toMatch(/truncated \(needs 5 more bytes at offset 7, has 1\)/);
    expect(err([0x80, 0x02, 0x7d]).message).toMatch(/truncated \(no STOP opcode\)/);
    expect(err([0x80, 0x02, 0x68, 0x03]).message).toMatch(/memo key 3 is not set/);
    expect(err([0x80, 0x02, 0x2e]).message).toMatch(/stack underflow/);
    expect(err([0x80, 0x02, 0x74]).message).toMatch(/no MARK/);
    expect(err([0x80, 0x06]).message).toMatch(/unsupported pickle protocol 6/);
    expect(err([0x80, 0x02, 0x4b, 0x01, 0x4b, 0x01, 0x4b, 0x02, 0x73, 0x2e]).message).toMatch(/SETITEM\(S\) applied to a value that is not a dict/);
  });

  it('reads protocol 0 text opcodes', () => {
    // pickle.dumps([1, True, 12345678901234567890, 1.5, {'k\u00e9\U0001f9e0': -3}], protocol=0) plus a GET.
    const text = '(lp0\nI1\naI01\naL12345678901234567890L\naF1.5\na(dp1\nVk\xe9\\U0001f9e0\np2\nI-3\nsag2\na.';
    const v = unpickle(Uint8Array.from(text, (c) => c.charCodeAt(0)), opts);
    expect(v).toEqual([1, true, 12345678901234567890n, 1.5, new Map([['k\u00e9\u{1f9e0}', -3]]), 'k\u00e9\u{1f9e0}']);
  });
});
