import { describe, expect, it } from '@jest/globals';
import { spawn, spawnSync } from 'node:child_process';
import type { ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { FolderLockedError, lockFolder, lockHolderAlive, readLockInfo } from './index.js';
import type { LockInfo } from './index.js';
import { deadPid, scratchRoot, thrown } from './test-utils/scratch.js';

const repo = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../..');
const runTs = path.join(repo, 'tools', 'test-utils', 'run-ts.mjs');
const { fresh } = scratchRoot('tc-cli-lock-');

function writeLock(file: string, info: Partial<LockInfo>): void {
  fs.writeFileSync(file, JSON.stringify({ hostname: os.hostname(), owner: 'someone', started: '2025-01-01T00:00:00.000Z', token: 'x', ...info }));
}

/**
 * A child process that takes the lock of `dir` with the real module, prints
 * LOCKED, and releases it by itself once the file `go` exists (so that the
 * test can block in lockFolder meanwhile).
 */
function holder(dir: string, go: string): { child: ChildProcess; locked: Promise<void>; exited: Promise<number | null> } {
  const script = path.join(fresh(), 'holder.mjs');
  fs.writeFileSync(script, `import fs from 'node:fs';
import { lockFolder } from '@tumorcast/cli';
const lock = lockFolder(${JSON.stringify(dir)}, { name: 'run.lock', owner: 'the holder' });
process.stdout.write('LOCKED\\n');
const t = setInterval(() => { if (fs.existsSync(${JSON.stringify(go)})) { clearInterval(t); lock.release(); } }, 20);
`);
  const child = spawn(process.execPath, ['--import', runTs, script], { stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  const locked = new Promise<void>((resolve, reject) => {
    child.stdout!.on('data', (d: Buffer) => {
      out += d.toString();
      if (out.includes('LOCKED')) resolve();
    });
    child.on('exit', () => reject(new Error(`holder exited before locking: ${out}`)));
  });
  child.stderr!.on('data', (d: Buffer) => { out += d.toString(); });
  const exited = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)));
  return { child, locked, exited };
}

describe('lockFolder', () => {
  it('creates the lock file with this process, refuses a second holder naming the pid, and releases', () => {
    const dir = path.join(fresh(), 'out'); // created by lockFolder
    const lock = lockFolder(dir, { name: 'run.lock', owner: 'test run' });
    expect(lock.file).toBe(path.join(dir, 'run.lock'));
    const info = readLockInfo(lock.file)!;
    expect(info).toMatchObject({ pid: process.pid, hostname: os.hostname(), owner: 'test run' });
    expect(lockHolderAlive(info)).toBe(true);
    const e = thrown(() => lockFolder(dir, { name: 'run.lock' }));
    expect(e).toBeInstanceOf(FolderLockedError);
    expect(e.message).toContain(`is in use by test run, pid ${process.pid}`);
    expect(e.message).toContain(`lock file ${lock.file}`);
    expect((e as FolderLockedError).exitCode).toBe(2);
    lock.release();
    expect(fs.existsSync(lock.file)).toBe(false);
    lock.release(); // idempotent
    // another name in the same folder is another lock
    const a = lockFolder(dir, { name: 'a.lock' });
    const b = lockFolder(dir, { name: 'b.lock' });
    a.release();
    b.release();
  });

  it("takes over the lock of a dead process with a notice; a release never removes another holder's lock", () => {
    const dir = fresh();
    const file = path.join(dir, 'run.lock');
    const pid = deadPid();
    writeLock(file, { pid, token: 'old' });
    const notices: string[] = [];
    const lock = lockFolder(dir, { name: 'run.lock', log: (m) => notices.push(m) });
    expect(lock.tookOver?.pid).toBe(pid);
    expect(notices).toEqual([expect.stringMatching(new RegExp(`^notice: .*run\\.lock was left by someone, pid ${pid}, .*no longer running; taking the lock over$`))]);
    expect(readLockInfo(file)!.pid).toBe(process.pid);
    expect(fs.existsSync(`${file}.takeover`)).toBe(false);
    // someone replaced the file: our release leaves theirs alone
    writeLock(file, { pid: 1, token: 'theirs' });
    lock.release();
    expect(readLockInfo(file)!.token).toBe('theirs');
  });

  it('refuses a lock from another host (its pid cannot be checked) and a file without a lock record', () => {
    const dir = fresh();
    writeLock(path.join(dir, 'run.lock'), { pid: deadPid(), hostname: 'elsewhere.example' });
    expect(thrown(() => lockFolder(dir, { name: 'run.lock' })).message).toMatch(/pid \d+ on host elsewhere\.example.*another host cannot be checked.*remove the lock file/);
    fs.writeFileSync(path.join(dir, 'junk.lock'), 'not json');
    expect(thrown(() => lockFolder(dir, { name: 'junk.lock' })).message).toMatch(/junk\.lock exists but holds no lock record/);
    expect(() => lockFolder(dir, { name: 'a/b' })).toThrow(/'options.name' passed to 'lockFolder' must be a file name/);
    expect(() => lockFolder('', {})).toThrow(/'dir' passed to 'lockFolder'/);
  });

  it('between two processes: the live holder is refused, then waited for', async () => {
    const dir = fresh();
    const go = path.join(fresh(), 'go');
    const h = holder(dir, go);
    await h.locked;
    const e = thrown(() => lockFolder(dir, { name: 'run.lock' }));
    expect(e.message).toContain(`the holder, pid ${h.child.pid}`);
    // waitMs: blocks until the holder releases (it does so by itself once 'go' exists), then takes the lock
    fs.writeFileSync(go, '');
    const lock = lockFolder(dir, { name: 'run.lock', waitMs: 120_000 });
    expect(readLockInfo(lock.file)!.pid).toBe(process.pid);
    lock.release();
    expect(await h.exited).toBe(0);
  }, 60_000);

  it('is released at process exit', () => {
    const dir = fresh();
    const script = path.join(fresh(), 'exit.mjs');
    fs.writeFileSync(script, `import { lockFolder } from '@tumorcast/cli';\nlockFolder(${JSON.stringify(dir)}, { name: 'run.lock' });\nprocess.exitCode = 3;\n`);
    const r = spawnSync(process.execPath, ['--import', runTs, script], { encoding: 'utf8' });
    expect(r.status).toBe(3);
    expect(fs.readdirSync(dir)).toEqual([]);
  }, 60_000);
});
