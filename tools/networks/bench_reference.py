"""PyTorch reference timings for the U-Net / regressor benchmarks.

Usage (called by libs/unet/bench/unet.mjs, libs/regressor/bench/regressor.mjs and tools/bench/threads.mjs):

    /usr/bin/python3 tools/networks/bench_reference.py '<json cases>'

Each case: {"name", "kind": "unet"|"regressor", "kwargs": {guided-diffusion kwargs; for the
regressor also the fork's `regression` flag},
"batch", "modes": ["forward", "train", "input_grad"], "reps", "class_cond": bool}.
Runs on the CPU with torch.set_num_threads(2) (the machine has 2 cores),
or the count in the environment variable BENCH_TORCH_THREADS, float32. Prints one JSON
object: {"torch": version, "threads": 2, "results": [{"name", "mode", "ms", "params"}]}.
Times are the fastest of `reps` runs after one warm-up (forward: the faster of
no_grad and autograd-on). Weights: the reference
init, with the zero-initialised layers re-drawn like the others (as in a
trained model); the tfjs side does the same.
"""
import json
import os
import sys
import time

import torch as th

sys.dont_write_bytecode = True  # no __pycache__ in the repository
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import gd_nets as G  # noqa: E402
import authors_nets as A  # noqa: E402


def timed(fn, reps):
    fn()
    ts = []
    for _ in range(reps):
        t0 = time.perf_counter()
        fn()
        ts.append((time.perf_counter() - t0) * 1000)
    return min(ts)  # fastest run: the machine is shared, slower runs measure other jobs


def main():
    th.set_num_threads(int(os.environ.get('BENCH_TORCH_THREADS') or 2))
    th.manual_seed(0)
    cases = json.loads(sys.argv[1])
    results = []
    for c in cases:
        kw = dict(c['kwargs'])
        # the regressor as the authors' fork builds it (its `regression` flag picks the head)
        net = (G.UNetModel if c['kind'] == 'unet' else A.AuthorsEncoderUNetModel)(**kw)
        # like a trained model: re-draw the zero-initialised layers (zero_module) with PyTorch's
        # default init (a fresh model's exact zeros make oneDNN's forward several times slower here)
        for m in net.modules():
            if isinstance(m, (th.nn.Conv1d, th.nn.Conv2d, th.nn.Linear)) and not m.weight.detach().any():
                m.reset_parameters()
        params = sum(p.numel() for p in net.parameters())
        b, s = c['batch'], kw['image_size']
        x = th.randn(b, kw['in_channels'], s, s)
        t = th.randint(0, 1000, (b,)).float()
        args = (x, t)
        if c['kind'] == 'unet' and kw.get('num_classes') is not None:
            args = (x, t, th.randint(0, kw['num_classes'], (b,)))
        opt = th.optim.Adam(net.parameters(), lr=1e-4)
        for mode in c['modes']:
            if mode == 'forward':
                net.eval()

                def fn():
                    with th.no_grad():
                        net(*args)

                def fn_grad():
                    net(*args)
                # this Debian build's no_grad forward (oneDNN inference path) is at times several
                # times slower than with autograd on: report the faster of the two
                ms = min(timed(fn, c.get('reps', 3)), timed(fn_grad, c.get('reps', 3)))
                results.append({'name': c['name'], 'mode': mode, 'ms': ms, 'params': params})
                print(f"torch {c['name']} {mode}: {ms:.1f} ms", file=sys.stderr)
                continue
            elif mode == 'train':
                net.train()

                def fn():
                    opt.zero_grad()
                    out = net(*args)
                    loss = (out ** 2).mean()
                    loss.backward()
                    opt.step()
            elif mode == 'input_grad':
                net.eval()

                def fn():
                    xx = x.clone().requires_grad_(True)
                    out = net(xx, t)
                    (g,) = th.autograd.grad(out.sum(), xx)
                    return g
            else:
                raise ValueError(mode)
            ms = timed(fn, c.get('reps', 3))
            results.append({'name': c['name'], 'mode': mode, 'ms': ms, 'params': params})
            print(f"torch {c['name']} {mode}: {ms:.1f} ms", file=sys.stderr)
    print(json.dumps({'torch': th.__version__, 'threads': th.get_num_threads(), 'results': results}))


if __name__ == '__main__':
    main()
