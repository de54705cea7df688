import { describe, expect, it } from '@jest/globals';
import { euclideanDistanceTransform, fromNifti } from './index.js';
import { describeSliceSets, loadFixture } from './test-utils/fixtures.js';

interface EdtCase {
  name: string;
  shape: number[];
  spacing: number[];
  mask: number[];
  expected: number[];
}

const TOL = 1e-6;

function maxAbsDiff(a: ArrayLike<number>, b: ArrayLike<number>): number {
  let m = 0;
  for (let i = 0; i < a.length; i++) m = Math.max(m, Math.abs(a[i]! - b[i]!));
  return m;
}

describe('euclideanDistanceTransform vs scipy.ndimage.distance_transform_edt', () => {
  const { cases } = loadFixture<{ cases: EdtCase[] }>('edt.json');
  it.each(cases.map((c) => [c.name, c] as const))('%s', (_name, c) => {
    const out = euclideanDistanceTransform({ data: c.mask, shape: c.shape }, { spacing: c.spacing });
    expect(out.shape).toEqual(c.shape);
    expect(out.spacing).toEqual(c.spacing);
    expect(out.data.length).toBe(c.expected.length);
    expect(maxAbsDiff(out.data, c.expected)).toBeLessThan(TOL);
    // spacing taken from the grid itself, and squared output
    const sq = euclideanDistanceTransform({ data: c.mask, shape: c.shape, spacing: c.spacing }, { squared: true });
    expect(maxAbsDiff(Array.from(sq.data, Math.sqrt), c.expected)).toBeLessThan(TOL);
  });

  it('uses a threshold on non-binary input', () => {
    const c = cases[0]!;
    const scaled = c.mask.map((v, i) => (v ? 5 + (i % 3) : i % 2));
    const out = euclideanDistanceTransform({ data: scaled, shape: c.shape }, { spacing: c.spacing, threshold: 1 });
    expect(maxAbsDiff(out.data, c.expected)).toBeLessThan(TOL);
  });

  it('returns Infinity everywhere when there is no background voxel', () => {
    const out = euclideanDistanceTransform({ data: new Uint8Array(12).fill(1), shape: [3, 4] });
    expect(Array.from(out.data).every((v) => v === Infinity)).toBe(true);
  });
});

describeSliceSets('euclideanDistanceTransform on %s', (set) => {
  const { edt } = set.fixture;
  // Made-up slices give values at pixels; the real sample (whose pixels the repository does not
  // hold) gives the sum of squares and a position-weighted sum (weights 1 + (31 i) mod 101).
  for (const c of edt as { name: string; file: string; threshold: number; spacing: number[]; sum: number; max: number; indices?: number[]; values?: number[]; sumSquares?: number; weightedSum?: number }[]) {
    it(c.name, () => {
      // axisOrder 'xyz' matches nibabel's array (and the fixture's flat indices)
      const grid = fromNifti(set.read(c.file), { axisOrder: 'xyz' });
      const out = euclideanDistanceTransform(grid, { spacing: c.spacing, threshold: c.threshold });
      let sum = 0;
      let max = 0;
      for (const v of out.data) {
        sum += v;
        max = Math.max(max, v);
      }
      expect(Math.abs(sum - c.sum)).toBeLessThan(1e-6 * Math.max(1, c.sum));
      expect(Math.abs(max - c.max)).toBeLessThan(TOL);
      // the zero-copy 'zyx' view with reversed spacing gives the transposed result
      const zyx = euclideanDistanceTransform(fromNifti(set.read(c.file)), { spacing: [...c.spacing].reverse(), threshold: c.threshold });
      const nx = grid.shape[0]!;
      const ny = grid.shape[1]!;
      const transposed = (i: number) => zyx.data[(i % ny) * nx + Math.floor(i / ny)]!;
      if (c.indices && c.values) {
        expect(maxAbsDiff(c.indices.map((i) => out.data[i]!), c.values)).toBeLessThan(TOL);
        expect(maxAbsDiff(c.indices.map(transposed), c.values)).toBeLessThan(TOL);
      } else {
        const close = (got: number, want: number) => expect(Math.abs(got - want)).toBeLessThan(1e-6 * Math.max(1, want));
        for (const at of [(i: number) => out.data[i]!, transposed]) {
          let sumSquares = 0;
          let weightedSum = 0;
          for (let i = 0; i < out.data.length; i++) {
            const v = at(i);
            sumSquares += v * v;
            weightedSum += (1 + ((31 * i) % 101)) * v;
          }
          close(sumSquares, c.sumSquares!);
          close(weightedSum, c.weightedSum!);
        }
      }
    });
  }
});

describe('euclideanDistanceTransform bad input', () => {
  const mask = { data: [0, 1, 1, 0], shape: [2, 2] };
  it('rejects a shape that does not match the data', () => {
    expect(() => euclideanDistanceTransform({ data: [0, 1, 1], shape: [2, 2] })).toThrow(
      "'mask' passed to 'euclideanDistanceTransform' has 3 values but its shape [2, 2] needs 4",
    );
  });
  it('rejects spacing of the wrong length', () => {
    expect(() => euclideanDistanceTransform(mask, { spacing: [1, 1, 1] })).toThrow(
      "'options.spacing' passed to 'euclideanDistanceTransform' must have 2 entries",
    );
    expect(() => euclideanDistanceTransform({ ...mask, spacing: [1] })).toThrow("'mask.spacing' passed to 'euclideanDistanceTransform'");
  });
  it('rejects non-positive or non-finite spacing', () => {
    expect(() => euclideanDistanceTransform(mask, { spacing: [1, 0] })).toThrow('finite positive');
    expect(() => euclideanDistanceTransform(mask, { spacing: [1, NaN] })).toThrow('finite positive');
  });
  it('rejects non-finite values', () => {
    expect(() => euclideanDistanceTransform({ data: [0, NaN, 1, 0], shape: [2, 2] })).toThrow(
      "'mask' passed to 'euclideanDistanceTransform' must contain only finite values, found NaN at index 1",
    );
    expect(() => euclideanDistanceTransform({ data: [0, Infinity, 1, 0], shape: [2, 2] })).toThrow('finite');
  });
  it('rejects zero-size grids and unsupported ranks', () => {
    expect(() => euclideanDistanceTransform({ data: [], shape: [0, 3] })).toThrow('zero-size');
    expect(() => euclideanDistanceTransform({ data: [1, 0], shape: [2] })).toThrow('must be 2 to 3-dimensional');
    expect(() => euclideanDistanceTransform({ data: [1, 0], shape: [1, 1, 1, 2] })).toThrow('must be 2 to 3-dimensional');
  });
});
