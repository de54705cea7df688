// Element types of PyTorch storages and conversions between them.

/** Element type of a tensor read from a PyTorch file (PyTorch's dtype names without `torch.`). */
export type TorchDtype =
  | 'float32'
  | 'float64'
  | 'float16'
  | 'bfloat16'
  | 'int64'
  | 'int32'
  | 'int16'
  | 'int8'
  | 'uint8'
  | 'bool';

/**
 * Element data of a tensor, row-major (C order), one typed array per dtype:
 * `float32` → `Float32Array`, `float64` → `Float64Array`, `float16` and
 * `bfloat16` → `Uint16Array` holding the raw 16-bit patterns, `int64` →
 * `BigInt64Array`, `int32` → `Int32Array`, `int16` → `Int16Array`, `int8` →
 * `Int8Array`, `uint8` and `bool` (0 or 1) → `Uint8Array`.
 */
export type TorchTensorData =
  | Float32Array
  | Float64Array
  | Uint16Array
  | BigInt64Array
  | Int32Array
  | Int16Array
  | Int8Array
  | Uint8Array;

/** Bytes per element of each dtype. */
export const DTYPE_SIZE: Readonly<Record<TorchDtype, number>> = {
  float32: 4,
  float64: 8,
  float16: 2,
  bfloat16: 2,
  int64: 8,
  int32: 4,
  int16: 2,
  int8: 1,
  uint8: 1,
  bool: 1,
};

/** PyTorch storage class names (`torch.<Name>`) and their dtypes. */
export const STORAGE_DTYPES: Readonly<Record<string, TorchDtype>> = {
  FloatStorage: 'float32',
  DoubleStorage: 'float64',
  HalfStorage: 'float16',
  BFloat16Storage: 'bfloat16',
  LongStorage: 'int64',
  IntStorage: 'int32',
  ShortStorage: 'int16',
  CharStorage: 'int8',
  ByteStorage: 'uint8',
  BoolStorage: 'bool',
  UntypedStorage: 'uint8',
};

/**
 * Typed-array view of some bytes (the buffer must be aligned to the element size).
 *
 * @param dtype - element type
 * @param buffer - the bytes
 * @returns the typed array over the whole buffer
 */
export function typedView(dtype: TorchDtype, buffer: ArrayBuffer): TorchTensorData {
  switch (dtype) {
    case 'float32':
      return new Float32Array(buffer);
    case 'float64':
      return new Float64Array(buffer);
    case 'float16':
    case 'bfloat16':
      return new Uint16Array(buffer);
    case 'int64':
      return new BigInt64Array(buffer);
    case 'int32':
      return new Int32Array(buffer);
    case 'int16':
      return new Int16Array(buffer);
    case 'int8':
      return new Int8Array(buffer);
    case 'uint8':
    case 'bool':
      return new Uint8Array(buffer);
  }
}

let halfTable: Float32Array | undefined;

/**
 * Exact float32 values of IEEE 754 half-precision bit patterns.
 *
 * @param bits - float16 bit patterns
 * @returns a new `Float32Array` of the same length
 */
export function float16ToFloat32(bits: Uint16Array): Float32Array {
  if (!halfTable) {
    halfTable = new Float32Array(65536);
    for (let h = 0; h < 65536; h++) {
      const sign = h & 0x8000 ? -1 : 1;
      const e = (h >> 10) & 0x1f;
      const f = h & 0x3ff;
      halfTable[h] =
        e === 0 ? sign * f * 2 ** -24 : e === 31 ? (f ? NaN : sign * Infinity) : sign * (1 + f / 1024) * 2 ** (e - 15);
    }
  }
  const out = new Float32Array(bits.length);
  for (let i = 0; i < bits.length; i++) out[i] = halfTable[bits[i]!]!;
  return out;
}

/**
 * Exact float32 values of bfloat16 bit patterns (the high half of a float32).
 *
 * @param bits - bfloat16 bit patterns
 * @returns a new `Float32Array` of the same length
 */
export function bfloat16ToFloat32(bits: Uint16Array): Float32Array {
  const u = new Uint32Array(bits.length);
  for (let i = 0; i < bits.length; i++) u[i] = bits[i]! << 16;
  return new Float32Array(u.buffer);
}
