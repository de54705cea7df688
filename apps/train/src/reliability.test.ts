/**
 * What a user meets after a crash or with imperfect input: leftovers of a
 * killed run, a damaged newest checkpoint, a log with rows past the
 * checkpoint, bad data (NaN voxels, a slice of another shape), files that
 * are not files, flags without values — each with a one-line message that
 * names the path and the right exit code.
 */
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { CliError } from '@tumorcast/cli';
import { initBackend } from '@tumorcast/nn';
import { checkpointFiles, latestCheckpoint } from '@tumorcast/training';
import { trainCli } from './cli.js';
import { TINY_DIFFUSION, writeSlice, writeSlices } from './test-utils/slices.js';

let tmp: string;
let data: string;
beforeAll(async () => {
  tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'tc-train-rel-'));
  data = await writeSlices(path.join(tmp, 'data'), 2);
  await initBackend({ backend: 'wasm', log: false });
});
afterAll(() => fs.rmSync(tmp, { recursive: true, force: true }));

/** Runs trainCli, collecting its log lines; returns the exit code and the lines. */
async function train(args: string[]): Promise<{ code: number; notes: string }> {
  const notes: string[] = [];
  const errWrite = process.stderr.write.bind(process.stderr);
  // The loop's own notices and the progress lines go to stderr.
  (process.stderr as { write: unknown }).write = (s: string) => (notes.push(String(s)), true);
  try {
    const code = await trainCli(args, (m) => notes.push(m));
    return { code, notes: notes.join('\n') };
  } finally {
    (process.stderr as { write: unknown }).write = errWrite;
  }
}

/** The error trainCli rejects with. */
async function failure(args: string[]): Promise<CliError> {
  try {
    await train(args);
  } catch (e) {
    return e as CliError;
  }
  throw new Error(`expected tumorcast-train ${args.join(' ')} to fail`);
}

const diffusion = (dir: string, ...extra: string[]) => ['diffusion', '--data-dir', data, '--results-dir', dir, ...TINY_DIFFUSION, ...extra];
const logSteps = (dir: string) => fs.readFileSync(path.join(dir, 'log.csv'), 'utf8').trim().split('\n').slice(1).map((l) => Number(l.split(',')[0]));

/** A pid whose process has exited. */
function deadPid(): number {
  return Number(spawnSync(process.execPath, ['-e', 'process.stdout.write(String(process.pid))'], { encoding: 'utf8' }).stdout);
}

describe('after a killed run', () => {
  it('removes leftover temporary files, cuts log.csv back to the resumed step, and passes over a damaged newest checkpoint', async () => {
    const dir = path.join(tmp, 'killed');
    expect((await train(diffusion(dir, '--iterations', '4', '--save-interval', '2'))).code).toBe(0);
    expect(logSteps(dir)).toEqual([1, 2, 3, 4]);
    // What a kill -9 during the save of step 4 and a later log line would leave: a truncated model file, temporary files, a logged step 5.
    const m4 = checkpointFiles(dir, 4).model;
    fs.truncateSync(m4, fs.statSync(m4).size - 100);
    const pid = deadPid();
    const temps = [`model000006.safetensors.tmp-${pid}-1712345678901`, `.loss.svg.tmp-${pid}-7`];
    for (const t of temps) fs.writeFileSync(path.join(dir, t), 'partial');
    fs.appendFileSync(path.join(dir, 'log.csv'), `5,0.5,0.5,0.01,,0.001,12.5,40,1.0\n`);

    const { code, notes } = await train(diffusion(dir, '--iterations', '3', '--resume-checkpoint', 'latest'));
    expect(code).toBe(0);
    expect(notes).toContain(`removed 2 temporary file(s) an interrupted run left in ${dir}`);
    expect(temps.filter((t) => fs.existsSync(path.join(dir, t)))).toEqual([]);
    expect(notes).toMatch(new RegExp(`${m4} is damaged \\(model000004\\.safetensors: truncated: \\d+ bytes, the header describes \\d+\\); passing over it`));
    expect(notes).toContain(`resuming from the newest intact checkpoint, ${checkpointFiles(dir, 2).model}`);
    expect(notes).toContain(`resumed from ${checkpointFiles(dir, 2).model} at step 2`);
    // Steps 3 and 4 (and the stray 5) were logged by the killed run and are redone: each step appears once.
    expect(notes).toContain(`${path.join(dir, 'log.csv')}: dropped 3 row(s) after step 2`);
    expect(logSteps(dir)).toEqual([1, 2, 3]);
  });

  it("'latest' with no checkpoint says it starts from scratch; with only damaged ones it refuses", async () => {
    const dir = path.join(tmp, 'fresh');
    const { code, notes } = await train(diffusion(dir, '--iterations', '1', '--resume-checkpoint', 'latest'));
    expect(code).toBe(0);
    expect(notes).toContain(`resume_checkpoint latest: no checkpoint in ${dir} yet; starting from scratch`);
    fs.writeFileSync(checkpointFiles(dir, 1).opt, new Uint8Array(4));
    const e = await failure(diffusion(dir, '--iterations', '2', '--resume-checkpoint', 'latest'));
    expect(e.message).toMatch(/resume_checkpoint latest: no intact checkpoint in .*fresh \(1 damaged\)/);
    expect(e.exitCode).toBe(1);
    const explicit = await failure(diffusion(dir, '--iterations', '2', '--resume-checkpoint', checkpointFiles(dir, 1).model));
    expect(explicit.message).toMatch(/model000001\.safetensors is damaged \(optimiser state opt000001\.safetensors: truncated \(4 bytes\)\)/);
  });

  it('a fresh run in a folder with an old log starts the log over', async () => {
    const dir = path.join(tmp, 'rerun');
    await train(diffusion(dir, '--iterations', '2'));
    const { notes } = await train(diffusion(dir, '--iterations', '1'));
    expect(notes).toContain('dropped 2 row(s) of an earlier run');
    expect(logSteps(dir)).toEqual([1]);
  });
});

describe('bad data', () => {
  it('names the file with NaN voxels instead of reporting a NaN loss', async () => {
    const root = path.join(tmp, 'nan');
    await writeSlices(root, 1);
    const bad = await writeSlice(root, '00000002', 30, { nanIn: 't2w' });
    const e = await failure(['diffusion', '--data-dir', root, '--results-dir', path.join(tmp, 'nan-out'), ...TINY_DIFFUSION, '--iterations', '3']);
    expect(e.message).toBe(`${path.join(bad, 'tiny_train_00000002_t2w_30_w.nii.gz')}: the t2w image has NaN or infinite voxel values; training needs finite data (fix or remove the slice folder ${bad})`);
    expect(e.exitCode).toBe(1);
  });

  it('refuses a slice folder of another shape, naming it and both shapes', async () => {
    const root = path.join(tmp, 'shapes');
    await writeSlices(root, 2);
    const odd = await writeSlice(root, '00000003', 40, { size: 200 });
    const e = await failure(['diffusion', '--data-dir', root, '--results-dir', path.join(tmp, 'shapes-out'), ...TINY_DIFFUSION, '--iterations', '1']);
    expect(e.message).toMatch(new RegExp(`^slice folder ${odd} is 200x200, but 2 other slice\\(s\\) are 240x240 \\(e\\.g\\. .*00000001_20\\)`));
    expect(e.exitCode).toBe(1);
  });
});

describe('usage errors: one line naming the path, exit code 2', () => {
  let file: string;
  let folder: string;
  beforeAll(() => {
    folder = fs.mkdtempSync(path.join(tmp, 'usage-'));
    file = path.join(folder, 'afile');
    fs.writeFileSync(file, 'x');
  });
  const cases: [string, () => string[], RegExp][] = [
    ['results_dir is a file', () => diffusion(file), /^--results-dir .*afile: is a file, expected a folder/],
    ['results_dir below a file', () => diffusion(path.join(file, 'sub')), /^results_dir .*afile\/sub: cannot create the folder \(a part of the path is a file, not a folder\)$/],
    ['config is a device', () => ['diffusion', '--config', '/dev/null', '--data-dir', data], /^config file \/dev\/null: a character device, expected a file$/],
    ['config is a folder', () => ['diffusion', '--config', `${folder}/`, '--data-dir', data], /^config file .*usage-.*\/: a folder, expected a file$/],
    ['missing config', () => ['diffusion', '--config', path.join(folder, 'c.yaml'), '--data-dir', data], /^config file .*c\.yaml: cannot read \(no such file or folder\)$/],
    ['flag without a value', () => ['diffusion', '--data-dir', data, '--lr'], /^option --lr needs a value \(a number\)/],
    ['flag followed by a flag', () => ['diffusion', '--data-dir', '--lr', '1'], /^option --data-dir needs a value/],
    ['data_dir is a file', () => ['diffusion', '--data-dir', file], /afile: is a file, not a data set root folder \(--data-dir expects/],
    ['data root without training/', () => ['diffusion', '--data-dir', folder, '--results-dir', path.join(folder, 'r')], /usage-.*: no training\/ folder in this data set root/],
    ['checkpoint is a folder', () => ['validate', '--checkpoint', folder, '--data-dir', data], /^--checkpoint .*usage-\w+: is a folder, expected a file$/],
    ['missing resume checkpoint', () => diffusion(path.join(folder, 'r2'), '--resume-checkpoint', path.join(folder, 'model000003.safetensors')), /^--resume-checkpoint .*model000003\.safetensors: no such file/],
    ['prepare input missing', () => ['prepare', '--input', path.join(folder, 'nope'), '--out', folder], /^--input .*nope: no such folder$/],
    ['unknown backend', () => diffusion(folder, '--backend', 'gpu'), /^--backend must be one of auto, wasm, tensorflow, webgpu, cpu, got 'gpu'$/],
  ];
  it.each(cases)('%s', async (_name, args, re) => {
    const e = await failure(args());
    expect(e).toBeInstanceOf(CliError);
    expect(e.message).toMatch(re);
    expect(e.message).not.toContain('\n');
    expect(e.exitCode).toBe(2);
  });

  it('a Node file-system error deeper down becomes one line naming the path (exit 1)', async () => {
    // validate writes --out after evaluating; a file in the way of its folder is only found then.
    const dir = path.join(tmp, 'for-validate');
    await train(diffusion(dir, '--iterations', '1'));
    const e = await failure(['validate', '--checkpoint', latestCheckpoint(dir)!, '--data-dir', data, '--timesteps-per-slice', '1', '--out', path.join(file, 'sub', 'r.json')]);
    expect(e.message).toMatch(/afile\/sub: cannot create the folder \(a part of the path is a file, not a folder\)$/);
    expect(e.exitCode).toBe(1);
  });
});
