/**
 * Loading the networks for prediction: safetensors checkpoints written by
 * `tumorcast-train` carry their network config and diffusion process in the
 * metadata; PyTorch `.pt`/`.pth` state dicts (from the reference code) need a
 * preset name for their architecture.
 */
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { loadSafetensors } from '@tumorcast/nn';
import { createUNet, UNET_CONFIG_KEY } from '@tumorcast/unet';
import type { UNet, UNetConfig, UNetPresetName } from '@tumorcast/unet';
import { createRegressor, REGRESSOR_CONFIG_KEY } from '@tumorcast/regressor';
import { DIFFUSION_CONFIG_KEY } from '@tumorcast/diffusion';
import type { Regressor, RegressorConfig, RegressorPresetName } from '@tumorcast/regressor';
import { loadSegmenter } from '@tumorcast/segmenter';
import type { SegmenterNet } from '@tumorcast/segmenter';
import { CliError } from '@tumorcast/cli';


/** The small pretrained models shipped with the app (trained on phantoms; see docs/pretrained-models.md). */
export const BUILTIN_MODEL_DIR = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../models');

/** The diffusion process a checkpoint was trained with. */
export interface DiffusionProcessConfig {
  /** T. */
  steps: number;
  /** Beta schedule. */
  schedule: 'linear' | 'cosine';
  /** Whether the U-Net learns sigma. */
  learnSigma: boolean;
}

/** Where to find the networks. */
export interface ModelPaths {
  /** Diffusion U-Net weights (safetensors from tumorcast-train, or .pt/.pth). */
  diffusion: string;
  /** Regressor weights. */
  regressor: string;
  /** Learned segmenter weights (optional: the FLAIR segmenter is used without it). */
  segmenter?: string;
  /** Architecture of a .pt diffusion file. @defaultValue 'paper' */
  diffusionPreset?: UNetPresetName;
  /** Architecture of a .pt regressor file. @defaultValue 'paper' */
  regressorPreset?: RegressorPresetName;
}

/** Loaded networks. */
export interface LoadedModels {
  /** The diffusion U-Net. */
  unet: UNet;
  /** The regressor. */
  regressor: Regressor;
  /** The learned segmenter, when given. */
  segmenter?: SegmenterNet;
  /** The diffusion process of the U-Net. */
  process: DiffusionProcessConfig;
  /** The networks' input size. */
  imageSize: number;
  /** Frees every network. */
  dispose(): void;
}

/** The built-in models' paths. */
export function builtinModelPaths(): ModelPaths {
  return {
    diffusion: path.join(BUILTIN_MODEL_DIR, 'diffusion.safetensors'),
    regressor: path.join(BUILTIN_MODEL_DIR, 'regressor.safetensors'),
    segmenter: path.join(BUILTIN_MODEL_DIR, 'segmenter.safetensors'),
  };
}

function parseMeta<T>(meta: Record<string, string>, key: string, file: string): T {
  const text = meta[key];
  if (!text) throw new CliError(`${file}: no '${key}' metadata; for weights not written by tumorcast-train give a .pt/.pth file with a preset`, 1);
  try {
    return JSON.parse(text) as T;
  } catch {
    throw new CliError(`${file}: metadata '${key}' is not valid JSON`, 1);
  }
}

function assertExists(file: string, what: string): void {
  if (!fs.existsSync(file)) throw new CliError(`${what} weights ${file} do not exist`, 1);
}

const isTorch = (f: string) => /\.(pt|pth)$/i.test(f);

/** Loads the networks (see {@link ModelPaths}). */
export async function loadModels(paths: ModelPaths): Promise<LoadedModels> {
  assertExists(paths.diffusion, 'diffusion');
  assertExists(paths.regressor, 'regressor');
  if (paths.segmenter) assertExists(paths.segmenter, 'segmenter');
  const disposers: (() => void)[] = [];
  try {
    let unet: UNet;
    let process: DiffusionProcessConfig;
    if (isTorch(paths.diffusion)) {
      unet = createUNet(paths.diffusionPreset ?? 'paper');
      disposers.push(() => unet.dispose());
      await unet.loadWeights(paths.diffusion);
      process = { steps: 1000, schedule: 'linear', learnSigma: unet.config.learnSigma };
    } else {
      const f = await loadSafetensors(paths.diffusion);
      unet = createUNet(parseMeta<UNetConfig>(f.metadata, UNET_CONFIG_KEY, paths.diffusion));
      disposers.push(() => unet.dispose());
      await unet.loadWeights(paths.diffusion);
      process = parseMeta<DiffusionProcessConfig>(f.metadata, DIFFUSION_CONFIG_KEY, paths.diffusion);
    }
    let regressor: Regressor;
    if (isTorch(paths.regressor)) {
      regressor = createRegressor(paths.regressorPreset ?? 'paper');
      disposers.push(() => regressor.dispose());
      await regressor.loadWeights(paths.regressor);
    } else {
      const f = await loadSafetensors(paths.regressor);
      regressor = createRegressor(parseMeta<RegressorConfig>(f.metadata, REGRESSOR_CONFIG_KEY, paths.regressor));
      disposers.push(() => regressor.dispose());
      await regressor.loadWeights(paths.regressor);
    }
    if (regressor.config.imageSize !== unet.config.imageSize) {
      throw new CliError(`the regressor (${paths.regressor}) takes ${regressor.config.imageSize}x${regressor.config.imageSize} images but the diffusion model (${paths.diffusion}) ${unet.config.imageSize}x${unet.config.imageSize}`, 1);
    }
    let segmenter: SegmenterNet | undefined;
    if (paths.segmenter) {
      segmenter = await loadSegmenter(paths.segmenter);
      const s = segmenter;
      disposers.push(() => s.dispose());
    }
    return {
      unet, regressor, segmenter, process, imageSize: unet.config.imageSize,
      dispose: () => disposers.forEach((d) => d()),
    };
  } catch (e) {
    disposers.forEach((d) => d());
    if (e instanceof CliError) throw e;
    throw new CliError((e as Error).message, 1);
  }
}
