// Benchmarks guided "sample known" (libs/guided-sampler) on the wasm backend:
// one 64x64 4-channel slice at noise level L = 200 (200 inversion + 200 guided
// decoding steps) and respaced ('ddim250': the same noise level in 50 steps),
// plus a 16-sample growth probability map (respaced 'ddim50', L = 200 -> 10
// steps, 8 samples per batch), with the same algorithm in PyTorch
// (tools/diffusion/bench_reference.py, torch.set_num_threads(2)) timed in the
// same run, as ratios. Prints a table; writes bench-results/guided-sampler.json.
//
// Networks: @tumorcast/unet's createUNet('small') and @tumorcast/regressor's
// createRegressor('small') when they are built (PyTorch: guided-diffusion's
// UNetModel from tools/networks/gd_nets.py and the authors' EncoderUNetModel
// from authors_nets.py with the same configs and head); else, or with BENCH_NETS=standin, small stand-in conv networks
// (bench/nets.mjs, the same in PyTorch). BENCH_QUICK=1 skips the L = 200 case.
import fs from 'node:fs';
import path from 'node:path';
import { spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import * as tf from '@tensorflow/tfjs';
import { initBackend } from '@tumorcast/nn';
import { createDiffusion } from '@tumorcast/diffusion';
import { guidedSampleKnown, growthProbabilityMap } from '../dist/index.js';
import { standInEps, standInRegressor } from './nets.mjs';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../..');
const backend = await initBackend({ backend: 'wasm', log: false });
const quick = process.env.BENCH_QUICK === '1';

let nets = 'standin';
let model, regressor, torchNets = { nets: 'standin' };
if (process.env.BENCH_NETS !== 'standin') {
  try {
    const { createUNet } = await import('@tumorcast/unet');
    const { createRegressor } = await import('@tumorcast/regressor');
    const unet = createUNet('small', { seed: 0 });
    const reg = createRegressor('small', { seed: 0 });
    model = (x, t, y) => unet.apply(x, t, y);
    regressor = reg; // predict + valueAndInputGradient
    const u = unet.config, r = reg.config;
    torchNets = {
      nets: 'unet',
      unet: {
        image_size: u.imageSize, in_channels: u.inChannels, model_channels: u.modelChannels, out_channels: u.outChannels,
        num_res_blocks: u.numResBlocks, attention_resolutions: u.attentionDs, dropout: u.dropout, channel_mult: u.channelMult,
        conv_resample: u.convResample, num_classes: u.numClasses, num_heads: u.numHeads, num_head_channels: u.numHeadChannels,
        num_heads_upsample: u.numHeadsUpsample, use_scale_shift_norm: u.useScaleShiftNorm, resblock_updown: u.resblockUpdown,
        use_new_attention_order: u.useNewAttentionOrder,
      },
      regressor: {
        image_size: r.imageSize, in_channels: r.inChannels, model_channels: r.modelChannels, out_channels: r.outChannels,
        num_res_blocks: r.numResBlocks, attention_resolutions: r.attentionDs, dropout: r.dropout, channel_mult: r.channelMult,
        conv_resample: r.convResample, num_heads: r.numHeads, num_head_channels: r.numHeadChannels,
        use_scale_shift_norm: r.useScaleShiftNorm, resblock_updown: r.resblockUpdown,
        use_new_attention_order: r.useNewAttentionOrder, pool: r.pool, regression: r.head === 'regression',
      },
    };
    nets = "unet('small') + regressor('small')";
  } catch (e) {
    console.error(`bench: @tumorcast/unet / @tumorcast/regressor unavailable (${e.message.split('\n')[0]}); using stand-in networks`);
  }
}
if (!model) {
  model = standInEps();
  regressor = standInRegressor();
}

const cases = [
  ...(quick ? [] : [{ name: 'sample-known 64x64, L=200 (200 steps)', respacing: '', noiseLevel: 200 }]),
  { name: "sample-known 64x64, L=200 respaced 'ddim250' (50 steps)", respacing: 'ddim250', noiseLevel: 200 },
];
const image = tf.randomUniform([1, 64, 64, 4], -1, 1, 'float32', 1);
const rows = [];
for (const c of cases) {
  const diffusion = createDiffusion({ steps: 1000, learnSigma: true, timestepRespacing: c.respacing });
  const t0 = performance.now();
  const out = await guidedSampleKnown({
    diffusion, model, regressor, image, baselineBurden: 0.05, relativeChange: 0.3, noiseLevel: c.noiseLevel, seed: 1,
  });
  const ms = performance.now() - t0;
  tf.dispose([out.sample, out.latent, out.differenceMap]);
  rows.push({ case: c.name, steps: out.steps, ms, msPerStep: ms / out.steps });
  console.error(`tfjs ${c.name}: ${ms.toFixed(0)} ms`);
}
{
  const diffusion = createDiffusion({ steps: 1000, learnSigma: true, timestepRespacing: 'ddim50' });
  const t0 = performance.now();
  const map = await growthProbabilityMap({
    diffusion, model, regressor, image, baselineBurden: 0.05, relativeChange: 0.3, noiseLevel: 200, seed: 1,
    samples: 16, samplesPerBatch: 8,
  });
  const ms = performance.now() - t0;
  tf.dispose([map.probability, map.meanSample]);
  rows.push({ case: "probability map, 16 samples, L=200 respaced 'ddim50' (10 steps), 8 per batch", steps: 10, ms, msPerStep: ms / 10 });
  console.error(`tfjs probability map: ${ms.toFixed(0)} ms`);
}

let torchInfo = null;
const py = spawnSync('/usr/bin/python3', [path.join(root, 'tools/diffusion/bench_reference.py'), JSON.stringify({
  ...torchNets, scale: 200000, cases: cases.map((c) => ({ name: c.name, respacing: c.respacing, noiseLevel: c.noiseLevel, reps: 1 })),
})], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'inherit'], maxBuffer: 1 << 24 });
if (py.status === 0) {
  torchInfo = JSON.parse(py.stdout.trim().split('\n').pop());
  for (const r of rows) {
    const ref = torchInfo.results.find((q) => q.name === r.case);
    if (ref) { r.torchMs = ref.ms; r.ratio = r.ms / ref.ms; }
  }
} else {
  console.error('bench: PyTorch reference unavailable (needs /usr/bin/python3 with torch); no ratios');
}

console.log(`\n@tumorcast/guided-sampler — backend ${backend}, networks: ${nets}`);
console.log('| case | steps | tfjs ms | ms/step | torch ms | tfjs/torch |');
console.log('|---|---:|---:|---:|---:|---:|');
for (const r of rows) {
  console.log(`| ${r.case} | ${r.steps} | ${r.ms.toFixed(0)} | ${r.msPerStep.toFixed(1)} | ${r.torchMs?.toFixed(0) ?? '-'} | ${r.ratio?.toFixed(2) ?? '-'} |`);
}
const outDir = path.join(root, 'bench-results');
fs.mkdirSync(outDir, { recursive: true });
const file = path.join(outDir, 'guided-sampler.json');
const tmp = `${file}.tmp`;
fs.writeFileSync(tmp, JSON.stringify({
  date: new Date().toISOString(), backend: tf.getBackend(), networks: nets,
  torch: torchInfo ? { version: torchInfo.torch, threads: torchInfo.threads } : null, rows,
}, null, 2));
fs.renameSync(tmp, file);
console.log(`wrote ${path.relative(root, file)}`);
