import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from '@jest/globals';
import { CliError } from '@tumorcast/cli';
import { simulate, twoPhaseRtModel } from '@tumorcast/growth-ode';
import { fitGrowthCommand, parseFixFlag } from './growth.js';
import { helpText, predictCli } from './cli.js';

const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'tumorcast-growth-'));
afterAll(() => fs.rmSync(tmp, { recursive: true, force: true }));

const truth = { lambdaGr: 0.012, lambdaDecay: 0.03, delay: 25, slope: 0.3, survival: 0.1, v0: 1000 };

/** Writes a one-patient CSV of the two-phase model at `days` (RT end `rtEnd`, 42-day course). */
function csvOf(name: string, days: number[], rtEnd: number, patient = 'p1'): string {
  const sizes = simulate(twoPhaseRtModel, truth, days, { t0: days[0], rtEnd });
  const file = path.join(tmp, name);
  fs.writeFileSync(file, `patient_id,day,size,rt_end_day\n${days.map((d, i) => `${patient},${d},${sizes[i]!.toFixed(3)},${rtEnd}`).join('\n')}\n`);
  return file;
}

const quiet = (): void => undefined;

describe('parseFixFlag', () => {
  it('parses name=value items and names what is wrong', () => {
    expect(parseFixFlag(['slope=1', ' delay = 5 ', 'v0=1'])).toEqual({ slope: 1, delay: 5, v0: 1 });
    expect(() => parseFixFlag(['slope'])).toThrow(/--fix: 'slope' is not name=value/);
    expect(() => parseFixFlag(['lambda=1'])).toThrow(/--fix: unknown parameter 'lambda'; the two-phase model's parameters are lambdaGr, lambdaDecay, delay, slope, survival, v0/);
    expect(() => parseFixFlag(['slope=fast'])).toThrow(/--fix: the value of 'slope' must be a finite number, got 'fast'/);
    expect(() => parseFixFlag(['slope=1', 'slope=2'])).toThrow(/given twice/);
  });
});

describe('fit-growth on short series', () => {
  it('fits a 3-scan series with population values, says so, and gives a wide band', async () => {
    const csv = csvOf('three.csv', [0, 70, 150], 52);
    const notes: string[] = [];
    const out = path.join(tmp, 'three');
    const [p] = await fitGrowthCommand(csv, out, { followupDay: 250, replicates: 12, log: (m) => notes.push(m) });
    expect(p!.heldByFallback).toEqual(['slope', 'delay', 'survival']);
    expect(notes.join('\n')).toMatch(/series 'p1': 3 fitted points for 6 free parameters of model 'two-phase-rt': held slope = 1, delay = 5, survival = 0.001/);
    const saved = JSON.parse(fs.readFileSync(path.join(out, 'predictions.json'), 'utf8')) as { notice?: string; relativeChangeBand: [number, number] }[];
    expect(saved[0]!.notice).toMatch(/held slope = 1/);
    // an honest band for 3 scans: the 5-95 % range of the relative change spans more than 0.5
    expect(saved[0]!.relativeChangeBand[1] - saved[0]!.relativeChangeBand[0]).toBeGreaterThan(0.5);
    const growth = JSON.parse(fs.readFileSync(path.join(out, 'growth.json'), 'utf8')) as { heldByFallback: string[] }[];
    expect(growth[0]!.heldByFallback).toEqual(['slope', 'delay', 'survival']);
  });

  it("with --short-series error, fails naming the file, the series and the flags that help", async () => {
    const csv = csvOf('three-err.csv', [0, 70, 150], 52);
    const run = predictCli(['fit-growth', '--series', csv, '--followup-day', '250', '--short-series', 'error', '--bootstrap', '4', '--out', path.join(tmp, 'x')], quiet);
    await expect(run).rejects.toBeInstanceOf(CliError);
    await expect(predictCli(['fit-growth', '--series', csv, '--followup-day', '250', '--short-series', 'error', '--out', path.join(tmp, 'x')], quiet)).rejects.toThrow(
      new RegExp(`^${csv.replace(/[.*+?^${}()|[\]\\/]/g, '\\$&')}: series 'p1': 3 fitted points but 6 free parameters of the two-phase model \\(lambdaGr, lambdaDecay, delay, slope, survival, v0\\).*hold parameters with --fix name=value,\\.\\.\\. \\(e\\.g\\. --fix slope=1,delay=5,survival=0\\.001\\) or use --short-series population`),
    );
  });

  it('fits a 3-scan series with --fix and no fallback', async () => {
    const csv = csvOf('three-fix.csv', [0, 70, 150], 52);
    const out = path.join(tmp, 'three-fix');
    expect(await predictCli(['fit-growth', '--series', csv, '--followup-day', '250', '--fix', 'slope=0.3,delay=25,survival=0.1', '--short-series', 'error', '--bootstrap', '4', '--out', out], quiet)).toBe(0);
    const growth = JSON.parse(fs.readFileSync(path.join(out, 'growth.json'), 'utf8')) as { base: { params: Record<string, number>; freeParams: string[] }; heldByFallback: string[] }[];
    expect(growth[0]!.heldByFallback).toEqual([]);
    expect(growth[0]!.base.params['slope']).toBe(0.3);
    expect(growth[0]!.base.freeParams).toEqual(['lambdaGr', 'lambdaDecay', 'v0']);
  });

  it('fails for a 2-scan series even with population values, naming --fix', async () => {
    const csv = csvOf('two.csv', [0, 70], 52);
    await expect(fitGrowthCommand(csv, path.join(tmp, 'two'), { followupDay: 250, replicates: 4 })).rejects.toThrow(
      /two\.csv: series 'p1': 2 fitted points but 3 free parameters of the two-phase model \(lambdaGr, lambdaDecay, v0\).*even with slope, delay, survival held at population values: hold more with --fix, e\.g\. --fix lambdaGr=<value>/,
    );
    // holding one more parameter is enough
    const [p] = await fitGrowthCommand(csv, path.join(tmp, 'two-fix'), { followupDay: 250, replicates: 4, fixed: { lambdaDecay: 0.03 } });
    expect(Number.isFinite(p!.relativeChange)).toBe(true);
  });
});

describe('fit-growth inputs', () => {
  it('accepts radiotherapy that ended before the first scan', async () => {
    const csv = csvOf('retro.csv', [100, 110, 130, 160, 200, 250, 310], 95);
    const [p] = await fitGrowthCommand(csv, path.join(tmp, 'retro'), { followupDay: 400, replicates: 4 });
    expect(p!.result.context.rtStart).toBe(53);
    expect(p!.result.context.t0).toBe(100);
    // the fit to the (noise-free) data follows the truth through the scans and to the follow-up
    const days = [100, 160, 250, 310, 400];
    const want = simulate(twoPhaseRtModel, truth, days, { t0: 100, rtEnd: 95 });
    const got = p!.result.base.predict(days);
    got.forEach((v, i) => expect(Math.abs(v - want[i]!) / want[i]!).toBeLessThan(1e-3));
  });

  it('names the file and the series for bad data', async () => {
    const csv = path.join(tmp, 'far.csv');
    fs.writeFileSync(csv, `patient_id,day,size,rt_end_day\n${[0, 20, 40, 60, 80, 100, 120].map((d) => `p1,${d},${1000 + d},9000`).join('\n')}\n`);
    await expect(fitGrowthCommand(csv, path.join(tmp, 'far'), { followupDay: 250, replicates: 4 })).rejects.toThrow(
      /far\.csv: series 'p1': 'context\.rtEnd \(RT start = rtEnd - 42 = 8958\)' passed to 'bootstrapGrowth' is out of range/,
    );
  });

  it('runs the second pass with --refine-from-bootstrap and records its bounds', async () => {
    const csv = csvOf('long.csv', [0, 8, 20, 35, 50, 70, 95, 120, 160, 200], 52);
    const out = path.join(tmp, 'refine');
    expect(await predictCli(['fit-growth', '--series', csv, '--followup-day', '250', '--refine-from-bootstrap', '--bootstrap', '6', '--out', out], quiet)).toBe(0);
    const growth = JSON.parse(fs.readFileSync(path.join(out, 'growth.json'), 'utf8')) as { refinement?: { upper: Record<string, number> } }[];
    expect(Object.keys(growth[0]!.refinement!.upper)).toEqual(['lambdaGr', 'lambdaDecay', 'delay']);
  });

  it('lists the growth-model flags in --help', () => {
    const help = helpText('fit-growth');
    for (const flag of ['--fix', '--short-series', '--refine-from-bootstrap', '--growth-objective', '--bootstrap-noise']) expect(help).toContain(flag);
    expect(help).toMatch(/--short-series\s+string \[population\|error\].*\(default "population"\)/);
  });
});
