import { beforeAll, describe, expect, it } from '@jest/globals';
import * as tf from '@tensorflow/tfjs';
import { initBackend } from '@tumorcast/nn';
import { createRegressor, resolveRegressorConfig } from './index.js';
import type { RegressorConfig } from './index.js';
import { ioArray, ioTensor, loadFixture } from '../../nn/test/network-fixtures.js';

beforeAll(async () => {
  await initBackend({ backend: 'wasm', log: false });
});

describe('regressor gradient checkpointing (useCheckpoint)', () => {
  it('the loss and every parameter gradient equal those without checkpointing (1e-5 relative to the largest gradient)', () => {
    // The PyTorch fixture's randomised weights: scale-shift residual blocks with built-in downsampling, attention, attention pool.
    const f = loadFixture('regressor_a');
    const k = f.config as Record<string, unknown>;
    const size = k['image_size'] as number;
    const config: RegressorConfig = {
      imageSize: size,
      inChannels: k['in_channels'] as number,
      modelChannels: k['model_channels'] as number,
      outChannels: k['out_channels'] as number,
      numResBlocks: k['num_res_blocks'] as number,
      attentionResolutions: (k['attention_resolutions'] as number[]).map((ds) => size / ds),
      channelMult: k['channel_mult'] as number[],
      numHeadChannels: k['num_head_channels'] as number,
      useScaleShiftNorm: k['use_scale_shift_norm'] as boolean,
      resblockUpdown: k['resblock_updown'] as boolean,
      pool: 'attention',
      head: 'classifier',
    };
    const plain = createRegressor(config);
    const ckpt = createRegressor({ ...config, useCheckpoint: true });
    expect(ckpt.config.useCheckpoint).toBe(true);
    plain.loadStateDict(f.weights, { source: 'regressor_a' });
    ckpt.loadStateDict(f.weights, { source: 'regressor_a' });
    const t = ioArray(f, 't');
    const x = ioTensor(f, 'x') as tf.Tensor4D;
    const target = tf.randomNormal([x.shape[0], 1], 0, 1, 'float32', 3);
    const loss = (net: typeof plain) => () => tf.losses.meanSquaredError(target, net.apply(x, t, { training: true })) as tf.Scalar;
    const want = tf.variableGrads(loss(plain), plain.trainableVariables);
    const got = tf.variableGrads(loss(ckpt), ckpt.trainableVariables);
    expect(Math.abs(got.value.dataSync()[0]! - want.value.dataSync()[0]!)).toBeLessThan(1e-5 * Math.abs(want.value.dataSync()[0]!));
    const refs = plain.trainableVariables.map((v) => want.grads[v.name]!);
    const scale = Math.max(...refs.map((g) => tf.tidy(() => tf.max(tf.abs(g)).dataSync()[0]!)));
    expect(scale).toBeGreaterThan(0);
    const names = ckpt.params.names();
    const bad: string[] = [];
    ckpt.trainableVariables.forEach((v, i) => {
      const err = tf.tidy(() => tf.max(tf.abs(tf.sub(got.grads[v.name]!, refs[i]!))).dataSync()[0]!);
      if (!(err <= 1e-5 * scale)) bad.push(`${names[i]}: ${err / scale}`);
    });
    expect(bad).toEqual([]);
    tf.dispose([x, target, want.value, got.value, ...Object.values(want.grads), ...Object.values(got.grads)]);
    plain.dispose();
    ckpt.dispose();
  });

  it('refuses a useCheckpoint that is not a boolean', () => {
    expect(() => resolveRegressorConfig({ imageSize: 32, inChannels: 4, modelChannels: 32, channelMult: [1, 2], useCheckpoint: 1 as unknown as boolean }))
      .toThrow(/'config.useCheckpoint' passed to 'createRegressor' must be true or false/);
  });
});
