import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { initBackend } from '@tumorcast/nn';
import { scenariosOf } from './cohort.js';
import { FAST, cli, refusal } from './test-utils/cli.js';

// The phantom cohort end to end with the shipped demo models and tiny settings (one guided step, one run per map,
// 3 bootstrap fits, two patients): the default data of the command, as a user runs it first.
const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'tc-predict-cohort-'));
beforeAll(async () => {
  await initBackend({ backend: 'wasm', log: false });
});
afterAll(() => fs.rmSync(tmp, { recursive: true, force: true }));

const rows = (f: string) => fs.readFileSync(f, 'utf8').trim().split('\n').map((l) => l.split(','));

describe('tumorcast-predict cohort', () => {
  const out = path.join(tmp, 'phantom');
  it('runs the phantom cohort with the demo models: every table with finite numbers, cohort.html, a line per patient and step', async () => {
    const { code, log } = await cli(['cohort', '--out', out, '--phantom-patients', '2', '--bootstrap', '3', '--scenario', 'none:no-rt', ...FAST]);
    expect(code).toBe(0);
    expect(log).toMatch(/writing a synthetic phantom cohort of 2 patient\(s\)/);
    for (const id of ['PH01', 'PH02']) {
      expect(log).toMatch(new RegExp(`patient \\d/2 ${id}: fit growth`));
      expect(log).toMatch(new RegExp(`patient \\d/2 ${id}: slice initial_84: score`));
    }
    for (const f of ['slices.csv', 'patients.csv', 'cohort_table.csv', 'growth.csv', 'params.csv', 'scenarios.csv', 'cohort.json', 'cohort.html']) {
      expect(fs.existsSync(path.join(out, f))).toBe(true);
    }
    const table = rows(path.join(out, 'cohort_table.csv'));
    for (const row of table.slice(1).filter((r) => ['mse', 'ssim', 'dice', 'psnr'].includes(r[0]!))) {
      for (const v of row.slice(1, 7)) expect(Number.isFinite(Number(v))).toBe(true);
      expect(row.slice(7)).toEqual(['4', '2']);
    }
    const growth = rows(path.join(out, 'growth.csv'));
    for (const row of growth.slice(1, 3)) for (const c of [9, 10, 11]) expect(Number.isFinite(Number(row[c]))).toBe(true);
    const scen = rows(path.join(out, 'scenarios.csv'));
    expect(scen).toHaveLength(1 + 2 * 2);
    for (const row of scen.slice(1)) expect(Number.isFinite(Number(row[4]))).toBe(true);
    const html = fs.readFileSync(path.join(out, 'cohort.html'), 'utf8');
    for (const s of ['Cohort table', 'Growth-fit quality', 'Bootstrap parameter distributions', 'Treatment scenarios', 'Model extrapolations']) expect(html).toContain(s);
    expect(log).toMatch(/done: .*cohort\.html/);
  }, 300_000);

  it('a rerun resumes (every patient skipped)', async () => {
    const { code, log } = await cli(['cohort', '--out', out, '--cohort', path.join(out, 'data', 'cohort.json'), '--bootstrap', '3', '--scenario', 'none:no-rt', ...FAST]);
    expect(code).toBe(0);
    expect(log.match(/skipped \(done before\)/g)).toHaveLength(2);
  });

  it('stops on a malformed patient before computing, naming it (exit 1); --skip-invalid carries on with the others', async () => {
    const data = path.join(out, 'data');
    const c = JSON.parse(fs.readFileSync(path.join(data, 'cohort.json'), 'utf8')) as { patients: { rtEndDay?: number; scans: { day: unknown }[] }[] };
    c.patients[0]!.scans[2]!.day = 'soon';
    const file = path.join(data, 'bad.json');
    fs.writeFileSync(file, JSON.stringify(c));
    const bad = path.join(tmp, 'bad');
    const e = await refusal(['cohort', '--cohort', file, '--out', bad, '--bootstrap', '3', ...FAST]);
    expect(e.exitCode).toBe(1);
    expect(e.message).toMatch(/patient PH01: patients\[0\]\.scans\[2\]\.day: must be a finite number/);
    expect(e.message).toMatch(/--skip-invalid/);
    expect(fs.existsSync(path.join(bad, 'patients'))).toBe(false);
    const { code, log } = await cli(['cohort', '--cohort', file, '--out', bad, '--bootstrap', '3', '--skip-invalid', ...FAST]);
    expect(code).toBe(0);
    expect(log).toMatch(/warning: skipping patient PH01/);
    expect(rows(path.join(bad, 'cohort_table.csv')).find((r) => r[0] === 'dice')!.slice(7)).toEqual(['2', '1']);
  }, 300_000);

  it('refuses bad flags before anything is read', async () => {
    expect((await refusal(['cohort', '--out', path.join(tmp, 'x'), '--scenario', 'later:speed=3'])).message).toMatch(/--scenario: scenario 'later:speed=3': unknown part 'speed=3'/);
    expect((await refusal(['cohort', '--out', path.join(tmp, 'x'), '--shard', '3/2'])).message).toMatch(/--shard/);
    expect(fs.existsSync(path.join(tmp, 'x'))).toBe(false);
  });
});

describe('scenariosOf', () => {
  it("reads ';'-separated scenarios and refuses a repeated name", () => {
    expect(scenariosOf('later:shift=14; none:no-rt')).toEqual([{ name: 'later', rtStartShift: 14 }, { name: 'none', noRt: true }]);
    expect(scenariosOf(undefined)).toEqual([]);
    expect(() => scenariosOf('a:shift=1;a:shift=2')).toThrow(/'a' is given twice/);
  });
});
