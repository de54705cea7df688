/** NIfTI datatype codes and their sizes (nifti1.h, as nibabel's `data_type_codes`). */

/** The datatypes `@tumorcast/nifti` reads and writes. */
export type NiftiDatatype =
  | 'uint8'
  | 'int8'
  | 'int16'
  | 'uint16'
  | 'int32'
  | 'uint32'
  | 'int64'
  | 'uint64'
  | 'float32'
  | 'float64'
  | 'rgb24';

/** Every supported datatype name, in code order. */
export const NIFTI_DATATYPES: readonly NiftiDatatype[] = Object.freeze([
  'uint8', 'int16', 'int32', 'float32', 'float64', 'rgb24', 'int8', 'uint16', 'uint32', 'int64', 'uint64',
] as NiftiDatatype[]);

interface DatatypeInfo {
  code: number;
  /** Bytes per voxel (all three channels for rgb24). */
  bytes: number;
  /** Bytes per scalar (the unit of byte swapping). */
  scalarBytes: number;
}

/** @internal */
export const DATATYPE_INFO: Readonly<Record<NiftiDatatype, DatatypeInfo>> = Object.freeze({
  uint8: { code: 2, bytes: 1, scalarBytes: 1 },
  int16: { code: 4, bytes: 2, scalarBytes: 2 },
  int32: { code: 8, bytes: 4, scalarBytes: 4 },
  float32: { code: 16, bytes: 4, scalarBytes: 4 },
  float64: { code: 64, bytes: 8, scalarBytes: 8 },
  rgb24: { code: 128, bytes: 3, scalarBytes: 1 },
  int8: { code: 256, bytes: 1, scalarBytes: 1 },
  uint16: { code: 512, bytes: 2, scalarBytes: 2 },
  uint32: { code: 768, bytes: 4, scalarBytes: 4 },
  int64: { code: 1024, bytes: 8, scalarBytes: 8 },
  uint64: { code: 1280, bytes: 8, scalarBytes: 8 },
});

/** Codes nifti1.h defines that this package refuses, with their names (for error messages). @internal */
export const UNSUPPORTED_DATATYPES: Readonly<Record<number, string>> = Object.freeze({
  0: 'none (DT_UNKNOWN)',
  1: 'binary (1 bit per voxel)',
  32: 'complex64',
  1536: 'float128',
  1792: 'complex128',
  2048: 'complex256',
  2304: 'rgba32',
});

/** The datatype name of a NIfTI datatype code, or undefined if unsupported. @internal */
export function datatypeFromCode(code: number): NiftiDatatype | undefined {
  for (const name of NIFTI_DATATYPES) if (DATATYPE_INFO[name].code === code) return name;
  return undefined;
}

/** Inclusive value range of the integer datatypes. @internal */
export const INTEGER_RANGE: Readonly<Partial<Record<NiftiDatatype, [number, number]>>> = Object.freeze({
  uint8: [0, 255],
  rgb24: [0, 255],
  int8: [-128, 127],
  int16: [-32768, 32767],
  uint16: [0, 65535],
  int32: [-2147483648, 2147483647],
  uint32: [0, 4294967295],
  int64: [-Number.MAX_SAFE_INTEGER, Number.MAX_SAFE_INTEGER],
  uint64: [0, Number.MAX_SAFE_INTEGER],
});
