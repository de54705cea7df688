// One training step of the diffusion U-Net on the wasm backend, as
// tumorcast-train diffusion takes it: hybrid loss (@tumorcast/diffusion's
// trainingLosses: noise MSE + variational bound), AdamW, EMA of the weights.
// Measures whether it fits the wasm heap, the peak tensor memory (distinct
// buffers, trackPeakMemory), the heap size afterwards, the time of the step,
// and the memory estimate the training command's guard uses
// (estimateUNetTrainingMemory's peak + AdamW's moments and the EMA), with the
// load average before and after (the machine may be shared).
//
// Defaults: the `paper` preset at 256x256, batch 2, with checkpointing.
// Environment: PRESET (paper|small), SIZE, BATCH, CHECKPOINT (1|0), EMA (1|0), STEPS (default 1).
// Run after building: npx nx run @tumorcast/unet:build && npx nx run @tumorcast/diffusion:build;
// then node libs/unet/bench/train-step.mjs. Writes bench-results/unet-train-step.json.
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import * as tf from '@tensorflow/tfjs';
import { AdamW, ExponentialMovingAverage, WASM_HEAP_LIMIT_BYTES, initBackend, trackPeakMemory, wasmHeapBytes } from '@tumorcast/nn';
import { Rng } from '@tumorcast/random';
import { createDiffusion, trainingLosses } from '@tumorcast/diffusion';
import { UNET_PRESETS, createUNet, estimateUNetTrainingMemory } from '../dist/index.js';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../..');
const env = (k, d) => process.env[k] ?? d;
const preset = env('PRESET', 'paper');
const size = Number(env('SIZE', preset === 'paper' ? 256 : 64));
const batch = Number(env('BATCH', 2));
const useCheckpoint = env('CHECKPOINT', '1') === '1';
const useEma = env('EMA', '1') === '1';
const steps = Number(env('STEPS', 1));
const mib = (b) => (b === null ? null : Math.round(b / 2 ** 20));
const load = () => os.loadavg().map((v) => v.toFixed(2)).join(' ');

const backend = await initBackend({ backend: 'wasm', log: false });
const config = { ...UNET_PRESETS[preset], useCheckpoint };
const net = createUNet(config, { seed: 0 });
const params = net.parameterCount;
const est = estimateUNetTrainingMemory(config, batch, { imageSize: size });
// What the training command's guard adds to the weights already in use: activations and gradients, AdamW's two moments and (with EMA) the EMA copy.
const estimate = est.peakBytes + 4 * params * (useEma ? 3 : 2);
const inUse = tf.memory().numBytes;
console.error(`${preset} U-Net, ${params.toLocaleString('en')} parameters, ${size}x${size}, batch ${batch}, checkpointing ${useCheckpoint ? 'on' : 'off'}, EMA ${useEma ? 'on' : 'off'}`);
console.error(`estimate: activations and gradients ${mib(est.peakBytes)} MiB (activations alone ${mib(est.activationBytes)} MiB) + optimiser state ${mib(estimate - est.peakBytes)} MiB on top of ${mib(inUse)} MiB of weights; heap limit ${mib(WASM_HEAP_LIMIT_BYTES)} MiB`);

const diffusion = createDiffusion({ steps: 1000, schedule: 'linear', learnSigma: config.learnSigma });
const opt = new AdamW({ learningRate: 1e-4 });
const vars = net.trainableVariables;
const ema = useEma ? new ExponentialMovingAverage(vars, 0.9999) : undefined;
const loadBefore = load();
const results = [];
let error;
try {
  for (let step = 0; step < steps; step++) {
    const rng = new Rng(0, `bench-step-${step}`);
    const t = Array.from({ length: batch }, () => rng.int(1000));
    const x0v = rng.normalArray(batch * size * size * 4);
    const epsv = rng.normalArray(batch * size * size * 4);
    const dropRng = new Rng(0, `dropout-${step}`);
    const t0 = performance.now();
    const m = trackPeakMemory(() => {
      const loss = opt.minimize(() => {
        const x0 = tf.tensor4d(x0v, [batch, size, size, 4]);
        const eps = tf.tensor4d(epsv, [batch, size, size, 4]);
        const y = config.numClasses ? tf.tensor1d(Array.from({ length: batch }, (_, i) => i % 2), 'int32') : undefined;
        const l = trainingLosses(diffusion, (x, tt, yy) => net.apply(x, tt, yy, { training: true, rng: dropRng }), x0, t, eps, { y });
        return l.loss.mean();
      }, vars);
      ema?.update(vars);
      return loss;
    });
    const seconds = (performance.now() - t0) / 1000;
    results.push({ step, loss: m.result, seconds: +seconds.toFixed(1), peakTensorMiB: mib(m.peakBytes), stepPeakAboveStartMiB: mib(m.peakBytes - m.startBytes), heapMiB: mib(wasmHeapBytes()) });
    console.error(`step ${step + 1}: loss ${m.result.toFixed(4)}, ${seconds.toFixed(1)} s, peak tensor memory ${mib(m.peakBytes)} MiB (${mib(m.peakBytes - m.startBytes)} MiB above the step's start), wasm heap ${mib(wasmHeapBytes())} MiB`);
  }
} catch (e) {
  error = String(e?.stack ?? e);
  console.error(`the step failed: ${error}`);
}
const out = {
  date: new Date().toISOString(),
  backend,
  simd: tf.env().getBool('WASM_HAS_SIMD_SUPPORT'),
  threads: tf.env().getBool('WASM_HAS_MULTITHREAD_SUPPORT'),
  cpus: os.cpus().length,
  loadAverageBefore: loadBefore,
  loadAverageAfter: load(),
  preset, size, batch, useCheckpoint, useEma, params,
  estimateActivationsMiB: mib(est.activationBytes),
  estimatePassPeakMiB: mib(est.peakBytes),
  estimateStepMiB: mib(estimate),
  weightsMiB: mib(inUse),
  heapLimitMiB: mib(WASM_HEAP_LIMIT_BYTES),
  fits: !error,
  error,
  steps: results,
};
console.log(JSON.stringify(out, null, 2));
fs.mkdirSync(path.join(root, 'bench-results'), { recursive: true });
fs.writeFileSync(path.join(root, 'bench-results', 'unet-train-step.json'), `${JSON.stringify(out, null, 2)}\n`);
ema?.dispose();
opt.dispose();
net.dispose();
