"""Gaussian diffusion as ReconVLA's diffusion_utils (guided-diffusion's gaussian_diffusion.py and
respace.py): the beta schedule, the float64 tables, q_sample, the DDPM and DDIM steps, and the
denoiser's training loss. Only what upstream builds: epsilon prediction, FIXED_LARGE variance,
learn_sigma False. Tables are float64; coefficients are gathered at t and cast to float32 (as
_extract_into_tensor does), whatever the dtype of the data.
"""
from __future__ import annotations

import math
from typing import Dict, List

import torch

TABLE_NAMES = [
    "betas", "alphas_cumprod", "alphas_cumprod_prev", "alphas_cumprod_next", "sqrt_alphas_cumprod",
    "sqrt_one_minus_alphas_cumprod", "log_one_minus_alphas_cumprod", "sqrt_recip_alphas_cumprod",
    "sqrt_recipm1_alphas_cumprod", "posterior_variance", "posterior_log_variance_clipped",
    "posterior_mean_coef1", "posterior_mean_coef2", "fixed_large_variance", "fixed_large_log_variance",
]


def beta_schedule(name: str, steps: int) -> List[float]:
    """get_named_beta_schedule, in python floats (float64)."""
    if name == "linear":
        scale = 1000 / steps
        lo, hi = scale * 0.0001, scale * 0.02
        return [float(v) for v in torch.linspace(lo, hi, steps, dtype=torch.float64)]
    if name == "cosine":
        bar = lambda s: math.cos((s + 0.008) / 1.008 * math.pi / 2) ** 2  # noqa: E731
        return [min(1 - bar((i + 1) / steps) / bar(i / steps), 0.999) for i in range(steps)]
    raise ValueError(f"noise schedule {name}")


def space_timesteps(steps: int, spacing: str) -> List[int]:
    """respace.space_timesteps for one section given as a step count ("1000", "50")."""
    count = int(spacing)
    if count == steps:
        return list(range(steps))
    stride = (steps - 1) / (count - 1)
    cur, taken = 0.0, []
    for _ in range(count):
        taken.append(round(cur))
        cur += stride
    return sorted(set(taken))


class GaussianDiffusion:
    def __init__(self, betas: torch.Tensor, timestep_map: List[int]):
        b = betas.to(torch.float64)
        self.num_timesteps = b.shape[0]
        self.timestep_map = timestep_map
        ac = torch.cumprod(1.0 - b, dim=0)
        acp = torch.cat([torch.ones(1, dtype=torch.float64), ac[:-1]])
        acn = torch.cat([ac[1:], torch.zeros(1, dtype=torch.float64)])
        pv = b * (1.0 - acp) / (1.0 - ac)
        t: Dict[str, torch.Tensor] = {
            "betas": b, "alphas_cumprod": ac, "alphas_cumprod_prev": acp, "alphas_cumprod_next": acn,
            "sqrt_alphas_cumprod": ac.sqrt(), "sqrt_one_minus_alphas_cumprod": (1.0 - ac).sqrt(),
            "log_one_minus_alphas_cumprod": torch.log(1.0 - ac), "sqrt_recip_alphas_cumprod": (1.0 / ac).sqrt(),
            "sqrt_recipm1_alphas_cumprod": (1.0 / ac - 1).sqrt(), "posterior_variance": pv,
            "posterior_log_variance_clipped": torch.log(torch.cat([pv[1:2], pv[1:]])),
            "posterior_mean_coef1": b * acp.sqrt() / (1.0 - ac),
            "posterior_mean_coef2": (1.0 - acp) * (1.0 - b).sqrt() / (1.0 - ac),
        }
        t["fixed_large_variance"] = torch.cat([pv[1:2], b[1:]])
        t["fixed_large_log_variance"] = torch.log(t["fixed_large_variance"])
        self.tables = t

    @staticmethod
    def create(steps: int = 1000, schedule: str = "cosine", respacing: str = "") -> "GaussianDiffusion":
        """create_diffusion: always a SpacedDiffusion, which recomputes the betas from alphas_cumprod."""
        base = beta_schedule(schedule, steps)
        keep = space_timesteps(steps, respacing or str(steps))
        ac, last, new_betas = 1.0, 1.0, []
        for i, beta in enumerate(base):
            ac *= 1.0 - beta
            if i in keep:
                new_betas.append(1 - ac / last)
                last = ac
        return GaussianDiffusion(torch.tensor(new_betas, dtype=torch.float64), keep)

    def extract(self, name: str, t: torch.Tensor, ndim: int) -> torch.Tensor:
        """Coefficients at t as float32, shaped to broadcast over [N, ...]."""
        v = self.tables[name][t].float()
        return v.view(-1, *([1] * (ndim - 1)))

    def q_sample(self, x0: torch.Tensor, t: torch.Tensor, noise: torch.Tensor) -> torch.Tensor:
        return (self.extract("sqrt_alphas_cumprod", t, x0.dim()) * x0
                + self.extract("sqrt_one_minus_alphas_cumprod", t, x0.dim()) * noise)

    def pred_xstart(self, x_t: torch.Tensor, t: torch.Tensor, eps: torch.Tensor, clip: bool) -> torch.Tensor:
        x0 = (self.extract("sqrt_recip_alphas_cumprod", t, x_t.dim()) * x_t
              - self.extract("sqrt_recipm1_alphas_cumprod", t, x_t.dim()) * eps)
        return x0.clamp(-1, 1) if clip else x0

    def p_sample(self, x_t, t, eps, noise, clip_denoised: bool = False) -> Dict[str, torch.Tensor]:
        """One DDPM step (FIXED_LARGE variance, no noise at t = 0)."""
        n = x_t.dim()
        x0 = self.pred_xstart(x_t, t, eps, clip_denoised)
        mean = self.extract("posterior_mean_coef1", t, n) * x0 + self.extract("posterior_mean_coef2", t, n) * x_t
        log_var = self.extract("fixed_large_log_variance", t, n)
        nonzero = (t != 0).float().view(-1, *([1] * (n - 1)))
        x_prev = mean + nonzero * torch.exp(0.5 * log_var) * noise
        return {"pred_xstart": x0, "mean": mean, "log_variance": log_var.reshape(-1), "x_prev": x_prev}

    def ddim_sample(self, x_t, index: torch.Tensor, eps, clip_denoised: bool = False) -> Dict[str, torch.Tensor]:
        """One DDIM step (eta 0) from spaced index `index`; the model saw timestep_map[index]."""
        n = x_t.dim()
        x0 = self.pred_xstart(x_t, index, eps, clip_denoised)
        eps2 = ((self.extract("sqrt_recip_alphas_cumprod", index, n) * x_t - x0)
                / self.extract("sqrt_recipm1_alphas_cumprod", index, n))
        a_prev = self.extract("alphas_cumprod_prev", index, n)
        x_prev = x0 * a_prev.sqrt() + (1 - a_prev).sqrt() * eps2
        return {"pred_xstart": x0, "eps_rederived": eps2, "x_prev": x_prev}


def vm_loss(model_out: torch.Tensor, noise: torch.Tensor, batch: int, eps: float):
    """compute_vm_loss: per-row mean squared error, then (mse.view(B, -1).mean() * m).sum() / (m.sum() + eps), m = 1."""
    mse = ((noise - model_out) ** 2).mean(dim=tuple(range(1, noise.dim())))
    m = torch.ones(mse.shape[0], dtype=mse.dtype)
    return (mse.view(batch, -1).mean() * m).sum() / (m.sum() + eps), mse
