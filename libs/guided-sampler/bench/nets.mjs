// Small stand-in conv networks (the same architectures as StandInEps /
// StandInRegressor in tools/diffusion/bench_reference.py), used by the
// benchmark when @tumorcast/unet / @tumorcast/regressor are not built or when
// BENCH_NETS=standin. Randomly initialised; only their cost matters.
import * as tf from '@tensorflow/tfjs';

function conv(inC, outC, seed) {
  return {
    filter: tf.randomNormal([3, 3, inC, outC], 0, Math.sqrt(2 / (9 * inC)), 'float32', seed),
    bias: tf.zeros([outC]),
  };
}

/** eps net: conv(C->32) + t·w + emb[y] -> SiLU -> conv(32->32) -> SiLU -> conv(32->2C). */
export function standInEps(c = 4, hidden = 32) {
  const c1 = conv(c, hidden, 1), c2 = conv(hidden, hidden, 2), c3 = conv(hidden, 2 * c, 3);
  const wt = tf.randomNormal([hidden], 0, 0.1, 'float32', 4);
  const emb = tf.randomNormal([2, hidden], 0, 0.1, 'float32', 5);
  return (x, t, y) => tf.tidy(() => {
    let h = tf.add(tf.conv2d(x, c1.filter, 1, 'same'), c1.bias);
    h = tf.add(h, tf.mul(wt, tf.div(t, 1000).reshape([-1, 1, 1, 1])));
    if (y) h = tf.add(h, tf.gather(emb, y).reshape([-1, 1, 1, hidden]));
    h = tf.add(tf.conv2d(tf.mul(h, tf.sigmoid(h)), c2.filter, 1, 'same'), c2.bias);
    h = tf.mul(h, tf.sigmoid(h));
    return tf.add(tf.conv2d(h, c3.filter, 1, 'same'), c3.bias);
  });
}

/** regressor: conv s2 (C->16) -> SiLU -> conv s2 (16->32) -> SiLU -> mean -> linear -> x (1 + t/1000). */
export function standInRegressor(c = 4) {
  const c1 = conv(c, 16, 6), c2 = conv(16, 32, 7);
  const w = tf.randomNormal([32, 1], 0, 0.2, 'float32', 8);
  return (x, t) => tf.tidy(() => {
    let h = tf.add(tf.conv2d(x, c1.filter, 2, 'same'), c1.bias);
    h = tf.mul(h, tf.sigmoid(h));
    h = tf.add(tf.conv2d(h, c2.filter, 2, 'same'), c2.bias);
    h = tf.mul(h, tf.sigmoid(h));
    return tf.mul(tf.matMul(tf.mean(h, [1, 2]), w).reshape([-1]), tf.add(1, tf.div(t, 1000)));
  });
}
