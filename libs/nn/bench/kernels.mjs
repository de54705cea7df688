// Benchmarks the wasm kernel fills: conv2d weight gradient (fill vs the cpu
// backend) and input gradient (fill vs wasm's native loop). Prints a table and
// writes bench-results/nn.json at the repository root.
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import * as tf from '@tensorflow/tfjs';
import { initBackend, registerWasmKernelFills, unregisterWasmKernelFills } from '../dist/index.js';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../..');
await initBackend({ backend: 'wasm' });

function time(fn, reps = 5) {
  fn();
  const t0 = performance.now();
  for (let i = 0; i < reps; i++) fn();
  return (performance.now() - t0) / reps;
}

const shapes = [
  { name: '64x64, 32->32, 3x3, batch 4', x: [4, 64, 64, 32], k: [3, 3, 32, 32], s: 1 },
  { name: '64x64, 32->64, 3x3 stride 2, batch 4', x: [4, 64, 64, 32], k: [3, 3, 32, 64], s: 2 },
  { name: '32x32, 64->64, 1x1, batch 4', x: [4, 32, 32, 64], k: [1, 1, 64, 64], s: 1 },
];
const rows = [];
for (const c of shapes) {
  const pad = c.s === 2 ? [[0, 0], [1, 1], [1, 1], [0, 0]] : 'same';
  const make = () => [tf.randomNormal(c.x), tf.randomNormal(c.k)];
  const [x, w] = make();
  const dy = tf.tidy(() => tf.onesLike(tf.conv2d(x, w, c.s, pad)));
  const wgrad = () => tf.tidy(() => tf.grad((ww) => tf.conv2d(x, ww, c.s, pad).mul(dy).sum())(w).dataSync());
  const xgrad = () => tf.tidy(() => tf.grad((xx) => tf.conv2d(xx, w, c.s, pad).mul(dy).sum())(x).dataSync());
  const fillW = time(wgrad);
  const fillX = time(xgrad);
  unregisterWasmKernelFills();
  registerWasmKernelFills({ fastConv2dBackpropInput: false });
  const nativeX = time(xgrad, 2);
  unregisterWasmKernelFills();
  registerWasmKernelFills();
  await tf.setBackend('cpu');
  const [xc, wc] = [tf.tensor(x.dataSync(), x.shape), tf.tensor(w.dataSync(), w.shape)];
  const dyc = tf.tensor(dy.dataSync(), dy.shape);
  const cpuW = time(() => tf.tidy(() => tf.grad((ww) => tf.conv2d(xc, ww, c.s, pad).mul(dyc).sum())(wc).dataSync()), 1);
  tf.dispose([xc, wc, dyc]);
  await tf.setBackend('wasm');
  tf.dispose([x, w, dy]);
  rows.push({ case: c.name, 'dW wasm fill ms': +fillW.toFixed(1), 'dW cpu ms': +cpuW.toFixed(1), 'dX wasm fill ms': +fillX.toFixed(1), 'dX wasm native ms': +nativeX.toFixed(1), 'dX speed-up': +(nativeX / fillX).toFixed(2) });
}
console.table(rows);
fs.mkdirSync(path.join(root, 'bench-results'), { recursive: true });
fs.writeFileSync(path.join(root, 'bench-results/nn.json'), JSON.stringify({ date: new Date().toISOString(), backend: 'wasm', rows }, null, 2));
console.log('wrote bench-results/nn.json');
