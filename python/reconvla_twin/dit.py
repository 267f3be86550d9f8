"""ReconVLA's denoiser: ReconDenoiser = ln_pre + a DiT with per-token adaLN-Zero conditioning
(reconvla/recon/model/multimodal_denoiser/denoiser_dit.py, the same as ROSS's), with timm 0.6.13's
Attention, Mlp and PatchEmbed. Keys: net.pos_embed (fixed sin-cos), net.x_embedder.proj,
net.t_embedder.mlp.{0,2}, net.z_embedder.1, net.blocks.<i>.{attn.qkv,attn.proj,mlp.fc1,mlp.fc2,
adaLN_modulation.1}, net.final_layer.{linear,adaLN_modulation.1}. ln_pre has no parameters.
"""
from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn


@dataclass
class DiTConfig:
    x_channel: int
    z_channel: int
    embed_dim: int
    depth: int
    num_heads: int = 16  # upstream never passes it: the DiT default
    mlp_ratio: float = 4.0
    input_size: int = 27
    frequency_embedding_size: int = 256
    max_period: float = 10000.0
    ln_pre_eps: float = 1e-5
    norm_eps: float = 1e-6
    diffusion_steps: int = 1000
    noise_schedule: str = "cosine"
    timesteps: str = "1000"
    repeat: int = 4
    vm_loss_eps: float = 1e-6

    @staticmethod
    def from_dict(d: dict) -> "DiTConfig":
        size = d.get("input_size") or int(round(math.sqrt(d["n_patches"])))
        if d.get("patch_size", 1) != 1 or d.get("learn_sigma", False):
            raise ValueError("DiT: only patch_size 1 and learn_sigma false are supported (as upstream builds it)")
        return DiTConfig(
            x_channel=d["x_channel"], z_channel=d["z_channel"], embed_dim=d["embed_dim"], depth=d["depth"],
            num_heads=d.get("num_heads", 16), mlp_ratio=d.get("mlp_ratio", 4.0), input_size=size,
            frequency_embedding_size=d.get("frequency_embedding_size", 256), max_period=d.get("max_period", 10000),
            ln_pre_eps=d.get("ln_pre_eps", 1e-5), norm_eps=d.get("norm_eps", 1e-6), diffusion_steps=d.get("diffusion_steps", 1000),
            noise_schedule=d.get("noise_schedule", "cosine"), timesteps=str(d.get("timesteps", "1000")),
            repeat=d.get("repeat", 4), vm_loss_eps=d.get("vm_loss_eps", 1e-6),
        )


def modulate(x: torch.Tensor, shift: torch.Tensor, scale: torch.Tensor) -> torch.Tensor:
    return x * (1 + scale) + shift


def sincos_pos_embed_2d(dim: int, grid: int) -> np.ndarray:
    """[grid*grid, dim] float64 (MAE's get_2d_sincos_pos_embed): first half the column, second the row."""
    def one_d(d: int, pos: np.ndarray) -> np.ndarray:
        omega = 1.0 / 10000 ** (np.arange(d // 2, dtype=np.float64) / (d / 2.0))
        out = np.einsum("m,d->md", pos.reshape(-1), omega)
        return np.concatenate([np.sin(out), np.cos(out)], axis=1)
    ww, hh = np.meshgrid(np.arange(grid, dtype=np.float32), np.arange(grid, dtype=np.float32))
    return np.concatenate([one_d(dim // 2, ww), one_d(dim // 2, hh)], axis=1)


class TimestepEmbedder(nn.Module):
    def __init__(self, dim: int, freq_size: int, max_period: float):
        super().__init__()
        self.freq_size, self.max_period = freq_size, max_period
        self.mlp = nn.Sequential(nn.Linear(freq_size, dim), nn.SiLU(), nn.Linear(dim, dim))

    def frequencies(self, t: torch.Tensor) -> torch.Tensor:
        """cat(cos, sin) of t * f, in float32 whatever the model dtype (as upstream). f is torch's
        float32 exp: an ulp of f moves t * f by ~1e-4 at t = 999, so it must be upstream's."""
        half = self.freq_size // 2
        f = torch.exp(-math.log(self.max_period) * torch.arange(half, dtype=torch.float32) / half)
        args = t[:, None].float() * f[None]
        return torch.cat([torch.cos(args), torch.sin(args)], dim=-1)

    def forward(self, t: torch.Tensor) -> torch.Tensor:
        return self.mlp(self.frequencies(t).to(self.mlp[0].weight.dtype))


class Attention(nn.Module):
    """timm 0.6.13 Attention (qkv_bias True)."""

    def __init__(self, dim: int, heads: int):
        super().__init__()
        self.heads = heads
        self.qkv = nn.Linear(dim, dim * 3)
        self.proj = nn.Linear(dim, dim)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        b, n, c = x.shape
        hd = c // self.heads
        q, k, v = self.qkv(x).reshape(b, n, 3, self.heads, hd).permute(2, 0, 3, 1, 4)
        attn = ((q @ k.transpose(-2, -1)) * hd ** -0.5).softmax(dim=-1)
        return self.proj((attn @ v).transpose(1, 2).reshape(b, n, c))


class Mlp(nn.Module):
    def __init__(self, dim: int, hidden: int):
        super().__init__()
        self.fc1, self.fc2 = nn.Linear(dim, hidden), nn.Linear(hidden, dim)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.fc2(F.gelu(self.fc1(x), approximate="tanh"))


class DiTBlock(nn.Module):
    def __init__(self, dim: int, heads: int, mlp_ratio: float, eps: float):
        super().__init__()
        self.norm1 = nn.LayerNorm(dim, elementwise_affine=False, eps=eps)
        self.attn = Attention(dim, heads)
        self.norm2 = nn.LayerNorm(dim, elementwise_affine=False, eps=eps)
        self.mlp = Mlp(dim, int(dim * mlp_ratio))
        self.adaLN_modulation = nn.Sequential(nn.SiLU(), nn.Linear(dim, 6 * dim))

    def forward(self, x: torch.Tensor, c: torch.Tensor) -> torch.Tensor:
        shift_msa, scale_msa, gate_msa, shift_mlp, scale_mlp, gate_mlp = self.adaLN_modulation(c).chunk(6, dim=-1)
        x = x + gate_msa * self.attn(modulate(self.norm1(x), shift_msa, scale_msa))
        return x + gate_mlp * self.mlp(modulate(self.norm2(x), shift_mlp, scale_mlp))


class FinalLayer(nn.Module):
    def __init__(self, dim: int, out: int, eps: float):
        super().__init__()
        self.norm_final = nn.LayerNorm(dim, elementwise_affine=False, eps=eps)
        self.linear = nn.Linear(dim, out)
        self.adaLN_modulation = nn.Sequential(nn.SiLU(), nn.Linear(dim, 2 * dim))

    def forward(self, x: torch.Tensor, c: torch.Tensor) -> torch.Tensor:
        shift, scale = self.adaLN_modulation(c).chunk(2, dim=-1)
        return self.linear(modulate(self.norm_final(x), shift, scale))


class PatchEmbed(nn.Module):
    def __init__(self, cin: int, dim: int):
        super().__init__()
        self.proj = nn.Conv2d(cin, dim, 1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.proj(x).flatten(2).transpose(1, 2)


class DiT(nn.Module):
    def __init__(self, c: DiTConfig):
        super().__init__()
        d = c.embed_dim
        self.c = c
        self.x_embedder = PatchEmbed(c.x_channel, d)
        self.t_embedder = TimestepEmbedder(d, c.frequency_embedding_size, c.max_period)
        self.z_embedder = nn.Sequential(nn.SiLU(), nn.Linear(c.z_channel, d))
        pos = torch.from_numpy(sincos_pos_embed_2d(d, c.input_size)).float()[None]
        self.pos_embed = nn.Parameter(pos, requires_grad=False)
        self.blocks = nn.ModuleList([DiTBlock(d, c.num_heads, c.mlp_ratio, c.norm_eps) for _ in range(c.depth)])
        self.final_layer = FinalLayer(d, c.x_channel, c.norm_eps)

    def forward(self, x: torch.Tensor, t: torch.Tensor, z: torch.Tensor, trace: dict | None = None) -> torch.Tensor:
        """x [N, C, h, w] noisy latent, t [N], z [N, Cz, h, w] condition -> epsilon [N, C, h, w]."""
        tr = trace if trace is not None else {}
        tr["t_freq"] = self.t_embedder.frequencies(t)
        t_emb = self.t_embedder(t)
        z_emb = self.z_embedder(z.flatten(2).transpose(1, 2))
        c = t_emb[:, None, :] + z_emb
        h = self.x_embedder(x) + self.pos_embed
        tr.update(t_emb=t_emb, z_emb=z_emb, c=c, x_embed=h)
        for i, block in enumerate(self.blocks):
            h = block(h, c)
            tr[f"blocks.{i}"] = h
        h = self.final_layer(h, c)
        tr["final_tokens"] = h
        n, g = h.shape[0], self.c.input_size
        return h.view(n, g, g, -1).permute(0, 3, 1, 2)  # unpatchify (patch 1)


class ReconDenoiser(nn.Module):
    def __init__(self, c: DiTConfig):
        super().__init__()
        self.c = c
        self.ln_pre = nn.LayerNorm(c.z_channel, elementwise_affine=False, eps=c.ln_pre_eps)
        self.net = DiT(c)

    def condition(self, tokens: torch.Tensor) -> torch.Tensor:
        """ln_pre of the LLM tokens [B, T, Cz], as [B, Cz, h, w] (token k = row * w + col)."""
        z = self.ln_pre(tokens)
        b, t, cz = z.shape
        return z.transpose(1, 2).reshape(b, cz, self.c.input_size, self.c.input_size)
