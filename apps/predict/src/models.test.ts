import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { DATA_RANGE_KEY } from '@tumorcast/diffusion';
import { initBackend, loadSafetensors } from '@tumorcast/nn';
import { loadNifti } from '@tumorcast/nifti/node';
import { writePhantomDataset } from '@tumorcast/phantom';
import type { SliceResult } from '@tumorcast/pipeline/node';
import { predictCli } from './cli.js';
import { segmenterOf } from '@tumorcast/pipeline';
import { loadModels } from '@tumorcast/pipeline/node';
import { builtinModelPaths } from './models.js';

const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'tc-predict-models-'));
beforeAll(async () => {
  await initBackend({ log: false });
});
afterAll(() => fs.rmSync(tmp, { recursive: true, force: true }));

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

describe('--denoiser', () => {
  it('onnx: the follow-up equals the tfjs denoiser\'s within 1e-3 (shipped models, a phantom slice)', async () => {
    const data = path.join(tmp, 'phantom');
    await writePhantomDataset(data, { seed: 11, patients: 1, preview: false, patient: { sliceIds: [80], tumourHalfHeight: 10 } });
    const id = '90000000_80';
    const followup = async (denoiser: string): Promise<Float32Array> => {
      const out = path.join(tmp, `out-${denoiser}`);
      const argv = ['sample', '--data', data, '--relative-change', '0.3', '--slices', id, '--out', out,
        '--respacing', 'ddim50', '--noise-level', '100', '--samples', '1', '--denoiser', denoiser];
      expect(await predictCli(argv, () => undefined)).toBe(0);
      const r = JSON.parse(fs.readFileSync(path.join(out, 'slices', id, 'result.json'), 'utf8')) as SliceResult;
      return Float32Array.from((await loadNifti(path.join(out, r.files.followup[3]!))).data as ArrayLike<number>);
    };
    const a = await followup('tfjs');
    const b = await followup('onnx');
    let worst = 0;
    let range = 0;
    for (let i = 0; i < a.length; i++) {
      worst = Math.max(worst, Math.abs(a[i]! - b[i]!));
      range = Math.max(range, Math.abs(a[i]!));
    }
    expect(range).toBeGreaterThan(0); // not an empty image
    expect(worst).toBeLessThanOrEqual(1e-3 * range);
  }, 300_000);

  it('another value is a usage error naming the flag', async () => {
    const e = await predictCli(['sample', '--data', tmp, '--relative-change', '0.3', '--out', path.join(tmp, 'x'), '--denoiser', 'gpu'], () => undefined)
      .then(() => null, (err: unknown) => err as Error & { exitCode?: number });
    expect(e?.message).toMatch(/'denoiser' must be one of tfjs, onnx, got "gpu"/);
    expect(e?.exitCode).toBe(2);
  });
});
