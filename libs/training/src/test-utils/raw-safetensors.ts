/**
 * A safetensors reader, writer and float16 decoder written from the format's
 * definition, independent of @tumorcast/nn, so that tests of weight loading
 * have an oracle of their own.
 */
import fs from 'node:fs';

/** One tensor of a raw safetensors file. */
export interface RawTensor {
  dtype: string;
  shape: number[];
  bytes: Buffer;
}

/** The float value of IEEE 754 binary16 bits (sign, 5-bit exponent, 10-bit fraction). */
export function halfToFloat(bits: number): number {
  const sign = bits & 0x8000 ? -1 : 1;
  const exp = (bits >> 10) & 0x1f;
  const frac = bits & 0x3ff;
  if (exp === 0) return sign * frac * 2 ** -24; // subnormal: frac / 1024 * 2^-14
  if (exp === 31) return frac ? Number.NaN : sign * Infinity;
  return sign * (1 + frac / 1024) * 2 ** (exp - 15);
}

/** The tensors and metadata of a safetensors file. */
export function readRawSafetensors(file: string): { tensors: Map<string, RawTensor>; metadata: Record<string, string> } {
  const buf = fs.readFileSync(file);
  const n = Number(buf.readBigUInt64LE(0));
  const header = JSON.parse(buf.subarray(8, 8 + n).toString('utf8')) as Record<string, unknown>;
  const tensors = new Map<string, RawTensor>();
  let metadata: Record<string, string> = {};
  for (const [k, v] of Object.entries(header)) {
    if (k === '__metadata__') {
      metadata = v as Record<string, string>;
      continue;
    }
    const e = v as { dtype: string; shape: number[]; data_offsets: [number, number] };
    tensors.set(k, { dtype: e.dtype, shape: e.shape, bytes: buf.subarray(8 + n + e.data_offsets[0], 8 + n + e.data_offsets[1]) });
  }
  return { tensors, metadata };
}

/** A raw tensor's values as numbers (F16 decoded with {@link halfToFloat}, F32 read as is). */
export function rawValues(t: RawTensor): number[] {
  const out: number[] = [];
  if (t.dtype === 'F16') for (let i = 0; i < t.bytes.length; i += 2) out.push(halfToFloat(t.bytes.readUInt16LE(i)));
  else if (t.dtype === 'F32') for (let i = 0; i < t.bytes.length; i += 4) out.push(t.bytes.readFloatLE(i));
  else throw new Error(`rawValues: dtype ${t.dtype} not handled`);
  return out;
}

/**
 * Writes a float16 safetensors file whose values are pseudo-random finite
 * half-precision bit patterns (normal and subnormal, both signs, small
 * enough to train with), seeded; returns the bits per tensor.
 *
 * @param file - where to write.
 * @param shapes - tensor names to shapes.
 * @param metadata - the header's metadata.
 * @param seed - seed of the bit patterns.
 */
export function writeRandomF16Safetensors(
  file: string, shapes: ReadonlyMap<string, readonly number[]>, metadata: Record<string, string>, seed = 1,
): Map<string, Uint16Array> {
  let s = seed >>> 0 || 1;
  const next = () => {
    // xorshift32
    s ^= s << 13;
    s >>>= 0;
    s ^= s >>> 17;
    s ^= s << 5;
    s >>>= 0;
    return s;
  };
  const header: Record<string, unknown> = { __metadata__: metadata };
  const parts: Buffer[] = [];
  const out = new Map<string, Uint16Array>();
  let offset = 0;
  for (const [name, shape] of shapes) {
    const n = shape.reduce((a, b) => a * b, 1);
    const bits = new Uint16Array(n);
    for (let i = 0; i < n; i++) {
      const r = next();
      // Exponent 0..14 (|x| < 1; 0 gives subnormals), any fraction, either sign.
      bits[i] = (r & 0x8000) | ((r >>> 16) % 15 << 10) | (r & 0x3ff);
    }
    out.set(name, bits);
    const b = Buffer.from(bits.buffer, bits.byteOffset, bits.byteLength);
    header[name] = { dtype: 'F16', shape: [...shape], data_offsets: [offset, offset + b.length] };
    parts.push(b);
    offset += b.length;
  }
  let json = JSON.stringify(header);
  json += ' '.repeat((8 - (json.length % 8)) % 8);
  const len = Buffer.alloc(8);
  len.writeBigUInt64LE(BigInt(Buffer.byteLength(json)));
  fs.writeFileSync(file, Buffer.concat([len, Buffer.from(json, 'utf8'), ...parts]));
  return out;
}
