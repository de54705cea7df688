#!/usr/bin/python3
"""Reference timings for libs/metrics/bench/metrics.mjs (scipy / skimage).

Usage: /usr/bin/python3 tools/metrics/bench_reference.py <dir>

<dir>/cases.json lists the cases written by the JS benchmark (raw little-endian
arrays next to it); prints one JSON object: per case the reference value and
the best (minimum) and median wall time and the best CPU (process) time in
milliseconds over `repeat` runs.

HD95 here is the usual scipy recipe (what medpy / MONAI do on the CPU):
surfaces = mask & ~binary_erosion(mask, connectivity 1, border_value=0), then
distance_transform_edt(~surface_other, sampling=spacing) read at the surface,
then max of the two directed numpy.percentile(.., 95). 'full' runs it on the
whole grid, 'cropped' on the bounding box of both masks first (what
@tumorcast/metrics does internally) for a like-for-like comparison.
"""
import json
import os
import statistics
import sys
import time

import numpy as np
from scipy import ndimage as ndi
from skimage.metrics import structural_similarity


def surface(m):
    st = ndi.generate_binary_structure(m.ndim, 1)
    return m & ~ndi.binary_erosion(m, structure=st, border_value=0)


def hd95_full(a, b, spacing):
    sa, sb = surface(a), surface(b)
    d1 = ndi.distance_transform_edt(~sb, sampling=spacing)[sa]
    d2 = ndi.distance_transform_edt(~sa, sampling=spacing)[sb]
    return max(np.percentile(d1, 95), np.percentile(d2, 95))


def hd95_cropped(a, b, spacing):
    idx = np.nonzero(a | b)
    sl = tuple(slice(i.min(), i.max() + 1) for i in idx)
    return hd95_full(a[sl], b[sl], spacing)


def ssim(x, y, data_range):
    return structural_similarity(x, y, gaussian_weights=True, sigma=1.5, use_sample_covariance=False,
                                 data_range=data_range)


def load(d, name, dtype, shape):
    return np.fromfile(os.path.join(d, name), dtype=dtype).reshape(shape)


def main():
    d = sys.argv[1]
    with open(os.path.join(d, 'cases.json')) as f:
        cases = json.load(f)
    out = {'python': sys.version.split()[0], 'numpy': np.__version__,
           'scipy': __import__('scipy').__version__, 'skimage': __import__('skimage').__version__, 'cases': {}}
    for c in cases:
        shape = tuple(c['shape'])
        if c['kind'] == 'ssim':
            x = load(d, c['a'], '<f8', shape)
            y = load(d, c['b'], '<f8', shape)
            fns = {'skimage': lambda: ssim(x, y, c['dataRange'])}
        elif c['kind'] == 'hd95':
            a = load(d, c['a'], 'u1', shape).astype(bool)
            b = load(d, c['b'], 'u1', shape).astype(bool)
            sp = tuple(c['spacing'])
            fns = {'scipy full grid': lambda: hd95_full(a, b, sp), 'scipy cropped': lambda: hd95_cropped(a, b, sp)}
        elif c['kind'] == 'edt':
            a = load(d, c['a'], 'u1', shape).astype(bool)
            sp = tuple(c['spacing'])
            fns = {'scipy': lambda: float(ndi.distance_transform_edt(a, sampling=sp).sum())}
        else:
            raise ValueError(c['kind'])
        res = {}
        for label, fn in fns.items():
            value = fn()  # warm-up
            times = []
            cpu = []
            for _ in range(c['repeat']):
                t = time.perf_counter()
                p = time.process_time()
                fn()
                cpu.append((time.process_time() - p) * 1000)
                times.append((time.perf_counter() - t) * 1000)
            res[label] = {'value': float(value), 'bestMs': min(times), 'medianMs': statistics.median(times),
                          'bestCpuMs': min(cpu)}
        out['cases'][c['name']] = res
    print(json.dumps(out))


if __name__ == '__main__':
    main()
