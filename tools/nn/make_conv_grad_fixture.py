#!/usr/bin/env python3
"""Golden conv2d weight and input gradients from PyTorch (Debian's python3-torch).

For each case: x (NHWC), a filter w ([kh, kw, ci, co]), dy (NHWC),
dW = torch.nn.grad.conv2d_weight and dX = torch.nn.grad.conv2d_input in
float64, written in TensorFlow's layouts (dW as [kh, kw, ci, co], dX as NHWC)
to libs/nn/test/fixtures/conv-grad.json for the wasm Conv2DBackpropFilter and
Conv2DBackpropInput fills' tests. TensorFlow's 'same' padding can be asymmetric (the extra row/column at
the bottom/right); PyTorch pads symmetrically, so x is padded explicitly first.
Run with /usr/bin/python3 tools/nn/make_conv_grad_fixture.py.
"""
import json
import math
from pathlib import Path

import torch
import torch.nn.functional as F

OUT = Path(__file__).resolve().parents[2] / "libs/nn/test/fixtures/conv-grad.json"

# name, x shape (n, h, w, ci), kernel (kh, kw), co, strides (sh, sw), pad: 'same' | 'valid' | ((top, bottom), (left, right))
CASES = [
    ("3x3 stride 1 same", (2, 8, 8, 3), (3, 3), 4, (1, 1), "same"),
    ("3x3 stride 1 same, batch 3, odd size", (3, 7, 9, 5), (3, 3), 6, (1, 1), "same"),
    ("3x3 stride 2 same (asymmetric), even size", (2, 8, 8, 3), (3, 3), 5, (2, 2), "same"),
    ("3x3 stride 2 same, odd size", (1, 9, 7, 4), (3, 3), 3, (2, 2), "same"),
    ("3x3 stride 2 pad 1 (PyTorch), batch 3", (3, 9, 9, 4), (3, 3), 4, (2, 2), ((1, 1), (1, 1))),
    ("3x3 stride 2 valid, rows and columns left over", (1, 10, 8, 2), (3, 3), 3, (2, 2), "valid"),
    ("3x3 stride 1 valid, batch 1", (1, 5, 5, 1), (3, 3), 1, (1, 1), "valid"),
    ("3x3 stride 1 explicit asymmetric pads", (2, 6, 7, 3), (3, 3), 2, (1, 1), ((2, 0), (0, 1))),
    ("1x1 stride 1", (3, 6, 6, 8), (1, 1), 4, (1, 1), "valid"),
    ("1x1 stride 2, a row and column left over", (2, 6, 6, 3), (1, 1), 2, (2, 2), "valid"),
    ("4x4 stride 2 pad 1", (2, 8, 8, 3), (4, 4), 2, (2, 2), ((1, 1), (1, 1))),
    ("5x3 kernel, strides 2x1, same", (2, 9, 6, 3), (5, 3), 4, (2, 1), "same"),
    ("3x3 stride 1 same, 16x16, 16 to 8 channels", (2, 16, 16, 16), (3, 3), 8, (1, 1), "same"),
    ("3x3 stride 2 same, 16x16, 8 to 8 channels", (2, 16, 16, 8), (3, 3), 8, (2, 2), "same"),
    ("3x3 stride 3 same, odd size, batch 3", (3, 10, 11, 3), (3, 3), 4, (3, 3), "same"),
    ("3x3 stride 3 valid, rows and columns left over", (1, 11, 9, 2), (3, 3), 3, (3, 3), "valid"),
    ("2x2 stride 3 valid (kernel smaller than the stride)", (2, 9, 10, 3), (2, 2), 2, (3, 3), "valid"),
    ("1x1 stride 3 same, odd size", (1, 7, 8, 2), (1, 1), 3, (3, 3), "same"),
    ("3x3 stride 2 explicit asymmetric pads", (2, 9, 8, 3), (3, 3), 4, (2, 2), ((2, 0), (0, 1))),
    ("3x3 stride 2 pads larger than the kernel", (1, 7, 6, 2), (3, 3), 3, (2, 2), ((4, 1), (3, 5))),
    ("2x3 kernel, strides 3x2, same, odd size", (2, 8, 7, 3), (2, 3), 2, (3, 2), "same"),
]


def tf_pads(size, k, s, pad):
    """TensorFlow's (before, after) padding and output size along one axis."""
    if pad == "valid":
        return (0, 0), (size - k) // s + 1
    if pad == "same":
        out = math.ceil(size / s)
        total = max((out - 1) * s + k - size, 0)
        return (total // 2, total - total // 2), out
    before, after = pad
    return (before, after), (size + before + after - k) // s + 1


def main():
    gen = torch.Generator().manual_seed(20261206)
    cases = []
    for name, (n, h, w, ci), (kh, kw), co, (sh, sw), pad in CASES:
        (pt, pb), oh = tf_pads(h, kh, sh, pad if isinstance(pad, str) else pad[0])
        (pl, pr), ow = tf_pads(w, kw, sw, pad if isinstance(pad, str) else pad[1])
        # Four decimals: short in JSON, and the same float32 values once parsed in JavaScript.
        x = (torch.randn(n, h, w, ci, generator=gen, dtype=torch.float64) * 1e4).round() / 1e4
        dy = (torch.randn(n, oh, ow, co, generator=gen, dtype=torch.float64) * 1e4).round() / 1e4
        wt = (torch.randn(kh, kw, ci, co, generator=gen, dtype=torch.float64) * 1e4).round() / 1e4
        x, dy = x.float(), dy.float()
        xn = F.pad(x.double().permute(0, 3, 1, 2), (pl, pr, pt, pb))
        dw = torch.nn.grad.conv2d_weight(xn, (co, ci, kh, kw), dy.double().permute(0, 3, 1, 2), stride=(sh, sw))
        # Input gradient of the padded input, then the pad rows/columns cut off.
        dxn = torch.nn.grad.conv2d_input(xn.shape, wt.float().double().permute(3, 2, 0, 1), dy.double().permute(0, 3, 1, 2), stride=(sh, sw))
        dx = dxn[:, :, pt:pt + h, pl:pl + w]
        cases.append({
            "name": name,
            "xShape": [n, h, w, ci],
            "filterShape": [kh, kw, ci, co],
            "dyShape": [n, oh, ow, co],
            "strides": [sh, sw],
            "pad": pad if isinstance(pad, str) else [[0, 0], list(pad[0]), list(pad[1]), [0, 0]],
            "x": [round(v, 4) for v in x.double().flatten().tolist()],
            "dy": [round(v, 4) for v in dy.double().flatten().tolist()],
            "dw": [float(f"{v:.8g}") for v in dw.permute(2, 3, 1, 0).flatten().tolist()],
            "w": [round(v, 4) for v in wt.flatten().tolist()],
            "dx": [float(f"{v:.8g}") for v in dx.permute(0, 2, 3, 1).flatten().tolist()],
        })
    OUT.write_text(json.dumps({"source": f"torch {torch.__version__} torch.nn.grad.conv2d_weight and conv2d_input (float64)", "cases": cases}))
    print("wrote", OUT, len(cases), "cases")


if __name__ == "__main__":
    main()
