/**
 * The training skeleton with a network of its own (not one of the
 * commands'): what it calls, in which order, with which random streams,
 * what it writes, and that it frees everything.
 */
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import * as tf from '@tensorflow/tfjs';
import { CliError } from '@tumorcast/cli';
import { Linear, Module, initBackend, loadSafetensors } from '@tumorcast/nn';
import { Rng } from '@tumorcast/random';
import { checkpointFiles } from './checkpoint.js';
import type { SliceBatch, SliceSource } from './data.js';
import { drawNoise, meanOverSlices, noisedValidationMean, runTraining } from './train-skeleton.js';
import type { TrainHooks } from './train-skeleton.js';
import type { TrainingOptions } from './options.js';
import { writeSlices } from './test-utils/slices.js';

let tmp: string;
let data: string;
beforeAll(async () => {
  tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'tc-train-skeleton-'));
  data = await writeSlices(path.join(tmp, 'data'), 3, { size: 32 });
  await initBackend({ backend: 'wasm', log: false });
});
afterAll(() => fs.rmSync(tmp, { recursive: true, force: true }));

/** Burden from the channel means: one linear layer. */
class MeanNet extends Module<{ channels: number }> {
  readonly lin: Linear;
  constructor() {
    super({ channels: 4 }, 'test.meannet.config', { seed: 2 });
    this.lin = this.build((store) => new Linear(store, 'lin', 4, 1));
  }
  predict(images: tf.Tensor4D): tf.Tensor1D {
    return tf.reshape(this.lin.apply(tf.mean(images, [1, 2])), [-1]) as tf.Tensor1D;
  }
}

function config(dir: string, log: (m: string) => void, over: Partial<TrainingOptions> = {}): TrainingOptions {
  return {
    dataDir: [data], dataDirVal: [data], imageSize: 8, lr: 0.1, weightDecay: 0, batchSize: 2, iterations: 3,
    saveInterval: 0, evalInterval: 2, resultsDir: dir, seed: 4, maxSlices: 0, log, ...over,
  };
}

interface Calls {
  created: number;
  steps: number[];
  /** The first uniform the objective draws at each step. */
  draws: number[];
  evaluated: number;
  resumed: string[];
}

function hooks(calls: Calls, o: { ema?: number; nanAt?: number; held?: tf.Tensor[] } = {}): TrainHooks<MeanNet> {
  return {
    kind: 'meannet',
    title: 'mean net',
    requireLabels: { training: true, validation: true },
    createNet: () => (calls.created++, new MeanNet()),
    memory: (net) => ({ bytes: 4 * net.parameterCount, what: 'a step', hint: 'reduce nothing' }),
    emaRate: o.ema,
    checkResume: (file) => void calls.resumed.push(file),
    columns: ['loss', 'extra', 'val_score'],
    objective: (net, b, rng, step) => {
      calls.steps.push(step);
      calls.draws.push(rng.uniform());
      // with `held`: a tensor prepared before the loss (as an adversarial perturbation is), which the loss reads
      const offset = o.held ? tf.scalar(0) : undefined;
      if (offset) o.held!.push(offset);
      const loss = (metrics: Record<string, number | tf.Scalar>) => {
        metrics['extra'] = 10 + step;
        const s = Math.sqrt(b.images.length / b.ids.length / 4);
        const images = tf.tensor4d(b.images, [b.ids.length, s, s, 4]);
        const pred = net.predict(offset ? (tf.add(images, offset) as tf.Tensor4D) : images);
        const loss = tf.mean(tf.square(tf.sub(pred, tf.tensor1d(b.burden)))) as tf.Scalar;
        return step === o.nanAt ? (tf.mul(loss, Number.NaN) as tf.Scalar) : loss;
      };
      return offset ? { loss, held: [offset] } : loss;
    },
    evaluate: async () => (calls.evaluated++, { val_score: 0.5 }),
    metadata: (net) => ({ 'test.meannet.config': JSON.stringify(net.config), 'test.extra': 'x' }),
  };
}

const newCalls = (): Calls => ({ created: 0, steps: [], draws: [], evaluated: 0, resumed: [] });

describe('runTraining', () => {
  it('steps with the seeded stream <kind>-step-<k> (batch indices first), logs the hooks\' metrics, saves their metadata and frees everything', async () => {
    const dir = path.join(tmp, 'run');
    const calls = newCalls();
    const log: string[] = [];
    const before = tf.memory().numTensors;
    const r = await runTraining(config(dir, (m) => log.push(m)), hooks(calls, { ema: 0.5 }));
    expect(r).toMatchObject({ stepsDone: 3, interrupted: false });
    expect(tf.memory().numTensors).toBe(before);
    expect(calls).toMatchObject({ created: 1, steps: [0, 1, 2], evaluated: 1, resumed: [] });
    // the objective's rng continues the step's stream after the batch's slice indices
    const want = [0, 1, 2].map((k) => {
      const rng = new Rng(4, `meannet-step-${k}`);
      rng.int(3);
      rng.int(3);
      return rng.uniform();
    });
    expect(calls.draws).toEqual(want);
    expect(log).toEqual(['training slices: 3, validation slices: 3', 'mean net parameters: 5']);
    const rows = fs.readFileSync(path.join(dir, 'log.csv'), 'utf8').trim().split('\n').map((l) => l.split(','));
    expect(rows[0]).toEqual(['step', 'loss', 'extra', 'val_score', 'peak_mib', 'heap_mib', 'seconds']);
    expect(rows.slice(1).map((c) => [c[0], c[2], c[3]])).toEqual([['1', '10', ''], ['2', '11', '0.5'], ['3', '12', '']]);
    // The step's peak tensor memory (at least the batch of 8x8x4 images, 2 KiB) and the wasm heap, which holds it.
    for (const r of rows.slice(1)) {
      expect(Number(r[4])).toBeGreaterThanOrEqual(0.002);
      expect(Number(r[5])).toBeGreaterThanOrEqual(Number(r[4]));
    }
    const files = checkpointFiles(dir, 3);
    const model = await loadSafetensors(files.model);
    expect(model.metadata).toMatchObject({ 'tumorcast.kind': 'meannet', 'tumorcast.step': '3', 'test.meannet.config': '{"channels":4}', 'test.extra': 'x' });
    expect([...model.tensors.keys()]).toEqual(['lin.weight', 'lin.bias']);
    expect(fs.existsSync(files.ema)).toBe(true);
    expect(fs.existsSync(files.opt)).toBe(true);
  });

  it('resumes after the hook accepted the checkpoint, and writes no EMA without a rate', async () => {
    const dir = path.join(tmp, 'resume');
    const first = newCalls();
    await runTraining(config(dir, () => undefined, { iterations: 2 }), hooks(first));
    expect(fs.existsSync(checkpointFiles(dir, 2).ema)).toBe(false);
    const calls = newCalls();
    const log: string[] = [];
    const r = await runTraining(config(dir, (m) => log.push(m), { iterations: 4, resumeCheckpoint: 'latest' }), hooks(calls));
    expect(r.stepsDone).toBe(4);
    expect(calls.resumed).toEqual([checkpointFiles(dir, 2).model]);
    expect(calls.steps).toEqual([2, 3]);
    expect(log).toContain(`resumed from ${checkpointFiles(dir, 2).model} at step 2`);
  });

  it('disposes the tensors a prepared objective holds after each step, and logs what a plain objective would', async () => {
    const held: tf.Tensor[] = [];
    const before = tf.memory().numTensors;
    const r = await runTraining(config(path.join(tmp, 'held'), () => undefined), hooks(newCalls(), { held }));
    expect(r.stepsDone).toBe(3);
    expect(held).toHaveLength(3);
    expect(held.map((t) => t.isDisposed)).toEqual([true, true, true]);
    expect(tf.memory().numTensors).toBe(before);
    // adding a held zero changes nothing: the same losses as the plain objective's run
    await runTraining(config(path.join(tmp, 'held-plain'), () => undefined), hooks(newCalls()));
    const lossCol = (dir: string) => fs.readFileSync(path.join(tmp, dir, 'log.csv'), 'utf8').trim().split('\n').slice(1).map((l) => l.split(',')[1]);
    expect(lossCol('held')).toEqual(lossCol('held-plain'));
  });

  it('frees the held tensors when the step fails', async () => {
    const held: tf.Tensor[] = [];
    const before = tf.memory().numTensors;
    await expect(runTraining(config(path.join(tmp, 'held-nan'), () => undefined), hooks(newCalls(), { nanAt: 1, held }))).rejects.toThrow(/NaN at step 2/);
    expect(held.length).toBeGreaterThanOrEqual(2);
    expect(held.every((t) => t.isDisposed)).toBe(true);
    expect(tf.memory().numTensors).toBe(before);
  });

  it('stops on a non-finite loss naming the step and the fix, freeing the network', async () => {
    const before = tf.memory().numTensors;
    const err = await runTraining(config(path.join(tmp, 'nan'), () => undefined), hooks(newCalls(), { nanAt: 1 })).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(CliError);
    expect((err as CliError).message).toBe('the loss became NaN at step 2; lower the learning rate (--lr)');
    expect(tf.memory().numTensors).toBe(before);
  });
});

/** A source of `n` 1x1 slices whose single value is the slice index. */
function stubSource(n: number): SliceSource {
  return {
    size: n,
    imageSize: 1,
    batch: async (indices: readonly number[]): Promise<SliceBatch> => ({
      images: Float32Array.from(indices.flatMap((i) => [i, i, i, i])),
      masks: new Float32Array(indices.length),
      burden: indices.map((i) => i / 10),
      hasTumour: indices.map(() => 1),
      ids: indices.map((i) => `p_${i}`),
    }),
  };
}

describe('meanOverSlices and noisedValidationMean', () => {
  it('average a summed per-batch score over every slice, in order, once per pass', async () => {
    const seen: number[][] = [];
    const mean = await meanOverSlices(stubSource(5), { batchSize: 2, passes: 2 }, (b, idx) => {
      seen.push(idx);
      return b.burden.reduce((a, v) => a + v, 0);
    });
    expect(seen).toEqual([[0, 1], [2, 3], [4], [0, 1], [2, 3], [4]]);
    expect(mean).toBeCloseTo((0 + 0.1 + 0.2 + 0.3 + 0.4) / 5, 12);
  });

  it('draw the step indices, then the noise, per batch from one seeded stream; images in the network range', async () => {
    const got: { t: number[]; eps: number[]; x0: number[] }[] = [];
    const mean = await noisedValidationMean(stubSource(3), { batchSize: 2, seed: 9, stream: 'val', maxT: 7, range: '[-1,1]' }, (b, x0, t, eps) => {
      got.push({ t, eps: Array.from(eps.dataSync()), x0: Array.from(x0.dataSync()) });
      return tf.sum(x0);
    });
    const rng = new Rng(9, 'val');
    const b0 = await stubSource(3).batch([0, 1]);
    const d0 = drawNoise(rng, b0, 7);
    const d1 = drawNoise(rng, await stubSource(3).batch([2]), 7);
    expect(got.map((g) => g.t)).toEqual([d0.t, d1.t]);
    expect(got[0]!.eps).toEqual(Array.from(d0.noise));
    expect(got[1]!.eps).toEqual(Array.from(d1.noise));
    // slice i holds i in [0, 1] data: 2i - 1 in the network range
    expect(got[0]!.x0).toEqual([-1, -1, -1, -1, 1, 1, 1, 1]);
    expect(mean).toBeCloseTo((4 * -1 + 4 * 1 + 4 * 3) / 3, 5);
  });
});
