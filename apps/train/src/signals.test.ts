/**
 * SIGINT / SIGTERM on a real `tumorcast-train` process: the signal is sent
 * once the process has logged training progress (never after a fixed time),
 * and what is on disk afterwards is checked.
 */
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { initBackend } from '@tumorcast/nn';
import { AdamW, ExponentialMovingAverage } from '@tumorcast/nn';
import { createUNet } from '@tumorcast/unet';
import { checkpointFiles, latestCheckpoint, latestIntactCheckpoint, loadCheckpoint, unetConfigOf } from '@tumorcast/training';
import { trainCli } from './cli.js';
import { camelKeys } from './cli.js';
import type { DiffusionConfig } from './schema.js';
import { TINY_DIFFUSION, spawnTrainCli, watch, writeSlices } from './test-utils/slices.js';

let tmp: string;
let data: string;
beforeAll(async () => {
  tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'tc-train-signals-'));
  data = await writeSlices(path.join(tmp, 'data'), 3);
  await initBackend({ backend: 'wasm', log: false });
});
afterAll(() => fs.rmSync(tmp, { recursive: true, force: true }));

const tempFiles = (dir: string) => fs.readdirSync(dir).filter((f) => /\.tmp-/.test(f));
const logSteps = (dir: string) => fs.readFileSync(path.join(dir, 'log.csv'), 'utf8').trim().split('\n').slice(1).map((l) => Number(l.split(',')[0]));

describe('signals on a real tumorcast-train process', () => {
  it('SIGINT with no periodic saves: finishes the step, saves a checkpoint that loads and resumes, exits 130', async () => {
    const dir = path.join(tmp, 'sigint');
    // 100 iterations: the plain progress log prints every 10 steps; no checkpoint before the end (save interval 0).
    const child = spawnTrainCli(['diffusion', '--data-dir', data, '--results-dir', dir, ...TINY_DIFFUSION, '--iterations', '100', '--save-interval', '0']);
    const out = watch(child);
    await out.waitFor(/^diffusion 10\/100 /m);
    child.kill('SIGINT');
    const { code, signal } = await out.exited;
    expect({ code, signal }).toEqual({ code: 130, signal: null });
    // The step in progress when the signal came is the one saved: no more, no fewer.
    const k = Number(out.output().match(/SIGINT: stopping after step (\d+), then saving a checkpoint/)![1]);
    expect(k).toBeGreaterThanOrEqual(10);
    expect(k).toBeLessThan(100);
    expect(out.output()).toContain(`stopped by SIGINT after ${k} steps`);
    expect(latestCheckpoint(dir)).toBe(checkpointFiles(dir, k).model);
    expect(latestIntactCheckpoint(dir).damaged).toEqual([]);
    expect(tempFiles(dir)).toEqual([]);
    expect(logSteps(dir)).toEqual(Array.from({ length: k }, (_, i) => i + 1));

    // It loads: weights, optimiser state and EMA.
    const cfg = JSON.parse(fs.readFileSync(path.join(dir, 'config.json'), 'utf8')) as DiffusionConfig;
    const net = createUNet(unetConfigOf(camelKeys(cfg)));
    const optimizer = new AdamW({ learningRate: 1e-3 });
    const ema = new ExponentialMovingAverage(net.params.variables, 0.99);
    try {
      expect(await loadCheckpoint(checkpointFiles(dir, k).model, { store: net.params, optimizer, ema })).toBe(k);
      expect(optimizer.getState().step).toBe(k);
    } finally {
      ema.dispose();
      optimizer.dispose();
      net.dispose();
    }

    // Resuming continues from it: two more steps, each logged once.
    const notes: string[] = [];
    expect(await trainCli(['diffusion', '--config', path.join(dir, 'config.json'), '--iterations', String(k + 2), '--resume-checkpoint', 'latest'], (m) => notes.push(m))).toBe(0);
    expect(notes.join('\n')).toContain(`resumed from ${checkpointFiles(dir, k).model} at step ${k}`);
    expect(latestCheckpoint(dir)).toBe(checkpointFiles(dir, k + 2).model);
    expect(logSteps(dir)).toEqual(Array.from({ length: k + 2 }, (_, i) => i + 1));
  });

  it('SIGTERM twice while checkpoints are being written: exits 143 leaving only intact checkpoints and no temporary files', async () => {
    const dir = path.join(tmp, 'sigterm');
    // A checkpoint after every step, so that the signals land while files are being written.
    const child = spawnTrainCli(['diffusion', '--data-dir', data, '--results-dir', dir, ...TINY_DIFFUSION, '--iterations', '100', '--save-interval', '1']);
    const out = watch(child);
    await out.waitFor(/^diffusion 10\/100 /m);
    child.kill('SIGTERM');
    await out.waitFor(/SIGTERM: stopping after step \d+/);
    child.kill('SIGTERM');
    const { code, signal } = await out.exited;
    expect({ code, signal }).toEqual({ code: 143, signal: null });
    expect(tempFiles(dir)).toEqual([]);
    const latest = latestIntactCheckpoint(dir);
    expect(latest.damaged).toEqual([]);
    expect(latest.file).toBe(latestCheckpoint(dir));
    const saved = Number(/model(\d+)/.exec(latest.file!)![1]);
    expect(saved).toBeGreaterThanOrEqual(10);
    expect(saved).toBeLessThan(100);
    // Every checkpoint written is complete (optimiser state and EMA beside the model file).
    for (const f of fs.readdirSync(dir).filter((n) => /^model\d+\.safetensors$/.test(n))) {
      const files = checkpointFiles(dir, Number(/\d+/.exec(f)![0]));
      expect([fs.existsSync(files.opt), fs.existsSync(files.ema)]).toEqual([true, true]);
    }
  });
});
