import { describe, expect, it } from '@jest/globals';
import { GUIDED_STEP_WEIGHT, describePlan, samplingPlan, sliceProgress } from './plan.js';

// The respaced process of the `fast` preset: 'ddim100' of 1000 steps keeps
// every 10th original timestep (0, 10, ..., 990), so L = 200 leaves 20 steps.
const ddim100 = { timestepMap: Int32Array.from({ length: 100 }, (_, i) => 10 * i) };

describe('samplingPlan', () => {
  it('counts image-steps, slices x (1 + map runs) x (inversion + guided steps), and work units weighting guided steps', () => {
    expect(GUIDED_STEP_WEIGHT).toBe(2);
    const p = samplingPlan(ddim100, { noiseLevel: 200, samples: 8 }, 2);
    expect(p).toMatchObject({ encodeSteps: 20, decodeSteps: 20, mapRuns: 8, mapBatch: 8, imageSteps: 2 * 9 * 40, unitsPerSlice: 9 * (20 + 2 * 20), units: 2 * 540 });
    expect(describePlan(p)).toBe('plan: 2 slice(s) x (1 guided sample + 8 probability-map runs) x (20 inversion + 20 guided steps) = 720 image-steps'
      + ' (the bar counts 1080 units: a guided step 2, as it also differentiates the regressor)');
    // Original timesteps below L only: L = 190 keeps 0..180, 19 steps.
    expect(samplingPlan(ddim100, { noiseLevel: 190, samples: 1 }, 1).encodeSteps).toBe(19);
    expect(samplingPlan(ddim100, { noiseLevel: 12, samples: 20 }, 1)).toMatchObject({ encodeSteps: 2, mapBatch: 8, unitsPerSlice: 21 * 6 });
  });

  it('counts a one-run map as the guided sample alone (predictSlice makes no second pass)', () => {
    const p = samplingPlan(ddim100, { noiseLevel: 200, samples: 1 }, 3);
    expect(p).toMatchObject({ mapRuns: 0, mapBatch: 0, imageSteps: 3 * 40, unitsPerSlice: 20 + 2 * 20, units: 3 * 60 });
    expect(describePlan(p)).toBe('plan: 3 slice(s) x (1 guided sample) x (20 inversion + 20 guided steps) = 120 image-steps'
      + ' (the bar counts 180 units: a guided step 2, as it also differentiates the regressor)');
    // Two runs: the guided sample and two further map runs.
    expect(samplingPlan(ddim100, { noiseLevel: 200, samples: 2 }, 1)).toMatchObject({ mapRuns: 2, imageSteps: 3 * 40 });
  });

  it('rejects bad counts', () => {
    expect(() => samplingPlan(ddim100, { noiseLevel: 200, samples: 0 }, 1)).toThrow(/'settings.samples' .* integer >= 1, got 0/);
    expect(() => samplingPlan(ddim100, { noiseLevel: 200, samples: 2 }, -1)).toThrow(/'slices' .* non-negative integer, got -1/);
  });
});

describe('sliceProgress', () => {
  /** Replays the callbacks predictSlice makes for one slice: guided sample, then the map in batches. */
  function replay(cb: (what: string, done: number, total: number) => void, steps: number, runs: number, batch: number): void {
    for (const phase of ['encode', 'decode']) for (let i = 1; i <= steps; i++) cb(phase, i, steps);
    for (let r0 = 0; r0 < runs; r0 += batch) {
      for (const phase of ['map encode', 'map decode']) for (let i = 1; i <= steps; i++) cb(phase, i, steps);
      cb('map', Math.min(runs, r0 + batch), runs);
    }
  }

  it('moves the bar every step, weighting guided steps and a batch of map runs by its size, and ends each slice at its share', () => {
    // 3 steps, 10 runs per map: batches of 8 and 2; 2 slices. One run is 3 + 2 x 3 = 9 units, a slice 11 x 9 = 99.
    const plan = samplingPlan({ timestepMap: Int32Array.from([0, 10, 20, 30]) }, { noiseLevel: 25, samples: 10 }, 2);
    expect(plan.unitsPerSlice).toBe(99);
    const positions: number[] = [];
    const labels: string[] = [];
    const bar = { update: (p: number, m: Record<string, number | string> = {}) => { positions.push(p); labels.push(Object.entries(m).map(([k, v]) => `${k} ${v}`).join()); } };
    replay(sliceProgress(bar, plan, 1), 3, 10, 8);
    expect(positions).toEqual([
      100, 101, 102, 104, 106, 108, // guided sample, after the first slice's 99 units
      116, 124, 132, 148, 164, 180, 180, // first map batch: 8 runs per step; 'map' 8/10
      182, 184, 186, 190, 194, 198, 198, // second batch: 2 runs; 'map' 10/10 ends the slice at 2 x 99
    ]);
    expect(labels[0]).toBe('slice 2/2 inversion 1/3');
    expect(labels[3]).toBe('slice 2/2 guided 1/3');
    expect(labels[13]).toBe('slice 2/2 map runs 9-10/10 inversion 1/3');
    expect(labels[19]).toBe('slice 2/2 map 10/10 runs');
  });

  it('ignores phases it does not know', () => {
    const positions: number[] = [];
    const plan = samplingPlan(ddim100, { noiseLevel: 200, samples: 2 }, 1);
    sliceProgress({ update: (p: number) => { positions.push(p); } }, plan, 0)('segment', 1, 1);
    expect(positions).toEqual([]);
  });
});
