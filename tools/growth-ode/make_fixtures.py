#!/usr/bin/python3
"""Golden trajectories for @tumorcast/growth-ode from an independent reference.

Run with Debian's Python (scipy 1.10, numpy 1.24):

    /usr/bin/python3 tools/growth-ode/make_fixtures.py

Integrates the paper's two-phase radiotherapy model (method.md section 6, with the
instantaneous event at the RT start) and exponential / logistic / Gompertz growth
with linear-quadratic radiotherapy per fraction, piecewise between state jumps,
with scipy.integrate.solve_ivp (DOP853, rtol 1e-12) and cross-checks each
trajectory with scipy.integrate.odeint (LSODA). Writes
libs/growth-ode/test/fixtures/{two_phase,lq_models}.json.
"""
import json
import os

import numpy as np
import scipy
from scipy.integrate import odeint, solve_ivp

HERE = os.path.dirname(os.path.abspath(__file__))
OUT = os.path.join(HERE, '..', '..', 'libs', 'growth-ode', 'test', 'fixtures')
RTOL, ATOL = 1e-12, 1e-14


def piecewise(rhs, y0, t0, times, jumps):
    """Integrate rhs from t0, applying jumps [(t, f(y) -> y)] (right-continuous), output at times."""
    times = np.asarray(times, dtype=float)
    out = np.zeros((len(times), len(y0)))
    out_ode = np.zeros_like(out)
    y = np.array(y0, dtype=float)
    y_ode = y.copy()
    t = t0
    jumps = sorted(jumps, key=lambda j: j[0])
    breaks = sorted(set([j[0] for j in jumps if j[0] >= t0] + [times.max()]))
    ji = 0
    while ji < len(jumps) and jumps[ji][0] == t0:
        y = jumps[ji][1](y)
        y_ode = jumps[ji][1](y_ode)
        ji += 1
    for b in breaks:
        if b > t:
            mask = (times >= t) & (times < b) if b != breaks[-1] else (times >= t) & (times <= b)
            teval = times[mask]
            sol = solve_ivp(rhs, (t, b), y, method='DOP853', rtol=RTOL, atol=ATOL, dense_output=True)
            assert sol.success, sol.message
            if len(teval):
                out[mask] = sol.sol(teval).T
            y = sol.y[:, -1].copy()
            grid = np.concatenate([[t], teval, [b]])
            yo = odeint(lambda yy, tt: rhs(tt, yy), y_ode, grid, rtol=1e-12, atol=1e-14, mxstep=100000)
            if len(teval):
                out_ode[mask] = yo[1:-1]
            y_ode = yo[-1].copy()
            t = b
        while ji < len(jumps) and jumps[ji][0] == b:
            y = jumps[ji][1](y)
            y_ode = jumps[ji][1](y_ode)
            ji += 1
        at = times == b
        if at.any():
            out[at] = y
            out_ode[at] = y_ode
    return out, out_ode


def two_phase(p, rt_start, t0, times):
    def rhs(t, y):
        return [p['lambdaGr'] * y[0], -np.tanh(p['slope'] * (t - rt_start - p['delay'])) * p['lambdaDecay'] * y[1]]

    s = p['survival']

    def jump(y):
        return np.array([s * y[0], y[1] + (1 - s) * y[0]])

    out, out_ode = piecewise(rhs, [p['v0'], 0.0], t0, times, [(rt_start, jump)])
    return out.sum(axis=1), out_ode.sum(axis=1)


def standard_schedule(rt_start, n=30, dose=1.8):
    return [{'day': rt_start + 7 * (k // 5) + (k % 5), 'dose': dose} for k in range(n)]


def lq(kind, p, schedule, t0, times, ab=10.0):
    lam = p['lambda']
    cap = p.get('capacity', np.inf)
    if kind == 'exponential':
        rate = lambda v: lam * v  # noqa: E731
    elif kind == 'logistic':
        rate = lambda v: lam * v * (1 - v / cap)  # noqa: E731
    else:
        rate = lambda v: lam * v * np.log(cap / v) if v > 0 else 0.0  # noqa: E731

    def rhs(t, y):
        return [rate(y[0])]

    jumps = []
    for f in schedule:
        sf = np.exp(-p['alpha'] * f['dose'] - (p['alpha'] / ab) * f['dose'] ** 2)
        jumps.append((f['day'], lambda y, sf=sf: np.array([y[0] * sf])))
    out, out_ode = piecewise(rhs, [p['v0']], t0, times, jumps)
    return out[:, 0], out_ode[:, 0]


def check(a, b, what):
    rel = np.max(np.abs(a - b) / np.abs(b))
    assert rel < 1e-8, f'{what}: solve_ivp and odeint disagree ({rel})'


def main():
    os.makedirs(OUT, exist_ok=True)
    cases = []
    two_phase_sets = [
        ('paper-initial', {'lambdaGr': 0.02, 'lambdaDecay': 0.02, 'delay': 5, 'slope': 1, 'survival': 0.001, 'v0': 1000.0}, 0.0, 30.0),
        ('swelling-then-decay', {'lambdaGr': 0.01, 'lambdaDecay': 0.05, 'delay': 30, 'slope': 0.2, 'survival': 0.1, 'v0': 1.0}, 0.0, 20.0),
        ('sharp-switch', {'lambdaGr': 0.005, 'lambdaDecay': 0.03, 'delay': 60, 'slope': 50, 'survival': 0.05, 'v0': 2500.0}, -10.0, 14.0),
        ('fast-regrowth', {'lambdaGr': 0.04, 'lambdaDecay': 0.1, 'delay': 2, 'slope': 3, 'survival': 0.2, 'v0': 350.0}, 5.0, 5.0),
    ]
    for name, p, t0, rt in two_phase_sets:
        times = sorted(set([t0, t0 + 3.5, rt - 0.5, rt, rt + 1, rt + 10, rt + 42, rt + 60, rt + 90.25, rt + 150, rt + 250]))
        times = [t for t in times if t >= t0]
        y, y_ode = two_phase(p, rt, t0, np.array(times))
        check(y_ode, y, name)
        cases.append({'name': name, 'params': p, 'context': {'t0': t0, 'rtStart': rt}, 'times': times, 'sizes': y.tolist()})
    meta = {'generator': 'tools/growth-ode/make_fixtures.py', 'scipy': scipy.__version__, 'numpy': np.__version__,
            'method': 'solve_ivp DOP853 rtol=1e-12 atol=1e-14 piecewise between jumps; cross-checked with odeint (LSODA) to 1e-8'}
    write('two_phase.json', {'meta': meta, 'cases': cases})

    lq_cases = []
    lq_sets = [
        ('exponential', {'lambda': 0.01, 'alpha': 0.05, 'v0': 1000.0}, 0.0, 21.0),
        ('exponential', {'lambda': 0.03, 'alpha': 0.2, 'v0': 1.0}, -5.0, 10.0),
        ('logistic', {'lambda': 0.05, 'capacity': 5000.0, 'alpha': 0.1, 'v0': 800.0}, 0.0, 21.0),
        ('logistic', {'lambda': 0.02, 'capacity': 3.0, 'alpha': 0.03, 'v0': 1.0}, 0.0, 40.0),
        ('gompertz', {'lambda': 0.02, 'capacity': 8000.0, 'alpha': 0.08, 'v0': 900.0}, 0.0, 21.0),
        ('gompertz', {'lambda': 0.05, 'capacity': 2.0, 'alpha': 0.15, 'v0': 0.5}, 0.0, 7.0),
    ]
    for kind, p, t0, rt in lq_sets:
        sched = standard_schedule(rt)
        times = sorted(set([t0, t0 + 2.5, rt - 1, rt, rt + 0.5, rt + 4, rt + 13.3, rt + 39, rt + 42, rt + 80, rt + 200]))
        y, y_ode = lq(kind, p, sched, t0, np.array(times))
        check(y_ode, y, kind)
        lq_cases.append({'model': kind, 'params': p, 'alphaBetaRatio': 10.0, 'context': {'t0': t0, 'rtStart': rt},
                         'schedule': sched, 'times': times, 'sizes': y.tolist()})
    write('lq_models.json', {'meta': dict(meta, note='schedule: 30 x 1.8 Gy on weekdays from rtStart; beta = alpha / 10'),
                             'cases': lq_cases})


def write(name, obj):
    path = os.path.join(OUT, name)
    tmp = path + '.tmp'
    with open(tmp, 'w') as f:
        json.dump(obj, f, indent=1)
        f.write('\n')
    os.replace(tmp, path)
    print('wrote', os.path.relpath(path))


if __name__ == '__main__':
    main()
