// Benchmark: a 30-fit bootstrap of the two-phase model on the built-in synthetic
// series, against the same bootstrap with scipy (least_squares + odeint) run in
// the same process tree by tools/growth-ode/bench_reference.py (/usr/bin/python3).
// Prints a table and writes bench-results/growth-ode.json at the repository root.
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { bootstrapGrowth, exampleSeries, twoPhaseRtModel } from '../dist/index.js';

const here = path.dirname(fileURLToPath(import.meta.url));
const root = path.resolve(here, '../../..');
const REPEATS = 3;
const series = exampleSeries();
const rtStart = series.context.rtEnd - 42;

function timeIt(fn) {
  fn(); // warm-up (JIT)
  const runs = [];
  const cpu = [];
  let last;
  for (let r = 0; r < REPEATS; r++) {
    const t = performance.now();
    const c = process.cpuUsage();
    last = fn(r);
    const dc = process.cpuUsage(c);
    runs.push((performance.now() - t) / 1000);
    cpu.push((dc.user + dc.system) / 1e6);
  }
  const median = (a) => [...a].sort((x, y) => x - y)[Math.floor(a.length / 2)];
  return { seconds: runs, median_s: median(runs), cpu_seconds: cpu, median_cpu_s: median(cpu), last };
}

const configs = [
  { name: 'ts ODE form (Dormand-Prince), 1 start', options: { form: 'ode', starts: 1 } },
  { name: 'ts closed form, 1 start', options: { form: 'closed', starts: 1 } },
  { name: 'ts closed form, 5 starts (default)', options: { form: 'closed' } },
];
const rows = [];
for (const c of configs) {
  const r = timeIt((seed = 99) => bootstrapGrowth(twoPhaseRtModel, series, { ...c.options, replicates: 30, seed }));
  const fits = r.last.fits;
  const nfev = fits.reduce((a, f) => a + f.convergence.nfev, 0) / Math.max(1, fits.length);
  rows.push({ name: c.name, median_s: r.median_s, seconds: r.seconds, median_cpu_s: r.median_cpu_s, cpu_seconds: r.cpu_seconds, failed: r.last.nFailed, mean_nfev_per_fit: nfev });
}

// scipy reference, same data, same number of fits.
const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'growth-ode-bench-'));
const input = path.join(tmp, 'input.json');
fs.writeFileSync(input, JSON.stringify({ times: series.times, sizes: series.sizes, rtStart, replicates: 30, noiseStd: 0.1, repeats: REPEATS }));
const py = spawnSync('/usr/bin/python3', [path.join(root, 'tools/growth-ode/bench_reference.py'), input], { encoding: 'utf8' });
fs.rmSync(tmp, { recursive: true, force: true });
let ref = null;
if (py.status === 0) {
  ref = JSON.parse(py.stdout.trim().split('\n').pop());
  rows.push({ name: `scipy ${ref.scipy} least_squares + odeint, 1 start`, median_s: ref.median_s, seconds: ref.seconds, median_cpu_s: ref.median_cpu_s, cpu_seconds: ref.cpu_seconds, failed: Math.round((1 - ref.success_rate) * 30), mean_nfev_per_fit: ref.mean_model_evals_per_fit });
} else {
  console.error(`scipy reference failed (status ${py.status}): ${py.stderr.slice(-2000)}`);
}

console.log(`\n30-fit bootstrap, two-phase model, synthetic example series (${series.times.length} points), median of ${REPEATS} runs\n`);
console.log('| configuration | wall (s) | CPU (s) | speed-up vs scipy (wall) | (CPU) | failed fits | model evals / fit |');
console.log('|---|---:|---:|---:|---:|---:|---:|');
for (const r of rows) {
  r.speedup_vs_scipy = ref ? ref.median_s / r.median_s : null;
  r.cpu_speedup_vs_scipy = ref ? ref.median_cpu_s / r.median_cpu_s : null;
  r.meets_goal = r.cpu_speedup_vs_scipy === null ? null : r.cpu_speedup_vs_scipy >= 10;
  const x = (v) => (v === null ? 'n/a' : `${v.toFixed(1)}x`);
  console.log(
    `| ${r.name} | ${r.median_s.toFixed(3)} | ${r.median_cpu_s.toFixed(3)} | ${x(r.speedup_vs_scipy)} | ${x(r.cpu_speedup_vs_scipy)} | ${r.failed} | ${r.mean_nfev_per_fit.toFixed(0)} |`,
  );
}
const out = {
  date: new Date().toISOString(),
  node: process.version,
  cpu: os.cpus()[0]?.model ?? 'unknown',
  series: series.id,
  replicates: 30,
  repeats: REPEATS,
  rows,
  goal: 'a 30-fit bootstrap at least 10x faster than scipy (least_squares + odeint); meets_goal uses the CPU-time ratio',
};
fs.mkdirSync(path.join(root, 'bench-results'), { recursive: true });
const dest = path.join(root, 'bench-results/growth-ode.json');
const tmpOut = `${dest}.${process.pid}.tmp`;
fs.writeFileSync(tmpOut, JSON.stringify(out, null, 2) + '\n');
fs.renameSync(tmpOut, dest);
console.log('\nwrote bench-results/growth-ode.json');
