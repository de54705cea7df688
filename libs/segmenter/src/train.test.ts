import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import * as tf from '@tensorflow/tfjs';
import { AdamW, initBackend } from '@tumorcast/nn';
import { createSegmenterNet, diceScore, segmentationLoss } from './index.js';
import type { SegmenterNet } from './index.js';
import { discDataset } from './test-utils/data.js';

let net: SegmenterNet;
let data: { images: tf.Tensor4D; masks: tf.Tensor4D };

beforeAll(async () => {
  await initBackend({ log: false });
  net = createSegmenterNet({ imageSize: 32, baseChannels: 16, normGroups: 8, channelMult: [1, 2], numResBlocks: 1 }, { seed: 3 });
  data = discDataset(4, 32, 11);
});
afterAll(() => {
  net.dispose();
  tf.dispose(data);
});

const mean = (xs: number[]) => xs.reduce((a, b) => a + b, 0) / xs.length;

describe('training', () => {
  it('gradients of the loss reach every parameter', () => {
    const { grads, value } = tf.variableGrads(() => segmentationLoss(net.apply(data.images), data.masks), net.params.variables);
    try {
      expect(Number.isFinite(value.dataSync()[0])).toBe(true);
      for (const e of net.params.entries()) {
        const g = grads[e.variable.name];
        expect(g).toBeDefined();
        expect(g!.shape).toEqual(e.shape);
        const norm = tf.tidy(() => tf.sum(tf.abs(g!)).dataSync()[0]!);
        if (!(norm > 0) || !Number.isFinite(norm)) throw new Error(`no gradient for ${e.name}: |g|_1 = ${norm}`);
      }
    } finally {
      value.dispose();
      tf.dispose(grads);
    }
  });

  it('overfits 4 synthetic 32x32 slices: loss falls, Dice > 0.8', () => {
    const opt = new AdamW({ learningRate: 1e-3 });
    const before = tf.memory().numTensors;
    const losses: number[] = [];
    for (let step = 0; step < 30; step++) {
      losses.push(opt.minimize(() => segmentationLoss(net.apply(data.images, { training: true }), data.masks), net.params.variables));
      if (step === 1) expect(tf.memory().numTensors).toBe(before + 2 * net.params.variables.length); // AdamW moments only
    }
    expect(tf.memory().numTensors).toBe(before + 2 * net.params.variables.length);
    opt.dispose();
    const probs = net.predictProbabilities(data.images);
    const dice = diceScore(probs, data.masks);
    probs.dispose();
    console.log(`loss ${losses[0]!.toFixed(3)} -> ${losses.at(-1)!.toFixed(3)}, dice ${dice.map((d) => d.toFixed(3)).join(' ')}`);
    expect(losses.at(-1)!).toBeLessThan(0.5 * losses[0]!);
    expect(mean(dice)).toBeGreaterThan(0.8);
  });
});
