#!/usr/bin/env node
// Regenerates libs/phantom/test/fixtures/nibabel-summary.json: writes a small
// phantom dataset with the built package (run `npx nx run @tumorcast/phantom:build`
// first), then summarises every NIfTI file with Debian's nibabel
// (tools/phantom/check_nifti.py, run with /usr/bin/python3). The phantom tests
// regenerate the same dataset from the options stored in the fixture and
// compare their own reading of the files with nibabel's summary.
//
// Usage: node tools/phantom/make_fixture.mjs
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
const { writePhantomDataset } = await import(path.join(root, 'libs/phantom/dist/index.js'));

const options = {
  seed: 7,
  patients: 1,
  trainingPatients: 1,
  datasetName: 'phantom',
  preview: false,
  patient: { sliceIds: [80], days: [0, 30, 90], slice: { width: 64 } },
};
const dir = mkdtempSync(path.join(tmpdir(), 'phantom-fixture-'));
try {
  await writePhantomDataset(dir, options);
  const summaryFile = path.join(dir, 'summary.json');
  execFileSync('/usr/bin/python3', [path.join(root, 'tools/phantom/check_nifti.py'), dir, '--out', summaryFile], { stdio: 'inherit' });
  const summary = JSON.parse(readFileSync(summaryFile, 'utf8'));
  const out = path.join(root, 'libs/phantom/test/fixtures/nibabel-summary.json');
  const tmp = `${out}.tmp`;
  writeFileSync(tmp, JSON.stringify({ generatedBy: 'tools/phantom/make_fixture.mjs', options, nibabel: summary }, null, 1) + '\n');
  renameSync(tmp, out);
  console.log(`wrote ${out} (${Object.keys(summary.files).length} files)`);
} finally {
  rmSync(dir, { recursive: true, force: true });
}
