#!/usr/bin/env node
// Writes libs/phantom/docs/preview.png (the README's picture): baseline and
// follow-up of a default phantom patient, columns t1n, t1c, t2w, t2f, labels.
// Build first: npx nx run @tumorcast/phantom:build
// Usage: node tools/phantom/make_preview.mjs
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
const { generatePhantomPatient, writePhantomPreview } = await import(path.join(root, 'libs/phantom/dist/index.js'));

const patient = generatePhantomPatient({ seed: 1, initialSize: 1400, render: 'baseline-followup', slice: { noiseStd: 0 } });
const s = patient.slices[0];
const rows = [s.scans[patient.baselineIndex], s.scans[patient.followupIndex]];
const out = path.join(root, 'libs/phantom/docs/preview.png');
await writePhantomPreview(out, rows, { crop: true });
console.log(`wrote ${out}: days ${patient.days[patient.baselineIndex]} -> ${patient.days[patient.followupIndex]}, ` +
  `areas ${rows.map((r) => r.tumourArea).join(' -> ')} mm^2, sizes per day ${s.sizes.join(', ')}`);
