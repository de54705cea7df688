// Benchmarks a growth probability map on worker threads (MapPool) against
// the same map computed in this thread, run after run, on the wasm backend
// with one thread: a 16-run map (the default settings: 'ddim100', L = 200 ->
// 20 inversion + 20 guided steps per run) of one phantom slice with the
// networks tumorcast-predict ships for its demo (apps/predict/models, 64x64).
// The pool is started before the timing (its start, each worker loading the
// networks, is timed apart: a run pays it once for all its slices). Checks
// that both maps are equal, and prints the core count and the load average
// beside the table: a busy machine's times say little about an idle one's.
// The process's CPU time during each map (every thread's) over its wall time
// says how many cores the map kept busy, also on a busy machine.
// Writes bench-results/pipeline-parallel-map.json.
//
// Environment: BENCH_SAMPLES (runs per map, default 16), BENCH_WORKERS (a
// comma-separated list of pool sizes, default 2), BENCH_MODELS (a folder with
// diffusion/regressor/segmenter.safetensors, default the demo's).
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import * as tf from '@tensorflow/tfjs';
import { toModelRange } from '@tumorcast/diffusion';
import { growthProbabilityMap } from '@tumorcast/guided-sampler';
import { initBackend, wasmThreadsInUse } from '@tumorcast/nn';
import { writePhantomDataset } from '@tumorcast/phantom';
import { DEFAULT_SAMPLE_SETTINGS, MapPool, listPredictionSlices, loadModels, loadPredictionSlice, samplingDiffusion, segmenterOf } from '../dist/node.js';
import { sliceSamplerOptions } from '../dist/predict.js';

/** CPU seconds of this process (every thread, the workers' too) since `from` (a process.cpuUsage()). */
const cpuSeconds = (from) => {
  const d = process.cpuUsage(from);
  return (d.user + d.system) / 1e6;
};
const here = path.dirname(fileURLToPath(import.meta.url));
const root = path.resolve(here, '../../..');
const samples = Number(process.env.BENCH_SAMPLES ?? 16);
const poolSizes = (process.env.BENCH_WORKERS ?? '2').split(',').map(Number);
const modelDir = process.env.BENCH_MODELS ?? path.join(root, 'apps/predict/models');
const models = {
  diffusion: path.join(modelDir, 'diffusion.safetensors'),
  regressor: path.join(modelDir, 'regressor.safetensors'),
  segmenter: path.join(modelDir, 'segmenter.safetensors'),
};
if (!fs.existsSync(models.segmenter)) delete models.segmenter;

// One thread here too: the serial map is the runs one after another on one core.
process.env.TUMORCAST_WASM_THREADS = '1';
const backend = await initBackend({ backend: 'wasm', threads: 1, log: false });
const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'tc-bench-parallel-map-'));
const load = [os.loadavg()];
try {
  await writePhantomDataset(tmp, { seed: 7, patients: 1, preview: false, patient: { sliceIds: [80] } });
  const networks = await loadModels(models);
  const S = networks.imageSize;
  const [info] = await listPredictionSlices(tmp);
  const slice = await loadPredictionSlice(info, S);
  const settings = { ...DEFAULT_SAMPLE_SETTINGS, samples };
  const baselineMask = Float32Array.from(slice.modelLabel, (v) => v);
  const request = { image: slice.model, imageSize: S, baselineMask, baselineBurden: slice.burden, relativeChange: 0.3, settings };

  // In this thread: what predictSlice computes without a pool.
  const diffusion = samplingDiffusion(networks, settings);
  const image = tf.tidy(() => toModelRange(tf.tensor4d(slice.model, [1, S, S, 4]), networks.dataRange));
  const mask = tf.tensor4d(baselineMask, [1, S, S, 1]);
  let t0 = performance.now();
  let c0 = process.cpuUsage();
  const map = await growthProbabilityMap({
    ...sliceSamplerOptions(networks, diffusion, settings, image, slice.burden, 0.3), samples, segmenter: segmenterOf(networks), baselineMask: mask,
  });
  const serialMs = performance.now() - t0;
  const serialCpu = cpuSeconds(c0);
  const serial = map.probability.dataSync().slice();
  tf.dispose([map.probability, map.meanSample, image, mask]);
  networks.dispose();
  load.push(os.loadavg());

  const rows = [{ case: `serial (this thread, wasm threads ${wasmThreadsInUse() ?? 1})`, workers: 1, startS: 0, mapS: serialMs / 1000, cpuS: serialCpu, ratio: 1, maxDiff: 0 }];
  for (const workers of poolSizes) {
    t0 = performance.now();
    const pool = await MapPool.start({ models, workers });
    const startMs = performance.now() - t0;
    try {
      t0 = performance.now();
      c0 = process.cpuUsage();
      const parallel = await pool.probabilityMap(request, { slice: info.id });
      const ms = performance.now() - t0;
      const cpuS = cpuSeconds(c0);
      let maxDiff = 0;
      serial.forEach((v, i) => { maxDiff = Math.max(maxDiff, Math.abs(v - parallel[i])); });
      rows.push({ case: `MapPool, ${workers} workers`, workers, startS: startMs / 1000, mapS: ms / 1000, cpuS, ratio: ms / serialMs, maxDiff });
    } finally {
      await pool.close();
    }
    load.push(os.loadavg());
  }

  const cores = os.availableParallelism();
  const fmt = (v, d) => v.toFixed(d).padStart(8);
  console.log(`parallel probability map: ${samples} runs of one ${S}x${S} phantom slice, networks ${modelDir}, respacing ${settings.respacing}, L = ${settings.noiseLevel}; backend ${backend}`);
  console.log(`cores (os.availableParallelism): ${cores}; load average (1, 5, 15 min) before: ${load[0].map((v) => v.toFixed(2)).join(', ')}, after: ${load[load.length - 1].map((v) => v.toFixed(2)).join(', ')}`);
  console.log(`${'case'.padEnd(40)} ${'start s'.padStart(8)} ${'map s'.padStart(8)} ${'CPU s'.padStart(8)} ${'cores'.padStart(8)} ${'ratio'.padStart(8)} ${'max|diff|'.padStart(10)}`);
  for (const r of rows) {
    console.log(`${r.case.padEnd(40)} ${fmt(r.startS, 1)} ${fmt(r.mapS, 1)} ${fmt(r.cpuS, 1)} ${fmt(r.cpuS / r.mapS, 2)} ${fmt(r.ratio, 3)} ${r.maxDiff.toExponential(1).padStart(10)}`);
  }
  console.log('ratio: the map\'s wall time with the pool / in this thread (the pool\'s start not included); CPU s: the process\'s CPU time (all threads)'
    + ' during the map, cores: CPU s / map s (the cores it kept busy); max|diff|: largest difference between the two maps');
  if (load[0][0] > 0.5) console.log(`note: the machine was busy (load ${load[0][0].toFixed(2)} on ${cores} cores): measure on an idle machine before quoting these times`);
  const out = path.join(root, 'bench-results');
  fs.mkdirSync(out, { recursive: true });
  fs.writeFileSync(path.join(out, 'pipeline-parallel-map.json'), `${JSON.stringify({ samples, imageSize: S, settings, cores, loadavg: load, rows }, null, 2)}\n`);
  if (rows.some((r) => r.maxDiff > 1e-6)) {
    console.error('error: the pool\'s map differs from the serial map');
    process.exitCode = 1;
  }
} finally {
  fs.rmSync(tmp, { recursive: true, force: true });
}
