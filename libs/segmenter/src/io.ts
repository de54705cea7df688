/**
 * Saving and loading a segmenter: safetensors weights (PyTorch names and
 * layouts) with the resolved config in the file's metadata, so that the file
 * alone recreates the network. Both go through the `Module` base class of
 * @tumorcast/nn (`saveWeights`, `loadModule`).
 */
import { loadModule } from '@tumorcast/nn';
import { SEGMENTER_CONFIG_KEY, resolveSegmenterConfig } from './config.js';
import type { SegmenterConfig } from './config.js';
import { SegmenterNet } from './net.js';

export { SEGMENTER_CONFIG_KEY };

/** Options of {@link saveSegmenter}. */
export interface SaveSegmenterOptions {
  /**
   * Element type of the stored weights (F16 halves the file and rounds).
   * @defaultValue 'F32'
   */
  dtype?: 'F32' | 'F16';
  /**
   * Extra string metadata stored beside the config (e.g. the training step).
   * A {@link SEGMENTER_CONFIG_KEY} entry is ignored: the file always holds the net's own config.
   * @defaultValue none
   */
  metadata?: Record<string, string>;
}

/**
 * Writes the net's weights to a safetensors file (atomically), with the
 * resolved config as JSON under the metadata key {@link SEGMENTER_CONFIG_KEY}.
 *
 * @param path - the file to write.
 * @param net - the network.
 * @param options - see {@link SaveSegmenterOptions}.
 */
export async function saveSegmenter(path: string, net: SegmenterNet, options: SaveSegmenterOptions = {}): Promise<void> {
  const fn = 'saveSegmenter';
  if (typeof path !== 'string' || path.length === 0) throw new TypeError(`'path' passed to '${fn}' must be a non-empty string`);
  if (!(net instanceof SegmenterNet)) throw new TypeError(`'net' passed to '${fn}' must be a SegmenterNet`);
  const dtype = options.dtype ?? 'F32';
  if (dtype !== 'F32' && dtype !== 'F16') throw new RangeError(`'dtype' passed to '${fn}' must be 'F32' or 'F16', got ${String(dtype)}`);
  const metadata = { ...options.metadata };
  delete metadata[SEGMENTER_CONFIG_KEY];
  await net.saveWeights(path, { metadata, dtype });
}

/**
 * Recreates a network from a file written by {@link saveSegmenter}: the
 * config comes from the metadata, the weights must match it exactly
 * (otherwise a `WeightsMismatchError` lists the offending keys).
 *
 * @param path - the safetensors file.
 * @returns the network (dispose it when done).
 */
export async function loadSegmenter(path: string): Promise<SegmenterNet> {
  const fn = 'loadSegmenter';
  return loadModule(path, {
    fn,
    configKey: SEGMENTER_CONFIG_KEY,
    what: 'segmenter',
    writer: 'saveSegmenter',
    create: (config) => new SegmenterNet(resolveSegmenterConfig(config as SegmenterConfig, fn)),
  });
}
