"""Golden fixtures for loading networks trained with the authors' PyTorch code.

Run with Debian's torch (not the default python3 on PATH):

    /usr/bin/python3 tools/networks/make_authors_fixtures.py

Writes libs/regressor/test/fixtures/authors-fork/ (deterministic, about 1.5 MB):

- `unet.pt`, `regressor.pt`: a tiny diffusion U-Net and regressor built as
  the authors' guided-diffusion fork builds them (authors_nets.py: U-Net with
  learned sigma, 8 outputs, 2 classes; regressor with the regression head
  `out = [GroupNorm, AttentionPool2d]`), every parameter re-drawn at random
  (zero-initialised layers would make the outputs trivial), saved as the
  fork's training scripts save them (`torch.save` of the state dict with
  nn.Parameter values, float32).
- `reference.safetensors`: inputs/outputs (`io.*`, NHWC): the U-Net forward,
  the regressor's values and input gradient, and two guided sample-known runs
  on [0, 1] data (the range the authors' networks are trained on) computed
  with tools/diffusion/reference.py's sampler (tumorcast's corrected loop
  indexing: encode t = 0..L-1, decode t = L-1..0, both networks at original
  timesteps, initial noise 0): unspaced (L = 12) and respaced `ddim100`
  (L = 200 -> 20 steps, the x1.15 rule active). Metadata: the PyTorch
  constructor arguments of both networks (`unet`, `regressor`), the runs
  (`runs`: respacing, noise level, scale, steps, predictions, final
  predictions) and the targets.
- `preset_shapes.json`: state-dict names and shapes of the fork's regressor
  at the paper's and the `small` settings (regression head). (The fork's
  paper U-Net is checked here to have stock guided-diffusion's state dict,
  which make_fixtures.py records.)
"""
import json
import os
import sys

import numpy as np
import torch as th

sys.dont_write_bytecode = True  # no __pycache__ in the repository
HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
sys.path.append(os.path.join(HERE, '..', 'diffusion'))  # after tools/networks: both have a make_fixtures.py
import authors_nets as A  # noqa: E402
import gd_nets as G  # noqa: E402
from make_fixtures import perturb  # noqa: E402
from safetensors_np import save_safetensors  # noqa: E402
import reference as R  # noqa: E402

ROOT = os.path.abspath(os.path.join(HERE, '..', '..'))
OUT = os.path.join(ROOT, 'libs', 'regressor', 'test', 'fixtures', 'authors-fork')

SIZE = 16
UNET = dict(image_size=SIZE, in_channels=4, model_channels=32, out_channels=8, num_res_blocks=1,
            attention_resolutions=[1], dropout=0.0, channel_mult=[1], conv_resample=True, num_classes=2,
            num_heads=1, num_head_channels=-1, num_heads_upsample=-1, use_scale_shift_norm=False,
            resblock_updown=False, use_new_attention_order=False)
# The fork's regressor at a tiny size: width 32, depth 1, two levels, attention at feature size 8,
# scale-shift, resblock down, attention pool with the regression head; 16 channels per head
# (2 heads) instead of the fork's fixed 64, which needs at least 64 channels.
REGRESSOR = dict(image_size=SIZE, regressor_width=32, regressor_depth=1, attention_resolutions=[8],
                 channel_mult=[1, 1], use_scale_shift_norm=True, resblock_updown=True, pool='attention',
                 num_head_channels=16)


def nhwc(t):
    t = t.detach()
    if t.dim() == 4:
        t = t.permute(0, 2, 3, 1)
    return t.contiguous().numpy().astype(np.float32)


def brain_images(g, b):
    """Smooth random 'slices' in [0, 1] with a zero background around an elliptic head, NCHW."""
    x = th.rand(b, 4, SIZE // 4, SIZE // 4, generator=g)
    x = th.nn.functional.interpolate(x, size=(SIZE, SIZE), mode='bilinear', align_corners=False)
    yy, xx = th.meshgrid(th.arange(SIZE, dtype=th.float32), th.arange(SIZE, dtype=th.float32), indexing='ij')
    c = (SIZE - 1) / 2
    head = (((yy - c) / (0.42 * SIZE)) ** 2 + ((xx - c) / (0.36 * SIZE)) ** 2 <= 1).float()
    return (x * head).clamp(0, 1)


def shapes_of(net):
    sd = net.state_dict()
    return {'parameters': sum(v.numel() for v in sd.values()), 'shapes': [[k, list(v.shape)] for k, v in sd.items()]}


def main():
    th.manual_seed(0)
    gen = th.Generator().manual_seed(2025)
    os.makedirs(OUT, exist_ok=True)

    unet = A.AuthorsUNetModel(**UNET)
    reg = A.authors_regressor(**REGRESSOR)
    for net in (unet, reg):
        perturb(net, gen)
        net.eval()
    assert [k for k in reg.state_dict() if k.startswith('out.')][-1].startswith('out.1.'), 'regression head'
    A.save_like_authors(unet, os.path.join(OUT, 'unet.pt'))
    A.save_like_authors(reg, os.path.join(OUT, 'regressor.pt'))

    io = {}
    # U-Net forward on noised [0, 1] images, two timesteps and classes
    x0 = brain_images(gen, 2)
    d = R.create_diffusion(1000, 'linear', learn_sigma=True)
    tt = [3, 745]
    xt = R.q_sample(d, x0, tt, th.randn(x0.shape, generator=gen))
    y = th.tensor([1, 0])
    with th.no_grad():
        out = unet(xt, th.tensor(tt, dtype=th.float32), y)
    io['unet.x'], io['unet.t'], io['unet.y'], io['unet.out'] = nhwc(xt), np.array(tt, np.float32), np.array([1, 0], np.int64), nhwc(out)

    # regressor value and input gradient (unit weights) at three noise levels
    x0 = brain_images(gen, 3)
    tr = [0, 120, 999]
    xr = R.q_sample(d, x0, tr, th.randn(x0.shape, generator=gen)).requires_grad_(True)
    r = reg(xr, th.tensor(tr, dtype=th.float32))
    (gx,) = th.autograd.grad(r.sum(), xr)
    io['regressor.x'], io['regressor.t'] = nhwc(xr), np.array(tr, np.float32)
    io['regressor.out'], io['regressor.gx'] = r.detach().reshape(-1).numpy().astype(np.float32), nhwc(gx)
    print(f'unet |out|max {out.abs().max().item():.3g}; regressor out {r.detach().reshape(-1).tolist()}, '
          f'|gx|max {gx.abs().max().item():.3g}')

    # guided sample-known on [0, 1] data
    image = brain_images(gen, 2)
    r0, change = [0.2, 0.1], [0.5, -0.4]

    def model(x, t, yy):
        return unet(x, t, yy)

    def regressor(x, t):
        return reg(x, t).reshape(-1)

    runs = []
    io['guided.image'] = nhwc(image)
    for k, cfg in enumerate([dict(respacing='', noiseLevel=12, scale=200.0),
                             dict(respacing='ddim100', noiseLevel=200, scale=5.0)]):
        dd = R.create_diffusion(1000, 'linear', learn_sigma=True, respacing=cfg['respacing'])
        res = R.guided_sample_known(dd, model, regressor, image, r0, change, cfg['noiseLevel'], cfg['scale'], 1, True)
        res0 = R.guided_sample_known(dd, model, regressor, image, r0, change, cfg['noiseLevel'], 0.0, 1, True)
        with th.no_grad():
            fin = regressor(res['sample'], th.zeros(2)).numpy().tolist()
            fin0 = regressor(res0['sample'], th.zeros(2)).numpy().tolist()
        print(cfg, 'steps', res['steps'], 'R(guided)', fin, 'R(scale 0)', fin0,
              '|sample - scale 0| max', float((res['sample'] - res0['sample']).abs().max()),
              'sample range', float(res['sample'].min()), float(res['sample'].max()))
        io[f'guided.{k}.latent'] = nhwc(res['latent'])
        io[f'guided.{k}.sample'] = nhwc(res['sample'])
        io[f'guided.{k}.sampleScale0'] = nhwc(res0['sample'])
        runs.append({**cfg, 'steps': res['steps'], 'predictions': res['predictions'], 'finalPrediction': fin,
                     'finalPredictionScale0': fin0})

    meta = {'unet': json.dumps(UNET), 'regressor': json.dumps(REGRESSOR), 'runs': json.dumps(runs),
            'baselineBurden': json.dumps(r0), 'relativeChange': json.dumps(change), 'classLabel': '1',
            'generator': 'tools/networks/make_authors_fixtures.py', 'torch': th.__version__}
    save_safetensors(os.path.join(OUT, 'reference.safetensors'), io, meta)

    presets = {
        'regressor_paper': shapes_of(A.authors_regressor(256, 32, 4, [32, 16, 8], [1, 1, 2, 2, 4, 4])),
        'regressor_small': shapes_of(A.authors_regressor(64, 32, 1, [16, 8], [1, 1, 2, 2], num_head_channels=32)),
    }
    # The fork's paper U-Net (its create_model with the authors' config) has exactly stock guided-diffusion's
    # state dict, which make_fixtures.py records for @tumorcast/unet's 'paper' preset.
    paper = dict(image_size=256, in_channels=4, model_channels=128, out_channels=8, num_res_blocks=2,
                 attention_resolutions=(16,), channel_mult=(1, 1, 2, 2, 4, 4), num_classes=2, num_heads=1)
    assert shapes_of(A.AuthorsUNetModel(**paper)) == shapes_of(G.UNetModel(**paper)), 'fork and stock paper U-Net differ'
    with open(os.path.join(OUT, 'preset_shapes.json'), 'w') as f:
        json.dump(presets, f, separators=(',', ':'))
    print({k: v['parameters'] for k, v in presets.items()})
    for name in sorted(os.listdir(OUT)):
        print(f'{name}: {os.path.getsize(os.path.join(OUT, name)) / 1024:.0f} KiB')


if __name__ == '__main__':
    main()
