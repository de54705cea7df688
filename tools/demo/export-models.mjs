#!/usr/bin/env node
// Copies trained checkpoints into apps/predict/models/ as float16 safetensors
// (the diffusion model's EMA weights, as guided-diffusion samples with them),
// keeping the metadata that recreates each network.
// Usage: node tools/demo/export-models.mjs DIFFUSION_EMA.safetensors REGRESSOR.safetensors SEGMENTER.safetensors
// (needs `npx nx run @tumorcast/nn:build` first)
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { loadSafetensors, saveSafetensors } from '../../libs/nn/dist/index.js';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
const [diffusion, regressor, segmenter] = process.argv.slice(2);
if (!diffusion || !regressor || !segmenter) {
  console.error('usage: node tools/demo/export-models.mjs DIFFUSION_EMA REGRESSOR SEGMENTER');
  process.exit(2);
}
// Checkpoints written before the config keys were renamed used one generic key.
const CONFIG_KEY = { diffusion: 'tumorcast.unet.config', regressor: 'tumorcast.regressor.config' };
import fs from 'node:fs';
fs.mkdirSync(path.join(root, 'apps/predict/models'), { recursive: true });
for (const [name, file] of [['diffusion', diffusion], ['regressor', regressor], ['segmenter', segmenter]]) {
  const f = await loadSafetensors(file);
  const metadata = { ...f.metadata, 'tumorcast.source': path.basename(file) };
  if (CONFIG_KEY[name] && !metadata[CONFIG_KEY[name]] && metadata['tumorcast.model_config']) {
    metadata[CONFIG_KEY[name]] = metadata['tumorcast.model_config'];
  }
  delete metadata['tumorcast.model_config'];
  const out = path.join(root, 'apps/predict/models', `${name}.safetensors`);
  await saveSafetensors(out, f.tensors, { metadata, floatDtype: 'F16' });
  console.log(`${file} -> ${path.relative(root, out)}`);
}
