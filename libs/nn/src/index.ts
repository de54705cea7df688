/**
 * @packageDocumentation
 * @tumorcast/nn — compute backend, kernels, safetensors, network building blocks and the network base class.
 */
export * from './backend/index.js';
export * from './safetensors.js';
export * from './optim/index.js';
export * from './layers/index.js';
export * from './torch/index.js';
export * from './module/index.js';
