"""Write safetensors files with plain numpy + json (no `safetensors` package).

Format: 8-byte little-endian header length N, N bytes of JSON header
({name: {dtype, shape, data_offsets: [begin, end]}, "__metadata__": {...}},
padded with spaces to a multiple of 8), then the raw little-endian data.
"""
import json
import os

import numpy as np

_DTYPES = {
    np.dtype('float32'): 'F32',
    np.dtype('float16'): 'F16',
    np.dtype('float64'): 'F64',
    np.dtype('int64'): 'I64',
    np.dtype('int32'): 'I32',
    np.dtype('uint8'): 'U8',
}


def save_safetensors(path, tensors, metadata=None):
    """tensors: dict name -> numpy array (C-contiguous, little-endian)."""
    header = {}
    blobs = []
    offset = 0
    for name in sorted(tensors):
        arr = np.ascontiguousarray(tensors[name])
        dtype = _DTYPES[arr.dtype]
        raw = arr.astype(arr.dtype.newbyteorder('<'), copy=False).tobytes()
        header[name] = {'dtype': dtype, 'shape': list(arr.shape), 'data_offsets': [offset, offset + len(raw)]}
        blobs.append(raw)
        offset += len(raw)
    if metadata:
        header['__metadata__'] = {str(k): str(v) for k, v in metadata.items()}
    hjson = json.dumps(header, separators=(',', ':')).encode('utf-8')
    hjson += b' ' * ((8 - len(hjson) % 8) % 8)
    tmp = path + '.tmp'
    with open(tmp, 'wb') as f:
        f.write(len(hjson).to_bytes(8, 'little'))
        f.write(hjson)
        for b in blobs:
            f.write(b)
    os.replace(tmp, path)


def load_safetensors(path):
    """Reads F32/F16/F64/I64/I32/U8 tensors; returns (dict name -> array, metadata)."""
    inv = {v: k for k, v in _DTYPES.items()}
    with open(path, 'rb') as f:
        data = f.read()
    n = int.from_bytes(data[:8], 'little')
    header = json.loads(data[8:8 + n])
    meta = header.pop('__metadata__', {})
    base = 8 + n
    out = {}
    for name, info in header.items():
        b, e = info['data_offsets']
        out[name] = np.frombuffer(data[base + b:base + e], dtype=inv[info['dtype']].newbyteorder('<')).reshape(info['shape'])
    return out, meta
