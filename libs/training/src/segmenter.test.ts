/**
 * The segmenter's training on the fraction of each pixel that is tumour
 * (`softLabels`): the batches' fractions against block means of the written
 * disc computed here by hand, the loss's wiring, and a short run.
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import * as tf from '@tensorflow/tfjs';
import { initBackend, loadSafetensors } from '@tumorcast/nn';
import { createRng } from '@tumorcast/random';
import type { SegmenterNet } from '@tumorcast/segmenter';
import { openSlices, resolveSegmenterTrainingOptions, segmenterHooks, trainSegmenter } from './index.js';
import type { SliceBatch } from './index.js';
import { writeSlices } from './test-utils/slices.js';

let tmp: string;
let data: string;
beforeAll(async () => {
  tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'tc-training-segmenter-'));
  data = await writeSlices(path.join(tmp, 'data'), 2, { size: 240 });
  await initBackend({ backend: 'wasm', log: false });
});
afterAll(() => fs.rmSync(tmp, { recursive: true, force: true }));

/**
 * The disc label writeSlices writes for slice `slice` (240x240, radius 30),
 * zero-padded to 256 (8 pixels each side) and averaged over `256 / n`-pixel
 * blocks: the fraction of each of the n x n pixels that is tumour, row-major.
 */
function discFractions(slice: number, n: number): Float64Array {
  const size = 240, c = 120, r = 30, pad = 8, k = 256 / n;
  const cx = c + ((slice * 7) % 11) - 5;
  const out = new Float64Array(n * n);
  for (let y = 0; y < size; y++) {
    for (let x = 0; x < size; x++) {
      if ((x - cx) ** 2 + (y - c) ** 2 < r * r) out[Math.floor((y + pad) / k) * n + Math.floor((x + pad) / k)]! += 1 / (k * k);
    }
  }
  return out;
}

describe('openSlices with labelFraction', () => {
  it('gives each batch the block means of the label (within 1e-6), of which masks are the threshold at 0.5; without it, none', async () => {
    const source = await openSlices([data], { imageSize: 16, labelFraction: true });
    const b = await source.batch([1, 0]);
    expect(b.ids).toEqual(['00000001_21', '00000001_20']);
    expect(b.maskFractions).toHaveLength(2 * 16 * 16);
    for (const [k, slice] of [21, 20].entries()) {
      const want = discFractions(slice, 16);
      const got = b.maskFractions!.subarray(k * 256, (k + 1) * 256);
      let maxDiff = 0;
      for (let i = 0; i < 256; i++) maxDiff = Math.max(maxDiff, Math.abs(got[i]! - want[i]!));
      expect(maxDiff).toBeLessThanOrEqual(1e-6);
      expect(Array.from(b.masks.subarray(k * 256, (k + 1) * 256))).toEqual(Array.from(want, (v) => (v >= 0.5 ? 1 : 0)));
      // The border pixels are partly tumour: what the binary mask cannot say.
      expect(Array.from(want).filter((v) => v > 0.05 && v < 0.95).length).toBeGreaterThan(4);
    }
    expect((await (await openSlices([data], { imageSize: 16 })).batch([0])).maskFractions).toBeUndefined();
  });
});

describe('segmenterHooks with softLabels', () => {
  const options = () => ({ dataDir: [data], imageSize: 16, baseChannels: 32, channelMult: [1, 2], seed: 5 });
  /** The objective's loss on `batch` with a fresh stream (the same dropout masks every time). */
  const lossOf = (net: SegmenterNet, soft: boolean, batch: SliceBatch): number => {
    const hooks = segmenterHooks({ ...options(), softLabels: soft });
    // Inside tidy, as the training step runs it.
    const loss = tf.tidy(() => {
      const step = hooks.objective(net, batch, createRng(3), 0);
      return typeof step === 'function' ? step({}) : step.loss({});
    });
    const v = loss.dataSync()[0]!;
    loss.dispose();
    return v;
  };

  it('trains on the fractions: the loss is the binary one given the fractions as masks, and differs from it on the masks', async () => {
    expect(segmenterHooks({ ...options(), softLabels: true }).labelFraction).toBe(true);
    expect(segmenterHooks(options()).labelFraction).toBe(false);
    const b = await (await openSlices([data], { imageSize: 16, labelFraction: true })).batch([0, 1]);
    const net = segmenterHooks(options()).createNet();
    try {
      const soft = lossOf(net, true, b);
      expect(soft).toBeCloseTo(lossOf(net, false, { ...b, masks: b.maskFractions! }), 6);
      expect(Math.abs(soft - lossOf(net, false, b))).toBeGreaterThan(1e-4);
      expect(() => lossOf(net, true, { ...b, maskFractions: undefined })).toThrow(/softLabels needs batches with maskFractions/);
      const before = tf.memory().numTensors;
      lossOf(net, true, b);
      expect(tf.memory().numTensors).toBe(before);
    } finally {
      net.dispose();
    }
  });

  it('refuses a softLabels that is not a boolean, naming it', () => {
    expect(() => resolveSegmenterTrainingOptions({ dataDir: ['d'], softLabels: 'yes' as never })).toThrow(/'softLabels' must be true or false/);
    expect(resolveSegmenterTrainingOptions({ dataDir: ['d'] }).softLabels).toBe(false);
  });

  it('a short run trains on them and records softLabels in the checkpoint\'s config', async () => {
    const dir = path.join(tmp, 'soft');
    const r = await trainSegmenter({ ...options(), batchSize: 2, iterations: 2, saveInterval: 0, resultsDir: dir, softLabels: true, log: () => undefined });
    expect(r.stepsDone).toBe(2);
    const meta = (await loadSafetensors(r.lastCheckpoint!)).metadata;
    expect(JSON.parse(meta['tumorcast.config']!)).toMatchObject({ softLabels: true });
  });
});
