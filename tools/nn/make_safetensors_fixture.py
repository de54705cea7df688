#!/usr/bin/env python3
"""Writes an independent safetensors fixture for @tumorcast/nn's reader.

Uses only the standard library and numpy (run with Debian's /usr/bin/python3):
the format is an 8-byte little-endian header length, a JSON header, then raw
little-endian tensor data. Values and expected results go to a JSON file.
"""
import json
import struct
from pathlib import Path

import numpy as np

out = Path(__file__).resolve().parents[2] / "libs/nn/test/fixtures"
out.mkdir(parents=True, exist_ok=True)
rng = np.random.default_rng(20251128)

f32 = rng.standard_normal((2, 3, 4)).astype("<f4")
f16 = (rng.standard_normal((5,)) * 100).astype("<f2")
f64 = rng.standard_normal((3, 2)).astype("<f8")
i64 = np.array([-(2**40), -1, 0, 7, 2**53 + 1], dtype="<i8")
i32 = np.array([[1, -2], [3, 2**31 - 1]], dtype="<i4")
u8 = np.array([0, 1, 255], dtype="u1")
# bfloat16: the top 16 bits of float32 (round to nearest even).
bf_src = rng.standard_normal((4,)).astype("<f4")
bits = bf_src.view("<u4").astype(np.uint64)
bf_bits = ((bits + 0x7FFF + ((bits >> 16) & 1)) >> 16).astype("<u2")
bf_value = (bf_bits.astype("<u4") << 16).view("<f4")
scalar = np.array(3.5, dtype="<f4")

tensors = [
    ("conv.weight", "F32", f32),
    ("half", "F16", f16),
    ("double", "F64", f64),
    ("steps", "I64", i64),
    ("ints", "I32", i32),
    ("bytes", "U8", u8),
    ("brain", "BF16", bf_bits),
    ("scalar", "F32", scalar),
]
header = {"__metadata__": {"format": "pt", "producer": "tools/nn/make_safetensors_fixture.py"}}
blobs = []
offset = 0
for name, dtype, arr in tensors:
    b = arr.tobytes()
    header[name] = {"dtype": dtype, "shape": list(arr.shape), "data_offsets": [offset, offset + len(b)]}
    blobs.append(b)
    offset += len(b)
h = json.dumps(header).encode()
h += b" " * ((8 - len(h) % 8) % 8)
data = struct.pack("<Q", len(h)) + h + b"".join(blobs)
(out / "sample.safetensors").write_bytes(data)

expected = {
    "metadata": header["__metadata__"],
    "tensors": {
        "conv.weight": {"dtype": "F32", "shape": [2, 3, 4], "values": f32.ravel().tolist()},
        "half": {"dtype": "F16", "shape": [5], "values": f16.astype(np.float64).tolist()},
        "double": {"dtype": "F64", "shape": [3, 2], "values": f64.ravel().tolist()},
        "steps": {"dtype": "I64", "shape": [5], "values": [str(v) for v in i64.tolist()]},
        "ints": {"dtype": "I32", "shape": [2, 2], "values": i32.ravel().tolist()},
        "bytes": {"dtype": "U8", "shape": [3], "values": u8.tolist()},
        "brain": {"dtype": "BF16", "shape": [4], "values": bf_value.astype(np.float64).tolist()},
        "scalar": {"dtype": "F32", "shape": [], "values": [3.5]},
    },
}
(out / "sample.safetensors.json").write_text(json.dumps(expected, indent=1))
print("wrote", out / "sample.safetensors")
