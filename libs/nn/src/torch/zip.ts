// A minimal ZIP reader for PyTorch archives: central directory (ZIP64 too),
// stored and deflate entries, CRC-32 check. Pure and browser-safe.
import CRC32 from 'crc-32';
import { inflateSync } from 'fflate';
import { TorchFileError } from './errors.js';

/** One file entry of a ZIP archive, as listed by its central directory. */
export interface ZipEntry {
  /** Entry name (path inside the archive, `/`-separated). */
  readonly name: string;
  /** Compression method: 0 (stored) or 8 (deflate); others are refused when read. */
  readonly method: number;
  /** CRC-32 of the uncompressed data as recorded in the central directory. */
  readonly crc32: number;
  /** Size of the stored (possibly compressed) data in bytes. */
  readonly compressedSize: number;
  /** Size of the uncompressed data in bytes. */
  readonly size: number;
  /** Offset of the entry's local file header from the start of the archive. */
  readonly localHeaderOffset: number;
  /** General-purpose bit flags. */
  readonly flags: number;
}

/** A parsed ZIP archive: its entries by name and a reader for their data. */
export interface ZipArchive {
  /** Entries by name, in central-directory order. */
  readonly entries: ReadonlyMap<string, ZipEntry>;
  /**
   * The uncompressed bytes of an entry. Stored entries are returned as a view
   * into the archive's bytes (no copy); deflated ones are inflated.
   *
   * @param name - entry name
   * @param verifyCrc - check the CRC-32 recorded in the central directory
   *   (skipped when the recorded value is 0, as writers that skip checksums do)
   * @throws {@link TorchFileError} when the entry is missing, truncated,
   *   uses an unsupported compression method or fails the CRC check
   */
  read(name: string, verifyCrc?: boolean): Uint8Array;
}

const EOCD_SIG = 0x06054b50;
const ZIP64_LOCATOR_SIG = 0x07064b50;
const ZIP64_EOCD_SIG = 0x06064b50;
const CENTRAL_SIG = 0x02014b50;
const LOCAL_SIG = 0x04034b50;

/** `true` when the bytes start with a ZIP local file header (`PK\x03\x04`). */
export function isZip(bytes: Uint8Array): boolean {
  return bytes.length >= 4 && bytes[0] === 0x50 && bytes[1] === 0x4b && bytes[2] === 0x03 && bytes[3] === 0x04;
}

function u64(view: DataView, offset: number): number {
  const lo = view.getUint32(offset, true);
  const hi = view.getUint32(offset + 4, true);
  return hi * 0x100000000 + lo;
}

/**
 * Parses a ZIP archive's central directory.
 *
 * @param bytes - the whole archive
 * @param file - file name for error messages
 * @returns the archive's entries and a reader for their data
 * @throws {@link TorchFileError} when the end-of-central-directory record is
 *   missing (truncated file, or not a zip) or the directory is corrupt
 */
export function readZip(bytes: Uint8Array, file: string): ZipArchive {
  const fail: (problem: string) => never = (problem) => {
    throw new TorchFileError(file, problem);
  };
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const n = bytes.length;
  if (n < 22) fail(`the zip archive is truncated (${n} bytes, no end of central directory record)`);

  // End of central directory: 22 bytes plus a comment of at most 65535 bytes.
  let eocd = -1;
  for (let i = n - 22; i >= Math.max(0, n - 22 - 0xffff); i--) {
    if (view.getUint32(i, true) === EOCD_SIG && i + 22 + view.getUint16(i + 20, true) <= n) {
      eocd = i;
      break;
    }
  }
  if (eocd < 0) fail('the zip archive is truncated or corrupt (no end of central directory record)');

  let count = view.getUint16(eocd + 10, true);
  let cdSize = view.getUint32(eocd + 12, true);
  let cdOffset = view.getUint32(eocd + 16, true);
  if (count === 0xffff || cdSize === 0xffffffff || cdOffset === 0xffffffff) {
    const loc = eocd - 20;
    if (loc < 0 || view.getUint32(loc, true) !== ZIP64_LOCATOR_SIG) {
      fail('the zip archive is corrupt (ZIP64 end of central directory locator missing)');
    }
    const z64 = u64(view, loc + 8);
    if (z64 + 56 > n || view.getUint32(z64, true) !== ZIP64_EOCD_SIG) {
      fail('the zip archive is truncated or corrupt (ZIP64 end of central directory record missing)');
    }
    count = u64(view, z64 + 32);
    cdSize = u64(view, z64 + 40);
    cdOffset = u64(view, z64 + 48);
  }
  if (cdOffset + cdSize > n) {
    fail(`the zip archive is truncated (central directory at ${cdOffset}+${cdSize} beyond ${n} bytes)`);
  }

  const decoder = new TextDecoder('utf-8');
  const entries = new Map<string, ZipEntry>();
  let p = cdOffset;
  for (let k = 0; k < count; k++) {
    if (p + 46 > n || view.getUint32(p, true) !== CENTRAL_SIG) {
      fail(`the zip archive's central directory is corrupt (entry ${k} at offset ${p})`);
    }
    const flags = view.getUint16(p + 8, true);
    const method = view.getUint16(p + 10, true);
    const crc32 = view.getUint32(p + 16, true);
    let compressedSize = view.getUint32(p + 20, true);
    let size = view.getUint32(p + 24, true);
    const nameLen = view.getUint16(p + 28, true);
    const extraLen = view.getUint16(p + 30, true);
    const commentLen = view.getUint16(p + 32, true);
    let localHeaderOffset = view.getUint32(p + 42, true);
    const end = p + 46 + nameLen + extraLen + commentLen;
    if (end > n) fail(`the zip archive's central directory is truncated (entry ${k})`);
    const name = decoder.decode(bytes.subarray(p + 46, p + 46 + nameLen));
    // ZIP64 extended information: only the fields saturated above, in order.
    let e = p + 46 + nameLen;
    const extraEnd = e + extraLen;
    while (e + 4 <= extraEnd) {
      const id = view.getUint16(e, true);
      const len = view.getUint16(e + 2, true);
      if (id === 0x0001) {
        let q = e + 4;
        if (size === 0xffffffff && q + 8 <= e + 4 + len) { size = u64(view, q); q += 8; }
        if (compressedSize === 0xffffffff && q + 8 <= e + 4 + len) { compressedSize = u64(view, q); q += 8; }
        if (localHeaderOffset === 0xffffffff && q + 8 <= e + 4 + len) { localHeaderOffset = u64(view, q); q += 8; }
      }
      e += 4 + len;
    }
    entries.set(name, { name, method, crc32, compressedSize, size, localHeaderOffset, flags });
    p = end;
  }

  const read = (name: string, verifyCrc = true): Uint8Array => {
    const entry = entries.get(name);
    if (!entry) return fail(`the zip archive has no entry '${name}'`);
    const h = entry.localHeaderOffset;
    if (h + 30 > n || view.getUint32(h, true) !== LOCAL_SIG) {
      fail(`the zip entry '${name}' is corrupt (no local header at offset ${h})`);
    }
    if (entry.flags & 1) fail(`the zip entry '${name}' is encrypted`);
    const start = h + 30 + view.getUint16(h + 26, true) + view.getUint16(h + 28, true);
    if (start + entry.compressedSize > n) {
      fail(`the zip entry '${name}' is truncated (${entry.compressedSize} bytes at offset ${start}, file has ${n})`);
    }
    const raw = bytes.subarray(start, start + entry.compressedSize);
    let data: Uint8Array;
    if (entry.method === 0) {
      data = raw;
    } else if (entry.method === 8) {
      // DEFLATE expands at most ~1032:1; refuse absurd sizes before allocating.
      if (entry.size > entry.compressedSize * 1032 + 1024) {
        fail(`the zip entry '${name}' is corrupt (${entry.size} bytes cannot inflate from ${entry.compressedSize})`);
      }
      try {
        data = inflateSync(raw, { out: new Uint8Array(entry.size) });
      } catch (err) {
        return fail(`the zip entry '${name}' cannot be inflated (${(err as Error).message})`);
      }
    } else {
      return fail(`the zip entry '${name}' uses unsupported compression method ${entry.method} (only stored and deflate)`);
    }
    if (data.length !== entry.size) {
      fail(`the zip entry '${name}' has ${data.length} bytes, its directory says ${entry.size}`);
    }
    if (verifyCrc && entry.crc32 !== 0) {
      const actual = crc32(data);
      if (actual !== entry.crc32) {
        fail(`the zip entry '${name}' fails its CRC-32 check (0x${hex(actual)}, expected 0x${hex(entry.crc32)}): the file is corrupt`);
      }
    }
    return data;
  };

  return { entries, read };
}

function hex(v: number): string {
  return v.toString(16).padStart(8, '0');
}

/**
 * CRC-32 (IEEE 802.3, as in ZIP) of some bytes: the `crc-32` package, which
 * `@tumorcast/nifti` uses for gzip too (browser-safe, unlike `node:zlib`'s).
 *
 * @param data - the bytes
 * @returns the checksum as an unsigned 32-bit integer
 */
export function crc32(data: Uint8Array): number {
  return CRC32.buf(data) >>> 0;
}
