/**
 * `tumorcast-train validate`: the validation MSE of a checkpoint on a data
 * folder — for a diffusion checkpoint the noise-prediction MSE at seeded
 * uniform timesteps, for a regressor the
 * burden MSE on noised slices, for a segmenter
 * the mean Dice.
 */
import { loadSafetensors } from '@tumorcast/nn';
import { createUNet } from '@tumorcast/unet';
import { createRegressor, regressorConfigFromMetadata } from '@tumorcast/regressor';
import { loadSegmenter } from '@tumorcast/segmenter';
import { createDiffusion, dataRangeFromMetadata } from '@tumorcast/diffusion';
import { CliError, writeFileAtomicSync } from '@tumorcast/cli';
import { openSlices } from './data.js';
import { diffusionValidationMse } from './commands-diffusion.js';
import { regressorMse } from './commands-regressor.js';
import { segmenterDice } from './commands-segmenter.js';
import { DIFFUSION_CONFIG_KEY, REGRESSOR_CONFIG_KEY, UNET_CONFIG_KEY } from './metadata.js';

/** The resolved `validate` config. */
export interface ValidateConfig {
  checkpoint: string;
  data_dir: string[];
  batch_size: number;
  max_slices: number;
  timesteps_per_slice: number;
  seed: number;
  out?: string;
}

/** What `validate` reports. */
export interface ValidateResult {
  checkpoint: string;
  kind: string;
  step: number;
  slices: number;
  metric: 'mse' | 'dice';
  value: number;
}

function parseJson(text: string | undefined, key: string, file: string): Record<string, unknown> {
  if (!text) throw new CliError(`${file}: no '${key}' metadata; was it written by tumorcast-train?`);
  try {
    return JSON.parse(text) as Record<string, unknown>;
  } catch {
    throw new CliError(`${file}: metadata '${key}' is not valid JSON`);
  }
}

/** Runs the command. */
export async function validateCheckpoint(c: ValidateConfig, log: (m: string) => void): Promise<ValidateResult> {
  const file = await loadSafetensors(c.checkpoint).catch((e: Error) => {
    throw new CliError(e.message, 1);
  });
  const kind = file.metadata['tumorcast.kind'] ?? 'unknown';
  const step = Number(file.metadata['tumorcast.step'] ?? Number.NaN);
  let value: number;
  let slices: number;
  let metric: 'mse' | 'dice' = 'mse';
  if (kind === 'diffusion' || kind === 'regressor') {
    const configKey = kind === 'diffusion' ? UNET_CONFIG_KEY : REGRESSOR_CONFIG_KEY;
    const modelConfig = parseJson(file.metadata[configKey], configKey, c.checkpoint);
    const dcfg = parseJson(file.metadata[DIFFUSION_CONFIG_KEY], DIFFUSION_CONFIG_KEY, c.checkpoint) as { steps: number; schedule: 'linear' | 'cosine'; learnSigma: boolean };
    const imageSize = modelConfig['imageSize'] as number;
    const data = await openSlices(c.data_dir, { imageSize, split: 'any', maxSlices: c.max_slices, requireLabels: kind === 'regressor' });
    slices = data.size;
    log(`${kind} checkpoint at step ${step}; ${slices} slices`);
    const diffusion = createDiffusion({ steps: dcfg.steps, schedule: dcfg.schedule, learnSigma: dcfg.learnSigma });
    // the network sees the data in the range it was trained on ('[-1,1]' for checkpoints that do not say)
    let dataRange: ReturnType<typeof dataRangeFromMetadata>;
    try {
      dataRange = dataRangeFromMetadata(file.metadata, c.checkpoint);
    } catch (e) {
      throw new CliError((e as Error).message, 1);
    }
    if (kind === 'diffusion') {
      const net = createUNet(modelConfig as never);
      try {
        await net.loadWeights(c.checkpoint);
        value = await diffusionValidationMse(net, diffusion, data, c.batch_size, c.seed, c.timesteps_per_slice, net.config.numClasses !== null, dataRange);
      } finally {
        net.dispose();
      }
    } else {
      // a stored config without 'head' was written when tumorcast built only the classifier head
      const net = createRegressor(regressorConfigFromMetadata(modelConfig, c.checkpoint));
      try {
        await net.loadWeights(c.checkpoint);
        value = await regressorMse(net, diffusion, data, c.batch_size, c.seed, c.timesteps_per_slice, dataRange);
      } finally {
        net.dispose();
      }
    }
  } else if (kind === 'segmenter') {
    const net = await loadSegmenter(c.checkpoint);
    try {
      const data = await openSlices(c.data_dir, { imageSize: net.config.imageSize, split: 'any', maxSlices: c.max_slices, requireLabels: true });
      slices = data.size;
      metric = 'dice';
      value = await segmenterDice(net, data, c.batch_size);
    } finally {
      net.dispose();
    }
  } else {
    throw new CliError(`${c.checkpoint}: unknown checkpoint kind '${kind}' (expected diffusion, regressor or segmenter)`);
  }
  const result: ValidateResult = { checkpoint: c.checkpoint, kind, step, slices, metric, value };
  if (c.out) writeFileAtomicSync(c.out, `${JSON.stringify(result, null, 2)}\n`);
  return result;
}
