#!/usr/bin/python3
"""Golden fixture for @tumorcast/training's init weights (fine-tuning from a file).

Run with Debian's interpreter (torch 1.13 + numpy):

    /usr/bin/python3 tools/training/make_init_weights_fixture.py

Writes into libs/training/test/fixtures/:
- segmenter-tiny-f16.pt: a PyTorch ``state_dict`` saved by ``torch.save``
  (float16 tensors) of the plain-PyTorch segmentation U-Net of
  tools/segmenter/make_fixtures.py with the config baseChannels 32,
  channelMult [1], numResBlocks 1, normGroups 32 (about 140 kB);
- segmenter-tiny-f16.json: for every tensor, its shape, its first 16 values
  and the float64 sum of all its values, each float16 value widened exactly to
  float32 by numpy (the oracle of the loaded weights).
"""
import json
import os
import sys

import numpy as np
import torch

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, '..', 'segmenter'))
from make_fixtures import SegUNet  # noqa: E402

OUT = os.path.join(HERE, '..', '..', 'libs', 'training', 'test', 'fixtures')


def main():
    os.makedirs(OUT, exist_ok=True)
    torch.manual_seed(21)
    net = SegUNet(4, 32, [1], 1, 32)
    with torch.no_grad():  # norms away from their 1/0 initialisation, so that a skipped tensor shows
        for name, p in net.named_parameters():
            if 'norm' in name:
                p.add_(0.1 * torch.randn_like(p))
    sd = {k: v.detach().half().contiguous() for k, v in net.state_dict().items()}
    torch.save(sd, os.path.join(OUT, 'segmenter-tiny-f16.pt'))
    expected = {}
    for k, v in sd.items():
        a = v.numpy().astype(np.float32).ravel()
        expected[k] = {'shape': list(v.shape), 'first': [float(x) for x in a[:16]], 'sum': float(a.astype(np.float64).sum())}
    with open(os.path.join(OUT, 'segmenter-tiny-f16.json'), 'w') as f:
        json.dump({'config': {'baseChannels': 32, 'channelMult': [1], 'numResBlocks': 1}, 'tensors': expected}, f, indent=1)
        f.write('\n')
    print('wrote segmenter-tiny-f16.pt (%d tensors, %d parameters) to %s' % (len(sd), sum(v.numel() for v in sd.values()), os.path.normpath(OUT)))


if __name__ == '__main__':
    main()
