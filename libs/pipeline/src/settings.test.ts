import { describe, expect, it } from '@jest/globals';
import { DEFAULT_SAMPLE_SETTINGS, settingsForRecord, settingsFromRecord } from './settings.js';

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
