import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import * as tf from '@tensorflow/tfjs';
import { initBackend } from '@tumorcast/nn';
import { writePhantomDataset } from '@tumorcast/phantom';
import type { UNetConfig } from '@tumorcast/unet';
import { OutputFolderError, PipelineInputError } from './errors.js';
import { evaluateRun } from './evaluate-run.js';
import type { RunRecord } from './outdir.js';
import { readRunRecord } from './outdir.js';
import { reportFolder, runDataset } from './run.js';
import type { RunDatasetOptions, RunProgress } from './run.js';
import type { SamplingPlan } from './plan.js';
import { AUTHORS_REGRESSOR_PT, AUTHORS_UNET_PT, loadAuthorsReference } from '../../../libs/regressor/test/authors-fork.js';

// runDataset as another lab would call it: the API's option names, no locks, callbacks for progress.
const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'tc-pipeline-run-'));
const data = path.join(tmp, 'phantom');
let base: RunDatasetOptions;
beforeAll(async () => {
  await initBackend({ log: false });
  await writePhantomDataset(data, { seed: 4, patients: 1, preview: false, patient: { sliceIds: [80], slice: { width: 96 } } });
  const ref = loadAuthorsReference();
  base = {
    data, out: path.join(tmp, 'out'), truth: path.join(data, 'followup'),
    models: { diffusion: AUTHORS_UNET_PT, regressor: AUTHORS_REGRESSOR_PT, diffusionPreset: ref.unetConfig as unknown as UNetConfig, regressorPreset: ref.regressorConfig },
    targets: { kind: 'constant', relativeChange: 0.2 },
    settings: { noiseLevel: 6, respacing: '', samples: 2 },
  };
});
afterAll(() => fs.rmSync(tmp, { recursive: true, force: true }));

describe('runDataset', () => {
  it('writes each slice, the record, metrics and report; reports its plan and progress; frees its tensors', async () => {
    const plans: SamplingPlan[] = [];
    const events: RunProgress[] = [];
    const lines: string[] = [];
    const n0 = tf.memory().numTensors;
    const results = await runDataset({ ...base, onPlan: (p) => plans.push(p), onProgress: (p) => events.push(p), log: (m) => lines.push(m) });
    expect(tf.memory().numTensors).toBe(n0);
    expect(results.map((r) => r.id)).toEqual(['90000000_80']);
    const r = results[0]!;
    for (const f of [...r.files.followup, r.files.probability!, r.files.preview]) expect(fs.existsSync(path.join(base.out, f))).toBe(true);
    expect(r.scores?.predicted.mse).toBeGreaterThanOrEqual(0);
    // L = 6 without respacing decodes t = 5 .. 0; no step is above 20, so the target is never amplified.
    expect(r.trajectoryTimesteps).toEqual([5, 4, 3, 2, 1, 0]);
    expect(r.trajectoryTargets).toEqual(new Array(6).fill(r.targetBurden));
    expect(r.segmentedBurden).toBeGreaterThanOrEqual(0);
    for (const f of ['run.json', 'metrics.csv', 'metrics.json', 'report.html']) expect(fs.existsSync(path.join(base.out, f))).toBe(true);
    const record = JSON.parse(fs.readFileSync(path.join(base.out, 'run.json'), 'utf8')) as RunRecord;
    // Settings not given take their defaults, and are recorded.
    expect(record.settings).toMatchObject({ noiseLevel: 6, samples: 2, scale: 200000, eta: 0, seed: 0, outputMode: 'residual', baselineBurden: 'label', gradientTemperature: 1 });
    // ... but for the gradient margin at Infinity (JSON has none; JSON.stringify would write null): left out, read back as Infinity.
    expect(fs.readFileSync(path.join(base.out, 'run.json'), 'utf8')).not.toContain('gradientMarginPixels');
    expect(readRunRecord(base.out)!.settings.gradientMarginPixels).toBe(Infinity);
    expect(readRunRecord(base.out)!.provenance.settings.gradientMarginPixels).toBe(Infinity);
    expect(r.baselineBurdenSource).toBe('label');
    expect(plans).toHaveLength(1);
    expect(plans[0]).toMatchObject({ slices: 1, encodeSteps: 6, mapRuns: 2 });
    const last = events[events.length - 1]!;
    expect(last).toMatchObject({ done: plans[0]!.units, total: plans[0]!.units, last: true, status: { 'slice 1/1': 'done' } });
    expect(events.filter((e) => e.last)).toHaveLength(1);
    expect(lines.some((l) => l.startsWith('plan: 1 slice(s) x (1 guided sample + 2 probability-map runs)'))).toBe(true);
  }, 300_000);

  it('resumes a matching rerun, and refuses other settings naming them as the API does', async () => {
    const lines: string[] = [];
    await runDataset({ ...base, log: (m) => lines.push(m) });
    expect(lines).toContain('1 slice(s) already done, 0 to go');
    const other = runDataset({ ...base, settings: { ...base.settings, seed: 1 } });
    await expect(other).rejects.toBeInstanceOf(OutputFolderError);
    await expect(runDataset({ ...base, settings: { ...base.settings, seed: 1 } })).rejects.toThrow(/'settings\.seed' \(0 there, 1 now\).*Rerun with 'overwrite' to replace them/);
    await expect(runDataset({ ...base, settings: { ...base.settings, baselineBurden: 'regressor' } }))
      .rejects.toThrow(/'settings\.baselineBurden' \("label" there, "regressor" now\)/);
    await expect(runDataset({ ...base, settings: { ...base.settings, guidance: 'segmenter' } }))
      .rejects.toThrow(/'settings\.guidance' \("regressor" there, "segmenter" now\)/);
    await expect(runDataset({ ...base, settings: { ...base.settings, guidance: 'segmenter', gradientTemperature: 2 } }))
      .rejects.toThrow(/'settings\.gradientTemperature' \(1 there, 2 now\)/);
    await expect(runDataset({ ...base, settings: { ...base.settings, guidance: 'segmenter', gradientMarginPixels: 4 } }))
      .rejects.toThrow(/'settings\.gradientMarginPixels' \(Infinity there, 4 now\)/);
    // A folder recorded before the setting existed was made with the label's r0: it still resumes.
    const file = path.join(base.out, 'run.json');
    const record = JSON.parse(fs.readFileSync(file, 'utf8')) as RunRecord;
    delete (record.provenance.settings as Partial<RunRecord['settings']>).baselineBurden;
    // ... and with the regressor's guidance, before settings.guidance existed.
    delete (record.provenance.settings as Partial<RunRecord['settings']>).guidance;
    // ... and with the true gradient, before settings.gradientTemperature existed.
    delete (record.provenance.settings as Partial<RunRecord['settings']>).gradientTemperature;
    // ... and with the gradient everywhere, before settings.gradientMarginPixels existed (a null, as JSON.stringify writes Infinity, too).
    (record.provenance.settings as { gradientMarginPixels: number | null }).gradientMarginPixels = null;
    fs.writeFileSync(file, JSON.stringify(record));
    lines.length = 0;
    await runDataset({ ...base, log: (m) => lines.push(m) });
    expect(lines).toContain('1 slice(s) already done, 0 to go');
  }, 300_000);

  it('checks the settings against the diffusion model before writing anything', async () => {
    const out = path.join(tmp, 'too-noisy');
    const run = runDataset({ ...base, out, settings: { ...base.settings, noiseLevel: 5000 } });
    await expect(run).rejects.toBeInstanceOf(PipelineInputError);
    await expect(runDataset({ ...base, out, settings: { ...base.settings, noiseLevel: 5000 } }))
      .rejects.toThrow(/'settings\.noiseLevel' = 5000 is more than the 1000 timesteps of the diffusion model/);
    expect(fs.existsSync(path.join(out, 'run.json'))).toBe(false);
    await expect(runDataset({ ...base, targets: { kind: 'nope' } as never })).rejects.toThrow(/'targets' passed to 'runDataset'/);
    await expect(runDataset({ ...base, out, settings: { ...base.settings, baselineBurden: 'mask' as 'label' } }))
      .rejects.toThrow(/'settings\.baselineBurden' = "mask" must be 'label' or 'regressor'/);
    await expect(runDataset({ ...base, out, settings: { ...base.settings, gradientTemperature: 2 } }))
      .rejects.toThrow(/'settings\.gradientTemperature' = 2 applies to 'settings\.guidance' = 'segmenter' only/);
    await expect(runDataset({ ...base, out, settings: { ...base.settings, gradientTemperature: -1 } }))
      .rejects.toThrow(/'settings\.gradientTemperature' = -1 must be a finite number > 0/);
    await expect(runDataset({ ...base, out, settings: { ...base.settings, gradientMarginPixels: 4 } }))
      .rejects.toThrow(/'settings\.gradientMarginPixels' = 4 applies to 'settings\.guidance' = 'segmenter' only/);
    await expect(runDataset({ ...base, out, settings: { ...base.settings, guidance: 'segmenter', gradientMarginPixels: 2.5 } }))
      .rejects.toThrow(/'settings\.gradientMarginPixels' = 2\.5 must be an integer >= 0/);
    expect(fs.existsSync(path.join(out, 'run.json'))).toBe(false);
  });

  it('reportFolder and evaluateRun work on the finished folder', async () => {
    fs.rmSync(path.join(base.out, 'report.html'));
    await reportFolder(base.out);
    expect(fs.readFileSync(path.join(base.out, 'report.html'), 'utf8')).toMatch(/^<!doctype html>/);
    const evalOut = path.join(tmp, 'eval');
    fs.mkdirSync(evalOut);
    const scores = await evaluateRun(base.out, base.truth!, { out: evalOut });
    expect(scores.map((s) => s.id)).toEqual(['90000000_80']);
    expect(fs.readFileSync(path.join(evalOut, 'metrics.csv'), 'utf8')).toMatch(/^slice,/);
    await expect(reportFolder(path.join(tmp, 'nope'))).rejects.toThrow(/has no run\.json/);
  });
});
