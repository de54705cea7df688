/**
 * A minimal protocol-buffers writer: the few wire types the ONNX messages
 * need (varint, 32-bit, length-delimited). A message keeps its encoded
 * pieces instead of one growing buffer, so that nesting a message (which
 * needs its length first) and adding large byte fields (weights) copy nothing
 * until {@link ProtoWriter.finish}.
 */

const textEncoder = new TextEncoder();

/** Wire types of the protobuf encoding. */
const VARINT = 0;
const LEN = 2;
const I32 = 5;

/** The varint bytes of a non-negative integer below 2^64 (given as a bigint). */
function varintBig(v: bigint): Uint8Array {
  const out: number[] = [];
  let x = v;
  while (x >= 0x80n) {
    out.push(Number(x & 0x7fn) | 0x80);
    x >>= 7n;
  }
  out.push(Number(x));
  return Uint8Array.from(out);
}

/**
 * The varint bytes of an integer; negative values are written as their
 * 64-bit two's complement (10 bytes), as protobuf's `int64` is.
 */
export function encodeVarint(value: number | bigint): Uint8Array {
  if (typeof value === 'number' && !Number.isSafeInteger(value)) {
    throw new RangeError(`'value' passed to 'encodeVarint' must be a safe integer, got ${value}`);
  }
  const v = BigInt(value);
  if (v < -(1n << 63n) || v >= 1n << 64n) throw new RangeError(`'value' passed to 'encodeVarint' must fit 64 bits, got ${v}`);
  return varintBig(BigInt.asUintN(64, v));
}

/** An encoded message under construction: append fields, then nest it or {@link ProtoWriter.finish} it. */
export class ProtoWriter {
  private readonly parts: Uint8Array[] = [];
  private size = 0;

  /** Encoded length so far, in bytes. */
  get length(): number {
    return this.size;
  }

  private push(bytes: Uint8Array): void {
    this.parts.push(bytes);
    this.size += bytes.length;
  }

  private tag(field: number, wire: number): void {
    if (!Number.isInteger(field) || field < 1 || field > 0x1fffffff) throw new RangeError(`protobuf field number must be in [1, 2^29), got ${field}`);
    this.push(encodeVarint(field * 8 + wire));
  }

  /** An integer field (`int32`, `int64`, enum, bool as 0/1). */
  int(field: number, value: number | bigint): this {
    this.tag(field, VARINT);
    this.push(encodeVarint(value));
    return this;
  }

  /** A `float` field (32-bit little-endian). */
  float(field: number, value: number): this {
    this.tag(field, I32);
    const b = new Uint8Array(4);
    new DataView(b.buffer).setFloat32(0, value, true);
    this.push(b);
    return this;
  }

  /** A `string` field (UTF-8). */
  string(field: number, value: string): this {
    return this.bytes(field, textEncoder.encode(value));
  }

  /** A `bytes` field; `value` is kept by reference until {@link ProtoWriter.finish}. */
  bytes(field: number, value: Uint8Array): this {
    this.tag(field, LEN);
    this.push(encodeVarint(value.length));
    this.push(value);
    return this;
  }

  /** A nested message field. */
  message(field: number, value: ProtoWriter): this {
    this.tag(field, LEN);
    this.push(encodeVarint(value.size));
    for (const p of value.parts) this.push(p);
    return this;
  }

  /** A packed repeated integer field. */
  packedInts(field: number, values: readonly (number | bigint)[]): this {
    const enc = values.map((v) => encodeVarint(v));
    const body = new Uint8Array(enc.reduce((s, e) => s + e.length, 0));
    let o = 0;
    for (const e of enc) {
      body.set(e, o);
      o += e.length;
    }
    return this.bytes(field, body);
  }

  /** A packed repeated `float` field. */
  packedFloats(field: number, values: readonly number[]): this {
    const body = new Uint8Array(4 * values.length);
    const dv = new DataView(body.buffer);
    values.forEach((v, i) => dv.setFloat32(4 * i, v, true));
    return this.bytes(field, body);
  }

  /** The message's bytes, in one new buffer. */
  finish(): Uint8Array {
    const out = new Uint8Array(this.size);
    let o = 0;
    for (const p of this.parts) {
      out.set(p, o);
      o += p.length;
    }
    return out;
  }
}
