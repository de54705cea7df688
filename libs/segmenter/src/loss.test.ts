import { beforeAll, describe, expect, it } from '@jest/globals';
import * as tf from '@tensorflow/tfjs';
import { initBackend } from '@tumorcast/nn';
import { diceScore, diceScoreAsync, segmentationLoss } from './index.js';
import type { SegmentationLossOptions } from './index.js';
import { readJsonFixture } from './test-utils/data.js';

interface LossFixture {
  shape: [number, number, number, number];
  logits: number[];
  cases: { name: string; target: number[]; options: SegmentationLossOptions; dice_loss: number; bce: number; loss: number; grad: number[] }[];
  dice_scores: { threshold: number; emptyScore: number; prediction: number[]; scores: number[] }[];
}

const fx = readJsonFixture<LossFixture>('loss.json');
const t4 = (data: number[] | Float32Array, shape: number[]) => tf.tensor4d(data, shape as [number, number, number, number]);

beforeAll(async () => {
  await initBackend({ log: false });
});

describe('segmentationLoss', () => {
  it('equals the hand-computed value on a 2x2 example', () => {
    // p = 0.5 everywhere, t = 1: Dice = (2*2 + 1) / (2 + 4 + 1) = 5/7, BCE = ln 2.
    const z = tf.zeros([1, 2, 2, 1]) as tf.Tensor4D;
    const t = tf.ones([1, 2, 2, 1]) as tf.Tensor4D;
    const l = segmentationLoss(z, t);
    expect(l.rank).toBe(0);
    expect(l.dataSync()[0]).toBeCloseTo(2 / 7 + Math.LN2, 6);
    const l2 = segmentationLoss(z, t, { diceWeight: 2, bceWeight: 0, smooth: 0 }); // 2 * (1 - 4/6)
    expect(l2.dataSync()[0]).toBeCloseTo(2 / 3, 6);
    tf.dispose([z, t, l, l2]);
  });

  it.each(fx.cases.map((c) => [c.name, c] as const))('%s: value and gradient match PyTorch within 1e-5', (_name, c) => {
    const z = t4(fx.logits, fx.shape);
    const t = t4(c.target, fx.shape);
    const { value, grad } = tf.valueAndGrad((zz: tf.Tensor) => segmentationLoss(zz as tf.Tensor4D, t, c.options))(z);
    expect(Math.abs(value.dataSync()[0]! - c.loss)).toBeLessThan(1e-5);
    expect(Number.isFinite(value.dataSync()[0])).toBe(true);
    const g = grad.dataSync();
    let maxDiff = 0;
    for (let i = 0; i < g.length; i++) maxDiff = Math.max(maxDiff, Math.abs(g[i]! - c.grad[i]!));
    expect(maxDiff).toBeLessThan(1e-6);
    // The two parts on their own.
    const dice = segmentationLoss(z, t, { smooth: c.options.smooth, bceWeight: 0 });
    const bce = segmentationLoss(z, t, { diceWeight: 0 });
    expect(Math.abs(dice.dataSync()[0]! - c.dice_loss)).toBeLessThan(1e-5);
    expect(Math.abs(bce.dataSync()[0]! - c.bce)).toBeLessThan(1e-5);
    tf.dispose([z, t, value, grad, dice, bce]);
  });

  it('stays finite for saturated logits (|z| = 100) and leaks nothing', () => {
    const z = t4([100, -100, 100, -100], [1, 2, 2, 1]);
    const t = t4([0, 1, 1, 0], [1, 2, 2, 1]);
    const before = tf.memory().numTensors;
    const l = segmentationLoss(z, t, { diceWeight: 0 });
    expect(l.dataSync()[0]).toBeCloseTo(50, 4); // two wrong pixels at 100 each, mean over 4
    l.dispose();
    expect(tf.memory().numTensors).toBe(before);
    tf.dispose([z, t]);
  });

  it('rejects bad arguments naming them', () => {
    const z = tf.zeros([1, 4, 4, 1]) as tf.Tensor4D;
    const t = tf.zeros([1, 4, 4, 2]) as tf.Tensor4D;
    expect(() => segmentationLoss(z, t)).toThrow(/'target' passed to 'segmentationLoss' must have the shape of 'logits' \[1,4,4,1\]/);
    expect(() => segmentationLoss(tf.zeros([4, 4]) as never, t)).toThrow(/'logits' passed to 'segmentationLoss' must be a 4-D tensor/);
    expect(() => segmentationLoss(z, z, { smooth: -1 })).toThrow(/'smooth' passed to 'segmentationLoss'/);
    expect(() => segmentationLoss(z, z, { diceWeight: 0, bceWeight: 0 })).toThrow(/must not both be 0/);
    tf.dispose([z, t]);
  });
});

describe('diceScore', () => {
  it.each(fx.dice_scores.map((d) => [d.threshold, d.emptyScore, d] as const))('threshold %p, emptyScore %p: matches the reference', async (_th, _e, d) => {
    const p = t4(d.prediction, fx.shape);
    const t = t4(fx.cases[0]!.target, fx.shape);
    const s = diceScore(p, t, { threshold: d.threshold, emptyScore: d.emptyScore });
    expect(s).toHaveLength(fx.shape[0]);
    s.forEach((v, i) => expect(v).toBeCloseTo(d.scores[i]!, 6));
    // The asynchronous read (for webgpu in Node) gives the same scores.
    const n = tf.memory().numTensors;
    const sa = await diceScoreAsync(p, t, { threshold: d.threshold, emptyScore: d.emptyScore });
    expect(sa).toEqual(s);
    expect(tf.memory().numTensors).toBe(n);
    tf.dispose([p, t]);
  });

  it('is 1 for identical masks, 0 for disjoint ones, and checks its arguments', async () => {
    const a = t4([1, 1, 0, 0], [1, 2, 2, 1]);
    const b = t4([0, 0, 1, 1], [1, 2, 2, 1]);
    expect(diceScore(a, a)).toEqual([1]);
    expect(diceScore(a, b)).toEqual([0]);
    expect(() => diceScore(a, b, { emptyScore: 2 })).toThrow(/'emptyScore' passed to 'diceScore'/);
    expect(() => diceScore(a, tf.zeros([1, 2, 2, 2]) as tf.Tensor4D)).toThrow(/'target' passed to 'diceScore' must have the shape of 'prediction'/);
    await expect(diceScoreAsync(a, b, { emptyScore: 2 })).rejects.toThrow(/'emptyScore' passed to 'diceScoreAsync'/);
    tf.dispose([a, b]);
  });
});
