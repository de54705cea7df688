/**
 * Training loss (soft Dice + binary cross-entropy with logits) and the Dice
 * score for evaluation.
 */
import * as tf from '@tensorflow/tfjs';

/** Options of {@link segmentationLoss}. */
export interface SegmentationLossOptions {
  /**
   * Weight of the soft Dice loss.
   * @defaultValue 1
   */
  diceWeight?: number;
  /**
   * Weight of the binary cross-entropy.
   * @defaultValue 1
   */
  bceWeight?: number;
  /**
   * Smoothing term added to the Dice numerator and denominator (keeps the
   * loss defined, and pushes predictions to 0, on slices without tumour).
   * @defaultValue 1
   */
  smooth?: number;
}

/** Options of {@link diceScore}. */
export interface DiceScoreOptions {
  /**
   * Probabilities `>= threshold` count as tumour (targets are binarised at 0.5).
   * @defaultValue 0.5
   */
  threshold?: number;
  /**
   * The score of an image whose prediction and target are both empty.
   * @defaultValue 1
   */
  emptyScore?: number;
}

function checkPair(a: tf.Tensor, b: tf.Tensor, argA: string, argB: string, fn: string): void {
  if (!(a instanceof tf.Tensor) || a.rank !== 4) {
    throw new RangeError(`'${argA}' passed to '${fn}' must be a 4-D tensor [B, H, W, C], got ${a instanceof tf.Tensor ? `shape [${a.shape}]` : typeof a}`);
  }
  if (!(b instanceof tf.Tensor) || !tf.util.arraysEqual(a.shape, b.shape)) {
    throw new RangeError(`'${argB}' passed to '${fn}' must have the shape of '${argA}' [${a.shape}], got ${b instanceof tf.Tensor ? `shape [${b.shape}]` : typeof b}`);
  }
  if (a.size === 0) throw new RangeError(`'${argA}' passed to '${fn}' must not be empty, got shape [${a.shape}]`);
}

function nonNegative(v: number, arg: string, fn: string): number {
  if (typeof v !== 'number' || !Number.isFinite(v) || v < 0) throw new RangeError(`'${arg}' passed to '${fn}' must be a finite number >= 0, got ${v}`);
  return v;
}

/**
 * The segmentation training loss, a scalar:
 *
 * `loss = diceWeight * (1 - mean_b D_b) + bceWeight * mean(BCE)`, where, with
 * `p = sigmoid(z)` for logits `z` and targets `t` in [0, 1],
 * - `D_b = (2 * sum(p * t) + smooth) / (sum(p) + sum(t) + smooth)`, sums over
 *   the H, W and C axes of image b (the soft Dice coefficient per image,
 *   averaged over the batch);
 * - `BCE = max(z, 0) - z * t + log(1 + exp(-|z|))` per element, averaged over
 *   every element (the numerically stable form of
 *   `-(t log p + (1 - t) log(1 - p))`, as PyTorch's
 *   `binary_cross_entropy_with_logits`).
 *
 * Differentiable with respect to `logits`.
 *
 * @param logits - `[B, H, W, C]` (C = 1 for {@link SegmenterNet}).
 * @param target - the same shape, 0/1 labels (soft targets in [0, 1] allowed; values are not checked).
 * @param options - see {@link SegmentationLossOptions}.
 */
export function segmentationLoss(logits: tf.Tensor4D, target: tf.Tensor4D, options: SegmentationLossOptions = {}): tf.Scalar {
  const fn = 'segmentationLoss';
  checkPair(logits, target, 'logits', 'target', fn);
  const diceWeight = nonNegative(options.diceWeight ?? 1, 'diceWeight', fn);
  const bceWeight = nonNegative(options.bceWeight ?? 1, 'bceWeight', fn);
  const smooth = nonNegative(options.smooth ?? 1, 'smooth', fn);
  if (diceWeight === 0 && bceWeight === 0) throw new RangeError(`'diceWeight' and 'bceWeight' passed to '${fn}' must not both be 0`);
  return tf.tidy(() => {
    const z = tf.cast(logits, 'float32');
    const t = tf.cast(target, 'float32');
    let loss: tf.Scalar = tf.scalar(0);
    if (diceWeight > 0) {
      const p = tf.sigmoid(z);
      const inter = tf.sum(tf.mul(p, t), [1, 2, 3]);
      const denom = tf.add(tf.add(tf.sum(p, [1, 2, 3]), tf.sum(t, [1, 2, 3])), smooth);
      const dice = tf.div(tf.add(tf.mul(inter, 2), smooth), denom);
      loss = tf.add(loss, tf.mul(tf.sub(1, tf.mean(dice)), diceWeight));
    }
    if (bceWeight > 0) {
      const bce = tf.add(tf.sub(tf.relu(z), tf.mul(z, t)), tf.log1p(tf.exp(tf.neg(tf.abs(z)))));
      loss = tf.add(loss, tf.mul(tf.mean(bce), bceWeight));
    }
    return loss;
  });
}

/**
 * The Dice overlap `2 |P ∩ T| / (|P| + |T|)` per image of binarised
 * predictions (`prediction >= threshold`) and targets (`target > 0.5`), for
 * evaluation (not differentiable). Counts run over the H, W and C axes.
 *
 * @param prediction - `[B, H, W, C]` probabilities (or a binary mask).
 * @param target - the same shape, 0/1 labels.
 * @param options - see {@link DiceScoreOptions}.
 * @returns one score in [0, 1] per image.
 */
export function diceScore(prediction: tf.Tensor4D, target: tf.Tensor4D, options: DiceScoreOptions = {}): number[] {
  const { counts, emptyScore } = diceCounts(prediction, target, options, 'diceScore');
  try {
    return diceFromCounts(counts.dataSync(), prediction.shape[0], emptyScore);
  } finally {
    counts.dispose();
  }
}

/**
 * As {@link diceScore}, reading the counts asynchronously: works on every
 * backend, including `webgpu` in Node, where `diceScore`'s synchronous read
 * throws.
 *
 * @param prediction - `[B, H, W, C]` probabilities (or a binary mask).
 * @param target - the same shape, 0/1 labels.
 * @param options - see {@link DiceScoreOptions}.
 * @returns one score in [0, 1] per image.
 */
export async function diceScoreAsync(prediction: tf.Tensor4D, target: tf.Tensor4D, options: DiceScoreOptions = {}): Promise<number[]> {
  const { counts, emptyScore } = diceCounts(prediction, target, options, 'diceScoreAsync');
  try {
    return diceFromCounts(await counts.data(), prediction.shape[0], emptyScore);
  } finally {
    counts.dispose();
  }
}

/** Validates the arguments and counts, per image, |P ∩ T|, |P| and |T| (a `[B, 3]` tensor). */
function diceCounts(prediction: tf.Tensor4D, target: tf.Tensor4D, options: DiceScoreOptions, fn: string): { counts: tf.Tensor2D; emptyScore: number } {
  checkPair(prediction, target, 'prediction', 'target', fn);
  const threshold = options.threshold ?? 0.5;
  if (typeof threshold !== 'number' || !Number.isFinite(threshold)) throw new RangeError(`'threshold' passed to '${fn}' must be a finite number, got ${threshold}`);
  const emptyScore = options.emptyScore ?? 1;
  if (typeof emptyScore !== 'number' || !(emptyScore >= 0 && emptyScore <= 1)) throw new RangeError(`'emptyScore' passed to '${fn}' must be in [0, 1], got ${emptyScore}`);
  const counts = tf.tidy(() => {
    const p = tf.cast(tf.greaterEqual(prediction, threshold), 'float32');
    const t = tf.cast(tf.greater(target, 0.5), 'float32');
    return tf.stack([tf.sum(tf.mul(p, t), [1, 2, 3]), tf.sum(p, [1, 2, 3]), tf.sum(t, [1, 2, 3])], 1) as tf.Tensor2D;
  });
  return { counts, emptyScore };
}

function diceFromCounts(data: ArrayLike<number>, batch: number, emptyScore: number): number[] {
  const out: number[] = [];
  for (let b = 0; b < batch; b++) {
    const inter = data[3 * b]!;
    const sum = data[3 * b + 1]! + data[3 * b + 2]!;
    out.push(sum === 0 ? emptyScore : (2 * inter) / sum);
  }
  return out;
}
