/**
 * How well the regressor reads the tumour burden of noised scans at the
 * timesteps guidance queries it: images with a known burden are noised by
 * the forward process q(x_t | x_0) at timesteps in buckets, and the
 * regressor's readings are compared with the true burden. Guidance steers
 * by these readings, so a regressor that is inaccurate (or blind) at
 * t < L steers the sample nowhere useful.
 */
import * as tf from '@tensorflow/tfjs';
import { createDiffusion, qSample, toModelRange } from '@tumorcast/diffusion';
import { regressorPredict } from '@tumorcast/guided-sampler';
import type { Regressor } from '@tumorcast/guided-sampler';
import type { PredictionNetworks } from './networks.js';

/** One image with a known tumour burden, for {@link regressorNoiseAccuracy}. */
export interface BurdenImage {
  /** The image at the networks' size, HWC, [0, 1] (channels t1n, t1c, t2w, t2f). */
  model: Float32Array;
  /** Its true tumour burden (count(seg > 0) / count(t2f != 0)). */
  burden: number;
}

/** Options of {@link regressorNoiseAccuracy}. */
export interface RegressorNoiseOptions {
  /**
   * Bucket edges in original timesteps: bucket i is [edges[i], edges[i+1]).
   * Edges above the diffusion model's T are dropped.
   * @defaultValue [0, 20, 50, 100, 200, 300, 500, 1000]
   */
  edges?: readonly number[];
  /**
   * Timesteps per bucket (evenly spread over it); each image is read once at each.
   * @defaultValue 3
   */
  perBucket?: number;
  /**
   * Seed of the noise.
   * @defaultValue 0
   */
  seed?: number;
  /**
   * Images per regressor call.
   * @defaultValue 8
   */
  batch?: number;
}

/** The regressor's accuracy in one timestep bucket. */
export interface RegressorNoiseBucket {
  /** First timestep of the bucket (original timesteps). */
  from: number;
  /** One past its last timestep. */
  to: number;
  /** The timesteps read. */
  timesteps: number[];
  /** Readings (images x timesteps). */
  n: number;
  /** Mean |reading - true burden|. */
  mae: number;
  /** Mean (reading - true burden): positive when the regressor over-reads. */
  bias: number;
  /** The MAE of always answering the images' mean true burden: a regressor must beat it to carry information. */
  maeConstant: number;
  /** Pearson correlation of readings and true burdens (NaN when either is constant). */
  correlation: number;
}

/** The default bucket edges of {@link RegressorNoiseOptions.edges}. */
export const REGRESSOR_NOISE_EDGES: readonly number[] = Object.freeze([0, 20, 50, 100, 200, 300, 500, 1000]);

function pearson(a: readonly number[], b: readonly number[]): number {
  const n = a.length;
  const ma = a.reduce((s, v) => s + v, 0) / n, mb = b.reduce((s, v) => s + v, 0) / n;
  let sab = 0, saa = 0, sbb = 0;
  for (let i = 0; i < n; i++) {
    const x = a[i]! - ma, y = b[i]! - mb;
    sab += x * y; saa += x * x; sbb += y * y;
  }
  return saa > 0 && sbb > 0 ? sab / Math.sqrt(saa * sbb) : NaN;
}

/**
 * The regressor's accuracy on noised images per timestep bucket: each image
 * x0 (in the networks' data range) is noised to x_t = sqrt(ab_t) x0 +
 * sqrt(1 - ab_t) z with the networks' own (unrespaced) process, and the
 * regressor's reading R(x_t, t) is compared with the image's true burden.
 * The noise of a batch is seeded by (seed, t, first image), so a rerun
 * reads the same x_t.
 *
 * @example
 * ```ts
 * const rows = await regressorNoiseAccuracy(networks, slices.map((s) => ({ model: s.model, burden: s.burden! })));
 * // rows[3]: { from: 100, to: 200, mae, bias, maeConstant, correlation, ... }
 * ```
 *
 * @param networks - the networks (the regressor — the loaded one, or any `(x_t, t) => r` — its data range and the diffusion process).
 * @param images - images at the networks' size with their true burdens (at least 2).
 * @param options - see {@link RegressorNoiseOptions}.
 * @returns one row per bucket below T.
 * @throws RangeError naming the argument when the images, edges or counts are invalid (the promise rejects).
 */
export async function regressorNoiseAccuracy(
  networks: Pick<PredictionNetworks, 'process' | 'imageSize' | 'dataRange'> & { regressor: Regressor }, images: readonly BurdenImage[], options: RegressorNoiseOptions = {},
): Promise<RegressorNoiseBucket[]> {
  const fn = 'regressorNoiseAccuracy';
  const S = networks.imageSize;
  if (!Array.isArray(images) || images.length < 2) throw new RangeError(`'images' passed to '${fn}' must hold at least 2 images with known burdens (to compare with a constant answer)`);
  images.forEach((im, i) => {
    if (!(im?.model instanceof Float32Array) || im.model.length !== S * S * 4) {
      throw new RangeError(`'images[${i}].model' passed to '${fn}' must be a Float32Array of ${S}x${S}x4 values (the networks' size)`);
    }
    if (!(typeof im.burden === 'number' && im.burden >= 0 && im.burden <= 1)) throw new RangeError(`'images[${i}].burden' passed to '${fn}' must be a number in [0, 1], got ${im.burden}`);
  });
  const T = networks.process.steps;
  const edges = [...(options.edges ?? REGRESSOR_NOISE_EDGES)];
  if (edges.length < 2 || edges.some((e, i) => !Number.isInteger(e) || e < 0 || (i > 0 && e <= edges[i - 1]!))) {
    throw new RangeError(`'edges' passed to '${fn}' must be at least 2 increasing integers >= 0, got [${edges.join(', ')}]`);
  }
  const per = options.perBucket ?? 3;
  const batch = options.batch ?? 8;
  for (const [k, v] of [['perBucket', per], ['batch', batch]] as const) {
    if (!Number.isInteger(v) || v < 1) throw new RangeError(`'${k}' passed to '${fn}' must be an integer >= 1, got ${v}`);
  }
  const seed = options.seed ?? 0;
  const diffusion = createDiffusion({ steps: T, schedule: networks.process.schedule, learnSigma: networks.process.learnSigma });
  const truth = images.map((im) => im.burden);
  const meanTruth = truth.reduce((s, v) => s + v, 0) / truth.length;
  const maeConstant = truth.reduce((s, v) => s + Math.abs(v - meanTruth), 0) / truth.length;
  const rows: RegressorNoiseBucket[] = [];
  for (let b = 0; b + 1 < edges.length; b++) {
    const from = edges[b]!, to = Math.min(edges[b + 1]!, T);
    if (from >= T) break;
    // Evenly inside [from, to): the bucket's middle for one, its ends included for more.
    const ts = [...new Set(Array.from({ length: per }, (_, j) => Math.round(per === 1 ? (from + to - 1) / 2 : from + (j * (to - 1 - from)) / (per - 1))))];
    const reads: number[] = [], trues: number[] = [];
    for (const t of ts) {
      for (let i0 = 0; i0 < images.length; i0 += batch) {
        const chunk = images.slice(i0, i0 + batch);
        const reading = tf.tidy(() => {
          const data = new Float32Array(chunk.length * S * S * 4);
          chunk.forEach((im, j) => data.set(im.model, j * S * S * 4));
          const x0 = toModelRange(tf.tensor4d(data, [chunk.length, S, S, 4]), networks.dataRange);
          const noise = tf.randomNormal([chunk.length, S, S, 4], 0, 1, 'float32', (seed * 1009 + t) * 100003 + i0) as tf.Tensor4D;
          const xt = qSample(diffusion, x0, new Array<number>(chunk.length).fill(t), noise);
          return regressorPredict(networks.regressor, xt, tf.tensor1d(new Array<number>(chunk.length).fill(t), 'float32'));
        });
        // Read asynchronously: works on every backend, webgpu in Node included.
        const values = Array.from(await reading.data());
        reading.dispose();
        values.forEach((v, j) => { reads.push(v); trues.push(chunk[j]!.burden); });
      }
    }
    const n = reads.length;
    rows.push({
      from, to, timesteps: ts, n,
      mae: reads.reduce((s, v, i) => s + Math.abs(v - trues[i]!), 0) / n,
      bias: reads.reduce((s, v, i) => s + (v - trues[i]!), 0) / n,
      maeConstant,
      correlation: pearson(reads, trues),
    });
  }
  return rows;
}

/**
 * The rows of {@link regressorNoiseAccuracy} as CSV (one line per bucket).
 *
 * @param rows - the buckets.
 */
export function regressorNoiseCsv(rows: readonly RegressorNoiseBucket[]): string {
  const head = 'from,to,timesteps,n,mae,bias,mae_constant,correlation';
  const lines = rows.map((r) => [r.from, r.to, r.timesteps.join(' '), r.n, r.mae, r.bias, r.maeConstant, r.correlation].join(','));
  return `${[head, ...lines].join('\n')}\n`;
}
