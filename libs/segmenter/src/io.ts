/**
 * Saving and loading a segmenter: safetensors weights (PyTorch names and
 * layouts) with the resolved config in the file's metadata, so that the file
 * alone recreates the network.
 */
import { loadSafetensors } from '@tumorcast/nn';
import { resolveSegmenterConfig } from './config.js';
import type { SegmenterConfig } from './config.js';
import { SegmenterNet } from './net.js';

/** The safetensors metadata key holding the network's config as JSON. */
export const SEGMENTER_CONFIG_KEY = 'tumorcast.segmenter.config';

/** Options of {@link saveSegmenter}. */
export interface SaveSegmenterOptions {
  /**
   * Element type of the stored weights (F16 halves the file and rounds).
   * @defaultValue 'F32'
   */
  dtype?: 'F32' | 'F16';
  /**
   * Extra string metadata stored beside the config (e.g. the training step).
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
  const metadata = { ...options.metadata, [SEGMENTER_CONFIG_KEY]: JSON.stringify(net.config) };
  await net.params.saveWeights(path, { metadata, dtype });
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
  if (typeof path !== 'string' || path.length === 0) throw new TypeError(`'path' passed to '${fn}' must be a non-empty string`);
  const file = await loadSafetensors(path, { widenToFloat32: true });
  const raw = file.metadata[SEGMENTER_CONFIG_KEY];
  if (raw === undefined) {
    throw new Error(`'path' passed to '${fn}' is not a segmenter file: ${path} has no '${SEGMENTER_CONFIG_KEY}' metadata (was it written by saveSegmenter?)`);
  }
  let parsed: unknown;
  try {
    parsed = JSON.parse(raw);
  } catch (e) {
    throw new Error(`'path' passed to '${fn}': the '${SEGMENTER_CONFIG_KEY}' metadata of ${path} is not valid JSON (${(e as Error).message})`);
  }
  const config = resolveSegmenterConfig(parsed as SegmenterConfig, fn);
  const net = new SegmenterNet(config);
  try {
    net.loadStateDict(file.tensors, { source: path });
  } catch (e) {
    net.dispose();
    throw e;
  }
  return net;
}
