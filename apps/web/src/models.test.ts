import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { initBackend, readSafetensors, writeSafetensors } from '@tumorcast/nn';
import { loadModels } from '@tumorcast/pipeline/node';
import type { PredictionNetworks } from '@tumorcast/pipeline';
import type { UNetConfig } from '@tumorcast/unet';
import { AUTHORS_REGRESSOR_PT, AUTHORS_UNET_PT, loadAuthorsReference } from '../../../libs/regressor/test/authors-fork.js';
import { networksFromWeights, WeightsFileError } from './models.js';
import type { WeightsFile } from './models.js';

// The demo networks the site serves are the command-line app's: the file loader of
// @tumorcast/pipeline/node is the reference the bytes loader must agree with.
const MODELS = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../predict/models');
const file = (name: string): WeightsFile => ({ name, bytes: new Uint8Array(fs.readFileSync(path.join(MODELS, name))) });

let fromBytes: PredictionNetworks;
let fromFiles: PredictionNetworks;
beforeAll(async () => {
  await initBackend({ log: false });
  fromBytes = networksFromWeights({ diffusion: file('diffusion.safetensors'), regressor: file('regressor.safetensors'), segmenter: file('segmenter.safetensors') });
  fromFiles = await loadModels({
    diffusion: path.join(MODELS, 'diffusion.safetensors'), regressor: path.join(MODELS, 'regressor.safetensors'), segmenter: path.join(MODELS, 'segmenter.safetensors'),
  });
});
afterAll(() => {
  fromBytes?.dispose();
  fromFiles?.dispose();
});

function sameStateDict(a: Map<string, { shape: number[]; data: Float32Array }>, b: Map<string, { shape: number[]; data: Float32Array }>): void {
  expect([...a.keys()].sort()).toEqual([...b.keys()].sort());
  for (const [k, v] of a) {
    const w = b.get(k)!;
    expect(v.shape).toEqual(w.shape);
    expect(Buffer.from(v.data.buffer, v.data.byteOffset, v.data.byteLength).equals(Buffer.from(w.data.buffer, w.data.byteOffset, w.data.byteLength))).toBe(true);
  }
}

describe('networksFromWeights', () => {
  it('builds the same networks from bytes as loadModels from the files', () => {
    expect(fromBytes.unet.config).toEqual(fromFiles.unet.config);
    expect(fromBytes.regressor.config).toEqual(fromFiles.regressor.config);
    expect(fromBytes.process).toEqual(fromFiles.process);
    expect([fromBytes.imageSize, fromBytes.dataRange]).toEqual([fromFiles.imageSize, fromFiles.dataRange]);
    sameStateDict(fromBytes.unet.stateDict(), fromFiles.unet.stateDict());
    sameStateDict(fromBytes.regressor.stateDict(), fromFiles.regressor.stateDict());
    sameStateDict(fromBytes.segmenter!.stateDict(), fromFiles.segmenter!.stateDict());
  });

  it('reads the reference code\'s .pt files with their architecture as loadModels does', async () => {
    // a tiny U-Net and regressor saved by the authors' fork (libs/regressor/test/fixtures/authors-fork)
    const ref = loadAuthorsReference();
    const unetConfig = ref.unetConfig as unknown as UNetConfig;
    const pt = (f: string): WeightsFile => ({ name: path.basename(f), bytes: new Uint8Array(fs.readFileSync(f)) });
    const a = networksFromWeights({ diffusion: pt(AUTHORS_UNET_PT), regressor: pt(AUTHORS_REGRESSOR_PT), diffusionArchitecture: unetConfig, regressorArchitecture: ref.regressorConfig });
    const b = await loadModels({ diffusion: AUTHORS_UNET_PT, regressor: AUTHORS_REGRESSOR_PT, diffusionPreset: unetConfig, regressorPreset: ref.regressorConfig });
    try {
      expect([a.process, a.dataRange, a.imageSize]).toEqual([b.process, b.dataRange, b.imageSize]);
      expect(a.dataRange).toBe('[0,1]');
      sameStateDict(a.unet.stateDict(), b.unet.stateDict());
      sameStateDict(a.regressor.stateDict(), b.regressor.stateDict());
      expect(() => networksFromWeights({ diffusion: pt(AUTHORS_UNET_PT), regressor: pt(AUTHORS_REGRESSOR_PT), diffusionArchitecture: 'huge' as 'paper' }))
        .toThrow("the architecture of unet.pt must be one of paper, small, got 'huge'");
    } finally {
      a.dispose();
      b.dispose();
    }
  });

  it('works without a segmenter', () => {
    const n = networksFromWeights({ diffusion: file('diffusion.safetensors'), regressor: file('regressor.safetensors') });
    expect(n.segmenter).toBeUndefined();
    n.dispose();
  });

  it('names a file that is not safetensors or a PyTorch file', () => {
    const junk = { name: 'junk.safetensors', bytes: new Uint8Array([1, 2, 3, 4, 5, 6, 7, 8, 9]) };
    expect(() => networksFromWeights({ diffusion: junk, regressor: file('regressor.safetensors') })).toThrow(WeightsFileError);
    expect(() => networksFromWeights({ diffusion: junk, regressor: file('regressor.safetensors') })).toThrow(/^junk\.safetensors is not a readable safetensors file/);
    const pt = { name: 'junk.pt', bytes: new Uint8Array(64) };
    expect(() => networksFromWeights({ diffusion: file('diffusion.safetensors'), regressor: pt })).toThrow(/^junk\.pt is not a readable PyTorch state dict/);
  });

  it('says what to give for weights without tumorcast metadata, and for networks that do not belong together', () => {
    const st = readSafetensors(file('regressor.safetensors').bytes);
    const bare = { name: 'bare.safetensors', bytes: writeSafetensors(st.tensors as never) };
    expect(() => networksFromWeights({ diffusion: file('diffusion.safetensors'), regressor: bare })).toThrow(/^bare\.safetensors has no 'tumorcast\.regressor\.config' metadata: give weights written by tumorcast-train/);
    // the segmenter in the regressor's place: both are checked against their own metadata key
    expect(() => networksFromWeights({ diffusion: file('diffusion.safetensors'), regressor: file('segmenter.safetensors') })).toThrow(WeightsFileError);
  });

  it('refuses a call without bytes', () => {
    expect(() => networksFromWeights({ diffusion: { name: 'x.safetensors' } as WeightsFile, regressor: file('regressor.safetensors') }))
      .toThrow("'files.diffusion' passed to 'networksFromWeights' must be { name, bytes: Uint8Array }");
  });
});
