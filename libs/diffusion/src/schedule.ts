/**
 * Noise schedules (guided-diffusion `get_named_beta_schedule`), in float64.
 */

/** The name of a beta schedule. */
export type ScheduleName = 'linear' | 'cosine';

/**
 * Betas of a named schedule for `steps` diffusion steps, as guided-diffusion's
 * `get_named_beta_schedule`: `'linear'` goes from `1e-4·(1000/steps)` to
 * `0.02·(1000/steps)` (so any `steps` gives the same process as 1000 steps),
 * `'cosine'` follows Nichol & Dhariwal's `alpha_bar(t) = cos²((t + 0.008)/1.008 · π/2)`
 * with betas capped at 0.999.
 *
 * @param name - `'linear'` or `'cosine'`.
 * @param steps - the number of diffusion steps T (integer >= 2).
 * @returns the T betas in float64.
 */
export function namedBetaSchedule(name: ScheduleName, steps: number): Float64Array {
  if (!Number.isInteger(steps) || steps < 2) {
    throw new RangeError(`'steps' passed to 'namedBetaSchedule' must be an integer >= 2, got ${steps}`);
  }
  if (name === 'linear') {
    const scale = 1000 / steps;
    const start = scale * 0.0001;
    const end = scale * 0.02;
    const out = new Float64Array(steps);
    const step = (end - start) / (steps - 1);
    for (let i = 0; i < steps; i++) out[i] = start + i * step;
    out[steps - 1] = end;
    return out;
  }
  if (name === 'cosine') {
    return betasForAlphaBar(steps, (t) => Math.cos(((t + 0.008) / 1.008) * Math.PI / 2) ** 2);
  }
  throw new RangeError(`'name' passed to 'namedBetaSchedule' must be 'linear' or 'cosine', got ${String(name)}`);
}

/**
 * Discretises a continuous `alphaBar(t)`, t in [0, 1], into `steps` betas
 * (`beta_i = min(1 - alphaBar((i+1)/T) / alphaBar(i/T), maxBeta)`).
 *
 * @param steps - the number of steps T.
 * @param alphaBar - the cumulative product of (1 - beta) as a function of t in [0, 1].
 * @param maxBeta - the cap on each beta (guided-diffusion uses 0.999).
 */
export function betasForAlphaBar(steps: number, alphaBar: (t: number) => number, maxBeta = 0.999): Float64Array {
  const out = new Float64Array(steps);
  for (let i = 0; i < steps; i++) {
    const t1 = i / steps;
    const t2 = (i + 1) / steps;
    out[i] = Math.min(1 - alphaBar(t2) / alphaBar(t1), maxBeta);
  }
  return out;
}
