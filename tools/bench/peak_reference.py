#!/usr/bin/env python3
"""PyTorch side of tools/bench/peak.mjs: the same matrix products and 3x3
convolutions (forward, weight gradient, input gradient) timed natively.

Usage: /usr/bin/python3 tools/bench/peak_reference.py '<cases JSON>' (the
thread count comes from BENCH_TORCH_THREADS, default 1; BENCH_REPS sets the
repetitions, default 5). Prints one JSON line: {"torch", "threads", "results":
[{"name", "op", "ms", "cpuMs"}]} with the fastest wall-clock and process-CPU
times of the repetitions after one warm-up.
Padding is PyTorch's symmetric one (1 for a 3x3 kernel): the same output
sizes and multiply-adds as TensorFlow's 'same' in peak.mjs.
"""
import json
import os
import sys
import time

import torch
import torch.nn.functional as F
from torch.nn import grad as nn_grad


def fastest(fn, reps):
    """Fastest wall-clock and process-CPU milliseconds of `reps` calls after one warm-up."""
    fn()
    wall = cpu = float("inf")
    for _ in range(reps):
        c0, t0 = time.process_time(), time.perf_counter()
        fn()
        wall = min(wall, time.perf_counter() - t0)
        cpu = min(cpu, time.process_time() - c0)
    return {"ms": wall * 1000, "cpuMs": cpu * 1000}


def main():
    cases = json.loads(sys.argv[1])
    threads = int(os.environ.get("BENCH_TORCH_THREADS", "1"))
    reps = int(os.environ.get("BENCH_REPS", "5"))
    torch.set_num_threads(threads)
    torch.manual_seed(0)
    results = []
    with torch.no_grad():
        for c in cases:
            if c["kind"] == "matmul":
                m, k, n = c["m"], c["k"], c["n"]
                a, b = torch.randn(m, k), torch.randn(k, n)
                results.append({"name": c["name"], "op": "matmul", **fastest(lambda: a @ b, reps)})
                continue
            bt, size, ci, co, s = c["batch"], c["size"], c["ci"], c["co"], c["stride"]
            x = torch.randn(bt, ci, size, size)
            w = torch.randn(co, ci, 3, 3)
            y = F.conv2d(x, w, stride=s, padding=1)
            dy = torch.randn_like(y)
            ops = {
                "forward": lambda: F.conv2d(x, w, stride=s, padding=1),
                "dW": lambda: nn_grad.conv2d_weight(x, w.shape, dy, stride=s, padding=1),
                "dX": lambda: nn_grad.conv2d_input(x.shape, w, dy, stride=s, padding=1),
            }
            for op in c["ops"]:
                if op in ops:
                    results.append({"name": c["name"], "op": op, **fastest(ops[op], reps)})
    print(json.dumps({"torch": torch.__version__, "threads": torch.get_num_threads(), "results": results}))


if __name__ == "__main__":
    main()
