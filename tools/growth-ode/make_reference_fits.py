#!/usr/bin/python3
"""Golden fits of the two-phase model for @tumorcast/growth-ode's objectives.

Run with Debian's Python (scipy 1.10, numpy 1.24):

    /usr/bin/python3 tools/growth-ode/make_reference_fits.py

A synthetic series (the two-phase model with known parameters times seeded
N(1, 0.05) noise, rounded to 0.1) is normalised to its first size and fitted by
scipy.optimize.least_squares (bounded, method='trf') twice:

- 'reference': the residual vector is (y - m)^2, which least_squares squares
  again, i.e. it minimises 0.5 sum (y - m)^4 (the reference code's objective);
- 'least-squares': ordinary residuals y - m.

Bounds: the paper's, upper bounds x 1.1 and the two rates' lower bounds / 1.1.
Each fit starts from the paper's starting point and from 11 seeded log-uniform
points in the bounds; the lowest cost wins. The model is an independent numpy
closed form, checked at each optimum against solve_ivp (make_fixtures.py's
piecewise DOP853 integration) to 1e-8. Two cases: slope held at its true value
(every other parameter identifiable), and all six free (the cost is flat in
slope: compare the cost and the trajectory). Writes
libs/growth-ode/test/fixtures/reference_objective.json.
"""
import json
import os
import sys

import numpy as np
import scipy
from scipy.optimize import least_squares

HERE = os.path.dirname(os.path.abspath(__file__))
sys.dont_write_bytecode = True  # no __pycache__ next to the scripts
sys.path.insert(0, HERE)
from make_fixtures import two_phase, write  # noqa: E402

NAMES = ['lambdaGr', 'lambdaDecay', 'delay', 'slope', 'survival', 'v0']
LOWER = {'lambdaGr': 0.001 / 1.1, 'lambdaDecay': 0.001 / 1.1, 'delay': 0.001, 'slope': 0.001, 'survival': 0.001, 'v0': 0.9}
UPPER = {'lambdaGr': 2.0 * 1.1, 'lambdaDecay': 100 * 1.1, 'delay': 300 * 1.1, 'slope': 600 * 1.1, 'survival': 0.2 * 1.1, 'v0': 1.1}
INITIAL = {'lambdaGr': 0.02, 'lambdaDecay': 0.02, 'delay': 5.0, 'slope': 1.0, 'survival': 0.001, 'v0': 1.0}
TRUTH = {'lambdaGr': 0.012, 'lambdaDecay': 0.03, 'delay': 25.0, 'slope': 0.3, 'survival': 0.1, 'v0': 1000.0}
TIMES = [0, 8, 20, 35, 50, 70, 95, 120, 160, 200, 250, 300]
RT_START = 10.0
GRID = [float(t) for t in np.linspace(0, 400, 41)]


def logcosh(x):
    a = np.abs(x)
    return a + np.log1p(np.exp(-2 * a)) - np.log(2)


def closed_form(p, t, rt, t0=0.0):
    t = np.asarray(t, dtype=float)
    pre = p['v0'] * np.exp(p['lambdaGr'] * (t - t0))
    a = p['v0'] * np.exp(p['lambdaGr'] * (rt - t0))
    k = p['lambdaDecay'] / p['slope']
    damaged = np.exp(-k * (logcosh(p['slope'] * (t - rt - p['delay'])) - logcosh(p['slope'] * p['delay'])))
    post = a * (p['survival'] * np.exp(p['lambdaGr'] * (t - rt)) + (1 - p['survival']) * damaged)
    return np.where(t < rt, pre, post)


def fit(y, free, fixed, objective):
    lo = np.array([LOWER[k] for k in free])
    hi = np.array([UPPER[k] for k in free])

    def params(x):
        return dict(fixed, **dict(zip(free, x)))

    def resid(x):
        r = y - closed_form(params(x), TIMES, RT_START)
        return r ** 2 if objective == 'reference' else r

    rng = np.random.RandomState(1)
    starts = [np.array([INITIAL[k] for k in free])] + [np.exp(rng.uniform(np.log(lo), np.log(hi))) for _ in range(11)]
    best = None
    for x0 in starts:
        try:
            with np.errstate(all='ignore'):
                r = least_squares(resid, np.clip(x0, lo, hi), bounds=(lo, hi), method='trf', x_scale='jac',
                                  ftol=1e-15, xtol=1e-15, gtol=1e-15, max_nfev=20000)
        except ValueError:  # non-finite residuals at a start far out in the bounds
            continue
        if np.isfinite(r.cost) and (best is None or r.cost < best.cost):
            best = r
    p = params(best.x)
    y_ode, _ = two_phase(p, RT_START, 0.0, np.array(GRID))
    y_cf = closed_form(p, GRID, RT_START)
    rel = np.max(np.abs(y_cf - y_ode) / np.abs(y_ode))
    assert rel < 1e-8, f'closed form and solve_ivp disagree ({rel})'
    return {'params': p, 'cost': float(best.cost), 'status': int(best.status), 'grid': GRID, 'predicted': y_cf.tolist()}


def main():
    rs = np.random.RandomState(2025)
    sizes = np.round(closed_form(TRUTH, TIMES, RT_START) * rs.normal(1, 0.05, len(TIMES)), 1)
    y = sizes / sizes[0]
    cases = []
    for name, fixed in [('slope-held', {'slope': TRUTH['slope']}), ('all-free', {})]:
        free = [k for k in NAMES if k not in fixed]
        fits = {obj: fit(y, free, fixed, obj) for obj in ('reference', 'least-squares')}
        cases.append({'name': name, 'fixed': fixed, 'fits': fits})
        for obj, f in fits.items():
            print(name, obj, 'cost', f['cost'], {k: round(v, 6) for k, v in f['params'].items()})
    meta = {'generator': 'tools/growth-ode/make_reference_fits.py', 'scipy': scipy.__version__, 'numpy': np.__version__,
            'method': "least_squares(method='trf', x_scale='jac', tol 1e-15), best of the paper's start and 11 seeded "
                      'log-uniform starts; sizes normalised to the first; params and cost in normalised units; '
                      "cost = 0.5 sum r^2 of the residual vector (r = (y - m)^2 for 'reference')",
            'truth': TRUTH, 'noise': 'N(1, 0.05), numpy RandomState(2025), rounded to 0.1'}
    write('reference_objective.json', {'meta': meta, 'series': {'times': TIMES, 'sizes': sizes.tolist(), 'context': {'rtStart': RT_START}},
                                       'lower': LOWER, 'upper': UPPER, 'initial': INITIAL, 'cases': cases})


if __name__ == '__main__':
    main()
