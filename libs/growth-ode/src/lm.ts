/**
 * Bounded nonlinear least squares: a projected Levenberg-Marquardt method
 * (Nielsen damping update with a 1/10 floor, Marquardt scaling, active bounds frozen).
 */
import { CholeskyDecomposition, Matrix } from 'ml-matrix';

/** Options of {@link leastSquaresBounded}. */
export interface LeastSquaresOptions {
  /**
   * Most Jacobian evaluations (outer iterations).
   * @defaultValue 300
   */
  maxIterations?: number;
  /**
   * Stop when both the actual and the predicted relative cost reduction are below this.
   * @defaultValue 1e-10
   */
  ftol?: number;
  /**
   * Stop when the scaled step is below `xtol` times the scaled parameter norm.
   * @defaultValue 1e-10
   */
  xtol?: number;
  /**
   * Stop when the cosine between the residual vector and every free Jacobian column is below this.
   * @defaultValue 1e-10
   */
  gtol?: number;
  /**
   * Relative forward-difference step of the Jacobian: `h = diffStep * max(1, |x|)`.
   * @defaultValue 1.49e-8 (sqrt of the machine epsilon)
   */
  diffStep?: number;
  /**
   * Between finite-difference Jacobians, update the Jacobian with Broyden's
   * rank-one secant formula after each accepted step (a fresh finite-difference
   * Jacobian is taken after `secantUpdates` updates, after a rejected step, and
   * before any convergence test is accepted). 0 disables it.
   * @defaultValue 0
   */
  secantUpdates?: number;
}

/** Why {@link leastSquaresBounded} stopped. */
export type LeastSquaresStatus = 'ftol' | 'xtol' | 'gtol' | 'zero-residual' | 'max-iterations' | 'no-progress' | 'failed';

/** The result of {@link leastSquaresBounded}. */
export interface LeastSquaresResult {
  /** The solution (within the bounds). */
  readonly x: number[];
  /** Residuals at `x`. */
  readonly residuals: number[];
  /** `0.5 * sum(residuals^2)`. */
  readonly cost: number;
  /** Jacobian evaluations. */
  readonly iterations: number;
  /** Residual-function evaluations (including the Jacobian's). */
  readonly nfev: number;
  /** True unless the iteration limit was hit or the start was infeasible (`no-progress` means no trial step lowers the cost any more: a minimum to floating-point precision). */
  readonly converged: boolean;
  /** Why it stopped. */
  readonly status: LeastSquaresStatus;
  /** A readable description of `status`. */
  readonly message: string;
}

const MESSAGES: Record<LeastSquaresStatus, string> = {
  ftol: 'relative reduction of the cost below ftol',
  xtol: 'relative step size below xtol',
  gtol: 'gradient (projected on the bounds) below gtol',
  'zero-residual': 'residuals are exactly zero',
  'max-iterations': 'maximum number of iterations reached',
  'no-progress': 'no further reduction of the cost possible (damping exhausted)',
  failed: 'the residual function is not finite at the starting point',
};

/**
 * Minimises `0.5 * sum(fun(x)^2)` subject to `lower <= x <= upper` (ordinary
 * least squares on the residuals `fun(x)`), by a projected Levenberg-Marquardt
 * method with a forward-difference Jacobian. Bounds that are active with the
 * gradient pointing outwards are frozen for the step. A residual function that
 * throws or returns non-finite values at a trial point rejects that trial.
 *
 * @param fun - the residual vector at `x`
 * @param x0 - starting point (clamped into the bounds)
 * @param lower - lower bounds (may be `-Infinity`)
 * @param upper - upper bounds (may be `Infinity`)
 * @param options - tolerances and limits
 * @returns the solution and convergence information; `status: 'failed'` when `fun(x0)` is not finite
 */
export function leastSquaresBounded(
  fun: (x: readonly number[]) => readonly number[],
  x0: readonly number[],
  lower: readonly number[],
  upper: readonly number[],
  options: LeastSquaresOptions = {},
): LeastSquaresResult {
  const maxIterations = options.maxIterations ?? 300;
  const ftol = options.ftol ?? 1e-10;
  const xtol = options.xtol ?? 1e-10;
  const gtol = options.gtol ?? 1e-10;
  const diffStep = options.diffStep ?? Math.sqrt(Number.EPSILON);
  const secantUpdates = options.secantUpdates ?? 0;
  const k = x0.length;
  if (lower.length !== k || upper.length !== k) {
    throw new RangeError(`'lower' and 'upper' passed to 'leastSquaresBounded' must have the length of 'x0' (${k})`);
  }
  for (let i = 0; i < k; i++) {
    if (!(lower[i]! <= upper[i]!)) throw new RangeError(`bounds passed to 'leastSquaresBounded' must satisfy lower <= upper, got [${lower[i]}, ${upper[i]}] at index ${i}`);
    if (!Number.isFinite(x0[i])) throw new RangeError(`'x0' passed to 'leastSquaresBounded' must be finite, got ${x0[i]} at index ${i}`);
  }
  if (!Number.isInteger(maxIterations) || maxIterations < 1) {
    throw new RangeError(`'options.maxIterations' passed to 'leastSquaresBounded' must be a positive integer, got ${maxIterations}`);
  }
  let nfev = 0;
  const evaluate = (x: readonly number[]): number[] | null => {
    nfev++;
    let r: readonly number[];
    try {
      r = fun(x);
    } catch {
      return null;
    }
    let ss = 0;
    for (let i = 0; i < r.length; i++) ss += r[i]! * r[i]!;
    if (!Number.isFinite(ss)) return null; // NaN, infinite, or overflowing residuals
    return Array.from(r);
  };
  const clamp = (v: number, i: number): number => Math.min(upper[i]!, Math.max(lower[i]!, v));
  let x = x0.map(clamp);
  let r = evaluate(x);
  const done = (status: LeastSquaresStatus, iterations: number): LeastSquaresResult => ({
    x: [...x],
    residuals: r ?? [],
    cost: r ? 0.5 * dot(r, r) : NaN,
    iterations,
    nfev,
    converged: status !== 'max-iterations' && status !== 'failed',
    status,
    message: MESSAGES[status],
  });
  if (r === null) return done('failed', 0);
  const m = r.length;
  let cost = 0.5 * dot(r, r);
  const d = new Float64Array(k);
  let mu = 1e-3;
  let nu = 2;
  const J = Array.from({ length: k }, () => new Float64Array(m)); // columns
  let jacAge = 0; // secant updates since the last finite-difference Jacobian
  let needFd = true;
  for (let iter = 1; iter <= maxIterations; iter++) {
    if (cost === 0) return done('zero-residual', iter - 1);
    // Forward-difference Jacobian, stepping inwards at the upper bound.
    if (needFd) {
      jacAge = 0;
      needFd = secantUpdates <= 0;
    }
    for (let j = 0; j < k && jacAge === 0; j++) {
      let h = diffStep * Math.max(1, Math.abs(x[j]!));
      if (x[j]! + h > upper[j]!) h = x[j]! - h >= lower[j]! ? -h : (upper[j]! - lower[j]!) / 2 || h;
      const xp = [...x];
      xp[j] = x[j]! + h;
      let rp = evaluate(xp);
      if (rp === null && x[j]! - h >= lower[j]!) {
        h = -h;
        xp[j] = x[j]! + h;
        rp = evaluate(xp);
      }
      const col = J[j]!;
      if (rp === null) col.fill(0);
      else {
        let ss = 0;
        for (let i = 0; i < m; i++) {
          col[i] = (rp[i]! - r[i]!) / h;
          ss += col[i]! * col[i]!;
        }
        if (!Number.isFinite(ss)) col.fill(0);
      }
    }
    const A = new Float64Array(k * k);
    const g = new Float64Array(k);
    for (let a = 0; a < k; a++) {
      g[a] = dot(J[a]!, r);
      for (let b = a; b < k; b++) {
        const v = dot(J[a]!, J[b]!);
        A[a * k + b] = v;
        A[b * k + a] = v;
      }
    }
    const free: number[] = [];
    const rNorm = Math.sqrt(2 * cost);
    let gmax = 0;
    for (let i = 0; i < k; i++) {
      const atLower = x[i]! <= lower[i]! && g[i]! > 0;
      const atUpper = x[i]! >= upper[i]! && g[i]! < 0;
      if (atLower || atUpper) continue;
      free.push(i);
      const cn = Math.sqrt(A[i * k + i]!);
      if (cn > 0) gmax = Math.max(gmax, Math.abs(g[i]!) / (cn * rNorm));
    }
    if (free.length === 0 || gmax <= gtol) {
      if (jacAge > 0) {
        needFd = true; // confirm with a fresh Jacobian
        continue;
      }
      return done('gtol', iter);
    }
    let dmax = 0;
    for (let i = 0; i < k; i++) {
      d[i] = Math.max(d[i]!, A[i * k + i]!);
      dmax = Math.max(dmax, d[i]!);
    }
    const dFloor = dmax > 0 ? dmax * 1e-12 : 1;
    for (let i = 0; i < k; i++) if (d[i]! <= 0) d[i] = dFloor;
    const nf = free.length;
    for (;;) {
      const M = new Matrix(nf, nf);
      const rhs = new Matrix(nf, 1);
      for (let a = 0; a < nf; a++) {
        for (let b = 0; b < nf; b++) M.set(a, b, A[free[a]! * k + free[b]!]!);
        M.set(a, a, M.get(a, a) + mu * d[free[a]!]!);
        rhs.set(a, 0, -g[free[a]!]!);
      }
      let chol: CholeskyDecomposition | null = null;
      try {
        chol = new CholeskyDecomposition(M);
      } catch {
        chol = null;
      }
      if (chol === null || !chol.isPositiveDefinite()) {
        mu *= nu;
        nu *= 2;
        if (mu > 1e20) return done('no-progress', iter);
        continue;
      }
      const delta = chol.solve(rhs);
      const xNew = [...x];
      for (let a = 0; a < nf; a++) xNew[free[a]!] = clamp(x[free[a]!]! + delta.get(a, 0), free[a]!);
      const s = xNew.map((v, i) => v - x[i]!);
      let sNorm = 0;
      let xNorm = 0;
      for (let i = 0; i < k; i++) {
        sNorm += d[i]! * s[i]! * s[i]!;
        xNorm += d[i]! * x[i]! * x[i]!;
      }
      if (Math.sqrt(sNorm) <= xtol * (Math.sqrt(xNorm) + xtol)) {
        if (jacAge > 0) {
          needFd = true;
          break;
        }
        return done('xtol', iter);
      }
      let pred = 0;
      for (let a = 0; a < k; a++) {
        let as = 0;
        for (let b = 0; b < k; b++) as += A[a * k + b]! * s[b]!;
        pred -= g[a]! * s[a]! + 0.5 * s[a]! * as;
      }
      const rNew = evaluate(xNew);
      const costNew = rNew ? 0.5 * dot(rNew, rNew) : Infinity;
      const actual = cost - costNew;
      if (rNew !== null && actual > 0 && pred > 0) {
        const rho = actual / pred;
        mu *= Math.max(1 / 10, 1 - (2 * rho - 1) ** 3);
        nu = 2;
        const oldCost = cost;
        const fresh = jacAge === 0;
        if (secantUpdates > 0) {
          // Broyden: J += (dr - J s) s^T / (s^T s)
          let ss = 0;
          for (let j = 0; j < k; j++) ss += s[j]! * s[j]!;
          for (let i = 0; i < m; i++) {
            let js = 0;
            for (let j = 0; j < k; j++) js += J[j]![i]! * s[j]!;
            const u = (rNew[i]! - r[i]! - js) / ss;
            for (let j = 0; j < k; j++) J[j]![i]! += u * s[j]!;
          }
          jacAge++;
          if (jacAge >= secantUpdates) needFd = true;
        }
        x = xNew;
        r = rNew;
        cost = costNew;
        if (actual <= ftol * oldCost && pred <= ftol * oldCost) {
          if (fresh) return done('ftol', iter);
          needFd = true;
        }
        break;
      }
      if (jacAge > 0) {
        needFd = true; // a stale Jacobian may be why the step failed
        break;
      }
      mu *= nu;
      nu *= 2;
      if (mu > 1e20) return done('no-progress', iter);
    }
  }
  return done('max-iterations', maxIterations);
}

function dot(a: ArrayLike<number>, b: ArrayLike<number>): number {
  let s = 0;
  for (let i = 0; i < a.length; i++) s += a[i]! * b[i]!;
  return s;
}
