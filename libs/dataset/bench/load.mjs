// Sample loading throughput of @tumorcast/dataset on the real BraTS sample
// slices (the optional folder beside the repository, see
// docs/development.md): loadSample (4 modalities + seg, padded to 256) on
// every training sample.
// Run with `npm run bench` in libs/dataset (builds dist/ first).
// Writes bench-results/dataset.json (git-ignored) at the repository root.
import { existsSync, mkdirSync, renameSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { listSamples, loadSample } from '../dist/index.js';

const here = path.dirname(fileURLToPath(import.meta.url));
const repo = path.resolve(here, '../../..');
const root = process.env.TUMORCAST_SAMPLE_ROOT ?? path.resolve(repo, '../shared/data/brats-sample');
const repeats = Number(process.env.BENCH_REPEATS ?? 5);

async function timeIt(fn) {
  await fn(); // warm-up
  const seconds = [];
  for (let r = 0; r < repeats; r++) {
    const t0 = process.hrtime.bigint();
    await fn();
    seconds.push(Number(process.hrtime.bigint() - t0) / 1e9);
  }
  return { seconds, best: Math.min(...seconds) };
}

if (!existsSync(root)) {
  console.error(`sample folder not found: ${root}`);
  process.exit(1);
}
let sink = 0;
const training = await listSamples(root);
const tsSamples = await timeIt(async () => {
  for (const s of training) sink += (await loadSample(s)).image[0];
});

const rate = training.length / tsSamples.best;
console.log(`\nSample load throughput, ${training.length} training samples of ${root} (best of ${repeats}, after a warm-up)\n`);
console.log('| reader | samples | best time (s) | samples/s |');
console.log('|---|---:|---:|---:|');
console.log(`| @tumorcast/dataset loadSample (4 ch + seg, 256) | ${training.length} | ${tsSamples.best.toFixed(3)} | ${rate.toFixed(1)} |`);
console.log('\n(a sample reads 5 files)');

const result = {
  benchmark: 'dataset-load',
  date: new Date().toISOString(),
  node: process.version,
  cpu: os.cpus()[0]?.model,
  cpus: os.cpus().length,
  root,
  repeats,
  tumorcastSamples: { samples: training.length, seconds: tsSamples.seconds, bestSeconds: tsSamples.best, samplesPerSecond: rate },
  sink,
};
const outDir = path.join(repo, 'bench-results');
mkdirSync(outDir, { recursive: true });
const out = path.join(outDir, 'dataset.json');
const tmp = `${out}.${process.pid}.tmp`;
writeFileSync(tmp, JSON.stringify(result, null, 2) + '\n');
renameSync(tmp, out);
console.log(`\nwrote ${out}`);
