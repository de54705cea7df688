#!/usr/bin/python3
"""Golden colours for the colour maps of @tumorcast/cli, from matplotlib.

Run with Debian's Python (matplotlib 3.6):

    /usr/bin/python3 tools/cli/make_colormap_fixture.py

Writes libs/cli/test/fixtures/colormaps.json: for each map the anchor
colours as matplotlib defines them (its ColorBrewer tables: RdBu reversed,
YlOrRd without its two palest anchors) and the colours matplotlib's own
linear interpolation gives at sample points t in [0, 1] (a fine lookup table
of 65536 entries, so its quantisation is far below one 8-bit level).
"""
import json
import os

import numpy as np
from matplotlib import colormaps
from matplotlib.colors import LinearSegmentedColormap


def anchors(name, n):
    """The n equally spaced anchors of a listed-anchor matplotlib map, 0..255."""
    cmap = colormaps[name].resampled(n)
    return [[round(float(v) * 255) for v in cmap(i)[:3]] for i in range(n)]


def sample(anchor_rgb, ts):
    cmap = LinearSegmentedColormap.from_list('x', [[v / 255 for v in c] for c in anchor_rgb], N=65536)
    return [[float(v) * 255 for v in cmap(t)[:3]] for t in ts]


ts = [0.0, 0.03, 0.1, 0.25, 0.37, 0.5, 0.5 + 1e-3, 0.61, 0.75, 0.9, 0.97, 1.0]
rdbu_r = anchors('RdBu_r', 11)
ylorrd = anchors('YlOrRd', 9)[2:]
out = {
    'note': 'matplotlib ' + __import__('matplotlib').__version__ + '; rgb in 0..255 (not rounded)',
    't': ts,
    'diverging': {'anchors': rdbu_r, 'rgb': sample(rdbu_r, ts)},
    'sequential': {'anchors': ylorrd, 'rgb': sample(ylorrd, ts)},
}
path = os.path.join(os.path.dirname(__file__), '..', '..', 'libs', 'cli', 'test', 'fixtures', 'colormaps.json')
with open(path, 'w') as f:
    json.dump(out, f)
    f.write('\n')
print('wrote', os.path.normpath(path))
