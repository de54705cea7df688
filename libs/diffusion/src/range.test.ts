import { beforeAll, describe, expect, it } from '@jest/globals';
import * as tf from '@tensorflow/tfjs';
import { initBackend } from '@tumorcast/nn';
import {
  DATA_RANGE_KEY, backgroundValue, checkDataRange, dataRangeFromMetadata, fromModelRange, toModelRange,
} from './index.js';

beforeAll(async () => {
  await initBackend({ log: false });
});

describe('data ranges', () => {
  it("'[-1,1]' maps [0,1] data by 2x - 1 and back; it is the default", () => {
    tf.tidy(() => {
      const x = tf.tensor1d([0, 0.25, 1]);
      expect(Array.from(toModelRange(x, '[-1,1]').dataSync())).toEqual([-1, -0.5, 1]);
      expect(Array.from(toModelRange(x).dataSync())).toEqual([-1, -0.5, 1]);
      expect(Array.from(fromModelRange(tf.tensor1d([-1, 0, 1]), '[-1,1]').dataSync())).toEqual([0, 0.5, 1]);
      expect(Array.from(fromModelRange(tf.tensor1d([-1, 0, 1])).dataSync())).toEqual([0, 0.5, 1]);
    });
  });

  it("'[0,1]' passes the data unchanged, as a new tensor the caller owns", () => {
    const x = tf.tensor1d([0, 0.25, 1]);
    const y = toModelRange(x, '[0,1]');
    const z = fromModelRange(y, '[0,1]');
    expect(y).not.toBe(x);
    expect(z).not.toBe(y);
    x.dispose();
    expect(Array.from(y.dataSync())).toEqual([0, 0.25, 1]);
    expect(Array.from(z.dataSync())).toEqual([0, 0.25, 1]);
    tf.dispose([y, z]);
  });

  it('background values, validation and the metadata key', () => {
    expect(backgroundValue('[-1,1]')).toBe(-1);
    expect(backgroundValue('[0,1]')).toBe(0);
    expect(() => checkDataRange('[0, 1]', "'dataRange' passed to 'f'")).toThrow(/'dataRange' passed to 'f' must be '\[-1,1\]' or '\[0,1\]', got "\[0, 1\]"/);
    expect(() => tf.tidy(() => toModelRange(tf.scalar(1), 'unit' as never))).toThrow(/'range' passed to 'toModelRange'/);
    expect(DATA_RANGE_KEY).toBe('tumorcast.data_range');
    expect(dataRangeFromMetadata({ [DATA_RANGE_KEY]: '[0,1]' }, 'a.safetensors')).toBe('[0,1]');
    // written before the range was recorded: tumorcast's [-1, 1]
    expect(dataRangeFromMetadata({}, 'a.safetensors')).toBe('[-1,1]');
    expect(() => dataRangeFromMetadata({ [DATA_RANGE_KEY]: '0..1' }, 'a.safetensors')).toThrow(/a\.safetensors: metadata 'tumorcast\.data_range' must be/);
  });
});
