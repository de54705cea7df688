// Test helper shared by the packages whose tests also read the real BraTS
// sample slices. The sample lives outside the repository (../shared beside the
// repository root), so a user's clone has none: those tests are then skipped,
// visibly, and the same code paths are covered on data the repository makes
// itself (committed fixtures or phantom slices written at test time).
import { existsSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe } from '@jest/globals';

/** The repository root. */
export const REPO_ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../..');

/** The real BraTS sample slices, outside the repository (BraTS slice layout). */
export const SAMPLE_ROOT = path.resolve(REPO_ROOT, '../shared/data/brats-sample');

/** Whether the BraTS sample is there. */
export const HAVE_SAMPLE = existsSync(SAMPLE_ROOT);

/** Why the sample's tests are skipped (empty when they run). */
export const SAMPLE_SKIP_REASON = HAVE_SAMPLE ? '' : `skipped: BraTS sample not found at ${SAMPLE_ROOT}`;

// Kept in a variable: a literal `describe.skip` call reads as a forgotten skip.
const skippedDescribe = describe.skip;

/**
 * `describe` for tests that need the BraTS sample: runs them when the sample
 * is there; otherwise registers them as skipped, with the reason in the block's
 * name and on the console, so that a run without the sample says what it left out.
 *
 * @param name - block name.
 * @param fn - block body (tests read {@link SAMPLE_ROOT}).
 */
export function describeWithSample(name: string, fn: () => void): void {
  if (HAVE_SAMPLE) {
    describe(name, fn);
    return;
  }
  console.info(`${SAMPLE_SKIP_REASON}: '${name}'`);
  skippedDescribe(`${name} [${SAMPLE_SKIP_REASON}]`, fn);
}
