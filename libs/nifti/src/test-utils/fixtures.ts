/** Test helpers (not part of the build): fixture paths and value comparison. */
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

/** The repository root. */
export const REPO_ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../../..');
/** libs/nifti/test/fixtures. */
export const FIXTURES = path.join(REPO_ROOT, 'libs/nifti/test/fixtures');

/** Parses a fixture JSON file. */
export function fixtureJson<T>(name: string): T {
  return JSON.parse(readFileSync(path.join(FIXTURES, name), 'utf8')) as T;
}

/** A fixture number (non-finite values are stored as strings). */
export function num(v: number | string): number {
  if (typeof v === 'number') return v;
  return v === 'NaN' ? NaN : v === 'Infinity' ? Infinity : v === '-Infinity' ? -Infinity : Number(v);
}

/** Index of the first value that differs (NaN equals NaN, +0 equals -0), or -1. */
export function firstMismatch(got: ArrayLike<number>, want: ArrayLike<number | string>): number {
  if (got.length !== want.length) return Math.min(got.length, want.length);
  for (let i = 0; i < got.length; i++) {
    const a = got[i]!;
    const b = num(want[i]!);
    if (!(a === b || (Number.isNaN(a) && Number.isNaN(b)))) return i;
  }
  return -1;
}

/** Largest absolute difference between two 4x4 matrices. */
export function maxAbsDiff(a: number[][], b: number[][]): number {
  let m = 0;
  for (let i = 0; i < 4; i++) for (let j = 0; j < 4; j++) m = Math.max(m, Math.abs(a[i]![j]! - b[i]![j]!));
  return m;
}
