// The network base class and its configuration machinery.
export { Module, loadModule } from './module.js';
export type { ModuleOptions, LoadModuleSpec } from './module.js';
export { ConfigCheck, configResolver } from './config.js';
export type { ConfigSpec, ConfigResolver } from './config.js';
export { timestepTensor, checkImageBatch } from './inputs.js';
export type { TimestepInput, ImageBatchSpec } from './inputs.js';
