// Load throughput of @tumorcast/nifti on the real BraTS sample slices
// (the optional folder beside the repository, see docs/development.md),
// compared with nibabel on the same files
// (tools/nifti/bench_nibabel.py, Debian's /usr/bin/python3) as a ratio.
// Run with `npm run bench` in libs/nifti (builds dist/ first).
// Writes bench-results/nifti.json (git-ignored) at the repository root.
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, readdirSync, renameSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { loadNifti } from '../dist/node.js';

const here = path.dirname(fileURLToPath(import.meta.url));
const repo = path.resolve(here, '../../..');
const root = process.env.TUMORCAST_SAMPLE_ROOT ?? path.resolve(repo, '../shared/data/brats-sample');
const repeats = Number(process.env.BENCH_REPEATS ?? 5);

function filesUnder(dir) {
  const out = [];
  for (const e of readdirSync(dir, { withFileTypes: true }).sort((a, b) => (a.name < b.name ? -1 : 1))) {
    const p = path.join(dir, e.name);
    if (e.isDirectory()) out.push(...filesUnder(p));
    else if (/\.nii(\.gz)?$/.test(e.name)) out.push(p);
  }
  return out;
}

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
const files = filesUnder(root);
let sink = 0;
const tsLoad = await timeIt(async () => {
  for (const f of files) {
    const img = await loadNifti(f);
    sink += img.data[0] + img.affine[0][0];
  }
});

let nibabel;
const py = '/usr/bin/python3';
if (existsSync(py)) {
  const r = spawnSync(py, [path.join(repo, 'tools/nifti/bench_nibabel.py'), root, String(repeats)], { encoding: 'utf8' });
  if (r.status === 0) nibabel = JSON.parse(r.stdout.trim().split('\n').pop());
  else console.error(`nibabel reference failed (exit ${r.status}): ${r.stderr.slice(-500)}`);
} else {
  console.error(`${py} not found: no nibabel reference timing`);
}

const tsRate = files.length / tsLoad.best;
const rows = [
  ['@tumorcast/nifti loadNifti', files.length, tsLoad.best, tsRate, nibabel ? tsRate / nibabel.slices_per_second : undefined],
  ['nibabel nib.load + dataobj', nibabel?.files, nibabel?.best_seconds, nibabel?.slices_per_second, nibabel ? 1 : undefined],
];
const fmt = (v, d) => (v === undefined ? '-' : typeof v === 'number' ? v.toFixed(d) : String(v));
console.log(`\nNIfTI load throughput, ${files.length} files of ${root} (best of ${repeats}, after a warm-up)\n`);
console.log('| reader | slices | best time (s) | slices/s | ratio to nibabel |');
console.log('|---|---:|---:|---:|---:|');
for (const [name, n, t, rate, ratio] of rows) console.log(`| ${name} | ${fmt(n, 0)} | ${fmt(t, 3)} | ${fmt(rate, 1)} | ${fmt(ratio, 2)} |`);
console.log('\n(ratio > 1: faster than nibabel)');

const result = {
  benchmark: 'nifti-load',
  date: new Date().toISOString(),
  node: process.version,
  cpu: os.cpus()[0]?.model,
  cpus: os.cpus().length,
  root,
  repeats,
  tumorcast: { files: files.length, seconds: tsLoad.seconds, bestSeconds: tsLoad.best, slicesPerSecond: tsRate },
  nibabel: nibabel ?? null,
  ratioToNibabel: nibabel ? tsRate / nibabel.slices_per_second : null,
  sink,
};
const outDir = path.join(repo, 'bench-results');
mkdirSync(outDir, { recursive: true });
const out = path.join(outDir, 'nifti.json');
const tmp = `${out}.${process.pid}.tmp`;
writeFileSync(tmp, JSON.stringify(result, null, 2) + '\n');
renameSync(tmp, out);
console.log(`\nwrote ${out}`);
