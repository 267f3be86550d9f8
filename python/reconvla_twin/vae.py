"""diffusers AutoencoderKL (autoencoders/autoencoder_kl.py, vae.py, resnet.py, downsampling.py,
upsampling.py, unet_2d_blocks.py, attention_processor.py with AttnProcessor2_0), without a time
embedding. FLUX-style checkpoints have no quant_conv / post_quant_conv and a shift_factor.

State-dict keys are diffusers': encoder.{conv_in,down_blocks.<i>.{resnets.<j>,downsamplers.0.conv},
mid_block.{resnets.<j>,attentions.0},conv_norm_out,conv_out}, quant_conv, post_quant_conv,
decoder.{conv_in,mid_block,up_blocks.<i>.{resnets.<j>,upsamplers.0.conv},conv_norm_out,conv_out}.
A ReconVLA checkpoint may hold only the encoder (load with strict=False, decoder missing).
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Tuple

import torch
import torch.nn.functional as F
from torch import nn

EPS = 1e-6  # every GroupNorm of the VAE


@dataclass
class VaeConfig:
    in_channels: int = 3
    out_channels: int = 3
    latent_channels: int = 4
    block_out_channels: Tuple[int, ...] = (64,)
    layers_per_block: int = 1
    norm_num_groups: int = 32
    scaling_factor: float = 0.18215
    shift_factor: float = 0.0
    use_quant_conv: bool = True
    use_post_quant_conv: bool = True
    mid_block_add_attention: bool = True

    @staticmethod
    def from_dict(d: dict) -> "VaeConfig":
        if d.get("act_fn", "silu") != "silu":
            raise ValueError(f"VAE: act_fn {d['act_fn']} (only silu)")
        return VaeConfig(
            in_channels=d.get("in_channels", 3), out_channels=d.get("out_channels", 3), latent_channels=d.get("latent_channels", 4),
            block_out_channels=tuple(d.get("block_out_channels", [64])), layers_per_block=d.get("layers_per_block", 1),
            norm_num_groups=d.get("norm_num_groups", 32), scaling_factor=d.get("scaling_factor") or 0.18215,
            shift_factor=d.get("shift_factor") or 0.0, use_quant_conv=d.get("use_quant_conv", True),
            use_post_quant_conv=d.get("use_post_quant_conv", True), mid_block_add_attention=d.get("mid_block_add_attention", True),
        )


class ResnetBlock2D(nn.Module):
    def __init__(self, cin: int, cout: int, groups: int):
        super().__init__()
        self.norm1 = nn.GroupNorm(groups, cin, eps=EPS)
        self.conv1 = nn.Conv2d(cin, cout, 3, padding=1)
        self.norm2 = nn.GroupNorm(groups, cout, eps=EPS)
        self.conv2 = nn.Conv2d(cout, cout, 3, padding=1)
        self.conv_shortcut = nn.Conv2d(cin, cout, 1) if cin != cout else None

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        h = self.conv1(F.silu(self.norm1(x)))
        h = self.conv2(F.silu(self.norm2(h)))
        return (x if self.conv_shortcut is None else self.conv_shortcut(x)) + h


class Attention(nn.Module):
    """The mid-block self-attention: one head as wide as the channels, residual, rescale 1."""

    def __init__(self, ch: int, groups: int):
        super().__init__()
        self.group_norm = nn.GroupNorm(groups, ch, eps=EPS)
        self.to_q, self.to_k, self.to_v = nn.Linear(ch, ch), nn.Linear(ch, ch), nn.Linear(ch, ch)
        self.to_out = nn.ModuleList([nn.Linear(ch, ch)])

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        b, c, h, w = x.shape
        y = self.group_norm(x).view(b, c, h * w).transpose(1, 2)
        q, k, v = self.to_q(y), self.to_k(y), self.to_v(y)
        probs = torch.softmax(q @ k.transpose(1, 2) / c ** 0.5, dim=-1)
        y = self.to_out[0](probs @ v)
        return y.transpose(-1, -2).reshape(b, c, h, w) + x


class UNetMidBlock2D(nn.Module):
    def __init__(self, ch: int, groups: int, add_attention: bool):
        super().__init__()
        self.resnets = nn.ModuleList([ResnetBlock2D(ch, ch, groups), ResnetBlock2D(ch, ch, groups)])
        self.attentions = nn.ModuleList([Attention(ch, groups)]) if add_attention else None

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.resnets[0](x)
        if self.attentions is not None:
            x = self.attentions[0](x)
        return self.resnets[1](x)


class Downsample2D(nn.Module):
    def __init__(self, ch: int):
        super().__init__()
        self.conv = nn.Conv2d(ch, ch, 3, stride=2, padding=0)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.conv(F.pad(x, (0, 1, 0, 1)))  # asymmetric: right and bottom only


class Upsample2D(nn.Module):
    def __init__(self, ch: int):
        super().__init__()
        self.conv = nn.Conv2d(ch, ch, 3, padding=1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.conv(F.interpolate(x, scale_factor=2.0, mode="nearest"))


class EncoderBlock(nn.Module):
    """DownEncoderBlock2D (add_upsample False) / UpDecoderBlock2D: resnets then an optional resampler."""

    def __init__(self, cin: int, cout: int, layers: int, groups: int, resample: str):
        super().__init__()
        self.resnets = nn.ModuleList([ResnetBlock2D(cin if i == 0 else cout, cout, groups) for i in range(layers)])
        if resample == "down":
            self.downsamplers = nn.ModuleList([Downsample2D(cout)])
        elif resample == "up":
            self.upsamplers = nn.ModuleList([Upsample2D(cout)])

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        for r in self.resnets:
            x = r(x)
        for s in list(getattr(self, "downsamplers", [])) + list(getattr(self, "upsamplers", [])):
            x = s(x)
        return x


class Encoder(nn.Module):
    def __init__(self, c: VaeConfig):
        super().__init__()
        ch, g = c.block_out_channels, c.norm_num_groups
        self.conv_in = nn.Conv2d(c.in_channels, ch[0], 3, padding=1)
        self.down_blocks = nn.ModuleList([
            EncoderBlock(ch[max(i - 1, 0)], ch[i], c.layers_per_block, g, "down" if i < len(ch) - 1 else "none")
            for i in range(len(ch))
        ])
        self.mid_block = UNetMidBlock2D(ch[-1], g, c.mid_block_add_attention)
        self.conv_norm_out = nn.GroupNorm(g, ch[-1], eps=EPS)
        self.conv_out = nn.Conv2d(ch[-1], 2 * c.latent_channels, 3, padding=1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.conv_in(x)
        for block in self.down_blocks:
            x = block(x)
        x = self.mid_block(x)
        return self.conv_out(F.silu(self.conv_norm_out(x)))


class Decoder(nn.Module):
    def __init__(self, c: VaeConfig):
        super().__init__()
        rev, g = list(reversed(c.block_out_channels)), c.norm_num_groups
        self.conv_in = nn.Conv2d(c.latent_channels, rev[0], 3, padding=1)
        self.mid_block = UNetMidBlock2D(rev[0], g, c.mid_block_add_attention)
        self.up_blocks = nn.ModuleList([
            EncoderBlock(rev[max(i - 1, 0)], rev[i], c.layers_per_block + 1, g, "up" if i < len(rev) - 1 else "none")
            for i in range(len(rev))
        ])
        self.conv_norm_out = nn.GroupNorm(g, rev[-1], eps=EPS)
        self.conv_out = nn.Conv2d(rev[-1], c.out_channels, 3, padding=1)

    def forward(self, z: torch.Tensor) -> torch.Tensor:
        x = self.mid_block(self.conv_in(z))
        for block in self.up_blocks:
            x = block(x)
        return self.conv_out(F.silu(self.conv_norm_out(x)))


class AutoencoderKL(nn.Module):
    def __init__(self, c: VaeConfig, with_decoder: bool = True):
        super().__init__()
        self.config = c
        self.encoder = Encoder(c)
        if with_decoder:
            self.decoder = Decoder(c)
        z2 = 2 * c.latent_channels
        self.quant_conv = nn.Conv2d(z2, z2, 1) if c.use_quant_conv else None
        if with_decoder:
            lc = c.latent_channels
            self.post_quant_conv = nn.Conv2d(lc, lc, 1) if c.use_post_quant_conv else None

    def encode(self, x: torch.Tensor) -> Tuple[torch.Tensor, torch.Tensor]:
        """DiagonalGaussianDistribution: mean and logvar (clamped to [-30, 20])."""
        moments = self.encoder(x)
        if self.quant_conv is not None:
            moments = self.quant_conv(moments)
        mean, logvar = torch.chunk(moments, 2, dim=1)
        return mean, logvar.clamp(-30.0, 20.0)

    def decode(self, z: torch.Tensor) -> torch.Tensor:
        if self.post_quant_conv is not None:
            z = self.post_quant_conv(z)
        return self.decoder(z)

    def scale_latents(self, z: torch.Tensor) -> torch.Tensor:
        """(z - shift_factor) * scaling_factor, as FLUX pipelines do after encoding."""
        return (z - self.config.shift_factor) * self.config.scaling_factor


def pack_latents(z: torch.Tensor) -> torch.Tensor:
    """2x2 packing, b c (h p1) (w p2) -> b (c p1 p2) h w."""
    b, c, h, w = z.shape
    return z.view(b, c, h // 2, 2, w // 2, 2).permute(0, 1, 3, 5, 2, 4).reshape(b, c * 4, h // 2, w // 2)
