"""Golden values of the regressor's adversarial perturbation, computed in PyTorch.

Run with Debian's torch (not the default python3 on PATH), after
make_authors_fixtures.py (it reads that script's tiny regressor weights):

    /usr/bin/python3 tools/networks/make_regressor_adversarial_fixture.py

Writes libs/regressor/test/fixtures/loss/regressor_adversarial.safetensors
(deterministic, a few dozen KiB). The perturbation is L2 projected gradient
ascent (Madry et al. 2018) on the regressor's squared error at the noised
images: x_t = q_sample(x0, t, noise) with tools/diffusion/reference.py's
process, delta = 0, then `steps` times

    g = d/d delta sum_i (R(x_t + delta, t)_i - burden_i)^2   (autograd)
    delta = delta + step_size * g / max(||g_i||_2, 1e-12)    (per image)
    delta = delta * min(1, epsilon / max(||delta_i||_2, 1e-12))

with the norms over all pixels and channels of one image. The linear
schedule with T = 1000, three slices mapped to [-1, 1] at t = 3, 150, 290,
the fork's tiny regressor in eval mode. Cases:

- `a`: steps 1, step size 2.5 epsilon (the default): the projection binds;
- `b`: steps 3, step size 2.5 epsilon / 3 (the default): binds after the
  second step at the latest;
- `c`: steps 3, step size 0.2 epsilon: at most 0.6 epsilon long, never binds.

Tensors shared by the cases: `x0`, `noise` (NHWC), `t` (int64), `burden`,
`clean_loss` (per image, at x_t); per case `<c>`: `<c>.delta` (NHWC),
`<c>.prediction` and `<c>.loss` (per image, at x_t + delta). Metadata: the
cases (`cases`, JSON, with epsilon, steps and the step size), the schedule
and the generator.
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

EPSILON = 0.5
T = [3, 150, 290]
BURDEN = [0.3, 0.0, 0.15]
CASES = [
    dict(name='a', epsilon=EPSILON, steps=1, step_size=2.5 * EPSILON),
    dict(name='b', epsilon=EPSILON, steps=3, step_size=2.5 * EPSILON / 3),
    dict(name='c', epsilon=EPSILON, steps=3, step_size=0.2 * EPSILON),
]


def per_image_norm(v):
    return v.flatten(1).norm(dim=1).clamp_min(1e-12).view(-1, 1, 1, 1)


def pgd(reg, xt, t, burden, epsilon, steps, step_size):
    delta = th.zeros_like(xt)
    for _ in range(steps):
        d = delta.clone().requires_grad_(True)
        err = ((reg(xt + d, t.float()).view(-1) - burden) ** 2).sum()
        (g,) = th.autograd.grad(err, d)
        delta = delta + step_size * g / per_image_norm(g)
        delta = delta * th.clamp(epsilon / per_image_norm(delta), max=1.0)
    return delta.detach()


def main():
    gen = th.Generator().manual_seed(2018)
    reg = A.authors_regressor(**REGRESSOR)
    sd = th.load(os.path.join(AUTHORS_DIR, 'regressor.pt'))
    reg.load_state_dict({k: v.detach() for k, v in sd.items()})
    reg.eval()
    for p in reg.parameters():
        p.requires_grad_(False)
    b = len(T)
    x0 = brain_images(gen, b) * 2 - 1
    noise = th.randn(x0.shape, generator=gen)
    d = R.create_diffusion(1000, 'linear')
    t = th.tensor(T, dtype=th.long)
    burden = th.tensor(BURDEN, dtype=th.float32)
    xt = R.q_sample(d, x0, T, noise)
    with th.no_grad():
        clean = F.mse_loss(reg(xt, t.float()).view(b), burden, reduction='none')
    io = {'x0': nhwc(x0), 'noise': nhwc(noise), 't': t.numpy().astype(np.int64), 'burden': burden.numpy(),
          'clean_loss': clean.numpy().astype(np.float32)}
    for case in CASES:
        c = case['name']
        delta = pgd(reg, xt, t, burden, case['epsilon'], case['steps'], case['step_size'])
        with th.no_grad():
            pred = reg(xt + delta, t.float()).view(b)
            loss = F.mse_loss(pred, burden, reduction='none')
        io[f'{c}.delta'] = nhwc(delta)
        io[f'{c}.prediction'] = pred.numpy().astype(np.float32)
        io[f'{c}.loss'] = loss.numpy().astype(np.float32)
        print(c, '||delta||', delta.flatten(1).norm(dim=1).tolist(), 'loss', loss.tolist(), 'clean', clean.tolist())
    meta = {'cases': json.dumps(CASES), 'schedule': 'linear', 'steps': '1000',
            'generator': 'tools/networks/make_regressor_adversarial_fixture.py', 'torch': th.__version__}
    os.makedirs(OUT, exist_ok=True)
    path = os.path.join(OUT, 'regressor_adversarial.safetensors')
    save_safetensors(path, io, meta)
    print(f'{path}: {os.path.getsize(path) / 1024:.0f} KiB')


if __name__ == '__main__':
    main()
