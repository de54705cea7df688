import { describe, expect, it } from '@jest/globals';
import { flagName } from './errors.js';

describe('flagName', () => {
  it("names the pipeline's options by tumorcast-predict's flags", () => {
    expect(flagName('settings.noiseLevel')).toBe('--noise-level');
    expect(flagName('settings.gradientTemperature', '2')).toBe('--gradient-temperature 2');
    // Flags that are not the kebab-case of the option's name.
    expect(flagName('settings.gradientMarginPixels', '4')).toBe('--gradient-margin 4');
    expect(flagName('gradientMargins')).toBe('--gradient-margins');
    expect(flagName('targets.replicates')).toBe('--bootstrap');
  });
});
