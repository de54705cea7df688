/**
 * Segmenters of generated follow-ups, and a training-free FLAIR one.
 */
import * as tf from '@tensorflow/tfjs';
import { syncReadsAvailable } from '@tumorcast/nn';

/** What a segmenter receives. All images are NHWC in the networks' data range (the sampler's `dataRange`, [-1, 1] by default). */
export interface SegmenterInput {
  /** The scans to segment (generated follow-ups) `[B, H, W, C]`. */
  image: tf.Tensor4D;
  /** The baseline scans they were generated from `[B, H, W, C]`. */
  baseline: tf.Tensor4D;
  /** The baseline tumour masks `[B, H, W, 1]` in {0, 1}, when known. */
  baselineMask?: tf.Tensor4D;
}

/**
 * Segments tumour in scans: returns masks `[B, H, W, 1]` with values in
 * [0, 1] (binary, or probabilities). The caller disposes the result; the
 * inputs are not disposed. A learned segmenter (a network) fits the same
 * interface.
 */
export interface Segmenter {
  /** A short name, for reports. */
  readonly name: string;
  /** Segments `input.image`. */
  segment(input: SegmenterInput): tf.Tensor4D | Promise<tf.Tensor4D>;
  /**
   * The tumour probability of each pixel of `input.image`, `[B, H, W, 1]`,
   * before the threshold that `segment` applies; a segmenter that has none
   * (a thresholding one) leaves this out. Brought to a finer grid (bilinear,
   * then the threshold), it places a tumour's border between the pixels,
   * where a mask can only place it on them.
   */
  probabilities?(input: SegmenterInput): tf.Tensor4D | Promise<tf.Tensor4D>;
}

/** How the FLAIR threshold is chosen. */
export type ThresholdMethod = 'otsu' | 'meanStd';

/** Options of {@link createFlairSegmenter}. */
export interface FlairSegmenterOptions {
  /**
   * The FLAIR channel (t1n, t1c, t2w, t2f order: 3).
   * @defaultValue 3
   */
  channel?: number;
  /**
   * `'otsu'`: Otsu's threshold (256 bins) of the FLAIR values inside the
   * brain; `'meanStd'`: mean + k·std of those values.
   * @defaultValue 'otsu'
   */
  method?: ThresholdMethod;
  /**
   * k of `'meanStd'`.
   * @defaultValue 2
   */
  k?: number;
  /**
   * Radius (pixels) of the square neighbourhood of the baseline tumour in
   * which hyperintensity counts as tumour; `Infinity` for the whole brain.
   * @defaultValue 10
   */
  neighbourhoodRadius?: number;
  /**
   * The background value of the baseline FLAIR: -1 in the [-1, 1] range, 0
   * for networks on [0, 1] data (`backgroundValue(dataRange)`); the brain
   * mask is `baseline FLAIR > background + 1e-4`.
   * @defaultValue -1
   */
  background?: number;
}

/**
 * Otsu's threshold of a set of values (256 equal bins between min and max,
 * the threshold maximising the between-class variance; the upper edge of the
 * best lower class).
 *
 * @param values - the values (at least one).
 */
export function otsuThreshold(values: ArrayLike<number>): number {
  if (values.length === 0) throw new RangeError(`'values' passed to 'otsuThreshold' must not be empty`);
  let lo = Infinity, hi = -Infinity;
  for (let i = 0; i < values.length; i++) { const v = values[i]!; lo = Math.min(lo, v); hi = Math.max(hi, v); }
  if (hi === lo) return lo;
  const bins = 256;
  const hist = new Float64Array(bins);
  const w = (hi - lo) / bins;
  for (let i = 0; i < values.length; i++) hist[Math.min(bins - 1, Math.floor((values[i]! - lo) / w))]!++;
  const total = values.length;
  let sumAll = 0;
  for (let i = 0; i < bins; i++) sumAll += (lo + (i + 0.5) * w) * hist[i]!;
  let wB = 0, sumB = 0, best = -1, bestIdx = 0;
  for (let i = 0; i < bins - 1; i++) {
    const h = hist[i]!;
    wB += h;
    sumB += (lo + (i + 0.5) * w) * h;
    const wF = total - wB;
    if (wB === 0 || wF === 0) continue;
    const mB = sumB / wB, mF = (sumAll - sumB) / wF;
    const between = wB * wF * (mB - mF) ** 2;
    if (between > best) { best = between; bestIdx = i; }
  }
  return lo + (bestIdx + 1) * w;
}

function threshold(values: number[], method: ThresholdMethod, k: number): number {
  if (method === 'otsu') return otsuThreshold(values);
  let m = 0;
  for (const v of values) m += v;
  m /= values.length;
  let s = 0;
  for (const v of values) s += (v - m) ** 2;
  return m + k * Math.sqrt(s / values.length);
}

/**
 * A training-free tumour segmenter: FLAIR hyperintensity. Per image, the
 * brain mask is the non-background FLAIR of the BASELINE; the threshold is
 * computed from the follow-up's FLAIR inside that mask (Otsu or mean + k·std);
 * tumour = brain ∧ FLAIR > threshold ∧ within `neighbourhoodRadius` pixels
 * (square neighbourhood) of the baseline tumour. The baseline tumour mask is
 * `input.baselineMask` when given, else the same hyperintensity rule applied
 * to the baseline without the neighbourhood restriction. An empty baseline
 * tumour mask leaves the whole brain eligible.
 *
 * Limits: FLAIR hyperintensity is the whole lesion (oedema included), not the
 * enhancing core; Otsu always splits the brain in two classes, so a slice
 * without tumour still yields bright tissue (the neighbourhood restriction
 * limits, but does not remove, such false positives); bright artefacts near
 * the tumour count as tumour. It is a usable default for probability maps,
 * not a substitute for a learned segmenter.
 *
 * `segment` returns the mask tensor directly where tensors can be read
 * synchronously, and a promise of it on the `webgpu` backend in Node (await
 * it in either case).
 *
 * @param options - see {@link FlairSegmenterOptions}.
 */
export function createFlairSegmenter(options: FlairSegmenterOptions = {}): Segmenter {
  const fn = 'createFlairSegmenter';
  const channel = options.channel ?? 3;
  const method = options.method ?? 'otsu';
  const k = options.k ?? 2;
  const radius = options.neighbourhoodRadius ?? 10;
  const background = options.background ?? -1;
  if (!Number.isInteger(channel) || channel < 0) throw new RangeError(`'channel' passed to '${fn}' must be a non-negative integer, got ${channel}`);
  if (method !== 'otsu' && method !== 'meanStd') throw new RangeError(`'method' passed to '${fn}' must be 'otsu' or 'meanStd', got ${String(method)}`);
  if (!Number.isFinite(k)) throw new RangeError(`'k' passed to '${fn}' must be finite, got ${k}`);
  if (!(radius >= 0) || (Number.isFinite(radius) && !Number.isInteger(radius))) {
    throw new RangeError(`'neighbourhoodRadius' passed to '${fn}' must be a non-negative integer or Infinity, got ${radius}`);
  }
  const seg = (img: Float32Array | Int32Array | Uint8Array, brain: Uint8Array, c: number, n: number): Uint8Array => {
    const vals: number[] = [];
    for (let p = 0; p < n; p++) if (brain[p]) vals.push(img[p * c + channel]!);
    const out = new Uint8Array(n);
    if (vals.length === 0) return out;
    const th = threshold(vals, method, k);
    for (let p = 0; p < n; p++) out[p] = brain[p] && img[p * c + channel]! > th ? 1 : 0;
    return out;
  };
  return {
    name: `flair-${method}`,
    segment(input: SegmenterInput): tf.Tensor4D | Promise<tf.Tensor4D> {
      const sfn = 'segment';
      const { image, baseline, baselineMask } = input ?? ({} as SegmenterInput);
      for (const [name, t] of [['image', image], ['baseline', baseline]] as const) {
        if (!(t instanceof tf.Tensor) || t.rank !== 4) throw new TypeError(`'${name}' passed to '${sfn}' must be a 4-D NHWC tensor`);
      }
      const [b, h, w, c] = image.shape;
      if (baseline.shape.some((d, i) => d !== image.shape[i])) {
        throw new RangeError(`'baseline' passed to '${sfn}' must have the image's shape [${image.shape}], got [${baseline.shape}]`);
      }
      if (channel >= c) throw new RangeError(`'channel' ${channel} of the FLAIR segmenter is out of range for ${c} channels`);
      if (baselineMask && (baselineMask.rank !== 4 || baselineMask.shape[0] !== b || baselineMask.shape[1] !== h ||
        baselineMask.shape[2] !== w || baselineMask.shape[3] !== 1)) {
        throw new RangeError(`'baselineMask' passed to '${sfn}' must have shape [${b},${h},${w},1], got [${baselineMask.shape}]`);
      }
      const n = h * w;
      const compute = (imgData: Float32Array, baseData: Float32Array, maskData: ArrayLike<number> | undefined): tf.Tensor4D => {
        const tumour = new Uint8Array(b * n);
        const base = new Uint8Array(b * n);
        for (let i = 0; i < b; i++) {
          const bd = baseData.subarray(i * n * c, (i + 1) * n * c);
          const brain = new Uint8Array(n);
          for (let p = 0; p < n; p++) brain[p] = bd[p * c + channel]! > background + 1e-4 ? 1 : 0;
          base.set(maskData ? Uint8Array.from({ length: n }, (_, p) => (maskData[i * n + p]! > 0.5 ? 1 : 0)) : seg(bd, brain, c, n), i * n);
          tumour.set(seg(imgData.subarray(i * n * c, (i + 1) * n * c), brain, c, n), i * n);
        }
        return tf.tidy(() => {
          const t = tf.tensor4d(Float32Array.from(tumour), [b, h, w, 1]);
          if (!Number.isFinite(radius)) return t;
          const baseT = tf.tensor4d(Float32Array.from(base), [b, h, w, 1]);
          const near = radius > 0 ? tf.maxPool(baseT, 2 * radius + 1, 1, 'same') : baseT;
          // images whose baseline mask is empty: whole brain eligible
          const empty = tf.equal(tf.max(baseT, [1, 2, 3], true), 0);
          return tf.mul(t, tf.where(empty.broadcastTo([b, h, w, 1]), tf.onesLike(near), near)) as tf.Tensor4D;
        });
      };
      if (syncReadsAvailable()) {
        return compute(image.dataSync() as Float32Array, baseline.dataSync() as Float32Array, baselineMask?.dataSync());
      }
      // webgpu in Node: no synchronous reads, so the mask comes as a promise (Segmenter allows either).
      return (async () => compute(
        (await image.data()) as Float32Array, (await baseline.data()) as Float32Array, baselineMask ? await baselineMask.data() : undefined,
      ))();
    },
  };
}
