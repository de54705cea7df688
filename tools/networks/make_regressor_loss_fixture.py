"""Golden values of the regressor's training loss, computed in PyTorch.

Run with Debian's torch (not the default python3 on PATH), after
make_authors_fixtures.py (it reads that script's tiny regressor weights):

    /usr/bin/python3 tools/networks/make_regressor_loss_fixture.py

Writes libs/regressor/test/fixtures/loss/regressor_loss.safetensors
(deterministic, a few dozen KiB). The objective is the one the authors'
`regressor_train.py` optimises: x_t = q_sample(x0, t, noise) with
tools/diffusion/reference.py's process, the regressor's prediction at x_t and
the original timestep, `F.mse_loss(pred, burden, reduction='none')` per image,
and its mean as the batch loss. Two cases:

- `a`: the linear schedule with T = 1000, three [0, 1] slices (the authors'
  data range) at t = 0, 217, 999;
- `b`: the cosine schedule with T = 200, two slices mapped to [-1, 1] at
  t = 5, 150.

Tensors per case `<c>`: `<c>.x0`, `<c>.noise` (NHWC), `<c>.t` (int64),
`<c>.burden`, `<c>.xt` (NHWC), `<c>.prediction`, `<c>.loss` (per image),
`<c>.mean` (the batch loss, shape [1]) and `<c>.grad.<torch name>`: the
gradient of the batch loss with respect to some parameters, in PyTorch's
layout. Metadata: the schedules (`cases`, JSON) and the generator.
"""
import json
import os
import sys

import numpy as np
import torch as th
import torch.nn.functional as F

sys.dont_write_bytecode = True  # no __pycache__ in the repository
HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
sys.path.append(os.path.join(HERE, '..', 'diffusion'))  # after tools/networks: both have a make_fixtures.py
import authors_nets as A  # noqa: E402
from make_authors_fixtures import OUT as AUTHORS_DIR, REGRESSOR, brain_images, nhwc  # noqa: E402
from safetensors_np import save_safetensors  # noqa: E402
import reference as R  # noqa: E402

ROOT = os.path.abspath(os.path.join(HERE, '..', '..'))
OUT = os.path.join(ROOT, 'libs', 'regressor', 'test', 'fixtures', 'loss')

# Parameters whose gradients are stored: the first conv, the time embedding, the
# scale-shift of a residual block, the head's GroupNorm and the attention pool.
GRAD_PARAMS = [
    'input_blocks.0.0.weight',
    'time_embed.0.weight',
    'input_blocks.1.0.emb_layers.1.bias',
    'out.0.weight',
    'out.1.positional_embedding',
    'out.1.qkv_proj.weight',
    'out.1.c_proj.weight',
    'out.1.c_proj.bias',
]

CASES = [
    dict(name='a', schedule='linear', steps=1000, t=[0, 217, 999], burden=[0.12, 0.0, 0.31], data_range='[0,1]'),
    dict(name='b', schedule='cosine', steps=200, t=[5, 150], burden=[0.05, 0.2], data_range='[-1,1]'),
]


def main():
    gen = th.Generator().manual_seed(515)
    reg = A.authors_regressor(**REGRESSOR)
    sd = th.load(os.path.join(AUTHORS_DIR, 'regressor.pt'))
    reg.load_state_dict({k: v.detach() for k, v in sd.items()})
    reg.eval()
    params = dict(reg.named_parameters())
    io = {}
    for case in CASES:
        c = case['name']
        b = len(case['t'])
        x0 = brain_images(gen, b)
        if case['data_range'] == '[-1,1]':
            x0 = x0 * 2 - 1
        noise = th.randn(x0.shape, generator=gen)
        d = R.create_diffusion(case['steps'], case['schedule'])
        t = th.tensor(case['t'], dtype=th.long)
        burden = th.tensor(case['burden'], dtype=th.float32)
        reg.zero_grad()
        xt = R.q_sample(d, x0, case['t'], noise)
        pred = reg(xt, t.float()).view(b)
        loss = F.mse_loss(pred, burden, reduction='none')
        mean = loss.mean()
        mean.backward()
        io[f'{c}.x0'], io[f'{c}.noise'], io[f'{c}.xt'] = nhwc(x0), nhwc(noise), nhwc(xt)
        io[f'{c}.t'] = t.numpy().astype(np.int64)
        io[f'{c}.burden'] = burden.numpy()
        io[f'{c}.prediction'] = pred.detach().numpy().astype(np.float32)
        io[f'{c}.loss'] = loss.detach().numpy().astype(np.float32)
        io[f'{c}.mean'] = mean.detach().reshape(1).numpy().astype(np.float32)
        for name in GRAD_PARAMS:
            io[f'{c}.grad.{name}'] = params[name].grad.detach().numpy().astype(np.float32).copy()
        print(c, 'pred', pred.tolist(), 'loss', loss.tolist(), 'mean', mean.item(),
              '|grad c_proj.bias|', params['out.1.c_proj.bias'].grad.abs().max().item())
    meta = {'cases': json.dumps(CASES), 'generator': 'tools/networks/make_regressor_loss_fixture.py', 'torch': th.__version__}
    os.makedirs(OUT, exist_ok=True)
    path = os.path.join(OUT, 'regressor_loss.safetensors')
    save_safetensors(path, io, meta)
    print(f'{path}: {os.path.getsize(path) / 1024:.0f} KiB')


if __name__ == '__main__':
    main()
