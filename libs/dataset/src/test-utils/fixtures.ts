/** Test helpers (not part of the build): fixture paths. */
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

/** The repository root. */
export const REPO_ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../../..');
/** libs/dataset/test/fixtures. */
export const FIXTURES = path.join(REPO_ROOT, 'libs/dataset/test/fixtures');
/** A tiny data set in the BraTS slice layout written by nibabel (tools/nifti/make_fixtures.py). */
export const SLICES_ROOT = path.join(FIXTURES, 'slices');

/** Parses a fixture JSON file. */
export function fixtureJson<T>(name: string): T {
  return JSON.parse(readFileSync(path.join(FIXTURES, name), 'utf8')) as T;
}
