/**
 * Metadata keys written into checkpoint files, so that a weights file alone
 * recreates its network: the network config (as `createUNet` /
 * `createRegressor` / `createSegmenterNet` take it), the diffusion process
 * and the data range it was trained with. `tumorcast-predict` reads the same keys.
 */
import fs from 'node:fs';
import { CliError } from '@tumorcast/cli';
import { DATA_RANGE_KEY, dataRangeFromMetadata } from '@tumorcast/diffusion';
import type { DataRange } from '@tumorcast/diffusion';
import { REGRESSOR_CONFIG_KEY, regressorConfigFromMetadata } from '@tumorcast/regressor';
import type { RegressorHead } from '@tumorcast/regressor';
import { SEGMENTER_CONFIG_KEY } from '@tumorcast/segmenter';

export { UNET_CONFIG_KEY } from '@tumorcast/unet';
export { DIFFUSION_CONFIG_KEY } from '@tumorcast/diffusion';
export { SEGMENTER_CONFIG_KEY, REGRESSOR_CONFIG_KEY, DATA_RANGE_KEY };

/**
 * The metadata of a safetensors file, reading only its header (checkpoints of
 * the paper's networks are hundreds of MB).
 *
 * @param file - a `.safetensors` path.
 */
export function readSafetensorsMetadata(file: string): Record<string, string> {
  const fd = fs.openSync(file, 'r');
  try {
    const len = Buffer.alloc(8);
    if (fs.readSync(fd, len, 0, 8, 0) !== 8) throw new Error(`${file}: not a safetensors file (shorter than 8 bytes)`);
    const n = Number(len.readBigUInt64LE(0));
    if (!(n > 1 && n <= fs.fstatSync(fd).size - 8)) throw new Error(`${file}: not a safetensors file (header length ${n})`);
    const head = Buffer.alloc(n);
    fs.readSync(fd, head, 0, n, 8);
    const header = JSON.parse(head.toString('utf8')) as { __metadata__?: Record<string, string> };
    return header.__metadata__ ?? {};
  } finally {
    fs.closeSync(fd);
  }
}

/**
 * Refuses to resume from a checkpoint trained with another data range (or,
 * for a regressor, another head): the continued training would silently
 * change what the network sees. Checkpoints without the keys were written
 * before they existed: data range '[-1,1]', classifier head.
 *
 * @param file - the checkpoint's model file.
 * @param want - the run's `data_range` and, for a regressor, `regressor_head`.
 */
export function assertResumable(file: string, want: { dataRange: DataRange; head?: RegressorHead }): void {
  let meta: Record<string, string>;
  try {
    meta = readSafetensorsMetadata(file);
  } catch (e) {
    throw new CliError(`cannot resume from ${file}: ${(e as Error).message}`, 1);
  }
  const range = dataRangeFromMetadata(meta, file);
  if (range !== want.dataRange) {
    throw new CliError(`cannot resume from ${file}: it was trained with data_range '${range}' but this run has '${want.dataRange}'; set data_range: '${range}' (--data-range '${range}') to continue it`, 2);
  }
  const reg = meta[REGRESSOR_CONFIG_KEY];
  if (want.head && reg) {
    const head = regressorConfigFromMetadata(reg, file).head;
    if (head !== want.head) {
      throw new CliError(`cannot resume from ${file}: it has the '${head}' head but this run builds '${want.head}'; set regressor_head: ${head} (--regressor-head ${head}) to continue it`, 2);
    }
  }
}
