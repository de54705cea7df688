import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import * as tf from '@tensorflow/tfjs';
import { initBackend } from '@tumorcast/nn';
import { writePhantomCohort, writePhantomDataset } from '@tumorcast/phantom';
import type { UNetConfig } from '@tumorcast/unet';
import { PipelineDataError, PipelineInputError } from './errors.js';
import { loadModels } from './models.js';
import type { ModelPaths } from './models.js';
import type { PredictionNetworks } from './networks.js';
import { MAP_WORKER_BASE_BYTES, MapPool, resolveMapWorkers } from './parallel-map.js';
import type { ProbabilityMapRequest } from './parallel.js';
import { predictSlice } from './predict.js';
import { runDataset } from './run.js';
import { runCohort } from './cohort.js';
import { DEFAULT_SAMPLE_SETTINGS } from './settings.js';
import type { SampleSettings } from './settings.js';
import type { SliceImages } from './geometry.js';
import { AUTHORS_REGRESSOR_PT, AUTHORS_UNET_PT, loadAuthorsReference } from '../../../libs/regressor/test/authors-fork.js';

// The authors'-fork networks (16x16, tools/networks/make_authors_fixtures.py) and 2 workers, started once
// (from the TypeScript sources: the pool runs map-worker.ts through the repository's hooks).
const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'tc-pipeline-parallel-'));
const FAKE_WORKER = new URL('./test-utils/fake-map-worker.mjs', import.meta.url);
let paths: ModelPaths;
let networks: PredictionNetworks;
let pool: MapPool;
let slice: SliceImages;
// eta > 0 and initial noise: the runs differ, so the map has values between 0 and 1.
const settings: SampleSettings = { ...DEFAULT_SAMPLE_SETTINGS, noiseLevel: 6, respacing: '', scale: 2000, seed: 3, eta: 0.5, initialNoiseStd: 0.2, samples: 4 };
beforeAll(async () => {
  await initBackend({ log: false });
  const ref = loadAuthorsReference();
  paths = { diffusion: AUTHORS_UNET_PT, regressor: AUTHORS_REGRESSOR_PT, diffusionPreset: ref.unetConfig as unknown as UNetConfig, regressorPreset: ref.regressorConfig };
  networks = await loadModels(paths);
  // Not on SIGINT: the SIGINT test below emits one.
  pool = await MapPool.start({ models: paths, workers: 2, handleSigint: false });
  const S = networks.imageSize;
  // A phantom-like baseline: a brain disc with a bright FLAIR lesion, so that the FLAIR segmenter finds tumour.
  const image = new Float32Array(S * S * 4);
  const label = new Uint8Array(S * S);
  for (let y = 0; y < S; y++) {
    for (let x = 0; x < S; x++) {
      const p = y * S + x;
      if ((y - 7.5) ** 2 + (x - 7.5) ** 2 > 7 ** 2) continue;
      const lesion = (y - 7) ** 2 + (x - 8) ** 2 <= 2.5 ** 2;
      label[p] = lesion ? 1 : 0;
      for (let c = 0; c < 4; c++) image[p * 4 + c] = c === 3 && lesion ? 0.9 : 0.35 + 0.02 * c;
    }
  }
  const burden = label.reduce((a, v) => a + v, 0) / image.filter((_, i) => i % 4 === 3 && image[i] !== 0).length;
  slice = { width: S, height: S, native: image, model: image, modelLabel: label, nativeLabel: label, burden };
}, 60_000);
afterAll(async () => {
  await pool?.close();
  networks?.dispose();
  fs.rmSync(tmp, { recursive: true, force: true });
});

describe('MapPool', () => {
  it('computes the map predictSlice computes in this thread (max |difference| <= 1e-6, less than one run of 1/4), run progress, no tensor leak here', async () => {
    const serial = await predictSlice(networks, slice, 0.4, { settings });
    const maps: number[][] = [];
    const n0 = tf.memory().numTensors;
    const parallel = await predictSlice(networks, slice, 0.4, {
      settings, mapRunner: pool.runner('s1'), onProgress: (what, done, total) => { if (what === 'map') maps.push([done, total]); },
    });
    expect(tf.memory().numTensors).toBe(n0);
    expect(pool.size).toBe(2);
    let worst = 0;
    serial.probabilityModel.forEach((v, i) => { worst = Math.max(worst, Math.abs(v - parallel.probabilityModel[i]!)); });
    expect(worst).toBeLessThanOrEqual(1e-6);
    // Not a trivial map: the runs differ (some pixels in some runs only), and some pixels are tumour in every run.
    expect(serial.probabilityModel.some((v) => v > 0.1 && v < 0.9)).toBe(true);
    expect(serial.probabilityModel.some((v) => v === 1)).toBe(true);
    // One 'map' event per finished run, counting up to the runs.
    expect(maps).toEqual([1, 2, 3, 4].map((d) => [d, 4]));
    // The guided sample itself is computed in this thread either way.
    expect(parallel.followupModel).toEqual(serial.followupModel);
  }, 60_000);

  it('a run that throws in a worker rejects its map naming the slice and the run; the pool goes on', async () => {
    const S = 8;
    const wrong: ProbabilityMapRequest = {
      image: new Float32Array(S * S * 4), imageSize: S, baselineMask: new Float32Array(S * S), baselineBurden: 0.1, relativeChange: 0, settings: { ...settings, samples: 2 },
    };
    await expect(pool.probabilityMap(wrong, { slice: 'p1/80' }))
      .rejects.toThrow(/^slice p1\/80: probability-map run [12] of 2 failed in map worker [12]: RangeError: the slice is 8x8 but this worker's networks take 16x16 images/);
    await expect(pool.probabilityMap(wrong, { slice: 'p1/80' })).rejects.toBeInstanceOf(PipelineDataError);
    const S2 = networks.imageSize;
    const map = await pool.probabilityMap({ ...wrong, image: slice.model, imageSize: S2, baselineMask: new Float32Array(S2 * S2), settings: { ...settings, samples: 2 } });
    expect(map).toHaveLength(S2 * S2);
    // A progress callback that throws fails its map, not the process.
    const good = { ...wrong, image: slice.model, imageSize: S2, baselineMask: new Float32Array(S2 * S2), settings: { ...settings, samples: 2 } };
    await expect(pool.probabilityMap(good, { onRun: () => { throw new Error('the bar broke'); } })).rejects.toThrow(/^the bar broke$/);
    await expect(pool.probabilityMap({ ...wrong, image: new Float32Array(3) })).rejects.toBeInstanceOf(PipelineInputError);
  }, 60_000);

  it('a worker that dies rejects every pending map (no hang) and closes the pool', async () => {
    const dying = await MapPool.start({ models: { diffusion: 'exit', regressor: 'x' }, workers: 2, worker: { script: FAKE_WORKER } });
    const S = 4;
    const request: ProbabilityMapRequest = {
      image: new Float32Array(S * S * 4), imageSize: S, baselineMask: new Float32Array(S * S), baselineBurden: 0.1, relativeChange: 0, settings: { ...settings, samples: 3 },
    };
    const a = dying.probabilityMap(request, { slice: 'a' });
    const b = dying.probabilityMap(request, { slice: 'b' });
    await expect(a).rejects.toThrow(/^slice a: map worker [12] of 2 stopped \(exit code 3\) while computing run [12] of 3 of slice a \(out of memory, or killed\); the map pool is closed/);
    await expect(b).rejects.toThrow(/^slice b: map worker [12] of 2 stopped \(exit code 3\)/);
    await expect(dying.probabilityMap(request, { slice: 'c' })).rejects.toThrow(/^slice c: map worker/);
    await dying.close();
  });

  it('SIGINT terminates the workers and rejects the pending maps', async () => {
    const others = () => undefined; // stands for the process's own handler: no re-raise of the signal in the test
    process.on('SIGINT', others);
    const listeners = process.listenerCount('SIGINT');
    const hanging = await MapPool.start({ models: { diffusion: 'hang', regressor: 'x' }, workers: 2, worker: { script: FAKE_WORKER } });
    expect(process.listenerCount('SIGINT')).toBe(listeners + 1);
    const S = 4;
    const pending = hanging.probabilityMap({
      image: new Float32Array(S * S * 4), imageSize: S, baselineMask: new Float32Array(S * S), baselineBurden: 0.1, relativeChange: 0, settings: { ...settings, samples: 2 },
    }, { slice: 'z' });
    process.emit('SIGINT');
    await expect(pending).rejects.toThrow(/^slice z: interrupted \(SIGINT\): the map workers were terminated/);
    expect(process.listenerCount('SIGINT')).toBe(listeners);
    process.removeListener('SIGINT', others);
    await hanging.close();
  });

  it('refuses bad options, and a worker that cannot load the networks names the file', async () => {
    await expect(MapPool.start({ models: paths, workers: 0 })).rejects.toThrow(/'workers' passed to 'MapPool.start' must be an integer >= 1/);
    await expect(MapPool.start({ models: { ...paths, regressor: path.join(tmp, 'missing.pt') }, workers: 1 }))
      .rejects.toThrow(/^map worker 1 of 1 could not start: PipelineDataError: regressor weights .*missing\.pt do not exist/);
    await expect(MapPool.start({ models: paths, workers: 2, worker: { script: new URL('./test-utils/no-such-worker.mjs', import.meta.url) } }))
      .rejects.toThrow(/^map worker [12] of 2 stopped while starting \(exit code 1: .*no-such-worker\.mjs/);
  }, 60_000);
});

describe('resolveMapWorkers', () => {
  it('auto: the least of cores, runs and the workers that fit in free memory; a count is capped by the runs', () => {
    const diffusion = path.join(tmp, 'd.safetensors');
    const regressor = path.join(tmp, 'r.safetensors');
    fs.writeFileSync(diffusion, Buffer.alloc(10 * 1024 ** 2));
    fs.writeFileSync(regressor, Buffer.alloc(5 * 1024 ** 2));
    const models = { diffusion, regressor };
    // By hand: 2 x 15 MiB of weights + one 64x64 run (24 x 64·64·4·4 + 64·64·256·4 = 5767168 bytes) + the base.
    const per = MAP_WORKER_BASE_BYTES + 2 * 15 * 1024 ** 2 + 5767168;
    const free = 3 * per + 1;
    const base = { samples: 16, imageSize: 64, models, freeMemory: free, backend: 'wasm' as const };
    expect(resolveMapWorkers({ ...base, workers: 'auto', cores: 16 }).workers).toBe(3); // memory
    expect(resolveMapWorkers({ ...base, workers: 'auto', cores: 2 }).workers).toBe(2); // cores
    expect(resolveMapWorkers({ ...base, workers: 'auto', cores: 16, samples: 2 }).workers).toBe(2); // runs
    expect(resolveMapWorkers({ ...base, workers: 'auto', cores: 16, samples: 1 }).workers).toBe(1); // the guided sample
    expect(resolveMapWorkers({ ...base, workers: 'auto', cores: 16, freeMemory: 1 }).workers).toBe(1); // at least 1
    expect(resolveMapWorkers({ ...base, workers: 'auto', cores: 16, backend: 'tensorflow' }).workers).toBe(1);
    expect(resolveMapWorkers({ ...base, workers: 'auto', cores: 16, backend: 'webgpu' }).reason).toMatch(/^1 \(auto: on the 'webgpu' backend the GPU computes each run in parallel itself/);
    // A count is taken as given on webgpu too, with a word on what it costs.
    expect(resolveMapWorkers({ ...base, workers: 2, backend: 'webgpu', names: (o, v) => `--${o} ${v}` })).toMatchObject({
      workers: 2, warning: "on the 'webgpu' backend each of the 2 map workers opens a GPU device of its own and holds its own copy of the networks in GPU memory (auto uses one: --workers 1)",
    });
    expect(resolveMapWorkers({ ...base, workers: 'auto', cores: 16, models: { ...models, denoiser: 'onnx' } }).reason).toMatch(/^1 \(auto: the 'onnx' denoiser/);
    // In a Jest worker (as here) without a core count: 1, as Jest runs a test file per core.
    expect(resolveMapWorkers({ ...base, workers: 'auto' }).reason).toMatch(/^1 \(auto: inside a Jest worker/);
    expect(resolveMapWorkers({ ...base, workers: 8, samples: 4 })).toMatchObject({ workers: 4, reason: '4 (8 asked for, capped by the 4 runs per map)' });
    const many = resolveMapWorkers({ ...base, workers: 4 });
    expect(many.workers).toBe(4);
    expect(many.warning).toMatch(/^4 map workers may need about 1\.1 GiB of memory \(0\.3 GiB each\), more than the 0\.9 GiB free/);
    expect(resolveMapWorkers({ ...base, workers: 3 }).warning).toBeUndefined();
    expect(() => resolveMapWorkers({ ...base, workers: 0 })).toThrow(/'workers' = 0 is not 'auto' or an integer >= 1/);
    expect(() => resolveMapWorkers({ ...base, workers: 1.5, names: (o, v) => `--${o} ${v}` })).toThrow(/^--workers 1\.5 is not/);
  });
});

describe('runDataset with map workers', () => {
  it('writes the same maps with a pool as in this thread', async () => {
    const data = path.join(tmp, 'phantom');
    await writePhantomDataset(data, { seed: 4, patients: 1, preview: false, patient: { sliceIds: [80], slice: { width: 48 } } });
    const base = { data, models: paths, targets: { kind: 'constant' as const, relativeChange: 0.2 }, settings: { ...settings, samples: 2 }, report: false };
    const lines: string[] = [];
    const [one] = await runDataset({ ...base, out: path.join(tmp, 'serial'), workers: 1, log: (m) => lines.push(m) });
    expect(lines).toContain('map workers: 1 (maps in this thread)');
    const [two] = await runDataset({ ...base, out: path.join(tmp, 'pool'), mapPool: pool });
    const map = (dir: string) => fs.readFileSync(path.join(tmp, dir, one!.files.probability!));
    expect(map('pool').equals(map('serial'))).toBe(true);
    expect(two!.predictedBurden).toBe(one!.predictedBurden);
    // The run does not close a pool it was given.
    expect(pool.size).toBe(2);
    await expect(runDataset({ ...base, out: path.join(tmp, 'x'), workers: 0 })).rejects.toThrow(/'workers' = 0 is not 'auto' or an integer >= 1/);
  }, 60_000);
});

describe('runCohort with map workers', () => {
  it('scores the same maps (and scenario maps) with a pool as in this thread', async () => {
    const data = path.join(tmp, 'cohort');
    await writePhantomCohort(data, { seed: 2, patients: 1, size: 48 });
    const base = {
      cohort: path.join(data, 'cohort.json'), models: paths, settings: { ...settings, noiseLevel: 3, samples: 2 }, replicates: 4,
      scenarios: [{ name: 'no RT', noRt: true }],
    };
    const lines: string[] = [];
    const one = await runCohort({ ...base, out: path.join(tmp, 'cohort-serial'), workers: 1, log: (m) => lines.push(m) });
    expect(lines).toContain('map workers: 1 (maps in this thread)');
    const two = await runCohort({ ...base, out: path.join(tmp, 'cohort-pool'), mapPool: pool });
    const maps = (r: typeof one) => r.patients.map((p) => ({ slices: p.slices.map((x) => x.scores), scenarios: p.scenarios }));
    expect(maps(two)).toEqual(maps(one));
    expect(pool.size).toBe(2);
  }, 60_000);
});
