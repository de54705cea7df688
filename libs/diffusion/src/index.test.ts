import { describe, expect, it } from '@jest/globals';
import { PACKAGE_NAME } from './index.js';

describe('@tumorcast/diffusion', () => {
  it('exports its name', () => {
    expect(PACKAGE_NAME).toBe('@tumorcast/diffusion');
  });
});
