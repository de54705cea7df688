import { describe, expect, it } from '@jest/globals';
import shim, { basename, readFile, writeFileAtomic } from './node-builtins.js';

describe('the browser stand-ins for Node modules', () => {
  it('throw a message saying the app reads dropped files, not paths', () => {
    expect(() => readFile()).toThrow('readFile is not available in the browser: the web app reads files the user drops, not paths');
    expect(() => writeFileAtomic()).toThrow('writeFileAtomic is not available in the browser');
    expect(() => basename()).toThrow('path.basename is not available in the browser');
    expect(() => shim.join()).toThrow('path.join is not available in the browser');
  });
});
