// The networks on tfjs's webgpu backend, against wasm (within 1e-3) and against the
// PyTorch golden files (layers, U-Net, regressor): the small configs of the network golden
// tests, a U-Net diffusion training-step gradient, a segmenter training-step gradient,
// one tiny guided sample-known of the authors'-fork networks, one tiny predictSlice with
// its probability map, an AdamW training step of a diffusion U-Net, and a tiny tuneGuidance
// (the predict app's `tune`, with its regressor check). Also: `auto` never takes the
// SwiftShader adapter, and the ONNX denoiser is refused on webgpu.
//
// On a machine without a GPU this runs on SwiftShader, the software Vulkan driver that
// Chromium ships: Jest's global setup (tools/test-utils/webgpu-env.mjs) points Vulkan at it
// when nothing else is set. It is skipped,
// saying why, when no WebGPU adapter can be had (no `webgpu` package, no Vulkan loader,
// no driver). WebGPU in Node has no synchronous reads, so everything here reads with
// `await data()`.
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import * as tf from '@tensorflow/tfjs';
import { writePhantomDataset } from '@tumorcast/phantom';
import {
  initBackend, setUpWebGPU, syncReadsAvailable, tfToTorch, webgpuAdapter, webgpuMemory, AdamW, AttentionBlock, ExponentialMovingAverage, GroupNorm, ParamStore,
  WebGPUSyncReadError,
} from '@tumorcast/nn';
import { createUNet, type UNetConfig } from '@tumorcast/unet';
import { createRegressor, type RegressorConfig } from '@tumorcast/regressor';
import { createSegmenterNet, segmentationLoss, type SegmenterConfig } from '@tumorcast/segmenter';
import { createDiffusion, trainingLosses, type DiffusionModel } from '@tumorcast/diffusion';
import { guidedSampleKnown } from '@tumorcast/guided-sampler';
import { loadFixture, type Fixture } from '../../nn/test/network-fixtures.js';
import { loadModels } from '../src/models.js';
import { predictSlice } from '../src/predict.js';
import { DEFAULT_SAMPLE_SETTINGS } from '../src/settings.js';
import { tuneGuidance } from '../src/tune.js';
import { regressorNoiseAccuracy } from '../src/tune-regressor.js';
import { PipelineInputError } from '../src/errors.js';
import { AUTHORS_REGRESSOR_PT, AUTHORS_UNET_PT, loadAuthorsReference } from '../../regressor/test/authors-fork.js';

/** webgpu vs wasm: float32 on both, but other summation orders and fused kernels. */
const TOL = 1e-3;

/** Named results of one case, read back to the CPU. */
type Results = Map<string, Float32Array>;

/** A case: builds its networks on the current backend and returns what to compare. */
interface Case {
  name: string;
  run: () => Promise<Results>;
  /** PyTorch's values for some of the results (the golden files). */
  golden?: () => Results;
  /**
   * Thresholded results (masks, maps) compared by how many values differ at
   * all rather than within 1e-3: a value near a threshold may fall on either
   * side of it when the backends' float32 sums differ in their last bits.
   */
  thresholded?: { keys: string[]; maxDiffering: number };
}

async function read(out: Results, entries: Record<string, tf.Tensor>): Promise<void> {
  for (const [k, t] of Object.entries(entries)) out.set(k, (await t.data()) as Float32Array);
  tf.dispose(Object.values(entries));
}

function ioTensor(f: Fixture, name: string): tf.Tensor {
  const t = f.io.get(name)!;
  const data = t.data instanceof BigInt64Array ? Float32Array.from(t.data, (v) => Number(v)) : t.data;
  return tf.tensor(data, t.shape);
}
const ioArray = (f: Fixture, name: string): number[] => Array.from(f.io.get(name)!.data as ArrayLike<number | bigint>, Number);
const ioData = (f: Fixture, name: string): Float32Array => f.io.get(name)!.data as Float32Array;

/** Output, input gradient and (PyTorch-layout) parameter gradients of sum(gw * fn(x)), from one forward and one backward pass. */
async function outputAndGrads(f: Fixture, store: ParamStore, fn: (x: tf.Tensor4D) => tf.Tensor): Promise<Results> {
  const out: Results = new Map();
  const x = ioTensor(f, 'x') as tf.Tensor4D;
  const gw = ioTensor(f, 'gw');
  const names = [...f.paramGrads.keys()];
  const vars = names.map((n) => store.get(n).variable);
  let y: tf.Tensor | undefined;
  const { value, grads } = tf.engine().gradients(() => {
    y = tf.keep(fn(x));
    return tf.sum(tf.mul(y, gw));
  }, [x, ...vars]);
  await read(out, { out: y!, gx: grads[0]! });
  for (let i = 0; i < names.length; i++) {
    const e = store.get(names[i]!);
    out.set(`pg.${names[i]}`, tfToTorch((await grads[i + 1]!.data()) as Float32Array, e.torchShape, e.layout));
  }
  tf.dispose([x, gw, value, ...grads]);
  return out;
}

/** The gradients by parameter name (variable names differ from run to run). */
function paramGrads(store: ParamStore, grads: tf.NamedTensorMap): Record<string, tf.Tensor> {
  return Object.fromEntries(store.entries().map((e) => [`g.${e.name}`, grads[e.variable.name]!]));
}

function goldenOf(f: Fixture): Results {
  const g: Results = new Map([['out', ioData(f, 'out')], ['gx', ioData(f, 'gx')]]);
  for (const [n, t] of f.paramGrads) g.set(`pg.${n}`, t.data as Float32Array);
  return g;
}

function layerCase(name: string, build: (store: ParamStore, config: (name: string) => never) => (x: tf.Tensor4D) => tf.Tensor): Case {
  const f = loadFixture(name);
  return {
    name,
    run: async () => {
      const store = new ParamStore();
      const fn = build(store, kwargs(f.config));
      store.loadStateDict(f.weights);
      try {
        return await outputAndGrads(f, store, fn);
      } finally {
        store.dispose();
      }
    },
    golden: () => goldenOf(f),
  };
}

/** A fixture's PyTorch kwargs, each typed `never` so that it fits its config field. */
function kwargs(config: Record<string, unknown>): (name: string) => never {
  return (name) => {
    if (!(name in config)) throw new Error(`fixture kwarg '${name}' missing from its config`);
    return config[name] as never;
  };
}

function unetConfigOf(f: Fixture): UNetConfig {
  const k = kwargs(f.config);
  const size: number = k('image_size');
  return {
    imageSize: size, inChannels: k('in_channels'), modelChannels: k('model_channels'), outChannels: k('out_channels'),
    numResBlocks: k('num_res_blocks'), attentionResolutions: (k('attention_resolutions') as number[]).map((ds) => size / ds),
    dropout: k('dropout'), channelMult: k('channel_mult'), convResample: k('conv_resample'), numClasses: k('num_classes'),
    numHeads: k('num_heads'), numHeadChannels: k('num_head_channels'), numHeadsUpsample: k('num_heads_upsample'),
    useScaleShiftNorm: k('use_scale_shift_norm'), resblockUpdown: k('resblock_updown'), useNewAttentionOrder: k('use_new_attention_order'),
  };
}

function regressorConfigOf(f: Fixture): RegressorConfig {
  const k = kwargs(f.config);
  const size: number = k('image_size');
  return {
    imageSize: size, inChannels: k('in_channels'), modelChannels: k('model_channels'), outChannels: k('out_channels'),
    numResBlocks: k('num_res_blocks'), attentionResolutions: (k('attention_resolutions') as number[]).map((ds) => size / ds),
    dropout: k('dropout'), channelMult: k('channel_mult'), convResample: k('conv_resample'), numHeads: k('num_heads'),
    numHeadChannels: k('num_head_channels'), useScaleShiftNorm: k('use_scale_shift_norm'), resblockUpdown: k('resblock_updown'),
    useNewAttentionOrder: k('use_new_attention_order'), pool: k('pool'), head: 'classifier',
  };
}

const unetF = loadFixture('unet_a');
const regF = loadFixture('regressor_a');
const SEG: SegmenterConfig = { imageSize: 16, baseChannels: 8, normGroups: 4, channelMult: [1, 2, 2], numResBlocks: 1 };

const CASES: Case[] = [
  layerCase('groupnorm', (s) => {
    const gn = new GroupNorm(s, '', 64);
    return (x) => gn.apply(x);
  }),
  layerCase('attention_legacy', (s, c) => {
    const b = new AttentionBlock(s, '', c('channels'), { numHeads: c('num_heads'), numHeadChannels: c('num_head_channels'), useNewAttentionOrder: c('use_new_attention_order') });
    return (x) => b.apply(x);
  }),
  {
    name: 'U-Net (unet_a): output, input and parameter gradients',
    run: async () => {
      const model = createUNet(unetConfigOf(unetF));
      model.loadStateDict(unetF.weights, { source: 'unet_a' });
      const t = ioArray(unetF, 't');
      const y = unetF.io.has('y') ? ioArray(unetF, 'y') : undefined;
      try {
        return await outputAndGrads(unetF, model.params, (x) => model.apply(x, t, y));
      } finally {
        model.dispose();
      }
    },
    golden: () => goldenOf(unetF),
  },
  {
    name: 'regressor (regressor_a): output, input and parameter gradients',
    run: async () => {
      const model = createRegressor(regressorConfigOf(regF));
      model.loadStateDict(regF.weights, { source: 'regressor_a' });
      const t = ioArray(regF, 't');
      try {
        return await outputAndGrads(regF, model.params, (x) => model.apply(x, t));
      } finally {
        model.dispose();
      }
    },
    golden: () => goldenOf(regF),
  },
  {
    // The U-Net's own gradients are checked above; here the losses' ops (MSE, and the VB
    // term's Gaussian KL and discretized log-likelihood) behind a tiny learned-sigma model.
    name: 'diffusion training losses (learned sigma: MSE + VB): loss and the model parameters\' gradients',
    run: async () => {
      const diffusion = createDiffusion({ steps: 1000, learnSigma: true });
      const img = loadAuthorsReference().io.get('guided.image')!;
      const x0 = tf.tensor4d(img.data as Float32Array, img.shape as [number, number, number, number]);
      const c = x0.shape[3];
      const noise = tf.randomNormal<tf.Rank.R4>(x0.shape, 0, 1, 'float32', 7);
      const w = tf.tidy(() => [0.7, -0.3, 0.2].map((v) => tf.variable(tf.fill([1, 1, 1, c], v))));
      const model: DiffusionModel = (x) => tf.concat([tf.mul(x, w[0]!), tf.add(tf.mul(tf.tanh(x), w[1]!), w[2]!)], 3) as tf.Tensor4D;
      const t = [3, 700];
      const { value, grads } = tf.variableGrads(() => tf.mean(trainingLosses(diffusion, model, x0, t, noise).loss) as tf.Scalar, w);
      const out: Results = new Map();
      await read(out, { loss: value, ...Object.fromEntries(w.map((v, i) => [`g.${i}`, grads[v.name]!])) });
      tf.dispose([x0, noise, ...w]);
      return out;
    },
  },
  {
    name: 'segmenter (tiny): logits and the training-loss gradient of every parameter',
    run: async () => {
      const net = createSegmenterNet(SEG, { seed: 5 });
      const x = tf.randomUniform([2, 16, 16, 4], 0, 1, 'float32', 11) as tf.Tensor4D;
      const target = tf.tidy(() => tf.cast(tf.greater(tf.randomUniform([2, 16, 16, 1], 0, 1, 'float32', 12), 0.7), 'float32')) as tf.Tensor4D;
      const logits = net.apply(x);
      const { value, grads } = tf.variableGrads(() => segmentationLoss(net.apply(x), target), net.params.variables);
      const out: Results = new Map();
      await read(out, { logits, loss: value, ...paramGrads(net.params, grads) });
      tf.dispose([x, target]);
      net.dispose();
      return out;
    },
  },
  {
    name: "guided sample-known (authors'-fork tiny networks, unspaced at noise level 4: 4 steps each way)",
    run: async () => {
      const ref = loadAuthorsReference();
      const unet = createUNet(ref.unetConfig as unknown as UNetConfig);
      await unet.loadWeights(AUTHORS_UNET_PT);
      const reg = createRegressor(ref.regressorConfig);
      await reg.loadWeights(AUTHORS_REGRESSOR_PT);
      const run = ref.runs[0]!;
      const img = ref.io.get('guided.image')!;
      const image = tf.tensor4d(img.data as Float32Array, img.shape as [number, number, number, number]);
      const out = await guidedSampleKnown({
        diffusion: createDiffusion({ steps: 1000, learnSigma: true, ...(run.respacing ? { timestepRespacing: run.respacing } : {}) }),
        model: (x, t, y) => unet.apply(x, t, y), regressor: reg, image, dataRange: '[0,1]', regressorDataRange: '[0,1]',
        baselineBurden: ref.baselineBurden, relativeChange: ref.relativeChange, noiseLevel: 4,
        classLabel: ref.classLabel, initialNoiseStd: 0, seed: 1, scale: run.scale,
      });
      expect(out.steps).toBe(4);
      const res: Results = new Map([['predictions', Float32Array.from(out.predictions.flat())], ['finalPrediction', Float32Array.from(out.finalPrediction)]]);
      await read(res, { sample: out.sample, latent: out.latent, differenceMap: out.differenceMap });
      image.dispose();
      unet.dispose();
      reg.dispose();
      return res;
    },
  },
  {
    // The whole of predictSlice reads asynchronously: the guided sample, the FLAIR masks and a map of 2 runs.
    name: "predictSlice (authors'-fork tiny networks, noise level 1, a map of 2 runs)",
    thresholded: { keys: ['probabilityModel', 'followupMaskNative', 'baselineMaskNative'], maxDiffering: 2 },
    run: async () => {
      const ref = loadAuthorsReference();
      const networks = await loadModels({
        diffusion: AUTHORS_UNET_PT, regressor: AUTHORS_REGRESSOR_PT, diffusionPreset: ref.unetConfig as unknown as UNetConfig, regressorPreset: ref.regressorConfig,
      });
      try {
        const S = networks.imageSize;
        const image = (ref.io.get('guided.image')!.data as Float32Array).slice(0, S * S * 4);
        // No label: the baseline mask comes from the FLAIR segmenter too.
        const slice = { width: S, height: S, native: image, model: image };
        // Noise level 1, unspaced: one step each way (SwiftShader is slow; the steps are the sample-known case's).
        const settings = { ...DEFAULT_SAMPLE_SETTINGS, noiseLevel: 1, respacing: '', scale: 2000, seed: 3, samples: 2 };
        const p = await predictSlice(networks, slice, 0.5, { settings });
        return new Map([
          ['followupModel', p.followupModel], ['followupNative', p.followupNative], ['trajectory', Float32Array.from(p.trajectory)],
          ['burdens', Float32Array.from([p.baselineBurden, p.targetBurden, p.predictedBurden])], ['probabilityModel', p.probabilityModel],
          ['followupMaskNative', Float32Array.from(p.followupMaskNative)], ['baselineMaskNative', Float32Array.from(p.baselineMaskNative)],
        ]);
      } finally {
        networks.dispose();
      }
    },
  },
  {
    // The reads of a training run: AdamW.minimizeAsync's loss, the moments (getStateAsync), the EMA
    // (valuesAsync) and the weights (stateDictAsync), which checkpoints save.
    name: 'diffusion U-Net (unet_a, learned sigma), one AdamW step with an EMA: loss, weights, moments and EMA',
    run: async () => {
      const model = createUNet(unetConfigOf(unetF));
      model.loadStateDict(unetF.weights, { source: 'unet_a' });
      const diffusion = createDiffusion({ steps: 1000, learnSigma: true });
      const x0 = ioTensor(unetF, 'x') as tf.Tensor4D;
      const noise = tf.randomNormal<tf.Rank.R4>(x0.shape, 0, 1, 'float32', 9);
      const y = tf.tensor1d(ioArray(unetF, 'y'), 'int32');
      const vars = model.params.variables;
      // lr 1e-4 (the paper's): Adam's first step is about lr * sign(g), so a gradient within rounding of 0
      // may move either way on the two backends, by at most 2 lr, below the tolerance.
      const opt = new AdamW({ learningRate: 1e-4, weightDecay: 0.01 });
      const ema = new ExponentialMovingAverage(vars, 0.9);
      const out: Results = new Map();
      try {
        const losses: number[] = [];
        for (const t of [[5, 600]]) {
          const loss = () => tf.mean(trainingLosses(diffusion, (x, tt, yy) => model.apply(x, tt, yy), x0, t, noise, { y }).loss) as tf.Scalar;
          losses.push(await opt.minimizeAsync(loss, vars));
          ema.update(vars);
        }
        out.set('losses', Float32Array.from(losses));
        for (const [k, v] of await model.stateDictAsync()) out.set(`w.${k}`, v.data);
        const byVar = new Map(model.params.entries().map((e) => [e.variable.name, e.name]));
        const state = await opt.getStateAsync();
        for (const [which, m] of [['m', state.m], ['v', state.v]] as const) for (const [k, v] of m) out.set(`${which}.${byVar.get(k)}`, v);
        for (const [k, v] of await ema.valuesAsync()) out.set(`ema.${byVar.get(k)}`, v);
      } finally {
        tf.dispose([x0, noise, y]);
        opt.dispose();
        ema.dispose();
        model.dispose();
      }
      return out;
    },
  },
  {
    // The reads of `tune`: the regressor's and the segmenter's readings of the baseline (tuneGuidance,
    // guided from the regressor's reading), and the regressor's accuracy on noised images
    // (regressorNoiseAccuracy, which tune's regressor check runs over more timesteps), all asynchronous.
    name: "tune (authors'-fork tiny networks): tuneGuidance on one phantom slice at noise level 1, and regressorNoiseAccuracy",
    run: async () => {
      const ref = loadAuthorsReference();
      const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'tc-webgpu-tune-'));
      const reg = createRegressor(ref.regressorConfig);
      try {
        const data = path.join(dir, 'phantom');
        await writePhantomDataset(data, { seed: 5, patients: 1, preview: false, patient: { sliceIds: [80], slice: { width: 48 } } });
        const r = await tuneGuidance({
          data, out: path.join(dir, 'out'), truth: path.join(data, 'followup'), targets: { kind: 'truth' },
          models: { diffusion: AUTHORS_UNET_PT, regressor: AUTHORS_REGRESSOR_PT, diffusionPreset: ref.unetConfig as unknown as UNetConfig, regressorPreset: ref.regressorConfig },
          noiseLevels: [1], scales: [1000], respacings: [''], baselineBurdens: ['regressor'], regressorCheck: false, settings: { seed: 2 },
        });
        const col = (f: (x: (typeof r.rows)[number]) => number) => Float32Array.from(r.rows.map(f));
        await reg.loadWeights(AUTHORS_REGRESSOR_PT);
        const S = ref.regressorConfig.imageSize;
        const image = (ref.io.get('guided.image')!.data as Float32Array).slice(0, S * S * 4);
        const noise = await regressorNoiseAccuracy(
          { regressor: reg, imageSize: S, dataRange: '[0,1]', process: { steps: 1000, schedule: 'linear', learnSigma: true } },
          [{ model: image, burden: 0.1 }, { model: image.map((v) => v * 0.5), burden: 0.05 }], { edges: [0, 500, 1000], perBucket: 1 },
        );
        return new Map([
          ['regressorBaselineBurden', col((x) => x.regressorBaselineBurden)], ['segmentedBaselineBurden', col((x) => x.segmentedBaselineBurden)],
          ['guidedTarget', col((x) => x.guidedTarget)], ['regressorBurden', col((x) => x.regressorBurden)],
          ['regressorNoise', Float32Array.from(noise.flatMap((q) => [q.mae, q.bias]))],
        ]);
      } finally {
        reg.dispose();
        fs.rmSync(dir, { recursive: true, force: true });
      }
    },
  },
];

function maxAbsDiff(a: Float32Array, b: Float32Array): number {
  if (a.length !== b.length) return Infinity;
  let m = 0;
  for (let i = 0; i < a.length; i++) {
    const d = Math.abs(a[i]! - b[i]!);
    if (!(d <= m)) m = Number.isNaN(d) ? Infinity : d;
  }
  return m;
}

/**
 * Names whose values differ by `tol` or more (or are missing), with the difference; the
 * `thresholded` names instead where more than `maxDiffering` of their values differ at all.
 */
function mismatches(got: Results, want: Results, tol: number, thresholded?: Case['thresholded']): string[] {
  const bad: string[] = [];
  for (const [k, w] of want) {
    const g = got.get(k);
    if (g && thresholded?.keys.includes(k)) {
      const n = g.length !== w.length ? Infinity : g.reduce((a, v, i) => a + (v === w[i] ? 0 : 1), 0);
      if (!(n <= thresholded.maxDiffering)) bad.push(`${k} (${n} values differ)`);
      continue;
    }
    const d = g ? maxAbsDiff(g, w) : Infinity;
    if (!(d < tol)) bad.push(`${k} (${d})`);
  }
  return bad;
}

// Is there an adapter? (Registers the backend without starting it.)
const probe = await setUpWebGPU({ allowSoftware: true });
const skipReason = probe.ok ? '' : `${probe.reason}; ${probe.hint}`;
if (skipReason) console.warn(`webgpu tests SKIPPED: no WebGPU adapter: ${skipReason}`);
// wasm first: tensors move from wasm to webgpu, never back (WebGPU has no synchronous read in Node).
const wasm = new Map<string, Results>();
if (!skipReason) {
  await initBackend({ backend: 'wasm', log: false });
  for (const c of CASES) wasm.set(c.name, await c.run());
  await initBackend({ backend: 'webgpu', log: false });
}
const d = skipReason ? describe.skip : describe;

// auto, with WebGPU on, must pass a software adapter over (then the backend returns to webgpu).
d('auto backend selection', () => {
  it('never takes the software adapter (SwiftShader here): it falls back to wasm, saying why', async () => {
    const saved = process.env['TUMORCAST_WEBGPU_AUTO'];
    delete process.env['TUMORCAST_WEBGPU_AUTO']; // the tests' setup turns WebGPU off for auto
    const lines: string[] = [];
    try {
      await initBackend({ backend: 'cpu', log: false });
      expect(await initBackend({ webgpuInAuto: true, log: (m) => lines.push(m) })).toBe(probe.ok && !probe.adapter.software ? 'webgpu' : 'wasm');
    } finally {
      process.env['TUMORCAST_WEBGPU_AUTO'] = saved;
    }
    if (probe.ok && probe.adapter.software) {
      expect(lines[0]).toMatch(/^tumorcast: compute backend 'wasm' \(.*; no WebGPU: (the only WebGPU adapter is a software one|the only Vulkan drivers are software ones)/);
    }
    await initBackend({ backend: 'webgpu', log: false });
  });
});

d('the webgpu backend', () => {
  beforeAll(() => {
    expect(tf.getBackend()).toBe('webgpu');
  });
  afterAll(async () => {
    await initBackend({ backend: 'wasm', log: false });
    // Frees the backend's GPU buffers: later test files may share this worker process.
    tf.removeBackend('webgpu');
  });

  it('runs on a WebGPU adapter and reports GPU memory; a synchronous read says what to do instead', async () => {
    expect(webgpuAdapter()).toBeDefined();
    const x = tf.tidy(() => tf.matMul(tf.ones([64, 64]), tf.ones([64, 64]))); // computed on the GPU
    const m = webgpuMemory()!;
    expect(m.maxBufferSize).toBeGreaterThan(0);
    expect(m.tensorBytes).toBeGreaterThanOrEqual(64 * 64 * 4);
    expect(m.allocatedBytes).toBeGreaterThanOrEqual(m.tensorBytes);
    expect(syncReadsAvailable()).toBe(false);
    expect(() => x.dataSync()).toThrow(WebGPUSyncReadError);
    expect(() => x.dataSync()).toThrow(/await tensor.data\(\)/);
    expect((await x.data())[0]).toBe(64);
    x.dispose();
  });

  it("refuses the 'onnx' denoiser up front, saying what to use", async () => {
    const ref = loadAuthorsReference();
    const p = loadModels({
      diffusion: AUTHORS_UNET_PT, regressor: AUTHORS_REGRESSOR_PT, diffusionPreset: ref.unetConfig as unknown as UNetConfig, regressorPreset: ref.regressorConfig, denoiser: 'onnx',
    });
    await expect(p).rejects.toBeInstanceOf(PipelineInputError);
    await expect(p).rejects.toThrow(/'models\.denoiser' = onnx cannot run on the 'webgpu' backend in Node/);
  });

  it.each(CASES.map((c) => [
    `${c.name}: agrees with wasm within 1e-3${c.thresholded ? ` (masks and maps: at most ${c.thresholded.maxDiffering} values differ)` : ''}${c.golden ? ' and with PyTorch' : ''}`, c,
  ] as const))('%s', async (_title, c) => {
    const before = tf.memory().numTensors;
    const got = await c.run();
    expect(tf.memory().numTensors).toBe(before);
    const ref = wasm.get(c.name)!;
    expect(got.size).toBe(ref.size);
    expect(mismatches(got, ref, TOL, c.thresholded)).toEqual([]);
    if (c.thresholded) for (const k of c.thresholded.keys) expect(got.get(k)!.some((v) => v > 0)).toBe(true); // not trivially empty
    if (c.golden) expect(mismatches(got, c.golden(), TOL)).toEqual([]);
  }, 600_000);
});
