/**
 * Loading the networks for prediction: safetensors checkpoints written by
 * `tumorcast-train` carry their network config, diffusion process and data
 * range in the metadata; PyTorch `.pt`/`.pth` state dicts (from the
 * reference code) need a preset name (or config) for their architecture and
 * are taken to be trained, as the reference code trains, on [0, 1] data with
 * the regression head.
 */
import fs from 'node:fs';
import { WeightsMismatchError, loadSafetensors, syncReadsAvailable } from '@tumorcast/nn';
import { createUNet, UNET_CONFIG_KEY, UNET_PRESETS } from '@tumorcast/unet';
import type { UNet, UNetConfig, UNetPresetName } from '@tumorcast/unet';
import { createRegressor, REGRESSOR_CONFIG_KEY, REGRESSOR_PRESETS, regressorConfigFromMetadata } from '@tumorcast/regressor';
import { DIFFUSION_CONFIG_KEY, REFERENCE_DATA_RANGE, checkDataRange, dataRangeFromMetadata } from '@tumorcast/diffusion';
import type { DataRange } from '@tumorcast/diffusion';
import type { Regressor, RegressorConfig, RegressorHead, RegressorPresetName } from '@tumorcast/regressor';
import { loadSegmenter } from '@tumorcast/segmenter';
import type { SegmenterNet } from '@tumorcast/segmenter';
import { PipelineDataError, PipelineError, PipelineInputError, apiOptionName } from './errors.js';
import type { OptionNamer } from './errors.js';
import type { DiffusionProcessConfig, PredictionNetworks } from './networks.js';

/** Where to find the networks. */
export interface ModelPaths {
  /** Diffusion U-Net weights (safetensors from tumorcast-train, or .pt/.pth). */
  diffusion: string;
  /** Regressor weights. */
  regressor: string;
  /** Learned segmenter weights (optional: the FLAIR segmenter is used without it). */
  segmenter?: string;
  /** Architecture of a .pt diffusion file: a preset name or a config. @defaultValue 'paper' */
  diffusionPreset?: UNetPresetName | UNetConfig;
  /** Architecture of a .pt regressor file: a preset name or a config. @defaultValue 'paper' */
  regressorPreset?: RegressorPresetName | RegressorConfig;
  /**
   * Attention-pool head of a .pt regressor (overrides a config's `head`):
   * the reference code's regressors have the `'regression'` head.
   * @defaultValue 'regression'
   */
  regressorHead?: RegressorHead;
  /**
   * The data range both networks were trained on, overriding what the files
   * say (for a .pt trained on another range, or a file whose metadata is wrong).
   * @defaultValue from the files: tumorcast checkpoints record theirs ('[-1,1]'
   * when written before it was recorded); .pt/.pth files are '[0,1]', as the
   * reference code trains
   */
  dataRange?: DataRange;
  /**
   * Where the diffusion U-Net's forward passes run: `'tfjs'` (the loaded U-Net), or
   * `'onnx'` (ONNX Runtime on the CPU through `@tumorcast/onnx`, several
   * times faster; needs the optional `onnxruntime-node`). The same outputs
   * within float32 rounding; the regressor stays in tfjs. `'onnx'` is
   * refused on the `webgpu` backend in Node (the samplers call the denoiser
   * synchronously, and its inputs cannot be read from the GPU synchronously there).
   * @defaultValue 'tfjs'
   */
  denoiser?: 'tfjs' | 'onnx';
}

/** Options of {@link loadModels}. */
export interface LoadModelsOptions {
  /**
   * How messages name the options.
   * @defaultValue apiOptionName
   */
  names?: OptionNamer;
}

function parseMeta<T>(meta: Record<string, string>, key: string, file: string): T {
  const text = meta[key];
  if (!text) throw new PipelineDataError(`${file}: no '${key}' metadata; for weights not written by tumorcast-train give a .pt/.pth file with a preset`);
  try {
    return JSON.parse(text) as T;
  } catch {
    throw new PipelineDataError(`${file}: metadata '${key}' is not valid JSON`);
  }
}

function assertExists(file: string, what: string): void {
  if (!fs.existsSync(file)) throw new PipelineDataError(`${what} weights ${file} do not exist`);
}

const isTorch = (f: string) => /\.(pt|pth)$/i.test(f);

/** A .pt architecture: a preset name or a config, checked here so that a bad name is an error naming the option. */
function torchArchitecture<P extends string, C>(spec: P | C | undefined, presets: Readonly<Record<P, unknown>>, what: string): P | C {
  const v = spec ?? ('paper' as P);
  if (typeof v === 'string' && !(v in presets)) throw new PipelineInputError(`${what} must be one of ${Object.keys(presets).join(', ')}, got '${v}'`);
  return v;
}

/** The data range of a network file: the override, else the file's metadata, else the reference code's [0, 1] for .pt. */
function rangeOf(file: string, metadata: Record<string, string> | undefined, override: DataRange | undefined): DataRange {
  if (override !== undefined) return checkDataRange(override, "'dataRange' passed to 'loadModels'");
  return metadata ? dataRangeFromMetadata(metadata, file) : REFERENCE_DATA_RANGE;
}

/**
 * Loads the networks (see {@link ModelPaths}) and checks that they belong
 * together: the same image size and data range.
 *
 * @example
 * ```ts
 * const networks = await loadModels({ diffusion: 'model100000.pt', regressor: 'regressor.pt', diffusionPreset: 'paper' });
 * // ... predictSlice(networks, ...) ...
 * networks.dispose();
 * ```
 *
 * @param paths - the network files.
 * @param options - see {@link LoadModelsOptions}.
 * @throws PipelineDataError naming the file (missing, unreadable, without the metadata it needs, or not matching the other network);
 *   PipelineInputError for an unknown preset.
 */
export async function loadModels(paths: ModelPaths, options: LoadModelsOptions = {}): Promise<PredictionNetworks> {
  const names = options.names ?? apiOptionName;
  const denoiserKind = paths.denoiser ?? 'tfjs';
  if (denoiserKind !== 'tfjs' && denoiserKind !== 'onnx') throw new PipelineInputError(`${names('models.denoiser')} must be 'tfjs' or 'onnx', got '${String(denoiserKind)}'`);
  if (denoiserKind === 'onnx' && !syncReadsAvailable()) {
    // The samplers call the denoiser synchronously; it hands x to ONNX Runtime on the CPU, a synchronous read WebGPU cannot do in Node.
    throw new PipelineInputError(
      `${names('models.denoiser', 'onnx')} cannot run on the 'webgpu' backend in Node (it must read the GPU's tensors synchronously, which WebGPU cannot do there): `
        + `use ${names('models.denoiser', 'tfjs')}, which runs the U-Net on the GPU, or the 'wasm' or 'tensorflow' backend with the ONNX denoiser`,
    );
  }
  assertExists(paths.diffusion, 'diffusion');
  assertExists(paths.regressor, 'regressor');
  if (paths.segmenter) assertExists(paths.segmenter, 'segmenter');
  const disposers: (() => void)[] = [];
  try {
    let unet: UNet;
    let process: DiffusionProcessConfig;
    let diffusionRange: DataRange;
    if (isTorch(paths.diffusion)) {
      unet = createUNet(torchArchitecture(paths.diffusionPreset, UNET_PRESETS, names('models.diffusionPreset')));
      disposers.push(() => unet.dispose());
      await unet.loadWeights(paths.diffusion);
      process = { steps: 1000, schedule: 'linear', learnSigma: unet.config.learnSigma };
      diffusionRange = rangeOf(paths.diffusion, undefined, paths.dataRange);
    } else {
      const f = await loadSafetensors(paths.diffusion);
      unet = createUNet(parseMeta<UNetConfig>(f.metadata, UNET_CONFIG_KEY, paths.diffusion));
      disposers.push(() => unet.dispose());
      await unet.loadWeights(paths.diffusion);
      process = parseMeta<DiffusionProcessConfig>(f.metadata, DIFFUSION_CONFIG_KEY, paths.diffusion);
      diffusionRange = rangeOf(paths.diffusion, f.metadata, paths.dataRange);
    }
    let regressor: Regressor;
    let regressorRange: DataRange;
    if (isTorch(paths.regressor)) {
      const arch = torchArchitecture(paths.regressorPreset, REGRESSOR_PRESETS, names('models.regressorPreset'));
      const config: RegressorConfig = typeof arch === 'string' ? { ...REGRESSOR_PRESETS[arch] } : { ...arch };
      if (paths.regressorHead !== undefined) config.head = paths.regressorHead;
      regressor = createRegressor(config);
      disposers.push(() => regressor.dispose());
      try {
        await regressor.loadWeights(paths.regressor);
      } catch (e) {
        // the network's message says which head the file holds; add the option that selects it
        const head = e instanceof WeightsMismatchError ? /config\.head = '(\w+)'/.exec(e.message)?.[1] : undefined;
        if (head) throw new PipelineDataError(`${(e as Error).message} (${names('models.regressorHead', head)})`, { cause: e });
        throw e;
      }
      regressorRange = rangeOf(paths.regressor, undefined, paths.dataRange);
    } else {
      const f = await loadSafetensors(paths.regressor);
      // a stored config without 'head' comes from a tumorcast that built only the classifier head
      const config = regressorConfigFromMetadata(parseMeta<Record<string, unknown>>(f.metadata, REGRESSOR_CONFIG_KEY, paths.regressor), paths.regressor);
      regressor = createRegressor(config);
      disposers.push(() => regressor.dispose());
      await regressor.loadWeights(paths.regressor);
      regressorRange = rangeOf(paths.regressor, f.metadata, paths.dataRange);
    }
    if (regressor.config.imageSize !== unet.config.imageSize) {
      throw new PipelineDataError(`the regressor (${paths.regressor}) takes ${regressor.config.imageSize}x${regressor.config.imageSize} images but the diffusion model (${paths.diffusion}) ${unet.config.imageSize}x${unet.config.imageSize}`);
    }
    if (regressorRange !== diffusionRange) {
      throw new PipelineDataError(
        `the diffusion model (${paths.diffusion}) was trained on ${diffusionRange} data but the regressor (${paths.regressor}) on ${regressorRange} data: `
        + 'one of them would see inputs it has never seen. Use networks trained on the same data range (tumorcast-train data_range), '
        + `or ${names('models.dataRange')} if a file's recorded range is wrong (.pt files are taken as [0,1], as the reference code trains)`,
      );
    }
    let segmenter: SegmenterNet | undefined;
    if (paths.segmenter) {
      segmenter = await loadSegmenter(paths.segmenter);
      const s = segmenter;
      disposers.push(() => s.dispose());
    }
    let denoiser: PredictionNetworks['denoiser'];
    if (denoiserKind === 'onnx') {
      // loaded on first use: onnxruntime-node is an optional native dependency
      const onnx = await import('@tumorcast/onnx');
      try {
        const d = await onnx.createOnnxDenoiser(unet);
        disposers.push(() => void d.dispose());
        denoiser = d;
      } catch (e) {
        if (e instanceof onnx.OnnxRuntimeUnavailableError) throw new PipelineInputError(`${names('models.denoiser', 'onnx')} needs ONNX Runtime: ${e.message}`, { cause: e });
        throw e;
      }
    }
    return {
      unet, denoiser, regressor, segmenter, process, imageSize: unet.config.imageSize, dataRange: diffusionRange,
      dispose: () => disposers.forEach((d) => d()),
    };
  } catch (e) {
    disposers.forEach((d) => d());
    if (e instanceof PipelineError) throw e;
    throw new PipelineDataError((e as Error).message, { cause: e });
  }
}
