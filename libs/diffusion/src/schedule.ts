/**
 * Noise schedules (guided-diffusion `get_named_beta_schedule`), in float64.
 */

/** The name of a beta schedule. */
export type ScheduleName = 'linear' | 'cosine';

/**
 * The fewest steps for which the linear schedule's largest beta,
 * `0.02·(1000/steps)`, is at most 1 (guided-diffusion asserts `0 < beta <= 1`).
 */
export const LINEAR_SCHEDULE_MIN_STEPS = 20;

/** Formats a beta for an error message (4 significant digits). */
function fmt(v: number): string {
  return String(Number(v.toPrecision(4)));
}

/**
 * The betas of a named schedule, refused up front when they leave (0, 1]
 * (the derived arrays would hold NaN). `fn` is the public function named in
 * the errors. Not exported from the package.
 *
 * @internal
 */
export function checkedNamedBetas(name: ScheduleName, steps: number, fn: string): Float64Array {
  if (!Number.isInteger(steps) || steps < 2) {
    throw new RangeError(`'steps' passed to '${fn}' must be an integer >= 2, got ${steps}`);
  }
  if (name === 'linear') {
    const scale = 1000 / steps;
    const start = scale * 0.0001;
    const end = scale * 0.02;
    // 1 - beta_T < 0 would make alpha_bar negative and its square roots NaN.
    if (!(end <= 1)) {
      throw new RangeError(
        `'steps' passed to '${fn}': the linear schedule with ${steps} steps has beta up to ${fmt(end)} (> 1); ` +
        `use at least ${LINEAR_SCHEDULE_MIN_STEPS} steps or the cosine schedule`);
    }
    const out = new Float64Array(steps);
    const step = (end - start) / (steps - 1);
    for (let i = 0; i < steps; i++) out[i] = start + i * step;
    out[steps - 1] = end;
    return out;
  }
  if (name === 'cosine') {
    return betasForAlphaBar(steps, (t) => Math.cos(((t + 0.008) / 1.008) * Math.PI / 2) ** 2);
  }
  throw new RangeError(`'name' passed to '${fn}' must be 'linear' or 'cosine', got ${String(name)}`);
}

/**
 * Betas of a named schedule for `steps` diffusion steps, as guided-diffusion's
 * `get_named_beta_schedule`: `'linear'` goes from `1e-4·(1000/steps)` to
 * `0.02·(1000/steps)` (so any `steps` gives the same process as 1000 steps),
 * `'cosine'` follows Nichol & Dhariwal's `alpha_bar(t) = cos²((t + 0.008)/1.008 · π/2)`
 * with betas capped at 0.999.
 *
 * Every beta must lie in (0, 1], as guided-diffusion's `GaussianDiffusion`
 * asserts: the linear schedule needs at least
 * {@link LINEAR_SCHEDULE_MIN_STEPS} (20) steps (with 20 its last beta is
 * exactly 1, so alpha_bar reaches 0 at the last step); the cosine schedule
 * works for any `steps` >= 2.
 *
 * @param name - `'linear'` or `'cosine'`.
 * @param steps - the number of diffusion steps T (integer >= 2; >= 20 for `'linear'`).
 * @returns the T betas in float64.
 * @throws RangeError for a `steps` that is not an integer >= 2, a linear
 *   schedule with fewer than 20 steps, or an unknown `name`.
 */
export function namedBetaSchedule(name: ScheduleName, steps: number): Float64Array {
  return checkedNamedBetas(name, steps, 'namedBetaSchedule');
}

/**
 * Discretises a continuous `alphaBar(t)`, t in [0, 1], into `steps` betas
 * (`beta_i = min(1 - alphaBar((i+1)/T) / alphaBar(i/T), maxBeta)`).
 *
 * @param steps - the number of steps T.
 * @param alphaBar - the cumulative product of (1 - beta) as a function of t in [0, 1].
 * @param maxBeta - the cap on each beta, in (0, 1] (guided-diffusion uses 0.999).
 * @returns the T betas in float64, each in (0, maxBeta].
 * @throws RangeError when `steps` is not a positive integer, `maxBeta` is
 *   outside (0, 1], or a beta is not positive (`alphaBar` not strictly
 *   decreasing, or not positive where it is divided by).
 */
export function betasForAlphaBar(steps: number, alphaBar: (t: number) => number, maxBeta = 0.999): Float64Array {
  const fn = 'betasForAlphaBar';
  if (!Number.isInteger(steps) || steps < 1) {
    throw new RangeError(`'steps' passed to '${fn}' must be a positive integer, got ${steps}`);
  }
  if (typeof alphaBar !== 'function') {
    throw new TypeError(`'alphaBar' passed to '${fn}' must be a function of t in [0, 1], got ${typeof alphaBar}`);
  }
  if (!(maxBeta > 0 && maxBeta <= 1)) {
    throw new RangeError(`'maxBeta' passed to '${fn}' must be in (0, 1], got ${maxBeta}`);
  }
  const out = new Float64Array(steps);
  for (let i = 0; i < steps; i++) {
    const t1 = i / steps;
    const t2 = (i + 1) / steps;
    const beta = Math.min(1 - alphaBar(t2) / alphaBar(t1), maxBeta);
    // Math.min passes NaN through; a beta <= 0 means alphaBar did not decrease.
    if (!(beta > 0)) {
      throw new RangeError(
        `'alphaBar' passed to '${fn}' must be positive at t = 0 and decrease strictly over [0, 1]; ` +
        `step ${i} (t = ${t1} -> ${t2}) gives beta ${beta}`);
    }
    out[i] = beta;
  }
  return out;
}
