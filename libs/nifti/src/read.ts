/**
 * readNifti: bytes -> {@link NiftiImage}, pure (no Node APIs), as nibabel
 * reads the file.
 */
import { bestAffine, fixedPixdim } from './affine.js';
import { DATATYPE_INFO, UNSUPPORTED_DATATYPES, datatypeFromCode, type NiftiDatatype } from './datatypes.js';
import { NiftiError } from './errors.js';
import { gunzip, isGzip } from './gzip.js';
import { SINGLE_VOX_OFFSET, parseExtensions, parseHeader, type NiftiHeader } from './header.js';
import type { NiftiData, NiftiImage } from './image.js';

/** Options of {@link readNifti}. */
export interface ReadNiftiOptions {
  /**
   * The name used in error messages (a file path, a URL...).
   * @defaultValue `'<bytes>'`
   */
  name?: string;
  /**
   * The image bytes of a `.hdr`/`.img` pair (`bytes` is then the `.hdr`;
   * either may be gzipped). Required when the header's magic is `ni1`/`ni2`.
   * @defaultValue none (a single `.nii` file)
   */
  image?: Uint8Array | ArrayBuffer;
  /**
   * The name of the `.img` file in error messages.
   * @defaultValue `name` with `.hdr` replaced by `.img`
   */
  imageName?: string;
  /**
   * Whether `image` is gzipped. By default it is sniffed from the gzip magic,
   * falling back to the raw bytes if they do not decode (raw image data may
   * start with 1f 8b 08 by chance); {@link "@tumorcast/nifti/node"!loadNifti} passes what the file
   * extension says.
   * @defaultValue sniffed
   */
  imageGzip?: boolean;
}

const HOST_LITTLE_ENDIAN = new Uint8Array(new Uint16Array([1]).buffer)[0] === 1;

/** A Uint8Array over exactly the given bytes (views into larger/pooled buffers are respected, never re-based). @internal */
export function asBytes(bytes: unknown, argName: string, fn: string): Uint8Array {
  // Always a plain Uint8Array view: Node's Buffer#slice returns a view into
  // the same (possibly pooled) memory instead of a copy.
  if (bytes instanceof ArrayBuffer) return new Uint8Array(bytes);
  if (ArrayBuffer.isView(bytes)) return new Uint8Array(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  throw new TypeError(`'${argName}' passed to '${fn}' must be a Uint8Array or an ArrayBuffer, got ${bytes === null ? 'null' : typeof bytes}`);
}

function checkDims(header: NiftiHeader, file: string): number[] {
  const ndim = header.dim[0]!;
  if (!Number.isInteger(ndim) || ndim < 1 || ndim > 7) {
    throw new NiftiError(file, `dim[0] (number of dimensions) is ${ndim}, must be 1..7`);
  }
  const shape = header.dim.slice(1, ndim + 1);
  shape.forEach((d, i) => {
    if (!(d >= 1)) throw new NiftiError(file, `dim[${i + 1}] is ${d}: dimensions must be >= 1 (dims ${JSON.stringify(header.dim)})`);
  });
  return shape;
}

function resolveDatatype(header: NiftiHeader, file: string): NiftiDatatype {
  const dt = datatypeFromCode(header.datatypeCode);
  if (dt) return dt;
  const known = UNSUPPORTED_DATATYPES[header.datatypeCode];
  if (known) throw new NiftiError(file, `unsupported datatype ${header.datatypeCode} (${known}); supported: uint8, int8, int16, uint16, int32, uint32, int64, uint64, float32, float64, rgb24`);
  throw new NiftiError(file, `unknown datatype code ${header.datatypeCode}`);
}

function swapBytes(u8: Uint8Array, size: number): void {
  if (size === 2) {
    for (let i = 0; i < u8.length; i += 2) {
      const a = u8[i]!;
      u8[i] = u8[i + 1]!;
      u8[i + 1] = a;
    }
  } else {
    const half = size >> 1;
    for (let i = 0; i < u8.length; i += size) {
      for (let k = 0; k < half; k++) {
        const a = u8[i + k]!;
        u8[i + k] = u8[i + size - 1 - k]!;
        u8[i + size - 1 - k] = a;
      }
    }
  }
}

function decode(raw: Uint8Array, datatype: NiftiDatatype, file: string): NiftiData {
  const buf = raw.buffer;
  switch (datatype) {
    case 'uint8':
    case 'rgb24':
      return new Uint8Array(buf);
    case 'int8':
      return new Int8Array(buf);
    case 'int16':
      return new Int16Array(buf);
    case 'uint16':
      return new Uint16Array(buf);
    case 'int32':
      return new Int32Array(buf);
    case 'uint32':
      return new Uint32Array(buf);
    case 'float32':
      return new Float32Array(buf);
    case 'float64':
      return new Float64Array(buf);
    case 'int64':
    case 'uint64': {
      const src = datatype === 'int64' ? new BigInt64Array(buf) : new BigUint64Array(buf);
      const out = new Float64Array(src.length);
      const max = BigInt(Number.MAX_SAFE_INTEGER);
      for (let i = 0; i < src.length; i++) {
        const v = src[i]!;
        if (v > max || v < -max) {
          throw new NiftiError(file, `${datatype} voxel ${i} has value ${v}, outside +-(2^53 - 1): it cannot be represented exactly as float64`);
        }
        out[i] = Number(v);
      }
      return out;
    }
  }
}

/**
 * Reads a NIfTI-1 or NIfTI-2 image from bytes (`.nii`, `.nii.gz`, or a
 * `.hdr`/`.img` pair with `options.image`), the way nibabel reads it.
 *
 * - gzip is detected from the full magic (1f 8b 08), all members are
 *   decoded and the CRC/length trailer is checked.
 * - Little- and big-endian files; data is byte-swapped to the host order.
 * - `shape` is `dim[1..dim[0]]`; `data` holds `prod(shape)` voxels read from
 *   `vox_offset` (trailing bytes after them are ignored, as nibabel does).
 * - Scaling as nibabel's `get_slope_inter`: a slope of 0 or non-finite means
 *   none; otherwise `v * slope + inter` in float64 (not applied to rgb24).
 * - `affine` as nibabel's `get_best_affine` (sform, else qform, else the
 *   base affine), after nibabel's load-time header fixes.
 *
 * Works in the browser (no Node APIs). Never hangs: everything is synchronous.
 *
 * @param bytes - the file's bytes (a Node Buffer is fine, pooled or not).
 * @param options - see {@link ReadNiftiOptions}.
 * @returns the image.
 * @throws NiftiError naming the file and the problem (truncated file, bad
 *   magic, corrupt gzip, bad dims, data shorter than the dims need,
 *   vox_offset past the end, unsupported datatype, ...).
 *
 * @example
 * ```ts
 * const img = readNifti(new Uint8Array(await (await fetch(url)).arrayBuffer()), { name: url });
 * img.shape; // [240, 240]
 * ```
 */
export function readNifti(bytes: Uint8Array | ArrayBuffer, options: ReadNiftiOptions = {}): NiftiImage {
  const fn = 'readNifti';
  if (options === null || typeof options !== 'object') throw new TypeError(`'options' passed to '${fn}' must be an object`);
  const name = options.name ?? '<bytes>';
  if (typeof name !== 'string') throw new TypeError(`'options.name' passed to '${fn}' must be a string`);
  let u8 = asBytes(bytes, 'bytes', fn);
  if (isGzip(u8)) u8 = gunzip(u8, name);
  const header = parseHeader(u8, name);
  const shape = checkDims(header, name);
  const datatype = resolveDatatype(header, name);
  const isPair = header.magic === 'ni1' || header.magic === 'ni2';

  let dataBytes: Uint8Array;
  let dataName: string;
  let offset: number;
  if (isPair) {
    if (options.image === undefined) {
      throw new NiftiError(name, `header magic "${header.magic}" says this is the .hdr of a .hdr/.img pair, but no image data was given ('options.image')`);
    }
    dataName = options.imageName ?? name.replace(/\.hdr(\.gz)?$/i, '.img$1');
    dataBytes = asBytes(options.image, 'options.image', fn);
    if (options.imageGzip === true) dataBytes = gunzip(dataBytes, dataName);
    else if (options.imageGzip === undefined && isGzip(dataBytes)) {
      try {
        dataBytes = gunzip(dataBytes, dataName);
      } catch {
        // not gzip after all: raw voxels that happen to start with the magic
      }
    }
    offset = Math.floor(header.voxOffset);
    if (!(offset >= 0)) throw new NiftiError(name, `vox_offset is ${header.voxOffset}, must be >= 0`);
  } else {
    dataName = name;
    dataBytes = u8;
    offset = Math.floor(header.voxOffset);
    const min = SINGLE_VOX_OFFSET[header.version];
    if (!(offset >= min)) {
      throw new NiftiError(name, `vox_offset is ${header.voxOffset}, but the data of a single NIfTI-${header.version} file cannot start before byte ${min}`);
    }
    header.extensions = parseExtensions(u8, header, offset);
  }
  const info = DATATYPE_INFO[datatype];
  const channels: 1 | 3 = datatype === 'rgb24' ? 3 : 1;
  const voxels = shape.reduce((a, b) => a * b, 1);
  const need = voxels * info.bytes;
  if (offset > dataBytes.length) {
    throw new NiftiError(dataName, `vox_offset ${offset} is past the end of the file (${dataBytes.length} bytes)`);
  }
  if (offset + need > dataBytes.length) {
    throw new NiftiError(
      dataName,
      `truncated or dims do not match the file size: dims ${JSON.stringify(shape)} of ${datatype} need ${need} bytes of voxel data from offset ${offset}, but only ${dataBytes.length - offset} are there`,
    );
  }
  const raw = dataBytes.slice(offset, offset + need); // an exact, aligned copy
  if (info.scalarBytes > 1 && header.littleEndian !== HOST_LITTLE_ENDIAN) swapBytes(raw, info.scalarBytes);
  let data = decode(raw, datatype, dataName);

  // Scaling (nibabel get_slope_inter + apply_read_scaling).
  const slope = header.sclSlope;
  const inter = header.sclInter;
  if (datatype !== 'rgb24' && slope !== 0 && Number.isFinite(slope)) {
    if (!Number.isFinite(inter)) throw new NiftiError(name, `valid scl_slope ${slope} but invalid scl_inter ${inter}`);
    if (slope !== 1 || inter !== 0) {
      const out = new Float64Array(data.length);
      for (let i = 0; i < data.length; i++) {
        let v = data[i]!;
        if (slope !== 1) v = v * slope;
        if (inter !== 0) v = v + inter;
        out[i] = v;
      }
      data = out;
    }
  }
  const pix = fixedPixdim(header);
  return {
    shape,
    data,
    spacing: pix.slice(1, shape.length + 1),
    affine: bestAffine(header, name),
    datatype,
    channels,
    header,
  };
}
