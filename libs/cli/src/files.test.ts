import { describe, expect, it } from '@jest/globals';
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { CliError, ExitCode, describeFsError, readTextFileChecked, removeStaleTempFiles, runMain, sha256File, signalExitCode, writeFileAtomic, writeFileAtomicSync } from './index.js';
import { deadPid, scratchRoot, thrown } from './test-utils/scratch.js';

const { fresh } = scratchRoot('tc-cli-files-');

describe('sha256File', () => {
  const scratch = scratchRoot('tumorcast-sha-');
  it('matches the FIPS 180-2 vectors and sha256sum across its 1 MiB reads', () => {
    const dir = scratch.fresh();
    const abc = path.join(dir, 'abc');
    fs.writeFileSync(abc, 'abc');
    expect(sha256File(abc)).toBe('ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad');
    const empty = path.join(dir, 'empty');
    fs.writeFileSync(empty, '');
    expect(sha256File(empty)).toBe('e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855');
    // 2.5 MiB: three reads, the last partial; the reference is coreutils' sha256sum
    const big = path.join(dir, 'big');
    fs.writeFileSync(big, Buffer.from(Array.from({ length: 2.5 * 2 ** 20 }, (_, i) => (i * 31 + (i >> 12)) & 255)));
    const sum = spawnSync('sha256sum', [big], { encoding: 'utf8' });
    expect(sum.status).toBe(0);
    expect(sha256File(big)).toBe(sum.stdout.split(' ')[0]);
    expect(() => sha256File(path.join(dir, 'missing'))).toThrow(/ENOENT/);
  });
});

describe('readTextFileChecked', () => {
  it('reads a file, dropping a byte-order mark; exactly maxBytes is allowed', () => {
    const f = path.join(fresh(), 'c.yaml');
    fs.writeFileSync(f, '\ufefflr: 1\n');
    expect(readTextFileChecked(f)).toBe('lr: 1\n');
    expect(readTextFileChecked(f, { maxBytes: fs.statSync(f).size })).toBe('lr: 1\n');
  });

  it('refuses a file over maxBytes, naming the file and both sizes', () => {
    const f = path.join(fresh(), 'big.csv');
    fs.writeFileSync(f, 'x'.repeat(2049));
    const e = thrown(() => readTextFileChecked(f, { maxBytes: 2048, what: 'size series CSV' }));
    expect(e).toBeInstanceOf(CliError);
    expect(e.message).toBe(`size series CSV ${f}: 2.0 KiB, more than the 2.0 KiB a size series CSV may have; is this the right file?`);
    expect((e as CliError).exitCode).toBe(ExitCode.usage);
  });

  it('refuses a missing file, a folder and a broken path with a one-line message naming the path', () => {
    const dir = fresh();
    const cases: [string, RegExp][] = [
      [path.join(dir, 'nope.yaml'), /^config file .*nope\.yaml: cannot read \(no such file or folder\)$/],
      [dir, /^config file .*: a folder, expected a file$/],
    ];
    fs.writeFileSync(path.join(dir, 'plain'), 'x');
    cases.push([path.join(dir, 'plain', 'c.yaml'), /^config file .*plain\/c\.yaml: cannot read \(a part of the path is a file, not a folder\)$/]);
    for (const [p, re] of cases) expect(thrown(() => readTextFileChecked(p, { what: 'config file' })).message).toMatch(re);
  });

  it('refuses a character device (e.g. /dev/zero, which never ends) without reading it', () => {
    if (!fs.existsSync('/dev/zero')) return; // no device files on this platform
    const e = thrown(() => readTextFileChecked('/dev/zero', { what: 'config file' }));
    expect(e.message).toBe('config file /dev/zero: a character device, expected a file');
  });

  it('refuses a named pipe without blocking on it', () => {
    const fifo = path.join(fresh(), 'pipe');
    if (spawnSync('mkfifo', [fifo]).status !== 0) return; // no mkfifo on this platform
    expect(thrown(() => readTextFileChecked(fifo)).message).toBe(`file ${fifo}: a named pipe, expected a file`);
  });

  it('rejects an invalid maxBytes', () => {
    expect(() => readTextFileChecked('x', { maxBytes: -1 })).toThrow(/'maxBytes' passed to 'readTextFileChecked' must be a non-negative integer/);
  });
});

describe('removeStaleTempFiles', () => {
  it("removes temporary files of dead processes only, and nothing else", async () => {
    const dir = fresh();
    const dead = deadPid();
    const stale = [`.config.json.tmp-${dead}-3`, `model000010.safetensors.tmp-${dead}-1712345678901`];
    const keep = [`.loss.svg.tmp-${process.pid}-1`, 'model000010.safetensors', 'log.csv', 'notes.tmp-x'];
    for (const f of [...stale, ...keep]) fs.writeFileSync(path.join(dir, f), 'x');
    fs.mkdirSync(path.join(dir, `sub.tmp-${dead}-1`));
    const removed = removeStaleTempFiles(dir).map((p) => path.basename(p)).sort();
    expect(removed).toEqual([...stale].sort());
    expect(fs.readdirSync(dir).sort()).toEqual([...keep, `sub.tmp-${dead}-1`].sort());
    expect(removeStaleTempFiles(path.join(dir, 'missing'))).toEqual([]);
  });

  it('atomic writes leave no temporary file behind', async () => {
    const dir = fresh();
    await writeFileAtomic(path.join(dir, 'a.txt'), 'hello');
    expect(fs.readdirSync(dir)).toEqual(['a.txt']);
  });

  it('creates the folder unless told not to; a failed write leaves nothing', async () => {
    const dir = fresh();
    await writeFileAtomic(path.join(dir, 'new/sub/a.bin'), new Uint8Array([1, 2, 3]));
    expect(Array.from(fs.readFileSync(path.join(dir, 'new/sub/a.bin')))).toEqual([1, 2, 3]);
    await expect(writeFileAtomic(path.join(dir, 'missing/a.txt'), 'x', { createFolder: false })).rejects.toThrow(/ENOENT/);
    expect(() => writeFileAtomicSync(path.join(dir, 'missing/a.txt'), 'x', { createFolder: false })).toThrow(/ENOENT/);
    // The target is a folder: the rename fails and the temporary file is removed.
    fs.mkdirSync(path.join(dir, 'taken'));
    await expect(writeFileAtomic(path.join(dir, 'taken'), 'x')).rejects.toThrow();
    expect(fs.readdirSync(dir).sort()).toEqual(['new', 'taken']);
  });

  it('rejects bad arguments, naming them', async () => {
    await expect(writeFileAtomic('', 'x')).rejects.toThrow(/'target' passed to 'writeFileAtomic' must be a non-empty path/);
    expect(() => writeFileAtomicSync('/tmp/x', 3 as unknown as string)).toThrow(/'data' passed to 'writeFileAtomicSync' must be a string or a Uint8Array/);
    await expect(writeFileAtomic('/tmp/x', 'x', { createFolder: 'no' as unknown as boolean })).rejects.toThrow(/'options.createFolder'/);
  });

  it('the ./files subpath holds the same functions as the main entry', async () => {
    const sub = await import('@tumorcast/cli/files');
    expect(sub.writeFileAtomic).toBe(writeFileAtomic);
    expect(sub.removeStaleTempFiles).toBe(removeStaleTempFiles);
  });
});

describe('file-system errors in one line', () => {
  it('names the path of ENOENT, EISDIR-like and EEXIST errors in words', () => {
    const dir = fresh();
    fs.writeFileSync(path.join(dir, 'afile'), 'x');
    const mk = thrown(() => fs.mkdirSync(path.join(dir, 'afile')));
    expect(describeFsError(mk)).toBe(`${path.join(dir, 'afile')}: cannot create the folder (a file of that name is in the way)`);
    const open = thrown(() => fs.readFileSync(path.join(dir, 'missing.json')));
    expect(describeFsError(open)).toBe(`${path.join(dir, 'missing.json')}: cannot open (no such file or folder)`);
    const ren = thrown(() => fs.renameSync(path.join(dir, 'afile'), path.join(dir, 'no', 'where')));
    expect(describeFsError(ren)).toBe(`${path.join(dir, 'no', 'where')}: cannot move into place (no such file or folder)`);
    expect(describeFsError(new Error('plain'))).toBeUndefined();
    expect(describeFsError('text')).toBeUndefined();
  });

  it('runMain prints them as one line and exits 1', async () => {
    const lines: string[] = [];
    const write = process.stderr.write.bind(process.stderr);
    const before = process.exitCode;
    (process.stderr as { write: unknown }).write = (s: string) => (lines.push(String(s)), true);
    let code: typeof process.exitCode;
    try {
      await runMain(async () => {
        fs.mkdirSync(path.join(fresh(), 'x', 'y'), { recursive: false });
      }, 'tool');
      code = process.exitCode;
    } finally {
      (process.stderr as { write: unknown }).write = write;
      process.exitCode = before;
    }
    expect(code).toBe(1);
    expect(lines[0]).toMatch(/^tool: error: .*\/x\/y: cannot create the folder \(no such file or folder\)\n$/);
  });

  it('signal exit codes are 128 + the signal number', () => {
    expect(signalExitCode('SIGINT')).toBe(130);
    expect(signalExitCode('SIGTERM')).toBe(143);
  });
});
