"""Golden fixtures for @tumorcast/diffusion and @tumorcast/guided-sampler.

Run with Debian's interpreter (numpy + torch 1.13):
    /usr/bin/python3 tools/diffusion/make_fixtures.py
Writes libs/diffusion/test/fixtures/diffusion.json and
libs/guided-sampler/test/fixtures/guided.json (images NHWC, conv weights in
PyTorch's OIHW layout).
"""
import json
import os

import numpy as np
import torch as th

import reference as R

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))


def arr(x):
    if isinstance(x, th.Tensor):
        x = x.detach().numpy()
    return np.asarray(x, dtype=np.float64).ravel().tolist()


def img(x):
    return arr(R.nhwc(x))


def dump(path, obj):
    os.makedirs(os.path.dirname(path), exist_ok=True)
    tmp = path + ".tmp"
    with open(tmp, "w") as f:
        json.dump(obj, f, separators=(",", ":"))
    os.replace(tmp, path)
    print(path, os.path.getsize(path), "bytes")


def smooth_image(g, b, c, h, w):
    """Random smooth images in [-1, 1] with a -1 background border, NCHW."""
    x = th.rand(b, c, h // 4, w // 4, generator=g) * 1.6 - 0.8
    x = th.nn.functional.interpolate(x, size=(h, w), mode="bilinear", align_corners=False)
    x[:, :, :2, :] = -1
    x[:, :, :, :2] = -1
    return x


def net_weights(eps_net):
    return {"conv1": R.conv_weights(eps_net.conv1), "conv2": R.conv_weights(eps_net.conv2),
            "wt": arr(eps_net.wt), "emb": arr(eps_net.emb), "embShape": list(eps_net.emb.shape)}


def diffusion_fixtures():
    th.manual_seed(0)
    g = th.Generator().manual_seed(1)
    out = {"schedules": {}, "respaced": {}}
    for name in ["linear", "cosine"]:
        d = R.create_diffusion(1000, name)
        out["schedules"][name] = {k: arr(getattr(d, k)) for k in R.Diffusion.ARRAYS}
    for sp in ["ddim50", "250", "10,10,10", "7", "3,5", "ddim25"]:
        d = R.create_diffusion(1000, "linear", respacing=sp)
        out["respaced"][sp] = {"timestepMap": [int(v) for v in d.timestep_map],
                               **{k: arr(getattr(d, k)) for k in
                                  ["betas", "alphas_cumprod", "alphas_cumprod_prev", "alphas_cumprod_next",
                                   "posterior_variance", "posterior_log_variance_clipped",
                                   "posterior_mean_coef1", "posterior_mean_coef2"]}}
    d = R.create_diffusion(1000, "linear", learn_sigma=True)
    shape = (2, 4, 8, 8)
    x0 = smooth_image(g, *shape)
    noise = th.randn(*shape, generator=g)
    t = [3, 700]
    out["shape"] = [2, 8, 8, 4]
    out["x0"] = img(x0)
    out["noise"] = img(noise)
    out["t"] = t
    out["qSample"] = img(R.q_sample(d, x0, t, noise))
    net = R.TinyEps(4, 8, True)
    out["net"] = net_weights(net)
    y = th.tensor([1, 0])
    out["y"] = [1, 0]
    with th.no_grad():
        xt = R.q_sample(d, x0, t, noise)
        out["xt"] = img(xt)
        pm = R.p_mean_variance(d, net, xt, t, y, True)
        out["pMeanVariance"] = {"mean": img(pm["mean"]), "logVariance": img(pm["log_variance"]),
                                "predXStart": img(pm["pred_xstart"])}
        z = th.randn(*shape, generator=g)
        out["z"] = img(z)
        out["ddimStep"] = img(R.ddim_sample(d, net, xt, t, y, 0.0))
        out["ddimStepEta"] = img(R.ddim_sample(d, net, xt, t, y, 0.5, z))
        out["ddimReverseStep"] = img(R.ddim_reverse_sample(d, net, xt, t, y))
        out["ddpmStep"] = img(R.p_sample(d, net, xt, t, z, y))
        # inversion loops: unspaced (6 steps) and respaced ddim50 (4 steps)
        x = x0
        for i in range(6):
            x = R.ddim_reverse_sample(d, net, x, [i, i], y)
        out["inversion"] = {"steps": 6, "latent": img(x)}
        ds = R.create_diffusion(1000, "linear", learn_sigma=True, respacing="ddim50")
        x = x0
        for i in range(4):
            x = R.ddim_reverse_sample(ds, net, x, [i, i], y)
        out["inversionRespaced"] = {"respacing": "ddim50", "steps": 4, "latent": img(x)}
        # a respaced DDIM decode of 4 steps from that latent (eta 0)
        for i in reversed(range(4)):
            x = R.ddim_sample(ds, net, x, [i, i], y, 0.0)
        out["decodeRespaced"] = img(x)
    # hybrid loss, 3 images incl. t = 0
    x0b = smooth_image(g, 3, 4, 8, 8)
    nb = th.randn(3, 4, 8, 8, generator=g)
    tb = [0, 1, 500]
    terms = R.training_losses(d, net, x0b, tb, nb, th.tensor([1, 1, 0]))
    # gradient of sum(vb) w.r.t. conv2's bias: only the v channels get it (stop-gradient on eps)
    gvb = th.autograd.grad(terms["vb"].sum(), net.conv2.bias, retain_graph=True)[0]
    gloss = th.autograd.grad(terms["loss"].sum(), net.conv2.bias)[0]
    out["loss"] = {"x0": img(x0b), "noise": img(nb), "t": tb, "y": [1, 1, 0],
                   "loss": arr(terms["loss"]), "mse": arr(terms["mse"]), "vb": arr(terms["vb"]),
                   "gradVbConv2Bias": arr(gvb), "gradLossConv2Bias": arr(gloss)}
    dn = R.create_diffusion(1000, "linear", learn_sigma=False)
    net_n = R.TinyEps(4, 8, False)
    terms = R.training_losses(dn, net_n, x0b, tb, nb, th.tensor([1, 1, 0]))
    out["lossNoSigma"] = {"net": net_weights(net_n), "mse": arr(terms["mse"])}
    dump(os.path.join(ROOT, "libs/diffusion/test/fixtures/diffusion.json"), out)


def guided_fixtures():
    th.manual_seed(7)
    g = th.Generator().manual_seed(8)
    net = R.TinyEps(4, 8, True)
    reg = R.TinyRegressor(4, 4)
    image = smooth_image(g, 2, 4, 16, 16)
    r0 = [0.2, 0.1]
    change = [0.5, -0.4]
    runs = []
    for cfg in [{"respacing": "", "noiseLevel": 12, "scale": 50000.0},
                {"respacing": "ddim100", "noiseLevel": 200, "scale": 10000.0}]:
        d = R.create_diffusion(1000, "linear", learn_sigma=True, respacing=cfg["respacing"])
        res = R.guided_sample_known(d, net, reg, image, r0, change, cfg["noiseLevel"], cfg["scale"], 1, True)
        res0 = R.guided_sample_known(d, net, reg, image, r0, change, cfg["noiseLevel"], 0.0, 1, True)
        with th.no_grad():
            fin = reg(res["sample"], th.zeros(2)).numpy().tolist()
            fin0 = reg(res0["sample"], th.zeros(2)).numpy().tolist()
        print(cfg, "steps", res["steps"], "R(guided)", fin, "R(scale 0)", fin0,
              "max|diff|", float((res["sample"] - image).abs().max()))
        runs.append({**cfg, "steps": res["steps"], "sample": img(res["sample"]), "latent": img(res["latent"]),
                     "predictions": res["predictions"], "finalPrediction": fin,
                     "sampleScale0": img(res0["sample"])})
    out = {"shape": [2, 16, 16, 4], "image": img(image), "baselineBurden": r0, "relativeChange": change,
           "classLabel": 1, "net": net_weights(net),
           "regressor": {"conv": R.conv_weights(reg.conv)}, "runs": runs}
    dump(os.path.join(ROOT, "libs/guided-sampler/test/fixtures/guided.json"), out)


if __name__ == "__main__":
    diffusion_fixtures()
    guided_fixtures()
