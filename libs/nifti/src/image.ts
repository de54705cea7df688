/** The in-memory image type of `@tumorcast/nifti`. */
import type { Affine } from './affine.js';
import type { NiftiDatatype } from './datatypes.js';
import type { NiftiHeader } from './header.js';

/** Voxel data: the file's integer type, or Float32Array / Float64Array. */
export type NiftiData = Uint8Array | Int8Array | Int16Array | Uint16Array | Int32Array | Uint32Array | Float32Array | Float64Array;

/**
 * A NIfTI image as read by {@link readNifti}.
 *
 * Voxel `(i, j, k, ...)` is at `data[i + shape[0] * (j + shape[1] * (k + ...))]`
 * (x fastest, as on disk and as nibabel's Fortran-ordered arrays). For
 * `rgb24` images `channels` is 3 and each voxel's R, G, B values are adjacent:
 * `data[3 * voxel + c]`.
 */
export interface NiftiImage {
  /** The header's dims `dim[1..dim[0]]` (a 2-D slice has shape `[240, 240]`). */
  shape: number[];
  /**
   * Voxel values after scaling (nibabel's `get_slope_inter`): Float64Array when
   * scaling applies or the file is float64/int64/uint64, Float32Array for
   * unscaled float32, the file's integer type for unscaled integers.
   */
  data: NiftiData;
  /** Voxel sizes `pixdim[1..dim[0]]` (after nibabel's fixes: zero -> 1, negative -> absolute value, for the first three). */
  spacing: number[];
  /** Voxel-to-world 4x4 affine, row-major (nibabel's `get_best_affine`). */
  affine: Affine;
  /** The datatype of the file. */
  datatype: NiftiDatatype;
  /** Values per voxel: 3 for `rgb24`, else 1. */
  channels: 1 | 3;
  /** The raw header fields. */
  header: NiftiHeader;
}

/**
 * What {@link writeNifti} needs: shape, data and (optionally) geometry and
 * header fields. A {@link NiftiImage} is one.
 */
export interface NiftiImageInput {
  /** Dimensions, 1 to 7 of them, each >= 1. */
  shape: readonly number[];
  /** `prod(shape) * channels` values, x fastest. */
  data: ArrayLike<number>;
  /**
   * Voxel-to-world affine (4x4, row-major, last row `[0, 0, 0, 1]`).
   * @defaultValue the identity
   */
  affine?: readonly (readonly number[])[];
  /**
   * Voxel sizes. The first three are the affine's column norms (as
   * nibabel's `set_qform` sets them); a value given here is kept where it
   * agrees with them to 1e-6. Further dimensions are taken from here.
   * @defaultValue 1 for every dimension
   */
  spacing?: readonly number[];
  /**
   * Values per voxel; 3 only for `rgb24`.
   * @defaultValue 1
   */
  channels?: 1 | 3;
  /**
   * Header fields to carry over (description, units, intent, display range,
   * slice timing, sform/qform codes). Scaling, datatype, dims and offsets are
   * always set by the writer.
   * @defaultValue none
   */
  header?: Partial<NiftiHeader>;
}
