#!/usr/bin/python3
"""Golden trajectories for @tumorcast/growth-ode from an independent reference.

Run with Debian's Python (scipy 1.10, numpy 1.24):

    /usr/bin/python3 tools/growth-ode/make_fixtures.py

Integrates the paper's two-phase radiotherapy model (docs/method.md section 6, with the
instantaneous event at the RT start) and exponential / logistic / Gompertz growth
with linear-quadratic radiotherapy per fraction, piecewise between state jumps,
with scipy.integrate.solve_ivp (DOP853, rtol 1e-12) and cross-checks each
trajectory with scipy.integrate.odeint (LSODA). Writes
libs/growth-ode/test/fixtures/{two_phase,lq_models,retrospective}.json.

retrospective.json: radiotherapy that started (or even ended) before the first
scan t0. The model is integrated from the RT start itself, where the event
splits an unknown pre-RT size A into S A living and (1 - S) A damaged tumour;
A is then chosen so that the total size at t0 equals v0 (the system is linear
in the state, so a run with A = 1 is scaled by v0 / y(t0)). For the LQ models
the state is the size alone: a pre-RT size is found with brentq such that the
size at t0 after the earlier fractions equals v0, and the trajectory after t0
is reported.
"""
import json
import os

import numpy as np
import scipy
from scipy.integrate import odeint, solve_ivp
from scipy.optimize import brentq

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
    write('retrospective.json', retrospective_cases(meta))


def retrospective_two_phase(p, rt_start, t0, times):
    """Integrate from the RT start with A = 1 (jump at rt_start), scale so that y(t0) = v0."""
    unit = dict(p, v0=1.0)
    grid = np.array(sorted(set([rt_start, t0] + list(times))))
    y, y_ode = two_phase(unit, rt_start, rt_start, grid)
    scale = p['v0'] / y[grid == t0][0]
    scale_ode = p['v0'] / y_ode[grid == t0][0]
    pick = np.isin(grid, times)
    return y[pick] * scale, y_ode[pick] * scale_ode


def retrospective_lq(kind, p, schedule, t0, times):
    """Start before the first fraction with a size found by brentq so that y(t0) = v0; report times >= t0."""
    t_pre = min(f['day'] for f in schedule) - 1.0
    grid = np.array(sorted(set([t_pre, t0] + list(times))))

    def at_t0(v_pre):
        y, _ = lq(kind, dict(p, v0=v_pre), schedule, t_pre, grid)
        return y[grid == t0][0] - p['v0']

    hi = p['v0']
    while at_t0(hi) < 0:
        hi *= 2
    v_pre = brentq(at_t0, 1e-9 * p['v0'], hi, xtol=1e-14, rtol=1e-14)
    y, y_ode = lq(kind, dict(p, v0=v_pre), schedule, t_pre, grid)
    pick = np.isin(grid, times)
    return y[pick], y_ode[pick], v_pre


def retrospective_cases(meta):
    cases = []
    sets = [
        # RT course ended 18 days before the first scan (started 60 days before); decay phase at t0.
        ('ended-before-first-scan', {'lambdaGr': 0.01, 'lambdaDecay': 0.05, 'delay': 30, 'slope': 0.2, 'survival': 0.1, 'v0': 800.0}, 100.0, 40.0),
        # RT started 10 days before the first scan, still swelling at t0.
        ('started-before-first-scan', {'lambdaGr': 0.012, 'lambdaDecay': 0.03, 'delay': 25, 'slope': 0.3, 'survival': 0.15, 'v0': 1.0}, 0.0, -10.0),
        # Sharp switch, long before the first scan.
        ('long-ago-sharp', {'lambdaGr': 0.005, 'lambdaDecay': 0.03, 'delay': 60, 'slope': 50, 'survival': 0.05, 'v0': 2500.0}, 30.0, -120.0),
    ]
    for name, p, t0, rt in sets:
        times = [t0, t0 + 3.5, t0 + 20, t0 + 45, t0 + 90.25, t0 + 150, t0 + 300]
        y, y_ode = retrospective_two_phase(p, rt, t0, times)
        check(y_ode, y, name)
        cases.append({'model': 'two-phase', 'name': name, 'params': p, 'context': {'t0': t0, 'rtStart': rt}, 'times': times, 'sizes': y.tolist()})
    lq_sets = [
        ('exponential', 'course-before-first-scan', {'lambda': 0.01, 'alpha': 0.05, 'v0': 1000.0}, 60.0, 0.0),
        ('logistic', 'course-spans-first-scan', {'lambda': 0.05, 'capacity': 5000.0, 'alpha': 0.1, 'v0': 800.0}, 20.0, 0.0),
        ('gompertz', 'course-spans-first-scan', {'lambda': 0.02, 'capacity': 8000.0, 'alpha': 0.08, 'v0': 900.0}, 10.5, 0.0),
    ]
    for kind, name, p, t0, rt in lq_sets:
        sched = standard_schedule(rt)
        times = [t0, t0 + 0.5, t0 + 4, t0 + 13.3, t0 + 39, t0 + 80, t0 + 200]
        y, y_ode, v_pre = retrospective_lq(kind, p, sched, t0, times)
        check(y_ode, y, f'{kind} {name}')
        cases.append({'model': kind, 'name': name, 'params': p, 'alphaBetaRatio': 10.0, 'context': {'t0': t0, 'rtStart': rt},
                      'schedule': sched, 'preRtSize': v_pre, 'times': times, 'sizes': y.tolist()})
    return {'meta': dict(meta, note='retrospective RT: two-phase integrated from the RT start and scaled to y(t0) = v0; '
                                     'LQ models started before the first fraction at the brentq size giving y(t0) = v0'),
            'cases': cases}


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
