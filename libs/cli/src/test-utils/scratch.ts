/** Test helpers (not part of the build): scratch folders, thrown errors and dead processes. */
import { afterAll } from '@jest/globals';
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';

/**
 * A scratch folder in the OS temp dir, removed after the test file's tests
 * (call at a test file's top level).
 * @returns the folder, and `fresh()`, which makes a new empty folder inside it on each call.
 */
export function scratchRoot(prefix: string): { root: string; fresh: () => string } {
  const root = fs.mkdtempSync(path.join(os.tmpdir(), prefix));
  afterAll(() => fs.rmSync(root, { recursive: true, force: true }));
  let n = 0;
  return { root, fresh: () => fs.mkdtempSync(path.join(root, `t${n++}-`)) };
}

/** The error `fn` throws (fails the test when it throws nothing). */
export function thrown(fn: () => unknown): Error {
  try {
    fn();
  } catch (e) {
    return e as Error;
  }
  throw new Error('expected an error');
}

/** A pid that belonged to a process which has exited. */
export function deadPid(): number {
  const r = spawnSync(process.execPath, ['-e', 'process.stdout.write(String(process.pid))'], { encoding: 'utf8' });
  return Number(r.stdout);
}
