/**
 * Starting the compute backend for a command: `initBackend` of
 * `@tumorcast/nn`, told about the denoiser.
 */
import { initBackend } from '@tumorcast/nn';
import type { BackendName, BackendRequest } from '@tumorcast/nn';
import type { ModelPaths } from '@tumorcast/pipeline/node';

/**
 * Starts the backend a command asked for. With `--denoiser onnx`, `auto`
 * leaves WebGPU out (and says so): the ONNX denoiser runs on the CPU and
 * must read the samplers' tensors synchronously, which WebGPU cannot do in
 * Node; `auto` then takes tfjs-node(-gpu) or wasm.
 *
 * @param request - the `--backend` value (`auto` when not given).
 * @param models - the command's networks (their `denoiser`), when it loads any.
 * @param log - where the backend line goes.
 */
export async function startBackend(request: BackendRequest, models: Pick<ModelPaths, 'denoiser'> | undefined, log: (m: string) => void): Promise<BackendName> {
  const onnx = models?.denoiser === 'onnx';
  if (onnx && request === 'auto') log('--denoiser onnx reads its inputs synchronously, which WebGPU cannot do in Node: --backend auto leaves WebGPU out');
  return initBackend({ backend: request, log, ...(onnx ? { webgpuInAuto: false } : {}) });
}
