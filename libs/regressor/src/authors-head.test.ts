import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import * as tf from '@tensorflow/tfjs';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { WeightsMismatchError, initBackend } from '@tumorcast/nn';
import { REGRESSOR_CONFIG_KEY, REGRESSOR_PRESETS, createRegressor, regressorConfigFromMetadata, resolveRegressorConfig } from './index.js';
import { AUTHORS_REGRESSOR_PT, authorsPresetShapes, loadAuthorsReference, refArray, refTensor } from '../test/authors-fork.js';
import { loadFixture, maxAbsDiff } from '../../nn/test/network-fixtures.js';

// Golden values: tools/networks/make_authors_fixtures.py (PyTorch, the authors' fork's EncoderUNetModel
// with regression=True, saved as their training script saves it). Float32 on both sides.
const TOL = 1e-4;
let tmp: string;

beforeAll(async () => {
  await initBackend({ log: false });
  tmp = mkdtempSync(path.join(tmpdir(), 'tumorcast-regressor-head-'));
});
afterAll(() => rmSync(tmp, { recursive: true, force: true }));

describe("the authors' regression head", () => {
  it('is the default: out = [GroupNorm, AttentionPool2d] (out.0.*, out.1.*)', () => {
    expect(resolveRegressorConfig('paper').head).toBe('regression');
    expect(resolveRegressorConfig({ imageSize: 16, inChannels: 4, modelChannels: 32, channelMult: [1, 1], attentionResolutions: [8], numHeadChannels: 32 }).head).toBe('regression');
    const model = createRegressor({ ...REGRESSOR_PRESETS.small });
    const out = model.params.entries().map((e) => e.name).filter((n) => n.startsWith('out.'));
    expect(out).toEqual(['out.0.weight', 'out.0.bias', 'out.1.positional_embedding', 'out.1.qkv_proj.weight', 'out.1.qkv_proj.bias', 'out.1.c_proj.weight', 'out.1.c_proj.bias']);
    model.dispose();
  });

  it("a .pt saved by the authors' code loads without renaming; value and input gradient agree with PyTorch within 1e-4", async () => {
    const ref = loadAuthorsReference();
    const model = createRegressor(ref.regressorConfig);
    await model.loadWeights(AUTHORS_REGRESSOR_PT);
    const t = refArray(ref, 'regressor.t');
    tf.tidy(() => {
      const x = refTensor(ref, 'regressor.x') as tf.Tensor4D;
      const want = refTensor(ref, 'regressor.out');
      expect(maxAbsDiff(model.predict(x, t), want)).toBeLessThan(TOL);
      const { value, grad } = model.valueAndInputGradient(x, t);
      expect(maxAbsDiff(value, want)).toBeLessThan(TOL);
      const gx = refTensor(ref, 'regressor.gx');
      // the gradient is informative: not near zero compared with the tolerance
      expect(tf.max(tf.abs(gx)).dataSync()[0]).toBeGreaterThan(100 * TOL);
      expect(maxAbsDiff(grad, gx)).toBeLessThan(TOL);
    });
    model.dispose();
  });

  it('the same weights in the classifier head give different outputs (the SiLU matters)', async () => {
    const ref = loadAuthorsReference();
    const model = createRegressor({ ...ref.regressorConfig, head: 'classifier' });
    // rename out.1.* -> out.2.* so that the classifier model accepts them
    const reg = createRegressor(ref.regressorConfig);
    await reg.loadWeights(AUTHORS_REGRESSOR_PT);
    const renamed = new Map([...reg.stateDict()].map(([k, v]) => [k.replace(/^out\.1\./, 'out.2.'), v]));
    model.loadStateDict(renamed);
    tf.tidy(() => {
      const x = refTensor(ref, 'regressor.x') as tf.Tensor4D;
      expect(maxAbsDiff(model.predict(x, refArray(ref, 'regressor.t')), refTensor(ref, 'regressor.out'))).toBeGreaterThan(1e-2);
    });
    [model, reg].forEach((m) => m.dispose());
  });

  it('the paper and small presets have the state-dict names and shapes of the fork', () => {
    const shapes = authorsPresetShapes();
    for (const name of ['paper', 'small'] as const) {
      const ref = shapes[`regressor_${name}`]!;
      const model = createRegressor(name);
      expect(new Map(model.params.entries().map((e) => [e.name, [...e.torchShape]]))).toEqual(new Map(ref.shapes));
      expect(model.parameterCount).toBe(ref.parameters);
      model.dispose();
    }
  });
});

describe('the classifier head (explicit), for older tumorcast regressors (more in regressor.test.ts)', () => {
  it('a config from checkpoint metadata without a head is the classifier head; with one it is kept', () => {
    const legacy = JSON.stringify({ imageSize: 64, inChannels: 4, modelChannels: 32, pool: 'attention', attentionDs: [4] });
    expect(regressorConfigFromMetadata(legacy, 'old.safetensors').head).toBe('classifier');
    expect(regressorConfigFromMetadata({ imageSize: 64, inChannels: 4, modelChannels: 32, head: 'regression' }, 'new.safetensors').head).toBe('regression');
    expect(() => regressorConfigFromMetadata('{', 'bad.safetensors')).toThrow(/bad\.safetensors: the regressor config in the metadata is not valid JSON/);
    expect(() => regressorConfigFromMetadata('[1]', 'bad.safetensors')).toThrow(/must be a JSON object/);
    expect(() => createRegressor({ ...REGRESSOR_PRESETS.small, head: 'linear' as never })).toThrow(/'config\.head' passed to 'createRegressor' must be 'regression' .* or 'classifier'/);
  });

  it('saved weights record the head; a file of the other head is refused saying which head it holds and what to set', async () => {
    const f = loadFixture('regressor_a'); // stock guided-diffusion EncoderUNetModel: classifier head
    const size = f.config['image_size'] as number;
    const cfg = {
      imageSize: size, inChannels: 4, modelChannels: 32, numResBlocks: 1,
      attentionResolutions: (f.config['attention_resolutions'] as number[]).map((ds) => size / ds),
      channelMult: [1, 1, 1], numHeadChannels: 32,
    };
    const classifier = createRegressor({ ...cfg, head: 'classifier' });
    classifier.loadStateDict(f.weights, { source: 'regressor_a' });
    const file = path.join(tmp, 'classifier.safetensors');
    await classifier.saveWeights(file);
    const regression = createRegressor(cfg);
    let err: unknown;
    await regression.loadWeights(file).catch((e: unknown) => { err = e; });
    expect(err).toBeInstanceOf(WeightsMismatchError);
    const msg = (err as Error).message;
    expect(msg).toContain('missing keys (5): out.1.positional_embedding');
    expect(msg).toContain('unexpected keys (5): out.2.positional_embedding');
    expect(msg).toMatch(/The weights hold the classifier head \(GroupNorm, SiLU, AttentionPool2d: out\.0\.\*, out\.2\.\*.*but the model was built with the regression head .*create it with config\.head = 'classifier'/);
    expect(() => regression.loadStateDict(f.weights, { source: 'regressor_a' })).toThrow(/config\.head = 'classifier'/);
    // the file's config says which head it is
    const { loadSafetensors } = await import('@tumorcast/nn');
    const meta = (await loadSafetensors(file)).metadata;
    expect(regressorConfigFromMetadata(meta[REGRESSOR_CONFIG_KEY]!, file).head).toBe('classifier');

    // and the other way round: the authors' .pt into a classifier-head model
    const ref = loadAuthorsReference();
    const wrong = createRegressor({ ...ref.regressorConfig, head: 'classifier' });
    await expect(wrong.loadWeights(AUTHORS_REGRESSOR_PT)).rejects.toThrow(/The weights hold the regression head \(GroupNorm, AttentionPool2d: out\.0\.\*, out\.1\.\*; the authors' regressor\) but the model was built with the classifier head .*config\.head = 'regression'/);
    // an unrelated mismatch keeps the plain message
    const other = createRegressor({ ...ref.regressorConfig, numResBlocks: 2 });
    await expect(other.loadWeights(AUTHORS_REGRESSOR_PT)).rejects.toThrow(/^(?!.*config\.head).*does not match the model/s);
    [classifier, regression, wrong, other].forEach((m) => m.dispose());
  });
});
