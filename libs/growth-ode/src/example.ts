/**
 * A built-in synthetic example series.
 */
import { Rng } from '@tumorcast/random';
import type { GrowthSeries } from './fit.js';
import { simulate } from './model.js';
import { twoPhaseRtModel, type TwoPhaseParams } from './two-phase.js';

/** The {@link exampleSeries}: a series plus the parameters that generated it. */
export interface ExampleSeries extends GrowthSeries {
  /** `'synthetic-example'`. */
  readonly id: string;
  /** RT end on day 52 (RT start on day 10, 42-day course). */
  readonly context: { readonly rtEnd: number };
  /** The two-phase parameters that generated the noise-free sizes. */
  readonly truth: TwoPhaseParams;
  /** The noise-free sizes. */
  readonly noiseFree: readonly number[];
  /** A sentence saying how the data were made. */
  readonly description: string;
}

/** The parameters of the example series. */
export const EXAMPLE_TRUTH: TwoPhaseParams = Object.freeze({
  lambdaGr: 0.008,
  lambdaDecay: 0.025,
  delay: 20,
  slope: 0.25,
  survival: 0.12,
  v0: 1500,
});

/**
 * A SYNTHETIC tumour size series (not patient data): the two-phase model
 * ({@link twoPhaseRtModel}) with {@link EXAMPLE_TRUTH}, RT from day 10 to day 52,
 * sampled on 10 days from 0 to 400 and multiplied by seeded N(1, 0.05) noise
 * (`Rng('growth-ode-example')`). Sizes are in mm^2. Deterministic.
 *
 * @returns the series with its generating parameters
 */
export function exampleSeries(): ExampleSeries {
  const times = [0, 10, 45, 70, 100, 140, 190, 250, 320, 400];
  const context = { rtEnd: 52 };
  const noiseFree = simulate(twoPhaseRtModel, EXAMPLE_TRUTH, times, context);
  const rng = new Rng('growth-ode-example');
  const sizes = noiseFree.map((v) => Math.round(v * rng.normal(1, 0.05) * 10) / 10);
  return {
    id: 'synthetic-example',
    times,
    sizes,
    context,
    truth: { ...EXAMPLE_TRUTH },
    noiseFree,
    description:
      'Synthetic: two-phase RT model (method section 6) with known parameters, RT days 10-52, 10 scans over 400 days, multiplicative N(1, 0.05) noise from a seeded Rng. Not patient data.',
  };
}
