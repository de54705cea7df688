import { readFileSync } from 'node:fs';
import { describe, expect, it } from '@jest/globals';
import { channelOf, toNative } from './geometry.js';

// PyTorch's F.interpolate (bilinear, align_corners=False) to 256 and the centre crop:
// tools/pipeline/make_to_native_fixture.py.
const fx = JSON.parse(readFileSync(new URL('../test/fixtures/to-native.json', import.meta.url), 'utf8')) as {
  size: number; channels: number; image: number[]; cases: { width: number; height: number; index: number[]; value: number[] }[];
};

describe('toNative', () => {
  it.each(fx.cases.map((c) => [`${c.width}x${c.height}`, c] as const))('matches PyTorch\'s bilinear upsampling and centre crop to %s (float32 tolerance 1e-6)', (_n, c) => {
    const out = toNative(Float32Array.from(fx.image), fx.size, fx.channels, c.width, c.height);
    expect(out).toHaveLength(c.width * c.height * fx.channels);
    let worst = 0;
    c.index.forEach((k, j) => { worst = Math.max(worst, Math.abs((out[k] as number) - (c.value[j] as number))); });
    expect(worst).toBeLessThan(1e-6);
  });

  it('refuses sizes that do not match the image', () => {
    expect(() => toNative(new Float32Array(10), 8, 2, 4, 4)).toThrow(/'img' passed to 'toNative' has 10 values, expected 8x8x2/);
    expect(() => toNative(new Float32Array(0), 0, 1, 4, 4)).toThrow(/'size' passed to 'toNative' must be a positive integer/);
  });

  it('channelOf takes one channel of an HWC image', () => {
    expect(Array.from(channelOf(Float32Array.from([1, 2, 3, 4, 5, 6]), 3, 1))).toEqual([2, 5]);
  });
});
