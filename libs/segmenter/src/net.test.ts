import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import * as tf from '@tensorflow/tfjs';
import { readFileSync } from 'node:fs';
import { initBackend, readSafetensors } from '@tumorcast/nn';
import { Rng } from '@tumorcast/random';
import type { StateTensor } from '@tumorcast/nn';
import { SEGMENTER_PRESETS, createSegmenterNet, resolveSegmenterConfig } from './index.js';
import type { SegmenterConfig, SegmenterNet } from './index.js';
import { FIXTURES } from './test-utils/data.js';

const TINY: SegmenterConfig = { imageSize: 16, baseChannels: 8, normGroups: 4, channelMult: [1, 2, 2], numResBlocks: 1 };
let net: SegmenterNet;

beforeAll(async () => {
  await initBackend({ log: false });
  net = createSegmenterNet(TINY, { seed: 5 });
});
afterAll(() => net.dispose());

describe('config', () => {
  it('applies defaults and resolves presets', () => {
    expect(resolveSegmenterConfig({ imageSize: 64, baseChannels: 32 })).toEqual({
      imageSize: 64, inChannels: 4, baseChannels: 32, channelMult: [1, 2, 2], numResBlocks: 2, dropout: 0, normGroups: 32,
    });
    expect(resolveSegmenterConfig('small')).toMatchObject({ imageSize: 64, baseChannels: 32, channelMult: [1, 2, 2] });
    expect(resolveSegmenterConfig('paper')).toMatchObject({ imageSize: 256, baseChannels: 64, channelMult: [1, 1, 2, 2, 4] });
    expect(Object.keys(SEGMENTER_PRESETS).sort()).toEqual(['paper', 'small']);
  });

  it('rejects bad configs naming the field', () => {
    expect(() => resolveSegmenterConfig('huge' as never)).toThrow(/'config' .*preset name.*'huge'/);
    expect(() => resolveSegmenterConfig({ imageSize: 0, baseChannels: 32 })).toThrow(/'config.imageSize'.*positive integer/);
    expect(() => resolveSegmenterConfig({ imageSize: 64, baseChannels: 24 })).toThrow(/'config.channelMult'.*24 channels.*normGroups 32/);
    expect(() => resolveSegmenterConfig({ imageSize: 62, baseChannels: 32 })).toThrow(/'config.imageSize'.*divisible by 4.*62/);
    expect(() => resolveSegmenterConfig({ imageSize: 64, baseChannels: 32, channelMult: [] })).toThrow(/'config.channelMult'.*non-empty/);
    expect(() => resolveSegmenterConfig({ imageSize: 64, baseChannels: 32, dropout: 1 })).toThrow(/'config.dropout'/);
    expect(() => resolveSegmenterConfig({ imageSize: 64, baseChannels: 32, levels: 3 } as never)).toThrow(/unknown keys: levels/);
    expect(() => createSegmenterNet({ imageSize: 64, baseChannels: 32, numResBlocks: 1.5 })).toThrow(/'config.numResBlocks' passed to 'createSegmenterNet'/);
  });

  it('builds the presets with the documented parameter counts', () => {
    const small = createSegmenterNet('small');
    try {
      expect(small.parameterCount).toBe(SMALL_PARAMS);
      expect(small.params.names()[0]).toBe('in_conv.weight');
      expect(small.params.names().at(-1)).toBe('out_conv.bias');
    } finally {
      small.dispose();
    }
  });
});

// Counted by hand from the documented architecture (the same count gives the
// PyTorch fixture's 23025 parameters): convs i*o*k*k + o, GroupNorms 2c.
const SMALL_PARAMS = 958_849;

describe('SegmenterNet', () => {
  it('maps [B,H,W,4] to logits [B,H,W,1], for any size divisible by 2^(levels-1)', () => {
    for (const [b, h, w] of [[2, 16, 16], [1, 8, 24]] as const) {
      const x = tf.randomUniform([b, h, w, 4], 0, 1, 'float32', 1) as tf.Tensor4D;
      const y = net.apply(x);
      const p = net.predictProbabilities(x);
      expect(y.shape).toEqual([b, h, w, 1]);
      expect(p.shape).toEqual([b, h, w, 1]);
      const d = tf.tidy(() => tf.max(tf.abs(tf.sub(tf.sigmoid(y), p))).dataSync()[0]!);
      expect(d).toBeLessThan(1e-6);
      tf.dispose([x, y, p]);
    }
  });

  it('matches the PyTorch reference (tools/segmenter/make_fixtures.py) within 1e-4', () => {
    const file = readSafetensors(readFileSync(`${FIXTURES}net_tiny.safetensors`), { source: 'net_tiny' });
    const config = JSON.parse(file.metadata['config']!) as SegmenterConfig;
    const ref = createSegmenterNet(config);
    try {
      const weights = new Map<string, StateTensor>();
      for (const [k, v] of file.tensors) if (k.startsWith('w.')) weights.set(k.slice(2), v);
      expect(ref.params.names()).toEqual([...weights.keys()]); // same names, same (PyTorch module) order
      ref.loadStateDict(weights, { source: 'net_tiny' });
      const io = (k: string) => file.tensors.get(`io.${k}`)!;
      const x = tf.tensor4d(io('x').data as Float32Array, io('x').shape as [number, number, number, number]);
      const expected = tf.tensor(io('logits').data as Float32Array, io('logits').shape);
      const y = ref.apply(x);
      expect(y.shape).toEqual(expected.shape);
      const d = tf.tidy(() => tf.max(tf.abs(tf.sub(y, expected))).dataSync()[0]!);
      expect(d).toBeLessThan(1e-4);
      tf.dispose([x, y, expected]);
    } finally {
      ref.dispose();
    }
  });

  it('rejects bad inputs with messages naming the argument', () => {
    const before = tf.memory().numTensors;
    const x3 = tf.zeros([2, 16, 16, 3]) as tf.Tensor4D;
    expect(() => net.apply(x3)).toThrow(/'x' passed to 'SegmenterNet.apply' must have 4 channels.*\[2,16,16,3\]/);
    const r3 = tf.zeros([16, 16, 4]) as unknown as tf.Tensor4D;
    expect(() => net.apply(r3)).toThrow(/'x' passed to 'SegmenterNet.apply' must be a 4-D NHWC tensor/);
    expect(() => net.predictProbabilities(r3)).toThrow(/'x' passed to 'SegmenterNet.predictProbabilities' must be a 4-D/);
    const odd = tf.zeros([1, 18, 16, 4]) as tf.Tensor4D;
    expect(() => net.apply(odd)).toThrow(/'x' passed to 'SegmenterNet.apply' must have height and width divisible by 4.*18x16/);
    expect(() => net.apply([1, 2] as unknown as tf.Tensor4D)).toThrow(/must be a 4-D NHWC tensor/);
    tf.dispose([x3, r3, odd]);
    expect(tf.memory().numTensors).toBe(before);
  });

  it('requires an rng for dropout in training mode; dropout is off at inference', () => {
    const d = createSegmenterNet({ ...TINY, dropout: 0.5 }, { seed: 5 });
    const x = tf.randomUniform([1, 16, 16, 4], 0, 1, 'float32', 2) as tf.Tensor4D;
    try {
      expect(() => d.apply(x, { training: true })).toThrow(/'options.rng' passed to 'SegmenterNet.apply' is required/);
      const a = d.apply(x);
      const b = net.apply(x); // same seed and architecture: dropout changes nothing at inference
      const t = d.apply(x, { training: true, rng: new Rng(1) });
      expect(tf.tidy(() => tf.max(tf.abs(tf.sub(a, b))).dataSync()[0]!)).toBe(0);
      expect(tf.tidy(() => tf.max(tf.abs(tf.sub(a, t))).dataSync()[0]!)).toBeGreaterThan(0);
      tf.dispose([a, b, t]);
    } finally {
      d.dispose();
      x.dispose();
    }
  });

  it('leaks no tensors across repeated calls', () => {
    const x = tf.randomUniform([2, 16, 16, 4], 0, 1, 'float32', 3) as tf.Tensor4D;
    const first = net.predictProbabilities(x);
    first.dispose();
    const before = tf.memory().numTensors;
    for (let i = 0; i < 5; i++) {
      tf.dispose([net.apply(x), net.predictProbabilities(x)]);
      expect(tf.memory().numTensors).toBe(before);
    }
    x.dispose();
  });
});
