/**
 * The networks from bytes: the browser's counterpart of `loadModels` of
 * `@tumorcast/pipeline/node`, for files fetched from the app's own folder
 * (the shipped demo models) or picked by the user. Safetensors files from
 * tumorcast-train carry their config, diffusion process and data range;
 * PyTorch `.pt`/`.pth` state dicts (the reference code's) need their
 * architecture (a preset, 'paper' by default) and are taken to be trained on
 * [0, 1] data with the regression head, as the reference code trains.
 */
import { readSafetensors, readTorchStateDict } from '@tumorcast/nn';
import type { SafetensorsFile } from '@tumorcast/nn';
import { DIFFUSION_CONFIG_KEY, REFERENCE_DATA_RANGE, dataRangeFromMetadata } from '@tumorcast/diffusion';
import type { DataRange } from '@tumorcast/diffusion';
import type { DiffusionProcessConfig, PredictionNetworks } from '@tumorcast/pipeline';
import { createRegressor, REGRESSOR_CONFIG_KEY, REGRESSOR_PRESETS, regressorConfigFromMetadata } from '@tumorcast/regressor';
import type { Regressor, RegressorConfig, RegressorPresetName } from '@tumorcast/regressor';
import { createSegmenterNet, SEGMENTER_CONFIG_KEY } from '@tumorcast/segmenter';
import type { SegmenterConfig, SegmenterNet } from '@tumorcast/segmenter';
import { createUNet, UNET_CONFIG_KEY, UNET_PRESETS } from '@tumorcast/unet';
import type { UNet, UNetConfig, UNetPresetName } from '@tumorcast/unet';

/** A weights file: its name (which says safetensors or PyTorch) and bytes. */
export interface WeightsFile {
  /** File name, e.g. `diffusion.safetensors` or `model100000.pt`. */
  name: string;
  /** The file's content. */
  bytes: Uint8Array;
}

/** The weights of a prediction. */
export interface WeightsFiles {
  /** The diffusion U-Net. */
  diffusion: WeightsFile;
  /** The regressor. */
  regressor: WeightsFile;
  /** The learned segmenter (the FLAIR segmenter is used without it). */
  segmenter?: WeightsFile;
  /**
   * Architecture of a `.pt`/`.pth` diffusion file (safetensors files carry theirs).
   * @defaultValue 'paper'
   */
  diffusionArchitecture?: UNetPresetName | UNetConfig;
  /**
   * Architecture of a `.pt`/`.pth` regressor file; its head is the regression head unless the config says otherwise.
   * @defaultValue 'paper'
   */
  regressorArchitecture?: RegressorPresetName | RegressorConfig;
}

/** A weights file that cannot be used; the message names the file and what to do. */
export class WeightsFileError extends Error {
  /** @param message - what is wrong and what to do. */
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'WeightsFileError';
  }
}

const isTorch = (name: string) => /\.(pt|pth)$/i.test(name);

function safetensors(f: WeightsFile): SafetensorsFile {
  try {
    return readSafetensors(f.bytes, { widenToFloat32: true, source: f.name });
  } catch (e) {
    throw new WeightsFileError(`${f.name} is not a readable safetensors file: ${(e as Error).message}`, { cause: e });
  }
}

function torch(f: WeightsFile) {
  try {
    return readTorchStateDict(f.bytes, { toFloat32: true, stripPrefix: false });
  } catch (e) {
    throw new WeightsFileError(`${f.name} is not a readable PyTorch state dict: ${(e as Error).message}`, { cause: e });
  }
}

function meta<T>(f: WeightsFile, file: SafetensorsFile, key: string): T {
  const text = file.metadata[key];
  if (!text) throw new WeightsFileError(`${f.name} has no '${key}' metadata: give weights written by tumorcast-train, or a .pt/.pth file of the paper's architecture`);
  try {
    return JSON.parse(text) as T;
  } catch {
    throw new WeightsFileError(`${f.name}: metadata '${key}' is not valid JSON`);
  }
}

/**
 * Builds the networks from their weights files and checks that they belong
 * together (same image size and data range).
 *
 * @param files - see {@link WeightsFiles}.
 * @returns the networks (dispose them when done).
 * @throws WeightsFileError naming the file.
 */
export function networksFromWeights(files: WeightsFiles): PredictionNetworks {
  for (const k of ['diffusion', 'regressor'] as const) {
    const f = files[k];
    if (!f || !(f.bytes instanceof Uint8Array)) throw new TypeError(`'files.${k}' passed to 'networksFromWeights' must be { name, bytes: Uint8Array }`);
  }
  const disposers: (() => void)[] = [];
  try {
    let unet: UNet;
    let process: DiffusionProcessConfig;
    let diffusionRange: DataRange;
    const d = files.diffusion;
    if (isTorch(d.name)) {
      const arch = files.diffusionArchitecture ?? 'paper';
      if (typeof arch === 'string' && !(arch in UNET_PRESETS)) throw new WeightsFileError(`the architecture of ${d.name} must be one of ${Object.keys(UNET_PRESETS).join(', ')}, got '${arch}'`);
      unet = createUNet(typeof arch === 'string' ? UNET_PRESETS[arch] : arch);
      disposers.push(() => unet.dispose());
      unet.loadStateDict(torch(d), { source: d.name });
      process = { steps: 1000, schedule: 'linear', learnSigma: unet.config.learnSigma };
      diffusionRange = REFERENCE_DATA_RANGE;
    } else {
      const st = safetensors(d);
      unet = createUNet(meta<UNetConfig>(d, st, UNET_CONFIG_KEY));
      disposers.push(() => unet.dispose());
      unet.loadStateDict(st.tensors, { source: d.name });
      process = meta<DiffusionProcessConfig>(d, st, DIFFUSION_CONFIG_KEY);
      diffusionRange = dataRangeFromMetadata(st.metadata, d.name);
    }
    let regressor: Regressor;
    let regressorRange: DataRange;
    const r = files.regressor;
    if (isTorch(r.name)) {
      const arch = files.regressorArchitecture ?? 'paper';
      if (typeof arch === 'string' && !(arch in REGRESSOR_PRESETS)) throw new WeightsFileError(`the architecture of ${r.name} must be one of ${Object.keys(REGRESSOR_PRESETS).join(', ')}, got '${arch}'`);
      regressor = createRegressor(typeof arch === 'string' ? { ...REGRESSOR_PRESETS[arch], head: 'regression' } : { head: 'regression', ...arch });
      disposers.push(() => regressor.dispose());
      regressor.loadStateDict(torch(r), { source: r.name });
      regressorRange = REFERENCE_DATA_RANGE;
    } else {
      const st = safetensors(r);
      regressor = createRegressor(regressorConfigFromMetadata(meta<Record<string, unknown>>(r, st, REGRESSOR_CONFIG_KEY), r.name));
      disposers.push(() => regressor.dispose());
      regressor.loadStateDict(st.tensors, { source: r.name });
      regressorRange = dataRangeFromMetadata(st.metadata, r.name);
    }
    if (regressor.config.imageSize !== unet.config.imageSize) {
      throw new WeightsFileError(`the regressor ${r.name} takes ${regressor.config.imageSize}x${regressor.config.imageSize} images but the diffusion model ${d.name} ${unet.config.imageSize}x${unet.config.imageSize}: pick networks trained together`);
    }
    if (regressorRange !== diffusionRange) {
      throw new WeightsFileError(`the diffusion model ${d.name} was trained on ${diffusionRange} data but the regressor ${r.name} on ${regressorRange} data: pick networks trained on the same data range`);
    }
    let segmenter: SegmenterNet | undefined;
    const s = files.segmenter;
    if (s) {
      const st = safetensors(s);
      const net = createSegmenterNet(meta<SegmenterConfig>(s, st, SEGMENTER_CONFIG_KEY));
      disposers.push(() => net.dispose());
      net.loadStateDict(st.tensors, { source: s.name });
      segmenter = net;
    }
    return {
      unet, regressor, ...(segmenter ? { segmenter } : {}), process, imageSize: unet.config.imageSize, dataRange: diffusionRange,
      dispose: () => disposers.forEach((f) => f()),
    };
  } catch (e) {
    disposers.forEach((f) => f());
    if (e instanceof WeightsFileError || e instanceof TypeError) throw e;
    throw new WeightsFileError((e as Error).message, { cause: e });
  }
}
