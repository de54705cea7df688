/** writeNifti: {@link NiftiImageInput} -> NIfTI bytes (pure, no Node APIs). */
import { affineToQform, effectiveXformCode, identityAffine, type Affine } from './affine.js';
import { DATATYPE_INFO, INTEGER_RANGE, NIFTI_DATATYPES, type NiftiDatatype } from './datatypes.js';
import { gzip as gzipBytes } from './gzip.js';
import { SINGLE_VOX_OFFSET, encodeHeader } from './header.js';
import type { NiftiImageInput } from './image.js';

/** Options of {@link writeNifti} and {@link "@tumorcast/nifti/node"!saveNifti}. */
export interface WriteNiftiOptions {
  /**
   * gzip the output (`.nii.gz`). For {@link "@tumorcast/nifti/node"!saveNifti} it follows the file
   * name and, if given, must agree with it.
   * @defaultValue false
   */
  gzip?: boolean;
  /**
   * The datatype written. Integer datatypes refuse values that are not
   * integers in range (no silent rounding or scaling); float32 rounds.
   * @defaultValue `'float32'` (`'rgb24'` for 3-channel images)
   */
  datatype?: NiftiDatatype;
  /**
   * NIfTI version: 1 (348-byte header, dims up to 32767) or 2 (540-byte
   * header, 64-bit dims, float64 affine fields).
   * @defaultValue 1
   */
  version?: 1 | 2;
}

const HOST_LITTLE_ENDIAN = new Uint8Array(new Uint16Array([1]).buffer)[0] === 1;

function checkAffine(affine: unknown, fn: string): Affine {
  const ok =
    Array.isArray(affine) &&
    affine.length === 4 &&
    affine.every((r) => Array.isArray(r) && r.length === 4 && r.every((v) => typeof v === 'number' && Number.isFinite(v)));
  if (!ok) throw new TypeError(`'image.affine' passed to '${fn}' must be a 4x4 array of finite numbers`);
  const a = affine as number[][];
  const last = a[3]!;
  if (last[0] !== 0 || last[1] !== 0 || last[2] !== 0 || last[3] !== 1) {
    throw new RangeError(`'image.affine' passed to '${fn}' must have last row [0, 0, 0, 1], got ${JSON.stringify(last)}`);
  }
  return a.map((r) => r.slice());
}

function encodeData(data: ArrayLike<number>, datatype: NiftiDatatype, fn: string): Uint8Array {
  const n = data.length;
  const info = DATATYPE_INFO[datatype];
  const buf = new ArrayBuffer(n * info.scalarBytes);
  const range = INTEGER_RANGE[datatype];
  if (range) {
    const [lo, hi] = range;
    for (let i = 0; i < n; i++) {
      const v = data[i]!;
      if (!Number.isInteger(v) || v < lo || v > hi) {
        throw new RangeError(`'image.data' passed to '${fn}' has value ${v} at index ${i}, which ${datatype} cannot hold exactly (integers in [${lo}, ${hi}])`);
      }
    }
  }
  switch (datatype) {
    case 'uint8':
    case 'rgb24':
      new Uint8Array(buf).set(data);
      break;
    case 'int8':
      new Int8Array(buf).set(data);
      break;
    case 'int16':
      new Int16Array(buf).set(data);
      break;
    case 'uint16':
      new Uint16Array(buf).set(data);
      break;
    case 'int32':
      new Int32Array(buf).set(data);
      break;
    case 'uint32':
      new Uint32Array(buf).set(data);
      break;
    case 'float32':
      new Float32Array(buf).set(data);
      break;
    case 'float64':
      new Float64Array(buf).set(data);
      break;
    case 'int64': {
      const out = new BigInt64Array(buf);
      for (let i = 0; i < n; i++) out[i] = BigInt(data[i]!);
      break;
    }
    case 'uint64': {
      const out = new BigUint64Array(buf);
      for (let i = 0; i < n; i++) out[i] = BigInt(data[i]!);
      break;
    }
  }
  const u8 = new Uint8Array(buf);
  if (!HOST_LITTLE_ENDIAN && info.scalarBytes > 1) {
    for (let i = 0; i < u8.length; i += info.scalarBytes) u8.subarray(i, i + info.scalarBytes).reverse();
  }
  return u8;
}

/**
 * Encodes an image as a little-endian single-file NIfTI (`.nii`, or
 * `.nii.gz` with `gzip`).
 *
 * - sform (code from `image.header.sformCode` if set, else 2 = aligned) and
 *   qform (likewise; the rotation is the closest orthogonal matrix, shears
 *   are stripped as nibabel's `set_qform` does) are both set from the affine.
 * - `pixdim[1..3]` are the affine's column norms (nibabel's `set_qform`;
 *   `image.spacing` where it agrees with them to 1e-6), `pixdim[0]` the
 *   qfac, further pixdims from `image.spacing`.
 * - Data is written unscaled (scl_slope 1, scl_inter 0) in `datatype`.
 * - Round trip: `readNifti(writeNifti(img, { datatype: img.datatype }))` gives
 *   the same shape, data, spacing and affine (exactly, for data the datatype
 *   holds and an affine whose values are float32 for NIfTI-1).
 *
 * Header extensions are not written.
 *
 * @param image - shape, data and optional affine/spacing/header fields.
 * @param options - see {@link WriteNiftiOptions}.
 * @returns the file's bytes.
 * @throws TypeError or RangeError naming the argument, for a bad shape,
 *   data length, affine, or a value the datatype cannot hold.
 */
export function writeNifti(image: NiftiImageInput, options: WriteNiftiOptions = {}): Uint8Array {
  const fn = 'writeNifti';
  if (image === null || typeof image !== 'object') throw new TypeError(`'image' passed to '${fn}' must be an object with shape and data`);
  if (options === null || typeof options !== 'object') throw new TypeError(`'options' passed to '${fn}' must be an object`);
  const version = options.version ?? 1;
  if (version !== 1 && version !== 2) throw new RangeError(`'options.version' passed to '${fn}' must be 1 or 2, got ${String(version)}`);
  const channels = image.channels ?? 1;
  if (channels !== 1 && channels !== 3) throw new RangeError(`'image.channels' passed to '${fn}' must be 1 or 3, got ${String(channels)}`);
  const datatype = options.datatype ?? (channels === 3 ? 'rgb24' : 'float32');
  if (!NIFTI_DATATYPES.includes(datatype)) {
    throw new RangeError(`'options.datatype' passed to '${fn}' must be one of ${NIFTI_DATATYPES.join(', ')}, got ${JSON.stringify(datatype)}`);
  }
  if ((datatype === 'rgb24') !== (channels === 3)) {
    throw new RangeError(`'options.datatype' passed to '${fn}' is ${datatype} but 'image.channels' is ${channels}: rgb24 needs exactly 3 channels`);
  }
  const shape = image.shape;
  const maxDim = version === 1 ? 32767 : Number.MAX_SAFE_INTEGER;
  if (!Array.isArray(shape) || shape.length < 1 || shape.length > 7 || !shape.every((d) => Number.isInteger(d) && d >= 1 && d <= maxDim)) {
    throw new RangeError(`'image.shape' passed to '${fn}' must be 1 to 7 integers in [1, ${maxDim}]${version === 1 ? ' (use version 2 for larger dims)' : ''}, got ${JSON.stringify(shape)}`);
  }
  const voxels = shape.reduce((a, b) => a * b, 1);
  const data = image.data;
  if (data === null || typeof data !== 'object' || typeof data.length !== 'number') {
    throw new TypeError(`'image.data' passed to '${fn}' must be a typed array or an array of numbers`);
  }
  if (data.length !== voxels * channels) {
    throw new RangeError(`'image.data' passed to '${fn}' must have prod(shape) * channels = ${voxels * channels} values, got ${data.length}`);
  }
  const affine = image.affine === undefined ? identityAffine() : checkAffine(image.affine, fn);
  const spacing = image.spacing;
  if (spacing !== undefined && (!Array.isArray(spacing) || !spacing.every((v) => typeof v === 'number' && Number.isFinite(v)))) {
    throw new TypeError(`'image.spacing' passed to '${fn}' must be an array of finite numbers`);
  }
  const h = image.header ?? {};

  const q = affineToQform(affine);
  const pixdim = [1, 1, 1, 1, 1, 1, 1, 1];
  for (let i = 1; i <= 7; i++) {
    const s: number | undefined = i <= shape.length ? spacing?.[i - 1] : undefined;
    if (s !== undefined) pixdim[i] = s;
  }
  let qformCode = 0;
  let quatern: [number, number, number] = [0, 0, 0];
  let qoffset: [number, number, number] = [affine[0]![3]!, affine[1]![3]!, affine[2]![3]!];
  if (q) {
    pixdim[0] = q.qfac;
    // The affine's column norms, or `spacing` where it agrees with them to
    // 1e-6 (so that spacing round-trips exactly in NIfTI-2's float64 pixdim).
    for (let i = 1; i <= 3; i++) {
      const z = q.zooms[i - 1]!;
      const s = i <= shape.length ? spacing?.[i - 1] : undefined;
      pixdim[i] = s !== undefined && Math.abs(s - z) <= 1e-6 * z ? s : z;
    }
    quatern = q.quatern;
    qoffset = q.qoffset;
    qformCode = effectiveXformCode(h.qformCode ?? 0) || 2;
  }
  const sformCode = effectiveXformCode(h.sformCode ?? 0) || 2;
  const info = DATATYPE_INFO[datatype];
  const dim = [shape.length, ...shape, ...new Array(7 - shape.length).fill(1)];
  const headerBytes = encodeHeader({
    version,
    dim,
    pixdim,
    datatypeCode: info.code,
    bitpix: info.bytes * 8,
    voxOffset: SINGLE_VOX_OFFSET[version],
    qformCode,
    sformCode,
    quatern,
    qoffset,
    srow: [0, 1, 2].map((r) => affine[r]!.slice()) as [number[], number[], number[]],
    xyztUnits: h.xyztUnits ?? 0,
    intentCode: h.intentCode ?? 0,
    intentName: h.intentName ?? '',
    intentP: h.intentP ?? [0, 0, 0],
    calMin: h.calMin ?? 0,
    calMax: h.calMax ?? 0,
    sliceStart: h.sliceStart ?? 0,
    sliceEnd: h.sliceEnd ?? 0,
    sliceCode: h.sliceCode ?? 0,
    sliceDuration: h.sliceDuration ?? 0,
    toffset: h.toffset ?? 0,
    dimInfo: h.dimInfo ?? 0,
    descrip: h.descrip ?? '',
  });
  const body = encodeData(data, datatype, fn);
  const out = new Uint8Array(headerBytes.length + body.length);
  out.set(headerBytes, 0);
  out.set(body, headerBytes.length);
  return options.gzip ? gzipBytes(out) : out;
}
