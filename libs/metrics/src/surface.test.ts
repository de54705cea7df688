import { describe, expect, it } from '@jest/globals';
import {
  DEFAULT_EMPTY_MASK_POLICY,
  assd,
  dice,
  fromNifti,
  hausdorff,
  hausdorff95,
  overlapCounts,
  percentile,
  percentileInPlace,
  surface,
  surfaceDistances,
  type Grid,
} from './index.js';
import { describeSliceSets, loadFixture } from './test-utils/fixtures.js';

const TOL = 1e-6;

interface SurfaceCase {
  name: string;
  shape: number[];
  spacing: number[];
  connectivity: number;
  prediction: number[];
  reference: number[];
  predictionVoxels: number;
  referenceVoxels: number;
  counts: { truePositive: number; falsePositive: number; falseNegative: number; trueNegative: number };
  hausdorff?: number;
  hd95Max?: number;
  hd95Pooled?: number;
  hd90Max?: number;
  assdPooled?: number;
  assdMean?: number;
  surfaceCounts?: number[];
  predictionToReference?: number[];
  referenceToPrediction?: number[];
  predictionSurface: number[];
}

const fixture = loadFixture<{ cases: SurfaceCase[]; percentile: { values: number[]; p: number[]; expected: number[] }[] }>('surface.json');

function sorted(a: ArrayLike<number>): number[] {
  return Array.from(a).sort((x, y) => x - y);
}

function expectClose(actual: number, expected: number | undefined, tol = TOL): void {
  expect(expected).toBeDefined();
  if (!Number.isFinite(expected)) {
    expect(actual).toBe(expected);
    return;
  }
  expect(Math.abs(actual - expected!)).toBeLessThan(tol);
}

describe('surface distances vs scipy (EDT + binary_erosion)', () => {
  it.each(fixture.cases.map((c) => [c.name, c] as const))('%s', (_name, c) => {
    const p: Grid = { data: c.prediction, shape: c.shape, spacing: c.spacing };
    const r: Grid = { data: c.reference, shape: c.shape, spacing: c.spacing };
    const opts = { connectivity: c.connectivity };
    expect(Array.from(surface(p, opts).data)).toEqual(c.predictionSurface);
    expect(overlapCounts(p, r)).toEqual(c.counts);
    const empty = c.predictionVoxels === 0 || c.referenceVoxels === 0;
    if (empty) {
      const both = c.predictionVoxels === 0 && c.referenceVoxels === 0;
      const expected = both ? 0 : Infinity;
      expect(hausdorff(p, r, opts)).toBe(expected);
      expect(hausdorff95(p, r, opts)).toBe(expected);
      expect(hausdorff95(p, r, { ...opts, variant: 'pooled' })).toBe(expected);
      expect(assd(p, r, opts)).toBe(expected);
      expect(dice(p, r)).toBe(both ? 1 : 0);
      const d = surfaceDistances(p, r, opts);
      expect(d.predictionEmpty).toBe(c.predictionVoxels === 0);
      expect(d.referenceEmpty).toBe(c.referenceVoxels === 0);
      expect(d.predictionToReference.length + d.referenceToPrediction.length).toBe(0);
      return;
    }
    const d = surfaceDistances(p, r, opts);
    expect([d.predictionToReference.length, d.referenceToPrediction.length]).toEqual(c.surfaceCounts);
    const pr = sorted(d.predictionToReference);
    const rp = sorted(d.referenceToPrediction);
    const epr = sorted(c.predictionToReference!);
    const erp = sorted(c.referenceToPrediction!);
    let worst = 0;
    for (let i = 0; i < pr.length; i++) worst = Math.max(worst, Math.abs(pr[i]! - epr[i]!));
    for (let i = 0; i < rp.length; i++) worst = Math.max(worst, Math.abs(rp[i]! - erp[i]!));
    expect(worst).toBeLessThan(TOL);
    expectClose(hausdorff(p, r, opts), c.hausdorff);
    expectClose(hausdorff95(p, r, opts), c.hd95Max);
    expectClose(hausdorff95(p, r, { ...opts, variant: 'max' }), c.hd95Max);
    expectClose(hausdorff95(p, r, { ...opts, variant: 'pooled' }), c.hd95Pooled);
    expectClose(hausdorff95(p, r, { ...opts, percentile: 90 }), c.hd90Max);
    expectClose(assd(p, r, opts), c.assdPooled);
    expectClose(assd(p, r, { ...opts, variant: 'mean' }), c.assdMean);
    // symmetric definitions
    expectClose(hausdorff95(r, p, opts), c.hd95Max);
    expectClose(assd(r, p, { ...opts, variant: 'mean' }), c.assdMean);
    // spacing given as an option instead of on the grids
    const bare = { data: c.prediction, shape: c.shape };
    expectClose(hausdorff95(bare, { data: c.reference, shape: c.shape }, { ...opts, spacing: c.spacing }), c.hd95Max);
  });
});

describe('input representations', () => {
  it('byte masks (aligned or not), other typed arrays and plain arrays give the same distances', () => {
    for (const c of fixture.cases.filter((k) => k.predictionVoxels > 0 && k.referenceVoxels > 0)) {
      const opts = { connectivity: c.connectivity, spacing: c.spacing };
      const expected = c.hd95Max!;
      const n = c.prediction.length;
      for (const offset of [0, 1, 2, 3, 4]) {
        const pb = new Uint8Array(n + 8);
        const rb = new Uint8Array(n + 8);
        pb.set(c.prediction.map((v) => v * (1 + (offset % 3))), offset); // any non-zero byte is foreground
        rb.set(c.reference, offset);
        const p = { data: pb.subarray(offset, offset + n), shape: c.shape };
        const r = { data: rb.subarray(offset, offset + n), shape: c.shape };
        expect(Math.abs(hausdorff95(p, r, opts) - expected)).toBeLessThan(TOL);
      }
      const pf = { data: Float32Array.from(c.prediction), shape: c.shape };
      const ri = { data: Int16Array.from(c.reference), shape: c.shape };
      expect(Math.abs(hausdorff95(pf, ri, opts) - expected)).toBeLessThan(TOL);
      // a threshold of 0.5 on byte masks takes the same fast path
      expect(Math.abs(hausdorff95({ data: Uint8Array.from(c.prediction), shape: c.shape }, { data: Uint8Array.from(c.reference), shape: c.shape }, { ...opts, threshold: 0.5 }) - expected)).toBeLessThan(TOL);
    }
  });
});

describe('empty-mask policy', () => {
  const empty: Grid = { data: new Uint8Array(16), shape: [4, 4] };
  const one: Grid = { data: Uint8Array.from({ length: 16 }, (_, i) => (i === 5 ? 1 : 0)), shape: [4, 4] };
  it('has documented defaults', () => {
    expect(DEFAULT_EMPTY_MASK_POLICY).toEqual({ overlapBothEmpty: 1, distanceBothEmpty: 0, worstDistance: Infinity, undefinedRatio: NaN });
    expect(Object.isFrozen(DEFAULT_EMPTY_MASK_POLICY)).toBe(true);
  });
  it('applies worstDistance when exactly one mask is empty (e.g. BraTS 374)', () => {
    const policy = { worstDistance: 374 };
    for (const f of [hausdorff, hausdorff95, assd]) {
      expect(f(empty, one, { emptyPolicy: policy })).toBe(374);
      expect(f(one, empty, { emptyPolicy: policy })).toBe(374);
      expect(f(empty, empty, { emptyPolicy: policy })).toBe(0);
      expect(f(empty, empty, { emptyPolicy: { distanceBothEmpty: NaN } })).toBeNaN();
    }
  });
  it('does not clip distances between non-empty masks', () => {
    const far: Grid = { data: Uint8Array.from({ length: 16 }, (_, i) => (i === 15 ? 1 : 0)), shape: [4, 4] };
    expect(hausdorff95(one, far, { spacing: [1000, 1000], emptyPolicy: { worstDistance: 374 } })).toBeCloseTo(2000 * Math.SQRT2, 9);
  });
  it('rejects a malformed policy', () => {
    expect(() => hausdorff95(one, one, { emptyPolicy: { worstDistance: '374' as unknown as number } })).toThrow(
      "'options.emptyPolicy.worstDistance' passed to 'hausdorff95' must be a number",
    );
  });
});

describeSliceSets('surface distances on %s', (set) => {
  const fx = set.fixture;
  it('label slices: foreground as counted by numpy; empty ones under the both-empty and one-empty policies', () => {
    const brain = fromNifti(set.read(set.file(fx.volume.slices[0], 't2f')));
    for (const l of fx.labels as { file: string; shape: number[]; foregroundVoxels: number }[]) {
      const label = fromNifti(set.read(l.file));
      expect(label.shape).toEqual([...l.shape].reverse());
      expect(Array.from(label.data).filter((v) => v > 0)).toHaveLength(l.foregroundVoxels);
      expect(dice(label, label)).toBe(1);
      expect(hausdorff95(label, label)).toBe(0);
      if (l.foregroundVoxels > 0) continue;
      expect(hausdorff95(label, brain)).toBe(Infinity);
      expect(hausdorff95(brain, label, { emptyPolicy: { worstDistance: 374 } })).toBe(374);
      expect(assd(label, brain)).toBe(Infinity);
    }
  });
  for (const c of fx.pairs as (SurfaceCase & { prediction: string; reference: string; predictionThreshold: number; referenceThreshold: number })[]) {
    it(c.name, () => {
      const p = fromNifti(set.read(c.prediction), { axisOrder: 'xyz' });
      const r = fromNifti(set.read(c.reference), { axisOrder: 'xyz' });
      // thresholds differ per mask: binarise first
      const pb: Grid = { data: Array.from(p.data, (v) => (v > c.predictionThreshold ? 1 : 0)), shape: p.shape };
      const rb: Grid = { data: Array.from(r.data, (v) => (v > c.referenceThreshold ? 1 : 0)), shape: r.shape };
      const opts = { spacing: c.spacing, connectivity: c.connectivity };
      expect(overlapCounts(pb, rb)).toEqual(c.counts);
      expectClose(hausdorff(pb, rb, opts), c.hausdorff);
      expectClose(hausdorff95(pb, rb, opts), c.hd95Max);
      expectClose(hausdorff95(pb, rb, { ...opts, variant: 'pooled' }), c.hd95Pooled);
      expectClose(assd(pb, rb, opts), c.assdPooled);
      expectClose(assd(pb, rb, { ...opts, variant: 'mean' }), c.assdMean);
      // zero-copy NIfTI view (axes reversed, spacing reversed): same values
      const pz = fromNifti({ ...set.read(c.prediction), spacing: c.spacing });
      const rz = fromNifti({ ...set.read(c.reference), spacing: c.spacing });
      const pzb = { ...pz, data: Array.from(pz.data, (v) => (v > c.predictionThreshold ? 1 : 0)) };
      const rzb = { ...rz, data: Array.from(rz.data, (v) => (v > c.referenceThreshold ? 1 : 0)) };
      expectClose(hausdorff95(pzb, rzb, { connectivity: c.connectivity }), c.hd95Max);
    });
  }
  it(`3-D volume stacked from the ${fx.volume.slices.length} training slices`, () => {
    const v = fx.volume;
    const stack = (mod: string, t: number): Grid => {
      const slices = (v.slices as number[]).map((i) => fromNifti(set.read(set.file(i, mod)), { axisOrder: 'xyz' }));
      const nx = slices[0]!.shape[0]!;
      const ny = slices[0]!.shape[1]!;
      const data = new Uint8Array(slices.length * nx * ny);
      slices.forEach((s, k) => {
        for (let i = 0; i < nx * ny; i++) data[k * nx * ny + i] = s.data[i]! > t ? 1 : 0;
      });
      return { data, shape: [slices.length, nx, ny], spacing: v.spacing };
    };
    const a = stack('t2f', 0.2);
    const b = stack('t2w', 0.25);
    for (const [key, connectivity] of [['surface', 1], ['surfaceC3', 3]] as const) {
      const e = v[key];
      expect(overlapCounts(a, b)).toEqual(e.counts);
      expectClose(hausdorff(a, b, { connectivity }), e.hausdorff);
      expectClose(hausdorff95(a, b, { connectivity }), e.hd95Max);
      expectClose(hausdorff95(a, b, { connectivity, variant: 'pooled' }), e.hd95Pooled);
      expectClose(assd(a, b, { connectivity }), e.assdPooled);
      expectClose(assd(a, b, { connectivity, variant: 'mean' }), e.assdMean);
    }
  });
});

describe('percentile vs numpy.percentile', () => {
  it.each(fixture.percentile.map((c) => [c.values.length, c] as const))('%i values', (_n, c) => {
    const before = c.values.slice();
    c.p.forEach((p, k) => expect(Math.abs(percentile(c.values, p) - c.expected[k]!)).toBeLessThan(1e-9));
    expect(c.values).toEqual(before);
  });
  it.each(fixture.percentile.map((c) => [c.values.length, c] as const))('%i values, bit for bit (also in place)', (_n, c) => {
    // numpy's 'linear' index is (n - 1) * q; n * q + (1 - q) - 1 differs in the last bit for 6 of these 64 cases.
    c.p.forEach((p, k) => {
      expect(percentile(c.values, p)).toBe(c.expected[k]);
      expect(percentileInPlace(Float64Array.from(c.values), p)).toBe(c.expected[k]);
    });
  });
  it('rejects bad input', () => {
    expect(() => percentile([], 50)).toThrow("'values' passed to 'percentile' must not be empty");
    expect(() => percentile([1, NaN], 50)).toThrow('finite');
    expect(() => percentile([1, 2], 101)).toThrow("'p' passed to 'percentile' must be a number in [0, 100]");
    expect(() => percentileInPlace(new Float64Array(0), 50)).toThrow("'a' passed to 'percentileInPlace' must not be empty");
    expect(() => percentileInPlace([1, 2] as unknown as Float64Array, 50)).toThrow("'a' passed to 'percentileInPlace' must be a Float64Array");
    expect(() => percentileInPlace(new Float64Array([1, NaN]), 50)).toThrow(/must not contain NaN, found at index 1/);
    expect(() => percentileInPlace(new Float64Array([1]), -1)).toThrow("'p' passed to 'percentileInPlace' must be a number in [0, 100]");
  });
  it('in place: infinities give what numpy.percentile gives', () => {
    // numpy 1.24: percentile([1, 2, inf], [0, 25, 50, 75, 100]) == [1, 1.5, nan, nan, nan]
    // (its lerp computes 2 + inf * 0 at 50 and inf - inf at 100).
    const a = new Float64Array([Infinity, 2, 1]);
    expect([0, 25, 50, 75, 100].map((p) => percentileInPlace(a, p))).toEqual([1, 1.5, NaN, NaN, NaN]);
  });
});

describe('surface distance bad input', () => {
  const a: Grid = { data: [0, 1, 1, 0, 1, 1], shape: [2, 3] };
  it('rejects shape mismatch', () => {
    expect(() => hausdorff95(a, { data: [0, 1, 1, 0, 1, 1], shape: [3, 2] })).toThrow(
      "'reference' passed to 'hausdorff95' must have the same shape as 'prediction': [3, 2] vs [2, 3]",
    );
  });
  it('rejects spacing of the wrong length or disagreeing spacings', () => {
    expect(() => assd(a, a, { spacing: [1] })).toThrow("'options.spacing' passed to 'assd' must have 2 entries");
    expect(() => hausdorff({ ...a, spacing: [1, 1] }, { ...a, spacing: [1, 2] })).toThrow(
      "'reference.spacing' passed to 'hausdorff' must equal 'prediction.spacing'",
    );
  });
  it('rejects non-finite values, zero-size grids and bad options', () => {
    expect(() => hausdorff95(a, { data: [0, 1, NaN, 0, 1, 1], shape: [2, 3] })).toThrow(
      "'reference' passed to 'hausdorff95' must contain only finite values",
    );
    expect(() => hausdorff95({ data: [], shape: [2, 0] }, { data: [], shape: [2, 0] })).toThrow('zero-size');
    expect(() => hausdorff95(a, a, { connectivity: 3 })).toThrow("'options.connectivity' passed to 'hausdorff95' must be an integer from 1 to 2");
    expect(() => hausdorff95(a, a, { variant: 'mean' as 'max' })).toThrow("'options.variant' passed to 'hausdorff95'");
    expect(() => hausdorff95(a, a, { percentile: 120 })).toThrow("'options.percentile' passed to 'hausdorff95'");
    expect(() => assd(a, a, { variant: 'max' as 'mean' })).toThrow("'options.variant' passed to 'assd'");
    expect(() => surface(a, { threshold: NaN })).toThrow("'options.threshold' passed to 'surface' must be a finite number");
  });
});
