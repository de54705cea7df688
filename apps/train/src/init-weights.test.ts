/**
 * `--init-weights`: fine-tuning the shipped float16 demo models from the
 * command line (the weights after a step at a negligible learning rate are
 * the file's float16 values, decoded here from its raw bytes), the file and
 * its SHA-256 recorded, and the usage errors (exit 2).
 */
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { createHash } from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { CliError } from '@tumorcast/cli';
import { initBackend } from '@tumorcast/nn';
import { trainCli } from './cli.js';
import { writeSlices } from './test-utils/slices.js';
import { rawValues, readRawSafetensors } from '../../../libs/training/src/test-utils/raw-safetensors.js';

const MODELS = fileURLToPath(new URL('../../predict/models/', import.meta.url));
const quiet = () => undefined;
const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'tc-train-init-'));
let data: string;
beforeAll(async () => {
  await initBackend({ backend: 'wasm', log: false });
  data = await writeSlices(path.join(tmp, 'data'), 2, { size: 32 });
});
afterAll(() => fs.rmSync(tmp, { recursive: true, force: true }));

/** A one-step run with the shipped demo config; lr 1e-30 (AdamW refuses 0) moves a weight by at most 1e-30. */
function args(cmd: string, out: string, extra: string[]): string[] {
  return [cmd, '--config', 'demo', '--data-dir', data, '--results-dir', path.join(tmp, out), '--iterations', '1', '--batch-size', '1', '--lr', '1e-30',
    '--save-interval', '0', '--backend', 'wasm', ...extra];
}

async function usageError(argv: string[]): Promise<CliError> {
  const err = await trainCli(argv, quiet).catch((e: unknown) => e);
  expect(err).toBeInstanceOf(CliError);
  expect((err as CliError).exitCode).toBe(2);
  return err as CliError;
}

describe('tumorcast-train --init-weights', () => {
  it.each(['regressor', 'segmenter'])('%s: fine-tunes the shipped float16 demo model, starting from its exact values', async (cmd) => {
    const file = path.join(MODELS, `${cmd}.safetensors`);
    const logs: string[] = [];
    expect(await trainCli(args(cmd, `${cmd}-ok`, ['--init-weights', file]), (m) => void logs.push(m))).toBe(0);
    const model = path.join(tmp, `${cmd}-ok`, 'model000001.safetensors');
    const want = readRawSafetensors(file).tensors;
    const got = readRawSafetensors(model);
    expect([...got.tensors.keys()].sort()).toEqual([...want.keys()].sort());
    for (const [name, t] of want) {
      expect(t.dtype).toBe('F16');
      const w = rawValues(t);
      const g = rawValues(got.tensors.get(name)!);
      // Non-zero float16 values are bit-exact in float32 after the 1e-30 step; zeros are within 1e-25.
      const bad = g.findIndex((v, i) => (w[i] === 0 ? Math.abs(v) > 1e-25 : v !== w[i]));
      expect([name, bad]).toEqual([name, -1]);
    }
    const sha = createHash('sha256').update(fs.readFileSync(file)).digest('hex');
    expect(JSON.parse(got.metadata['tumorcast.init_weights']!)).toEqual({ file, sha256: sha });
    expect(JSON.parse(got.metadata['tumorcast.config']!).init_weights).toBe(file);
    const saved = JSON.parse(fs.readFileSync(path.join(tmp, `${cmd}-ok`, 'config.json'), 'utf8')) as Record<string, unknown>;
    expect(saved['init_weights']).toBe(file);
    expect(logs.some((l) => l.includes(sha))).toBe(true);
  });

  it("a fine-tuning run resumes from its config.json with --init-weights '', its checkpoints still naming the init weights", async () => {
    const file = path.join(MODELS, 'segmenter.safetensors');
    const dir = path.join(tmp, 'seg-resume');
    expect(await trainCli(args('segmenter', 'seg-resume', ['--init-weights', file]), quiet)).toBe(0);
    const first = readRawSafetensors(path.join(dir, 'model000001.safetensors')).metadata['tumorcast.init_weights'];
    const resume = ['segmenter', '--config', path.join(dir, 'config.json'), '--iterations', '2', '--resume-checkpoint', 'latest', '--backend', 'wasm'];
    const err = await usageError(resume);
    expect(err.message).toMatch(/cannot be combined.*--init-weights ''/);
    const logs: string[] = [];
    expect(await trainCli([...resume, '--init-weights', ''], (m) => void logs.push(m))).toBe(0);
    expect(logs.some((l) => /resumed from .*model000001\.safetensors at step 1/.test(l))).toBe(true);
    expect(readRawSafetensors(path.join(dir, 'model000002.safetensors')).metadata['tumorcast.init_weights']).toBe(first);
  });

  it('with --resume-checkpoint: exit 2, naming both', async () => {
    const file = path.join(MODELS, 'regressor.safetensors');
    const err = await usageError(args('regressor', 'both', ['--init-weights', file, '--resume-checkpoint', 'latest']));
    expect(err.message).toMatch(/--init-weights .*regressor\.safetensors and --resume-checkpoint latest cannot be combined/);
  });

  it('a missing file: exit 2, naming it', async () => {
    const missing = path.join(tmp, 'no-such.safetensors');
    const err = await usageError(args('segmenter', 'missing', ['--init-weights', missing]));
    expect(err.message).toContain(`--init-weights ${missing}: no such file`);
  });

  it('a config the file was not trained with: exit 2, naming the file, the parameter, both shapes and --config', async () => {
    const file = path.join(MODELS, 'segmenter.safetensors');
    const err = await usageError(args('segmenter', 'wide', ['--init-weights', file, '--base-channels', '64']));
    expect(err.message).toContain(file);
    expect(err.message).toMatch(/parameter 'in_conv\.weight' has shape \[32, 4, 3, 3\] in the file but \[64, 4, 3, 3\] in the network.*--config/);
  });
});
