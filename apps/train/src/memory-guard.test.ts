/**
 * The diffusion command's memory guard with the shipped `paper` config: the
 * estimate it checks (the U-Net's activations and gradients with or without
 * checkpointing, AdamW's moments, the EMA) against the wasm heap.
 */
import { describe, expect, it } from '@jest/globals';
import { WASM_HEAP_LIMIT_BYTES } from '@tumorcast/nn';
import { resolveConfig } from '@tumorcast/cli';
import { configFile } from './cli.js';
import { diffusionStepBytes, regressorConfigOf, regressorStepBytes, unetConfigOf } from '@tumorcast/training';
import type { DiffusionTrainingOptions, RegressorTrainingOptions } from '@tumorcast/training';
import { camelKeys } from './cli.js';
import { DIFFUSION_SCHEMA, REGRESSOR_SCHEMA } from './schema.js';

/** The `paper` config with `flags` on top (as the command line gives them). */
function paper(flags: Record<string, string | true>): DiffusionTrainingOptions {
  const all = new Map<string, string | true>([['data_dir', 'x'], ...Object.entries(flags)]);
  return camelKeys(resolveConfig(DIFFUSION_SCHEMA, { file: configFile('diffusion', 'paper'), flags: all }));
}

function paperRegressor(flags: Record<string, string | true>): RegressorTrainingOptions {
  const all = new Map<string, string | true>([['data_dir', 'x'], ...Object.entries(flags)]);
  return camelKeys(resolveConfig(REGRESSOR_SCHEMA, { file: configFile('regressor', 'paper'), flags: all }));
}

// The paper U-Net's parameters (its tests check the count against PyTorch's state dict); the weights are in use already.
const PARAMS = 113681160;
const WEIGHTS = 4 * PARAMS;
// The fraction of the heap the diffusion command lets a step plan to use.
const BUDGET = 0.9 * WASM_HEAP_LIMIT_BYTES;

describe('diffusion memory guard, paper config', () => {
  it('checkpointing is on in the paper config and reaches the U-Net', () => {
    const c = paper({});
    expect(c.useCheckpoint).toBe(true);
    expect(unetConfigOf(c).useCheckpoint).toBe(true);
    expect(unetConfigOf(paper({ use_checkpoint: 'false' })).useCheckpoint).toBe(false);
  });

  it('a step of batch 2 at 256x256 fits with checkpointing and not without; the preset batch of 10 does not fit', () => {
    const need = (flags: Record<string, string | true>) => WEIGHTS + diffusionStepBytes(paper(flags), PARAMS);
    expect(need({ batch_size: '2' })).toBeLessThan(BUDGET);
    expect(need({ batch_size: '2', use_checkpoint: 'false' })).toBeGreaterThan(WASM_HEAP_LIMIT_BYTES);
    expect(need({})).toBeGreaterThan(WASM_HEAP_LIMIT_BYTES);
    // Gradients are counted once, with AdamW's two moments and the EMA: at least 4 copies of the parameters on top of the weights.
    expect(diffusionStepBytes(paper({ batch_size: '1' }), PARAMS)).toBeGreaterThan(4 * 4 * PARAMS);
  });
});

describe('regressor memory guard, paper config', () => {
  // The paper regressor's parameters at 256x256 (the network's count; only the gradients and AdamW's moments scale with it).
  const REG_PARAMS = 5452833;
  it('checkpointing is on and reaches the regressor; the preset batch fits with it and not without', () => {
    const c = paperRegressor({});
    expect(c.regressorUseCheckpoint).toBe(true);
    expect(regressorConfigOf(c).useCheckpoint).toBe(true);
    const need = (flags: Record<string, string | true>) => 4 * REG_PARAMS + regressorStepBytes(paperRegressor(flags), REG_PARAMS);
    expect(c.batchSize).toBe(10);
    expect(need({})).toBeLessThan(0.8 * WASM_HEAP_LIMIT_BYTES);
    expect(need({ regressor_use_checkpoint: 'false' })).toBeGreaterThan(0.8 * WASM_HEAP_LIMIT_BYTES);
  });
});
