#!/usr/bin/python3
"""Golden Wilcoxon signed-rank tests for @tumorcast/metrics from scipy.

Run with Debian's Python (scipy 1.10, numpy 1.24):

    /usr/bin/python3 tools/metrics/make_wilcoxon_fixtures.py

Each case gives x, y, the options and scipy.stats.wilcoxon's statistic and
p-value. scipy 1.10's method='auto' uses the exact distribution for n <= 50
even with tied differences (rounding the tied rank sum down); tumorcast
uses the normal approximation there, so tied cases are generated with
method='approx' (and the test passes 'auto', which must choose it). Cases
with zeros: scipy switches to the approximation itself (with a warning).

Writes libs/metrics/test/fixtures/wilcoxon.json.
"""
import json
import os
import warnings

import numpy as np
import scipy
from scipy.stats import wilcoxon

HERE = os.path.dirname(os.path.abspath(__file__))
OUT = os.path.join(HERE, '..', '..', 'libs', 'metrics', 'test', 'fixtures', 'wilcoxon.json')
rng = np.random.default_rng(20251206)
cases = []


def add(name, x, y, scipy_kw, ts_opts):
    with warnings.catch_warnings():
        warnings.simplefilter('ignore')
        r = wilcoxon(x, y, **scipy_kw)
    cases.append({'name': name, 'x': [float(v) for v in x], 'y': [float(v) for v in y], 'scipy': scipy_kw, 'options': ts_opts,
                  'statistic': float(r.statistic), 'pvalue': float(r.pvalue)})


# No ties, no zeros: exact (n <= 50).
x = rng.normal(0.7, 0.1, 9); y = x - rng.normal(0.05, 0.05, 9)
for alt in ['two-sided', 'greater', 'less']:
    add(f'exact n=9 {alt}', x, y, {'alternative': alt}, {'alternative': alt})
x = rng.normal(0.0, 1.0, 20); y = rng.normal(0.3, 1.0, 20)
add('exact n=20', x, y, {}, {})
# The centre of the exact distribution: p = 1.
add('exact centre', [1, -2, -3, 4, 5, -6, -7, 8], [0] * 8, {}, {})
add('exact all positive', [0.1, 0.2, 0.3, 0.4, 0.5], [0] * 5, {}, {})
# n > 50: the normal approximation.
x = rng.normal(0.0, 1.0, 64); y = x + rng.normal(0.2, 0.5, 64)
for alt in ['two-sided', 'greater', 'less']:
    add(f'approx n=64 {alt}', x, y, {'alternative': alt}, {'alternative': alt})
add('approx n=64 correction', x, y, {'correction': True}, {'correction': True})
add('approx forced n=9', [1.5, -0.5, 2.5, 3.5, -1.2, 4.1, 0.7, 2.2, 1.1], [0] * 9, {'method': 'approx'}, {'method': 'approx'})
# Ties (rounded metrics): the approximation with the tie correction.
d = np.round(rng.normal(0.3, 1.0, 14), 0)
d[d == 0] = 1.0
add('ties n=14', d, np.zeros(14), {'method': 'approx'}, {})
add('ties n=14 correction greater', d, np.zeros(14), {'method': 'approx', 'correction': True, 'alternative': 'greater'}, {'correction': True, 'alternative': 'greater'})
# Zeros, each zero method.
d0 = np.array([0, 0, 1.5, -0.5, 2.5, 3.5, -1.25, 4.0, 0.75, 2.0, 1.0, -2.0, 3.0, 0])
for zm in ['wilcox', 'pratt', 'zsplit']:
    add(f'zeros {zm}', d0, np.zeros(len(d0)), {'zero_method': zm}, {'zeroMethod': zm})
    add(f'zeros {zm} less correction', d0, np.zeros(len(d0)), {'zero_method': zm, 'alternative': 'less', 'correction': True},
        {'zeroMethod': zm, 'alternative': 'less', 'correction': True})
# Ties and zeros together.
d1 = np.array([0, 1, 1, -1, 2, 2, 2, -3, 4, 0, 5, 1])
for zm in ['wilcox', 'pratt', 'zsplit']:
    add(f'ties and zeros {zm}', d1, np.zeros(len(d1)), {'zero_method': zm}, {'zeroMethod': zm})

doc = {'generator': 'tools/metrics/make_wilcoxon_fixtures.py', 'scipy': scipy.__version__, 'numpy': np.__version__, 'cases': cases}
with open(OUT, 'w') as f:
    json.dump(doc, f, indent=1)
print(f'wrote {OUT}: {len(cases)} cases')
