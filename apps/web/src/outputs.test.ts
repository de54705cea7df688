import { describe, expect, it } from '@jest/globals';
import { readNifti } from '@tumorcast/nifti';
import { numbersToCsv, numbersToJson, outputVolumes, planeToNifti } from './outputs.js';
import type { PredictionNumbers } from './outputs.js';
import type { BaselineSlice } from './slice.js';

const W = 5, H = 3;
const affine = [[0.9, 0, 0, -10], [0, 1.1, 0, 20], [0, 0, 2, 30], [0, 0, 0, 1]];
const native = Float32Array.from({ length: W * H * 4 }, (_, i) => (i % 7) / 8);
const base = { width: W, height: H, affine, native } as unknown as BaselineSlice;
const followup = Float32Array.from(native, (v, i) => Math.min(1, v + (i % 4 === 3 ? 0.25 : 0)));
const probability = Float32Array.from({ length: W * H }, (_, i) => i / (W * H));

describe('outputVolumes', () => {
  const v = outputVolumes(base, { followup, probability, followupMask: new Uint8Array(W * H), baselineMask: new Uint8Array(W * H) }, 3);

  it('writes gzipped NIfTI with the baseline geometry and the chosen channel', () => {
    for (const bytes of Object.values(v)) expect([bytes[0], bytes[1]]).toEqual([0x1f, 0x8b]);
    const f = readNifti(v.followup);
    expect(f.shape).toEqual([W, H]);
    expect(f.affine.map((r) => r.map((x) => Number(x.toFixed(5))))).toEqual(affine);
    // channel 3 of pixel i is followup[4 i + 3]
    expect(Array.from(f.data as Float32Array)).toEqual(Array.from({ length: W * H }, (_, i) => followup[4 * i + 3]!));
    expect(Array.from(readNifti(v.probability).data as Float32Array)).toEqual(Array.from(probability));
  });

  it('gives the difference follow-up minus baseline', () => {
    const d = readNifti(v.difference).data as Float32Array;
    for (let i = 0; i < W * H; i++) expect(d[i]).toBeCloseTo(followup[4 * i + 3]! - native[4 * i + 3]!, 6);
  });

  it('refuses a bad channel and a plane of the wrong size', () => {
    expect(() => outputVolumes(base, { followup, probability, followupMask: new Uint8Array(0), baselineMask: new Uint8Array(0) }, 4)).toThrow("'channel' passed to 'outputVolumes' must be 0-3, got 4");
    expect(() => planeToNifti(base, new Float32Array(3), 'x')).toThrow("'plane' passed to 'planeToNifti' has 3 values, expected 5x3");
  });
});

describe('the numbers', () => {
  const n: PredictionNumbers = {
    growth: { baselineDay: 150, followupDay: 210, sizeBaseline: 245.5, sizeFollowup: 380.25, relativeChange: 0.55, relativeChangeBand: [0.1, 1.2] },
    baselineBurden: 0.0104, baselineBurdenSource: 'label', targetBurden: 0.0162, predictedBurden: 0.0157,
    baselineTumourPixels: 244, followupTumourPixels: 236, settings: { samples: 2, respacing: 'ddim20, "fast"' }, backend: 'wasm',
  };

  it('as CSV: one quantity per line, quoted where needed', () => {
    const lines = numbersToCsv(n).trim().split('\n');
    expect(lines[0]).toBe('quantity,value');
    expect(lines).toContain('relative_change,0.55');
    expect(lines).toContain('relative_change_p95,1.2');
    expect(lines).toContain('followup_tumour_pixels,236');
    expect(lines).toContain('settings.respacing,"ddim20, ""fast"""');
    expect(lines).toContain('backend,wasm');
  });

  it('as JSON: the whole record', () => {
    expect(JSON.parse(numbersToJson(n))).toEqual(n);
  });

  it('as JSON: a margin of Infinity (everywhere) as the string "Infinity", not null', () => {
    const everywhere = { ...n, settings: { ...n.settings, gradientMarginPixels: Infinity } };
    expect((JSON.parse(numbersToJson(everywhere)) as { settings: Record<string, unknown> }).settings['gradientMarginPixels']).toBe('Infinity');
  });
});
