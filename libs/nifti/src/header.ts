/**
 * NIfTI-1 / NIfTI-2 header parsing (on nifti-reader-js's sync header reader,
 * with its traps guarded) and encoding.
 */
import { NIFTI1, NIFTI2 } from 'nifti-reader-js';
import { NiftiError } from './errors.js';

/** A header extension (code and raw bytes, the 8-byte esize/ecode prefix excluded). */
export interface NiftiExtension {
  /** The extension code (`ecode`), e.g. 6 = comment, 4 = AFNI. */
  code: number;
  /** The extension's content. */
  data: Uint8Array;
}

/**
 * The raw header fields of a NIfTI-1 or NIfTI-2 file, as stored (before
 * nibabel's load-time fixes). Field names follow nifti1.h in camelCase.
 */
export interface NiftiHeader {
  /** 1 or 2. */
  version: 1 | 2;
  /** Byte order of the file. */
  littleEndian: boolean;
  /** The magic string: `n+1`/`ni1` (NIfTI-1 single/pair) or `n+2`/`ni2`. */
  magic: string;
  /** `dim[0..7]`: `dim[0]` is the number of dimensions. */
  dim: number[];
  /** `pixdim[0..7]`: `pixdim[0]` is qfac, then voxel sizes. */
  pixdim: number[];
  /** The datatype code. */
  datatypeCode: number;
  /** Bits per voxel as stored (nibabel ignores a wrong value; so does this package). */
  bitpix: number;
  /** Byte offset of the voxel data (in the .img file for pairs). */
  voxOffset: number;
  /** Scaling slope (0 or non-finite = no scaling). */
  sclSlope: number;
  /** Scaling intercept. */
  sclInter: number;
  /** qform code (0 = unknown; nibabel treats codes outside 0..5 as 0). */
  qformCode: number;
  /** sform code (0 = unknown; nibabel treats codes outside 0..5 as 0). */
  sformCode: number;
  /** Quaternion b, c, d. */
  quatern: [number, number, number];
  /** qform offsets x, y, z. */
  qoffset: [number, number, number];
  /** The sform rows `srow_x`, `srow_y`, `srow_z` (4 values each). */
  srow: [number[], number[], number[]];
  /** Units code (spatial | temporal). */
  xyztUnits: number;
  /** Intent code. */
  intentCode: number;
  /** Intent name. */
  intentName: string;
  /** Intent parameters p1, p2, p3. */
  intentP: [number, number, number];
  /** Display range minimum. */
  calMin: number;
  /** Display range maximum. */
  calMax: number;
  /** Slice timing: first slice index. */
  sliceStart: number;
  /** Slice timing: last slice index. */
  sliceEnd: number;
  /** Slice timing order code. */
  sliceCode: number;
  /** Time to acquire one slice. */
  sliceDuration: number;
  /** Time axis shift. */
  toffset: number;
  /** MRI slice ordering (freq/phase/slice dims packed). */
  dimInfo: number;
  /** Free-text description (`descrip`). */
  descrip: string;
  /** Auxiliary file name. */
  auxFile: string;
  /** Header extensions (read from single files only). */
  extensions: NiftiExtension[];
}

/** Header sizes and the data offsets a single file starts at. @internal */
export const HEADER_SIZE = { 1: 348, 2: 540 } as const;
/** @internal */
export const SINGLE_VOX_OFFSET = { 1: 352, 2: 544 } as const;

const NIFTI2_MAGIC_TAIL = [0x0d, 0x0a, 0x1a, 0x0a];

function readString(u8: Uint8Array, start: number, end: number): string {
  let s = '';
  for (let i = start; i < end; i++) {
    const c = u8[i]!;
    if (c === 0) break;
    s += String.fromCharCode(c);
  }
  return s;
}

/**
 * Parses the header at the start of `u8` (already decompressed). Validates
 * sizeof_hdr (which gives the version and the byte order) and the magic.
 * @internal
 */
export function parseHeader(u8: Uint8Array, file: string): NiftiHeader {
  if (u8.length < 4) throw new NiftiError(file, `truncated: ${u8.length} bytes, too short for a NIfTI header`);
  const dv0 = new DataView(u8.buffer, u8.byteOffset, u8.byteLength);
  const le = dv0.getInt32(0, true);
  const be = dv0.getInt32(0, false);
  let version: 1 | 2;
  let littleEndian: boolean;
  if (le === 348 || be === 348) {
    version = 1;
    littleEndian = le === 348;
  } else if (le === 540 || be === 540) {
    version = 2;
    littleEndian = le === 540;
  } else {
    throw new NiftiError(file, `not a NIfTI file: sizeof_hdr is ${le} (little endian) / ${be} (big endian), expected 348 (NIfTI-1) or 540 (NIfTI-2)`);
  }
  const size = HEADER_SIZE[version];
  if (u8.length < size) {
    throw new NiftiError(file, `truncated: ${u8.length} bytes, a NIfTI-${version} header needs ${size}`);
  }
  // nifti-reader-js reads through `new DataView(arrayBuffer)` from offset 0: a
  // Uint8Array view into a pooled or larger buffer (Node Buffers of small
  // files) would be read at the wrong place, so hand it an exact copy of the
  // header bytes only (which also keeps its extension parser, which slices
  // `data.buffer` ignoring view offsets, out of the way).
  const headerBuf = u8.slice(0, size).buffer;
  const dv = new DataView(headerBuf);
  let magic: string;
  if (version === 1) {
    magic = readString(u8, 344, 348);
    if (magic !== 'n+1' && magic !== 'ni1') {
      throw new NiftiError(file, `not a NIfTI-1 file: magic is ${JSON.stringify(magic)}, expected "n+1" or "ni1" (Analyze 7.5 files are not supported)`);
    }
  } else {
    magic = readString(u8, 4, 8);
    const tailOk = NIFTI2_MAGIC_TAIL.every((b, i) => u8[8 + i] === b);
    if ((magic !== 'n+2' && magic !== 'ni2') || u8[7] !== 0 || !tailOk) {
      throw new NiftiError(file, `not a NIfTI-2 file: magic is ${JSON.stringify(readString(u8, 4, 12))}, expected "n+2\\0\\r\\n\\x1a\\n" or "ni2..."`);
    }
  }
  let h: NIFTI1 | NIFTI2;
  try {
    h = version === 1 ? new NIFTI1() : new NIFTI2();
    h.readHeader(headerBuf);
  } catch (e) {
    throw new NiftiError(file, `unreadable NIfTI-${version} header (${(e as Error).message})`, { cause: e });
  }
  const f32 = (o: number) => dv.getFloat32(o, littleEndian);
  const f64 = (o: number) => dv.getFloat64(o, littleEndian);
  // nifti-reader-js combines NIfTI-2's int64 fields wrongly for big-endian
  // files; read them here.
  const i64 = (o: number) => Number(dv.getBigInt64(o, littleEndian));
  let dim: number[];
  let voxOffset: number;
  let srow: [number[], number[], number[]];
  let sliceStart: number;
  let sliceEnd: number;
  if (version === 1) {
    dim = Array.from({ length: 8 }, (_, i) => dv.getInt16(40 + 2 * i, littleEndian));
    voxOffset = h.vox_offset;
    srow = [0, 1, 2].map((r) => [0, 1, 2, 3].map((c) => f32(280 + 16 * r + 4 * c))) as [number[], number[], number[]];
    sliceStart = h.slice_start;
    sliceEnd = h.slice_end;
  } else {
    dim = Array.from({ length: 8 }, (_, i) => i64(16 + 8 * i));
    voxOffset = i64(168);
    srow = [0, 1, 2].map((r) => [0, 1, 2, 3].map((c) => f64(400 + 32 * r + 8 * c))) as [number[], number[], number[]];
    sliceStart = i64(224);
    sliceEnd = i64(232);
  }
  const header: NiftiHeader = {
    version,
    littleEndian,
    magic,
    dim,
    pixdim: h.pixDims.slice(0, 8),
    datatypeCode: h.datatypeCode,
    bitpix: h.numBitsPerVoxel,
    voxOffset,
    sclSlope: h.scl_slope,
    sclInter: h.scl_inter,
    qformCode: h.qform_code,
    sformCode: h.sform_code,
    quatern: [h.quatern_b, h.quatern_c, h.quatern_d],
    qoffset: [h.qoffset_x, h.qoffset_y, h.qoffset_z],
    srow,
    xyztUnits: version === 1 ? h.xyzt_units : dv.getInt32(500, littleEndian),
    intentCode: version === 1 ? h.intent_code : dv.getInt32(504, littleEndian),
    intentName: version === 1 ? readString(u8, 328, 344) : readString(u8, 508, 524),
    intentP: [h.intent_p1, h.intent_p2, h.intent_p3],
    calMin: h.cal_min,
    calMax: h.cal_max,
    sliceStart,
    sliceEnd,
    sliceCode: version === 1 ? h.slice_code : dv.getInt32(496, littleEndian),
    sliceDuration: h.slice_duration,
    toffset: h.toffset,
    dimInfo: version === 1 ? u8[39]! : u8[524]!,
    descrip: version === 1 ? readString(u8, 148, 228) : readString(u8, 240, 320),
    auxFile: version === 1 ? readString(u8, 228, 252) : readString(u8, 320, 344),
    extensions: [],
  };
  return header;
}

/**
 * Reads the extensions between the header and `end` (vox_offset) of a single
 * file. Malformed extension blocks end the list (nibabel warns and stops too).
 * @internal
 */
export function parseExtensions(u8: Uint8Array, header: NiftiHeader, end: number): NiftiExtension[] {
  const start = HEADER_SIZE[header.version];
  if (u8.length < start + 4 || u8[start] === 0) return [];
  const dv = new DataView(u8.buffer, u8.byteOffset, u8.byteLength);
  const out: NiftiExtension[] = [];
  let p = start + 4;
  const stop = Math.min(end, u8.length);
  while (p + 8 <= stop) {
    const esize = dv.getInt32(p, header.littleEndian);
    const ecode = dv.getInt32(p + 4, header.littleEndian);
    if (esize < 16 || esize % 16 !== 0 || p + esize > stop) break;
    out.push({ code: ecode, data: u8.slice(p + 8, p + esize) });
    p += esize;
  }
  return out;
}

/** Fields written by {@link encodeHeader}. @internal */
export interface EncodeHeaderFields {
  version: 1 | 2;
  dim: number[];
  pixdim: number[];
  datatypeCode: number;
  bitpix: number;
  voxOffset: number;
  qformCode: number;
  sformCode: number;
  quatern: [number, number, number];
  qoffset: [number, number, number];
  srow: [number[], number[], number[]];
  xyztUnits: number;
  intentCode: number;
  intentName: string;
  intentP: [number, number, number];
  calMin: number;
  calMax: number;
  sliceStart: number;
  sliceEnd: number;
  sliceCode: number;
  sliceDuration: number;
  toffset: number;
  dimInfo: number;
  descrip: string;
}

function writeString(u8: Uint8Array, start: number, maxLen: number, s: string): void {
  for (let i = 0; i < Math.min(s.length, maxLen); i++) u8[start + i] = s.charCodeAt(i) & 0x7f;
}

/** Encodes a little-endian single-file header plus the 4 extension bytes (zero). @internal */
export function encodeHeader(f: EncodeHeaderFields): Uint8Array {
  const size = HEADER_SIZE[f.version];
  const u8 = new Uint8Array(size + 4);
  const dv = new DataView(u8.buffer);
  const LE = true;
  if (f.version === 1) {
    dv.setInt32(0, 348, LE);
    u8[38] = 0x72; // 'r' (regular), as nibabel writes
    u8[39] = f.dimInfo & 0xff;
    for (let i = 0; i < 8; i++) dv.setInt16(40 + 2 * i, f.dim[i] ?? 0, LE);
    dv.setFloat32(56, f.intentP[0], LE);
    dv.setFloat32(60, f.intentP[1], LE);
    dv.setFloat32(64, f.intentP[2], LE);
    dv.setInt16(68, f.intentCode, LE);
    dv.setInt16(70, f.datatypeCode, LE);
    dv.setInt16(72, f.bitpix, LE);
    dv.setInt16(74, f.sliceStart, LE);
    for (let i = 0; i < 8; i++) dv.setFloat32(76 + 4 * i, f.pixdim[i] ?? 0, LE);
    dv.setFloat32(108, f.voxOffset, LE);
    dv.setFloat32(112, 1, LE); // scl_slope: data is written unscaled
    dv.setFloat32(116, 0, LE);
    dv.setInt16(120, f.sliceEnd, LE);
    u8[122] = f.sliceCode & 0xff;
    u8[123] = f.xyztUnits & 0xff;
    dv.setFloat32(124, f.calMax, LE);
    dv.setFloat32(128, f.calMin, LE);
    dv.setFloat32(132, f.sliceDuration, LE);
    dv.setFloat32(136, f.toffset, LE);
    writeString(u8, 148, 79, f.descrip);
    dv.setInt16(252, f.qformCode, LE);
    dv.setInt16(254, f.sformCode, LE);
    for (let i = 0; i < 3; i++) dv.setFloat32(256 + 4 * i, f.quatern[i]!, LE);
    for (let i = 0; i < 3; i++) dv.setFloat32(268 + 4 * i, f.qoffset[i]!, LE);
    for (let r = 0; r < 3; r++) for (let c = 0; c < 4; c++) dv.setFloat32(280 + 16 * r + 4 * c, f.srow[r]![c]!, LE);
    writeString(u8, 328, 15, f.intentName);
    writeString(u8, 344, 3, 'n+1');
  } else {
    dv.setInt32(0, 540, LE);
    [0x6e, 0x2b, 0x32, 0, 0x0d, 0x0a, 0x1a, 0x0a].forEach((b, i) => (u8[4 + i] = b));
    dv.setInt16(12, f.datatypeCode, LE);
    dv.setInt16(14, f.bitpix, LE);
    for (let i = 0; i < 8; i++) dv.setBigInt64(16 + 8 * i, BigInt(f.dim[i] ?? 0), LE);
    for (let i = 0; i < 3; i++) dv.setFloat64(80 + 8 * i, f.intentP[i]!, LE);
    for (let i = 0; i < 8; i++) dv.setFloat64(104 + 8 * i, f.pixdim[i] ?? 0, LE);
    dv.setBigInt64(168, BigInt(f.voxOffset), LE);
    dv.setFloat64(176, 1, LE);
    dv.setFloat64(184, 0, LE);
    dv.setFloat64(192, f.calMax, LE);
    dv.setFloat64(200, f.calMin, LE);
    dv.setFloat64(208, f.sliceDuration, LE);
    dv.setFloat64(216, f.toffset, LE);
    dv.setBigInt64(224, BigInt(f.sliceStart), LE);
    dv.setBigInt64(232, BigInt(f.sliceEnd), LE);
    writeString(u8, 240, 79, f.descrip);
    dv.setInt32(344, f.qformCode, LE);
    dv.setInt32(348, f.sformCode, LE);
    for (let i = 0; i < 3; i++) dv.setFloat64(352 + 8 * i, f.quatern[i]!, LE);
    for (let i = 0; i < 3; i++) dv.setFloat64(376 + 8 * i, f.qoffset[i]!, LE);
    for (let r = 0; r < 3; r++) for (let c = 0; c < 4; c++) dv.setFloat64(400 + 32 * r + 8 * c, f.srow[r]![c]!, LE);
    dv.setInt32(496, f.sliceCode, LE);
    dv.setInt32(500, f.xyztUnits, LE);
    dv.setInt32(504, f.intentCode, LE);
    writeString(u8, 508, 15, f.intentName);
    u8[524] = f.dimInfo & 0xff;
  }
  return u8;
}
