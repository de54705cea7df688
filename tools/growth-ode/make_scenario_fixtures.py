#!/usr/bin/python3
"""Golden trajectories of treatment scenarios for @tumorcast/growth-ode.

Run with Debian's Python (scipy 1.10, numpy 1.24):

    /usr/bin/python3 tools/growth-ode/make_scenario_fixtures.py

For fixed parameters, integrates the two-phase radiotherapy model and
exponential growth with linear-quadratic radiotherapy under alternative RT
schedules (later or earlier start, other surviving fraction, other course
length, no RT) with scipy.integrate.solve_ivp (DOP853, rtol 1e-12), piecewise
between the state jumps (right-continuous: a value at a jump day includes it).

Two-phase, RT before the first scan t0 (retrospective): integrated from the
RT start with a pre-RT size of 1 (split into S living and 1 - S damaged), then
scaled so that the size at t0 is v0 (the system is linear in the state).
No RT is survival S = 1 (two-phase) or alpha = 0 (LQ). The LQ course length
scales the standard schedule's fraction days (30 x 1.8 Gy on weekdays) from
the RT start by course / 42.

Writes libs/growth-ode/test/fixtures/scenarios.json.
"""
import json
import os

import numpy as np
import scipy
from scipy.integrate import solve_ivp

HERE = os.path.dirname(os.path.abspath(__file__))
OUT = os.path.join(HERE, '..', '..', 'libs', 'growth-ode', 'test', 'fixtures', 'scenarios.json')
RTOL, ATOL = 1e-12, 1e-14


def piecewise(rhs, y0, t0, times, jumps):
    """Integrate rhs from t0 through jumps [(day, f)], output the summed state at times."""
    times = np.asarray(times, dtype=float)
    out = np.zeros(len(times))
    y = np.array(y0, dtype=float)
    t = t0
    jumps = sorted([j for j in jumps if j[0] >= t0], key=lambda j: j[0])
    events = [j[0] for j in jumps] + [times.max() + 1.0]
    ji = 0
    for b in events:
        # Integrate [t, b), recording the times in it; then apply the jumps at b.
        mask = (times >= t) & (times < b)
        if b > t:
            sol = solve_ivp(rhs, (t, b), y, method='DOP853', rtol=RTOL, atol=ATOL, dense_output=True)
            assert sol.success, sol.message
            if mask.any():
                out[mask] = sol.sol(times[mask]).sum(axis=0)
            y = sol.y[:, -1].copy()
            t = b
        elif mask.any():
            out[mask] = y.sum()
        while ji < len(jumps) and jumps[ji][0] == b:
            y = jumps[ji][1](y)
            ji += 1
    return out


def two_phase(p, rt, t0, v0, times):
    lg, ld, dl, sl, s = p['lambdaGr'], p['lambdaDecay'], p['delay'], p['slope'], p['survival']

    def rhs(t, y):
        return [lg * y[0], -np.tanh(sl * (t - rt - dl)) * ld * y[1]]

    def event(y):
        return np.array([s * y[0], y[1] + (1 - s) * y[0]])

    if rt >= t0:
        return piecewise(rhs, [v0, 0.0], t0, times, [(rt, event)])
    # Retrospective: start at rt with a pre-RT size of 1, split at once, scale to v0 at t0.
    grid = np.concatenate([[t0], times])
    y = piecewise(rhs, event(np.array([1.0, 0.0])), rt, grid, [])
    return y[1:] * v0 / y[0]


def exp_lq(p, fractions, t0, v0, times, ab=10.0):
    lam, a = p['lambda'], p['alpha']
    b = a / ab

    def rhs(t, y):
        return [lam * y[0]]

    jumps = [(d, (lambda dose: (lambda y: y * np.exp(-a * dose - b * dose * dose)))(dose)) for d, dose in fractions]
    return piecewise(rhs, [v0], t0, times, jumps)


def standard(rt, course=42.0):
    days = [rt + 7 * (k // 5) + (k % 5) for k in range(30)]
    return [(rt + (d - rt) * course / 42.0, 1.8) for d in days]


tp = {'lambdaGr': 0.01, 'lambdaDecay': 0.04, 'delay': 15.0, 'slope': 0.3, 'survival': 0.1}
times = [0, 5, 10, 19.5, 20, 25, 34, 40, 60, 90, 120, 180, 240, 300]
cases = []
for name, sc, rt, s in [
    ('as treated', {}, 20, 0.1),
    ('2 weeks later', {'rtStartShift': 14}, 34, 0.1),
    ('10 days earlier', {'rtStartShift': -10}, 10, 0.1),
    ('at the first scan', {'rtStartDay': 0}, 0, 0.1),
    ('S = 0.3', {'survival': 0.3}, 20, 0.3),
    ('no RT', {'noRt': True}, 20, 1.0),
    ('3-week course', {'courseDays': 21}, 20, 0.1),
]:
    p = dict(tp, survival=s)
    cases.append({'model': 'two-phase', 'scenario': dict(name=name, **sc), 'params': dict(tp, v0=1000.0), 'context': {'t0': 0, 'rtStart': 20},
                  'times': times, 'sizes': list(two_phase(p, rt, 0.0, 1000.0, times))})
rtimes = [60, 70, 90, 120, 180, 240, 300]
for name, sc, rt, s in [
    ('as treated (RT before t0)', {}, 20, 0.1),
    ('S = 0.3 (RT before t0)', {'survival': 0.3}, 20, 0.3),
    ('10 days later (RT before t0)', {'rtStartShift': 10}, 30, 0.1),
    ('no RT (RT before t0)', {'noRt': True}, 20, 1.0),
]:
    p = dict(tp, survival=s)
    cases.append({'model': 'two-phase', 'scenario': dict(name=name, **sc), 'params': dict(tp, v0=1500.0), 'context': {'t0': 60, 'rtStart': 20},
                  'times': rtimes, 'sizes': list(two_phase(p, rt, 60.0, 1500.0, rtimes))})
lq = {'lambda': 0.01, 'alpha': 0.05}
ltimes = [0, 10, 20, 20.5, 25, 30, 40, 50, 60, 80, 120, 200]
for name, sc, rt, course, a in [
    ('as treated', {}, 20, 42, 0.05),
    ('3-week course', {'courseDays': 21}, 20, 21, 0.05),
    ('2 weeks later', {'rtStartShift': 14}, 34, 42, 0.05),
    ('alpha 0.1', {'alpha': 0.1}, 20, 42, 0.1),
    ('no RT', {'noRt': True}, 20, 42, 0.0),
]:
    p = dict(lq, alpha=a)
    cases.append({'model': 'exponential-lq', 'scenario': dict(name=name, **sc), 'params': dict(lq, v0=800.0), 'context': {'t0': 0, 'rtStart': 20},
                  'times': ltimes, 'sizes': list(exp_lq(p, standard(rt, course), 0.0, 800.0, ltimes))})

doc = {'generator': 'tools/growth-ode/make_scenario_fixtures.py', 'scipy': scipy.__version__, 'numpy': np.__version__,
       'method': 'solve_ivp DOP853 rtol 1e-12 atol 1e-14, piecewise between jumps', 'cases': cases}
with open(OUT, 'w') as f:
    json.dump(doc, f, indent=1)
print(f'wrote {OUT}: {len(cases)} cases')
