#!/usr/bin/python3
"""Golden fixtures for @tumorcast/nifti and @tumorcast/dataset, produced by
nibabel (the reference).

Run with Debian's python (nibabel 5, numpy):   /usr/bin/python3 tools/nifti/make_fixtures.py
(`--slices` writes only slices/, slices.json and slices-8.f32: no BraTS sample needed;
`--label-fraction` only slices-8-fraction.f32, from the committed slices/;
`--sample` only sample.json, from the BraTS sample.)
Then, after `npx nx run @tumorcast/nifti:build`:
    node tools/nifti/write_with_ts.mjs            # files written by writeNifti
    /usr/bin/python3 tools/nifti/make_fixtures.py --check-ts   # nibabel reads them back

Outputs, for @tumorcast/dataset (libs/dataset/test/fixtures/):
  sample.json        every file of the optional real BraTS slices beside the repository
                     (docs/development.md) as nibabel reads it
                     (shape, dataobj dtype, affine, zooms, sha256 of the float64
                     values in x-fastest order, sum, nonzero count, min, max),
                     tumour burdens, and statistics of one sample area-resized to
                     64x64 (per channel and for the label, row = j, column = i:
                     sum, sum of squares, a position-weighted sum, nonzero count).
                     No voxel of the sample is stored in the repository.
  slices/            a tiny data set in the BraTS slice layout written by nibabel (made up
                     here, so the tests run without the BraTS sample): training/
                     with seg files (one slice uncompressed, one without tumour),
                     validation/ with labels in test_labels/; 22 x 26 slices.
  slices.json        what nibabel reads from each of its files (as sample.json),
                     the numpy tumour burdens, and one sample padded to 32 and
                     area-resized to 8 (slices-8.f32: 4 x 8 x 8 float32, little endian,
                     channel-major, row = j, column = i; then the 8 x 8 label).
  slices-8-fraction.f32  that sample's 8 x 8 label block means before the 0.5
                     threshold (float32, row = j, column = i): the fraction of each
                     pixel that is tumour.
  brats-case/        a tiny 3-D BraTS case; brats-case.json: what converting it
                     into slices must give (numpy percentiles and normalisation).
and for @tumorcast/nifti (libs/nifti/test/fixtures/):
  synthetic/         small files written by nibabel: every datatype x NIfTI-1/2 x
                     little/big endian, gzip, .hdr/.img pairs, scaling, sform/qform/
                     base affines, extensions, multi-member gzip, patched headers.
  synthetic.json     what nibabel reads from each of them.
  ts-write-cases.json  images for write_with_ts.mjs to write with writeNifti.
  ts-written/        those files (written by write_with_ts.mjs, committed).
  ts-written-nibabel.json  what nibabel reads from them (--check-ts).
"""
import gzip
import hashlib
import io
import json
import math
import os
import sys

import nibabel as nib
import numpy as np

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
FIX = os.path.join(ROOT, 'libs', 'nifti', 'test', 'fixtures')
DFIX = os.path.join(ROOT, 'libs', 'dataset', 'test', 'fixtures')
SAMPLE = os.path.normpath(os.path.join(ROOT, '..', 'shared', 'data', 'brats-sample'))
SYN = os.path.join(FIX, 'synthetic')
MODS = ['t1n', 't1c', 't2w', 't2f']


def num(v):
    """JSON-safe number: non-finite floats as strings."""
    v = float(v) if not isinstance(v, (int, np.integer)) else int(v)
    if isinstance(v, float) and not math.isfinite(v):
        return 'NaN' if math.isnan(v) else ('Infinity' if v > 0 else '-Infinity')
    return v


def flat(arr):
    """Values in x-fastest (Fortran) order; rgb24 as R,G,B per voxel."""
    if arr.dtype.names:
        f = arr.reshape(-1, order='F')
        return [int(x) for v in f for x in (v['R'], v['G'], v['B'])]
    return [num(v) for v in np.asarray(arr).reshape(-1, order='F').tolist()]


def affine(a):
    return [[float(x) for x in row] for row in np.asarray(a, dtype=np.float64)]


def describe(path):
    img = nib.load(path)
    arr = np.asanyarray(img.dataobj)
    return img, arr


def resized_stats(v):
    """Sum, sum of squares and a position-weighted sum (weights 1 + (31 i) mod 101,
    i the row-major index, row = j): a transposed or shifted layout changes the last."""
    w = 1 + (31 * np.arange(v.size)) % 101
    return {'sum': float(v.sum()), 'sumSquares': float((v * v).sum()), 'weightedSum': float((w * v).sum()),
            'nonzero': int(np.count_nonzero(v))}


def sample_fixtures():
    out = {'root': '../shared/data/brats-sample', 'files': {}, 'burden': {}}
    for dirpath, _, files in sorted(os.walk(SAMPLE)):
        for f in sorted(files):
            p = os.path.join(dirpath, f)
            rel = os.path.relpath(p, SAMPLE)
            img, arr = describe(p)
            a64 = arr.astype('<f8')
            fl = a64.reshape(-1, order='F')
            out['files'][rel] = {
                'shape': list(arr.shape),
                'dtype': str(arr.dtype),
                'affine': affine(img.affine),
                'zooms': [float(z) for z in img.header.get_zooms()],
                'sha256': hashlib.sha256(fl.tobytes()).hexdigest(),
                'sum': float(fl.sum()),
                'nonzero': int(np.count_nonzero(fl)),
                'min': float(fl.min()),
                'max': float(fl.max()),
            }
    # tumour burden: count(seg > 0) / count(t2f != 0)
    for split in ['training', 'validation', 'testing']:
        d = os.path.join(SAMPLE, split)
        if not os.path.isdir(d):
            continue
        for sid in sorted(os.listdir(d)):
            files = os.listdir(os.path.join(d, sid))
            t2f = [f for f in files if '_t2f_' in f][0]
            seg = [f for f in files if '_seg_' in f]
            if seg:
                segp = os.path.join(d, sid, seg[0])
            else:
                segp = os.path.join(SAMPLE, 'test_labels', sid + '-label.nii.gz')
                if not os.path.exists(segp):
                    continue
            t = np.asanyarray(nib.load(os.path.join(d, sid, t2f)).dataobj)
            s = np.asanyarray(nib.load(segp).dataobj)
            tum = int(np.count_nonzero(s > 0))
            brain = int(np.count_nonzero(t != 0))
            out['burden'][f'{split}/{sid}'] = {'tumour': tum, 'brain': brain, 'burden': (tum / brain) if tum else 0.0}
    # one sample padded 240 -> 256 (8 each side) and area-averaged to 64 (4x4 blocks)
    sid = '00004000_25'
    d = os.path.join(SAMPLE, 'training', sid)
    files = os.listdir(d)
    chans = []
    for m in MODS + ['seg']:
        f = [x for x in files if f'_{m}_' in x][0]
        a = np.asanyarray(nib.load(os.path.join(d, f)).dataobj).astype(np.float64)
        if m == 'seg':
            a = (a > 0).astype(np.float64)
        p = np.zeros((256, 256))
        p[8:248, 8:248] = a
        # array index [i, j]; the package lays out rows = j, columns = i
        r = p.reshape(64, 4, 64, 4).mean(axis=(1, 3))
        if m == 'seg':
            r = (r >= 0.5).astype(np.float64)
        chans.append(r.T.astype('<f4'))
    # Statistics, not the pixels: the repository keeps no image data of the sample.
    out['resized64'] = {'sample': f'training/{sid}', 'size': 64, 'from': 256,
                        'channels': [resized_stats(c.astype(np.float64).reshape(-1)) for c in chans]}
    with open(os.path.join(DFIX, 'sample.json'), 'w') as fh:
        json.dump(out, fh, indent=1)


# ---------------------------------------------------------------- synthetic

def rot(ax, deg):
    t = math.radians(deg)
    c, s = math.cos(t), math.sin(t)
    R = np.eye(3)
    i, j = [(1, 2), (0, 2), (0, 1)][ax]
    R[i, i], R[i, j], R[j, i], R[j, j] = c, -s, s, c
    return R


def make_affine(zooms=(2.0, 3.0, 1.5), flip=False):
    R = rot(2, 30) @ rot(0, 15)
    if flip:
        R = R @ np.diag([1, 1, -1])
    A = np.eye(4)
    A[:3, :3] = R @ np.diag(zooms)
    A[:3, 3] = [-10.5, 20.25, 7.0]
    return A


DTYPES = {
    'uint8': (np.uint8, [0, 255, 1, 128]),
    'int8': (np.int8, [-128, 127, 0, -1]),
    'int16': (np.int16, [-32768, 32767, 0, -1]),
    'uint16': (np.uint16, [0, 65535, 1, 40000]),
    'int32': (np.int32, [-2147483648, 2147483647, 0, -1]),
    'uint32': (np.uint32, [0, 4294967295, 1, 3000000000]),
    'int64': (np.int64, [-(2**53 - 1), 2**53 - 1, 0, -1]),
    'uint64': (np.uint64, [0, 2**53 - 1, 1, 2**40]),
    'float32': (np.float32, [-3.4028235e38, 3.4028235e38, 1.5e-45, float('nan'), float('inf'), -0.0]),
    'float64': (np.float64, [-1.7976931348623157e308, 1.7976931348623157e308, 5e-324, float('nan'), float('-inf'), 0.1]),
}
RGB = np.dtype([('R', 'u1'), ('G', 'u1'), ('B', 'u1')])


def data_for(name, shape, seed):
    rng = np.random.default_rng(seed)
    n = int(np.prod(shape))
    if name == 'rgb24':
        raw = rng.integers(0, 256, size=(n, 3), dtype=np.uint8)
        raw[0] = [31, 139, 8]
        arr = np.zeros(n, dtype=RGB)
        arr['R'], arr['G'], arr['B'] = raw[:, 0], raw[:, 1], raw[:, 2]
        return arr.reshape(shape, order='F')
    dt, special = DTYPES[name]
    if np.issubdtype(dt, np.integer):
        info = np.iinfo(dt)
        lo, hi = max(int(info.min), -(2**53 - 1)), min(int(info.max), 2**53 - 1)
        vals = [int(x) for x in rng.integers(lo // 2, hi // 2, size=n, dtype=np.int64 if lo < 0 else np.uint64)]
    else:
        vals = (rng.standard_normal(n) * 1000).astype(dt).tolist()
    vals[: len(special)] = special
    return np.array(vals, dtype=dt).reshape(shape, order='F')


def header_block(path):
    """(raw bytes, header size) of the file at `path` (decompressed)."""
    opener = gzip.open if path.endswith('.gz') else open
    with opener(path, 'rb') as fh:
        b = fh.read()
    return b


def patch(path, **fields):
    """Rewrite header fields of a single file in place (nibabel's header class, no checks)."""
    b = header_block(path)
    le = int.from_bytes(b[:4], 'little')
    be = int.from_bytes(b[:4], 'big')
    size = 348 if 348 in (le, be) else 540
    klass = nib.Nifti1Header if size == 348 else nib.Nifti2Header
    hdr = klass(b[:size], endianness='<' if size in (le,) else '>', check=False)
    for k, v in fields.items():
        if k == 'dim_raw':
            hdr['dim'] = v
        elif k == 'pixdim_raw':
            hdr['pixdim'] = v
        else:
            hdr[k] = v
    nb = hdr.binaryblock + b[size:]
    opener = gzip.open if path.endswith('.gz') else open
    with opener(path, 'wb') as fh:
        fh.write(nb)


def synthetic_fixtures():
    os.makedirs(SYN, exist_ok=True)
    for f in os.listdir(SYN):
        os.remove(os.path.join(SYN, f))
    cases = {}

    def record(name, path, **meta):
        img = nib.load(path)
        arr = np.asanyarray(img.dataobj)
        with open(path, 'rb') as fh:
            head = fh.read(4)
        cases[name] = dict(
            file=os.path.relpath(path, FIX),
            shape=list(arr.shape if not arr.dtype.names else arr.shape),
            dtype='rgb24' if arr.dtype.names else arr.dtype.name,
            data=flat(arr),
            affine=affine(img.affine),
            zooms=[float(z) for z in img.header.get_zooms()],
            **meta,
        )

    shape = (3, 4, 5)
    seed = 1
    for version in (1, 2):
        for endian in ('<', '>'):
            for name in list(DTYPES) + ['rgb24']:
                seed += 1
                arr = data_for(name, shape, seed)
                if endian == '>' and not arr.dtype.names:
                    arr = arr.astype(arr.dtype.newbyteorder('>'))
                klass = nib.Nifti1Image if version == 1 else nib.Nifti2Image
                hklass = nib.Nifti1Header if version == 1 else nib.Nifti2Header
                hdr = hklass(endianness=endian)
                img = klass(arr, make_affine(flip=(seed % 2 == 0)), hdr)
                img.set_data_dtype(arr.dtype)
                img.set_qform(img.affine, code=1)
                img.set_sform(img.affine, code=2)
                ext = '.nii.gz' if name in ('int16', 'float32') else '.nii'
                fname = f'v{version}-{"le" if endian == "<" else "be"}-{name}{ext}'
                path = os.path.join(SYN, fname)
                img.to_filename(path)
                record(fname, path, version=version, endian=endian, datatype=name)
    # 2-D and 4-D, base affine (no sform, no qform)
    for nm, shp in [('2d', (4, 3)), ('4d', (2, 3, 2, 2)), ('1d', (5,))]:
        arr = np.arange(int(np.prod(shp)), dtype=np.int16).reshape(shp, order='F')
        img = nib.Nifti1Image(arr, np.eye(4))
        img.header.set_zooms(tuple([1.5, 2.5, 0.5, 3.0][: len(shp)]))
        img.set_qform(None, code=0)
        img.set_sform(None, code=0)
        fname = f'base-affine-{nm}.nii'
        path = os.path.join(SYN, fname)
        img.to_filename(path)
        patch(path, qform_code=0, sform_code=0)
        record(fname, path, note='no sform/qform: nibabel base affine')
    # qform only, qfac -1, rotation
    arr = data_for('float32', (3, 4, 5), 99)
    img = nib.Nifti1Image(arr, make_affine(flip=True))
    img.set_qform(make_affine(flip=True), code=1)
    img.set_sform(None, code=0)
    fname = 'qform-only.nii'
    img.to_filename(os.path.join(SYN, fname))
    patch(os.path.join(SYN, fname), sform_code=0)
    record(fname, os.path.join(SYN, fname), note='qform only, qfac -1')
    # NIfTI-2 qform only
    img = nib.Nifti2Image(arr, make_affine(flip=False))
    img.set_qform(make_affine(flip=False), code=1)
    img.set_sform(None, code=0)
    fname = 'v2-qform-only.nii'
    img.to_filename(os.path.join(SYN, fname))
    patch(os.path.join(SYN, fname), sform_code=0)
    record(fname, os.path.join(SYN, fname), note='NIfTI-2 qform only')
    # invalid sform code (7): nibabel resets it to 0 and uses the qform
    fname = 'bad-sform-code.nii'
    img = nib.Nifti1Image(arr, make_affine())
    img.set_qform(make_affine(), code=1)
    img.set_sform(np.diag([9.0, 9.0, 9.0, 1.0]), code=2)
    img.to_filename(os.path.join(SYN, fname))
    patch(os.path.join(SYN, fname), sform_code=7)
    record(fname, os.path.join(SYN, fname), note='sform_code 7 -> treated as 0, qform used')
    # zero / negative pixdims and bad qfac, qform only
    fname = 'fixed-pixdims.nii'
    img = nib.Nifti1Image(arr, make_affine())
    img.set_qform(make_affine(), code=1)
    img.to_filename(os.path.join(SYN, fname))
    patch(os.path.join(SYN, fname), sform_code=0, pixdim_raw=[0.5, 0.0, -2.0, 1.5, 1, 1, 1, 1])
    record(fname, os.path.join(SYN, fname), note='pixdim[0]=0.5 -> qfac 1, pixdim 0 -> 1, negative -> abs')
    # scaling cases
    base = np.array([-3, 0, 7, 100, -32768, 32767], dtype=np.int16).reshape((6, 1), order='F')
    for nm, slope, inter, dt in [
        ('int16-slope-inter', 2.5, -3.0, np.int16),
        ('int16-slope-only', 0.25, 0.0, np.int16),
        ('int16-inter-only', 1.0, 10.0, np.int16),
        ('int16-slope-zero', 0.0, 5.0, np.int16),
        ('int16-slope-nan', float('nan'), 5.0, np.int16),
        ('float32-slope', 2.0, 1.0, np.float32),
        ('uint8-identity', 1.0, 0.0, np.uint8),
    ]:
        a = base.astype(np.float64)
        if dt == np.uint8:
            a = np.abs(a) % 256
        a = a.astype(dt)
        img = nib.Nifti1Image(a, np.eye(4))
        img.set_data_dtype(dt)
        fname = f'scale-{nm}.nii'
        path = os.path.join(SYN, fname)
        img.to_filename(path)
        patch(path, scl_slope=slope, scl_inter=inter)
        record(fname, path, note=f'scl_slope {slope} scl_inter {inter}')
    # .hdr/.img pairs, NIfTI-1 and NIfTI-2, plain and gzipped; first voxel bytes 1f 8b 08
    for nm, klass, ext in [('pair-v1', nib.Nifti1Pair, '.img'), ('pair-v2', nib.Nifti2Pair, '.img'), ('pair-v1-gz', nib.Nifti1Pair, '.img.gz')]:
        a = np.array([31, 139, 8, 0, 5, 6, 7, 8, 9, 10, 11, 12], dtype=np.uint8).reshape((3, 4), order='F')
        img = klass(a, make_affine())
        img.set_data_dtype(np.uint8)
        path = os.path.join(SYN, nm + ext)
        img.to_filename(path)
        hdr_path = path.replace('.img', '.hdr')
        record(nm + ext, path, header=os.path.relpath(hdr_path, FIX), note='pair; image bytes start 1f 8b 08')
    # header extension (comment), vox_offset > 352
    a = data_for('int16', (2, 2, 2), 7)
    img = nib.Nifti1Image(a, make_affine())
    img.header.extensions.append(nib.nifti1.Nifti1Extension('comment', b'tumorcast fixture extension'))
    fname = 'extension.nii'
    img.to_filename(os.path.join(SYN, fname))
    record(fname, os.path.join(SYN, fname), note='one comment extension', ext_code=6, ext_text='tumorcast fixture extension')
    # junk in dims beyond dim[0] (nifti-reader-js multiplies dims[1..5] regardless)
    a = np.arange(12, dtype=np.float32).reshape((4, 3), order='F')
    img = nib.Nifti1Image(a, np.eye(4))
    fname = 'junk-dims.nii'
    img.to_filename(os.path.join(SYN, fname))
    patch(os.path.join(SYN, fname), dim_raw=[2, 4, 3, 0, 9, 7, 0, 0])
    record(fname, os.path.join(SYN, fname), note='dim = [2, 4, 3, 0, 9, 7, 0, 0]')
    # tiny gzip file (nifti-reader-js's async header reader can hang on these)
    a = np.array([42], dtype=np.uint8).reshape((1,))
    img = nib.Nifti1Image(a, np.eye(4))
    img.set_data_dtype(np.uint8)
    fname = 'tiny.nii.gz'
    img.to_filename(os.path.join(SYN, fname))
    record(fname, os.path.join(SYN, fname), note='1 voxel, gzip smaller than a header')
    # multi-member gzip
    a = data_for('float32', (4, 4, 2), 11)
    raw = nib.Nifti1Image(a, make_affine()).to_bytes()
    fname = 'multi-member.nii.gz'
    with open(os.path.join(SYN, fname), 'wb') as fh:
        fh.write(gzip.compress(raw[:200], mtime=0) + gzip.compress(raw[200:], mtime=0))
    record(fname, os.path.join(SYN, fname), note='two gzip members')
    with open(os.path.join(FIX, 'synthetic.json'), 'w') as fh:
        json.dump(cases, fh, indent=1)


# ---------------------------------------------------------------- TS-written files

def ts_cases():
    cases = []
    for version in (1, 2):
        for name in list(DTYPES) + ['rgb24']:
            arr = data_for(name, (3, 4, 2), 1000 + len(cases))
            if name.startswith('float'):
                arr = arr.copy()
                arr.reshape(-1, order='F')[3] = 2.5  # keep finite values for JSON
                arr = np.nan_to_num(arr, nan=1.25, posinf=3.5, neginf=-3.5)
            # a float32-exact affine so that the round trip is exact in NIfTI-1
            aff = make_affine(flip=(len(cases) % 2 == 1)).astype(np.float32).astype(np.float64)
            cases.append(dict(
                name=f'v{version}-{name}' + ('.nii.gz' if name in ('uint16', 'float64') else '.nii'),
                version=version,
                datatype=name,
                shape=[3, 4, 2],
                channels=3 if name == 'rgb24' else 1,
                data=flat(arr),
                affine=affine(aff),
            ))
    cases.append(dict(name='v1-2d-identity.nii', version=1, datatype='float32', shape=[5, 3], channels=1,
                      data=[float(np.float32(x / 7)) for x in range(15)], affine=affine(np.eye(4))))
    with open(os.path.join(FIX, 'ts-write-cases.json'), 'w') as fh:
        json.dump(cases, fh, indent=1)


def check_ts():
    with open(os.path.join(FIX, 'ts-write-cases.json')) as fh:
        cases = json.load(fh)
    out = {}
    for c in cases:
        path = os.path.join(FIX, 'ts-written', c['name'])
        img = nib.load(path)
        arr = np.asanyarray(img.dataobj)
        got = flat(arr)
        want = c['data']
        same = len(got) == len(want) and all(
            (a == b) or (isinstance(a, float) and isinstance(b, float) and math.isnan(a) and math.isnan(b)) for a, b in zip(got, want))
        out[c['name']] = dict(
            nibabel_class=type(img).__name__,
            dtype='rgb24' if arr.dtype.names else arr.dtype.name,
            shape=list(arr.shape),
            data=got,
            affine=affine(img.affine),
            qform=affine(img.get_qform()),
            sform=affine(img.get_sform()),
            qform_code=int(img.header['qform_code']),
            sform_code=int(img.header['sform_code']),
            zooms=[float(z) for z in img.header.get_zooms()],
            data_equal=bool(same),
            affine_equal=bool(np.array_equal(img.affine, np.array(c['affine']))),
            qform_close=bool(np.allclose(img.get_qform(), np.array(c['affine']), atol=1e-5)),
        )
        if not (same and out[c['name']]['affine_equal'] and out[c['name']]['qform_close']):
            print('MISMATCH', c['name'], file=sys.stderr)
    with open(os.path.join(FIX, 'ts-written-nibabel.json'), 'w') as fh:
        json.dump(out, fh, indent=1)
    print(f'checked {len(out)} TS-written files with nibabel {nib.__version__}')


# ---------------------------------------------------------------- a small BraTS case

def numpy_normalise(v, lower, upper):
    nz = v[v != 0]
    b = np.percentile(nz, upper)
    a = 0.0 if lower == 0 else np.percentile(nz, lower)
    out = np.where(v != 0, np.clip((v - a) / (b - a), 0, 1), 0.0)
    return out, float(a), float(b)


def brats_case_fixture():
    """A tiny 3-D BraTS case (nibabel) and what the slice conversion must produce (numpy)."""
    name = 'BraTS-GLI-00042-001'
    d = os.path.join(DFIX, 'brats-case', name)
    os.makedirs(d, exist_ok=True)
    rng = np.random.default_rng(42)
    X, Y, Z = 6, 5, 4
    ii, jj = np.meshgrid(np.arange(X), np.arange(Y), indexing='ij')
    mask2 = ((ii - 2.5) ** 2 / 7 + (jj - 2) ** 2 / 5) <= 1
    mask = np.repeat(mask2[:, :, None], Z, axis=2)
    mask[:, :, 3] = False  # an empty slice (no brain)
    vols = {}
    for m in MODS:
        v = np.where(mask, rng.integers(1, 1000, size=(X, Y, Z)), 0).astype(np.int16)
        vols[m] = v
    seg = np.zeros((X, Y, Z), dtype=np.uint8)
    seg[2:4, 1:3, 1] = 2
    seg[3, 2, 2] = 1
    vols['seg'] = seg
    aff = np.diag([1.0, 1.0, 1.0, 1.0])
    for m, v in vols.items():
        nib.Nifti1Image(v, aff).to_filename(os.path.join(d, f'{name}-{m}.nii.gz'))
    exp = {'case': name, 'pid': '00042001', 'shape': [X, Y, Z], 'default': {}, 'lower5': {}, 'burden': {}}
    for key, lower in [('default', 0), ('lower5', 5)]:
        for m in MODS:
            out, a, b = numpy_normalise(vols[m].astype(np.float64), lower, 99.5)
            exp[key][m] = {'a': a, 'b': b, 'slices': [out[:, :, k].reshape(-1, order='F').tolist() for k in range(Z)]}
    for k in range(Z):
        t = int(np.count_nonzero(seg[:, :, k] > 0))
        br = int(np.count_nonzero(vols['t2f'][:, :, k] != 0))
        exp['burden'][str(k)] = (t / br) if t else 0.0
    exp['seg'] = [seg[:, :, k].reshape(-1, order='F').astype(float).tolist() for k in range(Z)]
    with open(os.path.join(DFIX, 'brats-case.json'), 'w') as fh:
        json.dump(exp, fh, indent=1)


# ---------------------------------------------------------------- committed slice data set

SLICES = os.path.join(DFIX, 'slices')


def describe_file(path, picks):
    """What nibabel reads from one file, in sample.json's format."""
    img, arr = describe(path)
    fl = arr.astype('<f8').reshape(-1, order='F')
    return {
        'shape': list(arr.shape),
        'dtype': str(arr.dtype),
        'affine': affine(img.affine),
        'zooms': [float(z) for z in img.header.get_zooms()],
        'sha256': hashlib.sha256(fl.tobytes()).hexdigest(),
        'sum': float(fl.sum()),
        'nonzero': int(np.count_nonzero(fl)),
        'min': float(fl.min()),
        'max': float(fl.max()),
        'picks': {str(i): float(fl[i]) for i in picks},
    }


def slices_fixture():
    """A tiny data set in the BraTS slice layout made up here, and what the reader must make of it."""
    import shutil
    shutil.rmtree(SLICES, ignore_errors=True)
    rng = np.random.default_rng(2024)
    X, Y = 22, 26  # not square, so padding offsets differ per axis
    ii, jj = np.meshgrid(np.arange(X), np.arange(Y), indexing='ij')
    brain = None  # the current slice's brain: an ellipse of its own size
    aff = np.diag([1.0, 1.0, 1.0, 1.0])
    written = []  # (relative path, is label)

    def image(scale):
        # values on a 1/1024 grid in (0, 1], zero outside the brain (like the sample)
        v = np.clip(rng.normal(0.5, 0.2, size=(X, Y)) * scale, 1 / 1024, 1)
        return np.where(brain, np.round(v * 1024) / 1024, 0).astype(np.float32)

    def set_brain(a, b):
        nonlocal brain
        brain = ((ii - 10.5) ** 2 / a ** 2 + (jj - 12.5) ** 2 / b ** 2) <= 1

    def label(tumour):
        seg = np.zeros((X, Y), dtype=np.uint8)
        if tumour is not None:
            ci, cj, radius = tumour
            r = np.sqrt((ii - ci) ** 2 + (jj - cj) ** 2)
            seg[(r <= radius) & brain] = 2
            seg[(r <= radius / 2) & brain] = 1
            seg[(r <= 1) & brain] = 3
        return seg

    def save(arr, rel):
        p = os.path.join(SLICES, rel)
        os.makedirs(os.path.dirname(p), exist_ok=True)
        nib.Nifti1Image(arr, aff).to_filename(p)
        written.append(rel)

    # training: 00007000_3 has no tumour; 00007000_5 is written uncompressed
    for k, tumour, axes in [(3, None, (9, 11)), (4, (9, 11, 3.5), (9.5, 11.5)), (5, (12, 15, 2.5), (10, 12))]:
        set_brain(*axes)
        ext = '.nii' if k == 5 else '.nii.gz'
        sid = f'00007000_{k}'
        for m in MODS:
            save(image(1.0 if m != 't2f' else 0.9), f'training/{sid}/fixture_train_00007000_{m}_{k}_w{ext}')
        save(label(tumour), f'training/{sid}/fixture_train_00007000_seg_{k}_w{ext}')
    # validation: labels in test_labels/
    for k, tumour, axes in [(3, (8, 14, 3), (8.5, 10.5)), (4, (13, 10, 4), (9, 12))]:
        set_brain(*axes)
        sid = f'00008000_{k}'
        for m in MODS:
            save(image(1.0), f'validation/{sid}/fixture_train_00008000_{m}_{k}_w.nii.gz')
        save(label(tumour), f'test_labels/{sid}-label.nii.gz')

    picks = sorted(rng.choice(X * Y, 16, replace=False).tolist())
    out = {'root': 'slices', 'shape': [X, Y], 'files': {}, 'burden': {}}
    for rel in sorted(written):
        out['files'][rel] = describe_file(os.path.join(SLICES, rel), picks)
    # tumour burden: count(seg > 0) / count(t2f != 0)
    for split in ['training', 'validation']:
        for sid in sorted(os.listdir(os.path.join(SLICES, split))):
            d = os.path.join(SLICES, split, sid)
            files = os.listdir(d)
            t2f = [f for f in files if '_t2f_' in f][0]
            seg = [f for f in files if '_seg_' in f]
            segp = os.path.join(d, seg[0]) if seg else os.path.join(SLICES, 'test_labels', sid + '-label.nii.gz')
            t = np.asanyarray(nib.load(os.path.join(d, t2f)).dataobj)
            s = np.asanyarray(nib.load(segp).dataobj)
            tum = int(np.count_nonzero(s > 0))
            br = int(np.count_nonzero(t != 0))
            out['burden'][f'{split}/{sid}'] = {'tumour': tum, 'brain': br, 'burden': (tum / br) if tum else 0.0}
    # one sample zero-padded to 32 x 32 (the reader centres with floor((32 - n) / 2))
    # and area-averaged to 8 x 8 (4 x 4 blocks)
    sid = '00007000_4'
    d = os.path.join(SLICES, 'training', sid)
    files = os.listdir(d)
    chans = []
    ox, oy = (32 - X) // 2, (32 - Y) // 2
    for m in MODS + ['seg']:
        f = [x for x in files if f'_{m}_' in x][0]
        a = np.asanyarray(nib.load(os.path.join(d, f)).dataobj).astype(np.float64)
        if m == 'seg':
            a = (a > 0).astype(np.float64)
        p = np.zeros((32, 32))
        p[ox:ox + X, oy:oy + Y] = a
        r = p.reshape(8, 4, 8, 4).mean(axis=(1, 3))
        if m == 'seg':
            r = (r >= 0.5).astype(np.float64)
        chans.append(r.T.astype('<f4'))  # rows = j, columns = i
    with open(os.path.join(DFIX, 'slices-8.f32'), 'wb') as fh:
        for c in chans:
            fh.write(c.tobytes(order='C'))
    out['resized'] = {'sample': f'training/{sid}', 'file': 'slices-8.f32', 'size': 32, 'resize': 8}
    with open(os.path.join(DFIX, 'slices.json'), 'w') as fh:
        json.dump(out, fh, indent=1)


def label_fraction_fixture():
    # The label of slices-8.f32's sample as 4 x 4 block means of (seg > 0), unthresholded.
    sid = '00007000_4'
    d = os.path.join(SLICES, 'training', sid)
    f = [x for x in os.listdir(d) if '_seg_' in x][0]
    a = (np.asanyarray(nib.load(os.path.join(d, f)).dataobj) > 0).astype(np.float64)
    X, Y = a.shape[:2]
    p = np.zeros((32, 32))
    ox, oy = (32 - X) // 2, (32 - Y) // 2
    p[ox:ox + X, oy:oy + Y] = a.reshape(X, Y)
    r = p.reshape(8, 4, 8, 4).mean(axis=(1, 3))
    with open(os.path.join(DFIX, 'slices-8-fraction.f32'), 'wb') as fh:
        fh.write(r.T.astype('<f4').tobytes(order='C'))


if __name__ == '__main__':
    os.makedirs(FIX, exist_ok=True)
    os.makedirs(DFIX, exist_ok=True)
    if '--check-ts' in sys.argv:
        check_ts()
    elif '--sample' in sys.argv:
        sample_fixtures()
        print('wrote', os.path.join(DFIX, 'sample.json'))
    elif '--slices' in sys.argv:
        slices_fixture()
        label_fraction_fixture()
        print('wrote', SLICES)
    elif '--label-fraction' in sys.argv:
        label_fraction_fixture()
        print('wrote', os.path.join(DFIX, 'slices-8-fraction.f32'))
    else:
        sample_fixtures()
        synthetic_fixtures()
        ts_cases()
        brats_case_fixture()
        slices_fixture()
        label_fraction_fixture()
        print('wrote', FIX, 'and', DFIX)
