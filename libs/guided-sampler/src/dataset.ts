/**
 * Guided sampling over a data set with per-slice relative changes.
 */
import * as tf from '@tensorflow/tfjs';
import { Rng } from '@tumorcast/random';
import { resolveGuidedOptions, runGuided, type GuidedSampleKnownOptions } from './guided.js';

/** One slice's target: the relative burden change, and optionally where its real follow-up is. */
export interface GrowthTarget {
  /** The relative change d of the tumour burden (target r0 (1 + d)). */
  relativeChange: number;
  /** A path or id of the real follow-up image, for evaluation; passed through. */
  targetImage?: string;
}

/** Targets by slice id (the reference's `targets_dict`), as stored in a JSON file. */
export type GrowthTargets = Record<string, GrowthTarget>;

/**
 * Parses and validates a targets JSON `{ sliceId: { relativeChange, targetImage? } }`.
 *
 * @param json - the JSON text, or the already parsed value.
 * @throws SyntaxError for invalid JSON; TypeError for a wrong shape or a non-finite
 *   `relativeChange`; RangeError for a `relativeChange` below -1.
 */
export function parseGrowthTargets(json: string | unknown): GrowthTargets {
  const fn = 'parseGrowthTargets';
  let v: unknown = json;
  if (typeof json === 'string') {
    try {
      v = JSON.parse(json);
    } catch (e) {
      throw new SyntaxError(`'json' passed to '${fn}' is not valid JSON: ${(e as Error).message}`);
    }
  }
  if (!v || typeof v !== 'object' || Array.isArray(v)) {
    throw new TypeError(`'json' passed to '${fn}' must be an object { sliceId: { relativeChange, targetImage? } }`);
  }
  const out: GrowthTargets = {};
  for (const [id, t] of Object.entries(v as Record<string, unknown>)) {
    const o = t as Record<string, unknown>;
    if (!o || typeof o !== 'object' || typeof o.relativeChange !== 'number' || !Number.isFinite(o.relativeChange)) {
      throw new TypeError(`'json' passed to '${fn}': slice '${id}' needs a finite number 'relativeChange'`);
    }
    if (o.relativeChange < -1) {
      throw new RangeError(`'json' passed to '${fn}': the 'relativeChange' of slice '${id}' is ${o.relativeChange}; it must be >= -1 (-1: the tumour vanishes; below, the target burden would be negative)`);
    }
    if (o.targetImage !== undefined && typeof o.targetImage !== 'string') {
      throw new TypeError(`'json' passed to '${fn}': slice '${id}' has a non-string 'targetImage'`);
    }
    out[id] = o.targetImage === undefined
      ? { relativeChange: o.relativeChange }
      : { relativeChange: o.relativeChange, targetImage: o.targetImage };
  }
  return out;
}

/** One baseline slice of a data set. */
export interface DatasetSlice {
  /** The slice id (the key in the targets), e.g. `'00002000_25'`. */
  id: string;
  /** The baseline scan `[H, W, C]` or `[1, H, W, C]` in the networks' range (`dataRange`); not disposed by the runner. */
  image: tf.Tensor3D | tf.Tensor4D;
  /** Its tumour burden r0. */
  baselineBurden: number;
}

/** The result for one slice; the caller owns (and disposes) `sample`. */
export interface DatasetSliceResult {
  /** The slice id. */
  id: string;
  /** The relative change used. */
  relativeChange: number;
  /** From the targets, when given. */
  targetImage?: string;
  /** r0. */
  baselineBurden: number;
  /** r0 (1 + d). */
  targetBurden: number;
  /** The predicted follow-up `[H, W, C]` in the networks' range (`dataRange`). */
  sample: tf.Tensor3D;
  /** R(x_t, t) at each decoding step. */
  predictions: number[];
  /** R(sample, 0). */
  finalPrediction: number;
}

/** Options of {@link runGuidedDataset}. */
export interface GuidedDatasetOptions
  extends Omit<GuidedSampleKnownOptions, 'image' | 'baselineBurden' | 'relativeChange'> {
  /** The baseline slices (an array, iterable or async iterable). */
  slices: Iterable<DatasetSlice> | AsyncIterable<DatasetSlice>;
  /** Relative change per slice id. */
  targets: GrowthTargets;
  /** Receives each slice's result (awaited before the next batch). */
  onResult: (result: DatasetSliceResult) => void | Promise<void>;
  /**
   * Slices per batch (the memory guard applies to it).
   * @defaultValue 1
   */
  batchSize?: number;
  /**
   * What to do with a slice that has no target: throw, or skip it.
   * @defaultValue 'error'
   */
  missingTarget?: 'error' | 'skip';
}

/** What {@link runGuidedDataset} did. */
export interface DatasetRunSummary {
  /** Ids processed, in order. */
  processed: string[];
  /** Ids skipped for want of a target. */
  skipped: string[];
}

/**
 * Runs guided sample-known over a data set: each slice's relative change
 * comes from `targets[slice.id]`; slices are processed `batchSize` at a time.
 * A slice's noise comes from `new Rng(seed, slice.id)`, so its result depends
 * on the seed and its id only (not on the batch it falls in).
 *
 * @param options - see {@link GuidedDatasetOptions}.
 */
export async function runGuidedDataset(options: GuidedDatasetOptions): Promise<DatasetRunSummary> {
  const fn = 'runGuidedDataset';
  const { slices, targets, onResult } = options ?? ({} as GuidedDatasetOptions);
  if (!slices || (typeof (slices as Iterable<DatasetSlice>)[Symbol.iterator] !== 'function' &&
    typeof (slices as AsyncIterable<DatasetSlice>)[Symbol.asyncIterator] !== 'function')) {
    throw new TypeError(`'slices' passed to '${fn}' must be an iterable or async iterable of slices`);
  }
  if (!targets || typeof targets !== 'object') throw new TypeError(`'targets' passed to '${fn}' must be an object (see parseGrowthTargets)`);
  if (typeof onResult !== 'function') throw new TypeError(`'onResult' passed to '${fn}' must be a function`);
  const batchSize = options.batchSize ?? 1;
  if (!Number.isInteger(batchSize) || batchSize < 1) throw new RangeError(`'batchSize' passed to '${fn}' must be an integer >= 1, got ${batchSize}`);
  const missing = options.missingTarget ?? 'error';
  const seed = options.seed ?? 0;
  const summary: DatasetRunSummary = { processed: [], skipped: [] };
  let pending: { slice: DatasetSlice; target: GrowthTarget }[] = [];

  const flush = async () => {
    if (pending.length === 0) return;
    const batch = pending;
    pending = [];
    const shapes = batch.map(({ slice }) => (slice.image.rank === 4 ? slice.image.shape.slice(1) : slice.image.shape).join(','));
    if (new Set(shapes).size > 1) {
      throw new RangeError(`'slices' passed to '${fn}': slices batched together must have the same shape, got ${[...new Set(shapes)].join(' / ')}`);
    }
    const image = tf.tidy(() => tf.stack(batch.map(({ slice }) => (slice.image.rank === 4 ? tf.squeeze(slice.image, [0]) : slice.image))) as tf.Tensor4D);
    let out;
    try {
      const r = resolveGuidedOptions({
        ...options, image,
        baselineBurden: batch.map(({ slice }) => slice.baselineBurden),
        relativeChange: batch.map(({ target }) => target.relativeChange),
      }, fn);
      out = await runGuided(r, batch.map(({ slice }) => new Rng(seed, slice.id)));
    } finally {
      image.dispose();
    }
    tf.dispose([out.latent, out.differenceMap]);
    const parts = tf.unstack(out.sample) as tf.Tensor3D[];
    out.sample.dispose();
    for (let i = 0; i < batch.length; i++) {
      const { slice, target } = batch[i];
      summary.processed.push(slice.id);
      await onResult({
        id: slice.id, relativeChange: target.relativeChange, targetImage: target.targetImage,
        baselineBurden: slice.baselineBurden, targetBurden: out.targetBurden[i], sample: parts[i],
        predictions: out.predictions.map((p) => p[i]), finalPrediction: out.finalPrediction[i],
      });
    }
  };

  for await (const slice of slices as AsyncIterable<DatasetSlice>) {
    if (!slice || typeof slice.id !== 'string' || !(slice.image instanceof tf.Tensor) ||
      (slice.image.rank !== 3 && !(slice.image.rank === 4 && slice.image.shape[0] === 1))) {
      throw new TypeError(`'slices' passed to '${fn}' must yield { id: string, image: [H,W,C] or [1,H,W,C] tensor, baselineBurden }`);
    }
    const target = targets[slice.id];
    if (!target) {
      if (missing === 'skip') { summary.skipped.push(slice.id); continue; }
      throw new RangeError(`'targets' passed to '${fn}' has no entry for slice '${slice.id}' (set missingTarget: 'skip' to skip it)`);
    }
    pending.push({ slice, target });
    if (pending.length >= batchSize) await flush();
  }
  await flush();
  return summary;
}
