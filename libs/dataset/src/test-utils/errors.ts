/** Test helpers (not part of the build): checking the DatasetError a promise rejects with. */
import { expect } from '@jest/globals';
import { DatasetError } from '../errors.js';

/** Expects `p` to reject with a DatasetError naming `file`, whose problem matches `problem`. */
export async function expectDatasetError(p: Promise<unknown>, file: string, problem: RegExp): Promise<void> {
  let err: unknown;
  try {
    await p;
  } catch (e) {
    err = e;
  }
  expect(err).toBeInstanceOf(DatasetError);
  expect((err as DatasetError).file).toBe(file);
  expect((err as DatasetError).problem).toMatch(problem);
}
