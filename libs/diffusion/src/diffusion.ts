/**
 * The diffusion process object: guided-diffusion's `GaussianDiffusion` /
 * `SpacedDiffusion` arrays in float64.
 */
import { checkedNamedBetas, type ScheduleName } from './schedule.js';
import { spaceTimesteps } from './respace.js';

/** How the reverse-process variance is obtained when the model does not learn it. */
export type FixedVariance = 'large' | 'small';

/** The safetensors metadata key under which a denoiser's weights file records its diffusion process (JSON `{ steps, schedule, learnSigma }`). */
export const DIFFUSION_CONFIG_KEY = 'tumorcast.diffusion';

/** Options of {@link createDiffusion}. */
export interface DiffusionOptions {
  /**
   * The number of diffusion steps T of the trained process (integer >= 2;
   * >= 20 with the linear schedule, whose largest beta `0.02·1000/T` must
   * not exceed 1).
   * @defaultValue 1000
   */
  steps?: number;
  /**
   * The beta schedule.
   * @defaultValue 'linear'
   */
  schedule?: ScheduleName;
  /**
   * Whether the model outputs 2C channels: eps, then the variance
   * interpolation v in [-1, 1] ("learned range", guided-diffusion
   * `LEARNED_RANGE`).
   * @defaultValue false
   */
  learnSigma?: boolean;
  /**
   * Timestep respacing as guided-diffusion's `space_timesteps` (`'ddim50'`,
   * `'250'`, `'10,10,10'`, or section counts as numbers). Empty or undefined
   * keeps all T steps.
   * @defaultValue undefined (no respacing)
   */
  timestepRespacing?: string | readonly number[];
  /**
   * The fixed variance used when `learnSigma` is false: `'large'` is
   * guided-diffusion's `FIXED_LARGE` (betas, first entry replaced by the
   * posterior variance), `'small'` is the posterior variance.
   * @defaultValue 'large'
   */
  fixedVariance?: FixedVariance;
}

/**
 * A (possibly respaced) Gaussian diffusion process. All arrays are float64,
 * indexed by the step index of this process (0 .. numTimesteps-1); with
 * respacing, `timestepMap[i]` is the original timestep the networks see.
 */
export interface Diffusion {
  /** The number of steps of this process (after respacing). */
  readonly numTimesteps: number;
  /** The number of steps T of the original (trained) process. */
  readonly originalNumTimesteps: number;
  /** For each step index, the original timestep passed to the networks. */
  readonly timestepMap: Int32Array;
  /** The schedule the original process was built from. */
  readonly schedule: ScheduleName;
  /** Whether the model's output holds 2C channels (eps, variance interpolation). */
  readonly learnSigma: boolean;
  /** The fixed variance used when `learnSigma` is false. */
  readonly fixedVariance: FixedVariance;
  /** beta_t (respaced: `1 - alpha_bar[t] / alpha_bar[t-1]`). */
  readonly betas: Float64Array;
  /** 1 - beta_t. */
  readonly alphas: Float64Array;
  /** alpha_bar_t = prod_{s<=t} alpha_s. */
  readonly alphasCumprod: Float64Array;
  /** alpha_bar_{t-1}, with 1 at t = 0. */
  readonly alphasCumprodPrev: Float64Array;
  /** alpha_bar_{t+1}, with 0 at the last step. */
  readonly alphasCumprodNext: Float64Array;
  /** sqrt(alpha_bar_t). */
  readonly sqrtAlphasCumprod: Float64Array;
  /** sqrt(1 - alpha_bar_t). */
  readonly sqrtOneMinusAlphasCumprod: Float64Array;
  /** log(1 - alpha_bar_t). */
  readonly logOneMinusAlphasCumprod: Float64Array;
  /** sqrt(1 / alpha_bar_t). */
  readonly sqrtRecipAlphasCumprod: Float64Array;
  /** sqrt(1 / alpha_bar_t - 1). */
  readonly sqrtRecipm1AlphasCumprod: Float64Array;
  /** Variance of q(x_{t-1} | x_t, x_0): beta_t (1 - alpha_bar_{t-1}) / (1 - alpha_bar_t). */
  readonly posteriorVariance: Float64Array;
  /** log of the posterior variance, with entry 0 replaced by entry 1 (it is 0 there). */
  readonly posteriorLogVarianceClipped: Float64Array;
  /** Coefficient of x_0 in the posterior mean. */
  readonly posteriorMeanCoef1: Float64Array;
  /** Coefficient of x_t in the posterior mean. */
  readonly posteriorMeanCoef2: Float64Array;
}

function map(a: Float64Array, f: (v: number, i: number) => number): Float64Array {
  const out = new Float64Array(a.length);
  for (let i = 0; i < a.length; i++) out[i] = f(a[i]!, i);
  return out;
}

/**
 * Builds every derived array from a betas vector, as guided-diffusion's
 * `GaussianDiffusion.__init__`.
 *
 * @param betas - the betas (each in (0, 1]).
 * @param meta - the non-array fields of the result.
 */
function fromBetas(betas: Float64Array, meta: Omit<Diffusion, keyof DiffusionArrays>): Diffusion {
  const n = betas.length;
  const alphas = map(betas, (b) => 1 - b);
  const alphasCumprod = new Float64Array(n);
  let acc = 1;
  for (let i = 0; i < n; i++) {
    acc *= alphas[i]!;
    alphasCumprod[i] = acc;
  }
  const alphasCumprodPrev = map(alphasCumprod, (_, i) => (i === 0 ? 1 : alphasCumprod[i - 1]!));
  const alphasCumprodNext = map(alphasCumprod, (_, i) => (i === n - 1 ? 0 : alphasCumprod[i + 1]!));
  const posteriorVariance = map(betas, (b, i) => (b * (1 - alphasCumprodPrev[i]!)) / (1 - alphasCumprod[i]!));
  return {
    ...meta,
    betas,
    alphas,
    alphasCumprod,
    alphasCumprodPrev,
    alphasCumprodNext,
    sqrtAlphasCumprod: map(alphasCumprod, Math.sqrt),
    sqrtOneMinusAlphasCumprod: map(alphasCumprod, (a) => Math.sqrt(1 - a)),
    logOneMinusAlphasCumprod: map(alphasCumprod, (a) => Math.log(1 - a)),
    sqrtRecipAlphasCumprod: map(alphasCumprod, (a) => Math.sqrt(1 / a)),
    sqrtRecipm1AlphasCumprod: map(alphasCumprod, (a) => Math.sqrt(1 / a - 1)),
    posteriorVariance,
    // At least 2 steps (createDiffusion's checks).
    posteriorLogVarianceClipped: map(posteriorVariance, (v, i) => Math.log(i === 0 ? posteriorVariance[1]! : v)),
    posteriorMeanCoef1: map(betas, (b, i) => (b * Math.sqrt(alphasCumprodPrev[i]!)) / (1 - alphasCumprod[i]!)),
    posteriorMeanCoef2: map(betas, (_, i) => ((1 - alphasCumprodPrev[i]!) * Math.sqrt(alphas[i]!)) / (1 - alphasCumprod[i]!)),
  };
}

type DiffusionArrays = Pick<Diffusion,
  'betas' | 'alphas' | 'alphasCumprod' | 'alphasCumprodPrev' | 'alphasCumprodNext' | 'sqrtAlphasCumprod' |
  'sqrtOneMinusAlphasCumprod' | 'logOneMinusAlphasCumprod' | 'sqrtRecipAlphasCumprod' | 'sqrtRecipm1AlphasCumprod' |
  'posteriorVariance' | 'posteriorLogVarianceClipped' | 'posteriorMeanCoef1' | 'posteriorMeanCoef2'>;

/**
 * Creates a Gaussian diffusion process (guided-diffusion's
 * `create_gaussian_diffusion` with epsilon prediction, `rescale_timesteps =
 * False`): the schedule arrays in float64 and, with `timestepRespacing`, the
 * spaced process whose betas are recomputed so that it has the same
 * alpha_bar at the kept steps (`SpacedDiffusion`).
 *
 * @example
 * ```ts
 * const diffusion = createDiffusion({ steps: 1000, schedule: 'linear', learnSigma: true, timestepRespacing: 'ddim50' });
 * diffusion.numTimesteps;   // 50
 * diffusion.timestepMap[1]; // 20 (the original timestep of step index 1)
 * ```
 *
 * @param options - see {@link DiffusionOptions}.
 * @throws RangeError for an invalid option, naming it; in particular a linear
 *   schedule with fewer than 20 steps (its betas would exceed 1 and the
 *   arrays would hold NaN).
 */
export function createDiffusion(options: DiffusionOptions = {}): Diffusion {
  const fn = 'createDiffusion';
  const steps = options.steps ?? 1000;
  const schedule = options.schedule ?? 'linear';
  const learnSigma = options.learnSigma ?? false;
  const fixedVariance = options.fixedVariance ?? 'large';
  if (!Number.isInteger(steps) || steps < 2) {
    throw new RangeError(`'steps' passed to '${fn}' must be an integer >= 2, got ${steps}`);
  }
  if (schedule !== 'linear' && schedule !== 'cosine') {
    throw new RangeError(`'schedule' passed to '${fn}' must be 'linear' or 'cosine', got ${String(schedule)}`);
  }
  if (typeof learnSigma !== 'boolean') {
    throw new TypeError(`'learnSigma' passed to '${fn}' must be a boolean, got ${String(learnSigma)}`);
  }
  if (fixedVariance !== 'large' && fixedVariance !== 'small') {
    throw new RangeError(`'fixedVariance' passed to '${fn}' must be 'large' or 'small', got ${String(fixedVariance)}`);
  }
  const baseBetas = checkedNamedBetas(schedule, steps, fn);
  const respacing = options.timestepRespacing;
  const meta = { originalNumTimesteps: steps, schedule, learnSigma, fixedVariance };
  if (respacing === undefined || (typeof respacing === 'string' && respacing.trim() === '') ||
    (Array.isArray(respacing) && respacing.length === 0)) {
    const timestepMap = new Int32Array(steps).map((_, i) => i);
    return Object.freeze(fromBetas(baseBetas, { ...meta, numTimesteps: steps, timestepMap }));
  }
  let kept: number[];
  try {
    kept = spaceTimesteps(steps, respacing);
  } catch (e) {
    throw new RangeError(`'timestepRespacing' passed to '${fn}' is invalid: ${(e as Error).message}`);
  }
  if (kept.length < 2) {
    throw new RangeError(`'timestepRespacing' passed to '${fn}' must keep at least 2 steps, got ${kept.length}`);
  }
  const base = fromBetas(baseBetas, { ...meta, numTimesteps: steps, timestepMap: new Int32Array(0) });
  const newBetas = new Float64Array(kept.length);
  let last = 1;
  kept.forEach((t, i) => {
    const ac = base.alphasCumprod[t]!;
    newBetas[i] = 1 - ac / last;
    last = ac;
  });
  return Object.freeze(fromBetas(newBetas, { ...meta, numTimesteps: kept.length, timestepMap: Int32Array.from(kept) }));
}
