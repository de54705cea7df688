// What the tests that run tumorcast-predict's CLI in-process share: fast
// settings, a small phantom data set, and the CLI run for its log or its refusal.
import { expect } from '@jest/globals';
import path from 'node:path';
import { initBackend } from '@tumorcast/nn';
import { writePhantomDataset } from '@tumorcast/phantom';
import { CliError } from '@tumorcast/cli';
import { predictCli } from '../cli.js';

/** One guided step (L = 20 of ddim50), one run per map, on wasm: for tests about folders and errors, not images. */
export const FAST = ['--respacing', 'ddim50', '--noise-level', '20', '--samples', '1', '--backend', 'wasm'];

/**
 * Starts the wasm backend and writes a phantom data set to `<dir>/phantom`:
 * one patient, two baseline slices in testing/ (labels in test_labels/),
 * 96 x 96 to keep the runs short.
 * @returns the data set's folder and its testing slice keys, sorted.
 */
export async function phantomData(dir: string, seed: number): Promise<{ data: string; ids: string[] }> {
  await initBackend({ backend: 'wasm', log: false });
  const data = path.join(dir, 'phantom');
  const m = await writePhantomDataset(data, { seed, patients: 1, preview: false, patient: { sliceIds: [80, 84], slice: { width: 96 } } });
  return { data, ids: m.testing[0]!.slices.map((s) => s.key).sort() };
}

/** Runs the CLI, collecting its log. */
export async function cli(argv: string[]): Promise<{ code: number; log: string }> {
  const lines: string[] = [];
  const code = await predictCli(argv, (m) => lines.push(m));
  return { code, log: lines.join('\n') };
}

/** The CliError a command line fails with (fails the test when it succeeds or throws something else). */
export async function refusal(argv: string[]): Promise<CliError> {
  try {
    await predictCli(argv, () => undefined);
  } catch (e) {
    expect(e).toBeInstanceOf(CliError);
    return e as CliError;
  }
  throw new Error(`expected ${argv.join(' ')} to fail`);
}
