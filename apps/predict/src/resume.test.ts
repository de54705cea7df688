// A rerun into an existing --out resumes only when everything that determines
// the outputs matches: settings, network files, targets and input files.
// Anything else is refused (exit code 2) naming what differs, unless
// --overwrite, which replaces tumorcast-predict's outputs and nothing else.
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { FAST, cli, phantomData, refusal } from './test-utils/cli.js';
import { builtinModelPaths } from './models.js';
import type { SliceResult } from '@tumorcast/pipeline/node';
import type { RunRecord } from '@tumorcast/pipeline/node';

const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'tc-predict-resume-'));
afterAll(() => fs.rmSync(tmp, { recursive: true, force: true }));

let data: string;
let ids: string[];
beforeAll(async () => ({ data, ids } = await phantomData(tmp, 5)));

const mtimes = (out: string) => ids.map((id) => fs.statSync(path.join(out, 'slices', id, 'result.json')).mtimeMs);
const result = (out: string, id: string) => JSON.parse(fs.readFileSync(path.join(out, 'slices', id, 'result.json'), 'utf8')) as SliceResult;
const record = (out: string) => JSON.parse(fs.readFileSync(path.join(out, 'run.json'), 'utf8')) as RunRecord;

describe('resuming a run into the same --out', () => {
  const out = () => path.join(tmp, 'pm');
  const base = () => ['probability-map', '--data', data, '--relative-change', '0.3', '--out', out(), ...FAST];

  it('records the provenance: settings, network and input hashes, relative change', async () => {
    expect((await cli(base())).code).toBe(0);
    const r = record(out());
    expect(r.format).toBe(2);
    expect(r.provenance.settings).toMatchObject({ seed: 0, samples: 1, noiseLevel: 20, respacing: 'ddim50' });
    expect(r.provenance.targets).toEqual({ kind: 'constant', relativeChange: 0.3 });
    expect(r.provenance.models['diffusion']).toMatch(/^[0-9a-f]{64}$/);
    expect(r.slices).toEqual(ids);
    expect(r.finished).toEqual(ids);
    const inputs = result(out(), ids[0]!).inputs!;
    expect(inputs.relativeChange).toBe(0.3);
    expect(Object.keys(inputs.files).sort()).toEqual(['label', 't1c', 't1n', 't2f', 't2w']);
    // no lock left behind
    expect(fs.readdirSync(out()).filter((f) => f.endsWith('.lock'))).toEqual([]);
  }, 300_000);

  it('skips every finished slice when everything matches', async () => {
    const before = mtimes(out());
    const { code, log } = await cli(base());
    expect(code).toBe(0);
    expect(log).toMatch(/2 slice\(s\) already done, 0 to go/);
    expect(mtimes(out())).toEqual(before);
  }, 300_000);

  const changed: [string, string[], RegExp][] = [
    ['another relative change', ['--relative-change', '0.2'], /--relative-change \(0\.3 there, 0\.2 now\)/],
    ['another seed', ['--seed', '3'], /--seed \(0 there, 3 now\)/],
    ['more runs per map', ['--samples', '2'], /--samples \(1 there, 2 now\)/],
    ['another command (sample writes no maps)', ['--samples', '1'], /the command \(sample writes no probability maps\) \(true there, false now\)/],
    ['another noise level', ['--noise-level', '40'], /--noise-level \(20 there, 40 now\)/],
    ['another baseline burden', ['--baseline-burden', 'regressor'], /--baseline-burden \("label" there, "regressor" now\)/],
  ];
  it.each(changed)('refuses %s with exit code 2, naming it, and leaves the folder as it was', async (name, extra, re) => {
    const argv = name.startsWith('another command') ? ['sample', ...base().slice(1), ...extra] : [...base(), ...extra];
    const before = mtimes(out());
    const runJson = fs.readFileSync(path.join(out(), 'run.json'), 'utf8');
    const e = await refusal(argv);
    expect(e.exitCode).toBe(2);
    expect(e.message).toMatch(re);
    expect(e.message).toContain(`--out ${out()} holds results made with other settings or inputs`);
    expect(e.message).toMatch(/--overwrite .* or give another --out/);
    expect(mtimes(out())).toEqual(before);
    expect(fs.readFileSync(path.join(out(), 'run.json'), 'utf8')).toBe(runJson);
  }, 300_000);

  it('compares network files by content: a copy resumes, a changed byte is refused', async () => {
    const copy = path.join(tmp, 'diffusion-copy.safetensors');
    fs.copyFileSync(builtinModelPaths().diffusion, copy);
    expect((await cli([...base(), '--diffusion', copy])).log).toMatch(/2 slice\(s\) already done/);
    const bytes = fs.readFileSync(copy);
    bytes[bytes.length - 1] = bytes[bytes.length - 1]! ^ 1;
    fs.writeFileSync(copy, bytes);
    const e = await refusal([...base(), '--diffusion', copy]);
    expect(e.exitCode).toBe(2);
    expect(e.message).toMatch(/--diffusion \(file content\) \(sha256 [0-9a-f]{12}… there, sha256 [0-9a-f]{12}… now\)/);
  }, 300_000);

  it('compares targets files by content and each slice by its relative change', async () => {
    const t = path.join(tmp, 'targets.json');
    fs.writeFileSync(t, JSON.stringify(Object.fromEntries(ids.map((id) => [id, { relativeChange: 0.3 }]))));
    const dir = path.join(tmp, 'targets-run');
    const argv = ['probability-map', '--data', data, '--targets', t, '--out', dir, ...FAST];
    expect((await cli(argv)).code).toBe(0);
    fs.writeFileSync(t, JSON.stringify({ [ids[0]!]: { relativeChange: 0.3 }, [ids[1]!]: { relativeChange: 0.5 } }));
    const e = await refusal(argv);
    expect(e.message).toMatch(/the --targets\/--series file \(content\)/);
    expect(e.message).toContain(`slice ${ids[1]}: relative change (0.3 there, 0.5 now)`);
    expect(e.message).not.toContain(`slice ${ids[0]}: relative change`);
  }, 300_000);

  it('--overwrite replaces results of other settings, and only tumorcast-predict files', async () => {
    fs.writeFileSync(path.join(out(), 'notes.txt'), 'mine');
    const { code, log } = await cli([...base(), '--seed', '3', '--overwrite']);
    expect(code).toBe(0);
    expect(log).toMatch(/--overwrite: removed the earlier results/);
    expect(record(out()).provenance.settings.seed).toBe(3);
    expect(record(out()).finished).toEqual(ids);
    expect(fs.readFileSync(path.join(out(), 'notes.txt'), 'utf8')).toBe('mine');
    // and now the seed-3 results resume
    expect((await cli([...base(), '--seed', '3'])).log).toMatch(/2 slice\(s\) already done/);
  }, 300_000);
});

describe('--baseline-burden regressor', () => {
  it("reaches the prediction: r0 is the regressor's reading (not the label's), recorded as its source and in run.json", async () => {
    const dir = path.join(tmp, 'regressor-r0');
    expect((await cli(['sample', '--data', data, '--relative-change', '0.3', '--out', dir, ...FAST, '--baseline-burden', 'regressor'])).code).toBe(0);
    expect(record(dir).provenance.settings.baselineBurden).toBe('regressor');
    for (const id of ids) {
      const r = result(dir, id);
      const label = result(path.join(tmp, 'pm'), id);
      expect(label.baselineBurdenSource).toBe('label');
      expect(r.baselineBurdenSource).toBe('regressor');
      expect(r.baselineBurden).toBeGreaterThanOrEqual(0);
      expect(r.baselineBurden).not.toBe(label.baselineBurden);
      expect(r.targetBurden).toBeCloseTo(r.baselineBurden * 1.3, 12);
    }
  }, 300_000);
});

describe('a changed input slice', () => {
  it('is refused naming the slice and the file; --overwrite redoes that slice only', async () => {
    const copy = path.join(tmp, 'phantom-copy');
    fs.cpSync(data, copy, { recursive: true });
    const out = path.join(tmp, 'changed-input');
    const argv = ['sample', '--data', copy, '--relative-change', '0.1', '--out', out, ...FAST];
    expect((await cli(argv)).code).toBe(0);
    const kept = fs.statSync(path.join(out, 'slices', ids[0]!, 'result.json')).mtimeMs;
    // Another (valid) t2f file for the second slice: the first slice's t2f, same shape.
    const folder = (id: string) => path.join(copy, 'testing', id);
    const t2f = (id: string) => path.join(folder(id), fs.readdirSync(folder(id)).find((f) => f.includes('_t2f_'))!);
    fs.copyFileSync(t2f(ids[0]!), t2f(ids[1]!));
    const e = await refusal(argv);
    expect(e.exitCode).toBe(2);
    expect(e.message).toMatch(new RegExp(`slice ${ids[1]}: t2f file \\(sha256 [0-9a-f]{12}… there, sha256 [0-9a-f]{12}… now\\)`));
    expect(e.message).not.toContain(`slice ${ids[0]}:`);
    const { code, log } = await cli([...argv, '--overwrite']);
    expect(code).toBe(0);
    expect(log).toContain(`--overwrite: removed the results of slice(s) ${ids[1]} (other inputs)`);
    expect(log).toMatch(/1 slice\(s\) already done, 1 to go/);
    expect(fs.statSync(path.join(out, 'slices', ids[0]!, 'result.json')).mtimeMs).toBe(kept);
  }, 300_000);
});

describe('results without a provenance record', () => {
  it('are refused: an earlier tumorcast-predict wrote them', async () => {
    const out = path.join(tmp, 'legacy');
    fs.mkdirSync(path.join(out, 'slices', ids[0]!), { recursive: true });
    fs.writeFileSync(path.join(out, 'run.json'), JSON.stringify({ data, settings: {}, shard: null }));
    fs.writeFileSync(path.join(out, 'slices', ids[0]!, 'result.json'), JSON.stringify({ id: ids[0], relativeChange: 0.1 }));
    const e = await refusal(['sample', '--data', data, '--relative-change', '0.1', '--out', out, ...FAST]);
    expect(e.exitCode).toBe(2);
    expect(e.message).toMatch(/written by an earlier tumorcast-predict that recorded no provenance/);
    expect(e.message).toContain(`slice ${ids[0]}: its result records no inputs`);
    // results without any run.json
    fs.rmSync(path.join(out, 'run.json'));
    expect((await refusal(['sample', '--data', data, '--relative-change', '0.1', '--out', out, ...FAST])).message).toMatch(/holds 1 finished slice\(s\) but no run\.json/);
  }, 300_000);

  it('a run.json without finished slices is simply replaced', async () => {
    const out = path.join(tmp, 'no-results');
    fs.mkdirSync(out, { recursive: true });
    fs.writeFileSync(path.join(out, 'run.json'), JSON.stringify({ data: 'elsewhere' }));
    expect((await cli(['sample', '--data', data, '--relative-change', '0.1', '--slices', ids[0]!, '--out', out, ...FAST])).code).toBe(0);
    expect(record(out).data).toBe(data);
  }, 300_000);
});
