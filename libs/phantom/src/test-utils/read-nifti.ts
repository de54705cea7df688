/**
 * A tiny NIfTI-1 reader for the tests (little-endian float32 only): an
 * independent re-implementation of the header layout, so that the writer is
 * not its own oracle.
 */
import { readFileSync } from 'node:fs';
import { gunzipSync } from 'node:zlib';

export interface TestNifti {
  sizeofHdr: number;
  dim: number[];
  datatype: number;
  bitpix: number;
  pixdim: number[];
  voxOffset: number;
  sclSlope: number;
  xyztUnits: number;
  qformCode: number;
  sformCode: number;
  srow: number[][];
  magic: string;
  data: Float32Array;
}

export function readTestNifti(file: string): TestNifti {
  let bytes = readFileSync(file);
  if (bytes[0] === 0x1f && bytes[1] === 0x8b) bytes = gunzipSync(bytes);
  const dv = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const dim = Array.from({ length: 8 }, (_, i) => dv.getInt16(40 + 2 * i, true));
  const pixdim = Array.from({ length: 8 }, (_, i) => dv.getFloat32(76 + 4 * i, true));
  const voxOffset = dv.getFloat32(108, true);
  const n = dim.slice(1, 1 + dim[0]!).reduce((a, b) => a * b, 1);
  const data = new Float32Array(n);
  for (let i = 0; i < n; i++) data[i] = dv.getFloat32(voxOffset + 4 * i, true);
  return {
    sizeofHdr: dv.getInt32(0, true),
    dim,
    datatype: dv.getInt16(70, true),
    bitpix: dv.getInt16(72, true),
    pixdim,
    voxOffset,
    sclSlope: dv.getFloat32(112, true),
    xyztUnits: dv.getUint8(123),
    qformCode: dv.getInt16(252, true),
    sformCode: dv.getInt16(254, true),
    srow: [0, 1, 2].map((r) => [0, 1, 2, 3].map((c) => dv.getFloat32(280 + 16 * r + 4 * c, true))),
    magic: String.fromCharCode(...bytes.subarray(344, 347)),
    data,
  };
}
