export { initBackend, currentBackend, BackendError } from './init.js';
export type { BackendName, BackendRequest, InitBackendOptions } from './init.js';
export {
  registerWasmKernelFills,
  unregisterWasmKernelFills,
  conv2dBackpropFilterWasm,
  conv2dBackpropInputWasm,
  unsortedSegmentSumWasm,
  WASM_KERNEL_FILLS,
} from './wasm-kernels.js';
export type { WasmKernelFillOptions, KernelFillArgs } from './wasm-kernels.js';
export { assertFitsMemory, MemoryBudgetError, WASM_HEAP_LIMIT_BYTES, trackPeakMemory, wasmHeapBytes } from './memory.js';
export type { MemoryBudgetOptions, PeakMemory } from './memory.js';
export { startWasm, resolveWasmThreads, autoWasmThreads, wasmThreadsInUse, MAX_WASM_THREADS, WASM_THREADS_ENV } from './threads.js';
export type { WasmThreadsRequest, StartWasmResult } from './threads.js';
export {
  setUpWebGPU,
  startWebGPU,
  isSoftwareAdapter,
  describeAdapter,
  webgpuAdapter,
  webgpuDeviceError,
  clearWebGPUDeviceError,
  webgpuMemory,
  defaultImporter,
  WebGPUSyncReadError,
  syncReadsAvailable,
} from './webgpu.js';
export type { GpuAdapterInfoLike, ModuleImporter, WebGPUAdapterSummary, WebGPUSetupOptions, WebGPUSetup, WebGPUDeviceError, WebGPUMemory } from './webgpu.js';
export { registerWebGPUKernelFills, WEBGPU_KERNEL_FILLS } from './webgpu-kernels.js';
