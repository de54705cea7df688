// What the repository-level benchmarks (threads.mjs, peak.mjs) share: the
// load average they print beside their tables (a timing on a busy machine
// measures the other jobs too), and the table plus its JSON record under
// bench-results/ at the repository root.
import fs from 'node:fs';
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
