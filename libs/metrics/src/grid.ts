/**
 * The `Grid` input type, validation shared by every metric, and adapters
 * from a NIfTI image and from a tf.Tensor.
 */

/**
 * A 2-D or 3-D image or mask stored row-major (slowest axis first, like numpy
 * and tfjs): the value at index `(i, j, k)` of a `[D, H, W]` grid is
 * `data[(i * H + j) * W + k]`.
 */
export interface Grid {
  /** The values, `shape.reduce((a, b) => a * b)` of them, row-major. */
  readonly data: ArrayLike<number>;
  /** The extent of each axis, slowest first; 2 or 3 positive integers. */
  readonly shape: readonly number[];
  /**
   * The physical size of a voxel along each axis (e.g. millimetres), in the
   * same axis order as `shape`. Only distances and volumes use it.
   * @defaultValue all ones
   */
  readonly spacing?: readonly number[];
}

/** A grid whose data is known to be a `Float64Array`. */
export interface Float64Grid extends Grid {
  /** The values, row-major. */
  readonly data: Float64Array;
}

/** A binary mask grid (0 or 1) as returned by {@link surface}. */
export interface MaskGrid extends Grid {
  /** 1 for voxels in the mask, 0 elsewhere, row-major. */
  readonly data: Uint8Array;
}

/** @internal Builds the error message prefix `'arg' passed to 'fn'`. */
export function argError(arg: string, fn: string, what: string): Error {
  return new Error(`'${arg}' passed to '${fn}' ${what}`);
}

/** @internal Product of a shape. */
export function sizeOf(shape: readonly number[]): number {
  let n = 1;
  for (const s of shape) n *= s;
  return n;
}

/**
 * @internal Validates a grid's structure (not its values): an object with
 * `data` and a `shape` of `minRank..maxRank` positive integers matching the
 * data's length, and a valid `spacing` if present. Returns the voxel count.
 */
export function checkGrid(
  grid: Grid,
  arg: string,
  fn: string,
  minRank = 2,
  maxRank = 3,
): number {
  if (grid === null || typeof grid !== 'object') {
    throw argError(arg, fn, 'must be a grid { data, shape, spacing? }');
  }
  const { data, shape } = grid;
  if (data === null || typeof data !== 'object' || typeof data.length !== 'number') {
    throw argError(arg, fn, 'must have an array-like `data`');
  }
  if (!Array.isArray(shape) && !(shape !== null && typeof shape === 'object' && typeof (shape as { length?: unknown }).length === 'number')) {
    throw argError(arg, fn, 'must have a `shape` array');
  }
  if (shape.length < minRank || shape.length > maxRank) {
    const ranks = minRank === maxRank ? `${minRank}` : `${minRank} to ${maxRank}`;
    throw argError(arg, fn, `must be ${ranks}-dimensional, got shape [${Array.from(shape).join(', ')}]`);
  }
  for (const s of shape) {
    if (!Number.isInteger(s) || s <= 0) {
      throw argError(arg, fn, `must have a shape of positive integers (a zero-size grid is not allowed), got [${Array.from(shape).join(', ')}]`);
    }
  }
  const n = sizeOf(shape);
  if (data.length !== n) {
    throw argError(arg, fn, `has ${data.length} values but its shape [${Array.from(shape).join(', ')}] needs ${n}`);
  }
  if (grid.spacing !== undefined) checkSpacing(grid.spacing, shape.length, `${arg}.spacing`, fn);
  return n;
}

/** @internal Validates a spacing vector. */
export function checkSpacing(spacing: readonly number[], rank: number, arg: string, fn: string): void {
  if (spacing === null || typeof spacing !== 'object' || typeof spacing.length !== 'number') {
    throw argError(arg, fn, 'must be an array of numbers');
  }
  if (spacing.length !== rank) {
    throw argError(arg, fn, `must have ${rank} entries (one per axis), got ${spacing.length}`);
  }
  for (const s of Array.from(spacing)) {
    if (typeof s !== 'number' || !Number.isFinite(s) || s <= 0) {
      throw argError(arg, fn, `must contain finite positive numbers, got [${Array.from(spacing).join(', ')}]`);
    }
  }
}

/** @internal Throws unless two grids have the same shape. */
export function checkSameShape(a: Grid, b: Grid, argA: string, argB: string, fn: string): void {
  const sa = a.shape;
  const sb = b.shape;
  let same = sa.length === sb.length;
  for (let i = 0; same && i < sa.length; i++) same = sa[i] === sb[i];
  if (!same) {
    throw argError(argB, fn, `must have the same shape as '${argA}': [${Array.from(sb).join(', ')}] vs [${Array.from(sa).join(', ')}]`);
  }
}

/**
 * @internal Resolves the spacing to use for two grids: the option if given,
 * else the grids' own (which must agree), else all ones.
 */
export function resolveSpacing(
  option: readonly number[] | undefined,
  a: Grid,
  b: Grid | undefined,
  rank: number,
  fn: string,
  argA = 'a',
  argB = 'b',
): Float64Array {
  if (option !== undefined) {
    checkSpacing(option, rank, 'options.spacing', fn);
    return Float64Array.from(option);
  }
  const sa = a.spacing;
  const sb = b?.spacing;
  if (sa !== undefined && sb !== undefined) {
    for (let i = 0; i < rank; i++) {
      if (Math.abs(sa[i]! - sb[i]!) > 1e-6 * Math.max(Math.abs(sa[i]!), Math.abs(sb[i]!))) {
        throw argError(`${argB}.spacing`, fn, `must equal '${argA}.spacing': [${Array.from(sb).join(', ')}] vs [${Array.from(sa).join(', ')}]`);
      }
    }
  }
  const s = sa ?? sb;
  return s === undefined ? new Float64Array(rank).fill(1) : Float64Array.from(s);
}

/** @internal Throws if any value of the grid is NaN or infinite. */
export function checkFinite(data: ArrayLike<number>, arg: string, fn: string): void {
  for (let i = 0; i < data.length; i++) {
    const v = data[i]!;
    if (v - v !== 0) {
      throw argError(arg, fn, `must contain only finite values, found ${v} at index ${i}`);
    }
  }
}

/**
 * @internal Thresholds a grid into a 0/1 mask (`value > threshold`), checking
 * for non-finite values on the way.
 */
export function toMask(data: ArrayLike<number>, threshold: number, arg: string, fn: string, out?: Uint8Array): Uint8Array {
  const n = data.length;
  const m = out ?? new Uint8Array(n);
  let bad = false;
  for (let i = 0; i < n; i++) {
    const v = data[i]!;
    m[i] = v > threshold ? 1 : 0;
    if (v - v !== 0) bad = true;
  }
  if (bad) checkFinite(data, arg, fn);
  return m;
}

/** @internal Validates a threshold option. */
export function checkThreshold(t: number, arg: string, fn: string): void {
  if (typeof t !== 'number' || !Number.isFinite(t)) {
    throw argError(arg, fn, `must be a finite number, got ${String(t)}`);
  }
}

/**
 * The structural type of a `NiftiImage` (as read by `@tumorcast/nifti`):
 * voxel values stored x-fastest, i.e. column-major with respect to `shape`
 * (`[nx, ny, nz]`), and the voxel size per axis in the same order.
 */
export interface NiftiLike {
  /** Voxel values, x fastest (NIfTI on-disk order). */
  readonly data: ArrayLike<number>;
  /** `[nx, ny]` or `[nx, ny, nz]` (trailing extents of 1 are dropped). */
  readonly shape: readonly number[];
  /** Voxel size per axis (`pixdim[1..]`); extra entries are ignored. */
  readonly spacing?: readonly number[];
}

/** Options of {@link fromNifti}. */
export interface FromNiftiOptions {
  /**
   * The axis order of the returned grid.
   * - `'zyx'`: shape `[nz, ny, nx]`, sharing the image's data without a copy
   *   (x-fastest data *is* row-major data for the reversed shape).
   * - `'xyz'`: shape `[nx, ny, nz]` like nibabel's `get_fdata()`, at the cost
   *   of a transposing copy.
   *
   * Every metric of this package is invariant to the axis order (spacing is
   * permuted with the axes), so `'zyx'` is the cheap choice.
   * @defaultValue 'zyx'
   */
  axisOrder?: 'zyx' | 'xyz';
}

/**
 * Adapts a NIfTI image (`{ data, shape, spacing }` with x-fastest data, as read
 * by `@tumorcast/nifti`) to a row-major {@link Grid}.
 *
 * NIfTI stores voxels with x varying fastest, i.e. column-major with respect
 * to `shape = [nx, ny, nz]`. Read as row-major, the same buffer has shape
 * `[nz, ny, nx]`, so the default conversion only reverses `shape` and
 * `spacing`. Trailing extents of 1 (e.g. a slice stored as `[240, 240, 1]`)
 * are dropped first.
 *
 * @param image - the NIfTI image.
 * @param options - see {@link FromNiftiOptions}.
 * @returns a 2-D or 3-D grid.
 */
export function fromNifti(image: NiftiLike, options: FromNiftiOptions = {}): Grid {
  const fn = 'fromNifti';
  if (image === null || typeof image !== 'object' || image.shape === undefined) {
    throw argError('image', fn, 'must be a NIfTI image { data, shape, spacing }');
  }
  const axisOrder = options.axisOrder ?? 'zyx';
  if (axisOrder !== 'zyx' && axisOrder !== 'xyz') {
    throw argError('options.axisOrder', fn, `must be 'zyx' or 'xyz', got ${String(axisOrder)}`);
  }
  let rank = image.shape.length;
  while (rank > 2 && image.shape[rank - 1] === 1) rank--;
  const shapeXyz = Array.from(image.shape).slice(0, rank);
  let spacingXyz: number[] | undefined;
  if (image.spacing !== undefined) {
    if (image.spacing.length < rank) {
      throw argError('image.spacing', fn, `must have at least ${rank} entries, got ${image.spacing.length}`);
    }
    spacingXyz = Array.from(image.spacing).slice(0, rank);
  }
  const zyx: Grid = {
    data: image.data,
    shape: shapeXyz.slice().reverse(),
    ...(spacingXyz ? { spacing: spacingXyz.slice().reverse() } : {}),
  };
  checkGrid(zyx, 'image', fn);
  if (axisOrder === 'zyx') return zyx;
  // Transpose: out[x, y, z] (row-major) = in[x + nx * (y + ny * z)].
  const n = image.data.length;
  const out = new Float64Array(n);
  const src = image.data;
  if (rank === 2) {
    const nx = shapeXyz[0]!;
    const ny = shapeXyz[1]!;
    for (let x = 0; x < nx; x++) for (let y = 0; y < ny; y++) out[x * ny + y] = src[x + nx * y]!;
  } else {
    const nx = shapeXyz[0]!;
    const ny = shapeXyz[1]!;
    const nz = shapeXyz[2]!;
    for (let x = 0; x < nx; x++) {
      for (let y = 0; y < ny; y++) {
        const o = (x * ny + y) * nz;
        for (let z = 0; z < nz; z++) out[o + z] = src[x + nx * (y + ny * z)]!;
      }
    }
  }
  return { data: out, shape: shapeXyz, ...(spacingXyz ? { spacing: spacingXyz } : {}) };
}

/** The structural type of a tf.Tensor that {@link fromTensor} accepts. */
export interface TensorLike {
  /** The tensor's shape (row-major, like numpy). */
  readonly shape: readonly number[];
  /** Synchronously downloads the values (row-major). */
  dataSync(): ArrayLike<number>;
}

/**
 * Adapts a tf.Tensor (or anything with `shape` and `dataSync()`) to a
 * {@link Grid}. tfjs tensors are row-major already, so this copies nothing
 * beyond `dataSync()`. Squeeze batch and channel axes first (or use the
 * metrics' `channelAxis` option).
 *
 * @param tensor - a 2-D or 3-D tensor (4-D with a channel axis).
 * @param spacing - optional voxel size per axis.
 * @returns the grid.
 */
export function fromTensor(tensor: TensorLike, spacing?: readonly number[]): Grid {
  const fn = 'fromTensor';
  if (tensor === null || typeof tensor !== 'object' || typeof tensor.dataSync !== 'function') {
    throw argError('tensor', fn, 'must be a tf.Tensor (an object with shape and dataSync())');
  }
  const grid: Grid = { data: tensor.dataSync(), shape: Array.from(tensor.shape), ...(spacing ? { spacing: Array.from(spacing) } : {}) };
  checkGrid(grid, 'tensor', fn, 1, 4);
  return grid;
}

/** The structural type of a tf.Tensor that {@link fromTensorAsync} accepts. */
export interface AsyncTensorLike {
  /** The tensor's shape (row-major, like numpy). */
  readonly shape: readonly number[];
  /** Downloads the values (row-major). */
  data(): Promise<ArrayLike<number>>;
}

/**
 * As {@link fromTensor}, reading the values with `await tensor.data()`: works
 * on every tfjs backend, including `webgpu` in Node, where `dataSync()` throws.
 *
 * @param tensor - a 2-D or 3-D tensor (4-D with a channel axis).
 * @param spacing - optional voxel size per axis.
 * @returns the grid.
 */
export async function fromTensorAsync(tensor: AsyncTensorLike, spacing?: readonly number[]): Promise<Grid> {
  const fn = 'fromTensorAsync';
  if (tensor === null || typeof tensor !== 'object' || typeof tensor.data !== 'function') {
    throw argError('tensor', fn, 'must be a tf.Tensor (an object with shape and data())');
  }
  const grid: Grid = { data: await tensor.data(), shape: Array.from(tensor.shape), ...(spacing ? { spacing: Array.from(spacing) } : {}) };
  checkGrid(grid, 'tensor', fn, 1, 4);
  return grid;
}
