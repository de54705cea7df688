import { beforeAll, describe, expect, it } from '@jest/globals';
import { DATA_RANGE_KEY } from '@tumorcast/diffusion';
import { initBackend, loadSafetensors } from '@tumorcast/nn';
import { segmenterOf } from '@tumorcast/pipeline';
import { loadModels } from '@tumorcast/pipeline/node';
import { builtinModelPaths } from './models.js';

beforeAll(async () => {
  await initBackend({ log: false });
});

describe('the shipped models', () => {
  it('the shipped demo models: classifier head and [-1,1], as their metadata says', async () => {
    const paths = builtinModelPaths();
    for (const f of [paths.diffusion, paths.regressor]) expect((await loadSafetensors(f)).metadata[DATA_RANGE_KEY]).toBe('[-1,1]');
    const models = await loadModels(paths);
    expect(models.dataRange).toBe('[-1,1]');
    expect(models.regressor.config.head).toBe('classifier');
    expect(models.regressor.params.entries().some((e) => e.name.startsWith('out.2.'))).toBe(true);
    expect(segmenterOf(models).name).toBe('learned-unet');
    models.dispose();
  });
});
