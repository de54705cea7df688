import { describe, expect, it } from '@jest/globals';
import { BACKEND_ORDER, parseBackendChoice } from './backend-choice.js';

describe('parseBackendChoice', () => {
  it('reads the choices in any case, empty or missing as auto', () => {
    expect([null, undefined, '', ' Auto ', 'WEBGPU', 'webgl', 'wasm'].map(parseBackendChoice)).toEqual(['auto', 'auto', 'auto', 'auto', 'webgpu', 'webgl', 'wasm']);
  });

  it('names the allowed values for anything else', () => {
    expect(() => parseBackendChoice('cpu')).toThrow("backend must be one of auto, webgpu, webgl, wasm; got 'cpu'");
  });

  it('tries the GPU backends first', () => {
    expect(BACKEND_ORDER).toEqual(['webgpu', 'webgl', 'wasm']);
  });
});
