// Benchmark of @tumorcast/metrics against scipy / skimage on this machine.
// Run with `npm run bench` in libs/metrics (builds dist/ first). HD95, SSIM
// and the EDT on a 240x240 slice and a 240x240x155 volume (synthetic, seeded),
// the same computations timed in the same run with Debian's /usr/bin/python3
// (tools/metrics/bench_reference.py), reported as ratios. Prints a table and
// writes bench-results/metrics.json at the repository root (git-ignored).
//
// The synthetic data come from a small inline seeded generator (mulberry32):
// this plain-JS script only depends on the built package.
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { euclideanDistanceTransform, hausdorff95, ssim } from '../dist/index.js';

const here = path.dirname(fileURLToPath(import.meta.url));
const root = path.resolve(here, '../../..');
const PYTHON = process.env.TUMORCAST_PYTHON ?? '/usr/bin/python3';

function mulberry32(seed) {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** A union of `k` random ellipsoids around `centre` (voxel units): a lumpy, tumour-like mask. */
function lumpyMask(shape, centre, radius, k, rand) {
  const n = shape.reduce((a, b) => a * b, 1);
  const out = new Uint8Array(n);
  const dims = shape.length === 2 ? [1, ...shape] : shape;
  const c3 = shape.length === 2 ? [0, ...centre] : centre;
  for (let e = 0; e < k; e++) {
    const c = c3.map((v, a) => (shape.length === 2 && a === 0 ? 0 : v + (rand() - 0.5) * radius));
    const r = c3.map((_, a) => (shape.length === 2 && a === 0 ? 0.5 : radius * (0.5 + 0.5 * rand())));
    const lo = c.map((v, a) => Math.max(0, Math.floor(v - r[a])));
    const hi = c.map((v, a) => Math.min(dims[a] - 1, Math.ceil(v + r[a])));
    for (let z = lo[0]; z <= hi[0]; z++) {
      for (let y = lo[1]; y <= hi[1]; y++) {
        for (let x = lo[2]; x <= hi[2]; x++) {
          const dz = (z - c[0]) / r[0];
          const dy = (y - c[1]) / r[1];
          const dx = (x - c[2]) / r[2];
          if (dz * dz + dy * dy + dx * dx <= 1) out[(z * dims[1] + y) * dims[2] + x] = 1;
        }
      }
    }
  }
  return out;
}

/** A smooth random image in about [0, 1] (random plane waves) plus noise, and a perturbed copy. */
function imagePair(shape, rand) {
  const dims = shape.length === 2 ? [1, ...shape] : shape;
  const n = dims[0] * dims[1] * dims[2];
  const a = new Float64Array(n);
  const waves = Array.from({ length: 6 }, () => ({
    k: [rand() * 0.2, rand() * 0.2, rand() * 0.2],
    phi: rand() * 2 * Math.PI,
    amp: 0.5 + rand(),
  }));
  let i = 0;
  for (let z = 0; z < dims[0]; z++) {
    for (let y = 0; y < dims[1]; y++) {
      for (let x = 0; x < dims[2]; x++, i++) {
        let v = 0;
        for (const w of waves) v += w.amp * Math.cos(w.k[0] * z + w.k[1] * y + w.k[2] * x + w.phi);
        a[i] = 0.5 + v / 12 + 0.05 * (rand() - 0.5);
      }
    }
  }
  const b = new Float64Array(n);
  for (let j = 0; j < n; j++) b[j] = 0.9 * a[j] + 0.05 + 0.08 * (rand() - 0.5);
  return [a, b];
}

function time(fn, repeat) {
  const value = fn(); // warm-up
  const times = [];
  const cpu = [];
  for (let r = 0; r < repeat; r++) {
    const c = process.cpuUsage();
    const t = performance.now();
    fn();
    times.push(performance.now() - t);
    const u = process.cpuUsage(c);
    cpu.push((u.user + u.system) / 1000);
  }
  times.sort((x, y) => x - y);
  return { value, bestMs: times[0], medianMs: times[Math.floor(times.length / 2)], bestCpuMs: Math.min(...cpu) };
}

const rand = mulberry32(20261128);
const SLICE = [240, 240];
const VOLUME = [240, 240, 155];
const spacing2 = [1, 1];
const spacing3 = [0.9375, 0.9375, 1.5];
const cases = [];

{
  const a = lumpyMask(SLICE, [120, 110], 28, 5, rand);
  const b = lumpyMask(SLICE, [123, 114], 28, 5, rand);
  cases.push({ name: 'HD95 slice 240x240 (tumour-sized masks)', kind: 'hd95', shape: SLICE, spacing: spacing2, a, b, repeat: 30 });
}
{
  const a = lumpyMask(VOLUME, [120, 110, 80], 30, 6, rand);
  const b = lumpyMask(VOLUME, [123, 114, 78], 30, 6, rand);
  cases.push({ name: 'HD95 volume 240x240x155 (tumour-sized masks)', kind: 'hd95', shape: VOLUME, spacing: spacing3, a, b, repeat: 5 });
}
let brain;
{
  const a = lumpyMask(VOLUME, [120, 120, 78], 75, 6, rand);
  const b = lumpyMask(VOLUME, [121, 119, 77], 75, 6, rand);
  brain = a;
  cases.push({ name: 'HD95 volume 240x240x155 (brain-sized masks)', kind: 'hd95', shape: VOLUME, spacing: spacing3, a, b, repeat: 3 });
}
{
  const [a, b] = imagePair(SLICE, rand);
  cases.push({ name: 'SSIM slice 240x240', kind: 'ssim', shape: SLICE, dataRange: 1, a, b, repeat: 30 });
}
{
  const [a, b] = imagePair(VOLUME, rand);
  cases.push({ name: 'SSIM volume 240x240x155', kind: 'ssim', shape: VOLUME, dataRange: 1, a, b, repeat: 3 });
}
cases.push({ name: 'EDT volume 240x240x155 (brain-sized mask)', kind: 'edt', shape: VOLUME, spacing: spacing3, a: brain, repeat: 3 });

// Our timings.
const ours = {};
for (const c of cases) {
  const A = { data: c.a, shape: c.shape };
  const B = { data: c.b, shape: c.shape };
  let fn;
  if (c.kind === 'hd95') fn = () => hausdorff95(A, B, { spacing: c.spacing });
  else if (c.kind === 'ssim') fn = () => ssim(A, B, { dataRange: c.dataRange });
  else {
    fn = () => {
      const d = euclideanDistanceTransform(A, { spacing: c.spacing }).data;
      let s = 0;
      for (let i = 0; i < d.length; i++) s += d[i];
      return s;
    };
  }
  ours[c.name] = time(fn, c.repeat);
  process.stdout.write(`  ${c.name}: ${ours[c.name].bestMs.toFixed(1)} ms\n`);
}

// The references, same data, same run.
const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'tumorcast-metrics-bench-'));
let reference = null;
let referenceError = null;
try {
  const manifest = cases.map((c, i) => {
    const entry = { name: c.name, kind: c.kind, shape: c.shape, repeat: c.repeat, spacing: c.spacing, dataRange: c.dataRange };
    for (const key of ['a', 'b']) {
      if (!c[key]) continue;
      const file = `${i}-${key}.bin`;
      const buf = c[key];
      fs.writeFileSync(path.join(tmp, file), Buffer.from(buf.buffer, buf.byteOffset, buf.byteLength));
      entry[key] = file;
    }
    return entry;
  });
  fs.writeFileSync(path.join(tmp, 'cases.json'), JSON.stringify(manifest));
  const script = path.join(root, 'tools/metrics/bench_reference.py');
  const res = spawnSync(PYTHON, [script, tmp], { encoding: 'utf8', maxBuffer: 1 << 24 });
  if (res.status === 0) reference = JSON.parse(res.stdout);
  else referenceError = `${PYTHON} failed: ${res.error?.message ?? res.stderr}`;
} finally {
  fs.rmSync(tmp, { recursive: true, force: true });
}

const rows = [];
for (const c of cases) {
  const o = ours[c.name];
  const refs = reference?.cases[c.name] ?? {};
  const entries = Object.entries(refs);
  if (entries.length === 0) rows.push({ case: c.name, oursMs: o.bestMs, value: o.value });
  for (const [label, r] of entries) {
    rows.push({
      case: c.name,
      oursMs: o.bestMs,
      oursMedianMs: o.medianMs,
      reference: label,
      referenceMs: r.bestMs,
      referenceMedianMs: r.medianMs,
      speedup: r.bestMs / o.bestMs,
      oursCpuMs: o.bestCpuMs,
      referenceCpuMs: r.bestCpuMs,
      cpuSpeedup: r.bestCpuMs / o.bestCpuMs,
      value: o.value,
      referenceValue: r.value,
      absDiff: Math.abs(o.value - r.value),
    });
  }
}

const fmt = (v, d = 1) => (v === undefined ? '-' : v.toFixed(d));
const header = ['case', 'ours ms', 'reference', 'ref ms', 'speed-up', 'ours cpu', 'ref cpu', 'cpu speed-up', '|diff|'];
const x = (v) => (v ? `${v.toFixed(1)}x` : '-');
const table = rows.map((r) => [
  r.case,
  fmt(r.oursMs),
  r.reference ?? '(no reference)',
  fmt(r.referenceMs),
  x(r.speedup),
  fmt(r.oursCpuMs),
  fmt(r.referenceCpuMs),
  x(r.cpuSpeedup),
  r.absDiff === undefined ? '-' : r.absDiff.toExponential(1),
]);
const widths = header.map((h, i) => Math.max(h.length, ...table.map((t) => t[i].length)));
const line = (cells) => cells.map((c, i) => (i === 0 || i === 2 ? c.padEnd(widths[i]) : c.padStart(widths[i]))).join('  ');
console.log('\n' + line(header));
console.log(widths.map((w) => '-'.repeat(w)).join('  '));
for (const t of table) console.log(line(t));
console.log('\nms: best of N wall-clock times; cpu: best of N process CPU times (robust to a busy machine); speed-up = reference / ours; load average', os.loadavg().map((v) => v.toFixed(2)).join(' '));
if (referenceError) console.log(`reference timings unavailable: ${referenceError}`);

const result = {
  date: new Date().toISOString(),
  node: process.version,
  cpu: os.cpus()[0]?.model,
  cpus: os.cpus().length,
  loadavg: os.loadavg(),
  reference: reference ? { python: reference.python, numpy: reference.numpy, scipy: reference.scipy, skimage: reference.skimage } : { error: referenceError },
  rows,
};
const outDir = path.join(root, 'bench-results');
fs.mkdirSync(outDir, { recursive: true });
const outFile = path.join(outDir, 'metrics.json');
const tmpFile = path.join(outDir, `.metrics.json.${process.pid}.tmp`);
fs.writeFileSync(tmpFile, JSON.stringify(result, null, 2) + '\n');
fs.renameSync(tmpFile, outFile);
console.log('wrote bench-results/metrics.json');
