#!/usr/bin/env node
// Writes the synthetic training set for the shipped demo models: phantom
// patients whose every time point is a training subject (with seg), several
// axial slices each (the outer ones without tumour). Deterministic for a seed.
// Usage: node tools/demo/make-training-data.mjs OUT_DIR [PATIENTS=40] [SEED=2025]
// (needs `npx nx run @tumorcast/phantom:build` first)
import { writePhantomDataset } from '../../libs/phantom/dist/index.js';

const [out, patients = '40', seed = '2025'] = process.argv.slice(2);
if (!out) {
  console.error('usage: node tools/demo/make-training-data.mjs OUT_DIR [PATIENTS] [SEED]');
  process.exit(2);
}
const t0 = Date.now();
const manifest = await writePhantomDataset(out, {
  seed: Number(seed),
  patients: 0,
  trainingPatients: Number(patients),
  preview: false,
  patient: { sliceIds: [70, 76, 80, 84, 90], tumourHalfHeight: 8 },
});
console.log(`wrote ${out} in ${((Date.now() - t0) / 1000).toFixed(1)} s`, Object.keys(manifest));
