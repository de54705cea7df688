import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import * as tf from '@tensorflow/tfjs';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { WeightsMismatchError, initBackend, writeSafetensors } from '@tumorcast/nn';
import { SEGMENTER_CONFIG_KEY, createSegmenterNet, learnedSegmenter, loadSegmenter, saveSegmenter } from './index.js';
import type { Segmenter } from '@tumorcast/guided-sampler';
import type { SegmenterConfig, SegmenterNet } from './index.js';

const TINY: SegmenterConfig = { imageSize: 16, baseChannels: 8, normGroups: 4, channelMult: [1, 2], numResBlocks: 1 };
let net: SegmenterNet;
let tmp: string;

beforeAll(async () => {
  await initBackend({ log: false });
  net = createSegmenterNet(TINY, { seed: 9 });
  tmp = mkdtempSync(path.join(tmpdir(), 'tumorcast-segmenter-'));
});
afterAll(() => {
  net.dispose();
  rmSync(tmp, { recursive: true, force: true });
});

const maxDiff = (a: tf.Tensor, b: tf.Tensor) => tf.tidy(() => tf.max(tf.abs(tf.sub(a, b))).dataSync()[0]!);

describe('learnedSegmenter', () => {
  it('returns a binary float mask [B,H,W,1] equal to thresholded probabilities of (image + 1) / 2', () => {
    const seg: Segmenter = learnedSegmenter(net, { threshold: 0.5 });
    expect(seg.name).toBe('learned-unet');
    const x01 = tf.randomUniform([2, 16, 16, 4], 0, 1, 'float32', 4) as tf.Tensor4D;
    const image = tf.sub(tf.mul(x01, 2), 1) as tf.Tensor4D; // the guided sampler's [-1, 1]
    const baseline = tf.zeros([2, 16, 16, 4]) as tf.Tensor4D;
    const m = seg.segment({ image, baseline }) as tf.Tensor4D;
    expect(m.shape).toEqual([2, 16, 16, 1]);
    expect(m.dtype).toBe('float32');
    const p = net.predictProbabilities(x01);
    const data = m.dataSync();
    const pd = p.dataSync();
    let agree = 0;
    for (let i = 0; i < pd.length; i++) if (data[i] === (pd[i]! >= 0.5 ? 1 : 0) && (data[i] === 0 || data[i] === 1)) agree++;
    expect(agree).toBeGreaterThanOrEqual(pd.length - 2); // (x*2-1+1)/2 may differ from x by 1 ulp at the threshold
    // [0,1] inputs pass through unchanged; a threshold at the median probability splits the pixels.
    const med = [...pd].sort((a, b) => a - b)[pd.length >> 1]!;
    const s01 = learnedSegmenter(net, { threshold: med, inputRange: '[0,1]', name: 'median' });
    expect(s01.name).toBe('median');
    const m2 = s01.segment({ image: x01, baseline });
    const d2 = m2.dataSync();
    expect(Array.from(d2).every((v, i) => v === (pd[i]! >= med ? 1 : 0))).toBe(true);
    const frac = Array.from(d2).reduce((a, b) => a + b, 0) / pd.length;
    expect(frac).toBeGreaterThan(0.3);
    expect(frac).toBeLessThan(0.7);
    tf.dispose([x01, image, baseline, m, p, m2]);
  });

  it('probabilities: the net\'s probabilities of (image + 1) / 2 (within 1e-6), of which segment is the threshold; no leak; errors name the method', () => {
    const seg = learnedSegmenter(net, { threshold: 0.5 });
    const x01 = tf.randomUniform([2, 16, 16, 4], 0, 1, 'float32', 6) as tf.Tensor4D;
    const image = tf.sub(tf.mul(x01, 2), 1) as tf.Tensor4D;
    const want = net.predictProbabilities(x01);
    const before = tf.memory().numTensors;
    const p = seg.probabilities({ image });
    expect(tf.memory().numTensors).toBe(before + 1);
    expect(p.shape).toEqual([2, 16, 16, 1]);
    expect(maxDiff(p, want)).toBeLessThanOrEqual(1e-6);
    const m = seg.segment({ image });
    const pd = p.dataSync(), md = m.dataSync();
    let agree = 0;
    for (let i = 0; i < pd.length; i++) if (md[i] === (pd[i]! >= 0.5 ? 1 : 0)) agree++;
    expect(agree).toBe(pd.length);
    // Not binary: the probabilities keep what the threshold drops.
    expect(Array.from(pd).some((v) => v > 0.01 && v < 0.99)).toBe(true);
    const bad = tf.zeros([1, 16, 16, 2]) as tf.Tensor4D;
    expect(() => seg.probabilities({ image: bad })).toThrow(/'input.image' passed to 'Segmenter.probabilities' must have 4 channels/);
    expect(() => seg.probabilities(undefined as never)).toThrow(/'input' passed to 'Segmenter.probabilities' must be/);
    tf.dispose([x01, image, want, p, m, bad]);
  });

  it('leaks no tensors across repeated segment calls', () => {
    const seg = learnedSegmenter(net);
    const x = tf.randomUniform([1, 16, 16, 4], -1, 1, 'float32', 5) as tf.Tensor4D;
    seg.segment({ image: x, baseline: x }).dispose();
    const before = tf.memory().numTensors;
    for (let i = 0; i < 5; i++) {
      seg.segment({ image: x, baseline: x }).dispose();
      expect(tf.memory().numTensors).toBe(before);
    }
    x.dispose();
  });

  it('rejects bad arguments naming them', () => {
    expect(() => learnedSegmenter(net, { threshold: 1 })).toThrow(/'threshold' passed to 'learnedSegmenter' must be in \(0, 1\)/);
    expect(() => learnedSegmenter({} as SegmenterNet)).toThrow(/'net' passed to 'learnedSegmenter' must be a SegmenterNet/);
    const three = createSegmenterNet({ ...TINY, inChannels: 3 });
    expect(() => learnedSegmenter(three)).toThrow(/'net' passed to 'learnedSegmenter' must take 4 input channels/);
    three.dispose();
    const seg = learnedSegmenter(net);
    const x = tf.zeros([1, 16, 16, 2]) as tf.Tensor4D;
    const y = tf.zeros([1, 15, 16, 4]) as tf.Tensor4D;
    expect(() => seg.segment({ image: x, baseline: x })).toThrow(/'input.image' passed to 'Segmenter.segment' must have 4 channels/);
    expect(() => seg.segment({ image: y, baseline: y })).toThrow(/'input.image' passed to 'Segmenter.segment' must have height and width divisible by 2/);
    expect(() => seg.segment(x as never)).toThrow(/'input.image' passed to 'Segmenter.segment' must be a 4-D NHWC tensor/);
    expect(() => learnedSegmenter(net, { inputRange: '0..255' as never })).toThrow(/'inputRange' passed to 'learnedSegmenter'/);
    tf.dispose([x, y]);
  });
});

describe('saveSegmenter / loadSegmenter', () => {
  it('round-trips: the file alone recreates the net with identical outputs', async () => {
    const file = path.join(tmp, 'seg.safetensors');
    await saveSegmenter(file, net, { metadata: { step: '12' } });
    const back = await loadSegmenter(file);
    try {
      expect(back.config).toEqual(net.config);
      expect(back.params.names()).toEqual(net.params.names());
      const x = tf.randomUniform([2, 16, 16, 4], 0, 1, 'float32', 6) as tf.Tensor4D;
      const a = net.apply(x);
      const b = back.apply(x);
      expect(maxDiff(a, b)).toBe(0);
      tf.dispose([x, a, b]);
    } finally {
      back.dispose();
    }
  });

  it('F16 weights round to within float16 precision', async () => {
    const file = path.join(tmp, 'seg16.safetensors');
    await saveSegmenter(file, net, { dtype: 'F16' });
    const back = await loadSegmenter(file);
    const x = tf.randomUniform([1, 16, 16, 4], 0, 1, 'float32', 7) as tf.Tensor4D;
    const a = net.apply(x);
    const b = back.apply(x);
    expect(maxDiff(a, b)).toBeLessThan(0.05);
    tf.dispose([x, a, b]);
    back.dispose();
  });

  it('refuses files without the config, with bad config JSON, or with mismatched weights', async () => {
    const noMeta = path.join(tmp, 'plain.safetensors');
    await net.params.saveWeights(noMeta);
    await expect(loadSegmenter(noMeta)).rejects.toThrow(new RegExp(`'path' passed to 'loadSegmenter' is not a segmenter file: .*'${SEGMENTER_CONFIG_KEY}'`));
    const badJson = path.join(tmp, 'badjson.safetensors');
    writeFileSync(badJson, writeSafetensors(new Map([['x', { shape: [1], data: [0] }]]), { metadata: { [SEGMENTER_CONFIG_KEY]: '{' } }));
    await expect(loadSegmenter(badJson)).rejects.toThrow(/not valid JSON/);
    const wrong = path.join(tmp, 'wrong.safetensors');
    await net.params.saveWeights(wrong, { metadata: { [SEGMENTER_CONFIG_KEY]: JSON.stringify({ ...net.config, baseChannels: 16 }) } });
    // The net built for the file is disposed again. (@tumorcast/nn's ParamStore.add
    // currently leaves one tensor per parameter behind even after dispose: count
    // that baseline with a plain create + dispose of the same config.)
    const b0 = tf.memory().numTensors;
    createSegmenterNet({ ...net.config, baseChannels: 16 }).dispose();
    const storeLeak = tf.memory().numTensors - b0;
    const before = tf.memory().numTensors;
    await expect(loadSegmenter(wrong)).rejects.toThrow(WeightsMismatchError);
    expect(tf.memory().numTensors - before).toBe(storeLeak);
    await expect(loadSegmenter(path.join(tmp, 'missing.safetensors'))).rejects.toThrow();
    await expect(saveSegmenter(path.join(tmp, 'x.safetensors'), {} as SegmenterNet)).rejects.toThrow(/'net' passed to 'saveSegmenter'/);
  });
});
