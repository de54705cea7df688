/**
 * @packageDocumentation
 * Seeded random numbers for reproducible tumorcast runs.
 */
export { Rng, createRng } from './rng.js';
export type { Seed } from './rng.js';
