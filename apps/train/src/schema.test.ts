/**
 * The app's config keys are the snake_case forms of @tumorcast/training's
 * options: every key maps to an option, and the schema's defaults are the
 * library's (the oracle is the library's exported defaults, which its own
 * tests do not derive from the schema).
 */
import { describe, expect, it } from '@jest/globals';
import { parseArgs, resolveConfig } from '@tumorcast/cli';
import {
  DIFFUSION_PROCESS_DEFAULTS, DIFFUSION_TRAINING_DEFAULTS, REGRESSOR_TRAINING_DEFAULTS, SEGMENTER_TRAINING_DEFAULTS, TRAINING_DEFAULTS, VALIDATE_DEFAULTS,
  resolveRegressorTrainingOptions,
} from '@tumorcast/training';
import { camelKeys } from './cli.js';
import { DIFFUSION_SCHEMA, REGRESSOR_SCHEMA, SEGMENTER_SCHEMA, VALIDATE_SCHEMA } from './schema.js';

const required = { data_dir: 'x', checkpoint: 'm.safetensors' };

describe('training schemas and the library options', () => {
  it.each([
    ['diffusion', DIFFUSION_SCHEMA, { ...TRAINING_DEFAULTS, ...DIFFUSION_PROCESS_DEFAULTS, ...DIFFUSION_TRAINING_DEFAULTS }],
    ['regressor', REGRESSOR_SCHEMA, { ...TRAINING_DEFAULTS, ...DIFFUSION_PROCESS_DEFAULTS, ...REGRESSOR_TRAINING_DEFAULTS }],
    ['segmenter', SEGMENTER_SCHEMA, { ...TRAINING_DEFAULTS, ...SEGMENTER_TRAINING_DEFAULTS }],
    ['validate', VALIDATE_SCHEMA, VALIDATE_DEFAULTS],
  ] as const)('%s: every default is the library\'s, and every defaulted key is a library option', (_name, schema, defaults) => {
    const preset = Object.fromEntries(Object.keys(required).filter((k) => k in schema).map((k) => [k, required[k as keyof typeof required]]));
    const resolved: Record<string, unknown> = camelKeys(resolveConfig(schema, { preset }));
    const defaulted = Object.keys(schema).filter((k) => 'default' in schema[k as keyof typeof schema]);
    const camel = defaulted.map((k) => k.replace(/_([a-z])/g, (_m, c: string) => c.toUpperCase()));
    expect(camel.sort()).toEqual(Object.keys(defaults).sort());
    for (const k of camel) expect([k, resolved[k]]).toEqual([k, (defaults as Record<string, unknown>)[k]]);
  });

  it('--adversarial-epsilon and --adversarial-steps reach the regressor options; bad values are refused naming the key', () => {
    const regressor = (argv: string[]) => camelKeys(resolveConfig(REGRESSOR_SCHEMA, { preset: { data_dir: 'x' }, flags: parseArgs(argv).flags }));
    const o = resolveRegressorTrainingOptions(regressor(['--adversarial-epsilon', '0.75', '--adversarial-steps', '3']));
    expect([o.adversarialEpsilon, o.adversarialSteps]).toEqual([0.75, 3]);
    expect(resolveRegressorTrainingOptions(regressor(['--adversarial-epsilon=1e-1'])).adversarialEpsilon).toBeCloseTo(0.1, 12);
    expect(() => regressor(['--adversarial-epsilon', '-1'])).toThrow(/'adversarial_epsilon'.*-1/);
    expect(() => regressor(['--adversarial-steps', '0'])).toThrow(/'adversarial_steps'.*0/);
    expect(() => regressor(['--adversarial-steps', '1.5'])).toThrow(/'adversarial_steps' must be an integer/);
  });

  it('camelKeys renames snake_case keys and keeps the values', () => {
    expect(camelKeys({ data_dir: ['a'], regressor_use_checkpoint: true, lr: 1 })).toEqual({ dataDir: ['a'], regressorUseCheckpoint: true, lr: 1 });
  });
});
