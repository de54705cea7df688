"""Golden values for @tumorcast/diffusion's schedule bounds (betas in (0, 1]).

Run with Debian's interpreter (numpy):
    /usr/bin/python3 tools/diffusion/make_schedule_bounds_fixture.py
Writes libs/diffusion/test/fixtures/schedule-bounds.json:
- linearMaxBeta: the largest beta of the numpy linear schedule for T = 2 .. 40
  (guided-diffusion refuses T whose largest beta exceeds 1);
- schedules: every GaussianDiffusion array of the shortest linear process the
  bound allows (T = 20, last beta exactly 1, so alpha_bar reaches 0) and of a
  short cosine process (T = 10); infinities (1/sqrt(alpha_bar) at alpha_bar = 0)
  are written as null.
"""
import json
import math
import os

import numpy as np

import reference as R

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
OUT = os.path.join(ROOT, "libs/diffusion/test/fixtures/schedule-bounds.json")


def arr(x):
    return [float(v) if math.isfinite(v) else None for v in np.asarray(x, dtype=np.float64).ravel()]


def main():
    out = {"linearMaxBeta": {str(T): float(R.get_named_beta_schedule("linear", T).max()) for T in range(2, 41)},
           "schedules": {}}
    with np.errstate(divide="ignore"):
        for name, T in [("linear", 20), ("cosine", 10)]:
            d = R.create_diffusion(T, name)
            assert np.all(d.betas > 0) and np.all(d.betas <= 1)
            out["schedules"][f"{name}{T}"] = {k: arr(getattr(d, k)) for k in R.Diffusion.ARRAYS}
    with open(OUT, "w") as f:
        json.dump(out, f, separators=(",", ":"))
    print(OUT, os.path.getsize(OUT), "bytes")


if __name__ == "__main__":
    main()
