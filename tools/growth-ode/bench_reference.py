#!/usr/bin/python3
"""scipy reference timing for the @tumorcast/growth-ode bootstrap benchmark.

Usage: /usr/bin/python3 tools/growth-ode/bench_reference.py INPUT.json

INPUT.json: {"times": [...], "sizes": [...], "rtStart": float, "replicates": 30,
             "noiseStd": 0.1, "repeats": 3}

Runs the same bootstrap as libs/growth-ode/bench/bootstrap.mjs the way the
reference code does it: the two-phase model (docs/method.md section 6) integrated with
scipy.integrate.odeint piecewise around the RT-start event, fitted by
scipy.optimize.least_squares (trf, bounds = the paper's, upper widened by 1.1,
v0 within +-10 % of the first size) from the paper's initial point, one start per
replicate, on sizes multiplied by N(1, noiseStd) noise. Unlike the reference, the
residuals are NOT squared before least_squares (ordinary least squares, as in the
TypeScript package). Prints one JSON object with the timings (seconds) to stdout.
"""
import json
import sys
import time

import numpy as np
import scipy
from scipy.integrate import odeint
from scipy.optimize import least_squares


def model(params, times, rt_start, t0):
    lam_gr, lam_dec, delay, slope, s, v0 = params

    def rhs(y, t):
        return [lam_gr * y[0], -np.tanh(slope * (t - rt_start - delay)) * lam_dec * y[1]]

    times = np.asarray(times, dtype=float)
    out = np.empty(len(times))
    pre = times < rt_start
    grid = np.concatenate([[t0], times[pre & (times > t0)], [rt_start]])
    y_pre = odeint(rhs, [v0, 0.0], grid, rtol=1e-8, atol=1e-10)
    out[pre & (times > t0)] = y_pre[1:-1].sum(axis=1)
    out[times == t0] = v0
    y_rt = y_pre[-1]
    y0 = [s * y_rt[0], y_rt[1] + (1 - s) * y_rt[0]]
    post = ~pre
    if post.any():
        tp = times[post]
        grid = np.concatenate([[rt_start], tp[tp > rt_start]])
        y_post = odeint(rhs, y0, grid, rtol=1e-8, atol=1e-10)
        vals = np.empty(len(tp))
        vals[tp == rt_start] = sum(y0)
        vals[tp > rt_start] = y_post[1:].sum(axis=1)
        out[post] = vals
    return out


def fit(times, sizes, rt_start):
    first = sizes[0]
    x0 = [0.02, 0.02, 5, 1, 0.001, first]
    lo = [0.001, 0.001, 0.001, 0.001, 0.001, 0.9 * first]
    hi = [2.0 * 1.1, 100 * 1.1, 300 * 1.1, 600 * 1.1, 0.2 * 1.1, 1.1 * first]
    x0 = np.clip(x0, lo, hi)
    x0[4] = 0.001 + 1e-12  # least_squares needs a strictly feasible start
    res = least_squares(lambda p: sizes - model(p, times, rt_start, times[0]), x0, bounds=(lo, hi))
    return res


def main():
    cfg = json.load(open(sys.argv[1]))
    times = np.array(cfg['times'], dtype=float)
    sizes = np.array(cfg['sizes'], dtype=float)
    rt = float(cfg['rtStart'])
    reps = int(cfg.get('replicates', 30))
    std = float(cfg.get('noiseStd', 0.1))
    repeats = int(cfg.get('repeats', 3))
    runs = []
    cpu = []
    nfev = 0
    ok = 0
    for r in range(repeats):
        rng = np.random.default_rng(r)
        t = time.perf_counter()
        c = time.process_time()
        for _ in range(reps):
            noisy = sizes * np.maximum(0, rng.normal(1, std, size=len(sizes)))
            res = fit(times, noisy, rt)
            nfev += res.nfev + res.njev * len(res.x)  # least_squares' nfev excludes the 2-point Jacobian's
            ok += int(res.success)
        runs.append(time.perf_counter() - t)
        cpu.append(time.process_time() - c)
    print(json.dumps({'scipy': scipy.__version__, 'numpy': np.__version__, 'replicates': reps, 'repeats': repeats,
                      'seconds': runs, 'median_s': float(np.median(runs)), 'cpu_seconds': cpu, 'median_cpu_s': float(np.median(cpu)), 'mean_model_evals_per_fit': nfev / (reps * repeats),
                      'success_rate': ok / (reps * repeats)}))


if __name__ == '__main__':
    main()
