import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import * as tf from '@tensorflow/tfjs';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { initBackend } from '../backend/index.js';
import { readSafetensors, writeSafetensors } from '../safetensors.js';
import { Linear, WeightsMismatchError } from '../layers/index.js';
import { Module, loadModule } from './module.js';
import type { ModuleOptions } from './module.js';
import { ConfigCheck, configResolver } from './config.js';
import { checkImageBatch, timestepTensor } from './inputs.js';

const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'tc-nn-module-'));
beforeAll(async () => {
  await initBackend({ log: false });
});
afterAll(() => fs.rmSync(tmp, { recursive: true, force: true }));

interface TinyConfig {
  inFeatures: number;
  outFeatures: number;
  /** When true the second layer's width is invalid, so building fails half-way. */
  failSecond?: boolean;
}

/** A two-layer network: `first` (Linear in -> out) then `second` (Linear out -> 1). */
class Tiny extends Module<TinyConfig> {
  readonly layers: { first: Linear; second: Linear };
  constructor(config: TinyConfig, options: ModuleOptions = {}) {
    super(config, 'test.tiny.config', options);
    this.layers = this.build((store) => ({
      first: new Linear(store, 'first', config.inFeatures, config.outFeatures),
      second: new Linear(store, 'second', config.outFeatures, config.failSecond ? 0 : 1),
    }));
  }
  apply(x: tf.Tensor2D): tf.Tensor2D {
    return tf.tidy(() => this.layers.second.apply(this.layers.first.apply(x)) as tf.Tensor2D);
  }
}

/** Tiny, with a hint added to weight mismatches. */
class Hinted extends Tiny {
  protected override explainWeightsError(e: unknown): unknown {
    return e instanceof WeightsMismatchError ? new Error(`hint: ${e.message}`) : e;
  }
}

/** Hand-chosen weights in PyTorch layout (`[out, in]`), so expected outputs are computed by hand. */
const WEIGHTS = {
  'first.weight': { shape: [2, 3], data: [1, 0, -1, 0.5, 2, 0] },
  'first.bias': { shape: [2], data: [0.25, -1] },
  'second.weight': { shape: [1, 2], data: [2, -3] },
  'second.bias': { shape: [1], data: [0.5] },
};

describe('Module', () => {
  it('counts, lists and loads the parameters; the forward pass uses the PyTorch layout', () => {
    const net = new Tiny({ inFeatures: 3, outFeatures: 2 }, { seed: 1 });
    expect(net.parameterCount).toBe(3 * 2 + 2 + 2 + 1);
    expect(net.trainableVariables).toHaveLength(4);
    expect(net.trainableVariables.every((v) => v.trainable)).toBe(true);
    expect(net.params.names()).toEqual(['first.weight', 'first.bias', 'second.weight', 'second.bias']);
    net.loadStateDict(WEIGHTS);
    // x = [1, 2, 3]: first = [1 - 3 + 0.25, 0.5 + 4 - 1] = [-1.75, 3.5]; second = 2 * -1.75 - 3 * 3.5 + 0.5 = -13.5
    const y = net.apply(tf.tensor2d([[1, 2, 3]]));
    expect(Array.from(y.dataSync())).toEqual([-13.5]);
    y.dispose();
    const sd = net.stateDict();
    expect(Array.from(sd.get('first.weight')!.data)).toEqual(WEIGHTS['first.weight'].data);
    expect(sd.get('first.weight')!.shape).toEqual([2, 3]);
    net.dispose();
  });

  it('seeds the initialisation', () => {
    const a = new Tiny({ inFeatures: 3, outFeatures: 2 }, { seed: 7 });
    const b = new Tiny({ inFeatures: 3, outFeatures: 2 }, { seed: 7 });
    const c = new Tiny({ inFeatures: 3, outFeatures: 2 }, { seed: 8 });
    const w = (m: Tiny) => Array.from(m.stateDict().get('first.weight')!.data);
    expect(w(a)).toEqual(w(b));
    expect(w(a)).not.toEqual(w(c));
    for (const m of [a, b, c]) m.dispose();
  });

  it('frees what a failed build registered, and dispose frees every variable (twice is harmless)', () => {
    const before = tf.memory().numTensors;
    expect(() => new Tiny({ inFeatures: 3, outFeatures: 2, failSecond: true })).toThrow(/'outFeatures' passed to 'Linear'/);
    expect(tf.memory().numTensors).toBe(before);
    const net = new Tiny({ inFeatures: 3, outFeatures: 2 });
    expect(tf.memory().numTensors).toBe(before + 4);
    net.dispose();
    net.dispose();
    expect(tf.memory().numTensors).toBe(before);
    expect(() => net.stateDict()).toThrow(/after 'dispose'/);
  });

  it('saves safetensors with the config under its key (caller metadata after it) and loads them back', async () => {
    const net = new Tiny({ inFeatures: 3, outFeatures: 2 });
    net.loadStateDict(WEIGHTS);
    const file = path.join(tmp, 'tiny.safetensors');
    await net.saveWeights(file, { metadata: { step: '5' } });
    const read = readSafetensors(fs.readFileSync(file));
    expect(JSON.parse(read.metadata['test.tiny.config']!)).toEqual({ inFeatures: 3, outFeatures: 2 });
    expect(read.metadata['step']).toBe('5');
    expect(Array.from(read.tensors.get('second.weight')!.data as Float32Array)).toEqual([2, -3]);
    // the caller may override the config entry (tools that write legacy files do)
    const legacy = path.join(tmp, 'legacy.safetensors');
    await net.saveWeights(legacy, { metadata: { 'test.tiny.config': '{"old":true}' } });
    expect(readSafetensors(fs.readFileSync(legacy)).metadata['test.tiny.config']).toBe('{"old":true}');

    const back = new Tiny({ inFeatures: 3, outFeatures: 2 }, { seed: 3 });
    const meta = await back.loadWeights(file);
    expect(meta['step']).toBe('5');
    expect(Array.from(back.stateDict().get('first.bias')!.data)).toEqual([0.25, -1]);
    for (const m of [net, back]) m.dispose();
  });

  it('refuses bad save arguments naming the method', async () => {
    const net = new Tiny({ inFeatures: 3, outFeatures: 2 });
    await expect(net.saveWeights('')).rejects.toThrow(/'path' passed to 'Tiny\.saveWeights' must be a non-empty string/);
    await expect(net.saveWeights(path.join(tmp, 'x.safetensors'), { dtype: 'F64' as never })).rejects.toThrow(/'options\.dtype' passed to 'Tiny\.saveWeights' must be 'F32' or 'F16', got F64/);
    net.dispose();
  });

  it('passes weight mismatches through explainWeightsError, assigning nothing', async () => {
    const net = new Tiny({ inFeatures: 3, outFeatures: 2 });
    const initial = Array.from(net.stateDict().get('first.weight')!.data);
    const wrong = { ...WEIGHTS, 'first.weight': { shape: [2, 4], data: new Array(8).fill(1) } };
    expect(() => net.loadStateDict(wrong)).toThrow(WeightsMismatchError);
    expect(Array.from(net.stateDict().get('first.weight')!.data)).toEqual(initial);
    const hinted = new Hinted({ inFeatures: 3, outFeatures: 2 });
    expect(() => hinted.loadStateDict(wrong)).toThrow(/^hint: state dict does not match the model: shape mismatches \(1\): first\.weight expected \[2,3\] got \[2,4\]/);
    const file = path.join(tmp, 'other.safetensors');
    fs.writeFileSync(file, writeSafetensors(new Map([['other.weight', { shape: [1], data: [1] }]])));
    await expect(hinted.loadWeights(file)).rejects.toThrow(/^hint: .*missing keys \(4\).*unexpected keys \(1\): other\.weight/);
    for (const m of [net, hinted]) m.dispose();
  });
});

describe('loadModule', () => {
  const spec = {
    fn: 'loadTiny',
    configKey: 'test.tiny.config',
    what: 'tiny network',
    writer: 'saveWeights',
    create: (config: unknown) => new Tiny(config as TinyConfig),
  };

  it('rebuilds the network from the config in the file', async () => {
    const net = new Tiny({ inFeatures: 3, outFeatures: 2 });
    net.loadStateDict(WEIGHTS);
    const file = path.join(tmp, 'module.safetensors');
    await net.saveWeights(file);
    net.dispose();
    const back = await loadModule(file, spec);
    expect(back.config).toEqual({ inFeatures: 3, outFeatures: 2 });
    const y = back.apply(tf.tensor2d([[1, 2, 3]]));
    expect(Array.from(y.dataSync())).toEqual([-13.5]);
    y.dispose();
    back.dispose();
  });

  it('names the file and the problem, and frees a network whose weights do not match', async () => {
    const noKey = path.join(tmp, 'no-key.safetensors');
    fs.writeFileSync(noKey, writeSafetensors(new Map([['x', { shape: [1], data: [0] }]])));
    await expect(loadModule(noKey, spec)).rejects.toThrow(/'path' passed to 'loadTiny' is not a tiny network file: .*no-key\.safetensors has no 'test\.tiny\.config' metadata \(was it written by saveWeights\?\)/);
    const badJson = path.join(tmp, 'bad-json.safetensors');
    fs.writeFileSync(badJson, writeSafetensors(new Map([['x', { shape: [1], data: [0] }]]), { metadata: { 'test.tiny.config': '{' } }));
    await expect(loadModule(badJson, spec)).rejects.toThrow(/'path' passed to 'loadTiny': the 'test\.tiny\.config' metadata of .*bad-json\.safetensors is not valid JSON/);
    const mismatch = path.join(tmp, 'mismatch.safetensors');
    fs.writeFileSync(mismatch, writeSafetensors(new Map([['x', { shape: [1], data: [0] }]]), { metadata: { 'test.tiny.config': '{"inFeatures":3,"outFeatures":2}' } }));
    const before = tf.memory().numTensors;
    await expect(loadModule(mismatch, spec)).rejects.toThrow(WeightsMismatchError);
    expect(tf.memory().numTensors).toBe(before);
    await expect(loadModule('', spec)).rejects.toThrow(/'path' passed to 'loadTiny' must be a non-empty string/);
  });
});

interface NetConfig {
  imageSize: number;
  width: number;
  channelMult?: readonly number[];
  dropout?: number;
  mode?: 'a' | 'b';
  classes?: number | null;
}
type ResolvedNetConfig = Required<Omit<NetConfig, 'classes'>> & { classes: number | null };

const PRESETS = Object.freeze({ small: Object.freeze({ imageSize: 32, width: 32, channelMult: Object.freeze([1, 2]) }) });

function makeResolver(strictKeys = false) {
  return configResolver<NetConfig, 'small', ResolvedNetConfig>({
    fn: 'createNet',
    presets: PRESETS,
    keys: ['imageSize', 'width', 'channelMult', 'dropout', 'mode', 'classes'],
    required: ['imageSize', 'width'],
    defaults: (c) => ({ channelMult: c.imageSize >= 64 ? [1, 2, 4] : [1, 1], dropout: 0, mode: 'a', classes: null }),
    strictKeys,
    validate: (r, check) => {
      check.dropout(r.dropout);
      check.oneOf(r.mode, ['a', 'b'], 'mode');
      check.channelMult(r.channelMult, r.width, 'width', 32, 'normGroups 32');
      check.divisibleByLevels(r.imageSize, r.channelMult.length);
      if (r.classes !== null) check.positiveInt(r.classes, 'classes');
    },
  });
}

describe('configResolver', () => {
  const resolve = makeResolver();

  it('applies defaults (which may depend on the config) in key order; null and undefined select the default', () => {
    const r = resolve({ imageSize: 64, width: 32, dropout: undefined, classes: null });
    expect(JSON.stringify(r)).toBe('{"imageSize":64,"width":32,"channelMult":[1,2,4],"dropout":0,"mode":"a","classes":null}');
    expect(resolve({ imageSize: 32, width: 32, classes: 3, mode: 'b' })).toEqual({ imageSize: 32, width: 32, channelMult: [1, 1], dropout: 0, mode: 'b', classes: 3 });
  });

  it('resolves presets into fresh objects (arrays copied, never the frozen preset)', () => {
    const r = resolve('small');
    expect(r).toEqual({ imageSize: 32, width: 32, channelMult: [1, 2], dropout: 0, mode: 'a', classes: null });
    expect(r.channelMult).not.toBe(PRESETS.small.channelMult);
    (r.channelMult as number[]).push(4);
    expect(resolve('small').channelMult).toEqual([1, 2]);
  });

  it('refuses unknown presets, non-objects and (when strict) unknown keys, naming the function', () => {
    expect(() => resolve('huge' as never)).toThrow(/^'config' passed to 'createNet' must be a config object or a preset name \(small\), got 'huge'$/);
    expect(() => resolve('toString' as never)).toThrow(/preset name \(small\), got 'toString'/);
    expect(() => resolve(null as never, 'loadNet')).toThrow(/^'config' passed to 'loadNet' must be an object or a preset name \(small\), got null$/);
    expect(() => resolve([] as never)).toThrow(/got an array/);
    expect(() => resolve(5 as never)).toThrow(TypeError);
    expect(resolve({ imageSize: 32, width: 32, levels: 2 } as never)).not.toHaveProperty('levels');
    expect(() => makeResolver(true)({ imageSize: 32, width: 32, levels: 2 } as never))
      .toThrow(/^'config' passed to 'createNet' has unknown keys: levels \(valid: imageSize, width, channelMult, dropout, mode, classes\)$/);
  });

  it('checks required keys before computing defaults, then validates', () => {
    expect(() => resolve({ imageSize: 0, width: 32 })).toThrow(/^'config\.imageSize' passed to 'createNet' must be a positive integer, got 0$/);
    expect(() => resolve({ width: 32 } as never)).toThrow(/'config\.imageSize' .* got undefined/);
    expect(() => resolve({ imageSize: 32, width: '32' } as never)).toThrow(/'config\.width' .* positive integer, got "32"/);
    expect(() => resolve({ imageSize: 32, width: 32, dropout: 1 })).toThrow(/^'config\.dropout' passed to 'createNet' must be in \[0, 1\), got 1$/);
    expect(() => resolve({ imageSize: 32, width: 32, mode: 'c' as never })).toThrow(/^'config\.mode' passed to 'createNet' must be 'a' or 'b', got 'c'$/);
    expect(() => resolve({ imageSize: 32, width: 24 }, 'makeNet')).toThrow(/^'config\.channelMult' passed to 'makeNet' gives 24 channels at multiplier 1 \(width 24\), not a positive multiple of normGroups 32$/);
    expect(() => resolve({ imageSize: 32, width: 32, channelMult: [] })).toThrow(/'config\.channelMult' .* must be a non-empty array, got \[\]/);
    expect(() => resolve({ imageSize: 32, width: 32, channelMult: [1, -2] })).toThrow(/must hold positive numbers, got \[1,-2\]/);
    expect(() => resolve({ imageSize: 30, width: 32, channelMult: [1, 1, 1] })).toThrow(/^'config\.imageSize' passed to 'createNet' must be divisible by 4 \(2\^\(levels-1\) with 3 levels\), got 30$/);
    expect(() => resolve({ imageSize: 32, width: 32, classes: 1.5 })).toThrow(/'config\.classes' .* positive integer, got 1\.5/);
  });

  it('ConfigCheck.error names the key and the function', () => {
    const e = new ConfigCheck('createX').error('head', "must be 'a'");
    expect(e).toBeInstanceOf(RangeError);
    expect(e.message).toBe("'config.head' passed to 'createX' must be 'a'");
  });
});

describe('timestepTensor and checkImageBatch', () => {
  it('converts timesteps to a float32 [B] tensor and refuses wrong counts without leaking', () => {
    const a = timestepTensor(3, 2, 'f');
    expect(a.dtype).toBe('float32');
    expect(Array.from(a.dataSync())).toEqual([3, 3]);
    const b = timestepTensor([1, 5], 2, 'f');
    expect(Array.from(b.dataSync())).toEqual([1, 5]);
    const ints = tf.tensor1d([4, 9], 'int32');
    const c = timestepTensor(ints, 2, 'f');
    expect(c.dtype).toBe('float32');
    expect(Array.from(c.dataSync())).toEqual([4, 9]);
    tf.dispose([a, b, c]);
    const before = tf.memory().numTensors;
    expect(() => timestepTensor([1, 2, 3], 2, 'Net.apply')).toThrow(/^'t' passed to 'Net\.apply' must have one timestep per image \(2\), got shape \[3\]$/);
    expect(() => timestepTensor(ints, 3, 'Net.apply')).toThrow(/got shape \[2\]/);
    expect(() => timestepTensor(Number.NaN, 2, 'Net.apply')).toThrow(/^'t' passed to 'Net\.apply' must be finite, got NaN$/);
    expect(tf.memory().numTensors).toBe(before);
    ints.dispose();
  });

  it('checks rank, channels, emptiness, exact size and divisibility, naming the function and argument', () => tf.tidy(() => {
    const spec = { fn: 'Net.apply', channels: 4, levels: 3 };
    const ok = tf.zeros([1, 8, 12, 4]);
    expect(() => checkImageBatch(ok, spec)).not.toThrow();
    expect(() => checkImageBatch(tf.zeros([8, 8, 4]), spec)).toThrow(/^'x' passed to 'Net\.apply' must be a 4-D NHWC tensor \[B, H, W, 4\], got shape \[8,8,4\]$/);
    expect(() => checkImageBatch([1, 2], { ...spec, arg: 'input.image' })).toThrow(/^'input\.image' passed to 'Net\.apply' must be a 4-D NHWC tensor \[B, H, W, 4\], got object$/);
    expect(() => checkImageBatch(tf.zeros([1, 8, 8, 3]), spec)).toThrow(/must have 4 channels \(NHWC, last axis\), got shape \[1,8,8,3\]/);
    expect(() => checkImageBatch(tf.zeros([0, 8, 8, 4]), spec)).not.toThrow();
    expect(() => checkImageBatch(tf.zeros([0, 8, 8, 4]), { ...spec, nonEmpty: true })).toThrow(/must not be empty, got shape \[0,8,8,4\]/);
    expect(() => checkImageBatch(tf.zeros([1, 10, 8, 4]), spec)).toThrow(/^'x' passed to 'Net\.apply' must have height and width divisible by 4 \(2\^\(levels-1\) with 3 levels\), got 10x8$/);
    expect(() => checkImageBatch(ok, { ...spec, size: { value: 8, reason: "the pool's size" } })).toThrow(/must be 8x8 \(the pool's size\), got 8x12/);
  }));
});
