import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { CliError } from '@tumorcast/cli';
import { commandConfig, helpText, workersOf } from './cli.js';
import { FAST, cli, phantomData, refusal } from './test-utils/cli.js';

const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'tc-predict-workers-'));
let data: string;
let ids: string[];
beforeAll(async () => {
  ({ data, ids } = await phantomData(tmp, 21));
});
afterAll(() => fs.rmSync(tmp, { recursive: true, force: true }));

describe('--workers', () => {
  it("takes 'auto' (the default) or a count >= 1", () => {
    expect(workersOf('auto')).toBe('auto');
    expect(workersOf(' AUTO ')).toBe('auto');
    expect(workersOf('3')).toBe(3);
    for (const bad of ['0', '-1', '1.5', 'two', '']) expect(() => workersOf(bad)).toThrow(/^--workers must be 'auto' or an integer >= 1/);
    expect(() => workersOf('0')).toThrow(CliError);
    const flags = new Map<string, string | true>([['data', 'd'], ['out', 'o']]);
    expect(commandConfig('probability-map', flags).config.workers).toBe('auto');
    expect(commandConfig('demo', new Map()).config.workers).toBe('auto');
    for (const command of ['run', 'probability-map', 'demo', 'cohort']) expect(helpText(command)).toMatch(/--workers/);
  });

  it('is checked before anything is read or written', async () => {
    const out = path.join(tmp, 'bad');
    const e = await refusal(['probability-map', '--data', data, '--relative-change', '0.1', '--out', out, ...FAST, '--workers', 'many']);
    expect(e.message).toMatch(/--workers must be 'auto' or an integer >= 1 .* got 'many'/);
    expect(fs.existsSync(out)).toBe(false);
  });

  it('a map run with 2 workers logs them and writes the map (the map itself: the pipeline tests)', async () => {
    const out = path.join(tmp, 'two');
    const argv = ['probability-map', '--data', data, '--relative-change', '0.1', '--slices', ids[0]!, '--out', out, ...FAST, '--samples', '3', '--workers', '2'];
    const { code, log } = await cli(argv);
    expect(code).toBe(0);
    expect(log).toMatch(/^map workers: 2$/m);
    expect(fs.existsSync(path.join(out, 'slices', ids[0]!, `${ids[0]}_probability.nii.gz`))).toBe(true);
    // One worker: the maps in the main thread.
    const one = await cli([...argv.slice(0, -1), '1'].map((a) => (a === out ? path.join(tmp, 'one') : a)));
    expect(one.log).toMatch(/^map workers: 1 \(maps in this thread\)$/m);
  }, 120_000);
});
