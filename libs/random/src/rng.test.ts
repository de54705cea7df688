import { describe, expect, it } from '@jest/globals';
import { Rng, createRng } from './index.js';

describe('Rng (PCG32)', () => {
  it('matches the reference pcg32 demo output for seed 42, stream 54', () => {
    // From the PCG reference implementation's pcg32-demo (pcg32_srandom_r(&rng, 42u, 54u)).
    const rng = new Rng(42, 54);
    const got = Array.from({ length: 6 }, () => rng.nextUint32());
    expect(got).toEqual([0xa15c02b7, 0x7b47f409, 0xba1d3330, 0x83d2f293, 0xbfa4784b, 0xcbed606e]);
  });

  it('reproduces a sequence for the same seed and differs across seeds', () => {
    const a = createRng(7).normalArray(16);
    const b = createRng(7).normalArray(16);
    const c = createRng(8).normalArray(16);
    expect(Array.from(a)).toEqual(Array.from(b));
    expect(Array.from(a)).not.toEqual(Array.from(c));
    expect(createRng('patient-1').uniform()).toBe(createRng('patient-1').uniform());
  });

  it('draws uniforms in [0,1) and standard normals with the right moments', () => {
    const rng = new Rng(123);
    const n = 200_000;
    let su = 0, sn = 0, sn2 = 0, outOfRange = 0;
    for (let i = 0; i < n; i++) {
      const u = rng.uniform();
      if (!(u >= 0 && u < 1)) outOfRange++;
      su += u;
      const z = rng.normal();
      sn += z;
      sn2 += z * z;
    }
    expect(outOfRange).toBe(0);
    // Standard errors: uniform mean 0.29/sqrt(n) ~ 6.5e-4; normal mean 2.2e-3; variance ~3.2e-3.
    expect(Math.abs(su / n - 0.5)).toBeLessThan(4e-3);
    expect(Math.abs(sn / n)).toBeLessThan(1.2e-2);
    expect(Math.abs(sn2 / n - 1)).toBeLessThan(1.6e-2);
  });

  it('int is unbiased over a small range and rejects bad n', () => {
    const rng = new Rng(5);
    const counts = [0, 0, 0];
    for (let i = 0; i < 30_000; i++) counts[rng.int(3)]!++;
    for (const c of counts) expect(Math.abs(c - 10_000)).toBeLessThan(400);
    expect(() => rng.int(0)).toThrow(/'n' passed to 'int'/);
    expect(() => rng.int(1.5)).toThrow(RangeError);
  });

  it('shuffle returns a permutation, deterministic per seed', () => {
    const p1 = new Rng(9).permutation(50);
    const p2 = new Rng(9).permutation(50);
    expect(p1).toEqual(p2);
    expect([...p1].sort((x, y) => x - y)).toEqual(Array.from({ length: 50 }, (_, i) => i));
    expect(p1).not.toEqual(Array.from({ length: 50 }, (_, i) => i));
  });

  it('fork gives independent reproducible streams', () => {
    const f1 = new Rng(1).fork('a').uniform();
    const f2 = new Rng(1).fork('a').uniform();
    const f3 = new Rng(1).fork('b').uniform();
    expect(f1).toBe(f2);
    expect(f1).not.toBe(f3);
  });

  it('rejects invalid seeds with a clear message', () => {
    expect(() => new Rng(-1)).toThrow(/'seed' must be a non-negative/);
    expect(() => new Rng(1.5)).toThrow(/'seed'/);
    expect(() => new Rng(Number.NaN)).toThrow(/'seed'/);
  });
});
