/**
 * A minimal NIfTI-1 writer (internal, not exported from the package): one
 * 2-D float32 image, little-endian, single file (`n+1`), 348-byte header plus
 * 4 extension bytes (vox_offset 352), gzip-compressed when the name ends in
 * `.gz`, written atomically. The affine is diagonal with the pixel spacing
 * (identity at 1 mm), in both qform (code 1) and sform (code 1).
 *
 * The reading side lives in `@tumorcast/nifti`; this exists so the phantom
 * package does not depend on it.
 */
import { writeFileAtomic } from './atomic.js';

/** Encodes a `width` x `height` float32 image (x fastest) as NIfTI-1 bytes (uncompressed). */
export function encodeNifti2d(data: Float32Array, width: number, height: number, spacing: number): Uint8Array {
  if (data.length !== width * height) throw new RangeError(`'data' passed to 'encodeNifti2d' must have length ${width * height}, got ${data.length}`);
  const voxOffset = 352;
  const buf = new Uint8Array(voxOffset + data.length * 4);
  const dv = new DataView(buf.buffer);
  const le = true;
  dv.setInt32(0, 348, le); // sizeof_hdr
  dv.setUint8(39, 0); // dim_info
  const dim = [2, width, height, 1, 1, 1, 1, 1];
  dim.forEach((d, i) => dv.setInt16(40 + 2 * i, d, le));
  dv.setInt16(70, 16, le); // datatype: FLOAT32
  dv.setInt16(72, 32, le); // bitpix
  const pixdim = [1, spacing, spacing, 1, 0, 0, 0, 0]; // pixdim[0] = qfac
  pixdim.forEach((p, i) => dv.setFloat32(76 + 4 * i, p, le));
  dv.setFloat32(108, voxOffset, le);
  dv.setFloat32(112, 1, le); // scl_slope
  dv.setFloat32(116, 0, le); // scl_inter
  dv.setUint8(123, 2); // xyzt_units: mm
  let min = Infinity, max = -Infinity;
  for (let i = 0; i < data.length; i++) {
    const v = data[i] as number;
    if (v < min) min = v;
    if (v > max) max = v;
  }
  dv.setFloat32(124, data.length ? max : 0, le); // cal_max
  dv.setFloat32(128, data.length ? min : 0, le); // cal_min
  const descrip = 'tumorcast phantom (synthetic)';
  for (let i = 0; i < descrip.length; i++) buf[148 + i] = descrip.charCodeAt(i);
  dv.setInt16(252, 1, le); // qform_code: scanner
  dv.setInt16(254, 1, le); // sform_code: scanner
  // quatern_b/c/d and qoffsets stay 0 (identity rotation).
  const srow = [
    [spacing, 0, 0, 0],
    [0, spacing, 0, 0],
    [0, 0, 1, 0],
  ];
  srow.forEach((row, r) => row.forEach((v, c) => dv.setFloat32(280 + 16 * r + 4 * c, v, le)));
  buf.set([0x6e, 0x2b, 0x31, 0x00], 344); // magic "n+1\0"
  // Bytes 348..351: extension flag, all zero (no extensions).
  for (let i = 0; i < data.length; i++) dv.setFloat32(voxOffset + 4 * i, data[i] as number, le);
  return buf;
}

/** Writes a 2-D float32 NIfTI-1 file (gzip when `file` ends in `.gz`), atomically. */
export async function writeNifti2d(file: string, data: Float32Array, width: number, height: number, spacing: number): Promise<void> {
  let bytes = encodeNifti2d(data, width, height, spacing);
  if (file.endsWith('.gz')) {
    const { gzipSync } = await import('node:zlib');
    bytes = new Uint8Array(gzipSync(bytes, { level: 6 }));
  }
  await writeFileAtomic(file, bytes);
}
