#!/usr/bin/python3
"""nibabel reference timing for libs/nifti/bench/load.mjs.

Usage: /usr/bin/python3 tools/nifti/bench_nibabel.py <sample root> <repeats>
Loads every .nii/.nii.gz file under the root with nibabel (header, affine and
the full voxel array via np.asanyarray(img.dataobj)), `repeats` times after
one warm-up pass, and prints one JSON object with the timings.
"""
import json
import os
import sys
import time

import nibabel as nib
import numpy as np


def files_under(root):
    out = []
    for d, _, fs in sorted(os.walk(root)):
        out += [os.path.join(d, f) for f in sorted(fs) if f.endswith('.nii') or f.endswith('.nii.gz')]
    return out


def load_all(files):
    total = 0.0
    for f in files:
        img = nib.load(f)
        a = np.asanyarray(img.dataobj)
        _ = img.affine
        total += float(a.reshape(-1)[0])
    return total


def main():
    root, repeats = sys.argv[1], int(sys.argv[2])
    files = files_under(root)
    load_all(files)  # warm-up
    times = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        load_all(files)
        times.append(time.perf_counter() - t0)
    best = min(times)
    print(json.dumps({
        'reader': f'nibabel {nib.__version__} (numpy {np.__version__})',
        'files': len(files),
        'repeats': repeats,
        'seconds': times,
        'best_seconds': best,
        'slices_per_second': len(files) / best,
    }))


if __name__ == '__main__':
    main()
