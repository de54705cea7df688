#!/usr/bin/env python3
"""Golden AdamW trajectory from torch.optim.AdamW (Debian's python3-torch)."""
import json
from pathlib import Path

import torch

torch.manual_seed(0)
out = Path(__file__).resolve().parents[2] / "libs/nn/test/fixtures/adamw.json"
w0 = torch.randn(3, 4)
b0 = torch.randn(4)
grads = [(torch.randn(3, 4), torch.randn(4)) for _ in range(5)]
cases = []
for lr, wd in [(1e-3, 0.0), (1e-2, 0.1)]:
    w = torch.nn.Parameter(w0.clone())
    b = torch.nn.Parameter(b0.clone())
    opt = torch.optim.AdamW([w, b], lr=lr, betas=(0.9, 0.999), eps=1e-8, weight_decay=wd)
    for gw, gb in grads:
        w.grad = gw.clone()
        b.grad = gb.clone()
        opt.step()
    cases.append({"lr": lr, "weight_decay": wd, "w": w.detach().flatten().tolist(), "b": b.detach().flatten().tolist()})
out.write_text(json.dumps({
    "w0": w0.flatten().tolist(), "b0": b0.flatten().tolist(),
    "grads": [[gw.flatten().tolist(), gb.flatten().tolist()] for gw, gb in grads],
    "cases": cases,
}))
print("wrote", out)
