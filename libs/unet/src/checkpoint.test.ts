import { beforeAll, describe, expect, it } from '@jest/globals';
import * as tf from '@tensorflow/tfjs';
import { AdamW, initBackend, trackPeakMemory } from '@tumorcast/nn';
import { Rng } from '@tumorcast/random';
import { UNET_PRESETS, createUNet, estimateUNetTrainingMemory } from './index.js';
import type { UNet, UNetConfig } from './index.js';
import { ioArray, ioTensor, loadFixture } from '../../nn/test/network-fixtures.js';
import type { Fixture } from '../../nn/test/network-fixtures.js';

/** The TS config of a fixture's PyTorch UNetModel kwargs (attention given as downsample factors there). */
function configOf(f: Fixture): UNetConfig {
  const kwargs = f.config as Record<string, unknown>;
  const c = <T>(name: string): T => {
    if (kwargs[name] === undefined) throw new Error(`fixture kwarg '${name}' missing from its config`);
    return kwargs[name] as T;
  };
  const size = c<number>('image_size');
  return {
    imageSize: size,
    inChannels: c('in_channels'),
    modelChannels: c('model_channels'),
    outChannels: c('out_channels'),
    numResBlocks: c('num_res_blocks'),
    attentionResolutions: c<number[]>('attention_resolutions').map((ds) => size / ds),
    channelMult: c('channel_mult'),
    convResample: c('conv_resample'),
    numClasses: kwargs['num_classes'] as number | null,
    numHeads: c('num_heads'),
    numHeadChannels: c('num_head_channels'),
    numHeadsUpsample: c('num_heads_upsample'),
    useScaleShiftNorm: c('use_scale_shift_norm'),
    resblockUpdown: c('resblock_updown'),
    useNewAttentionOrder: c('use_new_attention_order'),
  };
}

/** max |a - b| / max(max |b|, floor). */
function relErr(a: tf.Tensor, b: tf.Tensor, floor = 0): number {
  const av = a.dataSync();
  const bv = b.dataSync();
  let num = 0;
  let den = floor;
  for (let i = 0; i < av.length; i++) {
    num = Math.max(num, Math.abs(av[i]! - bv[i]!));
    den = Math.max(den, Math.abs(bv[i]!));
  }
  return num / den;
}

const maxAbs = (t: tf.Tensor) => tf.tidy(() => tf.max(tf.abs(t)).dataSync()[0]!);

/** A mean squared error training loss of `net` on the fixture's inputs, dropout masks from a fresh seeded Rng. */
function lossOf(net: UNet, f: Fixture, target: tf.Tensor): () => tf.Scalar {
  const t = ioArray(f, 't');
  const y = f.io.has('y') ? ioArray(f, 'y') : undefined;
  const rng = new Rng(5);
  return () => tf.losses.meanSquaredError(target, net.apply(ioTensor(f, 'x') as tf.Tensor4D, t, y, { training: true, rng })) as tf.Scalar;
}

beforeAll(async () => {
  await initBackend({ backend: 'wasm', log: false });
});

describe('U-Net gradient checkpointing (useCheckpoint, wasm)', () => {
  // Without dropout the blocks run one sample at a time; with it, on the whole batch (the same masks as without checkpointing).
  it.each([['unet_a', 0], ['unet_b', 0], ['unet_a', 0.2], ['unet_b', 0.2]])('%s, dropout %s: the loss and every parameter gradient equal those without checkpointing (1e-5 relative, see the floor)', (name, dropout) => {
    // Weights from the PyTorch fixture: every layer randomised, so every gradient is non-zero.
    const f = loadFixture(name as string);
    const config = { ...configOf(f), dropout: dropout as number };
    const plain = createUNet(config);
    const ckpt = createUNet({ ...config, useCheckpoint: true });
    plain.loadStateDict(f.weights, { source: name as string });
    ckpt.loadStateDict(f.weights, { source: name as string });
    const out = ioTensor(f, 'out');
    const target = tf.randomNormal(out.shape, 0, 1, 'float32', 11);
    const want = tf.variableGrads(lossOf(plain, f, target), plain.trainableVariables);
    const got = tf.variableGrads(lossOf(ckpt, f, target), ckpt.trainableVariables);
    expect(relErr(got.value, want.value)).toBeLessThan(1e-5);
    // tf.variableGrads over the whole network picks up every parameter through the checkpoints.
    const names = ckpt.trainableVariables.map((v) => v.name).sort();
    expect(Object.keys(got.grads).sort()).toEqual(names);
    expect(names.length).toBe(plain.trainableVariables.length);
    // Both networks register the same parameters in the same order (PyTorch names from the stores).
    const torchNames = ckpt.params.names();
    expect(plain.params.names()).toEqual(torchNames);
    // Relative to the parameter's largest gradient; for the few whose gradient is zero up to rounding
    // (a bias or embedding added before a GroupNorm of one channel per group, which removes any
    // per-channel constant: their gradients are sums of cancelling terms) relative to 1% of the
    // network's largest gradient instead.
    const refs = plain.trainableVariables.map((v) => want.grads[v.name]!);
    const floor = 1e-2 * Math.max(...refs.map(maxAbs));
    const bad: string[] = [];
    ckpt.trainableVariables.forEach((v, i) => {
      const e = relErr(got.grads[v.name]!, refs[i]!, floor);
      if (!(e < 1e-5)) bad.push(`${torchNames[i]}: ${e}`);
    });
    expect(bad).toEqual([]);
    // Most parameters are compared at their own scale, not at the floor.
    expect(refs.filter((g) => maxAbs(g) > floor).length).toBeGreaterThan(0.5 * refs.length);
    tf.dispose([out, target, want.value, got.value, ...Object.values(want.grads), ...Object.values(got.grads)]);
    plain.dispose();
    ckpt.dispose();
  });

  it('keeps less memory: the peak of a gradient of the small U-Net (64x64, batch 2) is under 60% of the plain one; the estimate is within 1.5x', () => {
    const peaks: Record<string, number> = {};
    const estimates: Record<string, number> = {};
    for (const useCheckpoint of [false, true]) {
      const net = createUNet({ ...createUNet('small').config, useCheckpoint }, { seed: 1 });
      const x = tf.randomNormal([2, 64, 64, 4], 0, 1, 'float32', 3) as tf.Tensor4D;
      const step = () => {
        const { value, grads } = tf.variableGrads(
          () => tf.mean(tf.square(net.apply(x, [10, 700], [0, 1], { training: true }))) as tf.Scalar, net.trainableVariables);
        tf.dispose([value, grads]);
      };
      step();
      const m = trackPeakMemory(step);
      const key = useCheckpoint ? 'checkpoint' : 'plain';
      peaks[key] = m.peakBytes - m.startBytes;
      const est = estimateUNetTrainingMemory(net.config, 2);
      // The model's parameter count is the network's.
      expect(est.gradientBytes).toBe(4 * net.parameterCount);
      estimates[key] = est.peakBytes;
      x.dispose();
      net.dispose();
    }
    expect(peaks['checkpoint']!).toBeLessThan(0.6 * peaks['plain']!);
    for (const k of ['plain', 'checkpoint']) {
      expect(estimates[k]! / peaks[k]!).toBeGreaterThan(1 / 1.5);
      expect(estimates[k]! / peaks[k]!).toBeLessThan(1.5);
    }
  });

  it('tf.profile agrees: the numBytes high-water mark of a checkpointed gradient is lower too', async () => {
    const peak = async (useCheckpoint: boolean) => {
      const net = createUNet({ ...createUNet('small').config, useCheckpoint }, { seed: 2 });
      const x = tf.randomNormal([2, 32, 32, 4], 0, 1, 'float32', 4) as tf.Tensor4D;
      const base = tf.memory().numBytes;
      const info = await tf.profile(() => {
        const { value, grads } = tf.variableGrads(() => tf.mean(tf.square(net.apply(x, [3, 4], [1, 1], { training: true }))) as tf.Scalar, net.trainableVariables);
        tf.dispose([value, grads]);
      });
      x.dispose();
      net.dispose();
      return info.peakBytes - base;
    };
    const plain = await peak(false);
    const ckpt = await peak(true);
    expect(ckpt).toBeLessThan(0.7 * plain);
  });

  it('leaks no tensors across AdamW training steps with checkpointing and dropout', () => {
    const net = createUNet({ ...createUNet('small').config, imageSize: 32, channelMult: [1, 2], dropout: 0.1, useCheckpoint: true }, { seed: 3 });
    const opt = new AdamW({ learningRate: 1e-3 });
    const x = tf.randomNormal([2, 32, 32, 4], 0, 1, 'float32', 5) as tf.Tensor4D;
    const step = (i: number) => {
      const rng = new Rng(7, `step-${i}`);
      return opt.minimize(() => tf.mean(tf.square(net.apply(x, [1, 2], [0, 1], { training: true, rng }))) as tf.Scalar, net.trainableVariables);
    };
    step(0);
    const before = tf.memory();
    const losses = [1, 2, 3].map(step);
    expect(tf.memory().numTensors).toBe(before.numTensors);
    expect(tf.memory().numBytes).toBe(before.numBytes);
    losses.forEach((l) => expect(Number.isFinite(l)).toBe(true));
    x.dispose();
    opt.dispose();
    net.dispose();
  });

  it('changes nothing in inference: outputs identical with and without the flag', () => {
    const f = loadFixture('unet_b');
    const a = createUNet(configOf(f));
    const b = createUNet({ ...configOf(f), useCheckpoint: true });
    a.loadStateDict(f.weights, { source: 'unet_b' });
    b.loadStateDict(f.weights, { source: 'unet_b' });
    const t = ioArray(f, 't');
    const x = ioTensor(f, 'x') as tf.Tensor4D;
    const ya = a.apply(x, t);
    const yb = b.apply(x, t);
    expect(Array.from(yb.dataSync())).toEqual(Array.from(ya.dataSync()));
    expect(b.config.useCheckpoint).toBe(true);
    expect(a.config.useCheckpoint).toBe(false);
    tf.dispose([x, ya, yb]);
    a.dispose();
    b.dispose();
  });

  it('refuses a useCheckpoint that is not a boolean, and bad estimator arguments', () => {
    expect(() => createUNet({ imageSize: 32, inChannels: 4, modelChannels: 32, channelMult: [1, 2], useCheckpoint: 'yes' as unknown as boolean }))
      .toThrow(/'config.useCheckpoint' passed to 'createUNet' must be true or false/);
    expect(() => estimateUNetTrainingMemory('small', 0)).toThrow(/'batchSize' passed to 'estimateUNetTrainingMemory'/);
    expect(() => estimateUNetTrainingMemory('small', 2, { imageSize: 30 })).toThrow(/'options.imageSize' passed to 'estimateUNetTrainingMemory' must be a positive multiple of 4/);
    // The paper U-Net's parameters (counted in the tests of the network against PyTorch's state dict).
    const paper = (useCheckpoint: boolean, b: number) => estimateUNetTrainingMemory({ ...UNET_PRESETS.paper, useCheckpoint }, b);
    expect(paper(true, 2).gradientBytes).toBe(4 * 113681160);
    // Checkpointing lowers the estimate; without it the activations grow linearly with the batch, with it the recomputation does not.
    expect(paper(true, 2).activationBytes).toBeLessThan(0.5 * paper(false, 2).activationBytes);
    expect(paper(false, 4).activationBytes).toBe(2 * paper(false, 2).activationBytes);
    expect(paper(true, 4).activationBytes).toBeLessThan(2 * paper(true, 2).activationBytes);
  });
});
