import { describe, expect, it } from '@jest/globals';
import { DEFAULT_SAMPLE_SETTINGS, gradientShaping, guidanceSummary, recordJson, settingsForRecord, settingsFromRecord } from './settings.js';

describe('settingsForRecord / settingsFromRecord', () => {
  it('leaves the settings added later out at the values older records were made with, and fills them back', () => {
    const recorded = settingsForRecord(DEFAULT_SAMPLE_SETTINGS);
    for (const k of ['baselineBurden', 'guidance', 'gradientTemperature', 'gradientMarginPixels']) expect(recorded).not.toHaveProperty(k);
    expect(recorded).toMatchObject({ noiseLevel: 200, scale: 200000, samples: 8 });
    // No Infinity survives into JSON, and the round trip through JSON gives the settings back.
    expect(settingsFromRecord(JSON.parse(JSON.stringify(recorded)))).toEqual(DEFAULT_SAMPLE_SETTINGS);
  });

  it('keeps values other than those, and reads a null margin (JSON\'s Infinity) as Infinity', () => {
    const tuned = { ...DEFAULT_SAMPLE_SETTINGS, baselineBurden: 'regressor', guidance: 'segmenter', gradientTemperature: 2, gradientMarginPixels: 4 } as const;
    expect(settingsForRecord(tuned)).toEqual(tuned);
    expect(settingsFromRecord({ scale: 5, gradientMarginPixels: null as unknown as number })).toEqual({
      scale: 5, baselineBurden: 'label', guidance: 'regressor', gradientTemperature: 1, gradientMarginPixels: Infinity,
    });
  });
});

describe('recordJson', () => {
  it('leaves an Infinity gradient margin out (JSON would write null) wherever it sits, keeps a finite one, and reads back as Infinity', () => {
    const text = recordJson({ settings: { ...DEFAULT_SAMPLE_SETTINGS }, provenance: { settings: { gradientMarginPixels: Infinity, scale: 2 } }, other: { gradientMarginPixels: 4 } });
    expect(text.endsWith('}\n')).toBe(true);
    expect(text).not.toContain('null');
    const back = JSON.parse(text) as { settings: Record<string, unknown>; provenance: { settings: Record<string, unknown> }; other: Record<string, unknown> };
    expect('gradientMarginPixels' in back.settings).toBe(false);
    expect(back.provenance.settings).toEqual({ scale: 2 });
    expect(back.other).toEqual({ gradientMarginPixels: 4 });
    expect(settingsFromRecord(back.settings).gradientMarginPixels).toBe(Infinity);
  });
});

describe('gradientShaping', () => {
  it('names the temperature when it is not 1 and the margin when it is finite, and nothing at the defaults', () => {
    expect(gradientShaping({})).toBe('');
    expect(gradientShaping({ gradientTemperature: 1, gradientMarginPixels: Infinity })).toBe('');
    expect(gradientShaping({ gradientTemperature: 2 })).toBe('gradient temperature 2');
    expect(gradientShaping({ gradientMarginPixels: 0 })).toBe('gradient within 0 pixels of the tumour');
    expect(gradientShaping({ gradientTemperature: 2, gradientMarginPixels: 4 })).toBe('gradient temperature 2, gradient within 4 pixels of the tumour');
    expect(guidanceSummary({ guidance: 'segmenter', baselineBurden: 'regressor', gradientTemperature: 2, gradientMarginPixels: 4 }))
      .toBe("guided by the segmenter's burden of the denoised estimate (gradient temperature 2, gradient within 4 pixels of the tumour), r0 from the segmenter's reading of the baseline");
  });
});
