#!/usr/bin/env python3
"""The geometric bound of a tune run: each baseline label grown (or shrunk)
isotropically until its area is the target's, scored against the real
follow-up like `tumorcast-predict tune` scores a prediction.

The label's signed distance map (scipy's exact Euclidean distance transform,
negative inside) is thresholded at the level whose area is closest to the
target's r* / r0 times the label's area (r* and r0 from tune.csv). Prints per
slice Dice and area error of the grown label and of the unchanged label, and
the means' area ratio and miss ratio (the acceptance asks <= 0.5 and <= 0.8).

Usage: python3 tools/demo/dilation_bound.py DATA_ROOT TUNE_CSV
  DATA_ROOT: the tune's --data (test_labels/<id>-label.nii.gz baselines,
  followup/<id>/*seg* real follow-ups, as tools/demo and `tune` write them).
Needs Debian's python3-scipy, python3-nibabel.
"""
import csv
import glob
import sys

import nibabel as nib
import numpy as np
from scipy import ndimage


def dice(a, b):
    return 2 * (a & b).sum() / max(1, a.sum() + b.sum())


def grown_to_area(label, area):
    inside = ndimage.distance_transform_edt(label)
    outside = ndimage.distance_transform_edt(~label)
    signed = np.where(label, -inside, outside)
    levels = np.unique(signed)
    counts = np.searchsorted(np.sort(signed.ravel()), levels, side='right')
    return signed <= levels[np.argmin(np.abs(counts - area))]


def main():
    if len(sys.argv) != 3:
        sys.exit(__doc__)
    root, tune_csv = sys.argv[1:]
    rows = {}
    for r in csv.DictReader(open(tune_csv)):
        rows.setdefault(r['id'], r)
    scores = []
    for sid, r in sorted(rows.items()):
        label = np.asarray(nib.load(f'{root}/test_labels/{sid}-label.nii.gz').dataobj) > 0.5
        truth = np.asarray(nib.load(glob.glob(f'{root}/followup/{sid}/*seg*')[0]).dataobj) > 0.5
        area = float(r['target_burden']) / float(r['baseline_burden']) * label.sum()
        grown = grown_to_area(label, area)
        err = lambda m: abs(int(m.sum()) - int(truth.sum())) / truth.sum()
        scores.append((dice(grown, truth), dice(label, truth), err(grown), err(label)))
        print(f'{sid}: grown Dice {scores[-1][0]:.3f} (label {scores[-1][1]:.3f}), area error {scores[-1][2]:.3f} (label {scores[-1][3]:.3f})')
    d, bd, a, ba = np.mean(scores, axis=0)
    print(f'mean: area ratio {a / ba:.3f}, miss ratio {(1 - d) / (1 - bd):.3f}')


if __name__ == '__main__':
    main()
