"""SiglipVisionModel, following transformers' modeling_siglip.py (eager attention).

State-dict keys: vision_model.embeddings.{patch_embedding,position_embedding}.*,
vision_model.encoder.layers.<i>.{layer_norm1,self_attn,layer_norm2,mlp}.*,
vision_model.post_layernorm.*, and with vision_use_head the attention-pooling head
vision_model.head.{probe,attention (nn.MultiheadAttention),layernorm,mlp}.*.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import List, Optional, Tuple

import torch
import torch.nn.functional as F
from torch import nn


@dataclass
class SiglipVisionConfig:
    hidden_size: int
    intermediate_size: int
    num_hidden_layers: int
    num_attention_heads: int
    num_channels: int
    image_size: int
    patch_size: int
    layer_norm_eps: float = 1e-6
    hidden_act: str = "gelu_pytorch_tanh"
    vision_use_head: bool = True

    @staticmethod
    def from_dict(d: dict) -> "SiglipVisionConfig":
        return SiglipVisionConfig(
            hidden_size=d["hidden_size"], intermediate_size=d["intermediate_size"], num_hidden_layers=d["num_hidden_layers"],
            num_attention_heads=d["num_attention_heads"], num_channels=d.get("num_channels", 3), image_size=d["image_size"],
            patch_size=d["patch_size"], layer_norm_eps=d.get("layer_norm_eps", 1e-6),
            hidden_act=d.get("hidden_act", "gelu_pytorch_tanh"), vision_use_head=d.get("vision_use_head", True),
        )


def activation(name: str, x: torch.Tensor) -> torch.Tensor:
    if name == "gelu_pytorch_tanh":
        return F.gelu(x, approximate="tanh")
    if name == "gelu":
        return F.gelu(x)
    raise ValueError(f"SigLIP: hidden_act {name}")


class SiglipVisionEmbeddings(nn.Module):
    def __init__(self, c: SiglipVisionConfig):
        super().__init__()
        self.patch_embedding = nn.Conv2d(c.num_channels, c.hidden_size, c.patch_size, stride=c.patch_size)
        self.num_patches = (c.image_size // c.patch_size) ** 2
        self.position_embedding = nn.Embedding(self.num_patches, c.hidden_size)

    def forward(self, pixels: torch.Tensor) -> torch.Tensor:
        patches = self.patch_embedding(pixels).flatten(2).transpose(1, 2)  # row-major patches
        return patches + self.position_embedding.weight[None]


class SiglipAttention(nn.Module):
    def __init__(self, c: SiglipVisionConfig):
        super().__init__()
        d = c.hidden_size
        self.heads = c.num_attention_heads
        self.q_proj, self.k_proj, self.v_proj, self.out_proj = (nn.Linear(d, d) for _ in range(4))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        b, t, d = x.shape
        hd = d // self.heads
        split = lambda y: y.view(b, t, self.heads, hd).transpose(1, 2)  # noqa: E731
        q, k, v = split(self.q_proj(x)), split(self.k_proj(x)), split(self.v_proj(x))
        probs = torch.softmax(q @ k.transpose(2, 3) * hd ** -0.5, dim=-1)
        return self.out_proj((probs @ v).transpose(1, 2).reshape(b, t, d))


class SiglipMLP(nn.Module):
    def __init__(self, c: SiglipVisionConfig):
        super().__init__()
        self.act = c.hidden_act
        self.fc1 = nn.Linear(c.hidden_size, c.intermediate_size)
        self.fc2 = nn.Linear(c.intermediate_size, c.hidden_size)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.fc2(activation(self.act, self.fc1(x)))


class SiglipEncoderLayer(nn.Module):
    def __init__(self, c: SiglipVisionConfig):
        super().__init__()
        self.layer_norm1 = nn.LayerNorm(c.hidden_size, eps=c.layer_norm_eps)
        self.self_attn = SiglipAttention(c)
        self.layer_norm2 = nn.LayerNorm(c.hidden_size, eps=c.layer_norm_eps)
        self.mlp = SiglipMLP(c)

    def forward(self, h: torch.Tensor) -> torch.Tensor:
        h = h + self.self_attn(self.layer_norm1(h))
        return h + self.mlp(self.layer_norm2(h))


class SiglipEncoder(nn.Module):
    def __init__(self, c: SiglipVisionConfig):
        super().__init__()
        self.layers = nn.ModuleList([SiglipEncoderLayer(c) for _ in range(c.num_hidden_layers)])


class SiglipMultiheadAttentionPoolingHead(nn.Module):
    def __init__(self, c: SiglipVisionConfig):
        super().__init__()
        self.probe = nn.Parameter(torch.zeros(1, 1, c.hidden_size))
        self.attention = nn.MultiheadAttention(c.hidden_size, c.num_attention_heads, batch_first=True)
        self.layernorm = nn.LayerNorm(c.hidden_size, eps=c.layer_norm_eps)
        self.mlp = SiglipMLP(c)

    def forward(self, h: torch.Tensor) -> torch.Tensor:
        probe = self.probe.repeat(h.shape[0], 1, 1)
        a = self.attention(probe, h, h, need_weights=False)[0]
        return (a + self.mlp(self.layernorm(a)))[:, 0]


class SiglipVisionTransformer(nn.Module):
    def __init__(self, c: SiglipVisionConfig):
        super().__init__()
        self.embeddings = SiglipVisionEmbeddings(c)
        self.encoder = SiglipEncoder(c)
        self.post_layernorm = nn.LayerNorm(c.hidden_size, eps=c.layer_norm_eps)
        self.head = SiglipMultiheadAttentionPoolingHead(c) if c.vision_use_head else None

    def hidden_states(self, pixels: torch.Tensor, up_to: Optional[int] = None) -> List[torch.Tensor]:
        """(embeddings, output of layer 0, ...), the first up_to + 1 of them (all by default)."""
        hs = [self.embeddings(pixels)]
        n = len(self.encoder.layers) if up_to is None else up_to
        for layer in list(self.encoder.layers)[:n]:
            hs.append(layer(hs[-1]))
        return hs

    def forward(self, pixels: torch.Tensor) -> Tuple[torch.Tensor, Optional[torch.Tensor], List[torch.Tensor]]:
        hs = self.hidden_states(pixels)
        last = self.post_layernorm(hs[-1])
        pooled = self.head(last) if self.head is not None else None
        return last, pooled, hs


class SiglipVisionModel(nn.Module):
    def __init__(self, c: SiglipVisionConfig):
        super().__init__()
        self.config = c
        self.vision_model = SiglipVisionTransformer(c)

    def forward(self, pixels: torch.Tensor):
        """last_hidden_state, pooler_output (None without the head), hidden_states."""
        return self.vision_model(pixels)

    def select_layer(self, pixels: torch.Tensor, layer: int) -> torch.Tensor:
        """hidden_states[layer] (negative counts from the end), running only the layers it needs."""
        n = self.config.num_hidden_layers + 1
        index = layer if layer >= 0 else n + layer
        return self.vision_model.hidden_states(pixels, up_to=index)[index]
