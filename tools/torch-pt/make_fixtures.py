#!/usr/bin/python3
"""Golden fixtures for @tumorcast/nn's PyTorch .pt/.pth reader (libs/nn/src/torch).

Run with Debian's interpreter (python3-torch, python3-numpy):

    /usr/bin/python3 tools/torch-pt/make_fixtures.py

Writes small files to libs/nn/test/fixtures/torch/:

- ``*.pt`` written by ``torch.save`` (zip format; one legacy non-zip file), plus
  copies altered with Python's ``zipfile`` (deflate-compressed, big-endian
  byteorder record, truncated);
- ``expected.json``: for each readable fixture, every tensor's name, dtype,
  shape and values in row-major (logical) order, as torch itself reports them;
- ``pickles.json``: ``pickle.dumps`` output (base64) of plain Python values at
  several protocols with a tagged JSON description of the value, to test the
  unpickler against CPython's pickler.

Value encoding in the JSON: finite floats are JSON numbers (exact: Python's
``repr`` round-trips); ``"nan"``, ``"inf"``, ``"-inf"`` for non-finite floats;
64-bit integers as decimal strings; float16/bfloat16 tensors also carry
``bits`` (the raw 16-bit patterns) and their ``values`` are the exact float32
widening of those bits.
"""
import base64
import collections
import io
import json
import math
import os
import pickle
import struct
import sys
import zipfile

import torch
import torch.nn as nn

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
OUT = os.path.join(ROOT, 'libs', 'nn', 'test', 'fixtures', 'torch')

DTYPE_NAMES = {
    torch.float32: 'float32',
    torch.float64: 'float64',
    torch.float16: 'float16',
    torch.bfloat16: 'bfloat16',
    torch.int64: 'int64',
    torch.int32: 'int32',
    torch.int16: 'int16',
    torch.int8: 'int8',
    torch.uint8: 'uint8',
    torch.bool: 'bool',
}


def enc_float(x):
    x = float(x)
    if math.isnan(x):
        return 'nan'
    if math.isinf(x):
        return 'inf' if x > 0 else '-inf'
    return x


def describe(t):
    """Name-independent description of a tensor: dtype, shape, values, bits."""
    t = t.detach()
    d = {'dtype': DTYPE_NAMES[t.dtype], 'shape': list(t.shape)}
    flat = t.contiguous().reshape(-1)
    if t.dtype in (torch.float16, torch.bfloat16):
        d['bits'] = [int(v) & 0xFFFF for v in flat.view(torch.int16).tolist()]
        d['values'] = [enc_float(v) for v in flat.float().tolist()]
    elif t.dtype in (torch.float32, torch.float64):
        d['values'] = [enc_float(v) for v in flat.tolist()]
    elif t.dtype == torch.int64:
        d['values'] = [str(int(v)) for v in flat.tolist()]
    elif t.dtype == torch.bool:
        d['values'] = [bool(v) for v in flat.tolist()]
    else:
        d['values'] = [int(v) for v in flat.tolist()]
    return d


def describe_dict(sd):
    return {k: describe(v) for k, v in sd.items()}


class Tiny(nn.Module):
    """Conv + GroupNorm + BatchNorm + Linear: the layer kinds the U-Net uses."""

    def __init__(self):
        super().__init__()
        self.conv = nn.Conv2d(3, 4, 3, padding=1)
        self.norm = nn.GroupNorm(2, 4)
        self.bn = nn.BatchNorm2d(4)
        self.fc = nn.Linear(4, 2)


class FromTypeV2:
    """Pickles as _rebuild_from_type_v2(_rebuild_tensor_v2, Tensor, args, state)."""

    def __init__(self, base, size, stride):
        self.base, self.size, self.stride = base, size, stride

    def __reduce__(self):
        args = (self.base.storage(), 0, self.size, self.stride, False, collections.OrderedDict())
        return (torch._tensor._rebuild_from_type_v2,
                (torch._utils._rebuild_tensor_v2, torch.Tensor, args, {'note': 'python attribute'}))


def tiny_state_dict(seed):
    torch.manual_seed(seed)
    m = Tiny()
    with torch.no_grad():
        m.norm.weight.uniform_(0.5, 1.5)
        m.norm.bias.uniform_(-0.5, 0.5)
        m.bn.running_mean.uniform_(-1, 1)
        m.bn.running_var.uniform_(0.5, 2)
        m.bn.num_batches_tracked.fill_(7)
    return m, m.state_dict()


def save(obj, name, **kw):
    path = os.path.join(OUT, name)
    torch.save(obj, path, **kw)
    return path


def write_inherited_key_pickle():
    """A crafted pickle naming 'torch.constructor': a name that a plain-object
    lookup finds through the prototype chain, so it must not pass for a storage type."""
    pkl = b'\x80\x02ctorch\nconstructor\nq\x00.'
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, 'w') as z:
        z.writestr(fixed_info('inherited/data.pkl'), pkl)
        z.writestr(fixed_info('inherited/version'), '3\n')
    with open(os.path.join(OUT, 'inherited_key.pt'), 'wb') as f:
        f.write(buf.getvalue())


def fixed_info(name):
    """A zip entry with a fixed timestamp, so that fixtures are reproducible."""
    info = zipfile.ZipInfo(name, date_time=(1980, 1, 1, 0, 0, 0))
    info.external_attr = 0o644 << 16
    return info


def rezip(src, dst, transform=None, compression=zipfile.ZIP_STORED):
    """Copy a zip, optionally transforming entries (name, bytes) -> list of (name, bytes)."""
    with zipfile.ZipFile(src) as zin, zipfile.ZipFile(dst, 'w', compression=compression) as zout:
        for info in zin.infolist():
            data = zin.read(info.filename)
            items = transform(info.filename, data) if transform else [(info.filename, data)]
            for n, b in items:
                zout.writestr(fixed_info(n), b, compress_type=compression)


def write_zip64(src, dst):
    """Rewrites a zip (stored entries) with ZIP64 central directory and end records."""
    with zipfile.ZipFile(src) as zin:
        entries = [(i.filename, zin.read(i.filename)) for i in zin.infolist()]
    out = bytearray()
    central = bytearray()
    for name, data in entries:
        nm = name.encode()
        crc = zipfile.crc32(data) & 0xFFFFFFFF
        offset = len(out)
        # Local header: ZIP64 extra with both sizes, 0xFFFFFFFF in the fixed fields.
        local_extra = struct.pack('<HHQQ', 1, 16, len(data), len(data))
        out += struct.pack('<IHHHHHIIIHH', 0x04034b50, 45, 0, 0, 0, 0x21, crc, 0xFFFFFFFF, 0xFFFFFFFF,
                           len(nm), len(local_extra)) + nm + local_extra + data
        # Central header: sizes and local header offset in the ZIP64 extra, in that order.
        extra = struct.pack('<HHQQQ', 1, 24, len(data), len(data), offset)
        central += struct.pack('<IHHHHHHIIIHHHHHII', 0x02014b50, 45, 45, 0, 0, 0, 0x21, crc, 0xFFFFFFFF,
                               0xFFFFFFFF, len(nm), len(extra), 0, 0, 0, 0o644 << 16, 0xFFFFFFFF) + nm + extra
    cd_offset = len(out)
    out += central
    z64_offset = len(out)
    out += struct.pack('<IQHHIIQQQQ', 0x06064b50, 44, 45, 45, 0, 0, len(entries), len(entries), len(central), cd_offset)
    out += struct.pack('<IIQI', 0x07064b50, 0, z64_offset, 1)
    out += struct.pack('<IHHHHIIH', 0x06054b50, 0, 0, 0xFFFF, 0xFFFF, 0xFFFFFFFF, 0xFFFFFFFF, 0)
    with open(dst, 'wb') as f:
        f.write(out)


def main():
    os.makedirs(OUT, exist_ok=True)
    for f in os.listdir(OUT):
        os.remove(os.path.join(OUT, f))
    expected = {}

    # 1. A tiny module's state_dict (archive prefix 'tiny/').
    model, sd = tiny_state_dict(0)
    save(sd, 'tiny.pt')
    expected['tiny.pt'] = describe_dict(sd)

    # 2. Every supported dtype, special values, 0-d and empty tensors.
    f16 = torch.tensor([0.0, -0.0, 1.0, -2.5, 65504.0, 6e-8, 1e-5, 0.1, float('inf'), float('-inf'), float('nan')],
                       dtype=torch.float16)
    bf16 = torch.tensor([0.0, -0.0, 1.0, -2.5, 3.0e38, 1e-30, 0.1, float('inf'), float('nan')], dtype=torch.bfloat16)
    dtypes = collections.OrderedDict([
        ('f32', torch.tensor([[1.5, -2.25, 3.0e-39], [float('inf'), float('nan'), -0.0]], dtype=torch.float32)),
        ('f16', f16),
        ('bf16', bf16.reshape(3, 3)),
        ('f64', torch.tensor([0.1, -1e300, 5e-324, 1.0 / 3.0], dtype=torch.float64)),
        ('i64', torch.tensor([0, -1, 2**53 + 1, -2**63, 2**63 - 1], dtype=torch.int64)),
        ('i32', torch.tensor([[0, -1], [2**31 - 1, -2**31]], dtype=torch.int32)),
        ('i16', torch.tensor([0, -1, 32767, -32768], dtype=torch.int16)),
        ('i8', torch.tensor([0, -1, 127, -128], dtype=torch.int8)),
        ('u8', torch.tensor([0, 1, 128, 255], dtype=torch.uint8)),
        ('bool', torch.tensor([[True, False, True], [False, False, True]])),
        ('scalar', torch.tensor(3.25)),
        ('empty', torch.zeros(0, 3)),
    ])
    save(dtypes, 'dtypes.pt')
    expected['dtypes.pt'] = describe_dict(dtypes)

    # 3. Views: non-contiguous strides, storage offsets, shared storage, stride 0.
    base = torch.arange(24, dtype=torch.float32).reshape(4, 6)
    shared = torch.arange(10, dtype=torch.float32)
    views = collections.OrderedDict([
        ('transposed', base.t()),
        ('sliced', base[1:, 2:5]),
        ('stepped', base[::2, ::3]),
        ('shared_whole', shared),
        ('shared_tail', shared[4:]),
        ('expanded', torch.tensor([1.0, 2.0, 3.0]).expand(2, 3)),
        ('channels_last', torch.arange(2 * 3 * 2 * 2, dtype=torch.float32).reshape(2, 3, 2, 2)
         .contiguous(memory_format=torch.channels_last)),
        ('permuted_f16', torch.arange(6, dtype=torch.float16).reshape(2, 3).t()),
    ])
    for k, v in views.items():
        assert k in ('shared_whole',) or not v.is_contiguous() or k == 'shared_tail', k
    save(views, 'views.pt')
    expected['views.pt'] = describe_dict(views)
    expected['views.pt']['_strides'] = {k: list(v.stride()) for k, v in views.items()}

    # 4. DataParallel-style 'module.' prefix.
    _, sd1 = tiny_state_dict(1)
    dp = collections.OrderedDict(('module.' + k, v) for k, v in sd1.items())
    save(dp, 'dataparallel.pt')
    expected['dataparallel.pt'] = describe_dict(dp)

    # 5. A nested training checkpoint (optimizer state has int keys, tuples, None, bools).
    model2, sd2 = tiny_state_dict(2)
    opt = torch.optim.Adam(model2.parameters(), lr=1e-3)
    model2.train()
    loss = model2.fc(model2.bn(model2.norm(model2.conv(torch.ones(1, 3, 4, 4)))).mean(dim=(2, 3))).sum()
    loss.backward()
    opt.step()
    sd2 = model2.state_dict()
    _, sd3 = tiny_state_dict(3)
    ckpt = {
        'model': sd2,
        'step': 10,
        'loss': 0.25,
        'name': 'run-1',
        'flags': [True, False, None],
        'betas': (0.9, 0.999),
        'optimizer': opt.state_dict(),
        'ema': {'decay': 0.9999, 'state_dict': sd3},
    }
    save(ckpt, 'checkpoint.pt')
    expected['checkpoint.pt'] = {
        'model': describe_dict(sd2),
        'ema.state_dict': describe_dict(sd3),
        'optimizer.state.0.exp_avg': describe(opt.state_dict()['state'][0]['exp_avg']),
        'optimizer.param_groups.0.lr': opt.state_dict()['param_groups'][0]['lr'],
        'optimizer.param_groups.0.params': opt.state_dict()['param_groups'][0]['params'],
    }

    # 6. nn.Parameter values (torch._utils._rebuild_parameter).
    torch.manual_seed(4)
    params = collections.OrderedDict([
        ('w', nn.Parameter(torch.randn(2, 3))),
        ('frozen', nn.Parameter(torch.randn(3), requires_grad=False)),
    ])
    save(params, 'params.pt')
    expected['params.pt'] = describe_dict(params)

    # 7. Pickle protocol 4 (FRAME, MEMOIZE, STACK_GLOBAL, SHORT_BINUNICODE).
    save(sd, 'protocol4.pt', pickle_protocol=4)
    expected['protocol4.pt'] = expected['tiny.pt']

    # 8. The same archive, deflate-compressed by Python's zipfile.
    rezip(os.path.join(OUT, 'tiny.pt'), os.path.join(OUT, 'deflated.pt'), compression=zipfile.ZIP_DEFLATED)
    expected['deflated.pt'] = expected['tiny.pt']

    # 9. A big-endian archive: byteorder record 'big' and byte-swapped storages.
    itemsize = {'f32': 4, 'f16': 2, 'bf16': 2, 'f64': 8, 'i64': 8, 'i32': 4, 'i16': 2, 'i8': 1, 'u8': 1, 'bool': 1,
                'scalar': 4, 'empty': 4}
    storage_size = {}
    with zipfile.ZipFile(os.path.join(OUT, 'dtypes.pt')) as z:
        # storage keys are assigned in pickling order: one storage per entry here.
        for i, k in enumerate(dtypes.keys()):
            storage_size[str(i)] = itemsize[k]

    def to_big(name, data):
        if name.endswith('/version'):
            return [(name, data), (name[:-len('version')] + 'byteorder', b'big')]
        parts = name.split('/')
        if len(parts) == 3 and parts[1] == 'data':
            n = storage_size[parts[2]]
            swapped = b''.join(data[i:i + n][::-1] for i in range(0, len(data), n))
            return [(name, swapped)]
        return [(name, data)]

    rezip(os.path.join(OUT, 'dtypes.pt'), os.path.join(OUT, 'bigendian.pt'), transform=to_big)
    expected['bigendian.pt'] = expected['dtypes.pt']

    # 9b. The same archive with ZIP64 records (as torch writes for files over 4 GiB):
    # saturated sizes, offsets and counts, the real values in ZIP64 extra fields.
    write_zip64(os.path.join(OUT, 'tiny.pt'), os.path.join(OUT, 'zip64.pt'))
    with zipfile.ZipFile(os.path.join(OUT, 'zip64.pt')) as z64, zipfile.ZipFile(os.path.join(OUT, 'tiny.pt')) as z:
        assert z64.namelist() == z.namelist() and all(z64.read(n) == z.read(n) for n in z.namelist())
    loaded = torch.load(os.path.join(OUT, 'zip64.pt'))
    assert all(torch.equal(loaded[k], sd[k]) for k in sd)
    expected['zip64.pt'] = expected['tiny.pt']

    # 9c. The legacy (PyTorch < 1.6) non-zip format (its storage keys are memory addresses: not reproducible).
    save(sd, 'legacy.pt', _use_new_zipfile_serialization=False)
    expected['legacy.pt'] = expected['tiny.pt']

    # 9d. Tensors pickled through torch._tensor._rebuild_from_type_v2 (as PyTorch 2.x
    # does for tensors with Python attributes), checked by torch.load.
    base2 = torch.arange(6, dtype=torch.float32) * 0.5
    wrapped = collections.OrderedDict([('x', FromTypeV2(base2, (2, 3), (3, 1))), ('y', FromTypeV2(base2, (3, 2), (1, 3)))])
    save(wrapped, 'from_type_v2.pt')
    back = torch.load(os.path.join(OUT, 'from_type_v2.pt'))
    assert torch.equal(back['x'], base2.reshape(2, 3)) and torch.equal(back['y'], base2.reshape(2, 3).t())
    expected['from_type_v2.pt'] = describe_dict(back)

    # 10. Files that must be refused with a clear error.
    with open(os.path.join(OUT, 'tiny.pt'), 'rb') as f:
        full = f.read()
    with open(os.path.join(OUT, 'truncated.pt'), 'wb') as f:
        f.write(full[: len(full) // 2])
    save(model, 'whole_module.pt')  # pickles __main__.Tiny: must not be executed
    save({'z': torch.tensor([1 + 2j], dtype=torch.complex64)}, 'complex.pt')

    def drop_storage(name, data):
        return [] if name.endswith('/data/0') else [(name, data)]

    rezip(os.path.join(OUT, 'tiny.pt'), os.path.join(OUT, 'missing_storage.pt'), transform=drop_storage)

    # A crafted pickle: the reduce target os.system must never run.
    evil = b'\x80\x02cos\nsystem\nX\x04\x00\x00\x00true\x85R.'
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, 'w') as z:
        z.writestr(fixed_info('evil/data.pkl'), evil)
        z.writestr(fixed_info('evil/version'), '3\n')
    with open(os.path.join(OUT, 'evil.pt'), 'wb') as f:
        f.write(buf.getvalue())
    write_inherited_key_pickle()

    with open(os.path.join(OUT, 'expected.json'), 'w') as f:
        json.dump(expected, f, indent=1, sort_keys=True)
        f.write('\n')

    write_pickles()

    total = sum(os.path.getsize(os.path.join(OUT, f)) for f in os.listdir(OUT))
    print(f'wrote {len(os.listdir(OUT))} files, {total} bytes, to {OUT} (torch {torch.__version__})')
    assert total < 1_000_000


def tag(v):
    """Tagged JSON for a plain Python value (see libs/nn/src/torch/pickle.test.ts)."""
    if v is None or isinstance(v, bool) or isinstance(v, str):
        return v
    if isinstance(v, int):
        return v if abs(v) <= 2**53 - 1 else {'$int': str(v)}
    if isinstance(v, float):
        return {'$float': enc_float(v)} if not math.isfinite(v) or v == 0 and math.copysign(1, v) < 0 else v
    if isinstance(v, (bytes, bytearray)):
        return {'$bytes': base64.b64encode(bytes(v)).decode()}
    if isinstance(v, (list, tuple)):
        return [tag(x) for x in v]
    if isinstance(v, dict):
        return {'$dict': [[tag(k), tag(x)] for k, x in v.items()]}
    raise TypeError(type(v))


def write_pickles():
    shared = [1, 2]
    values = {
        'ints': [0, 1, 255, 256, 65535, 65536, -1, -256, 2**31 - 1, -2**31, 2**31, 2**40, 2**53 - 1, 2**53,
                 2**63 - 1, -2**63, 2**70, -2**100],
        'floats': [0.0, -0.0, 1.5, -1e300, 5e-324, float('inf'), float('-inf'), float('nan'), 0.1],
        'strings': ['', 'a', 'é', '日本語', '🧠', 'x' * 300],
        'consts': [None, True, False],
        'nested': {'a': [1, (2, 3), {'b': None}], 7: 'int key', (1, 2): 'tuple key', -3: [], 'e': {}, 't': ()},
        'tuples': [(), (1,), (1, 2), (1, 2, 3), (1, 2, 3, 4)],
        'shared': [shared, shared, {'x': shared}],
        'bytes': [b'', b'\x00\xffabc', bytes(range(256))],
        'ordered': collections.OrderedDict([('z', 1), ('a', 2)]),
        'long_list': list(range(2000)),
        'big_dict': {f'k{i}': i for i in range(1200)},
    }
    out = []
    for proto in (2, 3, 4, 5):
        for name, v in values.items():
            out.append({'name': f'{name}-p{proto}', 'protocol': proto,
                        'pickle': base64.b64encode(pickle.dumps(v, protocol=proto)).decode(),
                        'value': tag(v)})
    with open(os.path.join(OUT, 'pickles.json'), 'w') as f:
        json.dump(out, f, indent=0)
        f.write('\n')


if __name__ == '__main__':
    sys.exit(main())
