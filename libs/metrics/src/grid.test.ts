import { describe, expect, it } from '@jest/globals';
import { fromNifti, fromTensor, fromTensorAsync } from './index.js';

describe('adapters', () => {
  // A 3 x 2 x 2 NIfTI volume (x fastest): value = x + 10 y + 100 z.
  const nx = 3;
  const ny = 2;
  const nz = 2;
  const data = new Float64Array(nx * ny * nz);
  for (let z = 0; z < nz; z++) for (let y = 0; y < ny; y++) for (let x = 0; x < nx; x++) data[x + nx * (y + ny * z)] = x + 10 * y + 100 * z;
  const image = { data, shape: [nx, ny, nz], spacing: [0.5, 1, 2, 1] };

  it('fromNifti: zero-copy [z, y, x] view by default', () => {
    const g = fromNifti(image);
    expect(g.shape).toEqual([nz, ny, nx]);
    expect(g.spacing).toEqual([2, 1, 0.5]);
    expect(g.data).toBe(data);
    // row-major (z, y, x)
    expect(g.data[(1 * ny + 1) * nx + 2]).toBe(2 + 10 + 100);
  });

  it("fromNifti: 'xyz' order like nibabel's get_fdata()", () => {
    const g = fromNifti(image, { axisOrder: 'xyz' });
    expect(g.shape).toEqual([nx, ny, nz]);
    expect(g.spacing).toEqual([0.5, 1, 2]);
    for (let x = 0; x < nx; x++) for (let y = 0; y < ny; y++) for (let z = 0; z < nz; z++) expect(g.data[(x * ny + y) * nz + z]).toBe(x + 10 * y + 100 * z);
  });

  it('fromNifti: drops trailing unit extents (a slice stored as [nx, ny, 1])', () => {
    const slice = { data: new Float64Array(6).map((_, i) => i), shape: [3, 2, 1], spacing: [1, 2, 3] };
    const g = fromNifti(slice, { axisOrder: 'xyz' });
    expect(g.shape).toEqual([3, 2]);
    expect(g.spacing).toEqual([1, 2]);
    expect(Array.from(g.data)).toEqual([0, 3, 1, 4, 2, 5]);
    expect(fromNifti(slice).shape).toEqual([2, 3]);
  });

  it('fromNifti: rejects bad input', () => {
    expect(() => fromNifti({ data: new Float64Array(5), shape: [3, 2] })).toThrow("'image' passed to 'fromNifti' has 5 values");
    expect(() => fromNifti({ ...image, spacing: [1] })).toThrow("'image.spacing' passed to 'fromNifti' must have at least 3 entries");
    expect(() => fromNifti(image, { axisOrder: 'yxz' as 'xyz' })).toThrow("'options.axisOrder' passed to 'fromNifti'");
    expect(() => fromNifti(null as unknown as typeof image)).toThrow("'image' passed to 'fromNifti'");
  });

  it('fromTensor: row-major as is', () => {
    const t = { shape: [2, 3], dataSync: () => Float32Array.from([1, 2, 3, 4, 5, 6]) };
    const g = fromTensor(t, [1, 2]);
    expect(g.shape).toEqual([2, 3]);
    expect(g.spacing).toEqual([1, 2]);
    expect(Array.from(g.data)).toEqual([1, 2, 3, 4, 5, 6]);
    expect(() => fromTensor({ shape: [2, 2], dataSync: () => [1] })).toThrow("'tensor' passed to 'fromTensor' has 1 values");
    expect(() => fromTensor({} as typeof t)).toThrow("'tensor' passed to 'fromTensor' must be a tf.Tensor");
    expect(() => fromTensor(t, [1])).toThrow("'tensor.spacing' passed to 'fromTensor' must have 2 entries");
  });

  it('fromTensorAsync: the same grid through an asynchronous read, same checks', async () => {
    const t = { shape: [2, 3], data: async () => Float32Array.from([1, 2, 3, 4, 5, 6]) };
    const g = await fromTensorAsync(t, [1, 2]);
    expect(g.shape).toEqual([2, 3]);
    expect(g.spacing).toEqual([1, 2]);
    expect(Array.from(g.data)).toEqual([1, 2, 3, 4, 5, 6]);
    await expect(fromTensorAsync({ shape: [2, 2], data: async () => [1] })).rejects.toThrow("'tensor' passed to 'fromTensorAsync' has 1 values");
    await expect(fromTensorAsync({} as typeof t)).rejects.toThrow("'tensor' passed to 'fromTensorAsync' must be a tf.Tensor");
  });
});
