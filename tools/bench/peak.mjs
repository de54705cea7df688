// The best the wasm kernels reach, beside native code, in one run: GFLOP/s
// of a plain matrix product and of 3x3 convolutions (forward, weight
// gradient `dW`, input gradient `dX`) at the small U-Net's shapes (batch 4,
// 64x64 with 32 channels, 32x32 and 16x16 with 64, the stride-2
// downsampling convolutions), with tfjs's wasm backend as tumorcast sets it
// up (XNNPACK, 128-bit SIMD without fused multiply-add, tumorcast's kernel
// fills for the gradients) at 1 and 2 threads, each count in its own
// process (the count is fixed when wasm starts), and PyTorch
// (tools/bench/peak_reference.py, Debian's /usr/bin/python3) at 1 and 2
// threads. `dW (convolution)` is the weight gradient with the earlier
// formulation of the fill (`registerWasmKernelFills({ conv2dBackpropFilter:
// 'convolution' })`), for an A/B against the default matrix-product one in
// the same process. The matrix products keep one right operand, so XNNPACK
// packs it once: kernel speed, not the cost of a layer. Prints the load
// average beside the table (timings on a busy machine measure the other jobs
// too; compare columns of one run), beside GFLOP/s from the CPU time of the
// 1-thread runs (the work itself, far less disturbed by other jobs), and
// writes bench-results/peak.json at the repository root.
//
// Run with `npm run bench:peak` (builds the package first), or by hand:
//   npx nx run @tumorcast/nn:build --outputStyle=static
//   node tools/bench/peak.mjs            (BENCH_REPS=<n> sets the repetitions, default 5)
import { fileURLToPath } from 'node:url';
import { coreCount, loadAverage, reportBench, runBench, runTorch, runWasmChild } from './report.mjs';

const reps = Number(process.env.BENCH_REPS || 5);
if (!Number.isInteger(reps) || reps < 1) throw new Error(`BENCH_REPS must be a positive integer, got '${process.env.BENCH_REPS}'`);

const CONV_OPS = ['forward', 'dW', 'dW (convolution)', 'dX'];
const CASES = [
  { name: 'matmul 16384x288x32 (im2col of 64x64 32->32, b4)', kind: 'matmul', m: 16384, k: 288, n: 32 },
  { name: 'matmul 4096x576x64 (im2col of 32x32 64->64, b4)', kind: 'matmul', m: 4096, k: 576, n: 64 },
  { name: 'matmul 1024x1024x1024', kind: 'matmul', m: 1024, k: 1024, n: 1024 },
  { name: 'conv 64x64 32->32', kind: 'conv', batch: 4, size: 64, ci: 32, co: 32, stride: 1, ops: CONV_OPS },
  { name: 'conv 64x64 32->32 stride 2', kind: 'conv', batch: 4, size: 64, ci: 32, co: 32, stride: 2, ops: CONV_OPS },
  { name: 'conv 32x32 64->64', kind: 'conv', batch: 4, size: 32, ci: 64, co: 64, stride: 1, ops: CONV_OPS },
  { name: 'conv 32x32 64->64 stride 2', kind: 'conv', batch: 4, size: 32, ci: 64, co: 64, stride: 2, ops: CONV_OPS },
  { name: 'conv 16x16 64->64', kind: 'conv', batch: 4, size: 16, ci: 64, co: 64, stride: 1, ops: CONV_OPS },
];

/** Floating-point operations (2 per multiply-add) of one op of a case. */
function flops(c) {
  if (c.kind === 'matmul') return 2 * c.m * c.k * c.n;
  const out = Math.ceil(c.size / c.stride);
  return 2 * c.batch * out * out * 9 * c.ci * c.co;
}

await runBench(child, driver);

/** Times every case on wasm with `threads` threads; prints one JSON line. */
async function child(threads) {
  const tf = await import('@tensorflow/tfjs');
  const { initBackend, registerWasmKernelFills, wasmThreadsInUse } = await import('../../libs/nn/dist/index.js');
  await initBackend({ backend: 'wasm', threads, log: false });
  const timed = async (fn) => {
    const run = async () => {
      const out = fn();
      await out.data();
      out.dispose();
    };
    await run();
    let ms = Infinity;
    let cpuMs = Infinity;
    for (let i = 0; i < reps; i++) {
      const c0 = process.cpuUsage();
      const t0 = performance.now();
      await run();
      ms = Math.min(ms, performance.now() - t0); // fastest run: slower ones measure other jobs
      const c = process.cpuUsage(c0);
      cpuMs = Math.min(cpuMs, (c.user + c.system) / 1000);
    }
    return { ms, cpuMs };
  };
  const results = [];
  for (const c of CASES) {
    if (c.kind === 'matmul') {
      const a = tf.randomNormal([c.m, c.k], 0, 1, 'float32', 1);
      const b = tf.randomNormal([c.k, c.n], 0, 1, 'float32', 2);
      results.push({ name: c.name, op: 'matmul', ...(await timed(() => tf.matMul(a, b))) });
      tf.dispose([a, b]);
      continue;
    }
    const x = tf.randomNormal([c.batch, c.size, c.size, c.ci], 0, 1, 'float32', 3);
    const w = tf.randomNormal([3, 3, c.ci, c.co], 0, 1, 'float32', 4);
    const out = Math.ceil(c.size / c.stride);
    const dy = tf.randomNormal([c.batch, out, out, c.co], 0, 1, 'float32', 5);
    const attrs = { strides: [c.stride, c.stride], pad: 'same', dataFormat: 'NHWC', dimRoundingMode: undefined };
    const dW = () => tf.engine().runKernel('Conv2DBackpropFilter', { x, dy }, { ...attrs, filterShape: w.shape });
    const ops = {
      forward: () => tf.conv2d(x, w, c.stride, 'same'),
      dW,
      'dW (convolution)': dW,
      dX: () => tf.engine().runKernel('Conv2DBackpropInput', { dy, filter: w }, { ...attrs, inputShape: x.shape }),
    };
    for (const op of c.ops) {
      registerWasmKernelFills({ conv2dBackpropFilter: op === 'dW (convolution)' ? 'convolution' : 'matmul' });
      results.push({ name: c.name, op, ...(await timed(ops[op])) });
    }
    registerWasmKernelFills();
    tf.dispose([x, w, dy]);
  }
  process.stdout.write(`${JSON.stringify({ threads: wasmThreadsInUse(), results })}\n`);
}

async function driver() {
  const cores = coreCount();
  const counts = [1, 2];
  const loadBefore = loadAverage();
  console.error(`cores ${cores}; thread counts ${counts.join(', ')}; load average (1, 5, 15 min) ${loadBefore}`);
  const tfjs = {};
  for (const n of counts) {
    const out = runWasmChild(fileURLToPath(import.meta.url), n, 'is @tumorcast/nn built? see the header of this file');
    tfjs[n] = out.results;
    console.error(`tfjs wasm, ${out.threads} thread(s) done`);
  }
  const { torch, torchVersion } = runTorch('tools/bench/peak_reference.py', CASES, counts, { BENCH_REPS: String(reps) });
  const ms = (list, name, op, key = 'ms') => list?.find((q) => q.name === name && q.op === op)?.[key];
  const gflops = (f, t) => (t === undefined ? '-' : +(f / t / 1e6).toFixed(1));
  const rows = [];
  for (const c of CASES) {
    for (const op of c.kind === 'matmul' ? ['matmul'] : c.ops) {
      const f = flops(c);
      const row = { case: c.name, op, GFLOP: +(f / 1e9).toFixed(3) };
      for (const n of counts) row[`wasm ${n}t ms`] = round(ms(tfjs[n], c.name, op));
      for (const n of counts) row[`wasm ${n}t GFLOP/s`] = gflops(f, ms(tfjs[n], c.name, op));
      const torchOp = op === 'dW (convolution)' ? 'dW' : op;
      for (const n of counts) row[`torch ${n}t GFLOP/s`] = gflops(f, ms(torch[n], c.name, torchOp));
      // One thread's CPU time: the work itself, much less disturbed by other jobs than the wall clock.
      row['wasm 1t cpu GFLOP/s'] = gflops(f, ms(tfjs[1], c.name, op, 'cpuMs'));
      row['torch 1t cpu GFLOP/s'] = gflops(f, ms(torch[1], c.name, torchOp, 'cpuMs'));
      rows.push(row);
    }
  }
  reportBench('peak', rows, { loadBefore, cores, torchVersion, timing: `fastest of ${reps} runs after one warm-up, on both sides (wall clock; the cpu columns: process CPU time of the 1-thread runs); each wasm thread count in its own process` });
}

function round(v) {
  return v === undefined ? '-' : +v.toFixed(1);
}
