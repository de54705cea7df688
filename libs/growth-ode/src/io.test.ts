/* eslint-disable @typescript-eslint/no-explicit-any -- untyped JSON fixtures and heterogeneous model lists in tests */
import { mkdtempSync, readFileSync, readdirSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { describe, expect, it } from '@jest/globals';
import {
  bootstrapGrowth,
  exampleSeries,
  EXAMPLE_TRUTH,
  fitGrowth,
  paramsToCsv,
  parseSeriesCsv,
  plotGrowth,
  readSeriesCsv,
  resultToJson,
  resultsToCsv,
  simulate,
  twoPhaseRtModel,
  writeParamsCsv,
  writeResultsCsv,
  writeResultsJson,
  type GrowthModel,
} from './index.js';

const csv = `# sizes in mm^2
patient_id,day,size,slice_id,rt_end_day
p1,40,900,80,52
p1,0,1000,80,52
p1,10,1100,80,
"p2",5,12.5,3,60
p2,0,10,3,60
p2,0,4,4,60
`;

describe('parseSeriesCsv', () => {
  it('groups by patient and slice, sorts by day and reads RT dates', () => {
    const s = parseSeriesCsv(csv);
    expect(s.map((x) => x.id)).toEqual(['p1/80', 'p2/3', 'p2/4']);
    expect(s[0]).toEqual({ id: 'p1/80', patientId: 'p1', sliceId: '80', times: [0, 10, 40], sizes: [1000, 1100, 900], context: { rtEnd: 52 } });
    expect(s[1]!.context).toEqual({ rtEnd: 60 });
  });

  it('sums slices per day when bySlice is false', () => {
    const s = parseSeriesCsv(csv, { bySlice: false });
    expect(s.map((x) => x.id)).toEqual(['p1', 'p2']);
    expect(s[1]!.times).toEqual([0, 5]);
    expect(s[1]!.sizes).toEqual([14, 12.5]);
  });

  it('takes RT dates from the options when the file has none', () => {
    const text = 'patient_id,day,size\na,0,1\na,3,2\nb,0,5\n';
    expect(parseSeriesCsv(text, { rtEndDay: 50 }).map((s) => s.context)).toEqual([{ rtEnd: 50 }, { rtEnd: 50 }]);
    expect(parseSeriesCsv(text, { rtStartDay: { a: 7 } }).map((s) => s.context)).toEqual([{ rtStart: 7 }, {}]);
    expect(parseSeriesCsv('patient_id,day,size,rt_start_day\na,0,1,4\n')[0]!.context).toEqual({ rtStart: 4 });
  });

  it('rejects bad files with the line number', () => {
    expect(() => parseSeriesCsv('')).toThrow(/empty/);
    expect(() => parseSeriesCsv('patient,day,size\n')).toThrow(/no 'patient_id' column/);
    expect(() => parseSeriesCsv('patient_id,day,size\na,0,x\n')).toThrow(/line 2 .*'size' must be a finite number, got 'x'/);
    expect(() => parseSeriesCsv('patient_id,day,size\na,0,NaN\n')).toThrow(/'size' must be a finite number/);
    expect(() => parseSeriesCsv('patient_id,day,size\na,0,1\na,1,-3\n')).toThrow(/line 3 .*'size' must be >= 0/);
    expect(() => parseSeriesCsv('patient_id,day,size\na,0,1\na,0,2\n')).toThrow(/series 'a' has day 0 twice \(lines 2 and 3\)/);
    expect(() => parseSeriesCsv('patient_id,day,size,rt_end_day\na,0,1,40\na,1,2,41\n')).toThrow(/conflicting rt_end_day/);
    expect(() => parseSeriesCsv('patient_id,day,size\na,0\n')).toThrow(/line 2 .*fields/);
    expect(() => parseSeriesCsv('patient_id,day,size\n,0,1\n')).toThrow(/'patient_id' is empty/);
  });

  it('reads a file', async () => {
    const dir = mkdtempSync(path.join(tmpdir(), 'growth-ode-'));
    const file = path.join(dir, 'series.csv');
    writeFileSync(file, csv);
    expect((await readSeriesCsv(file)).length).toBe(3);
    await expect(readSeriesCsv(path.join(dir, 'missing.csv'))).rejects.toThrow(/ENOENT/);
  });
});

describe('writers', () => {
  const ex = exampleSeries();
  const fit = fitGrowth(twoPhaseRtModel, ex, { holdOut: 1, starts: 2 });
  const boot = bootstrapGrowth(twoPhaseRtModel, ex, { starts: 1, replicates: 6, gridPoints: 5 });

  it('serialises fits and bootstraps to plain JSON', () => {
    const j = resultToJson(fit) as any;
    expect(j.kind).toBe('fit');
    expect(j.model).toBe('two-phase-rt');
    expect(j.seriesId).toBe('synthetic-example');
    expect(Object.keys(j.params)).toEqual(['lambdaGr', 'lambdaDecay', 'delay', 'slope', 'survival', 'v0']);
    expect(j.heldOut.times).toEqual([400]);
    expect(JSON.parse(JSON.stringify(j))).toEqual(j);
    const b = resultToJson(boot) as any;
    expect(b.kind).toBe('bootstrap');
    expect(b.trajectory.times).toHaveLength(5);
    expect(b.base.kind).toBe('fit');
    expect(b.bootstrapNoise).toBe('symmetric');
    expect(b.base.objective).toBe('least-squares');
    expect(b.notice).toBeUndefined();
    const short = bootstrapGrowth(twoPhaseRtModel, { ...ex, times: ex.times.slice(0, 3), sizes: ex.sizes.slice(0, 3) }, { starts: 1, replicates: 3, gridPoints: 5, shortSeries: 'population' });
    const s = resultToJson(short) as any;
    expect(s.heldByFallback).toEqual(['slope', 'delay', 'survival']);
    expect(s.notice).toMatch(/held slope = 1/);
    expect(s.base.notice).toMatch(/held slope = 1/);
    expect(() => resultToJson({} as never)).toThrow(/'result' passed to 'resultToJson'/);
  });

  it('writes tidy CSVs', () => {
    const lines = resultsToCsv([fit, boot]).trim().split('\n');
    expect(lines[0]).toBe('series_id,model,kind,day,observed,predicted,lower,upper');
    expect(lines.filter((l) => l.includes(',held_out,'))).toHaveLength(1);
    expect(lines.filter((l) => l.includes(',trajectory,'))).toHaveLength(5);
    expect(lines).toHaveLength(1 + 10 + 10 + 5);
    const p = paramsToCsv(boot).trim().split('\n');
    expect(p[0]).toBe('series_id,model,ok,quantity,value,lower,upper');
    expect(p.some((l) => l.startsWith('synthetic-example,two-phase-rt,true,lambdaGr,'))).toBe(true);
    expect(paramsToCsv(fit)).toMatch(/heldout_rmse/);
    expect(() => resultsToCsv([null as never])).toThrow(/'results' passed to 'resultsToCsv'/);
  });

  it('writes files atomically (no temporary files left)', async () => {
    const dir = mkdtempSync(path.join(tmpdir(), 'growth-ode-'));
    await writeResultsJson(path.join(dir, 'fit.json'), fit);
    await writeResultsJson(path.join(dir, 'all.json'), [fit, boot]);
    await writeResultsCsv(path.join(dir, 'sizes.csv'), [fit, boot]);
    await writeParamsCsv(path.join(dir, 'params.csv'), boot);
    expect(readdirSync(dir).sort()).toEqual(['all.json', 'fit.json', 'params.csv', 'sizes.csv']);
    expect(JSON.parse(readFileSync(path.join(dir, 'all.json'), 'utf8'))).toHaveLength(2);
    await expect(writeResultsJson(path.join(dir, 'no', 'such', 'dir.json'), fit)).rejects.toThrow();
    expect(readdirSync(dir)).toHaveLength(4);
  });
});

describe('plotGrowth', () => {
  const ex = exampleSeries();
  it('draws data, held-out points, the band, the RT window and markers', () => {
    const boot = bootstrapGrowth(twoPhaseRtModel, ex, { starts: 1, replicates: 5, holdOut: 2 });
    const svg = plotGrowth(boot, { markers: [{ day: 420, label: 'follow-up <1>' }], until: 450 });
    expect(svg.startsWith('<svg')).toBe(true);
    expect(svg).toContain('<polygon'); // band
    expect(svg).toContain('<polyline'); // median
    expect((svg.match(/<circle cx/g) ?? []).length).toBe(10 + 2); // 10 points + 2 legend symbols
    expect((svg.match(/stroke="#d62828"/g) ?? []).length).toBe(2 + 1); // 2 held-out points + legend symbol
    expect(svg).toContain('>RT<');
    expect(svg).toContain('follow-up &lt;1&gt;');
    const fit = fitGrowth(twoPhaseRtModel, ex, { starts: 1 });
    const s2 = plotGrowth(fit, { showRt: false, title: 'x' });
    expect(s2).not.toContain('>RT<');
    expect(s2).not.toContain('<polygon');
    expect(() => plotGrowth(fit, { width: 10 })).toThrow(/'options.width'/);
    expect(() => plotGrowth({} as never)).toThrow(/'result' passed to 'plotGrowth'/);
  });
});

describe('plotGrowth of a failed fit', () => {
  it('shows the data and the reason', () => {
    const broken: GrowthModel<{ a: number }> = {
      name: 'broken',
      paramNames: ['a'],
      stateSize: 1,
      initialState: (p) => [p.a],
      rhs: (_t, _y, d) => void (d[0] = NaN),
      output: (y) => y[0]!,
    };
    const fit = fitGrowth(broken, { times: [0, 1, 2], sizes: [1, 2, 3] }, { starts: 1, initial: { a: 1 }, lower: { a: 0 }, upper: { a: 2 } });
    const svg = plotGrowth(fit);
    expect(svg).toContain('fit failed: the model could not be evaluated');
    expect(svg).not.toContain('<polyline');
    expect((svg.match(/<circle cx/g) ?? []).length).toBe(3 + 1);
  });
});

describe('exampleSeries', () => {
  it('is synthetic, deterministic and close to its generating model', () => {
    const a = exampleSeries();
    const b = exampleSeries();
    expect(a).toEqual(b);
    expect(a.description).toMatch(/Synthetic/);
    expect(a.times).toHaveLength(10);
    const clean = simulate(twoPhaseRtModel, EXAMPLE_TRUTH, a.times, a.context);
    a.sizes.forEach((s, i) => expect(Math.abs(s / clean[i]! - 1)).toBeLessThan(0.2));
    const fit = fitGrowth(twoPhaseRtModel, a);
    expect(fit.r2).toBeGreaterThan(0.98);
  });
});
