import { afterAll, describe, expect, it } from '@jest/globals';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { cli, phantomData, refusal } from './test-utils/cli.js';

const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'tc-predict-tune-'));
afterAll(() => fs.rmSync(tmp, { recursive: true, force: true }));

// One guided step per setting (L = 20 of ddim50) with the shipped networks: a test of the command, not of the settings.
const TINY = ['--noise-levels', '20', '--respacings', 'ddim50', '--backend', 'wasm'];

describe('tumorcast-predict tune', () => {
  it('without --data: writes phantom patients, sweeps the grid with the shipped networks and names the best setting', async () => {
    const out = path.join(tmp, 'phantom');
    const { code, log } = await cli(['tune', ...TINY, '--scales', '0,200000', '--phantom-patients', '1', '--phantom-slices', '1', '--no-regressor-check', '--out', out]);
    expect(code).toBe(0);
    expect(log).toContain('writing 1 phantom patient(s) (seed 101)');
    expect(log.match(/^setting \d\/2: L 20, s \d+, respacing 'ddim50' \(1 steps\), r0 from the label, guided by the regressor: area ratio/gm)).toHaveLength(2);
    const md = fs.readFileSync(path.join(out, 'tune.md'), 'utf8');
    expect(md).toMatch(/--noise-level 20 --scale (0|200000) --respacing 'ddim50'/);
    const summary = fs.readFileSync(path.join(out, 'tune-summary.csv'), 'utf8').trim().split('\n');
    expect(summary).toHaveLength(3);
    expect(fs.existsSync(path.join(out, 'regressor-noise.csv'))).toBe(false);
  }, 300_000);

  it('--gradient-temperatures: each tried with the segmenter\'s guidance, the regressor\'s once; the flags of the best name it', async () => {
    const out = path.join(tmp, 'temperatures');
    const { code, log } = await cli(['tune', ...TINY, '--scales', '0', '--guidances', 'regressor,segmenter', '--gradient-temperatures', '1,2',
      '--phantom-patients', '1', '--phantom-slices', '1', '--no-regressor-check', '--out', out]);
    expect(code).toBe(0);
    expect(log.match(/^setting \d\/3: /gm)).toHaveLength(3);
    expect(log).toMatch(/^setting 3\/3: .*guided by the segmenter \(gradient temperature 2\): /m);
    const summary = fs.readFileSync(path.join(out, 'tune-summary.csv'), 'utf8').trim().split('\n');
    const column = summary[0]!.split(',').indexOf('gradient_temperature');
    const guide = summary[0]!.split(',').indexOf('guidance');
    expect(column).toBeGreaterThan(0);
    expect(summary.slice(1).map((l) => `${l.split(',')[guide]} ${l.split(',')[column]}`).sort()).toEqual(['regressor 1', 'segmenter 1', 'segmenter 2']);
    expect(fs.readFileSync(path.join(out, 'tune.md'), 'utf8')).toMatch(/--guidance (regressor`|segmenter --gradient-temperature [12]`)/);
  }, 300_000);

  it("--gradient-margins: each tried with the segmenter's guidance ('none': everywhere), the regressor's once; inf in the CSV", async () => {
    const out = path.join(tmp, 'margins');
    const { code, log } = await cli(['tune', ...TINY, '--scales', '0', '--guidances', 'regressor,segmenter', '--gradient-margins', '3,none',
      '--phantom-patients', '1', '--phantom-slices', '1', '--no-regressor-check', '--out', out]);
    expect(code).toBe(0);
    expect(log.match(/^setting \d\/3: /gm)).toHaveLength(3);
    expect(log).toMatch(/^setting 2\/3: .*guided by the segmenter \(gradient within 3 pixels of the tumour\): /m);
    const summary = fs.readFileSync(path.join(out, 'tune-summary.csv'), 'utf8').trim().split('\n');
    const column = summary[0]!.split(',').indexOf('gradient_margin_pixels');
    const guide = summary[0]!.split(',').indexOf('guidance');
    expect(column).toBeGreaterThan(0);
    expect(summary.slice(1).map((l) => `${l.split(',')[guide]} ${l.split(',')[column]}`).sort()).toEqual(['regressor inf', 'segmenter 3', 'segmenter inf']);
    expect(fs.readFileSync(path.join(out, 'tune.md'), 'utf8')).toMatch(/--guidance (regressor`|segmenter --gradient-temperature 1( --gradient-margin 3)?`)/);
  }, 300_000);

  it("a user's data with truth and the true change", async () => {
    const { data } = await phantomData(tmp, 3);
    const out = path.join(tmp, 'user');
    const { code } = await cli(['tune', ...TINY, '--scales', '100000', '--data', data, '--truth', path.join(data, 'followup'), '--true-change', '--out', out]);
    expect(code).toBe(0);
    const rows = fs.readFileSync(path.join(out, 'tune.csv'), 'utf8').trim().split('\n');
    expect(rows).toHaveLength(1 + 2);
    expect(fs.readFileSync(path.join(out, 'regressor-noise.csv'), 'utf8').split('\n')[0]).toBe('from,to,timesteps,n,mae,bias,mae_constant,correlation');
  }, 300_000);

  it('refuses options that do not fit together, naming the flags', async () => {
    expect((await refusal(['tune', '--truth', 'x', '--out', tmp])).message).toMatch(/--truth goes with --data/);
    expect((await refusal(['tune', '--data', tmp, '--out', tmp])).message).toMatch(/give the targets: --true-change/);
    expect((await refusal(['tune', '--data', tmp, '--truth', tmp, '--true-change', '--relative-change', '0.2', '--out', tmp])).message).toMatch(/--true-change replaces/);
    expect((await refusal(['tune', '--noise-levels', '0', '--out', tmp])).message).toMatch(/noise_levels|noise-levels/);
    expect((await refusal(['tune', '--respacings', 'ddimx', '--out', tmp])).message).toMatch(/--respacing must be/);
    expect((await refusal(['tune', '--baseline-burdens', 'label,mask', '--out', tmp])).message).toMatch(/baseline.burdens/);
    expect((await refusal(['tune', '--guidances', 'regressor,flair', '--out', tmp])).message).toMatch(/guidances/);
    expect((await refusal(['tune', '--guidances', 'segmenter', '--segmenter', 'flair', '--data', tmp, '--truth', tmp, '--true-change', '--out', tmp])).message)
      .toMatch(/^--guidances segmenter needs a learned segmenter: give --segmenter FILE$/);
    expect((await refusal(['tune', '--gradient-temperatures', '1,0', '--out', tmp])).message)
      .toMatch(/^--gradient-temperatures takes numbers > 0 \(1: the segmenter's true gradient\), got 0$/);
    expect((await refusal(['tune', '--gradient-temperatures', '1,warm', '--out', tmp])).message).toMatch(/gradient_temperatures/);
    for (const bad of ['-1', '2.5', 'inf', 'all']) {
      expect((await refusal(['tune', '--gradient-margins', `4,${bad}`, '--out', tmp])).message)
        .toBe(`--gradient-margins takes integers >= 0 (pixels) or 'none' (the gradient everywhere), got '${bad}'`);
    }
    expect((await refusal(['tune', '--scoring-segmenter', path.join(tmp, 'nope.safetensors'), '--data', tmp, '--truth', tmp, '--true-change', '--out', tmp])).message)
      .toMatch(/^--scoring-segmenter .*nope\.safetensors: no such file$/);
  });
});
