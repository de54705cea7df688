import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { existsSync, mkdtempSync, readFileSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { PHANTOM_COHORT_ARCHETYPES, writePhantomCohort, type PhantomCohortResult } from './cohort.js';

interface Slice { kind: string; slice: number; folder: string; size: number }
interface Patient { id: string; rtStartDay: number; rtEndDay: number; split: { mode: string }; scans: { day: number; size: number; slices: Slice[] }[] }

describe('writePhantomCohort', () => {
  let dir: string;
  let r: PhantomCohortResult;
  beforeAll(async () => {
    dir = mkdtempSync(path.join(tmpdir(), 'phantom-cohort-'));
    r = await writePhantomCohort(dir, { seed: 3, size: 48 });
  });
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it('writes the cohort format with every archetype: short series, RT before the first scan, the three split modes', () => {
    const c = JSON.parse(readFileSync(path.join(dir, 'cohort.json'), 'utf8')) as { format: string; version: number; synthetic: boolean; patients: Patient[] };
    expect(c).toMatchObject({ format: 'tumorcast-cohort', version: 1, synthetic: true });
    expect(c.patients).toHaveLength(PHANTOM_COHORT_ARCHETYPES.length);
    const lengths = c.patients.map((p) => p.scans.length);
    expect(lengths).toContain(3);
    expect(lengths).toContain(4);
    // The 3-scan patient fits 2 scans: one more parameter is held in the file (two-phase: 3 at population values, lambdaDecay here).
    expect((c.patients.find((p) => p.scans.length === 3) as Patient & { fixed?: unknown }).fixed).toEqual({ lambdaDecay: 0.02 });
    expect(c.patients.some((p) => p.rtEndDay < p.scans[0]!.day)).toBe(true);
    expect(new Set(c.patients.map((p) => p.split.mode))).toEqual(new Set(['last_n', 'remove_last_predict', 'pre_rt_points']));
    for (const p of c.patients) {
      expect(p.rtEndDay - p.rtStartDay).toBe(42);
      for (const s of p.scans) {
        expect(s.size).toBeGreaterThan(0);
        expect(s.slices.map((x) => `${x.kind}_${x.slice}`)).toEqual(['largest_80', 'initial_84']);
        // The largest section is the centre slice: at least the other one's area.
        expect(s.slices[0]!.size).toBeGreaterThanOrEqual(s.slices[1]!.size);
        expect(s.size).toBe(s.slices[0]!.size);
        for (const x of s.slices) {
          const folder = path.join(dir, x.folder);
          expect(path.basename(folder)).toMatch(new RegExp(`^${p.id}-d\\d{3}_${x.slice}$`));
          const files = readdirSync(folder).sort();
          expect(files.map((f) => f.replace(/^.*_(t1n|t1c|t2w|t2f|seg)_.*$/, '$1')).sort()).toEqual(['seg', 't1c', 't1n', 't2f', 't2w']);
        }
      }
    }
    expect(existsSync(path.join(dir, 'truth.json'))).toBe(true);
  });

  it("follows the two-phase model: the truth's model sizes match the closed form (RT before the first scan included)", () => {
    const lc = (x: number) => Math.log(Math.cosh(x));
    for (const t of r.truth) {
      const p = (r.cohort['patients'] as Patient[]).find((q) => q.id === t.id)!;
      const v0 = t.modelSizes[0]! / size(p.scans[0]!.day);
      function size(day: number): number {
        const { lambdaGr: g, lambdaDecay: k, delay: dl, slope: s, survival: S } = t.params;
        if (day < t.rtStartDay) return Math.exp(g * day);
        const a = Math.exp(g * t.rtStartDay);
        return a * (S * Math.exp(g * (day - t.rtStartDay)) + (1 - S) * Math.exp(-(k / s) * (lc(s * (day - t.rtStartDay - dl)) - lc(s * dl))));
      }
      p.scans.forEach((s, i) => expect(t.modelSizes[i]! / (v0 * size(s.day))).toBeCloseTo(1, 9));
    }
  });

  it('is deterministic for a seed and different for another', async () => {
    const again = await writePhantomCohort(path.join(dir, 'again'), { seed: 3, size: 48, patients: 2 });
    const other = await writePhantomCohort(path.join(dir, 'other'), { seed: 4, size: 48, patients: 2 });
    expect(again.truth).toEqual(r.truth.slice(0, 2));
    expect(other.truth[0]!.params).not.toEqual(r.truth[0]!.params);
  });

  it('repeats the archetypes beyond eight patients and checks its options', async () => {
    const many = await writePhantomCohort(path.join(dir, 'many'), { seed: 1, size: 32, patients: 9, measurementNoise: 0 });
    expect(many.truth.map((t) => t.id).at(-1)).toBe('PH09');
    expect(many.truth[8]!.description).toBe(many.truth[0]!.description);
    await expect(writePhantomCohort(dir, { patients: 0 })).rejects.toThrow(/'patients' passed to 'writePhantomCohort'/);
    await expect(writePhantomCohort(dir, { measurementNoise: 2 })).rejects.toThrow(/measurementNoise/);
    await expect(writePhantomCohort('')).rejects.toThrow(TypeError);
  });
});
