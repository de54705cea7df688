"""PyTorch timing of guided "sample known" for libs/guided-sampler/bench/sample.mjs.

    /usr/bin/python3 tools/diffusion/bench_reference.py '<json>'

JSON: {"nets": "unet" | "standin", "unet": {guided-diffusion UNetModel kwargs},
"regressor": {EncoderUNetModel kwargs}, "cases": [{"name", "respacing",
"noiseLevel", "batch", "reps"}], "scale": float}. "unet" uses
tools/networks/gd_nets.py (guided-diffusion's UNetModel) and authors_nets.py (the fork's EncoderUNetModel);
"standin" the small conv networks of StandInEps / StandInRegressor below (the
same as bench/nets.mjs). Same algorithm as reference.guided_sample_known
(invert L steps, guided DDIM decode L steps), CPU, float32,
torch.set_num_threads(2); one timed run (reps > 1: median after a warm-up).
Prints one JSON line: {"torch", "threads", "results": [{"name", "ms", "steps"}]}.
"""
import json
import os
import statistics
import sys
import time

import torch as th

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
import reference as R  # noqa: E402


class StandInEps(th.nn.Module):
    """conv3x3(C->32) + t/1000 * w_t + emb[y] -> SiLU -> conv3x3(32->32) -> SiLU -> conv3x3(32->2C)."""

    def __init__(self, c=4, hidden=32, classes=2):
        super().__init__()
        self.c1 = th.nn.Conv2d(c, hidden, 3, padding=1)
        self.c2 = th.nn.Conv2d(hidden, hidden, 3, padding=1)
        self.c3 = th.nn.Conv2d(hidden, 2 * c, 3, padding=1)
        self.wt = th.nn.Parameter(th.randn(hidden) * 0.1)
        self.emb = th.nn.Parameter(th.randn(classes, hidden) * 0.1)

    def forward(self, x, t, y=None):
        h = self.c1(x) + (self.wt[None] * (t[:, None] / 1000))[:, :, None, None]
        if y is not None:
            h = h + self.emb[y][:, :, None, None]
        h = th.nn.functional.silu(self.c2(th.nn.functional.silu(h)))
        return self.c3(h)


class StandInRegressor(th.nn.Module):
    """conv3x3 s2 (C->16) -> SiLU -> conv3x3 s2 (16->32) -> SiLU -> mean -> linear(32->1), x (1 + t/1000)."""

    def __init__(self, c=4):
        super().__init__()
        self.c1 = th.nn.Conv2d(c, 16, 3, stride=2, padding=1)
        self.c2 = th.nn.Conv2d(16, 32, 3, stride=2, padding=1)
        self.fc = th.nn.Linear(32, 1)

    def forward(self, x, t):
        h = th.nn.functional.silu(self.c2(th.nn.functional.silu(self.c1(x))))
        return self.fc(h.mean(dim=(2, 3)))[:, 0] * (1 + t / 1000)


def main():
    th.set_num_threads(2)
    th.manual_seed(0)
    cfg = json.loads(sys.argv[1])
    if cfg["nets"] == "unet":
        sys.path.insert(0, os.path.join(HERE, "..", "networks"))
        import gd_nets as G  # noqa: E402
        import authors_nets as A  # noqa: E402
        unet = G.UNetModel(**cfg["unet"]).eval()
        enc = A.AuthorsEncoderUNetModel(**cfg["regressor"]).eval()  # `regression` picks the head
        model = lambda x, t, y=None: unet(x, t, y)  # noqa: E731
        regressor = lambda x, t: enc(x, t)[:, 0]  # noqa: E731
        size, ch = cfg["unet"]["image_size"], cfg["unet"]["in_channels"]
    else:
        model = StandInEps().eval()
        regressor = StandInRegressor().eval()
        size, ch = 64, 4
    results = []
    for c in cfg["cases"]:
        d = R.create_diffusion(1000, "linear", learn_sigma=True, respacing=c.get("respacing", ""))
        b = c.get("batch", 1)
        img = th.rand(b, ch, size, size) * 2 - 1

        def run():
            return R.guided_sample_known(d, model, regressor, img, [0.05] * b, [0.3] * b, c["noiseLevel"],
                                         cfg.get("scale", 200000.0), 1, True, th.randn_like(img) * 0.01)

        # No separate warm-up (the tfjs side times its first run too); with
        # reps > 1 the first run is the warm-up.
        out = run() if c.get("reps", 1) > 1 else None
        ts = []
        for _ in range(c.get("reps", 1)):
            t0 = time.perf_counter()
            out = run()
            ts.append((time.perf_counter() - t0) * 1000)
        ms = statistics.median(ts)
        results.append({"name": c["name"], "ms": ms, "steps": out["steps"]})
        print(f"torch {c['name']}: {ms:.0f} ms ({out['steps']} steps)", file=sys.stderr)
    print(json.dumps({"torch": th.__version__, "threads": th.get_num_threads(), "results": results}))


if __name__ == "__main__":
    main()
