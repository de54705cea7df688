export { AdamW, ExponentialMovingAverage } from './adamw.js';
export type { AdamWOptions, AdamWState } from './adamw.js';
