import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import * as tf from '@tensorflow/tfjs';
import { DATA_RANGE_KEY } from '@tumorcast/diffusion';
import { initBackend } from '@tumorcast/nn';
import { REGRESSOR_CONFIG_KEY, createRegressor } from '@tumorcast/regressor';
import type { UNetConfig } from '@tumorcast/unet';
import { PipelineDataError, PipelineInputError } from './errors.js';
import { loadModels } from './models.js';
import { predictSlice } from './predict.js';
import { DEFAULT_SAMPLE_SETTINGS, samplingDiffusion } from './settings.js';
import type { SliceImages } from './geometry.js';
import {
  AUTHORS_REGRESSOR_PT, AUTHORS_UNET_PT, loadAuthorsReference, refArray, refTensor, type AuthorsReference,
} from '../../../libs/regressor/test/authors-fork.js';

// The authors'-fork networks and PyTorch outputs come from tools/networks/make_authors_fixtures.py.
let tmp: string;
let ref: AuthorsReference;
beforeAll(async () => {
  await initBackend({ log: false });
  tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'tc-predict-models-'));
  ref = loadAuthorsReference();
});
afterAll(() => fs.rmSync(tmp, { recursive: true, force: true }));

/** The fixture's .pt pair with its (non-preset) architecture. */
const authorsPaths = () => ({
  diffusion: AUTHORS_UNET_PT, regressor: AUTHORS_REGRESSOR_PT,
  diffusionPreset: ref.unetConfig as unknown as UNetConfig, regressorPreset: ref.regressorConfig,
});

/** Writes the authors' regressor as a tumorcast safetensors file with the given metadata changes. */
async function regressorFile(name: string, edit: (meta: Record<string, string>) => void, head: 'regression' | 'classifier' = 'regression'): Promise<string> {
  const reg = createRegressor(ref.regressorConfig);
  await reg.loadWeights(AUTHORS_REGRESSOR_PT);
  const file = path.join(tmp, name);
  const meta: Record<string, string> = { [REGRESSOR_CONFIG_KEY]: JSON.stringify({ ...reg.config, head }) };
  edit(meta);
  if (head === 'classifier') {
    const cls = createRegressor({ ...ref.regressorConfig, head });
    cls.loadStateDict(new Map([...reg.stateDict()].map(([k, v]) => [k.replace(/^out\.1\./, 'out.2.'), v])));
    await cls.saveWeights(file, { metadata: meta });
    cls.dispose();
  } else {
    await reg.saveWeights(file, { metadata: meta });
  }
  reg.dispose();
  return file;
}

describe('loading networks: data range and regressor head', () => {
  it(".pt files from the reference code: regression head, [0,1]; they load without renaming and match PyTorch", async () => {
    const models = await loadModels(authorsPaths());
    expect(models.dataRange).toBe('[0,1]');
    expect(models.regressor.config.head).toBe('regression');
    tf.tidy(() => {
      const r = models.regressor.predict(refTensor(ref, 'regressor.x') as tf.Tensor4D, refArray(ref, 'regressor.t'));
      const want = refArray(ref, 'regressor.out');
      Array.from(r.dataSync()).forEach((v, i) => expect(Math.abs(v - want[i]!)).toBeLessThan(1e-4));
    });
    models.dispose();
  });

  it('predictSlice runs the authors\' networks on the [0,1] slice unchanged (the PyTorch guided run within 1e-3)', async () => {
    const models = await loadModels({ ...authorsPaths(), segmenter: undefined });
    const run = ref.runs[0]!; // unspaced, L = 12
    const S = models.imageSize;
    const n = S * S * 4;
    const image0 = (refTensor(ref, 'guided.image').dataSync() as Float32Array).slice(0, n);
    const slice: SliceImages = {
      width: S, height: S, native: image0, model: image0, modelLabel: new Uint8Array(S * S), burden: ref.baselineBurden[0]!,
    };
    const settings = { ...DEFAULT_SAMPLE_SETTINGS, noiseLevel: run.noiseLevel, scale: run.scale, respacing: '', initialNoiseStd: 0, samples: 1 };
    const out = await predictSlice(models, slice, ref.relativeChange[0]!, { settings, diffusion: samplingDiffusion(models, settings) });
    const want = run.sample.slice(0, n);
    let worst = 0;
    for (let i = 0; i < n; i++) worst = Math.max(worst, Math.abs(out.followupModel[i]! - Math.min(1, Math.max(0, want[i]!))));
    expect(worst).toBeLessThan(1e-3);
    expect(Math.abs(out.predictedBurden - run.finalPrediction[0]!)).toBeLessThan(1e-3);
    models.dispose();
  });

  it('a diffusion model and a regressor trained on different ranges are refused; --data-range overrides', async () => {
    const minus = await regressorFile('minus.safetensors', (m) => { m[DATA_RANGE_KEY] = '[-1,1]'; });
    const paths = { ...authorsPaths(), regressor: minus };
    let err: unknown;
    await loadModels(paths).catch((e: unknown) => { err = e; });
    expect(err).toBeInstanceOf(PipelineDataError);
    expect((err as Error).message).toMatch(/the diffusion model \(.*unet\.pt\) was trained on \[0,1\] data but the regressor \(.*minus\.safetensors\) on \[-1,1\] data/);
    expect((err as Error).message).toMatch(/or 'models\.dataRange' if a file's recorded range is wrong/);
    const forced = await loadModels({ ...paths, dataRange: '[0,1]' });
    expect(forced.dataRange).toBe('[0,1]');
    forced.dispose();
    const zero = await regressorFile('zero.safetensors', (m) => { m[DATA_RANGE_KEY] = '[0,1]'; });
    const ok = await loadModels({ ...paths, regressor: zero });
    expect(ok.dataRange).toBe('[0,1]');
    ok.dispose();
    // a .pt taken as [-1,1] by override pairs with the [-1,1] file
    const both = await loadModels({ ...paths, dataRange: '[-1,1]' });
    expect(both.dataRange).toBe('[-1,1]');
    both.dispose();
  });

  it('a tumorcast regressor file without the head and range keys is the classifier head on [-1,1]', async () => {
    const legacy = await regressorFile('legacy.safetensors', (m) => {
      const c = JSON.parse(m[REGRESSOR_CONFIG_KEY]!) as Record<string, unknown>;
      delete c['head'];
      m[REGRESSOR_CONFIG_KEY] = JSON.stringify(c);
    }, 'classifier');
    // the authors' .pt U-Net is [0,1]: the pair is refused until told the range
    await expect(loadModels({ ...authorsPaths(), regressor: legacy })).rejects.toThrow(/on \[-1,1\] data/);
    const models = await loadModels({ ...authorsPaths(), regressor: legacy, dataRange: '[-1,1]' });
    expect(models.regressor.config.head).toBe('classifier');
    models.dispose();
  });

  it('a .pt of the other head names the fix; bad presets are usage errors', async () => {
    let err: unknown;
    await loadModels({ ...authorsPaths(), regressorHead: 'classifier' }).catch((e: unknown) => { err = e; });
    expect(err).toBeInstanceOf(PipelineDataError);
    expect((err as Error).message).toMatch(/The weights hold the regression head .* \('models\.regressorHead' = regression\)$/);
    // A caller's own option names (here a command line's flags) appear in the messages.
    await expect(loadModels({ ...authorsPaths(), regressorHead: 'classifier' }, { names: (o, v) => `--${o.split('.')[1]} ${v}` }))
      .rejects.toThrow(/\(--regressorHead regression\)$/);
    const preset = loadModels({ ...authorsPaths(), regressorPreset: 'huge' as never });
    await expect(preset).rejects.toThrow(/'models\.regressorPreset' must be one of paper, small, got 'huge'/);
    await expect(preset).rejects.toBeInstanceOf(PipelineInputError);
    await expect(loadModels({ ...authorsPaths(), dataRange: '0..1' as never })).rejects.toThrow(/'dataRange' passed to 'loadModels' must be/);
  });
});

describe("loading networks: the denoiser ('tfjs' or 'onnx')", () => {
  it("denoiser 'onnx': predictSlice runs the U-Net in ONNX Runtime, the PyTorch guided run within 1e-3", async () => {
    const models = await loadModels({ ...authorsPaths(), segmenter: undefined, denoiser: 'onnx' });
    expect(typeof models.denoiser).toBe('function');
    const run = ref.runs[0]!; // unspaced, L = 12
    const S = models.imageSize;
    const n = S * S * 4;
    const image0 = (refTensor(ref, 'guided.image').dataSync() as Float32Array).slice(0, n);
    const slice: SliceImages = {
      width: S, height: S, native: image0, model: image0, modelLabel: new Uint8Array(S * S), burden: ref.baselineBurden[0]!,
    };
    const settings = { ...DEFAULT_SAMPLE_SETTINGS, noiseLevel: run.noiseLevel, scale: run.scale, respacing: '', initialNoiseStd: 0, samples: 1 };
    // the tfjs U-Net must not be what runs: break it, the ONNX session holds its own weights
    const apply = models.unet.apply.bind(models.unet);
    models.unet.apply = () => { throw new Error('the tfjs U-Net ran'); };
    const out = await predictSlice(models, slice, ref.relativeChange[0]!, { settings, diffusion: samplingDiffusion(models, settings) });
    models.unet.apply = apply;
    const want = run.sample.slice(0, n);
    let worst = 0;
    for (let i = 0; i < n; i++) worst = Math.max(worst, Math.abs(out.followupModel[i]! - Math.min(1, Math.max(0, want[i]!))));
    expect(worst).toBeLessThan(1e-3);
    expect(Math.abs(out.predictedBurden - run.finalPrediction[0]!)).toBeLessThan(1e-3);
    models.dispose();
  });

  it("the default is 'tfjs' (no separate denoiser); another value is a usage error naming the option", async () => {
    const models = await loadModels(authorsPaths());
    expect(models.denoiser).toBeUndefined();
    models.dispose();
    const bad = loadModels({ ...authorsPaths(), denoiser: 'gpu' as never });
    await expect(bad).rejects.toBeInstanceOf(PipelineInputError);
    await expect(bad).rejects.toThrow(/'models\.denoiser' must be 'tfjs' or 'onnx', got 'gpu'/);
  });

  it("denoiser 'onnx' is refused up front on the webgpu backend in Node, naming what to use (a stub backend named 'webgpu')", async () => {
    class StubBackend extends tf.KernelBackend {
      override dispose(): void {}
    }
    tf.registerBackend('webgpu', () => new StubBackend(), 0);
    try {
      expect(await tf.setBackend('webgpu')).toBe(true);
      const p = loadModels({ ...authorsPaths(), denoiser: 'onnx' }, { names: (o, v) => `--${o.split('.')[1]}${v ? ` ${v}` : ''}` });
      await expect(p).rejects.toBeInstanceOf(PipelineInputError);
      await expect(p).rejects.toThrow(/^--denoiser onnx cannot run on the 'webgpu' backend in Node .*: use --denoiser tfjs, which runs the U-Net on the GPU, or the 'wasm' or 'tensorflow' backend/);
    } finally {
      await initBackend({ backend: 'wasm', log: false });
      tf.removeBackend('webgpu');
    }
  });
});
