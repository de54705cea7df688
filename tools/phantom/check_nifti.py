#!/usr/bin/python3
"""Independent check of phantom NIfTI files with Debian's nibabel.

Usage: /usr/bin/python3 tools/phantom/check_nifti.py DATASET_DIR [--out FILE]

Loads every *.nii / *.nii.gz under DATASET_DIR with nibabel, checks that it is
a 2-D float32 NIfTI-1 image with a diagonal affine (qform and sform codes set,
pixdim = pixel spacing), that every file named in manifest.json exists, and
prints (or writes) a JSON summary per file: shape, dtype, zooms, affine,
qform/sform codes, min, max, sum and number of non-zero voxels, computed by
numpy, plus the argmax position and a few samples as nibabel's data[i, j]
(orientation check). The phantom package's tests compare their own reading of the same files
against a committed summary (libs/phantom/test/fixtures/nibabel-summary.json).
"""
import json
import os
import sys

import nibabel as nib
import numpy as np


def summarise(path):
    img = nib.load(path)
    hdr = img.header
    data = np.asanyarray(img.dataobj)
    zooms = [float(z) for z in hdr.get_zooms()]
    aff = img.affine
    problems = []
    if not isinstance(img, nib.Nifti1Image):
        problems.append("not NIfTI-1")
    if data.ndim != 2:
        problems.append(f"ndim {data.ndim}")
    if hdr.get_data_dtype() != np.float32:
        problems.append(f"dtype {hdr.get_data_dtype()}")
    if int(hdr["qform_code"]) == 0 or int(hdr["sform_code"]) == 0:
        problems.append("qform/sform code 0")
    if not np.allclose(aff, np.diag([zooms[0], zooms[1], 1.0, 1.0])):
        problems.append("affine not diagonal with the spacing")
    if not np.allclose(img.get_qform(), aff):
        problems.append("qform differs from sform")
    if not np.all(np.isfinite(data)):
        problems.append("non-finite values")
    return {
        "shape": list(data.shape),
        "dtype": str(hdr.get_data_dtype()),
        "zooms": zooms,
        "affine": aff.tolist(),
        "qform_code": int(hdr["qform_code"]),
        "sform_code": int(hdr["sform_code"]),
        "vox_offset": int(img.dataobj.offset),
        "min": float(data.min()),
        "max": float(data.max()),
        "sum": float(data.astype(np.float64).sum()),
        "nonzero": int(np.count_nonzero(data)),
        # Orientation check: nibabel's data[i, j]; i is the first (fastest on disk) axis.
        "argmax": [int(v) for v in np.unravel_index(int(np.argmax(data)), data.shape)],
        "samples": {f"{i},{j}": float(data[i, j]) for i, j in
                    [(data.shape[0] // 2, data.shape[1] // 4), (data.shape[0] // 3, data.shape[1] // 2),
                     (data.shape[0] // 2, data.shape[1] // 2)]} if data.ndim == 2 else {},
        "problems": problems,
    }


def main():
    args = sys.argv[1:]
    if not args:
        print(__doc__, file=sys.stderr)
        return 2
    root = args[0]
    out = args[args.index("--out") + 1] if "--out" in args else None
    files = {}
    for d, _, names in os.walk(root):
        for n in sorted(names):
            if n.endswith(".nii") or n.endswith(".nii.gz"):
                p = os.path.join(d, n)
                files[os.path.relpath(p, root)] = summarise(p)
    missing = []
    man_path = os.path.join(root, "manifest.json")
    if os.path.exists(man_path):
        with open(man_path) as f:
            man = json.load(f)
        listed = []
        for p in man.get("testing", []):
            for s in p["slices"]:
                listed += list(s["baseline"].values()) + list(s["followup"].values())
        for t in man.get("training", []):
            listed += list(t["files"].values())
        missing = [p for p in listed if p not in files]
    bad = {k: v["problems"] for k, v in files.items() if v["problems"]}
    result = {"nibabel": nib.__version__, "numpy": np.__version__, "files": dict(sorted(files.items())),
              "missing": missing, "bad": bad}
    text = json.dumps(result, indent=1, sort_keys=True) + "\n"
    if out:
        tmp = out + ".tmp"
        with open(tmp, "w") as f:
            f.write(text)
        os.replace(tmp, out)
    else:
        sys.stdout.write(text)
    return 1 if (missing or bad or not files) else 0


if __name__ == "__main__":
    sys.exit(main())
