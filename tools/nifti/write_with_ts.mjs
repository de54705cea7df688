#!/usr/bin/env node
// Writes the images of libs/nifti/test/fixtures/ts-write-cases.json with
// @tumorcast/nifti's writeNifti (from the built dist/) into
// libs/nifti/test/fixtures/ts-written/, for make_fixtures.py --check-ts to
// read back with nibabel. Run after `npx nx run @tumorcast/nifti:build`.
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
const { writeNifti } = await import(path.join(root, 'libs/nifti/dist/index.js'));
const fix = path.join(root, 'libs/nifti/test/fixtures');
const cases = JSON.parse(readFileSync(path.join(fix, 'ts-write-cases.json'), 'utf8'));
mkdirSync(path.join(fix, 'ts-written'), { recursive: true });
for (const c of cases) {
  const bytes = writeNifti(
    { shape: c.shape, data: c.data, affine: c.affine, channels: c.channels },
    { datatype: c.datatype, version: c.version, gzip: c.name.endsWith('.gz') },
  );
  writeFileSync(path.join(fix, 'ts-written', c.name), bytes);
}
console.log(`wrote ${cases.length} files to ${path.join(fix, 'ts-written')}`);
