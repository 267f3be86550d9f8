"""Qwen2ForCausalLM, following transformers' modeling_qwen2.py (eager attention).

State-dict keys are Hugging Face's: model.embed_tokens.weight, model.layers.<i>.{self_attn,mlp,
input_layernorm,post_attention_layernorm}.*, model.norm.weight, and lm_head.weight only when the
embeddings are not tied (tied checkpoints, as save_pretrained writes them, do not store it).
Every op runs in the parameters' dtype: float32 is the library's float32 run, and float64 gives
the golden fixtures' reference (RMSNorm, softmax, rotary and loss then stay in float64 too).
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import List, Optional

import torch
import torch.nn.functional as F
from torch import nn


@dataclass
class Qwen2Config:
    vocab_size: int
    hidden_size: int
    intermediate_size: int
    num_hidden_layers: int
    num_attention_heads: int
    num_key_value_heads: int
    rms_norm_eps: float = 1e-6
    rope_theta: float = 10000.0
    tie_word_embeddings: bool = False
    hidden_act: str = "silu"

    @staticmethod
    def from_dict(d: dict) -> "Qwen2Config":
        if d.get("hidden_act", "silu") != "silu":
            raise ValueError(f"Qwen2: hidden_act {d['hidden_act']} (only silu)")
        return Qwen2Config(
            vocab_size=d["vocab_size"], hidden_size=d["hidden_size"], intermediate_size=d["intermediate_size"],
            num_hidden_layers=d["num_hidden_layers"], num_attention_heads=d["num_attention_heads"],
            num_key_value_heads=d.get("num_key_value_heads", d["num_attention_heads"]),
            rms_norm_eps=d.get("rms_norm_eps", 1e-6), rope_theta=d.get("rope_theta", 10000.0),
            tie_word_embeddings=d.get("tie_word_embeddings", False),
        )

    @property
    def head_dim(self) -> int:
        return self.hidden_size // self.num_attention_heads


class Qwen2RMSNorm(nn.Module):
    def __init__(self, dim: int, eps: float):
        super().__init__()
        self.weight = nn.Parameter(torch.ones(dim))
        self.eps = eps

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        # HF casts to float32 here; a float64 run stays float64 (the reference).
        var = x.pow(2).mean(-1, keepdim=True)
        return self.weight * (x * torch.rsqrt(var + self.eps))


def rotary_cos_sin(position_ids: torch.Tensor, head_dim: int, theta: float, dtype: torch.dtype):
    """cos, sin [B, T, head_dim]: emb = cat(pos * inv_freq, pos * inv_freq)."""
    inv_freq = 1.0 / (theta ** (torch.arange(0, head_dim, 2, dtype=torch.int64).to(dtype) / head_dim))
    freqs = position_ids.to(dtype)[..., None] * inv_freq
    emb = torch.cat([freqs, freqs], dim=-1)
    return emb.cos(), emb.sin()


def rotate_half(x: torch.Tensor) -> torch.Tensor:
    half = x.shape[-1] // 2
    return torch.cat([-x[..., half:], x[..., :half]], dim=-1)


def apply_rotary(x: torch.Tensor, cos: torch.Tensor, sin: torch.Tensor) -> torch.Tensor:
    """x [B, H, T, hd]; cos/sin [B, T, hd] broadcast over heads."""
    return x * cos[:, None] + rotate_half(x) * sin[:, None]


class Qwen2Attention(nn.Module):
    def __init__(self, c: Qwen2Config):
        super().__init__()
        self.c = c
        hd = c.head_dim
        self.q_proj = nn.Linear(c.hidden_size, c.num_attention_heads * hd, bias=True)
        self.k_proj = nn.Linear(c.hidden_size, c.num_key_value_heads * hd, bias=True)
        self.v_proj = nn.Linear(c.hidden_size, c.num_key_value_heads * hd, bias=True)
        self.o_proj = nn.Linear(c.num_attention_heads * hd, c.hidden_size, bias=False)

    def forward(self, x: torch.Tensor, cos: torch.Tensor, sin: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        b, t, _ = x.shape
        c, hd = self.c, self.c.head_dim
        q = self.q_proj(x).view(b, t, c.num_attention_heads, hd).transpose(1, 2)
        k = self.k_proj(x).view(b, t, c.num_key_value_heads, hd).transpose(1, 2)
        v = self.v_proj(x).view(b, t, c.num_key_value_heads, hd).transpose(1, 2)
        q, k = apply_rotary(q, cos, sin), apply_rotary(k, cos, sin)
        groups = c.num_attention_heads // c.num_key_value_heads  # repeat_kv (GQA)
        k = k.repeat_interleave(groups, dim=1)
        v = v.repeat_interleave(groups, dim=1)
        scores = q @ k.transpose(2, 3) / hd ** 0.5 + mask
        probs = torch.softmax(scores, dim=-1)
        out = (probs @ v).transpose(1, 2).reshape(b, t, -1)
        return self.o_proj(out)


class Qwen2MLP(nn.Module):
    def __init__(self, c: Qwen2Config):
        super().__init__()
        self.gate_proj = nn.Linear(c.hidden_size, c.intermediate_size, bias=False)
        self.up_proj = nn.Linear(c.hidden_size, c.intermediate_size, bias=False)
        self.down_proj = nn.Linear(c.intermediate_size, c.hidden_size, bias=False)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.down_proj(F.silu(self.gate_proj(x)) * self.up_proj(x))


class Qwen2DecoderLayer(nn.Module):
    def __init__(self, c: Qwen2Config):
        super().__init__()
        self.self_attn = Qwen2Attention(c)
        self.mlp = Qwen2MLP(c)
        self.input_layernorm = Qwen2RMSNorm(c.hidden_size, c.rms_norm_eps)
        self.post_attention_layernorm = Qwen2RMSNorm(c.hidden_size, c.rms_norm_eps)

    def forward(self, h, cos, sin, mask):
        h = h + self.self_attn(self.input_layernorm(h), cos, sin, mask)
        return h + self.mlp(self.post_attention_layernorm(h))


def causal_padding_mask(attention_mask: torch.Tensor, dtype: torch.dtype) -> torch.Tensor:
    """[B, 1, T, T] additive mask: key j visible from query i iff j <= i and attention_mask[b, j]."""
    b, t = attention_mask.shape
    causal = torch.ones(t, t, dtype=torch.bool).tril()
    visible = causal[None] & attention_mask.bool()[:, None, :]
    return torch.zeros(b, 1, t, t, dtype=dtype).masked_fill(~visible[:, None], torch.finfo(dtype).min)


class Qwen2Model(nn.Module):
    def __init__(self, c: Qwen2Config):
        super().__init__()
        self.c = c
        self.embed_tokens = nn.Embedding(c.vocab_size, c.hidden_size)
        self.layers = nn.ModuleList([Qwen2DecoderLayer(c) for _ in range(c.num_hidden_layers)])
        self.norm = Qwen2RMSNorm(c.hidden_size, c.rms_norm_eps)

    def forward(self, input_ids: Optional[torch.Tensor] = None, inputs_embeds: Optional[torch.Tensor] = None,
                attention_mask: Optional[torch.Tensor] = None, position_ids: Optional[torch.Tensor] = None) -> torch.Tensor:
        """The last hidden state after the final norm, [B, T, D]."""
        h = self.embed_tokens(input_ids) if inputs_embeds is None else inputs_embeds
        b, t, _ = h.shape
        if attention_mask is None:
            attention_mask = torch.ones(b, t, dtype=torch.int64)
        if position_ids is None:
            position_ids = torch.arange(t)[None].expand(b, t)
        cos, sin = rotary_cos_sin(position_ids, self.c.head_dim, self.c.rope_theta, h.dtype)
        mask = causal_padding_mask(attention_mask, h.dtype)
        for layer in self.layers:
            h = layer(h, cos, sin, mask)
        return self.norm(h)


class Qwen2ForCausalLM(nn.Module):
    def __init__(self, c: Qwen2Config):
        super().__init__()
        self.c = c
        self.model = Qwen2Model(c)
        # Tied: lm_head is embed_tokens and is not a state-dict key of its own.
        self.lm_head = None if c.tie_word_embeddings else nn.Linear(c.hidden_size, c.vocab_size, bias=False)

    @property
    def lm_head_weight(self) -> torch.Tensor:
        return self.model.embed_tokens.weight if self.lm_head is None else self.lm_head.weight

    def logits(self, hidden: torch.Tensor) -> torch.Tensor:
        return hidden @ self.lm_head_weight.t()

    def forward(self, input_ids=None, attention_mask=None, inputs_embeds=None, position_ids=None) -> torch.Tensor:
        return self.logits(self.model(input_ids=input_ids, inputs_embeds=inputs_embeds,
                                      attention_mask=attention_mask, position_ids=position_ids))

    @torch.no_grad()
    def greedy(self, input_ids: torch.Tensor, new_tokens: int):
        """generate(do_sample=False): ids [1, T + new_tokens] and the logits each token was picked from."""
        ids = input_ids
        picked: List[torch.Tensor] = []
        for _ in range(new_tokens):
            last = self.forward(input_ids=ids)[:, -1]
            picked.append(last[0])
            ids = torch.cat([ids, last.argmax(-1, keepdim=True)], dim=1)
        return ids, torch.stack(picked)


def causal_lm_loss(logits: torch.Tensor, labels: torch.Tensor, ignore_index: int = -100) -> torch.Tensor:
    """ForCausalLMLoss: position t is scored against labels[t + 1]; mean over scored positions."""
    v = logits.shape[-1]
    return F.cross_entropy(logits[:, :-1].reshape(-1, v), labels[:, 1:].reshape(-1), ignore_index=ignore_index)
