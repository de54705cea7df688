/**
 * gzip handling (internal). fflate's `gunzipSync` neither checks the CRC nor
 * the length in the trailer and decodes only the first member of a
 * multi-member stream; Python's gzip module (which nibabel uses) does all
 * three. This wrapper restores those checks.
 */
import CRC32 from 'crc-32';
import { Gunzip, gunzipSync, gzipSync } from 'fflate';
import { NiftiError } from './errors.js';

/** True when `bytes` starts with the full gzip magic (1f 8b 08 = deflate). @internal */
export function isGzip(bytes: Uint8Array): boolean {
  // nifti-reader-js's isCompressed accepts 0x1f OR 0x8b in the first two bytes,
  // which misfires on raw .img data; require the whole magic.
  return bytes.length >= 3 && bytes[0] === 0x1f && bytes[1] === 0x8b && bytes[2] === 0x08;
}

/**
 * CRC-32 (IEEE, as gzip) of `bytes`, unsigned. The `crc-32` package, not
 * `node:zlib`'s `crc32`: this entry is browser-safe, and Node has that
 * function only from 20.15. @internal
 */
export function crc32(bytes: Uint8Array): number {
  return CRC32.buf(bytes) >>> 0;
}

function trailer(bytes: Uint8Array): { crc: number; size: number } {
  const n = bytes.length;
  const dv = new DataView(bytes.buffer, bytes.byteOffset + n - 8, 8);
  return { crc: dv.getUint32(0, true), size: dv.getUint32(4, true) };
}

function corrupt(file: string, e: unknown): NiftiError {
  return new NiftiError(file, `corrupt or truncated gzip stream (${(e as Error).message})`, { cause: e });
}

/** Decodes one gzip member and checks its CRC-32 and length trailer. */
function gunzipMember(member: Uint8Array, file: string): Uint8Array {
  if (member.length < 18) throw new NiftiError(file, `corrupt gzip stream: a member of only ${member.length} bytes (at least 18 needed)`);
  let out: Uint8Array;
  try {
    // fflate preallocates the trailer's length and silently truncates to it
    // when the trailer lies: the checks below catch that.
    out = gunzipSync(member);
  } catch (e) {
    throw corrupt(file, e);
  }
  const { crc, size } = trailer(member);
  if (out.length % 4294967296 !== size) {
    throw new NiftiError(file, `corrupt gzip stream: the trailer says ${size} bytes but ${out.length} were decoded`);
  }
  if (crc32(out) !== crc) throw new NiftiError(file, 'corrupt gzip stream: CRC-32 check failed');
  return out;
}

/**
 * Decompresses a gzip stream (every member of a multi-member stream),
 * verifying each member's CRC-32 and length. Throws a {@link NiftiError}
 * naming `file` on any corruption. Returns a Uint8Array that owns its whole
 * buffer. @internal
 */
export function gunzip(bytes: Uint8Array, file: string): Uint8Array {
  if (bytes.length < 18) throw new NiftiError(file, `corrupt gzip stream: only ${bytes.length} bytes, a gzip member needs at least 18`);
  // Fast path: a single member whose trailer matches what was decoded.
  try {
    const out = gunzipSync(bytes);
    const { crc, size } = trailer(bytes);
    if (out.length > 0 && out.length % 4294967296 === size && crc32(out) === crc) {
      return out.byteOffset !== 0 || out.byteLength !== out.buffer.byteLength ? out.slice() : out;
    }
  } catch {
    // fall through: the member-by-member pass below reports the problem
  }
  // Find the member boundaries (fflate's gunzipSync decodes the first member
  // only, into a buffer sized by the *last* member's trailer).
  const starts = [0];
  try {
    const g = new Gunzip(() => undefined);
    g.onmember = (offset) => {
      starts.push(offset);
    };
    g.push(bytes, true);
  } catch (e) {
    throw corrupt(file, e);
  }
  let out: Uint8Array;
  if (starts.length === 1) {
    out = gunzipMember(bytes, file);
  } else {
    const parts = starts.map((s, k) => gunzipMember(bytes.subarray(s, starts[k + 1] ?? bytes.length), file));
    out = new Uint8Array(parts.reduce((a, p) => a + p.length, 0));
    let o = 0;
    for (const p of parts) {
      out.set(p, o);
      o += p.length;
    }
  }
  if (out.byteOffset !== 0 || out.byteLength !== out.buffer.byteLength) out = out.slice();
  return out;
}

/** gzip-compresses `bytes` (deflate level 6, as Python's default is 9 but 6 is 3x faster for ~1% size). @internal */
export function gzip(bytes: Uint8Array): Uint8Array {
  return gzipSync(bytes, { level: 6, mtime: 0 });
}
