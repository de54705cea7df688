import { beforeAll, describe, expect, it } from '@jest/globals';
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import * as tf from '@tensorflow/tfjs';
import { initBackend } from '../backend/index.js';
import { AdamW, ExponentialMovingAverage } from './adamw.js';

const fixture = JSON.parse(fs.readFileSync(
  path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../test/fixtures/adamw.json'), 'utf8')) as {
  w0: number[]; b0: number[]; grads: [number[], number[]][];
  cases: { lr: number; weight_decay: number; w: number[]; b: number[] }[];
};

function maxAbsDiff(a: ArrayLike<number>, b: ArrayLike<number>): number {
  let m = 0;
  for (let i = 0; i < a.length; i++) m = Math.max(m, Math.abs((a[i] as number) - (b[i] as number)));
  return m;
}

let counter = 0;
function makeVars(): tf.Variable[] {
  counter++;
  return [
    tf.variable(tf.tensor2d(fixture.w0, [3, 4]), true, `w${counter}`),
    tf.variable(tf.tensor1d(fixture.b0), true, `b${counter}`),
  ];
}

describe('AdamW matches torch.optim.AdamW', () => {
  beforeAll(async () => {
    await initBackend({ log: false });
  });

  it.each(fixture.cases)('lr $lr, weight decay $weight_decay, 5 steps (float32 tolerance 1e-6)', (c) => {
    const vars = makeVars();
    const [w, b] = vars as [tf.Variable, tf.Variable];
    const opt = new AdamW({ learningRate: c.lr, weightDecay: c.weight_decay });
    for (const [gw, gb] of fixture.grads) {
      tf.tidy(() => opt.applyGradients({ [w.name]: tf.tensor2d(gw, [3, 4]), [b.name]: tf.tensor1d(gb) }, vars));
    }
    expect(opt.step).toBe(5);
    expect(maxAbsDiff(w.dataSync(), c.w)).toBeLessThan(1e-6);
    expect(maxAbsDiff(b.dataSync(), c.b)).toBeLessThan(1e-6);
    opt.dispose();
    tf.dispose(vars);
  });

  it('resumes from saved state exactly like an uninterrupted run', () => {
    const c = fixture.cases[1]!;
    const vars = makeVars();
    const [w, b] = vars as [tf.Variable, tf.Variable];
    let opt = new AdamW({ learningRate: c.lr, weightDecay: c.weight_decay });
    fixture.grads.forEach(([gw, gb], i) => {
      if (i === 2) {
        const state = opt.getState();
        opt.dispose();
        opt = new AdamW({ learningRate: c.lr, weightDecay: c.weight_decay });
        opt.setState(state, vars);
      }
      tf.tidy(() => opt.applyGradients({ [w.name]: tf.tensor2d(gw, [3, 4]), [b.name]: tf.tensor1d(gb) }, vars));
    });
    expect(maxAbsDiff(w.dataSync(), c.w)).toBeLessThan(1e-6);
    opt.dispose();
    tf.dispose(vars);
  });

  it('minimize lowers a quadratic loss and leaks no tensors across steps', () => {
    const x = tf.variable(tf.tensor1d([3, -2]), true, 'quad');
    const opt = new AdamW({ learningRate: 0.1 });
    const loss = () => x.square().sum() as tf.Scalar;
    const first = opt.minimize(loss, [x]);
    const n = tf.memory().numTensors;
    let last = first;
    for (let i = 0; i < 50; i++) last = opt.minimize(loss, [x]);
    expect(tf.memory().numTensors).toBe(n);
    expect(last).toBeLessThan(first / 10);
    opt.dispose();
    x.dispose();
  });

  it('minimizeAsync and getStateAsync give what minimize and getState give (same updates, same loss values)', async () => {
    const run = async (asyncReads: boolean) => {
      const x = tf.variable(tf.tensor1d([3, -2, 0.5]), true, `quad-${asyncReads}`);
      const opt = new AdamW({ learningRate: 0.1, weightDecay: 0.01 });
      const loss = () => x.square().sum() as tf.Scalar;
      const losses: number[] = [];
      for (let i = 0; i < 4; i++) losses.push(asyncReads ? await opt.minimizeAsync(loss, [x]) : opt.minimize(loss, [x]));
      const n = tf.memory().numTensors;
      const scalar = opt.minimizeScalar(loss, [x]);
      expect(tf.memory().numTensors).toBe(n + 1); // only the returned loss is kept
      losses.push((await scalar.data())[0]!);
      scalar.dispose();
      const state = asyncReads ? await opt.getStateAsync() : opt.getState();
      const out = { losses, x: Array.from(await x.data()), step: state.step, m: Array.from(state.m.get(x.name)!), v: Array.from(state.v.get(x.name)!) };
      opt.dispose();
      x.dispose();
      return out;
    };
    const sync = await run(false);
    const viaAsync = await run(true);
    expect(viaAsync).toEqual(sync);
    expect(sync.step).toBe(5);
    expect(sync.losses[4]).toBeLessThan(sync.losses[0]!);
  });

  it('validates options and state', () => {
    expect(() => new AdamW({ learningRate: 0 })).toThrow(/'learningRate' passed to 'AdamW'/);
    expect(() => new AdamW({ beta2: 1 })).toThrow(/'beta2'/);
    const v = tf.variable(tf.zeros([2]), true, 'sv');
    const opt = new AdamW();
    expect(() => opt.setState({ step: 1, m: new Map([['other', new Float32Array(2)]]), v: new Map() }, [v])).toThrow(/'other'/);
    expect(() => opt.applyGradients({ sv: tf.zeros([3]) }, [v])).toThrow(/shape \[3\]/);
    v.dispose();
  });
});

describe('ExponentialMovingAverage', () => {
  it('tracks ema = rate*ema + (1-rate)*w', () => {
    const v = tf.variable(tf.tensor1d([1, 2]), true, 'emav');
    const ema = new ExponentialMovingAverage([v], 0.9);
    v.assign(tf.tensor1d([11, 12]));
    ema.update([v]);
    expect(Array.from(ema.values().get('emav')!)).toEqual([Math.fround(2), Math.fround(3)]);
    ema.setValues(new Map([['emav', new Float32Array([5, 6])]]));
    expect(Array.from(ema.values().get('emav')!)).toEqual([5, 6]);
    return ema.valuesAsync().then((m) => {
      expect(Array.from(m.get('emav')!)).toEqual([5, 6]);
      expect(() => new ExponentialMovingAverage([v], 1)).toThrow(/'rate'/);
      ema.dispose();
      v.dispose();
    });
  });
  it('rejects rate 1', () => {
    const v = tf.variable(tf.tensor1d([1, 2]), true, 'emav2');
    expect(() => new ExponentialMovingAverage([v], 1)).toThrow(/'rate'/);
    v.dispose();
  });
});
