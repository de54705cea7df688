import { describe, expect, it } from '@jest/globals';
import { readFileSync } from 'node:fs';
import {
  LINEAR_SCHEDULE_MIN_STEPS, betasForAlphaBar, createDiffusion, namedBetaSchedule, spaceTimesteps, type Diffusion,
} from './index.js';
import { maxRelDiff } from './test-utils/tiny-nets.js';

const fx = JSON.parse(readFileSync(new URL('../test/fixtures/diffusion.json', import.meta.url), 'utf8'));
// tools/diffusion/make_schedule_bounds_fixture.py (numpy): the linear schedule's largest beta for
// T = 2 .. 40, and all arrays of linear T = 20 and cosine T = 10 (null for +Infinity).
const bounds = JSON.parse(readFileSync(new URL('../test/fixtures/schedule-bounds.json', import.meta.url), 'utf8')) as {
  linearMaxBeta: Record<string, number>;
  schedules: Record<string, Record<string, (number | null)[]>>;
};

const KEYS: Record<string, keyof Diffusion> = {
  betas: 'betas', alphas: 'alphas', alphas_cumprod: 'alphasCumprod', alphas_cumprod_prev: 'alphasCumprodPrev',
  alphas_cumprod_next: 'alphasCumprodNext', sqrt_alphas_cumprod: 'sqrtAlphasCumprod',
  sqrt_one_minus_alphas_cumprod: 'sqrtOneMinusAlphasCumprod', log_one_minus_alphas_cumprod: 'logOneMinusAlphasCumprod',
  sqrt_recip_alphas_cumprod: 'sqrtRecipAlphasCumprod', sqrt_recipm1_alphas_cumprod: 'sqrtRecipm1AlphasCumprod',
  posterior_variance: 'posteriorVariance', posterior_log_variance_clipped: 'posteriorLogVarianceClipped',
  posterior_mean_coef1: 'posteriorMeanCoef1', posterior_mean_coef2: 'posteriorMeanCoef2',
};

function expectArraysClose(d: Diffusion, ref: Record<string, number[]>): void {
  for (const [py, ts] of Object.entries(KEYS)) {
    if (!(py in ref)) continue;
    const a = d[ts] as Float64Array;
    expect(a).toBeInstanceOf(Float64Array);
    // float64 on both sides: relative 1e-9 (the brief's 1e-4 is far looser).
    const rel = maxRelDiff(a, ref[py]!, 1e-12);
    if (rel > 1e-9) throw new Error(`${ts}: max relative difference ${rel}`);
  }
}

describe('schedules (vs numpy guided-diffusion re-implementation)', () => {
  it.each(['linear', 'cosine'] as const)('%s, T = 1000: all arrays', (schedule) => {
    const d = createDiffusion({ steps: 1000, schedule });
    expect(d.numTimesteps).toBe(1000);
    expect(Array.from(d.timestepMap.slice(0, 3))).toEqual([0, 1, 2]);
    expectArraysClose(d, fx.schedules[schedule]);
    expect(d.alphasCumprodPrev[0]).toBe(1);
    expect(d.alphasCumprodNext[999]).toBe(0);
  });

  it('linear betas scale with 1000/T', () => {
    const b = namedBetaSchedule('linear', 100);
    expect(b[0]).toBeCloseTo(1e-3, 12);
    expect(b[99]).toBeCloseTo(0.2, 12);
  });
});

describe('timestep respacing', () => {
  it.each(Object.keys(fx.respaced))('%s: timestep map and recomputed arrays', (sp) => {
    const d = createDiffusion({ steps: 1000, timestepRespacing: sp });
    const ref = fx.respaced[sp];
    expect(Array.from(d.timestepMap)).toEqual(ref.timestepMap);
    expect(d.numTimesteps).toBe(ref.timestepMap.length);
    expectArraysClose(d, ref);
  });

  it('keeps alpha_bar at the kept steps', () => {
    const full = createDiffusion({ steps: 1000 });
    const sp = createDiffusion({ steps: 1000, timestepRespacing: 'ddim50' });
    sp.timestepMap.forEach((t, i) => expect(sp.alphasCumprod[i]).toBeCloseTo(full.alphasCumprod[t]!, 12));
  });

  it('uses Python rounding (half to even)', () => {
    // stride (1000-1)/6 = 166.5: Python rounds 166.5 to 166, 499.5 to 500, 832.5 to 832
    expect(spaceTimesteps(1000, '7')).toEqual([0, 166, 333, 500, 666, 832, 999]);
    expect(spaceTimesteps(1000, [7])).toEqual(spaceTimesteps(1000, '7'));
  });

  it('rejects bad respacings and options, naming the argument', () => {
    expect(() => createDiffusion({ timestepRespacing: 'ddim47' })).toThrow(/'timestepRespacing' passed to 'createDiffusion'/);
    expect(() => createDiffusion({ timestepRespacing: '2000' })).toThrow(/'timestepRespacing'/);
    expect(() => createDiffusion({ timestepRespacing: 'a,b' })).toThrow(/'timestepRespacing'/);
    expect(() => createDiffusion({ timestepRespacing: '1' })).toThrow(/at least 2 steps/);
    expect(() => createDiffusion({ steps: 1 })).toThrow(/'steps' passed to 'createDiffusion'/);
    expect(() => createDiffusion({ schedule: 'quadratic' as 'linear' })).toThrow(/'schedule'/);
    expect(() => createDiffusion({ fixedVariance: 'medium' as 'large' })).toThrow(/'fixedVariance'/);
    expect(() => spaceTimesteps(0, '10')).toThrow(/'numTimesteps' passed to 'spaceTimesteps'/);
  });
});

describe('betas must lie in (0, 1] (guided-diffusion asserts it)', () => {
  /** Every array of `d` against the numpy arrays (null = +Infinity), relative 1e-9; no NaN anywhere. */
  function expectMatchesWithInfinities(d: Diffusion, ref: Record<string, (number | null)[]>): void {
    for (const [py, ts] of Object.entries(KEYS)) {
      const a = d[ts] as Float64Array;
      const want = ref[py]!;
      expect(a.length).toBe(want.length);
      a.forEach((v, i) => {
        const w = want[i];
        if (w === null || w === undefined) {
          if (v !== Infinity) throw new Error(`${ts}[${i}]: ${v}, want Infinity`);
        } else if (!(Math.abs(v - w) <= 1e-9 * Math.max(Math.abs(w), 1e-12))) {
          throw new Error(`${ts}[${i}]: ${v}, want ${w}`);
        }
      });
    }
  }

  it('refuses the linear schedule with 10 steps (beta up to 2), naming the option and the fix', () => {
    const msg = "'steps' passed to 'createDiffusion': the linear schedule with 10 steps has beta up to 2 (> 1); " +
      'use at least 20 steps or the cosine schedule';
    expect(() => createDiffusion({ steps: 10 })).toThrow(new RangeError(msg));
    expect(() => createDiffusion({ steps: 10, schedule: 'linear', timestepRespacing: '5' })).toThrow(new RangeError(msg));
    expect(() => createDiffusion({ steps: 19 })).toThrow(/with 19 steps has beta up to 1\.053 \(> 1\)/);
    expect(() => namedBetaSchedule('linear', 10)).toThrow(
      new RangeError("'steps' passed to 'namedBetaSchedule': the linear schedule with 10 steps has beta up to 2 (> 1); " +
        'use at least 20 steps or the cosine schedule'));
    expect(() => createDiffusion({ steps: 10 })).toThrow(RangeError);
  });

  it('refuses exactly the T whose reference linear schedule has a beta above 1', () => {
    const refused: number[] = [];
    for (const [key, maxBeta] of Object.entries(bounds.linearMaxBeta)) {
      const steps = Number(key);
      let threw = false;
      try {
        const d = createDiffusion({ steps });
        expect(Math.max(...d.betas)).toBeCloseTo(maxBeta, 12);
        expect(d.alphasCumprod.every((v) => v >= 0)).toBe(true);
      } catch (e) {
        if (!(e instanceof RangeError)) throw e;
        threw = true;
      }
      expect({ steps, threw }).toEqual({ steps, threw: maxBeta > 1 });
      if (threw) refused.push(steps);
    }
    expect(refused).toEqual(Array.from({ length: 18 }, (_, i) => i + 2));
    expect(LINEAR_SCHEDULE_MIN_STEPS).toBe(20);
  });

  it('accepts the linear schedule with 20 steps (last beta exactly 1, alpha_bar reaches 0), as the reference does', () => {
    const d = createDiffusion({ steps: 20 });
    expect(d.betas[19]).toBe(1);
    expect(d.alphasCumprod[19]).toBe(0);
    expectMatchesWithInfinities(d, bounds.schedules['linear20']!);
    expect(Array.from(namedBetaSchedule('linear', 20))).toEqual(Array.from(d.betas));
  });

  it('accepts the cosine schedule with 10 steps (betas capped at 0.999)', () => {
    const d = createDiffusion({ steps: 10, schedule: 'cosine' });
    expect(d.betas[9]).toBe(0.999);
    expectMatchesWithInfinities(d, bounds.schedules['cosine10']!);
    expect(namedBetaSchedule('cosine', 2).every((b) => b > 0 && b <= 0.999)).toBe(true);
  });

  it("betasForAlphaBar refuses a cap outside (0, 1] and an alphaBar that does not decrease, naming them", () => {
    const cos = (t: number): number => Math.cos(((t + 0.008) / 1.008) * Math.PI / 2) ** 2;
    expect(() => betasForAlphaBar(10, cos, 1.5)).toThrow(new RangeError("'maxBeta' passed to 'betasForAlphaBar' must be in (0, 1], got 1.5"));
    expect(() => betasForAlphaBar(10, cos, 0)).toThrow(/'maxBeta' .* got 0/);
    expect(() => betasForAlphaBar(10, cos, Number.NaN)).toThrow(/'maxBeta' .* got NaN/);
    expect(() => betasForAlphaBar(0, cos)).toThrow(/'steps' passed to 'betasForAlphaBar' must be a positive integer, got 0/);
    expect(() => betasForAlphaBar(4, (t) => 1 + t)).toThrow(/'alphaBar' passed to 'betasForAlphaBar' must be positive at t = 0 and decrease strictly .* step 0 \(t = 0 -> 0\.25\) gives beta -0\.25/);
    expect(() => betasForAlphaBar(4, () => 0)).toThrow(/'alphaBar' .* step 0 .* gives beta NaN/);
    expect(() => betasForAlphaBar(4, 'cos' as never)).toThrow(TypeError);
    // a linear alpha_bar 1 - t reaches 0: the last beta is 1, allowed with maxBeta 1
    expect(Array.from(betasForAlphaBar(4, (t) => 1 - t, 1))).toEqual([0.25, 1 - 0.5 / 0.75, 0.5, 1]);
  });
});
