/**
 * Reading and writing the safetensors format (Hugging Face): an 8-byte
 * little-endian header length N, N bytes of JSON (`{ name: { dtype, shape,
 * data_offsets: [begin, end] }, "__metadata__": { string: string } }`), then
 * the raw little-endian tensor bytes. Pure TypeScript; works in browsers.
 */

/** Element types of the safetensors format that tumorcast reads. */
export type SafetensorsDtype = 'F64' | 'F32' | 'F16' | 'BF16' | 'I64' | 'I32' | 'I16' | 'I8' | 'U8' | 'BOOL';

/** Typed array holding a tensor's values in memory. */
export type SafetensorsData = Float32Array | Float64Array | Int32Array | BigInt64Array | Int16Array | Int8Array | Uint8Array;

/** One tensor read from a safetensors file. */
export interface SafeTensor {
  /** The element type stored in the file (F16/BF16 are widened to a Float32Array in {@link SafeTensor.data}). */
  dtype: SafetensorsDtype;
  /** The shape, slowest axis first (row-major, as PyTorch and NumPy). */
  shape: number[];
  /**
   * The values: Float32Array for F32/F16/BF16, Float64Array for F64 (or
   * Float32Array with `widenToFloat32`), BigInt64Array for I64, Int32Array for
   * I32, Int16Array, Int8Array, Uint8Array for U8 and BOOL.
   */
  data: SafetensorsData;
}

/** A safetensors file's contents. */
export interface SafetensorsFile {
  /** Tensors in file order. */
  tensors: Map<string, SafeTensor>;
  /** The `__metadata__` map (empty when absent). */
  metadata: Record<string, string>;
}

/** A tensor to write: shape plus values. */
export interface SafetensorsInput {
  /** The shape, slowest axis first. */
  shape: readonly number[];
  /** The values (length = product of shape). */
  data: Float32Array | Float64Array | Int32Array | BigInt64Array | Uint8Array | Int16Array | Int8Array | readonly number[];
  /** Element type to store; default from the array type (Float32Array -> F32, a plain array -> F32). */
  dtype?: SafetensorsDtype;
}

/** Options of {@link readSafetensors}. */
export interface ReadSafetensorsOptions {
  /**
   * Name of the file or source, used in error messages.
   * @defaultValue 'safetensors data'
   */
  source?: string;
  /**
   * Also narrow F64 tensors to Float32Array (tfjs computes in float32).
   * @defaultValue false
   */
  widenToFloat32?: boolean;
}

/** Options of {@link writeSafetensors}. */
export interface WriteSafetensorsOptions {
  /**
   * String metadata stored under `__metadata__`.
   * @defaultValue none
   */
  metadata?: Record<string, string>;
  /**
   * Store every floating-point tensor with this type (F16 halves the file;
   * values are rounded to nearest even).
   * @defaultValue each tensor's own dtype
   */
  floatDtype?: 'F32' | 'F16' | 'BF16';
}

/** A malformed or truncated safetensors file; the message names the source and the problem. */
export class SafetensorsError extends Error {
  /** @param message - the source and what is wrong with it. */
  constructor(message: string) {
    super(message);
    this.name = 'SafetensorsError';
  }
}

const BYTES: Record<SafetensorsDtype, number> = { F64: 8, F32: 4, F16: 2, BF16: 2, I64: 8, I32: 4, I16: 2, I8: 1, U8: 1, BOOL: 1 };

/** Converts an IEEE half-precision bit pattern to a number. */
export function float16ToNumber(h: number): number {
  const s = h & 0x8000 ? -1 : 1;
  const e = (h >> 10) & 0x1f;
  const f = h & 0x3ff;
  if (e === 0) return s * f * 2 ** -24;
  if (e === 31) return f ? Number.NaN : s * Infinity;
  return s * (1 + f / 1024) * 2 ** (e - 15);
}

const f32 = new Float32Array(1);
const u32 = new Uint32Array(f32.buffer);

/** Converts a number to an IEEE half-precision bit pattern (round to nearest even). */
export function numberToFloat16(v: number): number {
  f32[0] = v;
  const x = u32[0] as number;
  const sign = (x >>> 16) & 0x8000;
  const exp = (x >>> 23) & 0xff;
  let mant = x & 0x7fffff;
  if (exp === 0xff) return sign | 0x7c00 | (mant ? 0x200 : 0);
  let e = exp - 127 + 15;
  if (e >= 31) return sign | 0x7c00;
  if (e <= 0) {
    if (e < -10) return sign;
    mant |= 0x800000;
    const shift = 14 - e;
    const half = 1 << (shift - 1);
    let r = mant >> shift;
    const rem = mant & ((1 << shift) - 1);
    if (rem > half || (rem === half && r & 1)) r++;
    return sign | r;
  }
  let r = mant >> 13;
  const rem = mant & 0x1fff;
  if (rem > 0x1000 || (rem === 0x1000 && r & 1)) {
    r++;
    if (r === 0x400) {
      r = 0;
      e++;
      if (e >= 31) return sign | 0x7c00;
    }
  }
  return sign | (e << 10) | r;
}

/** Converts a number to a bfloat16 bit pattern (round to nearest even). */
function numberToBfloat16(v: number): number {
  f32[0] = v;
  const x = u32[0] as number;
  if (Number.isNaN(v)) return 0x7fc0;
  const r = x + 0x7fff + ((x >>> 16) & 1);
  return (r >>> 16) & 0xffff;
}

/**
 * Parses safetensors bytes. Validates the header (length, JSON, dtypes,
 * shapes, offsets inside the data and covering it without overlap) and
 * throws a {@link SafetensorsError} naming the source and the problem.
 */
export function readSafetensors(bytes: Uint8Array | ArrayBuffer, options: ReadSafetensorsOptions = {}): SafetensorsFile {
  const src = options.source ?? 'safetensors data';
  const u8 = bytes instanceof Uint8Array ? bytes : new Uint8Array(bytes);
  const fail = (msg: string): never => {
    throw new SafetensorsError(`${src}: ${msg}`);
  };
  if (u8.byteLength < 8) fail(`truncated: ${u8.byteLength} bytes, fewer than the 8-byte header length`);
  const dv = new DataView(u8.buffer, u8.byteOffset, u8.byteLength);
  const headerLen = dv.getBigUint64(0, true);
  if (headerLen > BigInt(u8.byteLength - 8)) fail(`truncated or not safetensors: header length ${headerLen} exceeds the file size ${u8.byteLength}`);
  const n = Number(headerLen);
  let header: Record<string, unknown>;
  try {
    header = JSON.parse(new TextDecoder('utf-8', { fatal: true }).decode(u8.subarray(8, 8 + n))) as Record<string, unknown>;
  } catch (e) {
    return fail(`the header is not valid UTF-8 JSON (${(e as Error).message})`);
  }
  if (header === null || typeof header !== 'object' || Array.isArray(header)) fail('the header is not a JSON object');
  const dataStart = 8 + n;
  const dataLen = u8.byteLength - dataStart;
  const metadata: Record<string, string> = {};
  const entries: { name: string; dtype: SafetensorsDtype; shape: number[]; begin: number; end: number }[] = [];
  for (const [name, value] of Object.entries(header)) {
    if (name === '__metadata__') {
      if (value === null || typeof value !== 'object') fail('__metadata__ must be an object of strings');
      for (const [k, v] of Object.entries(value as Record<string, unknown>)) {
        if (typeof v !== 'string') fail(`__metadata__ value for '${k}' is not a string`);
        metadata[k] = v as string;
      }
      continue;
    }
    const t = value as { dtype?: unknown; shape?: unknown; data_offsets?: unknown };
    if (!t || typeof t !== 'object') fail(`tensor '${name}': entry is not an object`);
    const dtype = t.dtype as SafetensorsDtype;
    if (typeof dtype !== 'string' || !(dtype in BYTES)) fail(`tensor '${name}': unsupported dtype ${JSON.stringify(t.dtype)} (supported: ${Object.keys(BYTES).join(', ')})`);
    const shape = t.shape;
    if (!Array.isArray(shape) || !shape.every((d) => Number.isSafeInteger(d) && d >= 0)) fail(`tensor '${name}': shape must be a list of non-negative integers, got ${JSON.stringify(shape)}`);
    const off = t.data_offsets;
    if (!Array.isArray(off) || off.length !== 2 || !off.every((d) => Number.isSafeInteger(d) && d >= 0)) fail(`tensor '${name}': data_offsets must be [begin, end], got ${JSON.stringify(off)}`);
    const [begin, end] = off as [number, number];
    const count = (shape as number[]).reduce((a, b) => a * b, 1);
    if (end < begin || end - begin !== count * BYTES[dtype]) fail(`tensor '${name}': data_offsets [${begin}, ${end}] hold ${end - begin} bytes but ${dtype} ${JSON.stringify(shape)} needs ${count * BYTES[dtype]}`);
    if (end > dataLen) fail(`truncated: tensor '${name}' ends at byte ${end} of the data section, which has only ${dataLen} bytes`);
    entries.push({ name, dtype, shape: shape as number[], begin, end });
  }
  const sorted = [...entries].sort((a, b) => a.begin - b.begin);
  for (let i = 1; i < sorted.length; i++) {
    const prev = sorted[i - 1]!;
    const cur = sorted[i]!;
    if (cur.begin < prev.end) fail(`tensors '${prev.name}' and '${cur.name}' overlap in the data section`);
  }
  const tensors = new Map<string, SafeTensor>();
  for (const e of entries) {
    const count = e.shape.reduce((a, b) => a * b, 1);
    const view = new DataView(u8.buffer, u8.byteOffset + dataStart + e.begin, e.end - e.begin);
    let data: SafetensorsData;
    switch (e.dtype) {
      case 'F32': {
        const a = new Float32Array(count);
        for (let i = 0; i < count; i++) a[i] = view.getFloat32(4 * i, true);
        data = a;
        break;
      }
      case 'F64': {
        const a = options.widenToFloat32 ? new Float32Array(count) : new Float64Array(count);
        for (let i = 0; i < count; i++) a[i] = view.getFloat64(8 * i, true);
        data = a;
        break;
      }
      case 'F16': {
        const a = new Float32Array(count);
        for (let i = 0; i < count; i++) a[i] = float16ToNumber(view.getUint16(2 * i, true));
        data = a;
        break;
      }
      case 'BF16': {
        const a = new Float32Array(count);
        const bits = new Uint32Array(a.buffer);
        for (let i = 0; i < count; i++) bits[i] = view.getUint16(2 * i, true) << 16;
        data = a;
        break;
      }
      case 'I64': {
        const a = new BigInt64Array(count);
        for (let i = 0; i < count; i++) a[i] = view.getBigInt64(8 * i, true);
        data = a;
        break;
      }
      case 'I32': {
        const a = new Int32Array(count);
        for (let i = 0; i < count; i++) a[i] = view.getInt32(4 * i, true);
        data = a;
        break;
      }
      case 'I16': {
        const a = new Int16Array(count);
        for (let i = 0; i < count; i++) a[i] = view.getInt16(2 * i, true);
        data = a;
        break;
      }
      case 'I8':
        data = new Int8Array(u8.slice(dataStart + e.begin, dataStart + e.end).buffer);
        break;
      default:
        data = u8.slice(dataStart + e.begin, dataStart + e.end);
    }
    tensors.set(e.name, { dtype: e.dtype, shape: e.shape, data });
  }
  return { tensors, metadata };
}

function inferDtype(d: SafetensorsInput['data']): SafetensorsDtype {
  if (d instanceof Float64Array) return 'F64';
  if (d instanceof Int32Array) return 'I32';
  if (d instanceof BigInt64Array) return 'I64';
  if (d instanceof Uint8Array) return 'U8';
  if (d instanceof Int16Array) return 'I16';
  if (d instanceof Int8Array) return 'I8';
  return 'F32';
}

/**
 * Serialises tensors to safetensors bytes (tensors in the given order, header
 * padded with spaces to 8 bytes as the reference writer does).
 */
export function writeSafetensors(
  tensors: Map<string, SafetensorsInput> | Record<string, SafetensorsInput>,
  options: WriteSafetensorsOptions = {},
): Uint8Array {
  const list = tensors instanceof Map ? [...tensors.entries()] : Object.entries(tensors);
  const header: Record<string, unknown> = {};
  if (options.metadata) {
    for (const [k, v] of Object.entries(options.metadata)) {
      if (typeof v !== 'string') throw new TypeError(`'metadata' passed to 'writeSafetensors': value for '${k}' must be a string`);
    }
    header['__metadata__'] = options.metadata;
  }
  let offset = 0;
  const plan: { dtype: SafetensorsDtype; input: SafetensorsInput; begin: number; count: number }[] = [];
  for (const [name, t] of list) {
    if (name === '__metadata__') throw new Error(`'tensors' passed to 'writeSafetensors' may not contain the reserved name '__metadata__'`);
    const count = t.shape.reduce((a, b) => a * b, 1);
    if (!t.shape.every((d) => Number.isSafeInteger(d) && d >= 0)) throw new RangeError(`'tensors' passed to 'writeSafetensors': '${name}' has an invalid shape ${JSON.stringify(t.shape)}`);
    if (t.data.length !== count) throw new RangeError(`'tensors' passed to 'writeSafetensors': '${name}' has ${t.data.length} values but shape ${JSON.stringify(t.shape)} needs ${count}`);
    let dtype = t.dtype ?? inferDtype(t.data);
    if (options.floatDtype && (dtype === 'F32' || dtype === 'F64' || dtype === 'F16' || dtype === 'BF16')) dtype = options.floatDtype;
    const size = count * BYTES[dtype];
    header[name] = { dtype, shape: [...t.shape], data_offsets: [offset, offset + size] };
    plan.push({ dtype, input: t, begin: offset, count });
    offset += size;
  }
  let json = JSON.stringify(header);
  const enc = new TextEncoder();
  let hbytes = enc.encode(json);
  const pad = (8 - (hbytes.length % 8)) % 8;
  if (pad) {
    json += ' '.repeat(pad);
    hbytes = enc.encode(json);
  }
  const out = new Uint8Array(8 + hbytes.length + offset);
  const dv = new DataView(out.buffer);
  dv.setBigUint64(0, BigInt(hbytes.length), true);
  out.set(hbytes, 8);
  const base = 8 + hbytes.length;
  for (const { dtype, input, begin, count } of plan) {
    const p = base + begin;
    const d = input.data;
    const num = (i: number): number => Number(d[i] as number | bigint);
    switch (dtype) {
      case 'F32': for (let i = 0; i < count; i++) dv.setFloat32(p + 4 * i, num(i), true); break;
      case 'F64': for (let i = 0; i < count; i++) dv.setFloat64(p + 8 * i, num(i), true); break;
      case 'F16': for (let i = 0; i < count; i++) dv.setUint16(p + 2 * i, numberToFloat16(num(i)), true); break;
      case 'BF16': for (let i = 0; i < count; i++) dv.setUint16(p + 2 * i, numberToBfloat16(num(i)), true); break;
      case 'I64': for (let i = 0; i < count; i++) dv.setBigInt64(p + 8 * i, typeof d[i] === 'bigint' ? (d[i] as bigint) : BigInt(Math.trunc(num(i))), true); break;
      case 'I32': for (let i = 0; i < count; i++) dv.setInt32(p + 4 * i, num(i), true); break;
      case 'I16': for (let i = 0; i < count; i++) dv.setInt16(p + 2 * i, num(i), true); break;
      case 'I8': for (let i = 0; i < count; i++) dv.setInt8(p + i, num(i)); break;
      case 'U8': case 'BOOL': for (let i = 0; i < count; i++) dv.setUint8(p + i, num(i)); break;
    }
  }
  return out;
}

/** Reads a safetensors file from disk (Node). */
export async function loadSafetensors(path: string, options: Omit<ReadSafetensorsOptions, 'source'> = {}): Promise<SafetensorsFile> {
  const fs = await import('node:fs/promises');
  let bytes: Uint8Array;
  try {
    bytes = await fs.readFile(path);
  } catch (e) {
    throw new SafetensorsError(`${path}: cannot read (${(e as NodeJS.ErrnoException).code ?? (e as Error).message})`);
  }
  return readSafetensors(bytes, { ...options, source: path });
}

/**
 * Writes a safetensors file atomically (Node only): a temporary file in the
 * same folder, flushed, then renamed (`@tumorcast/cli/files`, loaded on first
 * use so that this module stays browser-safe). The folder must exist.
 */
export async function saveSafetensors(
  path: string,
  tensors: Map<string, SafetensorsInput> | Record<string, SafetensorsInput>,
  options: WriteSafetensorsOptions = {},
): Promise<void> {
  const bytes = writeSafetensors(tensors, options);
  const { writeFileAtomic } = await import('@tumorcast/cli/files');
  await writeFileAtomic(path, bytes, { createFolder: false });
}
