// The output folder is locked while a run writes into it. Shards of one split
// share it, and the last one to finish writes the report over all of them;
// tested with two real tumorcast-predict processes.
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { spawn, spawnSync } from 'node:child_process';
import type { ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { FAST, cli, phantomData, refusal } from './test-utils/cli.js';
import type { RunRecord } from '@tumorcast/pipeline/node';

const here = path.dirname(fileURLToPath(import.meta.url));
const repo = path.resolve(here, '../../..');
const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'tc-predict-lock-'));
const children: ChildProcess[] = [];
afterAll(() => {
  for (const c of children) if (c.exitCode === null && c.signalCode === null) c.kill('SIGKILL');
  fs.rmSync(tmp, { recursive: true, force: true });
});

let data: string;
let ids: string[];
beforeAll(async () => ({ data, ids } = await phantomData(tmp, 9)));

/** tumorcast-predict as a child process, from the sources (the loader train's tests use). */
function spawnPredict(args: string[]): { child: ChildProcess; output: () => string; exited: Promise<number | null> } {
  const child = spawn(process.execPath, ['--import', path.join(repo, 'tools', 'test-utils', 'run-ts.mjs'), path.join(here, 'main.ts'), ...args], {
    stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, TUMORCAST_DEBUG: '' },
  });
  children.push(child);
  let text = '';
  child.stdout!.on('data', (d: Buffer) => { text += d.toString(); });
  child.stderr!.on('data', (d: Buffer) => { text += d.toString(); });
  const exited = new Promise<number | null>((resolve) => child.on('close', (code) => resolve(code)));
  return { child, output: () => text, exited };
}

/** A process that runs until killed (its pid stands for a live holder). */
function liveProcess(): ChildProcess {
  const c = spawn(process.execPath, ['-e', 'setInterval(() => {}, 1000)'], { stdio: 'ignore' });
  children.push(c);
  return c;
}

/** A pid that belonged to a process which has exited. */
function deadPid(): number {
  return Number(spawnSync(process.execPath, ['-e', 'process.stdout.write(String(process.pid))'], { encoding: 'utf8' }).stdout);
}

function writeLock(file: string, pid: number, owner = 'tumorcast-predict run'): void {
  fs.mkdirSync(path.dirname(file), { recursive: true });
  fs.writeFileSync(file, JSON.stringify({ pid, hostname: os.hostname(), owner, started: new Date().toISOString(), token: `t${pid}` }));
}

const record = (out: string) => JSON.parse(fs.readFileSync(path.join(out, 'run.json'), 'utf8')) as RunRecord;
const locks = (out: string) => fs.readdirSync(out).filter((f) => f.endsWith('.lock'));

describe('two shards of one run at the same time', () => {
  it('both finish, and one report and run.json cover both shards', async () => {
    const out = path.join(tmp, 'shards');
    const args = (i: number) => ['run', '--data', data, '--relative-change', '0.3', '--shard', `${i}/2`, '--out', out, ...FAST];
    const a = spawnPredict(args(1));
    const b = spawnPredict(args(2));
    const [ca, cb] = await Promise.all([a.exited, b.exited]);
    expect({ code: ca, output: a.output() }).toEqual({ code: 0, output: expect.any(String) });
    expect({ code: cb, output: b.output() }).toEqual({ code: 0, output: expect.any(String) });
    const r = record(out);
    expect(r.finishedShards).toEqual(['1/2', '2/2']);
    expect(r.slices).toEqual(ids);
    expect(r.finished).toEqual(ids);
    const html = fs.readFileSync(path.join(out, 'report.html'), 'utf8');
    for (const id of ids) expect(html).toContain(`id="slice-${id}"`);
    // the shard that finished last wrote it
    expect(`${a.output()}\n${b.output()}`).toMatch(/report: .*report\.html \(2 slice\(s\)\)/);
    expect(locks(out)).toEqual([]);
  }, 600_000);
});

describe('locks of other runs', () => {
  it('a live run holding the folder is refused, naming its pid', async () => {
    const out = path.join(tmp, 'busy');
    const holder = liveProcess();
    writeLock(path.join(out, 'tumorcast-predict.lock'), holder.pid!);
    const e = await refusal(['sample', '--data', data, '--relative-change', '0.3', '--out', out, ...FAST]);
    expect(e.exitCode).toBe(2);
    expect(e.message).toContain(`is in use by tumorcast-predict run, pid ${holder.pid}`);
    expect(e.message).toContain(path.join(out, 'tumorcast-predict.lock'));
    expect(fs.existsSync(path.join(out, 'run.json'))).toBe(false);
    // a shard of some split holds it: a run without --shard, or of another split, would write the same slices
    fs.rmSync(path.join(out, 'tumorcast-predict.lock'));
    writeLock(path.join(out, 'tumorcast-predict.shard-1-of-2.lock'), holder.pid!, 'tumorcast-predict run --shard 1/2');
    for (const shard of [[], ['--shard', '1/3']]) {
      const e2 = await refusal(['sample', '--data', data, '--relative-change', '0.3', '--out', out, ...shard, ...FAST]);
      expect(e2.exitCode).toBe(2);
      expect(e2.message).toMatch(new RegExp(`in use by another run \\(tumorcast-predict run --shard 1/2, pid ${holder.pid}; .*only shards i/n with the same n share a folder`));
    }
    expect(locks(out)).toEqual(['tumorcast-predict.shard-1-of-2.lock']);
    holder.kill();
  }, 300_000);

  it("a dead run's lock is taken over with a notice", async () => {
    const out = path.join(tmp, 'stale');
    const pid = deadPid();
    writeLock(path.join(out, 'tumorcast-predict.lock'), pid);
    const { code, log } = await cli(['sample', '--data', data, '--relative-change', '0.3', '--slices', ids[0]!, '--out', out, ...FAST]);
    expect(code).toBe(0);
    expect(log).toMatch(new RegExp(`notice: .*tumorcast-predict\\.lock was left by tumorcast-predict run, pid ${pid}, .*no longer running; taking the lock over`));
    expect(locks(out)).toEqual([]);
  }, 300_000);

  it('a shard beside a running shard of the same split runs; the report waits for the last shard or `report`', async () => {
    const out = path.join(tmp, 'half');
    const holder = liveProcess();
    writeLock(path.join(out, 'tumorcast-predict.shard-1-of-2.lock'), holder.pid!, 'tumorcast-predict run --shard 1/2');
    const { code, log } = await cli(['run', '--data', data, '--relative-change', '0.3', '--shard', '2/2', '--out', out, ...FAST]);
    expect(code).toBe(0);
    expect(log).toMatch(/shard 2\/2 is done; 1 of the run's 2 slice\(s\) are not finished yet .*the last shard to finish writes the metrics and report\.html .*tumorcast-predict report --out/);
    expect(fs.existsSync(path.join(out, 'report.html'))).toBe(false);
    expect(record(out).finishedShards).toEqual(['2/2']);
    const rep = await cli(['report', '--out', out]);
    expect(rep.code).toBe(0);
    expect(rep.log).toMatch(/note: 1 of 2 slice\(s\) are not finished yet/);
    const html = fs.readFileSync(path.join(out, 'report.html'), 'utf8');
    const done = record(out).finished;
    expect(done).toHaveLength(1);
    expect(html).toContain(`id="slice-${done[0]}"`);
    expect(html).not.toContain(`id="slice-${ids.find((i) => i !== done[0])}"`);
    holder.kill();
  }, 300_000);

  it('a shard with other settings than a running shard of the split is refused, even before any slice is finished', async () => {
    const out = path.join(tmp, 'mixed');
    const args = (shard: string, seed: string) => ['sample', '--data', data, '--relative-change', '0.3', '--shard', shard, '--seed', seed, '--out', out, ...FAST];
    // Shard 1/2 (seed 0) has set the folder up and is still sampling: its run.json, its live lock, no result yet.
    expect((await cli(args('1/2', '0'))).code).toBe(0);
    fs.rmSync(path.join(out, 'slices'), { recursive: true });
    const holder = liveProcess();
    writeLock(path.join(out, 'tumorcast-predict.shard-1-of-2.lock'), holder.pid!, 'tumorcast-predict sample --shard 1/2');
    const e = await refusal(args('2/2', '5'));
    expect(e.exitCode).toBe(2);
    expect(e.message).toMatch(new RegExp(`is being written by another run \\(tumorcast-predict sample --shard 1/2, pid ${holder.pid}\\) with other settings or inputs: --seed \\(0 there, 5 now\\)`));
    expect(record(out).provenance.settings.seed).toBe(0);
    // once that run is gone, a record without results is simply replaced
    holder.kill();
    await new Promise((resolve) => holder.on('exit', resolve));
    // (the dead shard's lock is no obstacle: shard 1/2 takes it over when rerun)
    expect((await cli(args('2/2', '5'))).code).toBe(0);
    expect(record(out).provenance.settings.seed).toBe(5);
  }, 300_000);

  it('report refuses a folder that is not an output folder', async () => {
    const e = await refusal(['report', '--out', path.join(tmp, 'nothing-here')]);
    expect(e.exitCode).toBe(2);
    expect(e.message).toMatch(/has no run\.json: not an output folder/);
  });
});
