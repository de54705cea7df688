import { describe, expect, it } from '@jest/globals';
import { fromNifti, fromTensor, mae, mse, perChannel, psnr, ssim, type Grid } from './index.js';
import { describeSliceSets, loadFixture } from './test-utils/fixtures.js';

const SSIM_TOL = 1e-4;
const TOL = 1e-9;

interface ImageCase {
  name: string;
  shape: number[];
  dataRange: number;
  sigma: number;
  image: number[];
  reference: number[];
  channelAxis?: number;
  mask?: number[];
  maskShape?: number[];
  ssim: number;
  mse: number;
  mae: number;
  psnr: number;
  ssimPerChannel?: number[];
  msePerChannel?: number[];
  maskedSsim?: number;
  maskedMse?: number;
  maskedMae?: number;
  maskedPsnr?: number;
}

function close(actual: number, expected: number, tol: number): void {
  if (!Number.isFinite(expected)) expect(actual).toBe(expected);
  else expect(Math.abs(actual - expected)).toBeLessThan(tol);
}

describe('image similarity vs skimage', () => {
  const { cases } = loadFixture<{ cases: ImageCase[] }>('image.json');
  it.each(cases.map((c) => [c.name, c] as const))('%s', (_name, c) => {
    const x: Grid = { data: c.image, shape: c.shape };
    const y: Grid = { data: c.reference, shape: c.shape };
    const base = { dataRange: c.dataRange, sigma: c.sigma, ...(c.channelAxis !== undefined ? { channelAxis: c.channelAxis } : {}) };
    close(ssim(x, y, base), c.ssim, SSIM_TOL);
    close(mse(x, y, base), c.mse, TOL);
    close(mae(x, y, base), c.mae, TOL);
    close(psnr(x, y, base), c.psnr, 1e-7);
    if (c.channelAxis !== undefined) {
      const per = perChannel(ssim, x, y, { ...base, channelAxis: c.channelAxis });
      expect(per).toHaveLength(c.ssimPerChannel!.length);
      per.forEach((v, i) => close(v, c.ssimPerChannel![i]!, SSIM_TOL));
      perChannel(mse, x, y, { channelAxis: c.channelAxis }).forEach((v, i) => close(v, c.msePerChannel![i]!, TOL));
    }
    if (c.mask) {
      const mask: Grid = { data: c.mask, shape: c.maskShape! };
      close(ssim(x, y, { ...base, mask }), c.maskedSsim!, SSIM_TOL);
      close(mse(x, y, { ...base, mask }), c.maskedMse!, TOL);
      if (c.maskedMae !== undefined) close(mae(x, y, { ...base, mask }), c.maskedMae, TOL);
      if (c.maskedPsnr !== undefined) close(psnr(x, y, { ...base, mask }), c.maskedPsnr, 1e-7);
      // a mask with non-binary values and a threshold
      const scaled = { data: c.mask.map((v, i) => (v ? 2 + (i % 5) : i % 2)), shape: mask.shape };
      close(mse(x, y, { ...base, mask: scaled, maskThreshold: 1 }), c.maskedMse!, TOL);
    }
    // typed arrays and a tf.Tensor-like input give the same
    const t = fromTensor({ shape: c.shape, dataSync: () => Float32Array.from(c.image) });
    expect(t.shape).toEqual(c.shape);
    const x64 = { data: Float64Array.from(c.image), shape: c.shape };
    close(ssim(x64, y, base), c.ssim, SSIM_TOL);
  });
});

describeSliceSets('image similarity on %s (4 modalities as channels)', (set) => {
  const fx = set.fixture;
  for (const c of fx.ssim as { name: string; image: number; reference: number; modalities: string[]; dataRange: number; ssim: number; ssimPerChannel: number[]; maskedSsimPerChannel: number[]; msePerChannel: number[]; psnrPerChannel: number[]; maskedMsePerChannel: number[] }[]) {
    it(c.name, () => {
      const stack = (i: number): Grid => {
        const chans = c.modalities.map((m) => fromNifti(set.read(set.file(i, m)), { axisOrder: 'xyz' }));
        const n = chans[0]!.data.length;
        const data = new Float64Array(chans.length * n);
        chans.forEach((g, k) => data.set(g.data as Float64Array, k * n));
        return { data, shape: [chans.length, ...chans[0]!.shape] };
      };
      const x = stack(c.image);
      const y = stack(c.reference);
      const opts = { dataRange: c.dataRange, channelAxis: 0 };
      close(ssim(x, y, opts), c.ssim, SSIM_TOL);
      perChannel(ssim, x, y, opts).forEach((v, i) => close(v, c.ssimPerChannel[i]!, SSIM_TOL));
      perChannel(mse, x, y, opts).forEach((v, i) => close(v, c.msePerChannel[i]!, TOL));
      perChannel(psnr, x, y, opts).forEach((v, i) => close(v, c.psnrPerChannel[i]!, 1e-7));
      // brain mask (t2f > 0 in either slice), shared by all channels
      const n = x.data.length / 4;
      const brain = new Uint8Array(n);
      for (let i = 0; i < n; i++) brain[i] = x.data[2 * n + i]! > 0 || y.data[2 * n + i]! > 0 ? 1 : 0;
      const mask = { data: brain, shape: x.shape.slice(1) };
      perChannel(ssim, x, y, { ...opts, mask }).forEach((v, i) => close(v, c.maskedSsimPerChannel[i]!, SSIM_TOL));
      perChannel(mse, x, y, { ...opts, mask }).forEach((v, i) => close(v, c.maskedMsePerChannel[i]!, TOL));
      // the zero-copy (transposed) NIfTI view gives the same SSIM
      const xz = fromNifti(set.read(set.file(c.image, 't2f')));
      const yz = fromNifti(set.read(set.file(c.reference, 't2f')));
      close(ssim(xz, yz, { dataRange: c.dataRange }), c.ssimPerChannel[2]!, SSIM_TOL);
    });
  }
  it(`3-D SSIM of the ${fx.volume.slices.length} stacked slices (t2f vs t2w)`, () => {
    const v = fx.volume;
    const stack = (mod: string): Grid => {
      const slices = (v.slices as number[]).map((i) => fromNifti(set.read(set.file(i, mod)), { axisOrder: 'xyz' }));
      const n = slices[0]!.data.length;
      const data = new Float64Array(slices.length * n);
      slices.forEach((g, k) => data.set(g.data as Float64Array, k * n));
      return { data, shape: [slices.length, ...slices[0]!.shape] };
    };
    close(ssim(stack('t2f'), stack('t2w'), { dataRange: 1 }), v.ssimT2fVsT2w, SSIM_TOL);
  });
});

describe('image similarity bad input', () => {
  const a: Grid = { data: new Float64Array(144).fill(0.5), shape: [12, 12] };
  const b: Grid = { data: new Float64Array(144).fill(0.25), shape: [12, 12] };
  it('requires a positive finite dataRange for psnr and ssim', () => {
    expect(() => ssim(a, b, {} as { dataRange: number })).toThrow("'options.dataRange' passed to 'ssim' must be a finite positive number");
    expect(() => psnr(a, b, { dataRange: 0 })).toThrow("'options.dataRange' passed to 'psnr'");
    expect(() => psnr(a, b, { dataRange: Infinity })).toThrow("'options.dataRange' passed to 'psnr'");
  });
  it('rejects shape mismatch', () => {
    expect(() => mse(a, { data: new Float64Array(144), shape: [9, 16] })).toThrow(
      "'reference' passed to 'mse' must have the same shape as 'image': [9, 16] vs [12, 12]",
    );
    expect(() => ssim(a, b, { dataRange: 1, mask: { data: new Uint8Array(143), shape: [11, 13] } })).toThrow(
      "'options.mask' passed to 'ssim' must have the same shape as 'image'",
    );
  });
  it('rejects non-finite values', () => {
    const bad = { data: Float64Array.from(a.data), shape: a.shape };
    bad.data[7] = NaN;
    expect(() => mae(bad, b)).toThrow("'image' passed to 'mae' must contain only finite values, found NaN at index 7");
    bad.data[7] = -Infinity;
    expect(() => ssim(a, bad, { dataRange: 1 })).toThrow("'reference' passed to 'ssim' must contain only finite values, found -Infinity");
  });
  it('rejects zero-size grids, a wrong rank and images smaller than the window', () => {
    expect(() => mse({ data: [], shape: [0, 0] }, { data: [], shape: [0, 0] })).toThrow("'image' passed to 'mse' must have a shape of positive integers");
    expect(() => mse({ data: [1, 2], shape: [2] }, { data: [1, 2], shape: [2] })).toThrow('must be 2 to 3-dimensional');
    const small = { data: new Float64Array(100), shape: [10, 10] };
    expect(() => ssim(small, small, { dataRange: 1 })).toThrow("'image' passed to 'ssim' must be at least 11 voxels along every axis");
    expect(ssim(small, small, { dataRange: 1, sigma: 1 })).toBeCloseTo(1, 12);
  });
  it('accepts a mask of the full (channel) shape', () => {
    const { cases } = loadFixture<{ cases: ImageCase[] }>('image.json');
    const c = cases.find((k) => k.channelAxis === 0 && k.mask) as ImageCase;
    const channels = c.shape[0]!;
    const full = { data: Array.from({ length: channels }, () => c.mask!).flat(), shape: c.shape };
    const x = { data: c.image, shape: c.shape };
    const y = { data: c.reference, shape: c.shape };
    close(ssim(x, y, { dataRange: c.dataRange, channelAxis: 0, mask: full }), c.maskedSsim!, SSIM_TOL);
    close(mse(x, y, { channelAxis: 0, mask: full }), c.maskedMse!, TOL);
  });
  it('rejects an empty mask and bad channel options', () => {
    expect(() => mse(a, b, { mask: { data: new Uint8Array(144), shape: [12, 12] } })).toThrow("'options.mask' passed to 'mse' selects no voxels");
    const edge = new Uint8Array(144);
    edge[0] = 1;
    expect(() => ssim(a, b, { dataRange: 1, mask: { data: edge, shape: [12, 12] } })).toThrow("'options.mask' passed to 'ssim' selects no voxel");
    expect(() => mse(a, b, { channelAxis: 0 })).toThrow("'image' passed to 'mse' must be 3 to 4-dimensional");
    const c3 = { data: new Float64Array(2 * 144), shape: [2, 12, 12] };
    expect(() => mse(c3, c3, { channelAxis: 3 })).toThrow("'options.channelAxis' passed to 'mse' must be an integer in [-3, 2]");
    expect(() => perChannel(mse, c3, c3, {} as { channelAxis: number })).toThrow("'options.channelAxis' passed to 'perChannel' is required");
  });
  it('gives PSNR Infinity and SSIM 1 for identical images', () => {
    expect(psnr(a, a, { dataRange: 1 })).toBe(Infinity);
    expect(ssim(a, a, { dataRange: 1 })).toBeCloseTo(1, 12);
  });
});
