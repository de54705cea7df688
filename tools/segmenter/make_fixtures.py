#!/usr/bin/python3
"""Golden fixtures for @tumorcast/segmenter, from an independent PyTorch reference.

Run with Debian's interpreter (torch 1.13 + numpy):

    /usr/bin/python3 tools/segmenter/make_fixtures.py

Writes into libs/segmenter/test/fixtures/:
- loss.json: soft Dice + BCE-with-logits losses (torch.nn.functional.
  binary_cross_entropy_with_logits), their gradients with respect to the
  logits (torch autograd), and thresholded Dice scores, for fixed logits and
  targets (NHWC arrays, row-major).
- net_tiny.safetensors: a tiny segmentation U-Net written in plain PyTorch
  with the state_dict names the TypeScript net uses: its weights (`w.<name>`,
  PyTorch layouts), an input `io.x` and the logits `io.logits` (NHWC), the
  config as JSON in the metadata.
- burden.json: the soft tumour burden of `segmenterBurden` (sum of the tumour
  probabilities divided by each image's brain pixel count) of the net in
  net_tiny.safetensors (read back from that file, evaluated in float64) for a
  fixed input, and its gradient with respect to the input (torch autograd),
  for both input ranges; and, under `tempered`, for gradient temperatures
  T = 2 and 0.5: the same value, with the gradient that takes
  `s (1 - s)`, `s = sigmoid(z / T)`, as the derivative of sigmoid(z) with
  respect to the logits z (a torch.autograd.Function written here).

`--only burden` rewrites burden.json alone (from the committed
net_tiny.safetensors).
"""
import json
import os
import struct
import sys

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F

OUT = os.path.join(os.path.dirname(__file__), '..', '..', 'libs', 'segmenter', 'test', 'fixtures')


# ---------------------------------------------------------------- losses
def soft_dice_loss(z, t, smooth):
    p = torch.sigmoid(z)
    dims = tuple(range(1, z.dim()))
    inter = (p * t).sum(dims)
    dice = (2 * inter + smooth) / (p.sum(dims) + t.sum(dims) + smooth)
    return 1 - dice.mean()


def total_loss(z, t, dice_weight, bce_weight, smooth):
    return dice_weight * soft_dice_loss(z, t, smooth) + bce_weight * F.binary_cross_entropy_with_logits(z, t, reduction='mean')


def dice_score(p, t, threshold, empty):
    out = []
    for b in range(p.shape[0]):
        pb = p[b] >= threshold
        tb = t[b] > 0.5
        s = pb.sum() + tb.sum()
        out.append(float(empty) if s == 0 else float(2 * (pb & tb).sum() / s))
    return out


def loss_fixture():
    rng = np.random.default_rng(20261128)
    B, H, W = 3, 6, 6
    logits = rng.normal(0, 3, size=(B, H, W, 1))
    logits[0, 0, 0, 0] = 40.0   # saturated: the naive formula overflows / loses precision
    logits[0, 0, 1, 0] = -40.0
    logits[1, 2, 3, 0] = 95.0
    target = np.zeros((B, H, W, 1))
    target[0, 1:4, 1:4, 0] = 1.0                      # a square
    target[0, 0, 1, 0] = 1.0                          # hard mistake under a -40 logit
    target[1] = (rng.uniform(size=(H, W, 1)) > 0.6)   # scattered
    # image 2: no tumour at all
    soft = target.copy()
    soft[1] = rng.uniform(size=(H, W, 1))             # soft targets
    logits = logits.astype(np.float32)
    cases = []
    for name, tgt, opts in [
        ('default', target, {}),
        ('weighted', target, {'diceWeight': 0.5, 'bceWeight': 2.0, 'smooth': 0.1}),
        ('dice_only', target, {'bceWeight': 0.0}),
        ('bce_only', target, {'diceWeight': 0.0}),
        ('soft_targets', soft, {'smooth': 0.0}),
    ]:
        dw, bw, sm = opts.get('diceWeight', 1.0), opts.get('bceWeight', 1.0), opts.get('smooth', 1.0)
        z = torch.tensor(logits, dtype=torch.float64, requires_grad=True)
        t = torch.tensor(tgt.astype(np.float32), dtype=torch.float64)
        loss = total_loss(z, t, dw, bw, sm)
        loss.backward()
        cases.append({
            'name': name,
            'target': tgt.astype(np.float32).reshape(-1).tolist(),
            'options': opts,
            'dice_loss': float(soft_dice_loss(z.detach(), t, sm)),
            'bce': float(F.binary_cross_entropy_with_logits(z.detach(), t)),
            'loss': float(loss),
            'grad': z.grad.numpy().reshape(-1).tolist(),
        })
    probs = torch.sigmoid(torch.tensor(logits, dtype=torch.float64)).numpy()
    scores = []
    for th, empty in [(0.5, 1.0), (0.3, 1.0), (0.5, 0.0)]:
        # image 2 has no tumour; make its prediction empty too for the 'both empty' rule
        p = probs.copy()
        p[2] = 0.0
        scores.append({'threshold': th, 'emptyScore': empty, 'prediction': p.astype(np.float32).reshape(-1).tolist(),
                       'scores': dice_score(p.astype(np.float32), target, th, empty)})
    return {
        'generator': 'tools/segmenter/make_fixtures.py (torch %s, float64)' % torch.__version__,
        'shape': [B, H, W, 1],
        'logits': logits.reshape(-1).tolist(),
        'cases': cases,
        'dice_scores': scores,
    }


# ---------------------------------------------------------------- network
class ConvBlock(nn.Module):
    def __init__(self, cin, cout, groups):
        super().__init__()
        self.norm1 = nn.GroupNorm(groups, cin)
        self.conv1 = nn.Conv2d(cin, cout, 3, padding=1)
        self.norm2 = nn.GroupNorm(groups, cout)
        self.conv2 = nn.Conv2d(cout, cout, 3, padding=1)
        self.skip = nn.Conv2d(cin, cout, 1) if cin != cout else None

    def forward(self, x):
        h = self.conv1(F.silu(self.norm1(x)))
        h = self.conv2(F.silu(self.norm2(h)))
        return (self.skip(x) if self.skip is not None else x) + h


class Down(nn.Module):
    def __init__(self, ch):
        super().__init__()
        self.op = nn.Conv2d(ch, ch, 3, stride=2, padding=1)

    def forward(self, x):
        return self.op(x)


class Up(nn.Module):
    def __init__(self, ch):
        super().__init__()
        self.conv = nn.Conv2d(ch, ch, 3, padding=1)

    def forward(self, x):
        return self.conv(F.interpolate(x, scale_factor=2, mode='nearest'))


class Level(nn.Module):
    def __init__(self, blocks, resample):
        super().__init__()
        self.blocks = nn.ModuleList(blocks)
        if resample is not None:
            self.add_module(resample[0], resample[1])
        self.resample = resample[0] if resample is not None else None


class SegUNet(nn.Module):
    """The U-Net of @tumorcast/segmenter, written from its documentation."""

    def __init__(self, in_channels, base, mult, nres, groups):
        super().__init__()
        chans = [int(m * base) for m in mult]
        L = len(chans)
        ch = chans[0]
        self.in_conv = nn.Conv2d(in_channels, ch, 3, padding=1)
        self.encoder = nn.ModuleList()
        for l in range(L):
            blocks = []
            for _ in range(nres):
                blocks.append(ConvBlock(ch, chans[l], groups))
                ch = chans[l]
            self.encoder.append(Level(blocks, ('down', Down(ch)) if l < L - 1 else None))
        self.middle = ConvBlock(ch, ch, groups)
        self.decoder = nn.ModuleList()
        for i in range(L):
            l = L - 1 - i
            blocks = []
            for r in range(nres):
                blocks.append(ConvBlock(ch + chans[l] if r == 0 else ch, chans[l], groups))
                ch = chans[l]
            self.decoder.append(Level(blocks, ('up', Up(ch)) if l > 0 else None))
        self.out_norm = nn.GroupNorm(groups, ch)
        self.out_conv = nn.Conv2d(ch, 1, 3, padding=1)

    def forward(self, x01):
        h = self.in_conv(2 * x01 - 1)
        skips = []
        for lv in self.encoder:
            for b in lv.blocks:
                h = b(h)
            skips.append(h)
            if lv.resample:
                h = getattr(lv, lv.resample)(h)
        h = self.middle(h)
        for lv in self.decoder:
            h = torch.cat([h, skips.pop()], 1)
            for b in lv.blocks:
                h = b(h)
            if lv.resample:
                h = getattr(lv, lv.resample)(h)
        return self.out_conv(F.silu(self.out_norm(h)))


def write_safetensors(path, tensors, metadata):
    header = {'__metadata__': metadata}
    blobs = []
    off = 0
    for k, a in tensors.items():
        b = np.ascontiguousarray(a, dtype='<f4').tobytes()
        header[k] = {'dtype': 'F32', 'shape': list(a.shape), 'data_offsets': [off, off + len(b)]}
        blobs.append(b)
        off += len(b)
    h = json.dumps(header, separators=(',', ':')).encode()
    h += b' ' * ((8 - len(h) % 8) % 8)
    tmp = path + '.tmp'
    with open(tmp, 'wb') as f:
        f.write(struct.pack('<Q', len(h)))
        f.write(h)
        for b in blobs:
            f.write(b)
    os.replace(tmp, path)


def net_fixture():
    torch.manual_seed(7)
    cfg = {'imageSize': 8, 'inChannels': 4, 'baseChannels': 8, 'channelMult': [1, 2], 'numResBlocks': 1, 'dropout': 0, 'normGroups': 4}
    net = SegUNet(cfg['inChannels'], cfg['baseChannels'], cfg['channelMult'], cfg['numResBlocks'], cfg['normGroups']).eval()
    with torch.no_grad():  # non-trivial norms
        for name, p in net.named_parameters():
            if 'norm' in name:
                p.add_(0.1 * torch.randn_like(p))
    x = torch.rand(2, 4, 8, 8)
    with torch.no_grad():
        y = net(x)
    tensors = {'w.' + k: v.detach().numpy() for k, v in net.state_dict().items()}
    tensors['io.x'] = x.permute(0, 2, 3, 1).numpy()
    tensors['io.logits'] = y.permute(0, 2, 3, 1).numpy()
    write_safetensors(os.path.join(OUT, 'net_tiny.safetensors'), tensors, {'config': json.dumps(cfg)})
    return sum(p.numel() for p in net.parameters())


def read_safetensors(path):
    with open(path, 'rb') as f:
        n = struct.unpack('<Q', f.read(8))[0]
        header = json.loads(f.read(n))
        data = f.read()
    meta = header.pop('__metadata__', {})
    out = {}
    for k, v in header.items():
        a, b = v['data_offsets']
        out[k] = np.frombuffer(data[a:b], dtype='<f4').reshape(v['shape'])
    return out, meta


class TemperedSigmoidSum(torch.autograd.Function):
    """Per image sum(sigmoid(z)); backward uses s (1 - s) with s = sigmoid(z / T)."""

    @staticmethod
    def forward(ctx, z, temperature):
        ctx.save_for_backward(z)
        ctx.temperature = temperature
        return torch.sigmoid(z).sum(dim=(1, 2, 3))

    @staticmethod
    def backward(ctx, grad_out):
        (z,) = ctx.saved_tensors
        s = torch.sigmoid(z / ctx.temperature)
        return grad_out.view(-1, 1, 1, 1) * s * (1 - s), None


class MarginedSigmoidSum(torch.autograd.Function):
    """Per image sum(sigmoid(z)); backward: s (1 - s), s = sigmoid(z / T), zero beyond `margin` pixels
    (Chebyshev) of every z >= 0 pixel, in images that have one."""

    @staticmethod
    def forward(ctx, z, temperature, margin):
        ctx.save_for_backward(z)
        ctx.temperature, ctx.margin = temperature, margin
        return torch.sigmoid(z).sum(dim=(1, 2, 3))

    @staticmethod
    def backward(ctx, grad_out):
        (z,) = ctx.saved_tensors
        s = torch.sigmoid(z / ctx.temperature)
        g = grad_out.view(-1, 1, 1, 1) * s * (1 - s)
        tumour = (z >= 0).double()
        near = torch.nn.functional.max_pool2d(tumour, 2 * ctx.margin + 1, stride=1, padding=ctx.margin)
        has = tumour.amax(dim=(1, 2, 3), keepdim=True)
        keep = torch.where(has > 0, near, torch.ones_like(near))
        return g * keep, None, None


def burden_fixture():
    tensors, meta = read_safetensors(os.path.join(OUT, 'net_tiny.safetensors'))
    cfg = json.loads(meta['config'])
    net = SegUNet(cfg['inChannels'], cfg['baseChannels'], cfg['channelMult'], cfg['numResBlocks'], cfg['normGroups'])
    net.load_state_dict({k[2:]: torch.tensor(np.array(v)) for k, v in tensors.items() if k.startswith('w.')})
    net = net.double().eval()
    rng = np.random.default_rng(20261207)
    B, H, W, C = 2, cfg['imageSize'], cfg['imageSize'], cfg['inChannels']
    x11 = rng.uniform(-1, 1, size=(B, H, W, C)).astype(np.float32)   # NHWC, in [-1, 1]
    cases = []
    for name, input_range, x, brain in [
        ('minus1to1', '[-1,1]', x11, [40.0, 25.0]),
        ('zero_to_one', '[0,1]', (x11 + 1) / 2, 30.0),
    ]:
        xt = torch.tensor(x, dtype=torch.float64, requires_grad=True)
        x01 = (xt + 1) / 2 if input_range == '[-1,1]' else xt
        probs = torch.sigmoid(net(x01.permute(0, 3, 1, 2)))
        bp = torch.tensor(brain if isinstance(brain, list) else [brain] * B, dtype=torch.float64)
        burden = probs.sum(dim=(1, 2, 3)) / bp
        burden.sum().backward()   # images are independent: the sum's gradient is each image's own
        cases.append({
            'name': name, 'inputRange': input_range, 'brainPixels': brain,
            'x': x.astype(np.float32).reshape(-1).tolist(),
            'burden': burden.detach().numpy().tolist(),
            'grad': xt.grad.numpy().reshape(-1).tolist(),
        })
    tempered = []
    for temperature, input_range, x, brain in [
        (2.0, '[-1,1]', x11, [40.0, 25.0]),
        (0.5, '[-1,1]', x11, [40.0, 25.0]),
        (2.0, '[0,1]', (x11 + 1) / 2, 30.0),
    ]:
        xt = torch.tensor(x, dtype=torch.float64, requires_grad=True)
        x01 = (xt + 1) / 2 if input_range == '[-1,1]' else xt
        z = net(x01.permute(0, 3, 1, 2))
        bp = torch.tensor(brain if isinstance(brain, list) else [brain] * B, dtype=torch.float64)
        burden = TemperedSigmoidSum.apply(z, temperature) / bp
        burden.sum().backward()
        tempered.append({
            'gradientTemperature': temperature, 'inputRange': input_range, 'brainPixels': brain,
            'burden': burden.detach().numpy().tolist(),
            'grad': xt.grad.numpy().reshape(-1).tolist(),
        })
    # gradientMarginPixels: the gradient kept within `margin` pixels (a square window) of the pixels with
    # z >= 0 (an image without such pixels keeps all of it: the tests check that branch on a stub net).
    margined = []
    for temperature, margin, input_range, x, brain in [
        (2.0, 1, '[-1,1]', x11, [40.0, 25.0]),
        (1.0, 0, '[0,1]', (x11 + 1) / 2, 30.0),
    ]:
        xt = torch.tensor(x, dtype=torch.float64, requires_grad=True)
        x01 = (xt + 1) / 2 if input_range == '[-1,1]' else xt
        z = net(x01.permute(0, 3, 1, 2))
        bp = torch.tensor(brain if isinstance(brain, list) else [brain] * B, dtype=torch.float64)
        burden = MarginedSigmoidSum.apply(z, temperature, margin) / bp
        burden.sum().backward()
        margined.append({
            'gradientTemperature': temperature, 'gradientMarginPixels': margin, 'inputRange': input_range, 'brainPixels': brain,
            'tumourPixels': (z >= 0).sum(dim=(1, 2, 3)).tolist(),
            'keptPixels': torch.nn.functional.max_pool2d((z >= 0).double(), 2 * margin + 1, stride=1, padding=margin).sum(dim=(1, 2, 3)).tolist(),
            'burden': burden.detach().numpy().tolist(),
            'grad': xt.grad.numpy().reshape(-1).tolist(),
        })
    return {
        'generator': 'tools/segmenter/make_fixtures.py (torch %s, float64, net_tiny.safetensors)' % torch.__version__,
        'shape': [B, H, W, C],
        'cases': cases,
        'tempered': tempered,
        'margined': margined,
    }


def write_json(name, obj):
    path = os.path.join(OUT, name)
    with open(path + '.tmp', 'w') as f:
        json.dump(obj, f)
    os.replace(path + '.tmp', path)


def main():
    os.makedirs(OUT, exist_ok=True)
    if sys.argv[1:] == ['--only', 'burden']:
        write_json('burden.json', burden_fixture())
        print('wrote burden.json to %s' % os.path.normpath(OUT))
        return
    path = os.path.join(OUT, 'loss.json')
    with open(path + '.tmp', 'w') as f:
        json.dump(loss_fixture(), f)
    os.replace(path + '.tmp', path)
    n = net_fixture()
    write_json('burden.json', burden_fixture())
    print('wrote loss.json, net_tiny.safetensors (%d parameters) and burden.json to %s' % (n, os.path.normpath(OUT)))


if __name__ == '__main__':
    main()
