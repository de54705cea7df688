import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import * as tf from '@tensorflow/tfjs';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { WeightsMismatchError, initBackend } from '@tumorcast/nn';
import type { FlopCounter } from '@tumorcast/nn';
import { UNET_PRESETS, createUNet, resolveUNetConfig } from './index.js';
import type { UNet, UNetConfig } from './index.js';
import { ioArray, ioTensor, loadFixture, maxAbsDiff, paramGradMismatches, presetShapes } from '../../nn/test/network-fixtures.js';
import type { Fixture } from '../../nn/test/network-fixtures.js';

const TOL = 1e-4;
let tmp: string;

/** The TS config of a fixture's PyTorch UNetModel kwargs (attention given as downsample factors there). */
function configOf(f: Fixture): UNetConfig {
  const kwargs = f.config as Record<string, never>;
  // Each kwarg typed `never`, so that it fits its config field.
  const c = (name: string): never => {
    const v = kwargs[name];
    if (v === undefined) throw new Error(`fixture kwarg '${name}' missing from its config`);
    return v;
  };
  const size = c('image_size') as number;
  return {
    imageSize: size,
    inChannels: c('in_channels'),
    modelChannels: c('model_channels'),
    outChannels: c('out_channels'),
    numResBlocks: c('num_res_blocks'),
    attentionResolutions: (c('attention_resolutions') as number[]).map((ds) => size / ds),
    dropout: c('dropout'),
    channelMult: c('channel_mult'),
    convResample: c('conv_resample'),
    numClasses: c('num_classes'),
    numHeads: c('num_heads'),
    numHeadChannels: c('num_head_channels'),
    numHeadsUpsample: c('num_heads_upsample'),
    useScaleShiftNorm: c('use_scale_shift_norm'),
    resblockUpdown: c('resblock_updown'),
    useNewAttentionOrder: c('use_new_attention_order'),
  };
}

function fixtureModel(name: string): { f: Fixture; model: UNet } {
  const f = loadFixture(name);
  const model = createUNet(configOf(f));
  model.loadStateDict(f.weights, { source: name });
  return { f, model };
}

beforeAll(async () => {
  await initBackend({ log: false });
  tmp = mkdtempSync(path.join(tmpdir(), 'tumorcast-unet-'));
});
afterAll(() => rmSync(tmp, { recursive: true, force: true }));

describe('@tumorcast/unet against the PyTorch reference (wasm)', () => {
  it('runs on the wasm backend', () => {
    expect(tf.getBackend()).toBe('wasm');
  });

  it.each(['unet_a', 'unet_b'])('%s: output, input gradient and parameter gradients within 1e-4', (name) => {
    const { f, model } = fixtureModel(name);
    const t = ioArray(f, 't');
    const y = f.io.has('y') ? ioArray(f, 'y') : undefined;
    tf.tidy(() => {
      const x = ioTensor(f, 'x') as tf.Tensor4D;
      const out = model.apply(x, t, y);
      expect(maxAbsDiff(out, ioTensor(f, 'out'))).toBeLessThan(TOL);
      const gw = ioTensor(f, 'gw');
      const gx = tf.grad((xx: tf.Tensor) => tf.sum(tf.mul(model.apply(xx as tf.Tensor4D, t, y), gw)))(x);
      expect(maxAbsDiff(gx, ioTensor(f, 'gx'))).toBeLessThan(TOL);
      expect(f.paramGrads.size).toBeGreaterThan(0);
      expect(paramGradMismatches(f, model.params, () => tf.sum(tf.mul(model.apply(x, t, y), gw)) as tf.Scalar, TOL)).toEqual([]);
    });
    model.dispose();
  });

  it('a training loss has a non-zero gradient for every parameter', () => {
    const { f, model } = fixtureModel('unet_a');
    const x = ioTensor(f, 'x') as tf.Tensor4D;
    const target = tf.randomNormal([2, 16, 16, 8], 0, 1, 'float32', 7);
    const { value, grads } = tf.variableGrads(
      () => tf.losses.meanSquaredError(target, model.apply(x, [10, 500], [0, 1])) as tf.Scalar,
      model.trainableVariables,
    );
    const zero: string[] = [];
    for (const e of model.params.entries()) {
      const g = grads[e.variable.name];
      if (!g || tf.tidy(() => tf.max(tf.abs(g)).dataSync()[0]) === 0) zero.push(e.name);
    }
    // label_emb rows of classes absent from the batch get zero gradient; both classes are present here.
    expect(zero).toEqual([]);
    expect(Object.keys(grads)).toHaveLength(model.trainableVariables.length);
    tf.dispose([value, grads, x, target]);
    model.dispose();
  });

  it('does not leak tensors across repeated apply / gradient / optimizer steps', () => {
    const model = createUNet({ ...UNET_PRESETS.small, imageSize: 16, channelMult: [1, 1], numResBlocks: 1, attentionResolutions: [8] }, { seed: 1 });
    const x = tf.randomNormal([2, 16, 16, 4]) as tf.Tensor4D;
    const opt = tf.train.adam(1e-3);
    const step = () => {
      tf.tidy(() => {
        model.apply(x, 5, [0, 1]);
      });
      opt.minimize(() => tf.mean(tf.square(model.apply(x, [1, 2], [1, 0]))) as tf.Scalar, false, model.trainableVariables);
    };
    step();
    const before = tf.memory().numTensors;
    for (let i = 0; i < 3; i++) step();
    expect(tf.memory().numTensors).toBe(before);
    opt.dispose();
    x.dispose();
    model.dispose();
  });
});

describe('weights', () => {
  it('save / load safetensors round-trips with PyTorch names and layouts', async () => {
    const { f, model } = fixtureModel('unet_b');
    const file = path.join(tmp, 'unet_b.safetensors');
    await model.saveWeights(file);
    const other = createUNet(configOf(f), { seed: 99 });
    const meta = await other.loadWeights(file);
    expect(JSON.parse(meta['tumorcast.unet.config']!).modelChannels).toBe(32);
    const sd = other.stateDict();
    for (const [k, v] of f.weights) expect(Array.from(sd.get(k)!.data)).toEqual(Array.from(v.data as Float32Array));
    model.dispose();
    other.dispose();
  });

  it('refuses weights of another architecture, listing the keys', () => {
    const f = loadFixture('unet_a');
    const model = createUNet({ ...configOf(f), numClasses: null, outChannels: 4 });
    let err: unknown;
    try {
      model.loadStateDict(f.weights, { source: 'unet_a' });
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(WeightsMismatchError);
    expect((err as Error).message).toMatch(/unexpected keys \(1\): label_emb\.weight/);
    expect((err as Error).message).toMatch(/out\.2\.weight expected \[4,32,3,3\] got \[8,32,3,3\]/);
    model.dispose();
  });

  it('the small preset has guided-diffusion\'s state_dict names and shapes', () => {
    const ref = presetShapes()['unet_small']!;
    const model = createUNet('small');
    const mine = model.params.entries().map((e) => [e.name, [...e.torchShape]]);
    expect(new Map(mine as [string, number[]][])).toEqual(new Map(ref.shapes));
    expect(model.parameterCount).toBe(ref.parameters);
    const flops: FlopCounter = { flops: 0 };
    tf.tidy(() => {
      const out = model.apply(tf.zeros([1, 64, 64, 4]) as tf.Tensor4D, 3, [1], { flops });
      expect(out.shape).toEqual([1, 64, 64, 8]);
      // zero-initialised output conv
      expect(tf.max(tf.abs(out)).dataSync()[0]).toBe(0);
    });
    expect(flops.flops).toBeGreaterThan(1e8);
    model.dispose();
  });
});

describe('validation', () => {
  it('resolves presets and rejects bad configs naming the field', () => {
    expect(resolveUNetConfig('paper').attentionDs).toEqual([16]);
    expect(resolveUNetConfig('paper').outChannels).toBe(8);
    expect(() => createUNet({ imageSize: 64, inChannels: 4, modelChannels: 48, channelMult: [1] })).toThrow(/'config\.channelMult' passed to 'createUNet'/);
    expect(() => createUNet({ imageSize: 62, inChannels: 4, modelChannels: 32, channelMult: [1, 1, 1] })).toThrow(/'config\.imageSize'/);
    expect(() => createUNet({ imageSize: 48, inChannels: 4, modelChannels: 32 })).toThrow(/'imageSize' passed to 'defaultChannelMult'/);
    expect(() => createUNet('huge' as never)).toThrow(/'config' passed to 'createUNet'/);
    expect(() => createUNet({ ...UNET_PRESETS.small, numHeads: 3 })).toThrow(/'numHeads' passed to 'AttentionBlock'/);
  });

  it('rejects bad inputs naming the argument', () => {
    const model = createUNet({ ...UNET_PRESETS.small, imageSize: 16, channelMult: [1, 1], numResBlocks: 1, attentionResolutions: [8] });
    const x = tf.zeros([2, 16, 16, 4]) as tf.Tensor4D;
    expect(() => model.apply(x, [1, 2])).toThrow(/'y' passed to 'UNet.apply' is required/);
    expect(() => model.apply(x, [1, 2], [0, 2])).toThrow(/'y' passed to 'UNet.apply' must hold integers in \[0, 2\)/);
    expect(() => model.apply(x, [1, 2, 3], [0, 1])).toThrow(/'t' passed to 'UNet.apply'/);
    expect(() => model.apply(tf.zeros([2, 16, 16, 3]) as tf.Tensor4D, 1, [0, 1])).toThrow(/'x' passed to 'UNet.apply' must have 4 channels/);
    expect(() => model.apply(tf.zeros([2, 15, 16, 4]) as tf.Tensor4D, 1, [0, 1])).toThrow(/divisible by 2/);
    tf.dispose(x);
    model.dispose();
    expect(() => model.stateDict()).toThrow(/after 'dispose'/);
  });
});
