// Times one paper-scale guided sample-known with the ONNX denoiser: a 256x256
// 4-channel slice, the `paper` U-Net (113.7M parameters) and the `paper`
// regressor with fresh random weights (timing does not depend on trained
// values), noise level 200, 'ddim100' respacing (20 inversion + 20 guided
// decoding steps). The U-Net's forward passes run in ONNX Runtime (CPU), the
// regressor's value and input gradient in tfjs (wasm). Prints the conversion
// and session time, the sample's time and the part spent in the denoiser, with
// the load average before and after and the process's CPU time (the machine
// may be shared: compare runs at similar loads; CPU time divided by the cores
// approximates an idle machine's wall time). BENCH_TFJS=1 also times the same sample with the tfjs
// denoiser (minutes). BENCH_THREADS sets ONNX Runtime's threads. Writes
// bench-results/onnx.json at the repository root.
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import * as tf from '@tensorflow/tfjs';
import { initBackend } from '@tumorcast/nn';
import { createUNet } from '@tumorcast/unet';
import { createRegressor } from '@tumorcast/regressor';
import { createDiffusion } from '@tumorcast/diffusion';
import { guidedSampleKnown } from '@tumorcast/guided-sampler';
import { createOnnxDenoiser } from '../dist/index.js';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../..');
const backend = await initBackend({ backend: 'wasm', log: false });
const load = () => os.loadavg().map((v) => v.toFixed(2)).join(' ');
const threads = process.env.BENCH_THREADS ? Number(process.env.BENCH_THREADS) : undefined;

const unet = createUNet('paper', { seed: 0 });
const regressor = createRegressor('paper', { seed: 0 });
const diffusion = createDiffusion({ steps: 1000, learnSigma: true, timestepRespacing: 'ddim100' });
const image = tf.randomUniform([1, 256, 256, 4], -1, 1, 'float32', 1);

/** A model wrapper that adds up the time spent in the denoiser. */
function timedModel(model) {
  const acc = { ms: 0, calls: 0 };
  const fn = (x, t, y) => {
    const t0 = performance.now();
    const out = model(x, t, y);
    out.dataSync(); // tfjs is lazy: count the forward's compute, not only its scheduling
    acc.ms += performance.now() - t0;
    acc.calls++;
    return out;
  };
  return { fn, acc };
}

/** CPU seconds of this process (every thread, the ONNX Runtime worker's included) since `since`. */
const cpuSeconds = (since) => {
  const u = process.cpuUsage(since);
  return (u.user + u.system) / 1e6;
};

async function sample(model, label) {
  const { fn, acc } = timedModel(model);
  const before = load();
  const cpu0 = process.cpuUsage();
  const t0 = performance.now();
  const out = await guidedSampleKnown({
    diffusion, model: fn, regressor, image, baselineBurden: 0.05, relativeChange: 0.3, noiseLevel: 200, classLabel: 1, seed: 1,
  });
  const ms = performance.now() - t0;
  const cpu = cpuSeconds(cpu0);
  const after = load();
  tf.dispose([out.sample, out.latent, out.differenceMap]);
  const row = { denoiser: label, steps: out.steps, ms, cpuSeconds: cpu, denoiserMs: acc.ms, denoiserCalls: acc.calls, loadBefore: before, loadAfter: after };
  console.log(`${label}: guided sample-known ${(ms / 1000).toFixed(1)} s (${out.steps} steps; denoiser ${(acc.ms / 1000).toFixed(1)} s in ${acc.calls} calls, `
    + `${(acc.ms / acc.calls).toFixed(0)} ms each; the rest, mostly the regressor gradient, ${((ms - acc.ms) / 1000).toFixed(1)} s) `
    + `| CPU time ${cpu.toFixed(0)} s | load average before ${before}, after ${after}`);
  return row;
}

console.log(`@tumorcast/onnx paper-scale bench — ${os.cpus().length} CPUs, tfjs backend ${backend}, U-Net ${(unet.parameterCount / 1e6).toFixed(1)}M parameters`);
const t0 = performance.now();
const onnx = await createOnnxDenoiser(unet, { threads });
const setupMs = performance.now() - t0;
console.log(`ONNX conversion + session: ${(setupMs / 1000).toFixed(1)} s (model ${(onnx.modelBytes / 2 ** 20).toFixed(0)} MiB) | load average ${load()}`);
{
  // one forward alone (fastest of 3): the denoiser's share without the sampler around it
  const x = tf.randomNormal([1, 256, 256, 4]);
  const t = tf.tensor1d([500]);
  const y = tf.tensor1d([1], 'int32');
  const times = [];
  for (let i = 0; i < 3; i++) {
    const c0 = process.cpuUsage();
    const t0 = performance.now();
    onnx(x, t, y).dispose();
    times.push({ ms: performance.now() - t0, cpu: cpuSeconds(c0) });
  }
  const best = times.reduce((a, b) => (b.ms < a.ms ? b : a));
  console.log(`ONNX forward 1x256x256: ${best.ms.toFixed(0)} ms (CPU ${best.cpu.toFixed(1)} s) | load average ${load()}`);
  tf.dispose([x, t, y]);
}
const rows = [await sample(onnx, 'onnx')];
await onnx.dispose();
if (process.env.BENCH_TFJS === '1') rows.push(await sample((x, t, y) => unet.apply(x, t, y), 'tfjs'));

const outDir = path.join(root, 'bench-results');
fs.mkdirSync(outDir, { recursive: true });
const file = path.join(outDir, 'onnx.json');
fs.writeFileSync(`${file}.tmp`, JSON.stringify({ date: new Date().toISOString(), cpus: os.cpus().length, threads: threads ?? os.availableParallelism(), setupMs, rows }, null, 2));
fs.renameSync(`${file}.tmp`, file);
console.log(`wrote ${path.relative(root, file)}`);
unet.dispose();
regressor.dispose();
