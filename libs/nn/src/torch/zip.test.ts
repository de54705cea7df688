// The ZIP reader against archives written by PyTorch and by Python's zipfile.
import { describe, expect, it } from '@jest/globals';
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { TorchFileError } from './errors.js';
import { crc32, isZip, readZip } from './zip.js';

const dir = fileURLToPath(new URL('../../test/fixtures/torch/', import.meta.url));
/** A copy of a fixture, at byte offset 0 of its own buffer. */
const fixture = (name: string): Uint8Array => new Uint8Array(readFileSync(dir + name));

describe('readZip', () => {
  it('lists the entries of a torch.save archive', () => {
    const zip = readZip(fixture('tiny.pt'), 'tiny.pt');
    const names = [...zip.entries.keys()];
    expect(names[0]).toBe('tiny/data.pkl');
    expect(names).toContain('tiny/version');
    expect(names.filter((n) => n.startsWith('tiny/data/')).length).toBe(11);
    expect(new TextDecoder().decode(zip.read('tiny/version')).trim()).toBe('3');
    // conv.weight: 4 x 3 x 3 x 3 float32.
    expect(zip.entries.get('tiny/data/0')?.size).toBe(108 * 4);
  });

  it('reads deflated and ZIP64 archives to the same bytes', () => {
    const stored = readZip(fixture('tiny.pt'), 'tiny.pt');
    for (const file of ['deflated.pt', 'zip64.pt']) {
      const other = readZip(fixture(file), file);
      expect([...other.entries.keys()]).toEqual([...stored.entries.keys()]);
      for (const name of stored.entries.keys()) expect(other.read(name)).toEqual(stored.read(name));
    }
    expect(readZip(fixture('deflated.pt'), 'd').entries.get('tiny/data/0')?.method).toBe(8);
  });

  it('refuses truncated archives and missing entries', () => {
    const bytes = fixture('tiny.pt');
    expect(() => readZip(bytes.subarray(0, 21), 'a.pt')).toThrow(/'a\.pt'.*truncated \(21 bytes/);
    expect(() => readZip(bytes.subarray(0, bytes.length - 1), 'a.pt')).toThrow(/truncated or corrupt \(no end of central directory record\)/);
    expect(() => readZip(bytes, 'a.pt').read('tiny/data/99')).toThrow(TorchFileError);
    expect(() => readZip(bytes, 'a.pt').read('tiny/data/99')).toThrow(/has no entry 'tiny\/data\/99'/);
  });

  it('refuses unsupported compression methods and encryption', () => {
    const bytes = fixture('tiny.pt');
    const view = new DataView(bytes.buffer);
    const zip = readZip(bytes, 'a.pt');
    const cd = bytes.length - 22 - 0; // the EOCD has no comment
    const cdOffset = view.getUint32(cd + 16, true);
    expect(view.getUint32(cdOffset, true)).toBe(0x02014b50);
    view.setUint16(cdOffset + 10, 12, true); // first entry: bzip2
    expect(() => readZip(bytes, 'a.pt').read('tiny/data.pkl')).toThrow(/unsupported compression method 12/);
    view.setUint16(cdOffset + 10, 0, true);
    view.setUint16(cdOffset + 8, 1, true); // encrypted
    expect(() => readZip(bytes, 'a.pt').read('tiny/data.pkl')).toThrow(/'tiny\/data\.pkl' is encrypted/);
    expect(zip.entries.size).toBeGreaterThan(0);
  });

  it('refuses entries whose sizes disagree with their data', () => {
    const bytes = fixture('deflated.pt');
    const view = new DataView(bytes.buffer);
    const cdOffset = view.getUint32(bytes.length - 22 + 16, true);
    view.setUint32(cdOffset + 24, 0x7fffffff, true); // first entry's uncompressed size
    expect(() => readZip(bytes, 'a.pt').read('tiny/data.pkl')).toThrow(/'tiny\/data\.pkl' is corrupt \(2147483647 bytes cannot inflate from \d+\)/);
    const stored = fixture('tiny.pt');
    const sview = new DataView(stored.buffer);
    const scd = sview.getUint32(stored.length - 22 + 16, true);
    sview.setUint32(scd + 24, sview.getUint32(scd + 24, true) + 1, true);
    expect(() => readZip(stored, 'a.pt').read('tiny/data.pkl')).toThrow(/'tiny\/data\.pkl' has \d+ bytes, its directory says \d+/);
  });

  it('recognises the zip signature', () => {
    expect(isZip(fixture('tiny.pt'))).toBe(true);
    expect(isZip(fixture('legacy.pt'))).toBe(false);
    expect(isZip(new Uint8Array(0))).toBe(false);
  });
});

describe('crc32', () => {
  it('matches the standard check value and the archive directory', () => {
    expect(crc32(new TextEncoder().encode('123456789'))).toBe(0xcbf43926);
    expect(crc32(new Uint8Array(0))).toBe(0);
    const zip = readZip(fixture('tiny.pt'), 'tiny.pt');
    for (const e of zip.entries.values()) expect(crc32(zip.read(e.name, false))).toBe(e.crc32);
  });
});
