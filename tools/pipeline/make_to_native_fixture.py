"""Golden values for toNative of @tumorcast/pipeline: PyTorch's bilinear
upsampling with half-pixel centres (F.interpolate, align_corners=False) of a
small random image to 256 x 256, then the centre crop that undoes the data
set's zero padding to 256 (offset floor((256 - side) / 2) on each axis).

Run: /usr/bin/python3 tools/pipeline/make_to_native_fixture.py
Writes libs/pipeline/test/fixtures/to-native.json.
"""
import json
import os

import numpy as np
import torch
import torch.nn.functional as F

rng = np.random.default_rng(20260)
size, channels = 8, 2
img = rng.random((size, size, channels), dtype=np.float32)  # HWC
x = torch.from_numpy(img).permute(2, 0, 1)[None]  # NCHW
up = F.interpolate(x, size=(256, 256), mode="bilinear", align_corners=False)[0].permute(1, 2, 0).numpy()  # HWC float32

cases = []
for width, height in [(250, 236), (6, 4)]:
    ox, oy = (256 - width) // 2, (256 - height) // 2
    crop = up[oy:oy + height, ox:ox + width, :]
    flat = crop.reshape(-1)
    if flat.size <= 64:
        idx = np.arange(flat.size)
    else:
        idx = np.sort(rng.choice(flat.size, 300, replace=False))
    cases.append({"width": width, "height": height, "index": idx.tolist(), "value": [float(v) for v in flat[idx]]})

out = {"size": size, "channels": channels, "image": [float(v) for v in img.reshape(-1)], "cases": cases,
       "note": "F.interpolate(bilinear, align_corners=False) to 256x256, centre crop; values float32"}
path = os.path.join(os.path.dirname(__file__), "..", "..", "libs", "pipeline", "test", "fixtures", "to-native.json")
with open(path, "w") as f:
    json.dump(out, f)
print("wrote", os.path.normpath(path))
