/**
 * Kernels that fill the gaps of `@tensorflow/tfjs-backend-webgpu` for what
 * tumorcast runs (training steps and guidance), built from the webgpu
 * backend's own registered kernels so that the arithmetic stays on the GPU.
 */
import * as tf from '@tensorflow/tfjs';

/** The fills, by kernel name. */
export const WEBGPU_KERNEL_FILLS: Readonly<Record<string, tf.KernelFunc>> = {};

/**
 * Registers tumorcast's kernel fills for the `webgpu` backend (a kernel the
 * backend already has is left alone). Called by `initBackend`.
 *
 * @returns the names of the kernels registered by this call.
 */
export function registerWebGPUKernelFills(): string[] {
  const names: string[] = [];
  for (const [name, fn] of Object.entries(WEBGPU_KERNEL_FILLS)) {
    if (tf.getKernel(name, 'webgpu')) continue;
    tf.registerKernel({ kernelName: name, backendName: 'webgpu', kernelFunc: fn });
    names.push(name);
  }
  return names;
}
