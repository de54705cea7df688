#!/usr/bin/python3
"""Golden fixtures for @tumorcast/metrics from independent references.

Run with Debian's Python (scipy 1.10, scikit-image 0.19, numpy 1.24,
nibabel 5.0):

    /usr/bin/python3 tools/metrics/make_fixtures.py

References:
- Euclidean distance transform: scipy.ndimage.distance_transform_edt(sampling=...)
- Surfaces: mask & ~scipy.ndimage.binary_erosion(mask,
  generate_binary_structure(rank, connectivity), border_value=0)
- Surface distances: scipy EDT of ~surface(other) read at surface(self)
  (the medpy / MONAI recipe); Hausdorff, HD95 ('max' = max of the two directed
  numpy.percentile(.., 95); 'pooled' = numpy.percentile of both sets
  concatenated), ASSD ('pooled' and 'mean') written out with numpy below.
- SSIM: skimage.metrics.structural_similarity(gaussian_weights=True,
  sigma=1.5, use_sample_covariance=False, data_range=...); masked SSIM is the
  mean of skimage's full SSIM map over (crop(5) & mask).
- MSE / PSNR: skimage.metrics.mean_squared_error / peak_signal_noise_ratio.

The optional real BraTS slices beside the repository (see docs/development.md)
are read in place and never copied: only the expected metric values (and
the paths, relative to that folder) are stored (brats.json; `--brats` writes
only that file); distance maps there are described by statistics, not by
values at pixels. The same cases
are computed on a small slice set made up here and committed
(test/fixtures/slices/, slices.json), so that the tests run without the
sample; `--slices` writes only that set. Non-finite numbers are stored
as the strings "Infinity", "-Infinity", "NaN".
"""
import glob
import json
import math
import os
import sys

import nibabel as nib
import numpy as np
from scipy import ndimage as ndi
from skimage.metrics import mean_squared_error, peak_signal_noise_ratio, structural_similarity

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.abspath(os.path.join(HERE, '..', '..'))
BRATS = os.path.abspath(os.path.join(REPO, '..', 'shared', 'data', 'brats-sample'))
OUT = os.path.join(REPO, 'libs', 'metrics', 'test', 'fixtures')

rng = np.random.default_rng(20261128)


def num(x):
    x = float(x)
    if math.isnan(x):
        return 'NaN'
    if math.isinf(x):
        return 'Infinity' if x > 0 else '-Infinity'
    return x


def flat_int(m):
    return [int(v) for v in np.asarray(m).ravel()]


def flat_float(a):
    return [num(v) for v in np.asarray(a, dtype=np.float64).ravel()]


# ---------------------------------------------------------------- references

def surface(mask, connectivity):
    st = ndi.generate_binary_structure(mask.ndim, connectivity)
    return mask & ~ndi.binary_erosion(mask, structure=st, border_value=0)


def directed(sa, sb, spacing):
    dt = ndi.distance_transform_edt(~sb, sampling=spacing)
    return dt[sa]


def surface_metrics(a, b, spacing, connectivity, with_sets=False):
    a = a.astype(bool)
    b = b.astype(bool)
    out = {'predictionVoxels': int(a.sum()), 'referenceVoxels': int(b.sum())}
    inter = int((a & b).sum())
    n = a.size
    na, nb = int(a.sum()), int(b.sum())
    out['counts'] = {'truePositive': inter, 'falsePositive': na - inter, 'falseNegative': nb - inter,
                     'trueNegative': n - na - nb + inter}
    tp, fp, fn, tn = inter, na - inter, nb - inter, n - na - nb + inter
    out['dice'] = num(2 * tp / (2 * tp + fp + fn)) if na + nb else 1.0
    out['jaccard'] = num(tp / (tp + fp + fn)) if na + nb else 1.0
    out['sensitivity'] = num(tp / (tp + fn)) if tp + fn else 'NaN'
    out['specificity'] = num(tn / (tn + fp)) if tn + fp else 'NaN'
    out['volumeDifference'] = num((na - nb) * float(np.prod(spacing)))
    out['relativeVolumeDifference'] = num((na - nb) / nb) if nb else (0.0 if na == 0 else 'Infinity')
    if na == 0 or nb == 0:
        return out
    sa, sb = surface(a, connectivity), surface(b, connectivity)
    d1 = directed(sa, sb, spacing)
    d2 = directed(sb, sa, spacing)
    both = np.concatenate([d1, d2])
    out.update({
        'hausdorff': num(max(d1.max(), d2.max())),
        'hd95Max': num(max(np.percentile(d1, 95), np.percentile(d2, 95))),
        'hd95Pooled': num(np.percentile(both, 95)),
        'hd90Max': num(max(np.percentile(d1, 90), np.percentile(d2, 90))),
        'assdPooled': num((d1.sum() + d2.sum()) / (d1.size + d2.size)),
        'assdMean': num((d1.mean() + d2.mean()) / 2),
        'surfaceCounts': [int(sa.sum()), int(sb.sum())],
    })
    if with_sets:
        out['predictionToReference'] = flat_float(d1)  # row-major order of the surface voxels
        out['referenceToPrediction'] = flat_float(d2)
    return out


def blobs(shape, n, radius, seed_rng):
    """A union of random balls (in voxel units) on a grid."""
    grids = np.meshgrid(*[np.arange(s) for s in shape], indexing='ij')
    m = np.zeros(shape, bool)
    for _ in range(n):
        c = [seed_rng.uniform(0, s) for s in shape]
        r = seed_rng.uniform(radius * 0.5, radius * 1.5)
        d2 = sum((g - ci) ** 2 for g, ci in zip(grids, c))
        m |= d2 <= r * r
    return m


def smooth_image(shape, seed_rng, sigma=2.0):
    x = ndi.gaussian_filter(seed_rng.standard_normal(shape), sigma)
    x = (x - x.min()) / (x.max() - x.min())
    return np.round(x, 6)


# ---------------------------------------------------------------- EDT cases

def edt_cases():
    cases = []

    def add(name, mask, spacing):
        mask = mask.astype(bool)
        d = ndi.distance_transform_edt(mask, sampling=spacing)
        cases.append({'name': name, 'shape': list(mask.shape), 'spacing': [float(s) for s in spacing],
                      'mask': flat_int(mask), 'expected': flat_float(d)})

    add('2d isotropic blobs', blobs((30, 40), 4, 8, rng), (1.0, 1.0))
    add('2d anisotropic blobs', blobs((30, 40), 4, 8, rng), (0.7, 1.9))
    add('2d random noise', rng.random((25, 31)) > 0.2, (1.3, 0.6))
    add('3d anisotropic blobs', blobs((12, 16, 20), 3, 6, rng), (2.5, 0.9, 1.1))
    add('3d isotropic blobs', blobs((14, 15, 16), 3, 6, rng), (1.0, 1.0, 1.0))
    m = np.ones((21, 23), bool)
    m[3, 17] = False
    add('2d single background voxel', m, (1.2, 0.8))
    m = np.ones((9, 10, 11), bool)
    m[8, 0, 5] = False
    add('3d single background voxel at a corner edge', m, (3.0, 1.0, 0.5))
    m = np.zeros((12, 13), bool)
    m[5, 6] = True
    add('2d single foreground voxel', m, (1.0, 1.0))
    m = np.zeros((16, 18), bool)
    m[:, :4] = True
    m[:3, :] = True
    m[10:, 12:] = True
    add('2d touching borders', m, (0.9, 1.7))
    m = np.zeros((8, 9, 10), bool)
    m[:, :, :3] = True
    m[0, :, :] = True
    add('3d touching borders', m, (1.5, 1.0, 2.0))
    add('2d all background', np.zeros((7, 9), bool), (1.0, 1.0))
    add('2d one row', rng.random((1, 23)) > 0.3, (2.0, 0.5))
    add('3d one slice', rng.random((1, 9, 11)) > 0.3, (1.0, 1.0, 1.0))
    add('3d thin in the middle axis', rng.random((7, 1, 13)) > 0.4, (0.5, 2.0, 1.5))
    return cases


# ---------------------------------------------------------------- surface cases

def surface_cases():
    cases = []

    def add(name, a, b, spacing, connectivity, with_sets=True, with_surfaces=True):
        a = a.astype(bool)
        b = b.astype(bool)
        case = {'name': name, 'shape': list(a.shape), 'spacing': [float(s) for s in spacing],
                'connectivity': connectivity, 'prediction': flat_int(a), 'reference': flat_int(b)}
        case.update(surface_metrics(a, b, spacing, connectivity, with_sets))
        if with_surfaces:
            case['predictionSurface'] = flat_int(surface(a, connectivity))
        cases.append(case)

    a2, b2 = blobs((40, 48), 3, 9, rng), blobs((40, 48), 3, 9, rng)
    add('2d blobs isotropic c1', a2, b2, (1.0, 1.0), 1)
    add('2d blobs isotropic c2', a2, b2, (1.0, 1.0), 2)
    add('2d blobs anisotropic c1', a2, b2, (0.8, 1.25), 1)
    a3, b3 = blobs((18, 20, 22), 3, 6, rng), blobs((18, 20, 22), 3, 6, rng)
    add('3d blobs anisotropic c1', a3, b3, (2.0, 0.9, 1.1), 1)
    add('3d blobs anisotropic c2', a3, b3, (2.0, 0.9, 1.1), 2)
    add('3d blobs anisotropic c3', a3, b3, (2.0, 0.9, 1.1), 3)
    shifted = np.roll(a3, 2, axis=2) | np.roll(a3, -1, axis=0)
    add('3d shifted copy', a3, shifted, (1.0, 1.0, 3.0), 1)
    add('2d identical', a2, a2, (1.0, 1.0), 1)
    s1 = np.zeros((15, 17), bool)
    s1[2, 3] = True
    s2 = np.zeros((15, 17), bool)
    s2[11, 14] = True
    add('2d single voxels', s1, s2, (1.5, 0.5), 1)
    s3 = np.zeros((9, 10, 11), bool)
    s3[4, 5, 6] = True
    add('3d single voxel vs blob', s3, blobs((9, 10, 11), 2, 3, rng), (1.0, 2.0, 1.0), 1)
    t1 = np.zeros((20, 22), bool)
    t1[:, :5] = True
    t1[:4, :] = True
    t2 = np.zeros((20, 22), bool)
    t2[14:, :] = True
    t2[:, 18:] = True
    add('2d touching borders', t1, t2, (1.0, 0.7), 1)
    add('2d touching borders c2', t1, t2, (1.0, 0.7), 2)
    full = np.ones((10, 12, 8), bool)
    half = np.zeros((10, 12, 8), bool)
    half[:, :6, :] = True
    add('3d full grid vs half', full, half, (1.2, 1.0, 0.8), 1)
    add('2d noise masks', rng.random((26, 24)) > 0.6, rng.random((26, 24)) > 0.5, (1.0, 1.0), 1)
    e = np.zeros((12, 14), bool)
    add('2d both empty', e, e, (1.0, 1.0), 1)
    add('2d prediction empty', e, blobs((12, 14), 1, 3, rng) | s1[:12, :14], (1.0, 1.0), 1)
    add('3d reference empty', a3, np.zeros_like(a3), (1.0, 1.0, 1.0), 1)
    return cases


def percentile_cases():
    cases = []
    for n in [1, 2, 3, 7, 20, 101, 1000, 5000]:
        v = np.round(rng.random(n) * 10, 3)
        if n > 10:
            v[: n // 3] = np.round(v[: n // 3])  # many ties, like surface distances
        ps = [0, 5, 37.5, 50, 90, 95, 99.9, 100]
        cases.append({'values': flat_float(v), 'p': ps, 'expected': [float(np.percentile(v, q)) for q in ps]})
    return cases


# ---------------------------------------------------------------- image cases

def masked_ssim(x, y, data_range, mask, sigma=1.5):
    _, S = structural_similarity(x, y, gaussian_weights=True, sigma=sigma, use_sample_covariance=False,
                                 data_range=data_range, full=True)
    r = int(3.5 * sigma + 0.5)
    sl = tuple(slice(r, s - r) for s in x.shape)
    return float(S[sl][mask[sl]].mean())


def ref_ssim(x, y, data_range, sigma=1.5, channel_axis=None):
    return float(structural_similarity(x, y, gaussian_weights=True, sigma=sigma, use_sample_covariance=False,
                                       data_range=data_range, channel_axis=channel_axis))


def image_case(name, x, y, data_range, mask=None, channel_axis=None, sigma=1.5):
    case = {'name': name, 'shape': list(x.shape), 'dataRange': float(data_range), 'sigma': sigma,
            'image': flat_float(x), 'reference': flat_float(y)}
    if channel_axis is not None:
        case['channelAxis'] = channel_axis
        xs = np.moveaxis(x, channel_axis, 0)
        ys = np.moveaxis(y, channel_axis, 0)
        case['ssim'] = ref_ssim(x, y, data_range, sigma, channel_axis)
        case['ssimPerChannel'] = [ref_ssim(a, b, data_range, sigma) for a, b in zip(xs, ys)]
        case['msePerChannel'] = [float(mean_squared_error(a, b)) for a, b in zip(xs, ys)]
        case['mse'] = float(np.mean(case['msePerChannel']))
        case['psnr'] = float(np.mean([peak_signal_noise_ratio(a, b, data_range=data_range) for a, b in zip(xs, ys)]))
        case['mae'] = float(np.mean([np.abs(a - b).mean() for a, b in zip(xs, ys)]))
        if mask is not None:
            case['mask'] = flat_int(mask)
            case['maskShape'] = list(mask.shape)
            case['maskedSsim'] = float(np.mean([masked_ssim(a, b, data_range, mask, sigma) for a, b in zip(xs, ys)]))
            case['maskedMse'] = float(np.mean([((a - b) ** 2)[mask].mean() for a, b in zip(xs, ys)]))
        return case
    case['ssim'] = ref_ssim(x, y, data_range, sigma)
    case['mse'] = float(mean_squared_error(x, y))
    case['psnr'] = num(peak_signal_noise_ratio(x, y, data_range=data_range)) if case['mse'] > 0 else 'Infinity'
    case['mae'] = float(np.abs(x - y).mean())
    if mask is not None:
        case['mask'] = flat_int(mask)
        case['maskShape'] = list(mask.shape)
        case['maskedSsim'] = masked_ssim(x, y, data_range, mask, sigma)
        mse_m = float(((x - y) ** 2)[mask].mean())
        case['maskedMse'] = mse_m
        case['maskedMae'] = float(np.abs(x - y)[mask].mean())
        case['maskedPsnr'] = float(10 * np.log10(data_range ** 2 / mse_m))
    return case


def image_cases():
    cases = []
    x = smooth_image((32, 40), rng)
    y = np.round(np.clip(x + 0.08 * rng.standard_normal(x.shape), 0, 1), 6)
    m = blobs((32, 40), 2, 9, rng)
    cases.append(image_case('2d smooth + noise', x, y, 1.0, mask=m))
    cases.append(image_case('2d smooth + noise, sigma 1', x, y, 1.0, sigma=1.0))
    cases.append(image_case('2d independent', smooth_image((24, 26), rng), smooth_image((24, 26), rng), 2.0))
    cases.append(image_case('2d identical', x, x, 1.0))
    c = np.full((15, 16), 0.25)
    cases.append(image_case('2d constant vs constant', c, np.full((15, 16), 0.5), 1.0))
    cases.append(image_case('2d minimum size (11x11)', smooth_image((11, 11), rng), smooth_image((11, 11), rng), 1.0))
    x3 = smooth_image((16, 18, 20), rng)
    y3 = np.round(np.clip(0.9 * x3 + 0.05 + 0.05 * rng.standard_normal(x3.shape), 0, 1), 6)
    cases.append(image_case('3d smooth + noise', x3, y3, 1.0, mask=blobs((16, 18, 20), 2, 6, rng)))
    cases.append(image_case('3d smooth + noise, sigma 1, data range 2', x3, y3, 2.0, sigma=1.0,
                            mask=blobs((16, 18, 20), 2, 6, rng)))
    xc = np.stack([smooth_image((28, 30), rng) for _ in range(3)])
    yc = np.round(np.clip(xc + 0.1 * rng.standard_normal(xc.shape), 0, 1), 6)
    cases.append(image_case('2d 3 channels first', xc, yc, 1.0, mask=blobs((28, 30), 2, 8, rng), channel_axis=0))
    cases.append(image_case('2d 3 channels last', np.moveaxis(xc, 0, -1).copy(), np.moveaxis(yc, 0, -1).copy(), 1.0,
                            channel_axis=-1))
    return cases


# ---------------------------------------------------------------- probability maps

def probability_cases():
    cases = []
    for name, shape, spacing in [('2d', (30, 34), (1.0, 0.8)), ('3d', (12, 14, 16), (2.0, 1.0, 1.0))]:
        ref = blobs(shape, 2, min(shape) / 4, rng)
        p = ndi.gaussian_filter(ref.astype(float) + 0.6 * rng.standard_normal(shape), 1.5)
        p = np.round(np.clip(p, 0, 0.97), 6)
        thresholds = [0.1, 0.3, 0.5, 0.7, 0.99]
        res = []
        for t in thresholds:
            pred = p >= t
            sm = surface_metrics(pred, ref, spacing, 1)
            inter = (pred & ref).sum()
            den = pred.sum() + ref.sum()
            res.append({'threshold': t, 'predictedVoxels': int(pred.sum()),
                        'dice': num(2 * inter / den) if den else 1.0,
                        'hd95': sm.get('hd95Max', 'Infinity' if pred.sum() != ref.sum() else 0.0)})
        cases.append({'name': name, 'shape': list(shape), 'spacing': list(spacing), 'probability': flat_float(p),
                      'reference': flat_int(ref), 'brier': float(((p - ref) ** 2).mean()), 'thresholds': res})
    return cases


# ---------------------------------------------------------------- real BraTS slices

def load(rel, root=BRATS):
    img = nib.load(os.path.join(root, rel))
    return np.asarray(img.get_fdata(), dtype=np.float64), [float(z) for z in img.header.get_zooms()[:2]]


def slice_cases(root, tr, labels, specs, edt_specs, ssim_pairs, volume_slices, keep_values=True):
    """Metric values on slices in the BraTS slice layout under `root`; `tr(i, mod)` names a training file.
    Without `keep_values` (the real sample) the distance maps are described by statistics
    only (sum, max, sum of squares, a position-weighted sum), never by values at pixels."""
    out = {'labels': [], 'pairs': [], 'edt': [], 'ssim': [], 'volume': None}
    for f in labels:
        rel = os.path.relpath(f, root)
        d, zooms = load(rel, root)
        out['labels'].append({'file': rel, 'shape': list(d.shape), 'spacing': zooms,
                              'foregroundVoxels': int((d > 0).sum()), 'sum': float(d.sum())})
    for name, fa, ta, fb, tb, spacing, conn in specs:
        a, zooms = load(fa, root)
        b, _ = load(fb, root)
        sp = list(spacing) if spacing else zooms
        case = {'name': name, 'prediction': fa, 'predictionThreshold': ta, 'reference': fb,
                'referenceThreshold': tb, 'spacing': sp, 'connectivity': conn}
        case.update(surface_metrics(a > ta, b > tb, sp, conn))
        out['pairs'].append(case)
    sample_rng = np.random.default_rng(7)
    for name, f, t, spacing in edt_specs:
        d, _ = load(f, root)
        m = d > t
        e = ndi.distance_transform_edt(m, sampling=spacing)
        idx = sample_rng.choice(m.size, 400, replace=False)
        fg = np.flatnonzero(m)
        idx = np.concatenate([idx, sample_rng.choice(fg, min(400, fg.size), replace=False)])
        case = {'name': name, 'file': f, 'threshold': t, 'spacing': list(spacing),
                'sum': float(e.sum()), 'max': float(e.max())}
        if keep_values:
            case.update({'indices': [int(i) for i in idx], 'values': [float(e.flat[i]) for i in idx]})
        else:
            # weights 1 + (31 i) mod 101 on the flat (x-major) index i: a transposed map changes the sum
            w = 1 + (31 * np.arange(e.size)) % 101
            case.update({'sumSquares': float((e * e).sum()), 'weightedSum': float((w * e.reshape(-1)).sum())})
        out['edt'].append(case)
    mods = ['t1c', 't1n', 't2f', 't2w']
    for i, j in ssim_pairs:
        x = np.stack([load(tr(i, m), root)[0] for m in mods])
        y = np.stack([load(tr(j, m), root)[0] for m in mods])
        brain = (x[2] > 0) | (y[2] > 0)
        out['ssim'].append({
            'name': f'slices {i} vs {j}', 'image': i, 'reference': j, 'modalities': mods, 'dataRange': 1.0,
            'ssimPerChannel': [ref_ssim(a, b, 1.0) for a, b in zip(x, y)],
            'ssim': ref_ssim(x, y, 1.0, channel_axis=0),
            'maskedSsimPerChannel': [masked_ssim(a, b, 1.0, brain) for a, b in zip(x, y)],
            'msePerChannel': [float(mean_squared_error(a, b)) for a, b in zip(x, y)],
            'psnrPerChannel': [float(peak_signal_noise_ratio(a, b, data_range=1.0)) for a, b in zip(x, y)],
            'maskedMsePerChannel': [float(((a - b) ** 2)[brain].mean()) for a, b in zip(x, y)],
        })
    # A 3-D volume: the training slices stacked along a new first axis.
    vol = {m: np.stack([load(tr(i, m), root)[0] for i in volume_slices]) for m in ['t2f', 't2w']}
    sp = (3.0, 1.0, 1.0)
    a, b = vol['t2f'] > 0.2, vol['t2w'] > 0.25
    v = {'name': f'slices {volume_slices[0]}..{volume_slices[-1]} stacked', 'slices': list(volume_slices), 'spacing': list(sp),
         'ssimT2fVsT2w': ref_ssim(vol['t2f'], vol['t2w'], 1.0)}
    v['surface'] = surface_metrics(a, b, sp, 1)
    v['surfaceC3'] = surface_metrics(a, b, sp, 3)
    out['volume'] = v
    return out


def brats_cases():
    labels = sorted(glob.glob(os.path.join(BRATS, 'test_labels', '*.nii.gz'))) + \
        sorted(glob.glob(os.path.join(BRATS, 'training', '*', '*_seg_*.nii.gz')))
    tr = lambda i, mod: f'training/00004000_{i}/brats_train_00004000_{mod}_{i}_w.nii.gz'
    # Masks from the real scans: the brain (t2f > 0) and FLAIR hyperintensity
    # (t2f > 0.2), compared across neighbouring slices and modalities.
    specs = [
        ('brain 20 vs brain 23', tr(20, 't2f'), 0.0, tr(23, 't2f'), 0.0, None, 1),
        ('brain 20 vs brain 23, spacing (0.9, 1.3), c2', tr(20, 't2f'), 0.0, tr(23, 't2f'), 0.0, (0.9, 1.3), 2),
        ('flair>0.2 22 vs 26', tr(22, 't2f'), 0.2, tr(26, 't2f'), 0.2, None, 1),
        ('flair>0.2 25 vs t2w>0.25 25', tr(25, 't2f'), 0.2, tr(25, 't2w'), 0.25, (1.0, 1.0), 1),
        ('t1c>0.3 28 vs flair>0.15 30, spacing (1.1, 0.7)', tr(28, 't1c'), 0.3, tr(30, 't2f'), 0.15, (1.1, 0.7), 1),
    ]
    edt_specs = [('brain 24', tr(24, 't2f'), 0.0, (1.0, 1.0)),
                 ('flair>0.2 27, spacing (0.6, 1.4)', tr(27, 't2f'), 0.2, (0.6, 1.4))]
    return slice_cases(BRATS, tr, labels, specs, edt_specs, [(20, 21), (25, 28)], list(range(20, 31)), keep_values=False)


# ---------------------------------------------------------------- committed synthetic slices

SLICES = os.path.join(OUT, 'slices')


def synthetic_slices():
    """Writes a small made-up slice set in the BraTS slice layout (so that the tests run
    without the BraTS sample) and returns its cases, as brats_cases() does."""
    import shutil
    shutil.rmtree(SLICES, ignore_errors=True)
    srng = np.random.default_rng(31)  # own stream: the other fixtures stay as they are
    X, Y = 36, 30
    ii, jj = np.meshgrid(np.arange(X), np.arange(Y), indexing='ij')
    aff = np.diag([1.0, 1.2, 1.0, 1.0])  # anisotropic pixels: zooms (1.0, 1.2)
    tr = lambda i, mod: f'training/00009000_{i}/synth_train_00009000_{mod}_{i}_w.nii.gz'

    def save(arr, rel):
        p = os.path.join(SLICES, rel)
        os.makedirs(os.path.dirname(p), exist_ok=True)
        nib.Nifti1Image(arr, aff).to_filename(p)
        return p

    labels = []
    for i in range(11):  # 11 slices: the 3-D SSIM needs 11 along every axis
        # the brain: an ellipse that shrinks along the stack, zero outside (like the sample)
        brain = ((ii - 17.5) ** 2 / (16 - i / 2) ** 2 + (jj - 14.5) ** 2 / (14 - i / 3) ** 2) <= 1
        tumour = blobs((X, Y), 2, 2 + i / 3, srng) & brain if i > 0 else np.zeros((X, Y), bool)
        for m in ['t1n', 't1c', 't2w', 't2f']:
            img = 0.15 + 0.6 * smooth_image((X, Y), srng, sigma=2.5)
            img = np.where(tumour, np.minimum(img + (0.3 if m in ('t2f', 't2w') else 0.15), 1.0), img)
            # values on a 1/4096 grid: exact in float32 and float64
            save(np.where(brain, np.round(img * 4096) / 4096, 0.0).astype(np.float32), tr(i, m))
        seg = np.where(tumour, 2, 0).astype(np.uint8)
        labels.append(save(seg, f'training/00009000_{i}/synth_train_00009000_seg_{i}_w.nii.gz'))
    # test_labels: an empty one and one with tumour (no image folders needed by the metric tests)
    labels.insert(0, save(np.zeros((X, Y), np.uint8), 'test_labels/00009100_1-label.nii.gz'))
    labels.insert(1, save(np.where(blobs((X, Y), 1, 5, srng), 1, 0).astype(np.uint8), 'test_labels/00009100_2-label.nii.gz'))
    specs = [
        ('brain 0 vs brain 6', tr(0, 't2f'), 0.0, tr(6, 't2f'), 0.0, None, 1),
        ('brain 0 vs brain 6, spacing (0.9, 1.3), c2', tr(0, 't2f'), 0.0, tr(6, 't2f'), 0.0, (0.9, 1.3), 2),
        ('flair>0.5 4 vs 8', tr(4, 't2f'), 0.5, tr(8, 't2f'), 0.5, None, 1),
        ('flair>0.5 9 vs t2w>0.55 9', tr(9, 't2f'), 0.5, tr(9, 't2w'), 0.55, (1.0, 1.0), 1),
        ('t1c>0.45 3 vs flair>0.4 10, spacing (1.1, 0.7)', tr(3, 't1c'), 0.45, tr(10, 't2f'), 0.4, (1.1, 0.7), 1),
    ]
    edt_specs = [('brain 4', tr(4, 't2f'), 0.0, (1.0, 1.2)),
                 ('flair>0.5 7, spacing (0.6, 1.4)', tr(7, 't2f'), 0.5, (0.6, 1.4))]
    out = slice_cases(SLICES, tr, labels, specs, edt_specs, [(0, 1), (5, 9)], list(range(11)))
    out['pattern'] = tr('{i}', '{mod}')
    return out


def write(name, obj):
    os.makedirs(OUT, exist_ok=True)
    path = os.path.join(OUT, name)
    tmp = path + '.tmp'
    with open(tmp, 'w') as f:
        json.dump(obj, f, separators=(',', ':'), allow_nan=False)
    os.replace(tmp, path)
    print(f'{path}: {os.path.getsize(path)} bytes')


if __name__ == '__main__':
    meta = {'generator': 'tools/metrics/make_fixtures.py',
            'numpy': np.__version__, 'scipy': __import__('scipy').__version__,
            'skimage': __import__('skimage').__version__, 'nibabel': nib.__version__}
    if '--brats' in sys.argv:  # only brats.json (the BraTS sample must be there)
        write('brats.json', {'meta': meta, **brats_cases()})
        sys.exit(0)
    write('slices.json', {'meta': meta, **synthetic_slices()})
    if '--slices' not in sys.argv:  # everything else; the BraTS sample must be there
        write('edt.json', {'meta': meta, 'cases': edt_cases()})
        write('surface.json', {'meta': meta, 'cases': surface_cases(), 'percentile': percentile_cases()})
        write('image.json', {'meta': meta, 'cases': image_cases()})
        write('probability.json', {'meta': meta, 'cases': probability_cases()})
        write('brats.json', {'meta': meta, **brats_cases()})
