/**
 * Validation of a checkpoint: the validation MSE of a checkpoint on a data
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
import { CliError, ExitCode, writeFileAtomicSync } from '@tumorcast/cli';
import { checkNumber, withDefaults } from './options.js';
import { openSlices } from './data.js';
import { diffusionValidationMse } from './diffusion.js';
import { regressorMse } from './regressor.js';
import { segmenterDice } from './segmenter.js';
import { DIFFUSION_CONFIG_KEY, REGRESSOR_CONFIG_KEY, UNET_CONFIG_KEY } from './metadata.js';

/** Options of {@link validateCheckpoint}. */
export interface ValidateOptions {
  /** A `modelNNNNNN.safetensors` written by the training (diffusion, regressor or segmenter). */
  checkpoint: string;
  /** Data root(s) to evaluate on (validation/ and testing/ with test_labels/, or training/). */
  dataDir: readonly string[];
  /** Slices per batch. @defaultValue 4 */
  batchSize?: number;
  /** Evaluate at most this many slices (0: all). @defaultValue 0 */
  maxSlices?: number;
  /** Noise levels drawn per slice (uniform in [0, T)). @defaultValue 4 */
  timestepsPerSlice?: number;
  /** Seed of the noise and the timesteps. @defaultValue 0 */
  seed?: number;
  /** Also write the result as JSON to this file. @defaultValue not written */
  out?: string;
  /** Notices (the checkpoint's kind and step, the slice count). @defaultValue a line on stderr */
  log?: (message: string) => void;
}

/** The defaults of {@link ValidateOptions}. */
export const VALIDATE_DEFAULTS = { batchSize: 4, maxSlices: 0, timestepsPerSlice: 4, seed: 0 } as const;

/** What {@link validateCheckpoint} reports. */
export interface ValidateResult {
  /** The checkpoint file. */
  checkpoint: string;
  /** Its `tumorcast.kind`: diffusion, regressor or segmenter. */
  kind: string;
  /** Its training step. */
  step: number;
  /** The number of slices evaluated. */
  slices: number;
  /** `mse` for diffusion and regressor checkpoints, `dice` for segmenters. */
  metric: 'mse' | 'dice';
  /** The metric's value. */
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

/**
 * The validation metric of a checkpoint on a data folder (see the module
 * comment): the network is rebuilt from the checkpoint's metadata.
 *
 * @param options - see {@link ValidateOptions}.
 */
export async function validateCheckpoint(options: ValidateOptions): Promise<ValidateResult> {
  if (typeof options.checkpoint !== 'string' || !options.checkpoint) throw new CliError(`checkpoint must be a modelNNNNNN.safetensors path, got ${JSON.stringify(options.checkpoint)}`, ExitCode.usage);
  if (!Array.isArray(options.dataDir) || !options.dataDir.length) throw new CliError(`dataDir must be a non-empty list of data set root folders, got ${JSON.stringify(options.dataDir)}`, ExitCode.usage);
  const c = withDefaults(options, VALIDATE_DEFAULTS);
  checkNumber('batchSize', c.batchSize, { integer: true, min: 1 });
  checkNumber('timestepsPerSlice', c.timestepsPerSlice, { integer: true, min: 1 });
  for (const k of ['maxSlices', 'seed'] as const) checkNumber(k, c[k], { integer: true, min: 0 });
  const log = c.log ?? ((m: string) => void process.stderr.write(`${m}\n`));
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
    const data = await openSlices(c.dataDir, { imageSize, split: 'any', maxSlices: c.maxSlices, requireLabels: kind === 'regressor' });
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
        value = await diffusionValidationMse(net, diffusion, data, c.batchSize, c.seed, c.timestepsPerSlice, net.config.numClasses !== null, dataRange);
      } finally {
        net.dispose();
      }
    } else {
      // a stored config without 'head' was written when tumorcast built only the classifier head
      const net = createRegressor(regressorConfigFromMetadata(modelConfig, c.checkpoint));
      try {
        await net.loadWeights(c.checkpoint);
        value = await regressorMse(net, diffusion, data, c.batchSize, c.seed, c.timestepsPerSlice, dataRange);
      } finally {
        net.dispose();
      }
    }
  } else if (kind === 'segmenter') {
    const net = await loadSegmenter(c.checkpoint);
    try {
      const data = await openSlices(c.dataDir, { imageSize: net.config.imageSize, split: 'any', maxSlices: c.maxSlices, requireLabels: true });
      slices = data.size;
      metric = 'dice';
      value = await segmenterDice(net, data, c.batchSize);
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
