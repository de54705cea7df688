import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import * as tf from '@tensorflow/tfjs';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { initBackend } from '@tumorcast/nn';
import { createUNet } from '@tumorcast/unet';
import type { UNet, UNetConfig } from '@tumorcast/unet';
import { createDiffusion } from '@tumorcast/diffusion';
import { createRegressor } from '@tumorcast/regressor';
import type { Regressor } from '@tumorcast/regressor';
import { guidedSampleKnown } from '@tumorcast/guided-sampler';
import { createOnnxDenoiser, OnnxRuntimeUnavailableError, unetToOnnx } from './index.js';
import type { OnnxDenoiser } from './index.js';
import { ioArray, ioTensor, loadFixture } from '../../nn/test/network-fixtures.js';
import type { Fixture } from '../../nn/test/network-fixtures.js';
import {
  AUTHORS_REGRESSOR_PT, AUTHORS_UNET_PT, loadAuthorsReference, refArray, refTensor,
} from '../../regressor/test/authors-fork.js';

// Tolerances: one forward in float32 through a different kernel library (ONNX Runtime's MLAS vs
// XNNPACK / PyTorch) differs by ~1e-6 relative; 1e-4 on outputs of order 1, as the tfjs U-Net's own
// PyTorch tests. A guided run accumulates 20-40 such steps: 1e-3, as the guided sampler's tests.
const TOL = 1e-4;
const TOL_GUIDED = 1e-3;

let tmp: string;
beforeAll(async () => {
  await initBackend({ log: false });
  tmp = mkdtempSync(path.join(tmpdir(), 'tumorcast-onnx-'));
});
afterAll(() => rmSync(tmp, { recursive: true, force: true }));

const maxAbs = (a: tf.Tensor | ArrayLike<number>, b: tf.Tensor | ArrayLike<number>): number => {
  const x = a instanceof tf.Tensor ? a.dataSync() : a;
  const y = b instanceof tf.Tensor ? b.dataSync() : b;
  if (x.length !== y.length) throw new Error(`length ${x.length} vs ${y.length}`);
  let m = 0;
  for (let i = 0; i < x.length; i++) m = Math.max(m, Math.abs(x[i]! - y[i]!));
  return m;
};

/** A U-Net with every weight random (the zero-initialised output convs would hide a wrong graph). */
function randomUNet(config: UNetConfig, seed: number): UNet {
  const unet = createUNet(config, { seed });
  unet.trainableVariables.forEach((v, i) => v.assign(tf.randomNormal(v.shape, 0, 0.2, 'float32', seed + i)));
  return unet;
}

async function compareWithTfjs(unet: UNet, batch: number, size: number): Promise<{ diff: number; scale: number }> {
  const den = await createOnnxDenoiser(unet, { threads: 1, callTimeoutMs: 60_000 });
  try {
    const x = tf.randomNormal([batch, size, size, unet.config.inChannels], 0, 1, 'float32', 11) as tf.Tensor4D;
    const t = tf.tensor1d(Array.from({ length: batch }, (_, i) => 7 + 413 * i));
    const y = unet.config.numClasses !== null ? tf.tensor1d(Array.from({ length: batch }, (_, i) => i % unet.config.numClasses!), 'int32') : undefined;
    const want = unet.apply(x, t, y);
    const got = den(x, t, y);
    expect(got.shape).toEqual(want.shape);
    const r = { diff: maxAbs(got, want), scale: tf.max(tf.abs(want)).dataSync()[0]! };
    tf.dispose([x, t, y, want, got]);
    return r;
  } finally {
    await den.dispose();
  }
}

describe('the ONNX U-Net against the tfjs U-Net (random weights)', () => {
  const cases: [string, UNetConfig][] = [
    ['legacy attention, 2 heads, class-conditional, learned sigma', {
      imageSize: 16, inChannels: 4, modelChannels: 32, numResBlocks: 1, attentionResolutions: [8, 4], channelMult: [1, 2, 2],
      numClasses: 2, learnSigma: true, numHeads: 2,
    }],
    ['scale-shift, resblock up/down, new attention order, head channels, unconditional', {
      imageSize: 16, inChannels: 3, modelChannels: 32, numResBlocks: 1, attentionResolutions: [8], channelMult: [1, 2, 2],
      useScaleShiftNorm: true, resblockUpdown: true, useNewAttentionOrder: true, numHeadChannels: 16,
    }],
    ['pooling and nearest resampling, 2 blocks per level, fewer decoder heads', {
      imageSize: 16, inChannels: 4, modelChannels: 32, numResBlocks: 2, attentionResolutions: [4], channelMult: [1, 1, 2],
      convResample: false, numHeads: 2, numHeadsUpsample: 1, numClasses: 3,
    }],
  ];
  it.each(cases)('%s: within 1e-4', async (_name, config) => {
    const unet = randomUNet(config, 5);
    const { diff, scale } = await compareWithTfjs(unet, 2, 16);
    expect(scale).toBeGreaterThan(0.3); // a non-degenerate output
    expect(diff).toBeLessThan(TOL);
    unet.dispose();
  });

  it('takes other image sizes than the training size (24x32)', async () => {
    const unet = randomUNet(cases[0]![1], 9);
    const den = await createOnnxDenoiser(unet, { threads: 1, callTimeoutMs: 60_000 });
    const x = tf.randomNormal([1, 24, 32, 4], 0, 1, 'float32', 3) as tf.Tensor4D;
    const t = tf.tensor1d([99]);
    const y = tf.tensor1d([1], 'int32');
    expect(maxAbs(den(x, t, y), unet.apply(x, t, y))).toBeLessThan(TOL);
    await den.dispose();
    unet.dispose();
  });
});

/** The TS config of a fixture's PyTorch UNetModel kwargs (attention given as downsample factors there). */
function configOf(f: Fixture): UNetConfig {
  const kwargs = f.config as Record<string, never>;
  // each kwarg typed `never`, so that it fits its config field
  const k = (name: string): never => {
    const v = kwargs[name];
    if (v === undefined) throw new Error(`fixture kwarg '${name}' missing from its config`);
    return v;
  };
  const size = k('image_size') as number;
  return {
    imageSize: size, inChannels: k('in_channels'), modelChannels: k('model_channels'), outChannels: k('out_channels'),
    numResBlocks: k('num_res_blocks'), attentionResolutions: (k('attention_resolutions') as number[]).map((ds) => size / ds),
    dropout: k('dropout'), channelMult: k('channel_mult'), convResample: k('conv_resample'), numClasses: k('num_classes'),
    numHeads: k('num_heads'), numHeadChannels: k('num_head_channels'), numHeadsUpsample: k('num_heads_upsample'),
    useScaleShiftNorm: k('use_scale_shift_norm'), resblockUpdown: k('resblock_updown'), useNewAttentionOrder: k('use_new_attention_order'),
  };
}

describe('the ONNX U-Net against PyTorch (golden files of tools/networks)', () => {
  it.each(['unet_a', 'unet_b'])('%s: guided-diffusion UNetModel output within 1e-4', async (name) => {
    const f = loadFixture(name);
    const unet = createUNet(configOf(f));
    unet.loadStateDict(f.weights, { source: name });
    const den = await createOnnxDenoiser(unet, { threads: 1, callTimeoutMs: 60_000 });
    unet.dispose(); // the session holds its own copy of the weights
    const x = ioTensor(f, 'x') as tf.Tensor4D;
    const t = tf.tensor1d(ioArray(f, 't'));
    const y = f.io.has('y') ? tf.tensor1d(ioArray(f, 'y'), 'int32') : undefined;
    const out = den(x, t, y);
    expect(maxAbs(out, ioTensor(f, 'out'))).toBeLessThan(TOL);
    tf.dispose([x, t, y, out]);
    await den.dispose();
  });

  it("the authors' fork U-Net (.pt): output within 1e-4", async () => {
    const ref = loadAuthorsReference();
    const unet = createUNet(ref.unetConfig as unknown as UNetConfig);
    await unet.loadWeights(AUTHORS_UNET_PT);
    const den = await createOnnxDenoiser(unet, { callTimeoutMs: 60_000 });
    unet.dispose();
    const x = refTensor(ref, 'unet.x') as tf.Tensor4D;
    const t = tf.tensor1d(refArray(ref, 'unet.t'));
    const y = tf.tensor1d(refArray(ref, 'unet.y'), 'int32');
    const out = den(x, t, y);
    const want = refTensor(ref, 'unet.out');
    expect(tf.max(tf.abs(want)).dataSync()[0]).toBeGreaterThan(0.5);
    expect(maxAbs(out, want)).toBeLessThan(TOL);
    tf.dispose([x, t, y, out, want]);
    await den.dispose();
  });
});

describe('guided sample-known with the ONNX denoiser', () => {
  let unet: UNet;
  let reg: Regressor;
  let den: OnnxDenoiser;
  const ref = loadAuthorsReference();
  beforeAll(async () => {
    unet = createUNet(ref.unetConfig as unknown as UNetConfig);
    await unet.loadWeights(AUTHORS_UNET_PT);
    reg = createRegressor(ref.regressorConfig);
    await reg.loadWeights(AUTHORS_REGRESSOR_PT);
    den = await createOnnxDenoiser(unet, { callTimeoutMs: 60_000 });
  });
  afterAll(async () => {
    await den?.dispose();
    unet?.dispose();
    reg?.dispose();
  });

  it('agrees with PyTorch (tools/diffusion reference) and with the tfjs denoiser within 1e-3 (ddim respacing)', async () => {
    const run = ref.runs.find((r) => r.respacing)!;
    const diffusion = createDiffusion({ steps: 1000, learnSigma: true, timestepRespacing: run.respacing });
    const image = refTensor(ref, 'guided.image') as tf.Tensor4D;
    const common = {
      diffusion, regressor: reg, image, dataRange: '[0,1]' as const, regressorDataRange: '[0,1]' as const,
      baselineBurden: ref.baselineBurden, relativeChange: ref.relativeChange, noiseLevel: run.noiseLevel,
      classLabel: ref.classLabel, initialNoiseStd: 0, seed: 1, scale: run.scale,
    };
    const onnx = await guidedSampleKnown({ ...common, model: den });
    const tfjs = await guidedSampleKnown({ ...common, model: (x, t, y) => unet.apply(x, t, y) });
    expect(onnx.steps).toBe(run.steps);
    expect(maxAbs(onnx.latent, run.latent)).toBeLessThan(TOL_GUIDED);
    expect(maxAbs(onnx.sample, run.sample)).toBeLessThan(TOL_GUIDED);
    expect(maxAbs(onnx.finalPrediction, run.finalPrediction)).toBeLessThan(TOL_GUIDED);
    expect(maxAbs(onnx.sample, tfjs.sample)).toBeLessThan(TOL_GUIDED);
    expect(maxAbs(onnx.latent, tfjs.latent)).toBeLessThan(TOL_GUIDED);
    // the comparison can fail: the guidance moves the sample far more than the tolerance
    expect(maxAbs(onnx.sample, run.sampleScale0)).toBeGreaterThan(2e-2);
    tf.dispose([image, onnx.sample, onnx.latent, onnx.differenceMap, tfjs.sample, tfjs.latent, tfjs.differenceMap]);
  });

  it('checks its inputs like UNet.apply, naming the argument', () => {
    const c = unet.config;
    const s = c.imageSize;
    const x = tf.zeros([1, s, s, c.inChannels]) as tf.Tensor4D;
    const t = tf.tensor1d([3]);
    const y = tf.tensor1d([1], 'int32');
    expect(() => den(tf.zeros([1, s, s, c.inChannels + 1]) as tf.Tensor4D, t, y)).toThrow(new RegExp(`'x' passed to 'OnnxDenoiser' must have ${c.inChannels} channels`));
    expect(() => den(x, tf.tensor1d([1, 2]), y)).toThrow(/'t' passed to 'OnnxDenoiser' must be a 1-D tensor with one timestep per image \(1\)/);
    expect(() => den(x, t)).toThrow(/'y' passed to 'OnnxDenoiser' is required: the model is class-conditional/);
    tf.dispose([x, t, y]);
  });
});

describe('errors', () => {
  it('a missing onnxruntime-node gives OnnxRuntimeUnavailableError saying how to install it or use tfjs', async () => {
    const unet = randomUNet({ imageSize: 8, inChannels: 1, modelChannels: 32, numResBlocks: 1, attentionResolutions: [], channelMult: [1, 1] }, 1);
    const p = createOnnxDenoiser(unet, { runtimeModule: 'onnxruntime-node-not-installed' });
    await expect(p).rejects.toBeInstanceOf(OnnxRuntimeUnavailableError);
    await expect(p).rejects.toThrow(/ONNX Runtime \('onnxruntime-node-not-installed'\) could not be loaded: .*npm install onnxruntime-node.*ONNXRUNTIME_NODE_INSTALL=skip.*denoiser: 'tfjs'/);
    unet.dispose();
  });

  it('a runtime whose module fails to load (e.g. its native binding) gives the same error', async () => {
    const broken = path.join(tmp, 'broken-runtime.cjs');
    writeFileSync(broken, "throw new Error('libonnxruntime.so.1: cannot open shared object file');\n");
    const unet = randomUNet({ imageSize: 8, inChannels: 1, modelChannels: 32, numResBlocks: 1, attentionResolutions: [], channelMult: [1, 1] }, 1);
    const p = createOnnxDenoiser(unet, { runtimeModule: broken });
    await expect(p).rejects.toBeInstanceOf(OnnxRuntimeUnavailableError);
    await expect(p).rejects.toThrow(/could not be loaded: libonnxruntime\.so\.1: cannot open shared object file/);
    unet.dispose();
  });

  it("refuses the webgpu backend in Node up front, saying why and what to use (a stub backend named 'webgpu')", async () => {
    const unet = randomUNet({ imageSize: 8, inChannels: 1, modelChannels: 32, numResBlocks: 1, attentionResolutions: [], channelMult: [1, 1] }, 1);
    class StubBackend extends tf.KernelBackend {
      override dispose(): void {}
    }
    tf.registerBackend('webgpu', () => new StubBackend(), 0);
    try {
      expect(await tf.setBackend('webgpu')).toBe(true);
      await expect(createOnnxDenoiser(unet)).rejects.toThrow(
        /^the OnnxDenoiser cannot run on the 'webgpu' backend in Node: the samplers call their model synchronously, .*WebGPU cannot do in Node\. Run the U-Net with tfjs on the GPU instead .*or use the ONNX denoiser with the wasm, tensorflow or cpu backend$/,
      );
    } finally {
      await initBackend({ backend: 'wasm', log: false });
      tf.removeBackend('webgpu');
    }
    unet.dispose();
  });

  it('bad arguments and a disposed denoiser are refused', async () => {
    expect(() => unetToOnnx({} as UNet)).toThrow(/'unet' passed to 'unetToOnnx' must be a UNet of @tumorcast\/unet/);
    await expect(createOnnxDenoiser(null as unknown as UNet)).rejects.toThrow(/'unet' passed to 'createOnnxDenoiser' must be a UNet/);
    const unet = randomUNet({ imageSize: 8, inChannels: 1, modelChannels: 32, numResBlocks: 1, attentionResolutions: [], channelMult: [1, 1] }, 1);
    await expect(createOnnxDenoiser(unet, { threads: 0 })).rejects.toThrow(/'options.threads' passed to 'createOnnxDenoiser' must be a positive integer, got 0/);
    const den = await createOnnxDenoiser(unet, { threads: 1, callTimeoutMs: 60_000 });
    const x = tf.zeros([1, 8, 8, 1]) as tf.Tensor4D;
    const t = tf.tensor1d([1]);
    expect(() => den(tf.zeros([1, 7, 8, 1]) as tf.Tensor4D, t)).toThrow(/'x' passed to 'OnnxDenoiser' must have height and width divisible by 2 \(the U-Net's 2 levels\), got \[7, 8\]/);
    expect(() => den(x, t, tf.tensor1d([0], 'int32'))).toThrow(/'y' passed to 'OnnxDenoiser' must be omitted: the model is not class-conditional/);
    // a backend without synchronous reads (webgpu in Node) is named, with the backends that work
    const unreadable = tf.zeros([1, 8, 8, 1]) as tf.Tensor4D;
    unreadable.dataSync = () => { throw new Error('synchronous reads are unavailable'); };
    expect(() => den(unreadable, t)).toThrow(/the OnnxDenoiser reads its inputs synchronously, which the 'wasm' backend cannot \(synchronous reads are unavailable\); use it with the wasm, cpu or tensorflow backend/);
    unreadable.dispose();
    await den.dispose();
    expect(() => den(x, t)).toThrow(/the OnnxDenoiser was disposed/);
    tf.dispose([x, t]);
    unet.dispose();
  });
});
