// What the repository-level benchmarks (threads.mjs, peak.mjs) share: one
// child process per wasm thread count (the count is fixed when wasm starts),
// the PyTorch side through Debian's /usr/bin/python3, the load average they
// print beside their tables (a timing on a busy machine measures the other
// jobs too), and the table plus its JSON record under bench-results/ at the
// repository root.
import fs from 'node:fs';
import { spawnSync } from 'node:child_process';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

/** The repository root. */
export const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');

/** The 1, 5 and 15 minute load averages, as printed. */
export function loadAverage() {
  return os.loadavg().map((v) => v.toFixed(2)).join(' ');
}

/** The cores this process may use. */
export function coreCount() {
  return typeof os.availableParallelism === 'function' ? os.availableParallelism() : os.cpus().length;
}

/**
 * Prints `rows` as a table with the load average before (given) and after
 * (now), and writes them with the run's context to bench-results/NAME.json.
 */
export function reportBench(name, rows, { loadBefore, cores, torchVersion, timing }) {
  const loadAfter = loadAverage();
  console.table(rows);
  console.log(`load average (1, 5, 15 min): ${loadBefore} before, ${loadAfter} after; ${cores} cores; ${os.cpus()[0]?.model ?? 'unknown CPU'}`);
  fs.mkdirSync(path.join(root, 'bench-results'), { recursive: true });
  const record = {
    date: new Date().toISOString(),
    cores,
    cpu: os.cpus()[0]?.model,
    loadAverage: { before: loadBefore, after: loadAfter },
    torch: torchVersion,
    timing,
    rows,
  };
  fs.writeFileSync(path.join(root, `bench-results/${name}.json`), JSON.stringify(record, null, 2));
  console.log(`wrote bench-results/${name}.json`);
}

/**
 * Runs `script --child THREADS` (the benchmark itself, in a new process so
 * that wasm starts with that many threads) and returns the JSON object of
 * its last stdout line. `hint` says what to do when it fails.
 */
export function runWasmChild(script, threads, hint) {
  const r = spawnSync(process.execPath, [script, '--child', String(threads)], {
    encoding: 'utf8',
    stdio: ['ignore', 'pipe', 'inherit'],
    env: { ...process.env, TUMORCAST_WASM_THREADS: '' },
    maxBuffer: 1 << 24,
  });
  if (r.status !== 0) throw new Error(`the tfjs run with ${threads} threads failed (exit ${r.status}); ${hint}`);
  const out = JSON.parse(r.stdout.trim().split('\n').pop());
  if (out.threads !== threads) console.error(`asked for ${threads} wasm threads, got ${out.threads}`);
  return out;
}

/**
 * Runs the PyTorch reference `script` (repository-relative) on `cases` once
 * per thread count; returns the results by count and torch's version, or
 * empty results (and says so) where /usr/bin/python3 has no torch.
 */
export function runTorch(script, cases, counts, env = {}) {
  const torch = {};
  let torchVersion = null;
  for (const n of counts) {
    const py = spawnSync('/usr/bin/python3', [path.join(root, script), JSON.stringify(cases)], {
      encoding: 'utf8',
      stdio: ['ignore', 'pipe', 'inherit'],
      env: { ...process.env, ...env, BENCH_TORCH_THREADS: String(n) },
      maxBuffer: 1 << 24,
    });
    if (py.status !== 0) {
      console.error('PyTorch reference unavailable (/usr/bin/python3 with torch): its columns are omitted');
      break;
    }
    const info = JSON.parse(py.stdout.trim().split('\n').pop());
    torchVersion = info.torch;
    torch[n] = info.results;
  }
  return { torch, torchVersion };
}

/** Runs `child(threads)` in a process started by {@link runWasmChild}, else `driver()`. */
export async function runBench(child, driver) {
  if (process.argv[2] === '--child') await child(Number(process.argv[3]));
  else await driver();
}
