import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import * as tf from '@tensorflow/tfjs';
import { CliError, resolveConfig } from '@tumorcast/cli';
import { initBackend, loadSafetensors } from '@tumorcast/nn';
import { MODALITIES } from '@tumorcast/dataset';
import { saveNifti } from '@tumorcast/nifti/node';
import { regressorConfigFromMetadata } from '@tumorcast/regressor';
import { DIFFUSION_SCHEMA, REGRESSOR_SCHEMA } from './schema.js';
import { DATA_RANGE_KEY, REGRESSOR_CONFIG_KEY, assertResumable, toModelBatch, trainRegressor, validateCheckpoint } from '@tumorcast/training';
import type { RegressorTrainingOptions } from '@tumorcast/training';
import { camelKeys } from './cli.js';

const CONFIGS = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../configs');
const quiet = () => undefined;
let tmp: string;
let data: string;

/** Three 240x240 slices with a disc tumour in the BraTS slice layout (written here: no data beside the repository needed). */
async function writeData(root: string): Promise<void> {
  const size = 240;
  const affine = [[1, 0, 0, 0], [0, 1, 0, 0], [0, 0, 1, 0], [0, 0, 0, 1]];
  for (let s = 0; s < 3; s++) {
    const dir = path.join(root, 'training', `00000007_${30 + s}`);
    fs.mkdirSync(dir, { recursive: true });
    for (const mod of [...MODALITIES, 'seg' as const]) {
      const v = new Float32Array(size * size);
      for (let y = 0; y < size; y++) {
        for (let x = 0; x < size; x++) {
          const brain = (x - 120) ** 2 + (y - 120) ** 2 < 90 ** 2;
          const tumour = (x - 100 - 10 * s) ** 2 + (y - 120) ** 2 < (15 + 5 * s) ** 2;
          v[x + size * y] = mod === 'seg' ? (tumour ? 1 : 0) : brain ? (tumour ? 0.9 : 0.4) : 0;
        }
      }
      await saveNifti(path.join(dir, `brats_train_00000007_${mod}_${30 + s}_w.nii.gz`), { shape: [size, size, 1], data: v, affine });
    }
  }
}

function regressorConfig(over: Record<string, unknown>): RegressorTrainingOptions {
  const c = resolveConfig(REGRESSOR_SCHEMA, {
    preset: {
      data_dir: data, image_size: 32, regressor_width: 32, regressor_depth: 1, regressor_channel_mult: [1, 1],
      regressor_attention_resolutions: [16], regressor_num_head_channels: 32, batch_size: 2, iterations: 1,
      save_interval: 0, diffusion_steps: 100, seed: 1, ...over,
    },
  });
  return { ...camelKeys(c), log: quiet };
}

beforeAll(async () => {
  await initBackend({ log: false });
  tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'tc-train-range-'));
  data = path.join(tmp, 'data');
  await writeData(data);
});
afterAll(() => fs.rmSync(tmp, { recursive: true, force: true }));

describe('data range and regressor head of training', () => {
  it("toModelBatch maps [0,1] slices to '[-1,1]' by 2x - 1 and leaves them for '[0,1]'", () => {
    tf.tidy(() => {
      const x = Float32Array.from({ length: 2 * 2 * 2 * 4 }, (_, i) => (i % 5) / 4);
      expect(Array.from(toModelBatch(x, 2, 2, '[-1,1]').dataSync())).toEqual(Array.from(x, (v) => 2 * v - 1));
      expect(Array.from(toModelBatch(x, 2, 2, '[0,1]').dataSync())).toEqual(Array.from(x));
    });
  });

  it("defaults: data_range '[-1,1]', regressor_head 'regression'; the presets say theirs explicitly", () => {
    const d = resolveConfig<Record<string, unknown>>(REGRESSOR_SCHEMA, { preset: { data_dir: 'x' } });
    expect([d['data_range'], d['regressor_head']]).toEqual(['[-1,1]', 'regression']);
    expect(resolveConfig<Record<string, unknown>>(DIFFUSION_SCHEMA, { preset: { data_dir: 'x' } })['data_range']).toBe('[-1,1]');
    const preset = (name: string, kind: 'diffusion' | 'regressor') => resolveConfig<Record<string, unknown>>(kind === 'diffusion' ? DIFFUSION_SCHEMA : REGRESSOR_SCHEMA, {
      preset: { data_dir: 'x' }, file: path.join(CONFIGS, `${name}-${kind}.yaml`),
    });
    // demo: the shipped models' recipe (classifier head, [-1, 1]); paper: the authors' (regression head, [0, 1])
    expect([preset('demo', 'regressor')['regressor_head'], preset('demo', 'regressor')['data_range'], preset('demo', 'diffusion')['data_range']])
      .toEqual(['classifier', '[-1,1]', '[-1,1]']);
    expect([preset('paper', 'regressor')['regressor_head'], preset('paper', 'regressor')['data_range'], preset('paper', 'diffusion')['data_range']])
      .toEqual(['regression', '[0,1]', '[0,1]']);
    expect([preset('small', 'regressor')['regressor_head'], preset('small', 'regressor')['data_range'], preset('small', 'diffusion')['data_range']])
      .toEqual(['regression', '[-1,1]', '[-1,1]']);
    expect(() => resolveConfig(REGRESSOR_SCHEMA, { preset: { data_dir: 'x', data_range: [0, 1] } })).toThrow(/'data_range' must be a string/);
    expect(() => resolveConfig(REGRESSOR_SCHEMA, { preset: { data_dir: 'x', regressor_head: 'linear' } })).toThrow(/'regressor_head' must be one of regression, classifier/);
  });

  it('a regressor checkpoint records its range and head; resuming with another range or head is refused; validate reads them', async () => {
    const dir = path.join(tmp, 'reg01');
    await trainRegressor(regressorConfig({ results_dir: dir, data_range: '[0,1]', regressor_head: 'classifier' }));
    const model = path.join(dir, 'model000001.safetensors');
    const meta = (await loadSafetensors(model)).metadata;
    expect(meta[DATA_RANGE_KEY]).toBe('[0,1]');
    expect(regressorConfigFromMetadata(meta[REGRESSOR_CONFIG_KEY]!, model).head).toBe('classifier');
    expect(() => assertResumable(model, { dataRange: '[0,1]', head: 'classifier' })).not.toThrow();
    const resume = (over: Record<string, unknown>) => trainRegressor(regressorConfig({ results_dir: dir, resume_checkpoint: model, iterations: 2, ...over }));
    await expect(resume({ data_range: '[-1,1]', regressor_head: 'classifier' })).rejects.toThrow(CliError);
    await expect(resume({ data_range: '[-1,1]', regressor_head: 'classifier' })).rejects.toThrow(/trained with data_range '\[0,1\]' but this run has '\[-1,1\]'; set data_range: '\[0,1\]'/);
    await expect(resume({ data_range: '[0,1]' })).rejects.toThrow(/has the 'classifier' head but this run builds 'regression'; set regressor_head: classifier/);
    const v = await validateCheckpoint({ checkpoint: model, dataDir: [data], batchSize: 2, maxSlices: 0, timestepsPerSlice: 1, seed: 0, log: quiet });
    expect(v.kind).toBe('regressor');
    expect(Number.isFinite(v.value)).toBe(true);
  });

  it('checkpoints written before the keys existed resume as [-1,1] with the classifier head', async () => {
    const dir = path.join(tmp, 'legacy');
    await trainRegressor(regressorConfig({ results_dir: dir, regressor_head: 'classifier' }));
    const model = path.join(dir, 'model000001.safetensors');
    // strip the new keys, as in a file from an older tumorcast
    const f = await loadSafetensors(model);
    const { [DATA_RANGE_KEY]: _range, ...meta } = f.metadata;
    const cfg = JSON.parse(meta[REGRESSOR_CONFIG_KEY]!) as Record<string, unknown>;
    delete cfg['head'];
    const { saveSafetensors } = await import('@tumorcast/nn');
    const old = path.join(tmp, 'legacy.safetensors');
    await saveSafetensors(old, f.tensors, { metadata: { ...meta, [REGRESSOR_CONFIG_KEY]: JSON.stringify(cfg) } });
    expect(() => assertResumable(old, { dataRange: '[-1,1]', head: 'classifier' })).not.toThrow();
    expect(() => assertResumable(old, { dataRange: '[-1,1]', head: 'regression' })).toThrow(/has the 'classifier' head/);
    expect(() => assertResumable(old, { dataRange: '[0,1]' })).toThrow(/trained with data_range '\[-1,1\]'/);
    expect(() => assertResumable(path.join(tmp, 'none.safetensors'), { dataRange: '[0,1]' })).toThrow(/cannot resume from .*none\.safetensors/);
  });
});
