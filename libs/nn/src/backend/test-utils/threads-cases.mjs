// The ops threads.test.ts compares across thread counts and backends; sizes
// large enough that XNNPACK splits each over its pool's threads.
/** @type {Record<string, (tf: typeof import('@tensorflow/tfjs')) => import('@tensorflow/tfjs').Tensor>} */
export const cases = {
  conv2d: (tf) => tf.conv2d(tf.randomNormal([2, 32, 32, 16], 0, 1, 'float32', 1), tf.randomNormal([3, 3, 16, 32], 0, 0.2, 'float32', 2), 1, 'same'),
  conv2dStride2: (tf) => tf.conv2d(tf.randomNormal([2, 32, 32, 16], 0, 1, 'float32', 3), tf.randomNormal([3, 3, 16, 24], 0, 0.2, 'float32', 4), 2, 'same'),
  conv2dTranspose: (tf) =>
    tf.conv2dTranspose(tf.randomNormal([2, 16, 16, 24], 0, 1, 'float32', 5), tf.randomNormal([3, 3, 16, 24], 0, 0.2, 'float32', 6), [2, 32, 32, 16], 2, 'same'),
  matMul: (tf) => tf.matMul(tf.randomNormal([300, 200], 0, 1, 'float32', 7), tf.randomNormal([200, 100], 0, 1, 'float32', 8)),
  batchMatMul: (tf) => tf.matMul(tf.randomNormal([4, 64, 96], 0, 1, 'float32', 9), tf.randomNormal([4, 64, 80], 0, 1, 'float32', 10), true, false),
};
