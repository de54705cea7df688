/**
 * An adaptive Dormand-Prince 5(4) integrator with the step control, initial
 * step choice and 4th-order dense output of scipy's `solve_ivp(method='RK45')`,
 * plus instantaneous state jumps at given times (impulses).
 */

/**
 * The right-hand side of `dy/dt = f(t, y)`. Writes `f(t, y)` into `dydt`
 * (same length as `y`); must not keep references to `y` or `dydt`.
 */
export type OdeRhs = (t: number, y: Float64Array, dydt: Float64Array) => void;

/** An instantaneous change of the state at time `t` (e.g. a radiotherapy fraction). */
export interface StateJump {
  /** When the jump happens. Values reported at times `>= t` include it (right-continuous). */
  readonly t: number;
  /** Changes the state in place. */
  readonly apply: (y: Float64Array) => void;
}

/** Options of {@link solveIvp}. */
export interface SolveIvpOptions {
  /**
   * Relative tolerance.
   * @defaultValue 1e-3
   */
  rtol?: number;
  /**
   * Absolute tolerance: a number, or one per state component.
   * @defaultValue 1e-6
   */
  atol?: number | readonly number[];
  /**
   * Largest allowed step.
   * @defaultValue Infinity
   */
  maxStep?: number;
  /**
   * First step size; chosen automatically (scipy's rule) when omitted, and
   * again after each jump.
   * @defaultValue undefined (automatic)
   */
  firstStep?: number;
  /**
   * Times (increasing, within the span) at which to report the solution,
   * from the dense interpolant. When omitted, every accepted step end is reported.
   * @defaultValue undefined
   */
  tEval?: readonly number[];
  /**
   * Return a continuous solution `sol(t)` covering the span.
   * @defaultValue false
   */
  denseOutput?: boolean;
  /**
   * State jumps. Jumps before `tSpan[0]` or after `tSpan[1]` are ignored; jumps at
   * the same time are applied in the given order.
   * @defaultValue []
   */
  jumps?: readonly StateJump[];
  /**
   * Give up (with an {@link OdeError}) after this many step attempts.
   * @defaultValue 1000000
   */
  maxSteps?: number;
}

/** The result of {@link solveIvp}. */
export interface OdeSolution {
  /** Report times: `tEval`, or every accepted step end (a jump time appears twice: before and after). */
  readonly t: number[];
  /** `y[i]` is the state at `t[i]`. */
  readonly y: number[][];
  /** Number of right-hand-side evaluations. */
  readonly nfev: number;
  /** Number of accepted steps. */
  readonly nSteps: number;
  /** Number of rejected step attempts. */
  readonly nRejected: number;
  /** The continuous solution (only with `denseOutput`); right-continuous at jumps. */
  readonly sol?: (t: number) => number[];
}

/** Why {@link solveIvp} failed. */
export type OdeErrorKind = 'step-underflow' | 'non-finite' | 'max-steps';

/** Thrown by {@link solveIvp} when the integration cannot continue. */
export class OdeError extends Error {
  /** What went wrong. */
  readonly kind: OdeErrorKind;
  /** The time reached. */
  readonly t: number;

  /** @param kind - what went wrong @param t - the time reached @param message - the description */
  constructor(kind: OdeErrorKind, t: number, message: string) {
    super(message);
    this.name = 'OdeError';
    this.kind = kind;
    this.t = t;
  }
}

// Dormand-Prince 5(4) tableau, as in scipy.integrate._ivp.rk.RK45.
// `as const` tuples: indexing them with literal indices is checked at compile time.
const C = [0, 1 / 5, 3 / 10, 4 / 5, 8 / 9, 1] as const;
const A = [
  [],
  [1 / 5],
  [3 / 40, 9 / 40],
  [44 / 45, -56 / 15, 32 / 9],
  [19372 / 6561, -25360 / 2187, 64448 / 6561, -212 / 729],
  [9017 / 3168, -355 / 33, 46732 / 5247, 49 / 176, -5103 / 18656],
] as const;
const B = [35 / 384, 0, 500 / 1113, 125 / 192, -2187 / 6784, 11 / 84] as const;
const E = [-71 / 57600, 0, 71 / 16695, -71 / 1920, 17253 / 339200, -22 / 525, 1 / 40] as const;
const P = [
  [1, -8048581381 / 2820520608, 8663915743 / 2820520608, -12715105075 / 11282082432],
  [0, 0, 0, 0],
  [0, 131558114200 / 32700410799, -68118460800 / 10900136933, 87487479700 / 32700410799],
  [0, -1754552775 / 470086768, 14199869525 / 1410260304, -10690763975 / 1880347072],
  [0, 127303824393 / 49829197408, -318862633887 / 49829197408, 701980252875 / 199316789632],
  [0, -282668133 / 205662961, 2019193451 / 616988883, -1453857185 / 822651844],
  [0, 40617522 / 29380423, -110615467 / 29380423, 69997945 / 29380423],
] as const;
const [A10, A20, A21, A30, A31, A32, A40, A41, A42, A43, A50, A51, A52, A53, A54] = [
  A[1][0], A[2][0], A[2][1], A[3][0], A[3][1], A[3][2], A[4][0], A[4][1], A[4][2], A[4][3], A[5][0], A[5][1], A[5][2], A[5][3], A[5][4],
];
const [B0, , B2, B3, B4, B5] = B;
const [E0, , E2, E3, E4, E5, E6] = E;
const SAFETY = 0.9;
const MIN_FACTOR = 0.2;
const MAX_FACTOR = 10;
const ERROR_EXPONENT = -1 / 5;

/** One accepted step's interpolant: y(t) = yOld + h * Q p(x), x = (t - tOld) / h. */
interface DenseStep {
  tOld: number;
  h: number;
  yOld: Float64Array;
  q: Float64Array; // n x 4, row-major
}

function checkPositive(value: number, name: string): void {
  if (!(value > 0)) throw new RangeError(`'${name}' passed to 'solveIvp' must be > 0, got ${value}`);
}

function rmsNorm(v: Float64Array): number {
  let s = 0;
  for (let i = 0; i < v.length; i++) s += v[i]! * v[i]!;
  return Math.sqrt(s / v.length);
}

function allFinite(v: Float64Array): boolean {
  for (let i = 0; i < v.length; i++) if (!Number.isFinite(v[i])) return false;
  return true;
}

function interpolate(step: DenseStep, t: number, out: Float64Array): void {
  const x = (t - step.tOld) / step.h;
  const n = out.length;
  const x2 = x * x;
  const x3 = x2 * x;
  const x4 = x3 * x;
  for (let i = 0; i < n; i++) {
    const q = i * 4;
    out[i] = step.yOld[i]! + step.h * (step.q[q]! * x + step.q[q + 1]! * x2 + step.q[q + 2]! * x3 + step.q[q + 3]! * x4);
  }
}

/**
 * Solves the initial value problem `dy/dt = fun(t, y)`, `y(tSpan[0]) = y0` on
 * `[tSpan[0], tSpan[1]]` (forward in time) with the adaptive Dormand-Prince 5(4)
 * method, error control `|err_i| <= atol_i + rtol * max(|y_i|, |y_new_i|)` in
 * the RMS norm, like scipy's `solve_ivp(method='RK45')`. State jumps are applied
 * exactly at their times (integration stops there and restarts).
 *
 * @param fun - the right-hand side, writing `dy/dt` in place
 * @param tSpan - `[t0, t1]` with `t1 > t0`
 * @param y0 - the initial state (finite)
 * @param options - tolerances, output and jumps
 * @returns report times and states, counters and optionally the dense solution
 * @throws RangeError on invalid arguments; {@link OdeError} when the step size
 *   underflows, the state becomes non-finite, or `maxSteps` is exceeded
 */
export function solveIvp(
  fun: OdeRhs,
  tSpan: readonly [number, number],
  y0: ArrayLike<number>,
  options: SolveIvpOptions = {},
): OdeSolution {
  const rtol = options.rtol ?? 1e-3;
  const atolOpt = options.atol ?? 1e-6;
  const maxStep = options.maxStep ?? Infinity;
  const maxSteps = options.maxSteps ?? 1_000_000;
  const denseOutput = options.denseOutput ?? false;
  const jumpsIn = options.jumps ?? [];

  if (typeof fun !== 'function') throw new TypeError(`'fun' passed to 'solveIvp' must be a function`);
  if (!Array.isArray(tSpan) || tSpan.length !== 2) {
    throw new RangeError(`'tSpan' passed to 'solveIvp' must be [t0, t1]`);
  }
  const [t0, t1] = tSpan;
  if (!Number.isFinite(t0) || !Number.isFinite(t1) || !(t1 > t0)) {
    throw new RangeError(`'tSpan' passed to 'solveIvp' must be finite with t1 > t0, got [${t0}, ${t1}]`);
  }
  const n = y0.length;
  if (n === 0) throw new RangeError(`'y0' passed to 'solveIvp' must not be empty`);
  const y = Float64Array.from(y0);
  if (!allFinite(y)) throw new RangeError(`'y0' passed to 'solveIvp' must be finite, got [${Array.from(y0).join(', ')}]`);
  if (!(rtol > 0) || !Number.isFinite(rtol)) throw new RangeError(`'rtol' passed to 'solveIvp' must be a finite number > 0, got ${rtol}`);
  const atol = new Float64Array(n);
  if (typeof atolOpt === 'number') {
    if (!(atolOpt >= 0)) throw new RangeError(`'atol' passed to 'solveIvp' must be >= 0, got ${atolOpt}`);
    atol.fill(atolOpt);
  } else {
    if (atolOpt.length !== n) throw new RangeError(`'atol' passed to 'solveIvp' must have one value per state component (${n}), got ${atolOpt.length}`);
    atolOpt.forEach((a, i) => {
      if (!(a >= 0)) throw new RangeError(`'atol' passed to 'solveIvp' must be >= 0, got ${a} at index ${i}`);
      atol[i] = a;
    });
  }
  checkPositive(maxStep, 'maxStep');
  if (options.firstStep !== undefined) checkPositive(options.firstStep, 'firstStep');
  if (!Number.isInteger(maxSteps) || maxSteps <= 0) throw new RangeError(`'maxSteps' passed to 'solveIvp' must be a positive integer, got ${maxSteps}`);
  const tEval = options.tEval;
  if (tEval !== undefined) {
    for (let i = 0; i < tEval.length; i++) {
      const te = tEval[i]!;
      if (!Number.isFinite(te) || te < t0 || te > t1) {
        throw new RangeError(`'tEval' passed to 'solveIvp' must lie within tSpan [${t0}, ${t1}], got ${te} at index ${i}`);
      }
      if (i > 0 && !(te >= tEval[i - 1]!)) {
        throw new RangeError(`'tEval' passed to 'solveIvp' must be non-decreasing, got ${tEval[i - 1]} then ${te} at index ${i}`);
      }
    }
  }
  for (const [i, j] of jumpsIn.entries()) {
    if (!Number.isFinite(j.t) || typeof j.apply !== 'function') {
      throw new RangeError(`'jumps' passed to 'solveIvp' must hold { t: finite number, apply: function }, bad entry at index ${i}`);
    }
  }
  const jumps = jumpsIn
    .map((j, i) => ({ j, i }))
    .filter(({ j }) => j.t >= t0 && j.t <= t1)
    .sort((a, b) => a.j.t - b.j.t || a.i - b.i)
    .map(({ j }) => j);

  // One backing store for all work vectors (few allocations per solve: this runs inside fitting loops).
  const work = new Float64Array(n * 19); // K (7n), 7 vectors (7n), interpolation scratch (4n), evalBuf (n)
  let off = 0;
  const view = (len: number): Float64Array => work.subarray(off, (off += len));
  const k0 = view(n);
  const k1 = view(n);
  const k2 = view(n);
  const k3 = view(n);
  const k4 = view(n);
  const k5 = view(n);
  const k6 = view(n);
  const K = [k0, k1, k2, k3, k4, k5, k6] as const;
  const yTmp = view(n);
  const yNew = view(n);
  const fNew = view(n);
  const errV = view(n);
  const f = view(n);
  const scale = view(n);
  const scratchYOld = view(n);
  const scratchQ = view(4 * n);
  let nfev = 0;
  let nSteps = 0;
  let nRejected = 0;
  const outT: number[] = [];
  const outY: number[][] = [];
  const dense: DenseStep[] = [];
  // Segment boundaries (for the dense solution): dense index where each segment starts, with its start time and state.
  const segments: { t: number; y: Float64Array; firstStep: number }[] = [];
  let evalIdx = 0;
  const evalBuf = view(n);

  const call = (t: number, yy: Float64Array, out: Float64Array): void => {
    fun(t, yy, out);
    nfev++;
  };

  const applyJumpsAt = (t: number, startIdx: number): number => {
    let k = startIdx;
    while (k < jumps.length && jumps[k]!.t === t) {
      jumps[k]!.apply(y);
      if (!allFinite(y)) throw new OdeError('non-finite', t, `the state became non-finite after the jump at t=${t} in 'solveIvp'`);
      k++;
    }
    return k;
  };

  const selectInitialStep = (t: number, tBound: number): number => {
    const interval = tBound - t;
    for (let i = 0; i < n; i++) scale[i] = atol[i]! + Math.abs(y[i]!) * rtol;
    for (let i = 0; i < n; i++) errV[i] = y[i]! / scale[i]!;
    const d0 = rmsNorm(errV);
    for (let i = 0; i < n; i++) errV[i] = f[i]! / scale[i]!;
    const d1 = rmsNorm(errV);
    let h0 = d0 < 1e-5 || d1 < 1e-5 ? 1e-6 : (0.01 * d0) / d1;
    h0 = Math.min(h0, interval);
    for (let i = 0; i < n; i++) yTmp[i] = y[i]! + h0 * f[i]!;
    call(t + h0, yTmp, fNew);
    for (let i = 0; i < n; i++) errV[i] = (fNew[i]! - f[i]!) / scale[i]!;
    const d2 = rmsNorm(errV) / h0;
    const h1 = d1 <= 1e-15 && d2 <= 1e-15 ? Math.max(1e-6, h0 * 1e-3) : (0.01 / Math.max(d1, d2)) ** (1 / 5);
    const h = Math.min(100 * h0, h1, interval, maxStep);
    return Number.isFinite(h) && h > 0 ? h : Math.min(interval, maxStep);
  };

  const emitEvalUpTo = (step: DenseStep | null, tEnd: number, inclusive: boolean): void => {
    if (tEval === undefined) return;
    while (evalIdx < tEval.length && (tEval[evalIdx]! < tEnd || (inclusive && tEval[evalIdx] === tEnd))) {
      const te = tEval[evalIdx]!;
      if (step === null || te === tEnd) {
        // at the current state (step end or segment start)
        outY.push(Array.from(y));
      } else {
        interpolate(step, te, evalBuf);
        outY.push(Array.from(evalBuf));
      }
      outT.push(te);
      evalIdx++;
    }
  };

  let t = t0;
  let jumpIdx = applyJumpsAt(t0, 0);
  let attempts = 0;
  // Breakpoints: each distinct jump time in (t0, t1], then t1.
  const breaks: number[] = [];
  for (let k = jumpIdx; k < jumps.length; k++) if (breaks[breaks.length - 1] !== jumps[k]!.t) breaks.push(jumps[k]!.t);
  if (breaks[breaks.length - 1] !== t1) breaks.push(t1);

  for (let b = 0; b < breaks.length; b++) {
    const tBound = breaks[b]!;
    const isLast = b === breaks.length - 1;
    call(t, y, f);
    if (!allFinite(f)) throw new OdeError('non-finite', t, `the derivative became non-finite at t=${t} in 'solveIvp'`);
    if (denseOutput) segments.push({ t, y: Float64Array.from(y), firstStep: dense.length });
    if (tEval === undefined) {
      outT.push(t);
      outY.push(Array.from(y));
    } else {
      emitEvalUpTo(null, t, true); // values exactly at the segment start (post-jump)
    }
    let hAbs = options.firstStep !== undefined && b === 0 ? Math.min(options.firstStep, maxStep) : selectInitialStep(t, tBound);
    while (t < tBound) {
      const minStep = 10 * Math.max(Math.abs(t) * Number.EPSILON, Number.MIN_VALUE);
      if (hAbs > maxStep) hAbs = maxStep;
      else if (hAbs < minStep) hAbs = minStep;
      let rejected = false;
      let lastNonFinite = false;
      let h = 0;
      let tNew = 0;
      for (;;) {
        if (hAbs < minStep) {
          if (lastNonFinite) {
            throw new OdeError('non-finite', t, `the state became non-finite near t=${t} in 'solveIvp' (step size ${hAbs} underflowed while retrying)`);
          }
          throw new OdeError('step-underflow', t, `the step size underflowed (h=${hAbs} < ${minStep}) at t=${t} in 'solveIvp': the problem is too stiff or singular for rtol=${rtol}`);
        }
        if (++attempts > maxSteps) {
          throw new OdeError('max-steps', t, `'solveIvp' exceeded maxSteps=${maxSteps} at t=${t}`);
        }
        tNew = t + hAbs;
        if (tNew > tBound) tNew = tBound;
        h = tNew - t;
        hAbs = h;
        // Runge-Kutta stages (unrolled; the tableau is A/B/C above).
        for (let i = 0; i < n; i++) k0[i] = f[i]!;
        for (let i = 0; i < n; i++) yTmp[i] = y[i]! + h * (A10 * k0[i]!);
        call(t + C[1] * h, yTmp, k1);
        for (let i = 0; i < n; i++) yTmp[i] = y[i]! + h * (A20 * k0[i]! + A21 * k1[i]!);
        call(t + C[2] * h, yTmp, k2);
        for (let i = 0; i < n; i++) yTmp[i] = y[i]! + h * (A30 * k0[i]! + A31 * k1[i]! + A32 * k2[i]!);
        call(t + C[3] * h, yTmp, k3);
        for (let i = 0; i < n; i++) yTmp[i] = y[i]! + h * (A40 * k0[i]! + A41 * k1[i]! + A42 * k2[i]! + A43 * k3[i]!);
        call(t + C[4] * h, yTmp, k4);
        for (let i = 0; i < n; i++) yTmp[i] = y[i]! + h * (A50 * k0[i]! + A51 * k1[i]! + A52 * k2[i]! + A53 * k3[i]! + A54 * k4[i]!);
        call(t + h, yTmp, k5);
        for (let i = 0; i < n; i++) yNew[i] = y[i]! + h * (B0 * k0[i]! + B2 * k2[i]! + B3 * k3[i]! + B4 * k4[i]! + B5 * k5[i]!);
        let finite = allFinite(yNew);
        let errNorm = Infinity;
        if (finite) {
          call(tNew, yNew, k6);
          for (let i = 0; i < n; i++) fNew[i] = k6[i]!;
          finite = allFinite(fNew);
          if (finite) {
            let sum = 0;
            for (let i = 0; i < n; i++) {
              const acc = E0 * k0[i]! + E2 * k2[i]! + E3 * k3[i]! + E4 * k4[i]! + E5 * k5[i]! + E6 * k6[i]!;
              const scale = atol[i]! + Math.max(Math.abs(y[i]!), Math.abs(yNew[i]!)) * rtol;
              const e = (acc * h) / scale;
              sum += e * e;
            }
            errNorm = Math.sqrt(sum / n);
            if (Number.isNaN(errNorm)) {
              finite = false;
              errNorm = Infinity;
            }
          }
        }
        lastNonFinite = !finite;
        if (errNorm < 1) {
          let factor = errNorm === 0 ? MAX_FACTOR : Math.min(MAX_FACTOR, SAFETY * errNorm ** ERROR_EXPONENT);
          if (rejected) factor = Math.min(1, factor);
          hAbs *= factor;
          break;
        }
        hAbs *= finite ? Math.max(MIN_FACTOR, SAFETY * errNorm ** ERROR_EXPONENT) : MIN_FACTOR;
        rejected = true;
        nRejected++;
      }
      // Accepted step [t, tNew].
      nSteps++;
      const needsInterp = tEval !== undefined && evalIdx < tEval.length && tEval[evalIdx]! < tNew;
      let step: DenseStep | null = null;
      if (denseOutput || needsInterp) {
        const q = denseOutput ? new Float64Array(n * 4) : scratchQ;
        for (let i = 0; i < n; i++) {
          for (let c = 0; c < 4; c++) {
            let acc = 0;
            for (let j = 0; j < 7; j++) acc += K[j]![i]! * P[j]![c]!;
            q[i * 4 + c] = acc;
          }
        }
        let yOld: Float64Array;
        if (denseOutput) yOld = Float64Array.from(y);
        else {
          for (let i = 0; i < n; i++) scratchYOld[i] = y[i]!;
          yOld = scratchYOld;
        }
        step = { tOld: t, h, yOld, q };
        if (denseOutput) dense.push(step);
      }
      t = tNew;
      for (let i = 0; i < n; i++) {
        y[i] = yNew[i]!;
        f[i] = fNew[i]!;
      }
      if (tEval === undefined) {
        outT.push(t);
        outY.push(Array.from(y));
      } else {
        // Values at t itself are reported after any jump there.
        const jumpHere = t === tBound && jumpIdx < jumps.length && jumps[jumpIdx]!.t === tBound;
        emitEvalUpTo(step, t, !jumpHere);
      }
    }
    // Reached tBound: apply the jumps there (the span end t1 may also hold jumps).
    if (jumpIdx < jumps.length && jumps[jumpIdx]!.t === tBound) {
      jumpIdx = applyJumpsAt(tBound, jumpIdx);
      if (isLast) {
        if (tEval === undefined) {
          outT.push(t);
          outY.push(Array.from(y));
        }
        if (denseOutput) segments.push({ t: t1, y: Float64Array.from(y), firstStep: dense.length });
      }
    }
    if (isLast) emitEvalUpTo(null, t1, true);
  }

  let sol: ((tq: number) => number[]) | undefined;
  if (denseOutput) {
    const segs = segments;
    const steps = dense;
    sol = (tq: number): number[] => {
      if (!(tq >= t0 && tq <= t1)) throw new RangeError(`'t' passed to the dense solution of 'solveIvp' must lie within [${t0}, ${t1}], got ${tq}`);
      // Last segment starting at or before tq (right-continuous at jumps).
      let lo = 0;
      let hi = segs.length - 1;
      while (lo < hi) {
        const mid = (lo + hi + 1) >> 1;
        if (segs[mid]!.t <= tq) lo = mid;
        else hi = mid - 1;
      }
      const seg = segs[lo]!;
      if (tq === seg.t) return Array.from(seg.y);
      const end = lo + 1 < segs.length ? segs[lo + 1]!.firstStep : steps.length;
      let a = seg.firstStep;
      let c = end - 1;
      while (a < c) {
        const mid = (a + c) >> 1;
        if (steps[mid]!.tOld + steps[mid]!.h < tq) a = mid + 1;
        else c = mid;
      }
      const out = new Float64Array(n);
      interpolate(steps[a]!, tq, out);
      return Array.from(out);
    };
  }
  return { t: outT, y: outY, nfev, nSteps, nRejected, ...(sol ? { sol } : {}) };
}
