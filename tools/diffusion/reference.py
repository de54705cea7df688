"""Independent numpy/PyTorch re-implementation of the parts of OpenAI's
guided-diffusion (gaussian_diffusion.py, respace.py, losses.py) and of the
"sample known" guided DDIM that tumorcast's @tumorcast/diffusion and
@tumorcast/guided-sampler implement. Used by make_fixtures.py (golden files)
and bench_reference.py (timing ratio). NCHW tensors, float64 schedules,
coefficients cast to float32 when applied (guided-diffusion's
_extract_into_tensor).
"""
import math

import numpy as np
import torch as th
import torch.nn.functional as F


# ---------------------------------------------------------------- schedules
def get_named_beta_schedule(name, T):
    if name == "linear":
        scale = 1000 / T
        return np.linspace(scale * 0.0001, scale * 0.02, T, dtype=np.float64)
    if name == "cosine":
        f = lambda t: math.cos((t + 0.008) / 1.008 * math.pi / 2) ** 2
        return np.array([min(1 - f((i + 1) / T) / f(i / T), 0.999) for i in range(T)], dtype=np.float64)
    raise ValueError(name)


def space_timesteps(T, section_counts):
    if isinstance(section_counts, str):
        if section_counts.startswith("ddim"):
            desired = int(section_counts[len("ddim"):])
            for i in range(1, T):
                if len(range(0, T, i)) == desired:
                    return set(range(0, T, i))
            raise ValueError("no stride")
        section_counts = [int(x) for x in section_counts.split(",")]
    size_per = T // len(section_counts)
    extra = T % len(section_counts)
    start, steps = 0, []
    for i, count in enumerate(section_counts):
        size = size_per + (1 if i < extra else 0)
        stride = 1 if count <= 1 else (size - 1) / (count - 1)
        cur = 0.0
        for _ in range(count):
            steps.append(start + round(cur))
            cur += stride
        start += size
    return set(steps)


class Diffusion:
    """Arrays of GaussianDiffusion; `timestep_map` maps step index -> original t."""

    def __init__(self, betas, learn_sigma, timestep_map):
        self.betas = b = np.asarray(betas, dtype=np.float64)
        self.learn_sigma = learn_sigma
        self.timestep_map = np.asarray(timestep_map)
        self.num_timesteps = len(b)
        self.alphas = 1.0 - b
        self.alphas_cumprod = ac = np.cumprod(self.alphas)
        self.alphas_cumprod_prev = acp = np.append(1.0, ac[:-1])
        self.alphas_cumprod_next = np.append(ac[1:], 0.0)
        self.sqrt_alphas_cumprod = np.sqrt(ac)
        self.sqrt_one_minus_alphas_cumprod = np.sqrt(1.0 - ac)
        self.log_one_minus_alphas_cumprod = np.log(1.0 - ac)
        self.sqrt_recip_alphas_cumprod = np.sqrt(1.0 / ac)
        self.sqrt_recipm1_alphas_cumprod = np.sqrt(1.0 / ac - 1)
        self.posterior_variance = pv = b * (1.0 - acp) / (1.0 - ac)
        self.posterior_log_variance_clipped = np.log(np.append(pv[1], pv[1:]))
        self.posterior_mean_coef1 = b * np.sqrt(acp) / (1.0 - ac)
        self.posterior_mean_coef2 = (1.0 - acp) * np.sqrt(self.alphas) / (1.0 - ac)

    ARRAYS = ["betas", "alphas", "alphas_cumprod", "alphas_cumprod_prev", "alphas_cumprod_next",
              "sqrt_alphas_cumprod", "sqrt_one_minus_alphas_cumprod", "log_one_minus_alphas_cumprod",
              "sqrt_recip_alphas_cumprod", "sqrt_recipm1_alphas_cumprod", "posterior_variance",
              "posterior_log_variance_clipped", "posterior_mean_coef1", "posterior_mean_coef2"]


def create_diffusion(T=1000, schedule="linear", learn_sigma=False, respacing=""):
    betas = get_named_beta_schedule(schedule, T)
    if not respacing:
        return Diffusion(betas, learn_sigma, np.arange(T))
    use = space_timesteps(T, respacing)
    base = Diffusion(betas, learn_sigma, np.arange(T))
    last, new_betas, tmap = 1.0, [], []
    for i, ac in enumerate(base.alphas_cumprod):
        if i in use:
            new_betas.append(1 - ac / last)
            last = ac
            tmap.append(i)
    return Diffusion(np.array(new_betas), learn_sigma, np.array(tmap))


def _ex(arr, t, ndim=4):
    """arr[t] as float32 broadcastable over NCHW."""
    v = th.from_numpy(np.asarray(arr)[np.asarray(t)]).float()
    return v.reshape(-1, *([1] * (ndim - 1)))


# ---------------------------------------------------------------- process
def q_sample(d, x0, t, noise):
    return _ex(d.sqrt_alphas_cumprod, t) * x0 + _ex(d.sqrt_one_minus_alphas_cumprod, t) * noise


def q_posterior(d, x0, xt, t):
    mean = _ex(d.posterior_mean_coef1, t) * x0 + _ex(d.posterior_mean_coef2, t) * xt
    return mean, _ex(d.posterior_variance, t), _ex(d.posterior_log_variance_clipped, t)


def xstart_from_eps(d, xt, t, eps):
    return _ex(d.sqrt_recip_alphas_cumprod, t) * xt - _ex(d.sqrt_recipm1_alphas_cumprod, t) * eps


def eps_from_xstart(d, xt, t, x0):
    return (_ex(d.sqrt_recip_alphas_cumprod, t) * xt - x0) / _ex(d.sqrt_recipm1_alphas_cumprod, t)


def call_model(d, model, x, t, y):
    """The model sees ORIGINAL timesteps (respace.py _WrappedModel, no rescale)."""
    t_orig = th.from_numpy(d.timestep_map[np.asarray(t)]).float()
    return model(x, t_orig, y)


def p_mean_variance(d, model, x, t, y=None, clip=True, model_output=None):
    C = x.shape[1]
    out = call_model(d, model, x, t, y) if model_output is None else model_output
    if d.learn_sigma:
        eps, v = th.split(out, C, dim=1)
        min_log = _ex(d.posterior_log_variance_clipped, t)
        max_log = _ex(np.log(d.betas), t)
        frac = (v + 1) / 2
        log_var = frac * max_log + (1 - frac) * min_log
        var = th.exp(log_var)
    else:
        eps = out
        large = np.append(d.posterior_variance[1], d.betas[1:])
        var, log_var = _ex(large, t), _ex(np.log(large), t)
    x0 = xstart_from_eps(d, x, t, eps)
    if clip:
        x0 = x0.clamp(-1, 1)
    mean, _, _ = q_posterior(d, x0, x, t)
    return {"mean": mean, "variance": var, "log_variance": log_var, "pred_xstart": x0, "eps": eps}


def ddim_sample(d, model, x, t, y=None, eta=0.0, noise=None, cond_fn=None, clip=True):
    out = p_mean_variance(d, model, x, t, y, clip)
    x0 = out["pred_xstart"]
    if cond_fn is not None:  # condition_score
        t_orig = th.from_numpy(d.timestep_map[np.asarray(t)]).float()
        eps = eps_from_xstart(d, x, t, x0)
        eps = eps - _ex(d.sqrt_one_minus_alphas_cumprod, t) * cond_fn(x, t_orig)
        x0 = xstart_from_eps(d, x, t, eps)
    eps = eps_from_xstart(d, x, t, x0)
    ab = _ex(d.alphas_cumprod, t)
    abp = _ex(d.alphas_cumprod_prev, t)
    sigma = eta * th.sqrt((1 - abp) / (1 - ab)) * th.sqrt(1 - ab / abp)
    mean = x0 * th.sqrt(abp) + th.sqrt(1 - abp - sigma ** 2) * eps
    if eta > 0:
        mask = th.tensor([0.0 if i == 0 else 1.0 for i in np.atleast_1d(t)]).reshape(-1, 1, 1, 1)
        mean = mean + mask * sigma * noise
    return mean


def ddim_reverse_sample(d, model, x, t, y=None, clip=True):
    out = p_mean_variance(d, model, x, t, y, clip)
    eps = eps_from_xstart(d, x, t, out["pred_xstart"])
    abn = _ex(d.alphas_cumprod_next, t)
    return out["pred_xstart"] * th.sqrt(abn) + th.sqrt(1 - abn) * eps


def p_sample(d, model, x, t, noise, y=None, clip=True):
    out = p_mean_variance(d, model, x, t, y, clip)
    mask = th.tensor([0.0 if i == 0 else 1.0 for i in np.atleast_1d(t)]).reshape(-1, 1, 1, 1)
    return out["mean"] + mask * th.exp(0.5 * out["log_variance"]) * noise


# ---------------------------------------------------------------- losses
def normal_kl(m1, lv1, m2, lv2):
    return 0.5 * (-1.0 + lv2 - lv1 + th.exp(lv1 - lv2) + (m1 - m2) ** 2 * th.exp(-lv2))


def approx_cdf(x):
    return 0.5 * (1.0 + th.tanh(math.sqrt(2.0 / math.pi) * (x + 0.044715 * th.pow(x, 3))))


def disc_gauss_ll(x, means, log_scales):
    c = x - means
    inv = th.exp(-log_scales)
    cdf_plus = approx_cdf(inv * (c + 1.0 / 255))
    cdf_min = approx_cdf(inv * (c - 1.0 / 255))
    log_cdf_plus = th.log(cdf_plus.clamp(min=1e-12))
    log_1m_cdf_min = th.log((1.0 - cdf_min).clamp(min=1e-12))
    delta = cdf_plus - cdf_min
    return th.where(x < -0.999, log_cdf_plus, th.where(x > 0.999, log_1m_cdf_min, th.log(delta.clamp(min=1e-12))))


def training_losses(d, model, x0, t, noise, y=None):
    xt = q_sample(d, x0, t, noise)
    out = call_model(d, model, xt, t, y)
    C = x0.shape[1]
    terms = {}
    if d.learn_sigma:
        eps, v = th.split(out, C, dim=1)
        frozen = th.cat([eps.detach(), v], dim=1)
        tm, _, tlv = q_posterior(d, x0, xt, t)
        p = p_mean_variance(d, None, xt, t, clip=False, model_output=frozen)
        kl = normal_kl(tm, tlv, p["mean"], p["log_variance"]).mean(dim=(1, 2, 3)) / math.log(2.0)
        nll = -disc_gauss_ll(x0, p["mean"], 0.5 * p["log_variance"]).mean(dim=(1, 2, 3)) / math.log(2.0)
        terms["vb"] = th.where(th.tensor(np.asarray(t) == 0), nll, kl)
    else:
        eps = out
    terms["mse"] = ((noise - eps) ** 2).mean(dim=(1, 2, 3))
    terms["loss"] = terms["mse"] + terms.get("vb", 0.0)
    return terms


# ---------------------------------------------------------------- guided sample known
def guided_sample_known(d, model, regressor, image, r0, change, noise_level=200, scale=200000.0,
                        class_label=1, amplify=True, initial_noise=None, clip=True, initial_noise_std=0.01):
    """The project's corrected indexing: invert t = 0..L-1, decode t = L-1..0,
    both networks at ORIGINAL timesteps, target x1.15 while original t > 20.
    With `initial_noise` (a standard normal tensor z) the start is
    sqrt(1 - s^2) image + s z, s = initial_noise_std: the reference code's
    q_sample at t = 0 for s = sqrt(1 - alpha_bar_0) (0.01, linear, T = 1000)."""
    B = image.shape[0]
    steps = int(np.sum(d.timestep_map < noise_level))
    y = th.full((B,), class_label, dtype=th.long)
    x = image if initial_noise is None else math.sqrt(1 - initial_noise_std ** 2) * image + initial_noise_std * initial_noise
    with th.no_grad():
        for i in range(steps):
            x = ddim_reverse_sample(d, model, x, [i] * B, y, clip)
    latent = x
    target = th.tensor(np.asarray(r0) * (1 + np.asarray(change)), dtype=th.float32)
    preds = []
    for i in reversed(range(steps)):
        t_orig = int(d.timestep_map[i])
        tgt = target * 1.15 if (amplify and t_orig > 20) else target

        def cond_fn(xc, tt, tgt=tgt):
            with th.enable_grad():
                xin = xc.detach().requires_grad_(True)
                r = regressor(xin, tt)
                g = th.autograd.grad(r.sum(), xin)[0]
            preds.append(r.detach().numpy().tolist())
            return (tgt - r.detach()).reshape(-1, 1, 1, 1) * g * scale

        with th.no_grad():
            x = ddim_sample(d, model, x, [i] * B, y, 0.0, None, cond_fn, clip)
    return {"sample": x, "latent": latent, "predictions": preds, "steps": steps}


# ---------------------------------------------------------------- tiny networks
class TinyEps(th.nn.Module):
    """eps net: tanh(conv3x3(x) + w_t * t/1000 + emb[y]) -> conv3x3, times (1 + t/1000)."""

    def __init__(self, c=4, hidden=8, learn_sigma=True, classes=2):
        super().__init__()
        self.conv1 = th.nn.Conv2d(c, hidden, 3, padding=1)
        self.conv2 = th.nn.Conv2d(hidden, 2 * c if learn_sigma else c, 3, padding=1)
        self.wt = th.nn.Parameter(th.randn(hidden) * 0.5)
        self.emb = th.nn.Parameter(th.randn(classes, hidden) * 0.3)

    def forward(self, x, t, y=None):
        h = self.conv1(x) + (self.wt[None, :] * (t[:, None] / 1000.0))[:, :, None, None]
        if y is not None:
            h = h + self.emb[y][:, :, None, None]
        return self.conv2(th.tanh(h)) * (1 + t / 1000.0)[:, None, None, None]


class TinyRegressor(th.nn.Module):
    """R(x, t) = 0.5 * mean(tanh(conv3x3(x))) * (1 + t/1000) + 0.3, one value per image."""

    def __init__(self, c=4, hidden=4):
        super().__init__()
        self.conv = th.nn.Conv2d(c, hidden, 3, padding=1)

    def forward(self, x, t):
        h = th.tanh(self.conv(x)).mean(dim=(1, 2, 3))
        return 0.5 * h * (1 + t / 1000.0) + 0.3


def conv_weights(conv):
    return {"weight": conv.weight.detach().numpy().ravel().tolist(), "weightShape": list(conv.weight.shape),
            "bias": conv.bias.detach().numpy().ravel().tolist()}


def nhwc(x):
    return x.detach().permute(0, 2, 3, 1).contiguous().numpy()


def nchw(a):
    return th.from_numpy(np.ascontiguousarray(np.asarray(a, dtype=np.float32).transpose(0, 3, 1, 2)))
