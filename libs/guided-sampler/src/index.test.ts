import { describe, expect, it } from '@jest/globals';
import { PACKAGE_NAME } from './index.js';

describe('@tumorcast/guided-sampler', () => {
  it('exports its name', () => {
    expect(PACKAGE_NAME).toBe('@tumorcast/guided-sampler');
  });
});
