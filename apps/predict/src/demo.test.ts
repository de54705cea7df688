import { describe, expect, it } from '@jest/globals';
import { demoPlan } from './demo.js';

describe('demoPlan', () => {
  it('plans the default demo (2 slices, 8 runs per map, L = 200 in 20 + 20 steps) within 3 minutes at the measured speed', () => {
    const { plan, seconds } = demoPlan(2, 8);
    expect(plan.imageSteps).toBe(2 * (1 + 8) * (20 + 20));
    expect(seconds).toBeCloseTo(720 * 0.093, 6);
    expect(seconds).toBeLessThan(180);
  });
});
