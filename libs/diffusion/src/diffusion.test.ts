import { describe, expect, it } from '@jest/globals';
import { readFileSync } from 'node:fs';
import { createDiffusion, namedBetaSchedule, spaceTimesteps, type Diffusion } from './index.js';
import { maxRelDiff } from './test-utils/tiny-nets.js';

const fx = JSON.parse(readFileSync(new URL('../test/fixtures/diffusion.json', import.meta.url), 'utf8'));

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
