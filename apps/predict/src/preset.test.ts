import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { parseArgs } from '@tumorcast/cli';
import { writePhantomDataset } from '@tumorcast/phantom';
import type { PhantomDatasetManifest } from '@tumorcast/phantom';
import { checkSampleOptions, commandConfig, helpText, predictCli, settingsOf, targetsOf } from './cli.js';
import { DEFAULT_SAMPLE_SETTINGS } from '@tumorcast/pipeline';

const flags = (argv: string[]) => parseArgs(argv, new Set(['amplify_early_target'])).flags;
const RUN = ['--data', 'd', '--out', 'o', '--series', 's.csv', '--followup-day', '210'];

// The paper's and the reference code's values, written out here rather than read from the preset:
// L = 200 of T = 1000 without respacing (the reference config's 'ddim1000' keeps every step), DDIM (eta 0),
// s = 200000 (paper; the reference script's default is 50000), target x1.15 while t > 20, initial noise
// std 0.01, 100 generations per probability map, and the reference growth fit (30 bootstrap fits).
const PAPER = { noiseLevel: 200, respacing: '', scale: 200000, eta: 0, amplifyEarlyTarget: true, initialNoiseStd: 0.01, samples: 100 };

describe('--preset', () => {
  it('paper: the paper\'s sampling settings and the reference growth fit', () => {
    const { config, preset } = commandConfig('run', flags(['--preset', 'paper', ...RUN]));
    expect(preset).toBe('paper');
    expect(settingsOf(config)).toMatchObject(PAPER);
    expect(targetsOf(config)).toMatchObject({ kind: 'series', replicates: 30, objective: 'reference', bootstrapNoise: 'reference' });
  });

  it('options given with a preset override it', () => {
    const { config } = commandConfig('probability-map', flags(['--samples', '4', '--preset', 'paper', '--respacing', 'ddim50', '--no-amplify-early-target', ...RUN]));
    expect(settingsOf(config)).toMatchObject({ ...PAPER, samples: 4, respacing: 'ddim50', amplifyEarlyTarget: false });
  });

  it('fast (also without --preset) is the defaults: respaced sampling, least squares, symmetric bootstrap noise', () => {
    for (const argv of [RUN, ['--preset', 'fast', ...RUN]]) {
      const { config, preset } = commandConfig('run', flags(argv));
      expect(preset).toBe('fast');
      expect(settingsOf(config)).toEqual(DEFAULT_SAMPLE_SETTINGS);
      expect(targetsOf(config)).toMatchObject({ objective: 'least-squares', bootstrapNoise: 'symmetric' });
    }
    expect(DEFAULT_SAMPLE_SETTINGS.respacing).not.toBe('');
  });

  it('fit-growth takes the growth part of a preset only', () => {
    const { config } = commandConfig('fit-growth', flags(['--preset', 'paper', '--series', 's.csv', '--followup-day', '210', '--out', 'o']));
    expect(config).toMatchObject({ bootstrap: 30, growth_objective: 'reference', bootstrap_noise: 'reference' });
    expect(config).not.toHaveProperty('noise_level');
  });

  it('errors: unknown preset, no value, a command without presets', () => {
    expect(() => commandConfig('run', flags(['--preset', 'nope', ...RUN]))).toThrow(/unknown preset 'nope'; presets: fast, paper/);
    expect(() => commandConfig('run', flags([...RUN, '--preset']))).toThrow(/--preset needs a value: fast, paper/);
    expect(() => commandConfig('evaluate', flags(['--preset', 'paper', '--run', 'r', '--truth', 't']))).toThrow(/--preset applies to fit-growth, sample, probability-map, run, not to 'evaluate'/);
    expect(() => commandConfig('run', flags(['--preset', 'paper', ...RUN, '--growth-objective', 'cubes']))).toThrow(/'growth_objective' must be one of least-squares, reference/);
  });

  it('an inherited property name is no command', () => {
    for (const name of ['toString', 'constructor', '__proto__']) {
      expect(() => commandConfig(name, flags([]))).toThrow(new RegExp(`unknown command '${name}'; commands: fit-growth, sample`));
      expect(helpText(name)).toBe(helpText());
    }
  });

  it('--help lists the presets', () => {
    for (const text of [helpText(), helpText('run'), helpText('fit-growth')]) {
      expect(text).toMatch(/fast +the defaults/);
      expect(text).toMatch(/paper +the paper: L = 200 of 1000 steps without respacing/);
    }
    expect(helpText('evaluate')).not.toMatch(/--preset/);
  });
});

describe('--baseline-burden', () => {
  it("reaches the sample settings of sample, probability-map and run; 'label' without it", () => {
    for (const command of ['sample', 'probability-map', 'run'] as const) {
      expect(settingsOf(commandConfig(command, flags([...RUN, '--baseline-burden', 'regressor'])).config).baselineBurden).toBe('regressor');
      expect(settingsOf(commandConfig(command, flags(RUN)).config).baselineBurden).toBe('label');
    }
    expect(commandConfig('cohort', flags(['--out', 'o', '--baseline-burden', 'regressor'])).config).toMatchObject({ baseline_burden: 'regressor' });
  });

  it('is in the help of the commands that sample, with its values', () => {
    for (const command of ['sample', 'probability-map', 'run', 'cohort']) expect(helpText(command)).toMatch(/--baseline-burden\b[^\n]*'label'[^\n]*'regressor'/);
    expect(helpText('fit-growth')).not.toMatch(/--baseline-burden\b/);
  });

  it('another value is a usage error naming the flag', () => {
    expect(() => settingsOf(commandConfig('run', flags([...RUN, '--baseline-burden', 'mask'])).config))
      .toThrow(/^--baseline-burden must be 'label' .* got 'mask'$/);
  });
});

describe('--guidance', () => {
  it("reaches the sample settings of sample, probability-map, run and cohort; 'regressor' without it", () => {
    for (const command of ['sample', 'probability-map', 'run'] as const) {
      expect(settingsOf(commandConfig(command, flags([...RUN, '--guidance', 'segmenter'])).config).guidance).toBe('segmenter');
      expect(settingsOf(commandConfig(command, flags(RUN)).config).guidance).toBe('regressor');
    }
    expect(commandConfig('cohort', flags(['--out', 'o', '--guidance', 'segmenter'])).config).toMatchObject({ guidance: 'segmenter' });
  });

  it('is in the help of the commands that sample, with its values; tune takes a list', () => {
    for (const command of ['sample', 'probability-map', 'run', 'cohort']) expect(helpText(command)).toMatch(/--guidance\b[^\n]*'regressor'[^\n]*'segmenter'/);
    expect(helpText('tune')).toMatch(/--guidances\b/);
    expect(helpText('tune')).toMatch(/--scoring-segmenter\b/);
    expect(helpText('fit-growth')).not.toMatch(/--guidance\b/);
  });

  it('another value is a usage error naming the flag', () => {
    expect(() => settingsOf(commandConfig('run', flags([...RUN, '--guidance', 'flair'])).config))
      .toThrow(/^--guidance must be 'regressor' \(.*\) or 'segmenter' \(.*\), got 'flair'$/);
  });
});

describe('--gradient-temperature', () => {
  it('reaches the sample settings of sample, probability-map, run and cohort; 1 without it', () => {
    for (const command of ['sample', 'probability-map', 'run'] as const) {
      expect(settingsOf(commandConfig(command, flags([...RUN, '--guidance', 'segmenter', '--gradient-temperature', '2'])).config).gradientTemperature).toBe(2);
      expect(settingsOf(commandConfig(command, flags(RUN)).config).gradientTemperature).toBe(1);
      // 1 goes with either guidance
      expect(settingsOf(commandConfig(command, flags([...RUN, '--gradient-temperature', '1'])).config).gradientTemperature).toBe(1);
    }
    expect(commandConfig('cohort', flags(['--out', 'o', '--guidance', 'segmenter', '--gradient-temperature', '0.5'])).config).toMatchObject({ gradient_temperature: 0.5 });
    expect(commandConfig('cohort', flags(['--out', 'o'])).config).toMatchObject({ gradient_temperature: 1 });
    // tune sweeps a list
    expect(commandConfig('tune', flags(['--gradient-temperatures', '1,2'])).config).toMatchObject({ gradient_temperatures: [1, 2] });
    expect(commandConfig('tune', flags([])).config).toMatchObject({ gradient_temperatures: [1] });
    expect(helpText('tune')).toMatch(/--gradient-temperatures\b/);
  });

  it('is in the help of the commands that sample, not of fit-growth', () => {
    for (const command of ['sample', 'probability-map', 'run', 'cohort']) expect(helpText(command)).toMatch(/--gradient-temperature\b[^\n]*--guidance segmenter/);
    expect(helpText('fit-growth')).not.toMatch(/--gradient-temperature\b/);
  });

  it('a value that is not > 0, or not 1 without the segmenter\'s guidance, is a usage error naming the flag', () => {
    for (const bad of ['0', '-1']) {
      expect(() => settingsOf(commandConfig('run', flags([...RUN, '--guidance', 'segmenter', '--gradient-temperature', bad])).config))
        .toThrow(new RegExp(`^--gradient-temperature must be a number > 0 .*got ${bad}$`));
    }
    expect(() => checkSampleOptions(commandConfig('run', flags([...RUN, '--gradient-temperature', '3'])).config))
      .toThrow(/^--gradient-temperature 3 applies to --guidance segmenter only/);
    expect(() => commandConfig('run', flags([...RUN, '--gradient-temperature', 'Infinity']))).toThrow(/'gradient_temperature' must be a number/);
  });
});

describe('--gradient-margin', () => {
  it('reaches the sample settings of sample, probability-map, run and cohort; Infinity (everywhere) without it', () => {
    for (const command of ['sample', 'probability-map', 'run'] as const) {
      expect(settingsOf(commandConfig(command, flags([...RUN, '--guidance', 'segmenter', '--gradient-margin', '4'])).config).gradientMarginPixels).toBe(4);
      expect(settingsOf(commandConfig(command, flags([...RUN, '--guidance', 'segmenter', '--gradient-margin', '0'])).config).gradientMarginPixels).toBe(0);
      expect(settingsOf(commandConfig(command, flags(RUN)).config).gradientMarginPixels).toBe(Infinity);
    }
    expect(commandConfig('cohort', flags(['--out', 'o', '--guidance', 'segmenter', '--gradient-margin', '3'])).config).toMatchObject({ gradient_margin: 3 });
    expect(commandConfig('cohort', flags(['--out', 'o'])).config.gradient_margin).toBeUndefined();
    // tune sweeps a list; 'none' is the gradient everywhere
    expect(commandConfig('tune', flags(['--gradient-margins', '2,4,none'])).config).toMatchObject({ gradient_margins: ['2', '4', 'none'] });
    expect(commandConfig('tune', flags([])).config).toMatchObject({ gradient_margins: ['none'] });
    expect(helpText('tune')).toMatch(/--gradient-margins\b[^\n]*'none' for the gradient everywhere/);
  });

  it('is in the help of the commands that sample, not of fit-growth', () => {
    for (const command of ['sample', 'probability-map', 'run', 'cohort']) expect(helpText(command)).toMatch(/--gradient-margin\b[^\n]*--guidance segmenter/);
    expect(helpText('fit-growth')).not.toMatch(/--gradient-margin\b/);
  });

  it('a value that is not an integer >= 0, or any without the segmenter\'s guidance, is a usage error naming the flag', () => {
    expect(() => settingsOf(commandConfig('run', flags([...RUN, '--guidance', 'segmenter', '--gradient-margin', '-2'])).config))
      .toThrow(/^--gradient-margin must be an integer >= 0 .*got -2$/);
    expect(() => checkSampleOptions(commandConfig('run', flags([...RUN, '--guidance', 'segmenter', '--gradient-margin', '-1'])).config))
      .toThrow(/^--gradient-margin must be an integer >= 0/);
    expect(() => checkSampleOptions(commandConfig('run', flags([...RUN, '--gradient-margin', '2'])).config))
      .toThrow(/^--gradient-margin 2 applies to --guidance segmenter only/);
    for (const bad of ['1.5', 'Infinity', 'none']) expect(() => commandConfig('run', flags([...RUN, '--guidance', 'segmenter', '--gradient-margin', bad]))).toThrow(/'gradient_margin' must be an integer/);
  });
});

describe('fit-growth: the growth options reach the fit', () => {
  let tmp: string;
  let csv: string;
  let manifest: PhantomDatasetManifest;
  beforeAll(async () => {
    tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'tc-preset-'));
    manifest = await writePhantomDataset(path.join(tmp, 'phantom'), {
      seed: 11, patients: 1, preview: false,
      patient: { sliceIds: [80], slice: { width: 64 }, days: [0, 14, 21, 35, 49, 63, 90, 120, 150, 210] },
    });
    csv = path.join(tmp, 'phantom', manifest.files.seriesToBaselineCsv);
  });
  afterAll(() => fs.rmSync(tmp, { recursive: true, force: true }));

  async function change(name: string, extra: string[]): Promise<number> {
    const out = path.join(tmp, name);
    expect(await predictCli(['fit-growth', '--series', csv, '--followup-day', String(manifest.testing[0]!.followupDay), '--bootstrap', '8', '--out', out, ...extra], () => undefined)).toBe(0);
    const t = JSON.parse(fs.readFileSync(path.join(out, 'targets.json'), 'utf8')) as Record<string, { relativeChange: number }>;
    return Object.values(t)[0]!.relativeChange;
  }

  it('paper = the reference objective and bootstrap noise; each differs from the defaults', async () => {
    const fast = await change('fast', []);
    const paper = await change('paper', ['--preset', 'paper']);
    expect(paper).toBe(await change('explicit', ['--growth-objective', 'reference', '--bootstrap-noise', 'reference']));
    // Each option changes the fit on its own, so each is wired through.
    expect(await change('objective', ['--growth-objective', 'reference'])).not.toBe(fast);
    expect(await change('noise', ['--bootstrap-noise', 'reference'])).not.toBe(fast);
    expect(paper).not.toBe(fast);
  }, 300_000);
});
