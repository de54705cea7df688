"""Golden fixtures for @tumorcast/nn layers, @tumorcast/unet and @tumorcast/regressor.

Run with Debian's torch (not the default python3 on PATH):

    /usr/bin/python3 tools/networks/make_fixtures.py

Writes libs/nn/test/fixtures/networks/<case>.safetensors. Each file holds the
module's PyTorch state_dict under `w.<torch name>` (conv weights OIHW, as
PyTorch stores them) and the inputs / outputs under `io.<name>`; image-like
io tensors are stored NHWC (already transposed from PyTorch's NCHW) so that
tests compare directly. `io.gx` is d(sum(io.gw * out))/dx (NHWC). The module's
configuration is the JSON string `config` in the file's metadata.

Weights: every parameter is re-drawn at random (zero-initialised output convs
and projections would otherwise make the outputs trivial): conv/linear
weights and biases with PyTorch's default uniform(+-1/sqrt(fan_in)), GroupNorm
affine 1 + 0.2 N(0,1) and 0.2 N(0,1), embeddings N(0,1); then every weight is
rounded to the nearest float16 so that it is stored exactly as F16 (the
computation itself is float32).
"""
import json
import os
import sys

import numpy as np
import torch as th
import torch.nn as nn

sys.dont_write_bytecode = True  # no __pycache__ in the repository
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import gd_nets as G  # noqa: E402
from safetensors_np import save_safetensors  # noqa: E402

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), '..', '..'))
OUT = os.path.join(ROOT, 'libs', 'nn', 'test', 'fixtures', 'networks')


def perturb(module, gen):
    for m in module.modules():
        if isinstance(m, (nn.Conv1d, nn.Conv2d, nn.Linear)):
            fan_in = m.weight[0].numel()
            bound = 1.0 / np.sqrt(fan_in)
            with th.no_grad():
                m.weight.uniform_(-bound, bound, generator=gen)
                if m.bias is not None:
                    m.bias.uniform_(-bound, bound, generator=gen)
        elif isinstance(m, nn.GroupNorm):
            with th.no_grad():
                m.weight.copy_(1 + 0.2 * th.randn(m.weight.shape, generator=gen))
                m.bias.copy_(0.2 * th.randn(m.bias.shape, generator=gen))
        elif isinstance(m, nn.Embedding):
            with th.no_grad():
                m.weight.copy_(th.randn(m.weight.shape, generator=gen))
        elif isinstance(m, G.AttentionPool2d):
            with th.no_grad():
                m.positional_embedding.copy_(th.randn(m.positional_embedding.shape, generator=gen) / m.positional_embedding.shape[0] ** 0.5)
    # larger outputs (and input gradients) than default init gives after attention pooling
    for m in module.modules():
        if isinstance(m, G.AttentionPool2d):
            with th.no_grad():
                m.c_proj.weight.mul_(16.0)
    # Round every parameter to a float16-representable value: the weights are then
    # stored exactly as F16 (half the size) and read back as the same float32 values.
    with th.no_grad():
        for p in module.parameters():
            p.copy_(p.half().float())


def nhwc(t):
    t = t.detach()
    if t.dim() == 4:
        t = t.permute(0, 2, 3, 1)
    return t.contiguous().numpy().astype(np.float32)


def run_case(name, module, config, x, extra_inputs, call, gen, param_grads=False):
    """call(module, x) -> output tensor. Writes weights, io and gradient (and, with
    param_grads, d(sum(gw * out))/d(parameter) as `pg.<torch name>`, PyTorch layout)."""
    module.eval()
    x = x.clone().requires_grad_(True)
    out = call(module, x)
    gw = th.randn(out.shape, generator=gen)
    (out * gw).sum().backward()
    tensors = {}
    for k, v in module.state_dict().items():
        w16 = v.detach().contiguous().numpy().astype(np.float16)
        assert np.array_equal(w16.astype(np.float32), v.detach().numpy()), k
        tensors['w.' + k] = w16
    tensors['io.x'] = nhwc(x)
    tensors['io.out'] = nhwc(out)
    tensors['io.gw'] = nhwc(gw)
    tensors['io.gx'] = nhwc(x.grad)
    if param_grads:
        named = dict(module.named_parameters())
        for k in (named if param_grads is True else param_grads):
            tensors['pg.' + k] = named[k].grad.detach().contiguous().numpy().astype(np.float32)
    for k, v in extra_inputs.items():
        tensors['io.' + k] = v if isinstance(v, np.ndarray) else v.detach().contiguous().numpy()
    path = os.path.join(OUT, name + '.safetensors')
    save_safetensors(path, tensors, {'config': json.dumps(config), 'generator': 'tools/networks/make_fixtures.py',
                                     'torch': th.__version__})
    size = os.path.getsize(path)
    print(f'{name}: {size / 1024:.0f} KiB, out {tuple(out.shape)}, |out|max {out.abs().max().item():.3g}, '
          f'|gx|max {x.grad.abs().max().item():.3g}')
    return size


def main():
    th.manual_seed(0)
    gen = th.Generator().manual_seed(1234)
    os.makedirs(OUT, exist_ok=True)
    total = 0

    # --- layers -----------------------------------------------------------
    # GroupNorm(32, 64) on a non-centred input.
    gn = G.normalization(64)
    perturb(gn, gen)
    x = th.randn(2, 64, 5, 3, generator=gen) * 2 + 0.5
    total += run_case('groupnorm', gn, {'channels': 64}, x, {}, lambda m, x: m(x), gen, param_grads=True)

    # Timestep embedding: no parameters; x = t (1-D), gradient not meaningful.
    t = th.tensor([0.0, 1.0, 17.0, 250.0, 999.0])
    tensors = {}
    for dim in (32, 33, 128):
        tensors[f'io.emb{dim}'] = G.timestep_embedding(t, dim).numpy().astype(np.float32)
    tensors['io.t'] = t.numpy().astype(np.float32)
    path = os.path.join(OUT, 'timestep_embedding.safetensors')
    save_safetensors(path, tensors, {'config': json.dumps({'dims': [32, 33, 128]})})
    total += os.path.getsize(path)

    # AttentionBlock, legacy order (2 heads) and new order (num_head_channels 32).
    for nm, kw in (('attention_legacy', dict(num_heads=2)),
                   ('attention_new', dict(num_head_channels=32, use_new_attention_order=True))):
        ab = G.AttentionBlock(64, **kw)
        perturb(ab, gen)
        x = th.randn(2, 64, 4, 3, generator=gen)
        cfg = {'channels': 64, 'num_heads': kw.get('num_heads', 1), 'num_head_channels': kw.get('num_head_channels', -1),
               'use_new_attention_order': kw.get('use_new_attention_order', False)}
        total += run_case(nm, ab, cfg, x, {}, lambda m, x: m(x), gen, param_grads=(nm == 'attention_legacy'))

    # AttentionPool2d(spacial 4, 64 channels, 32 per head, 3 outputs).
    ap = G.AttentionPool2d(4, 64, 32, 3)
    perturb(ap, gen)
    x = th.randn(2, 64, 4, 4, generator=gen)
    total += run_case('attention_pool', ap, {'spacial_dim': 4, 'embed_dim': 64, 'num_head_channels': 32, 'output_dim': 3},
                      x, {}, lambda m, x: m(x), gen)

    # ResBlocks: plain/channel change, scale-shift + down, up.
    emb = th.randn(2, 64, generator=gen)
    for nm, kw in (('resblock_plain', dict(channels=32, out_channels=64)),
                   ('resblock_down_ss', dict(channels=32, out_channels=32, use_scale_shift_norm=True, down=True)),
                   ('resblock_up', dict(channels=32, out_channels=32, up=True))):
        rb = G.ResBlock(kw['channels'], 64, 0.0, out_channels=kw['out_channels'],
                        use_scale_shift_norm=kw.get('use_scale_shift_norm', False),
                        up=kw.get('up', False), down=kw.get('down', False))
        perturb(rb, gen)
        x = th.randn(2, kw['channels'], 6, 6, generator=gen)
        cfg = dict(kw, emb_channels=64)
        total += run_case(nm, rb, cfg, x, {'emb': emb}, lambda m, x: m(x, emb), gen)
        if nm == 'resblock_down_ss':
            # the same weights as a PyTorch .pt file: float16 (exact, see perturb), DataParallel
            # `module.` prefixes, inside a checkpoint dict under 'model'
            sd = {'module.' + k: v.half() for k, v in rb.state_dict().items()}
            pt = os.path.join(OUT, nm + '.pt')
            th.save({'model': sd, 'step': 7}, pt)
            total += os.path.getsize(pt)

    # Downsample (conv, stride 2, symmetric padding 1) on odd and even sizes, Upsample conv.
    for nm, mod, shape in (('downsample_conv', G.Downsample(32, True, 32), (2, 32, 7, 6)),
                           ('upsample_conv', G.Upsample(32, True, 32), (2, 32, 3, 4))):
        perturb(mod, gen)
        x = th.randn(*shape, generator=gen)
        total += run_case(nm, mod, {'channels': 32}, x, {}, lambda m, x: m(x), gen)

    # --- U-Nets -------------------------------------------------------------
    unet_cfgs = {
        # paper-like: class-conditional, learn_sigma, conv resampling, legacy multi-head attention
        'unet_a': dict(image_size=16, in_channels=4, model_channels=32, out_channels=8, num_res_blocks=1,
                       attention_resolutions=[2], dropout=0.0, channel_mult=[1, 1], conv_resample=True,
                       num_classes=2, num_heads=2, num_head_channels=-1, num_heads_upsample=-1,
                       use_scale_shift_norm=False, resblock_updown=False, use_new_attention_order=False),
        # scale-shift, resblock up/down, head channels, unconditional, 3 levels
        'unet_b': dict(image_size=16, in_channels=3, model_channels=32, out_channels=3, num_res_blocks=1,
                       attention_resolutions=[2], dropout=0.0, channel_mult=[1, 1], conv_resample=True,
                       num_classes=None, num_heads=1, num_head_channels=32, num_heads_upsample=-1,
                       use_scale_shift_norm=True, resblock_updown=True, use_new_attention_order=False),
    }
    for nm, cfg in unet_cfgs.items():
        net = G.UNetModel(**cfg)
        perturb(net, gen)
        b = 2
        x = th.randn(b, cfg['in_channels'], cfg['image_size'], cfg['image_size'], generator=gen)
        tt = th.tensor([3.0, 745.0])
        extra = {'t': tt.numpy().astype(np.float32)}
        if cfg['num_classes'] is not None:
            yy = th.tensor([1, 0], dtype=th.int64)
            extra['y'] = yy.numpy()
            call = lambda m, x, tt=tt, yy=yy: m(x, tt, yy)  # noqa: E731
        else:
            call = lambda m, x, tt=tt: m(x, tt)  # noqa: E731
        pg = {'unet_a': ['time_embed.0.weight', 'label_emb.weight', 'input_blocks.0.0.weight',
                         'input_blocks.1.0.emb_layers.1.weight', 'middle_block.1.qkv.weight',
                         'output_blocks.1.2.conv.weight', 'out.0.weight', 'out.2.weight'],
              'unet_b': ['time_embed.2.bias', 'output_blocks.1.2.in_layers.2.weight',
                         'middle_block.0.emb_layers.1.weight']}[nm]
        total += run_case(nm, net, cfg, x, extra, call, gen, param_grads=pg)

    # --- regressor ------------------------------------------------------------
    reg_cfg = dict(image_size=16, in_channels=4, model_channels=32, out_channels=1, num_res_blocks=1,
                   attention_resolutions=[2, 4], dropout=0.0, channel_mult=[1, 1, 1], conv_resample=True,
                   num_heads=1, num_head_channels=32, use_scale_shift_norm=True, resblock_updown=True,
                   use_new_attention_order=False, pool='attention')
    net = G.EncoderUNetModel(**reg_cfg)
    perturb(net, gen)
    x = th.randn(3, 4, 16, 16, generator=gen)
    tt = th.tensor([0.0, 120.0, 999.0])
    total += run_case('regressor_a', net, reg_cfg, x, {'t': tt.numpy().astype(np.float32)},
                      lambda m, x: m(x, tt), gen,
                      param_grads=['time_embed.0.weight', 'input_blocks.0.0.weight', 'input_blocks.1.0.emb_layers.1.weight',
                                   'middle_block.1.qkv.weight', 'out.0.bias', 'out.2.positional_embedding',
                                   'out.2.qkv_proj.weight', 'out.2.c_proj.weight', 'out.2.c_proj.bias'])

    # --- state_dict names and shapes of the presets (no weights) ------------------
    presets = {
        'unet_small': ('unet', dict(image_size=64, in_channels=4, model_channels=32, out_channels=8, num_res_blocks=2,
                                    attention_resolutions=[64 // 16], channel_mult=[1, 2, 2], num_classes=2, num_heads=1)),
        'unet_paper': ('unet', dict(image_size=256, in_channels=4, model_channels=128, out_channels=8, num_res_blocks=2,
                                    attention_resolutions=[256 // 16], channel_mult=[1, 1, 2, 2, 4, 4], num_classes=2,
                                    num_heads=1)),
        'regressor_small': ('regressor', dict(image_size=64, in_channels=4, model_channels=32, out_channels=1,
                                              num_res_blocks=1, attention_resolutions=[64 // 16, 64 // 8],
                                              channel_mult=[1, 1, 2, 2], num_head_channels=32,
                                              use_scale_shift_norm=True, resblock_updown=True, pool='attention')),
        'regressor_paper': ('regressor', dict(image_size=256, in_channels=4, model_channels=32, out_channels=1,
                                              num_res_blocks=4, attention_resolutions=[256 // 32, 256 // 16, 256 // 8],
                                              channel_mult=[1, 1, 2, 2, 4, 4], num_head_channels=64,
                                              use_scale_shift_norm=True, resblock_updown=True, pool='attention')),
    }
    shapes = {}
    for nm, (kind, cfg) in presets.items():
        net = (G.UNetModel if kind == 'unet' else G.EncoderUNetModel)(**cfg)
        sd = net.state_dict()
        shapes[nm] = {'config': cfg, 'parameters': sum(v.numel() for v in sd.values()),
                      'shapes': [[k, list(v.shape)] for k, v in sd.items()]}
    path = os.path.join(OUT, 'preset_shapes.json')
    with open(path, 'w') as f:
        json.dump(shapes, f, separators=(',', ':'))
    total += os.path.getsize(path)
    print({k: v['parameters'] for k, v in shapes.items()})

    print(f'total {total / 1024:.0f} KiB in {OUT}')


if __name__ == '__main__':
    main()
