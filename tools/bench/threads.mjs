// How the wasm backend scales with threads, beside PyTorch, in one run: the
// small U-Net (forward, training step) and the small regressor (forward,
// input gradient, what guidance needs) at 64x64, batch 4, with 1 and 2 wasm
// threads and all cores when the machine has more (each count in its own
// process: the count is fixed when wasm starts), and PyTorch
// (tools/networks/bench_reference.py, Debian's /usr/bin/python3) with the
// same thread counts. Prints the load average beside the table (timings on a
// busy machine measure the other jobs too) and writes
// bench-results/threads.json at the repository root.
//
// Run with `npm run bench:threads` (builds the packages first), or by hand:
//   npx nx run-many -t build -p @tumorcast/unet @tumorcast/regressor --outputStyle=static
//   node tools/bench/threads.mjs            (BENCH_REPS=<n> sets the repetitions, default 5)
import { fileURLToPath } from 'node:url';
import { coreCount, loadAverage, reportBench, runBench, runTorch, runWasmChild } from './report.mjs';

const reps = Number(process.env.BENCH_REPS || 5);
if (!Number.isInteger(reps) || reps < 1) throw new Error(`BENCH_REPS must be a positive integer, got '${process.env.BENCH_REPS}'`);

const CASES = [
  { name: 'unet small 64x64 b4', kind: 'unet', preset: 'small', batch: 4, modes: ['forward', 'train'] },
  { name: 'regressor small 64x64 b4', kind: 'regressor', preset: 'small', batch: 4, modes: ['forward', 'input_grad'] },
];

await runBench(child, driver);

/** Times every case on wasm with `threads` threads; prints one JSON line. */
async function child(threads) {
  const tf = await import('@tensorflow/tfjs');
  const { initBackend, wasmThreadsInUse } = await import('../../libs/nn/dist/index.js');
  const { createUNet } = await import('../../libs/unet/dist/index.js');
  const { createRegressor } = await import('../../libs/regressor/dist/index.js');
  await initBackend({ backend: 'wasm', threads, log: false });
  const results = [];
  const timed = async (fn) => {
    await fn();
    const ts = [];
    for (let i = 0; i < reps; i++) {
      const t0 = performance.now();
      await fn();
      ts.push(performance.now() - t0);
    }
    return Math.min(...ts); // fastest run: slower ones measure other jobs
  };
  const configs = {};
  for (const c of CASES) {
    const model = c.kind === 'unet' ? createUNet(c.preset, { seed: 0 }) : createRegressor(c.preset, { seed: 0 });
    dezero(tf, model);
    const cfg = model.config;
    configs[c.name] = cfg;
    const s = cfg.imageSize;
    const x = tf.randomNormal([c.batch, s, s, cfg.inChannels], 0, 1, 'float32', 1);
    const t = Array.from({ length: c.batch }, (_, i) => (i * 397) % 1000);
    const y = c.kind === 'unet' && cfg.numClasses ? Array.from({ length: c.batch }, (_, i) => i % cfg.numClasses) : undefined;
    const apply = (opts) => (c.kind === 'unet' ? model.apply(x, t, y, opts) : model.apply(x, t, opts));
    for (const mode of c.modes) {
      let ms;
      if (mode === 'forward') {
        ms = await timed(async () => {
          const out = apply({});
          await out.data();
          out.dispose();
        });
      } else if (mode === 'train') {
        const opt = tf.train.adam(1e-4);
        ms = await timed(async () => {
          const loss = opt.minimize(() => tf.mean(tf.square(apply({ training: true }))), true, model.trainableVariables);
          await loss.data();
          loss.dispose();
        });
        opt.dispose();
      } else {
        ms = await timed(async () => {
          const g = model.inputGradient(x, t);
          await g.data();
          g.dispose();
        });
      }
      results.push({ name: c.name, mode, ms });
    }
    x.dispose();
    model.dispose();
  }
  process.stdout.write(`${JSON.stringify({ threads: wasmThreadsInUse(), results, configs })}\n`);
}

/** Like a trained model (and as bench_reference.py does): re-draws the zero-initialised layers with PyTorch's default init. */
function dezero(tf, model) {
  const entries = model.params.entries();
  const byName = new Map(entries.map((e) => [e.name, e]));
  let seed = 100;
  for (const e of entries) {
    const zero = tf.tidy(() => tf.max(tf.abs(e.variable)).dataSync()[0] === 0);
    if (!zero || (e.layout === 'same' && !e.name.endsWith('.bias'))) continue;
    const w = e.name.endsWith('.bias') ? byName.get(e.name.replace(/bias$/, 'weight')) : e;
    if (!w || w.layout === 'same') continue;
    const fanIn = w.torchShape.slice(1).reduce((a, b) => a * b, 1);
    const bound = 1 / Math.sqrt(fanIn);
    tf.tidy(() => e.variable.assign(tf.randomUniform(e.shape, -bound, bound, 'float32', seed++)));
  }
}

/** guided-diffusion kwargs of a resolved U-Net or regressor config. */
function torchKwargs(kind, c) {
  const common = {
    image_size: c.imageSize,
    in_channels: c.inChannels,
    model_channels: c.modelChannels,
    out_channels: c.outChannels,
    num_res_blocks: c.numResBlocks,
    attention_resolutions: c.attentionDs,
    dropout: c.dropout,
    channel_mult: c.channelMult,
    conv_resample: c.convResample,
    num_heads: c.numHeads,
    num_head_channels: c.numHeadChannels,
    use_scale_shift_norm: c.useScaleShiftNorm,
    resblock_updown: c.resblockUpdown,
    use_new_attention_order: c.useNewAttentionOrder,
  };
  if (kind === 'unet') return { ...common, num_classes: c.numClasses, num_heads_upsample: c.numHeadsUpsample };
  return { ...common, pool: c.pool, regression: c.head === 'regression' };
}

async function driver() {
  const cores = coreCount();
  const counts = [...new Set([1, 2, Math.min(cores, 8)])].filter((n) => n <= Math.max(cores, 2));
  const loadBefore = loadAverage();
  console.error(`cores ${cores}; thread counts ${counts.join(', ')}; load average (1, 5, 15 min) ${loadBefore}`);
  const tfjs = {};
  let configs;
  for (const n of counts) {
    const out = runWasmChild(fileURLToPath(import.meta.url), n, 'are the packages built? see the header of this file');
    tfjs[n] = out.results;
    configs = out.configs;
    console.error(`tfjs wasm, ${out.threads} thread(s): ${out.results.map((q) => `${q.name} ${q.mode} ${q.ms.toFixed(0)} ms`).join('; ')}`);
  }
  const torchCases = CASES.map((c) => ({ name: c.name, kind: c.kind, kwargs: torchKwargs(c.kind, configs[c.name]), batch: c.batch, modes: c.modes, reps }));
  const { torch, torchVersion } = runTorch('tools/networks/bench_reference.py', torchCases, counts);
  const ms = (list, c, mode) => list?.find((q) => q.name === c && q.mode === mode)?.ms;
  const rows = [];
  for (const c of CASES) {
    for (const mode of c.modes) {
      const row = { case: c.name, mode };
      for (const n of counts) row[`tfjs ${n}t ms`] = round(ms(tfjs[n], c.name, mode));
      for (const n of counts) row[`torch ${n}t ms`] = round(ms(torch[n], c.name, mode));
      for (const n of counts) {
        const a = ms(tfjs[n], c.name, mode);
        const b = ms(torch[n], c.name, mode);
        row[`tfjs/torch ${n}t`] = a !== undefined && b !== undefined ? +(a / b).toFixed(2) : '-';
      }
      const t1 = ms(tfjs[1], c.name, mode);
      for (const n of counts.slice(1)) row[`tfjs speed-up 1->${n}`] = t1 !== undefined ? +(t1 / ms(tfjs[n], c.name, mode)).toFixed(2) : '-';
      rows.push(row);
    }
  }
  reportBench('threads', rows, { loadBefore, cores, torchVersion, timing: `fastest of ${reps} runs after one warm-up, on both sides; each thread count in its own process` });
}

function round(v) {
  return v === undefined ? '-' : +v.toFixed(1);
}
