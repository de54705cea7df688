// startBackend: with the ONNX denoiser, auto leaves WebGPU out (the denoiser reads synchronously).
import { afterEach, describe, expect, it } from '@jest/globals';
import { initBackend } from '@tumorcast/nn';
import { startBackend } from './backend.js';

// The tests' setup sets TUMORCAST_WEBGPU_AUTO=0, which would hide the option under test.
const saved = process.env['TUMORCAST_WEBGPU_AUTO'];
afterEach(() => {
  if (saved === undefined) delete process.env['TUMORCAST_WEBGPU_AUTO'];
  else process.env['TUMORCAST_WEBGPU_AUTO'] = saved;
});

describe('startBackend', () => {
  it('with --denoiser onnx, auto leaves WebGPU out and says why', async () => {
    delete process.env['TUMORCAST_WEBGPU_AUTO'];
    await initBackend({ backend: 'cpu', log: false });
    const lines: string[] = [];
    expect(await startBackend('auto', { denoiser: 'onnx' }, (m) => lines.push(m))).toBe('wasm');
    expect(lines[0]).toBe('--denoiser onnx reads its inputs synchronously, which WebGPU cannot do in Node: --backend auto leaves WebGPU out');
    expect(lines[1]).toMatch(/^tumorcast: compute backend 'wasm' \(.*; no WebGPU: auto was told not to load Dawn in Node/);
  });

  it('with the tfjs denoiser, or a backend named, says nothing more', async () => {
    const lines: string[] = [];
    expect(await startBackend('wasm', { denoiser: 'onnx' }, (m) => lines.push(m))).toBe('wasm');
    await initBackend({ backend: 'cpu', log: false });
    expect(await startBackend('auto', { denoiser: 'tfjs' }, (m) => lines.push(m))).toBe('wasm');
    expect(lines.some((l) => l.startsWith('--denoiser'))).toBe(false);
    expect(lines.filter((l) => /no WebGPU: auto was told not to load Dawn/.test(l))).toHaveLength(1); // the setup's TUMORCAST_WEBGPU_AUTO=0
  });
});
