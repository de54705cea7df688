import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import * as tf from '@tensorflow/tfjs';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { WeightsMismatchError, initBackend } from '@tumorcast/nn';
import { REGRESSOR_PRESETS, createRegressor, resolveRegressorConfig } from './index.js';
import type { Regressor, RegressorConfig } from './index.js';
import { ioArray, ioTensor, loadFixture, maxAbsDiff, paramGradMismatches, presetShapes } from '../../nn/test/network-fixtures.js';
import type { Fixture } from '../../nn/test/network-fixtures.js';

const TOL = 1e-4;
let tmp: string;

/**
 * The TS config of the fixture's PyTorch EncoderUNetModel kwargs (attention given as downsample factors there).
 * These fixtures are stock guided-diffusion's model, i.e. the classifier head (the authors' regression head
 * is tested in authors-head.test.ts).
 */
/** The fixture's kwargs (typed `never` so that each fits its config field). */
type Kwargs = Record<
  | 'image_size' | 'in_channels' | 'model_channels' | 'out_channels' | 'num_res_blocks' | 'attention_resolutions' | 'dropout'
  | 'channel_mult' | 'conv_resample' | 'num_heads' | 'num_head_channels' | 'use_scale_shift_norm' | 'resblock_updown'
  | 'use_new_attention_order' | 'pool',
  never
>;

function configOf(f: Fixture): RegressorConfig {
  const c = f.config as Kwargs;
  const size: number = c['image_size'];
  const attention: number[] = c['attention_resolutions'];
  return {
    imageSize: size,
    inChannels: c['in_channels'],
    modelChannels: c['model_channels'],
    outChannels: c['out_channels'],
    numResBlocks: c['num_res_blocks'],
    attentionResolutions: attention.map((ds) => size / ds),
    dropout: c['dropout'],
    channelMult: c['channel_mult'],
    convResample: c['conv_resample'],
    numHeads: c['num_heads'],
    numHeadChannels: c['num_head_channels'],
    useScaleShiftNorm: c['use_scale_shift_norm'],
    resblockUpdown: c['resblock_updown'],
    useNewAttentionOrder: c['use_new_attention_order'],
    pool: c['pool'],
    head: 'classifier',
  };
}

function fixtureModel(): { f: Fixture; model: Regressor } {
  const f = loadFixture('regressor_a');
  const model = createRegressor(configOf(f));
  model.loadStateDict(f.weights, { source: 'regressor_a' });
  return { f, model };
}

beforeAll(async () => {
  await initBackend({ log: false });
  tmp = mkdtempSync(path.join(tmpdir(), 'tumorcast-regressor-'));
});
afterAll(() => rmSync(tmp, { recursive: true, force: true }));

describe('@tumorcast/regressor against the PyTorch reference (wasm)', () => {
  it('runs on the wasm backend', () => {
    expect(tf.getBackend()).toBe('wasm');
  });

  it('predict, inputGradient, valueAndInputGradient and parameter gradients agree within 1e-4', () => {
    const { f, model } = fixtureModel();
    const t = ioArray(f, 't');
    const w = ioArray(f, 'gw');
    tf.tidy(() => {
      const x = ioTensor(f, 'x') as tf.Tensor4D;
      const ref = tf.reshape(ioTensor(f, 'out'), [-1]);
      expect(maxAbsDiff(model.predict(x, t), ref)).toBeLessThan(TOL);
      expect(maxAbsDiff(model.apply(x, t), ioTensor(f, 'out'))).toBeLessThan(TOL);
      const gx = ioTensor(f, 'gx');
      expect(maxAbsDiff(model.inputGradient(x, t, w), gx)).toBeLessThan(TOL);
      const { value, grad } = model.valueAndInputGradient(x, tf.tensor1d(t), tf.tensor1d(w));
      expect(maxAbsDiff(value, ref)).toBeLessThan(TOL);
      expect(maxAbsDiff(grad, gx)).toBeLessThan(TOL);
      // images are independent: unit weights give each image its own dR_i/dx_i
      const g1 = model.inputGradient(x, t);
      const scaled = tf.mul(g1, tf.reshape(tf.tensor1d(w), [-1, 1, 1, 1]));
      expect(maxAbsDiff(scaled, gx)).toBeLessThan(TOL);
      // parameter gradients of sum(w * R) (time embedding, stem, attention, attention pool)
      expect(f.paramGrads.size).toBeGreaterThan(0);
      const wt = tf.reshape(tf.tensor1d(w), [-1, 1]);
      expect(paramGradMismatches(f, model.params, () => tf.sum(tf.mul(model.apply(x, t), wt)) as tf.Scalar, TOL)).toEqual([]);
    });
    model.dispose();
  });

  it('inputGradient and valueAndInputGradient leak no tensors', () => {
    const { f, model } = fixtureModel();
    const x = ioTensor(f, 'x') as tf.Tensor4D;
    const call = () => {
      model.inputGradient(x, [1, 2, 3], 2).dispose();
      const { value, grad } = model.valueAndInputGradient(x, 10);
      tf.dispose([value, grad]);
      model.predict(x, 5).dispose();
    };
    call();
    const before = tf.memory().numTensors;
    for (let i = 0; i < 3; i++) call();
    expect(tf.memory().numTensors).toBe(before);
    expect(() => model.inputGradient(x, [1, 2], 1)).toThrow(/'t' passed to 'Regressor.valueAndInputGradient'/);
    expect(tf.memory().numTensors).toBe(before);
    x.dispose();
    model.dispose();
  });

  it('inputGradient runs no filter or weight gradient kernel (guidance needs only dR/dx); training gradients run one per layer', async () => {
    const { f, model } = fixtureModel();
    const x = ioTensor(f, 'x') as tf.Tensor4D;
    const t = ioArray(f, 't');
    const count = async (run: () => void) => {
      const info = await tf.profile(run);
      const n = (name: string) => info.kernels.filter((k) => k.name === name).length;
      return { filter: n('Conv2DBackpropFilter'), input: n('Conv2DBackpropInput'), matmul: n('BatchMatMul') };
    };
    const convs = model.params.entries().filter((e) => e.layout === 'conv2d').length;
    const inputOnly = await count(() => model.inputGradient(x, t).dispose());
    expect(inputOnly.filter).toBe(0);
    expect(inputOnly.input).toBeGreaterThan(0);
    const training = await count(() => {
      const { value, grads } = tf.variableGrads(() => tf.sum(model.apply(x, t)) as tf.Scalar, model.trainableVariables);
      tf.dispose([value, grads]);
    });
    expect(training.filter).toBe(convs);
    // linear layers: one product per layer for dx, three (dx, dW, db) while training
    expect(training.matmul).toBeGreaterThan(inputOnly.matmul);
    x.dispose();
    model.dispose();
  });

  it('an MSE training loss has a non-zero gradient for every parameter; an Adam step leaks nothing', () => {
    const { f, model } = fixtureModel();
    const x = ioTensor(f, 'x') as tf.Tensor4D;
    const target = tf.tensor2d([[0.1], [0.3], [0]]);
    const loss = () => tf.losses.meanSquaredError(target, model.apply(x, [0, 500, 999])) as tf.Scalar;
    const { value, grads } = tf.variableGrads(loss, model.trainableVariables);
    const zero = model.params.entries().filter((e) => {
      const g = grads[e.variable.name];
      return !g || tf.tidy(() => tf.max(tf.abs(g)).dataSync()[0]) === 0;
    });
    expect(zero.map((e) => e.name)).toEqual([]);
    tf.dispose([value, grads]);
    const opt = tf.train.adam(1e-4);
    opt.minimize(loss, false, model.trainableVariables);
    const before = tf.memory().numTensors;
    opt.minimize(loss, false, model.trainableVariables);
    expect(tf.memory().numTensors).toBe(before);
    tf.dispose([x, target]);
    opt.dispose();
    model.dispose();
  });
});

describe('weights and presets', () => {
  it('save / load round-trips; mismatched weights are refused with the keys listed', async () => {
    const { f, model } = fixtureModel();
    const file = path.join(tmp, 'reg.safetensors');
    await model.saveWeights(file, { dtype: 'F16' });
    const other = createRegressor(configOf(f), { seed: 5 });
    await other.loadWeights(file);
    const sd = other.stateDict();
    // the fixture's weights are float16-exact, so F16 storage is lossless here
    for (const [k, v] of f.weights) expect(Array.from(sd.get(k)!.data)).toEqual(Array.from(v.data as Float32Array));
    const wrong = createRegressor({ ...configOf(f), pool: 'adaptive' });
    await expect(wrong.loadWeights(file)).rejects.toThrow(WeightsMismatchError);
    await expect(wrong.loadWeights(file)).rejects.toThrow(/missing keys \(2\): out\.3\.weight, out\.3\.bias/);
    [model, other, wrong].forEach((m) => m.dispose());
  });

  it.each(['small', 'paper'] as const)('the %s preset with the classifier head has guided-diffusion\'s state_dict names and shapes', (name) => {
    const ref = presetShapes()[`regressor_${name}`]!;
    const model = createRegressor({ ...REGRESSOR_PRESETS[name], head: 'classifier' });
    expect(new Map(model.params.entries().map((e) => [e.name, [...e.torchShape]]))).toEqual(new Map(ref.shapes));
    expect(model.parameterCount).toBe(ref.parameters);
    model.dispose();
  });

  it('the small preset predicts one value per image', () => {
    const model = createRegressor('small', { seed: 1 });
    tf.tidy(() => {
      const r = model.predict(tf.randomNormal([2, 64, 64, 4]) as tf.Tensor4D, [3, 700]);
      expect(r.shape).toEqual([2]);
    });
    model.dispose();
  });

  it('rejects bad configs and inputs naming the argument', () => {
    expect(resolveRegressorConfig('paper').attentionDs).toEqual([8, 16, 32]);
    expect(() => createRegressor({ ...REGRESSOR_PRESETS.small, numHeadChannels: -1 })).toThrow(/'config\.numHeadChannels' passed to 'createRegressor'/);
    expect(() => createRegressor({ ...REGRESSOR_PRESETS.small, pool: 'max' as never })).toThrow(/'config\.pool'/);
    expect(() => createRegressor({ ...REGRESSOR_PRESETS.small, modelChannels: 16 })).toThrow(/'config\.channelMult'/);
    const model = createRegressor({ ...REGRESSOR_PRESETS.small, imageSize: 16, channelMult: [1, 1], attentionResolutions: [8] });
    tf.tidy(() => {
      expect(() => model.predict(tf.zeros([1, 32, 32, 4]) as tf.Tensor4D, 1)).toThrow(/'x' passed to 'Regressor.apply' must be 16x16/);
      expect(() => model.inputGradient(tf.zeros([1, 16, 16, 3]) as tf.Tensor4D, 1)).toThrow(/must have 4 channels/);
      expect(() => model.inputGradient(tf.zeros([2, 16, 16, 4]) as tf.Tensor4D, 1, [1, 2, 3])).toThrow(/'weights' passed to/);
    });
    model.dispose();
  });
});
