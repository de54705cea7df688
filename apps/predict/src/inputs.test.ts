// Bad numbers and bad usage: NaN/Inf inputs, overflowing or vanished growth
// series, relative changes below -1, empty labels, networks that produce NaN,
// and every usage error (exit code 2, in the CLI's words).
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { loadSafetensors, saveSafetensors } from '@tumorcast/nn';
import type { SafetensorsInput } from '@tumorcast/nn';
import { loadNifti, saveNifti } from '@tumorcast/nifti/node';
import { FAST, cli, phantomData, refusal } from './test-utils/cli.js';
import { builtinModelPaths } from './models.js';
import type { SliceResult } from '@tumorcast/pipeline/node';

const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'tc-predict-inputs-'));
afterAll(() => fs.rmSync(tmp, { recursive: true, force: true }));

let data: string;
let ids: string[];
beforeAll(async () => ({ data, ids } = await phantomData(tmp, 4)));

/** A copy of the phantom data set to break. */
function copyData(name: string): string {
  const dir = path.join(tmp, name);
  fs.cpSync(data, dir, { recursive: true });
  return dir;
}

function fileOf(root: string, id: string, part: string): string {
  const dir = path.join(root, 'testing', id);
  return path.join(dir, fs.readdirSync(dir).find((f) => f.includes(`_${part}_`))!);
}

/** Rewrites a NIfTI file with `edit` applied to a float32 copy of its values. */
async function editNifti(file: string, edit: (v: Float32Array) => void): Promise<void> {
  const img = await loadNifti(file);
  const v = Float32Array.from(img.data as ArrayLike<number>);
  edit(v);
  await saveNifti(file, { shape: img.shape, data: v, affine: img.affine, spacing: img.spacing });
}

function csv(name: string, text: string): string {
  const f = path.join(tmp, name);
  fs.writeFileSync(f, text);
  return f;
}

describe('NaN and infinite inputs', () => {
  it('a NaN voxel in a scan is refused before sampling, naming the file and voxel', async () => {
    const root = copyData('nan');
    const t2f = fileOf(root, ids[1]!, 't2f');
    await editNifti(t2f, (v) => { v[96 * 40 + 30] = Number.NaN; });
    const out = path.join(tmp, 'nan-out');
    const e = await refusal(['sample', '--data', root, '--relative-change', '0.3', '--out', out, ...FAST]);
    expect(e.exitCode).toBe(1);
    expect(e.message).toBe(`slice ${ids[1]}: ${t2f} holds NaN at x 30, y 40; every voxel must be a finite number: fix or leave out this slice (--slices)`);
    expect(fs.existsSync(out)).toBe(false);
  }, 120_000);

  it('an infinite voxel in a label is refused, naming the label file', async () => {
    const root = copyData('inf-label');
    const label = path.join(root, 'test_labels', `${ids[0]}-label.nii.gz`);
    await editNifti(label, (v) => { v[5] = Number.POSITIVE_INFINITY; });
    const e = await refusal(['sample', '--data', root, '--relative-change', '0.3', '--out', path.join(tmp, 'inf-out'), ...FAST]);
    expect(e.exitCode).toBe(1);
    expect(e.message).toBe(`slice ${ids[0]}: label ${label} holds Infinity at voxel 5; every voxel must be a finite number`);
  }, 120_000);

  it('networks that produce NaN fail the slice instead of writing NaN', async () => {
    // The shipped regressor with every weight NaN: its burden of the generated scan is NaN.
    // (A NaN denoiser is no test: the sampler clips x0 to [-1, 1] with min/max, which drop NaN.)
    const src = await loadSafetensors(builtinModelPaths().regressor);
    const tensors: Record<string, SafetensorsInput> = {};
    for (const [k, t] of src.tensors) tensors[k] = { shape: t.shape, data: t.data instanceof Float32Array ? new Float32Array(t.data.length).fill(Number.NaN) : t.data };
    const nanModel = path.join(tmp, 'nan-regressor.safetensors');
    await saveSafetensors(nanModel, tensors, { metadata: src.metadata });
    const out = path.join(tmp, 'nan-net');
    const e = await refusal(['sample', '--data', data, '--relative-change', '0.3', '--slices', ids[0]!, '--regressor', nanModel, '--out', out, ...FAST]);
    expect(e.exitCode).toBe(1);
    expect(e.message).toMatch(new RegExp(`^slice ${ids[0]}: the (generated follow-up scan|regressor's burden of the generated scan \\(NaN\\)) is not finite \\(NaN or infinite\\), so nothing was written for this slice`));
    expect(fs.existsSync(path.join(out, 'slices', ids[0]!))).toBe(false);
  }, 300_000);
});

describe('growth series that give no meaningful relative change', () => {
  it('sizes near the largest double: fit-growth refuses instead of printing NaN and writing null', async () => {
    const f = csv('huge.csv', 'patient_id,day,size\na,0,1e307\na,30,1.5e307\na,60,3e307\na,90,5e307\na,120,8e307\na,150,1.2e308\n');
    const out = path.join(tmp, 'huge-out');
    const e = await refusal(['fit-growth', '--series', f, '--followup-day', '200', '--rt-end-day', '20', '--bootstrap', '4', '--out', out]);
    expect(e.exitCode).toBe(1);
    expect(e.message).toMatch(/huge\.csv: series 'a': the predicted sizes or relative change are not finite numbers \(the largest size in the series is 1\.200e\+308.*give the sizes in a larger unit/);
    expect(fs.existsSync(path.join(out, 'targets.json'))).toBe(false);
  });

  it('a tumour that has vanished by the baseline: refused, naming the series', async () => {
    const f = csv('zeros.csv', 'patient_id,day,size\na,0,10\na,30,0\na,60,0\na,90,0\na,120,0\na,150,0\nb,0,10\nb,30,11\nb,60,12\nb,90,14\nb,120,15\nb,150,17\n');
    const e = await refusal(['fit-growth', '--series', f, '--followup-day', '200', '--rt-end-day', '20', '--bootstrap', '4', '--out', path.join(tmp, 'zeros-out')]);
    expect(e.exitCode).toBe(1);
    expect(e.message).toMatch(/zeros\.csv: series 'a': the tumour has vanished by the baseline day 150 \(measured size 0, fitted size .*largest measured size 10\): a relative change from a size of \(almost\) zero means nothing/);
    // the same series given to run: refused before anything is written
    const out = path.join(tmp, 'zeros-run');
    const e2 = await refusal(['run', '--data', data, '--series', f, '--followup-day', '200', '--rt-end-day', '20', '--bootstrap', '4', '--out', out, ...FAST]);
    expect(e2.message).toMatch(/series 'a': the tumour has vanished/);
    expect(fs.existsSync(path.join(out, 'run.json'))).toBe(false);
  });

  it('an unknown column of the size CSV is named with the file and the expected columns', async () => {
    const f = csv('typo.csv', 'patient_id,day,size,rt_end\na,0,10,40\na,30,11,40\n');
    const e = await refusal(['fit-growth', '--series', f, '--followup-day', '200', '--out', path.join(tmp, 'typo-out')]);
    expect(e.exitCode).toBe(1);
    expect(e.message).toBe(`${f} has unknown column(s) 'rt_end'; the columns are patient_id, day, size and optionally slice_id, rt_end_day, rt_start_day: rename or remove the column(s)`);
  });
});

describe('relative changes and empty labels', () => {
  it('a targets file with a relative change below -1 or not finite is refused, naming the slice and the file', async () => {
    const t = csv('below.json', JSON.stringify({ [ids[0]!]: { relativeChange: 0.1 }, [ids[1]!]: { relativeChange: -2 } }));
    const e = await refusal(['sample', '--data', data, '--targets', t, '--out', path.join(tmp, 'below-out'), ...FAST]);
    expect(e.exitCode).toBe(1);
    expect(e.message).toBe(`targets file ${t}: the relative change of slice ${ids[1]} is -2: it must be >= -1 (-1 is a vanished tumour)`);
    const inf = csv('inf.json', `{"${ids[0]}": {"relativeChange": 1e999}}`);
    expect((await refusal(['sample', '--data', data, '--targets', inf, '--out', path.join(tmp, 'inf-t'), ...FAST])).message)
      .toBe(`targets file ${inf}: slice ${ids[0]} needs a finite number "relativeChange", got null`);
    const arr = csv('array.json', '[1, 2]');
    expect((await refusal(['sample', '--data', data, '--targets', arr, '--out', path.join(tmp, 'arr-t'), ...FAST])).message).toMatch(/must be a JSON object/);
  });

  it('an empty label: the run completes, warning in the log, result.json and the report', async () => {
    const root = copyData('empty-label');
    await editNifti(path.join(root, 'test_labels', `${ids[0]}-label.nii.gz`), (v) => v.fill(0));
    const out = path.join(tmp, 'empty-out');
    const { code, log } = await cli(['run', '--data', root, '--relative-change', '0.3', '--slices', ids[0]!, '--out', out, ...FAST]);
    expect(code).toBe(0);
    expect(log).toContain(`warning: slice ${ids[0]}: the baseline burden r0 is 0 (its label is empty), so the target burden r0 (1 + d) is 0 whatever the relative change (d = 0.3)`);
    const r = JSON.parse(fs.readFileSync(path.join(out, 'slices', ids[0]!, 'result.json'), 'utf8')) as SliceResult;
    expect(r.baselineBurden).toBe(0);
    expect(r.targetBurden).toBe(0);
    expect(r.warnings).toEqual([expect.stringContaining('the baseline burden r0 is 0 (its label is empty)')]);
    expect(fs.readFileSync(path.join(out, 'report.html'), 'utf8')).toContain('the baseline burden r0 is 0 (its label is empty)');
  }, 300_000);
});

describe('usage errors exit with code 2 and name the flag', () => {
  const run = (...extra: string[]) => ['sample', '--data', data, '--relative-change', '0.3', '--out', path.join(tmp, 'usage'), ...FAST, ...extra];
  const big = path.join(tmp, 'big.json');
  const cases: [string, () => string[], RegExp][] = [
    ['noise level above the model\'s timesteps', () => run('--noise-level', '5000'), /^--noise-level 5000 is more than the 1000 timesteps of the diffusion model .*: use at most 1000$/],
    ['respacing syntax', () => run('--respacing', 'fast'), /^--respacing must be '' \(no respacing\), 'ddimN' .* got 'fast'$/],
    ['respacing that does not fit the model', () => run('--respacing', 'ddim300'), /^--respacing 'ddim300' does not fit the 1000 timesteps of the diffusion model .*\(cannot create exactly 300 steps/],
    ['initial noise of 1', () => run('--initial-noise-std', '1'), /^--initial-noise-std must be < 1/],
    ['baseline burden other than label or regressor', () => run('--baseline-burden', 'mask'), /^--baseline-burden must be 'label' \(.*\) or 'regressor' \(.*\), got 'mask'$/],
    ['cohort: baseline burden other than label or regressor', () => ['cohort', '--out', path.join(tmp, 'usage-cohort'), '--baseline-burden', 'segmenter'], /^--baseline-burden must be 'label' .* got 'segmenter'$/],
    ['guidance other than regressor or segmenter', () => run('--guidance', 'flair'), /^--guidance must be 'regressor' \(.*\) or 'segmenter' \(.*\), got 'flair'$/],
    ['segmenter guidance without a learned segmenter', () => run('--guidance', 'segmenter', '--segmenter', 'flair'), /^--guidance 'segmenter' needs a learned segmenter: give the segmenter's weights \(--segmenter\), or guide with 'regressor'$/],
    ['gradient temperature of 0', () => run('--guidance', 'segmenter', '--gradient-temperature', '0'), /^--gradient-temperature must be a number > 0 \(1: the segmenter's true gradient\), got 0$/],
    ['gradient temperature that is no number', () => run('--gradient-temperature', 'warm'), /'gradient_temperature' must be a number, got "warm"$/],
    ['gradient temperature other than 1 with the regressor\'s guidance', () => run('--gradient-temperature', '2'), /^--gradient-temperature 2 applies to --guidance segmenter only: guide with --guidance segmenter, or leave --gradient-temperature at 1$/],
    ['cohort: negative gradient temperature', () => ['cohort', '--out', path.join(tmp, 'usage-cohort'), '--guidance', 'segmenter', '--gradient-temperature', '-2'], /^--gradient-temperature must be a number > 0 .*got -2$/],
    ['negative gradient margin', () => run('--guidance', 'segmenter', '--gradient-margin', '-1'), /^--gradient-margin must be an integer >= 0 \(pixels of the networks' grid; leave it out for the gradient everywhere\), got -1$/],
    ['gradient margin that is no integer', () => run('--guidance', 'segmenter', '--gradient-margin', '2.5'), /'gradient_margin' must be an integer/],
    ['gradient margin with the regressor\'s guidance', () => run('--gradient-margin', '4'), /^--gradient-margin 4 applies to --guidance segmenter only: guide with --guidance segmenter, or leave --gradient-margin out$/],
    ['cohort: negative gradient margin', () => ['cohort', '--out', path.join(tmp, 'usage-cohort'), '--guidance', 'segmenter', '--gradient-margin', '-3'], /^--gradient-margin must be an integer >= 0 .*got -3$/],
    ['a seed beyond safe integers', () => run('--seed', '1e20'), /'seed' must be <= 9007199254740991/],
    ['unknown backend', () => run('--backend', 'gpu'), /^--backend must be one of auto, wasm, tensorflow, webgpu, cpu, got 'gpu'$/],
    ['bad shard', () => run('--shard', '3/2'), /--shard must be i\/n/],
    ['missing data folder', () => ['sample', '--data', path.join(tmp, 'none'), '--relative-change', '0.3', '--out', path.join(tmp, 'usage')], /data folder .*none does not exist/],
    ['missing model file', () => run('--regressor', path.join(tmp, 'nope.safetensors')), /regressor weights .*nope\.safetensors do not exist \(--regressor\)/],
    ['missing targets file', () => ['sample', '--data', data, '--targets', path.join(tmp, 'nope.json'), '--out', path.join(tmp, 'usage')], /targets file .*nope\.json: cannot read \(no such file or folder\)/],
    ['targets file is a folder', () => ['sample', '--data', data, '--targets', tmp, '--out', path.join(tmp, 'usage')], /targets file .*: a folder, expected a file/],
    ['targets file is a device', () => ['sample', '--data', data, '--targets', '/dev/zero', '--out', path.join(tmp, 'usage')], /targets file \/dev\/zero: a character device, expected a file/],
    ['targets file too big', () => {
      fs.writeFileSync(big, '');
      fs.truncateSync(big, 65 * 1024 * 1024); // sparse: no 65 MiB written
      return ['sample', '--data', data, '--targets', big, '--out', path.join(tmp, 'usage')];
    }, /targets file .*big\.json: 65\.0 MiB, more than the 64\.0 MiB/],
    ['missing size CSV', () => ['fit-growth', '--series', path.join(tmp, 'nope.csv'), '--followup-day', '9', '--out', path.join(tmp, 'usage')], /size series CSV .*nope\.csv: cannot read/],
    ['evaluate of a folder that is no run', () => ['evaluate', '--run', tmp, '--truth', tmp], /--run .*: not a tumorcast-predict output folder/],
    ['missing --truth folder', () => run('--truth', path.join(tmp, 'no-truth')), /--truth folder .*no-truth does not exist/],
    ['fit-growth seed beyond safe integers', () => ['fit-growth', '--series', path.join(tmp, 'x.csv'), '--followup-day', '9', '--seed', '1e17', '--out', path.join(tmp, 'usage')], /'seed' must be <= 9007199254740991/],
  ];
  it.each(cases)('%s', async (_name, argv, re) => {
    const e = await refusal(argv());
    expect(e.message).toMatch(re);
    expect(e.message).not.toMatch(/passed to '/);
    expect(e.exitCode).toBe(2);
  }, 120_000);
});
