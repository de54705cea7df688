/**
 * @packageDocumentation
 * @tumorcast/nn — compute backend, kernels, safetensors and network building blocks.
 */
export { Rng, createRng } from '@tumorcast/random';
export type { Seed } from '@tumorcast/random';
