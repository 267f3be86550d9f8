"""The elementary-op, dtype and diffusion-schedule fixtures: their cases, how their inputs are
drawn, and what they compute (ops.safetensors, dtypes.safetensors, diffusion_schedule.safetensors).

Each op case computes y (and maybe extra non-differentiable outputs) from its inputs; the fixture
stores L = sum(y * gy)'s gradient for every differentiable input. The `expr` strings are part of
the fixture contract: the TypeScript test reads strides, paddings and dims from them.
"""
from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Callable, Dict, List, Tuple

import torch
import torch.nn.functional as F

from .diffusion import TABLE_NAMES, GaussianDiffusion
from .qwen2 import apply_rotary, rotary_cos_sin

Tensors = Dict[str, torch.Tensor]
# An input: shape, how it is drawn ("randn", ("uniform", lo, hi), or a named special draw), differentiable.
Input = Tuple[List[int], object, bool]


@dataclass
class Case:
    expr: str
    inputs: Dict[str, Input]
    fn: Callable[[Tensors, dict], object]  # y, or (y, {extra: tensor})
    params: dict = field(default_factory=dict)
    compute_dtype: str = "float64"


def _sdpa(x: Tensors, p: dict, mask: torch.Tensor) -> torch.Tensor:
    scores = x["q"] @ x["k"].transpose(-2, -1) * p["scale"]
    return torch.softmax(scores.masked_fill(~mask, float("-inf")), dim=-1) @ x["v"]


def _rope(x: Tensors, p: dict):
    cos, sin = rotary_cos_sin(x["position_ids"], x["x"].shape[-1], p["theta"], x["x"].dtype)
    return apply_rotary(x["x"], cos, sin), {"cos": cos, "sin": sin}


def _rms_norm(x: Tensors, p: dict) -> torch.Tensor:
    """Qwen2RMSNorm. The mean of squares is summed left to right with elementwise adds (no
    vectorised reduction), so the float32 case's bits do not depend on the CPU."""
    v = x["x"]
    sq = v * v
    acc = sq[..., :1]
    for i in range(1, v.shape[-1]):
        acc = acc + sq[..., i:i + 1]
    return x["w"] * (v * torch.rsqrt(acc / v.shape[-1] + p["eps"]))


def _max_dim(x: Tensors, p: dict):
    y, idx = x["x"].max(dim=p["dim"])
    return y, {"indices": idx}


X45: Input = ([4, 5], "randn", True)
X345: Input = ([3, 4, 5], "randn", True)
QKV: Input = ([2, 4, 7, 16], "randn", True)

CASES: Dict[str, Case] = {
    "matmul_batched": Case("y = a @ b (torch.matmul, batched lhs)", {"a": ([2, 3, 5], "randn", True), "b": ([5, 4], "randn", True)},
                           lambda x, p: x["a"] @ x["b"]),
    "matmul_broadcast": Case("y = a @ b (torch.matmul, broadcast batch dims)", {"a": ([2, 1, 3, 5], "randn", True), "b": ([4, 5, 6], "randn", True)},
                             lambda x, p: x["a"] @ x["b"]),
    "linear": Case("y = x @ w.T + b (torch.nn.functional.linear; w is [out, in])",
                   {"x": ([2, 5, 6], "randn", True), "w": ([4, 6], "randn", True), "b": ([4], "randn", True)},
                   lambda x, p: F.linear(x["x"], x["w"], x["b"])),
    "add_broadcast": Case("y = a + b (broadcast)", {"a": ([2, 3, 4], "randn", True), "b": ([4], "randn", True)}, lambda x, p: x["a"] + x["b"]),
    "mul_broadcast": Case("y = a * b (broadcast)", {"a": ([2, 3, 4], "randn", True), "b": ([3, 1], "randn", True)}, lambda x, p: x["a"] * x["b"]),
    "div_broadcast": Case("y = a / b (broadcast; |b| in [0.5, 2])", {"a": ([2, 1, 4], "randn", True), "b": ([3, 1], "away_from_zero", True)},
                          lambda x, p: x["a"] / x["b"]),
    "exp": Case("y = exp(x)", {"x": X45}, lambda x, p: torch.exp(x["x"])),
    "log": Case("y = log(x), x in [0.1, 3]", {"x": ([4, 5], ("uniform", 0.1, 3.0), True)}, lambda x, p: torch.log(x["x"])),
    "tanh": Case("y = tanh(x)", {"x": X45}, lambda x, p: torch.tanh(x["x"])),
    "sigmoid": Case("y = sigmoid(x)", {"x": X45}, lambda x, p: torch.sigmoid(x["x"])),
    "silu": Case("y = x * sigmoid(x)", {"x": X45}, lambda x, p: F.silu(x["x"])),
    "gelu_erf": Case("y = 0.5 * x * (1 + erf(x / sqrt(2)))  (torch gelu, approximate='none')", {"x": X45}, lambda x, p: F.gelu(x["x"])),
    "gelu_tanh": Case("y = 0.5 * x * (1 + tanh(sqrt(2/pi) * (x + 0.044715 x^3)))  (approximate='tanh', HF gelu_pytorch_tanh)", {"x": X45},
                      lambda x, p: F.gelu(x["x"], approximate="tanh")),
    "softmax": Case("y = softmax(x, dim=-1)", {"x": ([3, 4, 9], "randn", True)}, lambda x, p: torch.softmax(x["x"], dim=-1)),
    "log_softmax": Case("y = log_softmax(x, dim=-1)", {"x": ([3, 4, 9], "randn", True)}, lambda x, p: torch.log_softmax(x["x"], dim=-1)),
    "layer_norm": Case("y = (x - mean(x)) / sqrt(var_biased(x) + 1e-6) * w + b over the last dim",
                       {"x": ([2, 5, 8], "randn", True), "w": ([8], "randn", True), "b": ([8], "randn", True)},
                       lambda x, p: F.layer_norm(x["x"], x["w"].shape, x["w"], x["b"], p["eps"]), {"eps": 1e-6}),
    "rms_norm": Case("y = w * (x * rsqrt(mean(x^2, dim=-1) + 1e-6))  (Qwen2RMSNorm, evaluated in float32)",
                     {"x": ([2, 5, 8], "randn", True), "w": ([8], "randn", True)}, _rms_norm, {"eps": 1e-6}, "float32"),
    "sum_dim": Case("y = x.sum(dim=1)", {"x": X345}, lambda x, p: x["x"].sum(dim=p["dim"]), {"dim": 1}),
    "mean_dim": Case("y = x.mean(dim=2)", {"x": X345}, lambda x, p: x["x"].mean(dim=p["dim"]), {"dim": 2}),
    "max_dim": Case("y, indices = x.max(dim=1); gradient flows to the argmax element (no ties)", {"x": X345}, _max_dim, {"dim": 1}),
    "sum_all": Case("y = x.sum() (0-dim output)", {"x": X345}, lambda x, p: x["x"].sum()),
    "transpose": Case("y = x.transpose(0, 2)", {"x": ([2, 3, 4], "randn", True)}, lambda x, p: x["x"].transpose(*p["dims"]), {"dims": [0, 2]}),
    "permute": Case("y = x.permute(0, 2, 3, 1)", {"x": ([2, 3, 4, 5], "randn", True)}, lambda x, p: x["x"].permute(*p["order"]), {"order": [0, 2, 3, 1]}),
    "reshape": Case("y = x.reshape(4, 6) (row-major)", {"x": ([2, 3, 4], "randn", True)}, lambda x, p: x["x"].reshape(*p["shape"]), {"shape": [4, 6]}),
    "concat": Case("y = cat([a, b], dim=1)", {"a": ([2, 3, 4], "randn", True), "b": ([2, 5, 4], "randn", True)},
                   lambda x, p: torch.cat([x["a"], x["b"]], dim=p["dim"]), {"dim": 1}),
    "slice": Case("y = x[1:3, :, 2:5]", {"x": ([4, 6, 5], "randn", True)}, lambda x, p: x["x"][1:3, :, 2:5]),
    "slice_step": Case("y = x[:, 1::2, -3:]", {"x": ([4, 6, 5], "randn", True)}, lambda x, p: x["x"][:, 1::2, -3:]),
    "embedding": Case("y = weight[ids] (rows gathered; repeated ids accumulate gradient)",
                      {"weight": ([10, 6], "randn", True), "ids": ([2, 5], "repeated_ids", False)}, lambda x, p: F.embedding(x["ids"], x["weight"])),
    "cross_entropy": Case("y = mean over rows with target != -100 of (logsumexp(logits[r]) - logits[r, target[r]]) (0-dim output)",
                          {"logits": ([10, 7], "randn", True), "target": ([10], "targets", False)},
                          lambda x, p: F.cross_entropy(x["logits"], x["target"], ignore_index=p["ignore_index"], reduction=p["reduction"]),
                          {"ignore_index": -100, "reduction": "mean"}),
    "sdpa_causal": Case("y = softmax(q @ k^T / sqrt(head_dim) + causal_mask) @ v; position j visible from i iff j <= i; shapes [batch, heads, seq, head_dim]",
                        {"q": QKV, "k": QKV, "v": QKV}, lambda x, p: _sdpa(x, p, torch.ones(7, 7, dtype=torch.bool).tril()), {"scale": 0.25}),
    "sdpa_mask": Case("y = softmax(q @ k^T / sqrt(head_dim) masked where mask == 0 (-inf)) @ v; mask [batch, 1, seq_q, seq_k] broadcast over heads, "
                      "1 = may attend (torch boolean attn_mask convention), diagonal always 1",
                      {"q": QKV, "k": QKV, "v": QKV, "mask": ([2, 1, 7, 7], "attn_mask", False)},
                      lambda x, p: _sdpa(x, p, x["mask"].bool()), {"scale": 0.25}),
    "rope": Case("inv_freq = 1 / theta^(arange(0, d, 2) / d); freqs = position_ids[..., None] * inv_freq; emb = cat(freqs, freqs); "
                 "cos, sin = cos(emb), sin(emb) [batch, seq, d]; y = x * cos[:, None] + rotate_half(x) * sin[:, None]; "
                 "rotate_half(x) = cat(-x[..., d/2:], x[..., :d/2]); x is [batch, heads, seq, d] (Qwen2 apply_rotary_pos_emb)",
                 {"x": ([2, 4, 7, 16], "randn", True), "position_ids": ([2, 7], "positions", False)}, _rope, {"theta": 1e6}),
    "conv2d_s1p1": Case("y = conv2d(x, w, b, kernel 3x3, stride 1, padding 1); NCHW, w [out, in, kh, kw] (cross-correlation)",
                        {"x": ([2, 3, 8, 8], "randn", True), "w": ([5, 3, 3, 3], "randn", True), "b": ([5], "randn", True)},
                        lambda x, p: F.conv2d(x["x"], x["w"], x["b"], stride=1, padding=1)),
    "conv2d_s2_asym": Case("y = conv2d(pad(x, (left 0, right 1, top 0, bottom 1), zeros), w, b, kernel 3x3, stride 2, padding 0) "
                           "(diffusers Downsample2D with padding=0)",
                           {"x": ([2, 4, 8, 8], "randn", True), "w": ([6, 4, 3, 3], "randn", True), "b": ([6], "randn", True)},
                           lambda x, p: F.conv2d(F.pad(x["x"], (0, 1, 0, 1)), x["w"], x["b"], stride=2)),
    "group_norm": Case("y = group_norm(x, num_groups=4, w, b, eps=1e-6): channels split into contiguous groups, mean/biased var over "
                       "(channels in group, H, W) per sample, then per-channel affine",
                       {"x": ([2, 8, 5, 5], "randn", True), "w": ([8], "randn", True), "b": ([8], "randn", True)},
                       lambda x, p: F.group_norm(x["x"], p["num_groups"], x["w"], x["b"], p["eps"]), {"eps": 1e-6, "num_groups": 4}),
    "upsample_nearest2x": Case("y = interpolate(x, scale_factor=2, mode='nearest'): y[..., h, w] = x[..., h // 2, w // 2]",
                               {"x": ([2, 3, 4, 5], "randn", True)}, lambda x, p: F.interpolate(x["x"], scale_factor=2.0, mode="nearest")),
    "avg_pool2d": Case("y = avg_pool2d(x, kernel 2, stride 2, no padding)", {"x": ([2, 3, 6, 8], "randn", True)},
                       lambda x, p: F.avg_pool2d(x["x"], 2, 2)),
    "mse_loss": Case("y = mean((a - b)^2) (0-dim output)", {"a": X345, "b": X345}, lambda x, p: F.mse_loss(x["a"], x["b"])),
}


def draw(shape: List[int], how: object, gen: torch.Generator) -> torch.Tensor:
    """One op input, float32 or int64."""
    if how == "randn":
        return torch.randn(shape, generator=gen)
    if isinstance(how, tuple) and how[0] == "uniform":
        return torch.rand(shape, generator=gen) * (how[2] - how[1]) + how[1]
    if how == "away_from_zero":  # |b| in [0.5, 2], either sign
        sign = torch.where(torch.rand(shape, generator=gen) < 0.5, -1.0, 1.0)
        return sign * (torch.rand(shape, generator=gen) * 1.5 + 0.5)
    if how == "repeated_ids":  # 10 draws from 4 of the rows: ids repeat, gradients accumulate
        return torch.randint(0, 4, shape, generator=gen) * 2
    if how == "targets":  # three rows ignored
        t = torch.randint(0, 7, shape, generator=gen)
        t[torch.randperm(shape[0], generator=gen)[:3]] = -100
        return t
    if how == "attn_mask":
        m = (torch.rand(shape, generator=gen) < 0.6).to(torch.int64)
        return torch.maximum(m, torch.eye(shape[-1], dtype=torch.int64))
    if how == "positions":  # row 0: 0..6, row 1: 3..9
        return torch.stack([torch.arange(shape[1]) + 3 * r for r in range(shape[0])])
    raise ValueError(how)


def draw_ops_inputs(gen: torch.Generator) -> Tensors:
    out: Tensors = {}
    for name, case in CASES.items():
        for arg, (shape, how, _) in case.inputs.items():
            out[f"input.{name}.{arg}"] = draw(shape, how, gen)
        ys = run_case(name, case.params, out, torch.float64)[0]  # only for gy's shape
        out[f"input.{name}.gy"] = torch.randn(list(ys.shape), generator=gen)
    return out


def run_case(name: str, params: dict, given: Tensors, dtype: torch.dtype):
    """(y, extras, differentiable inputs) of one case in `dtype` (integers stay int64)."""
    case = CASES[name]
    x = {}
    for arg in case.inputs:
        v = given[f"input.{name}.{arg}"]
        x[arg] = v.detach().to(dtype).clone().requires_grad_(True) if v.is_floating_point() else v
    r = case.fn(x, {**case.params, **params})
    y, extras = r if isinstance(r, tuple) else (r, {})
    return y, extras, {a: v for a, v in x.items() if v.requires_grad}


def compute_ops(cases_meta: dict, given: Tensors, f32: bool = False) -> Tensors:
    """Every output and input gradient of the cases in the file's `cases` metadata."""
    out: Tensors = {}
    for name, meta in cases_meta.items():
        params = {k: v for k, v in meta.items() if k not in ("expr", "inputs", "outputs", "compute_dtype")}
        dtype = torch.float32 if f32 or meta.get("compute_dtype") == "float32" else torch.float64
        y, extras, diff = run_case(name, params, given, dtype)
        (y * given[f"input.{name}.gy"].to(dtype)).sum().backward()
        out[f"output.{name}.y"] = y
        out.update({f"output.{name}.{k}": v for k, v in extras.items()})
        out.update({f"grad.input.{name}.{a}": v.grad for a, v in diff.items()})
    return out


def cases_metadata(outputs: Tensors) -> dict:
    meta = {}
    for name, case in CASES.items():
        entry = {"compute_dtype": case.compute_dtype, "expr": case.expr,
                 "inputs": {a: {"differentiable": d, "dtype": "float32" if how in ("randn", "away_from_zero") or isinstance(how, tuple) else "int64",
                                "shape": s} for a, (s, how, d) in case.inputs.items()},
                 "outputs": {k.split(".", 2)[2]: list(v.shape) for k, v in outputs.items() if k.startswith(f"output.{name}.")}}
        entry.update(case.params)
        meta[name] = entry
    return meta


# dtypes.safetensors

SPECIAL_VALUES = [0.0, -0.0, 1.0, -1.0, 0.1, 1 / 3, -2.5, 65504.0, 65520.0, 6e-8, 2.0 ** -24, 1e-10, 3e38,
                  1 + 2.0 ** -8, 1 + 3 * 2.0 ** -8, math.inf, -math.inf, math.nan, 1e-40, -123.456, 1 + 2.0 ** -11, 1 + 3 * 2.0 ** -11]


def draw_dtypes_inputs(gen: torch.Generator) -> Tensors:
    rest = 64 - len(SPECIAL_VALUES)
    scales = torch.tensor([1e-3, 1.0, 100.0, 1e4]).repeat_interleave(math.ceil(rest / 4))[:rest]
    values = torch.cat([torch.tensor(SPECIAL_VALUES, dtype=torch.float32), torch.randn(rest, generator=gen) * scales]).reshape(4, 16)
    return {
        "input.values.f32": values,
        "input.scalar.f32": torch.tensor(math.pi, dtype=torch.float32),
        "input.ids.i64": torch.tensor([[0, 1, -1, 2 ** 31, -2 ** 31 - 1, 2 ** 32, -100, 151643, 2 ** 53 - 1],
                                       [-(2 ** 53 - 1), 7, 42, 65535, 65536, 2 ** 40, -2 ** 40, 123456789, 255]], dtype=torch.int64),
        "input.ids.i64_extreme": torch.tensor([2 ** 63 - 1, -2 ** 63, 2 ** 53 + 1], dtype=torch.int64),
        "input.ids.i32": torch.tensor([0, 1, -1, 2 ** 31 - 1, -2 ** 31, 12345], dtype=torch.int32),
    }


def compute_dtypes(given: Tensors) -> Tensors:
    """The float16 / bfloat16 roundings (torch rounds to nearest, ties to even) and their exact widening."""
    v = given["input.values.f32"]
    f16, bf16 = v.to(torch.float16), v.to(torch.bfloat16)
    return {"input.values.f16": f16, "input.values.bf16": bf16,
            "output.values.f16_as_f32": f16.to(torch.float32), "output.values.bf16_as_f32": bf16.to(torch.float32)}


# diffusion_schedule.safetensors

def draw_diffusion_inputs(gen: torch.Generator, shape=(4, 8, 2, 2), ddim_shape=(2, 8, 2, 2), q_t=(0, 1, 500, 999),
                          p_t=(999, 500, 1, 0), ddim_index=(49, 49)) -> Tensors:
    r = lambda s: torch.randn(list(s), generator=gen)  # noqa: E731
    return {
        "input.q_sample.x0": r(shape), "input.q_sample.t": torch.tensor(q_t), "input.q_sample.noise": r(shape),
        "input.p_sample.x_t": r(shape), "input.p_sample.t": torch.tensor(p_t), "input.p_sample.model_eps": r(shape),
        "input.p_sample.noise": r(shape),
        "input.ddim.x_t": r(ddim_shape), "input.ddim.model_eps": r(ddim_shape), "input.ddim.spaced_index": torch.tensor(ddim_index),
    }


def schedule_of(meta: Dict[str, str]) -> str:
    for key in ("format", "schedule"):
        named = [s for s in ("cosine", "linear") if s in meta.get(key, "")]
        if len(named) == 1:
            return named[0]
    raise ValueError("the fixture names no noise schedule")


def compute_diffusion(given: Tensors, spaced_count: int, meta: Dict[str, str], steps: int = 1000) -> Tensors:
    schedule = schedule_of(meta)
    full = GaussianDiffusion.create(steps, schedule)
    ddim = GaussianDiffusion.create(steps, schedule, str(spaced_count))
    out: Tensors = {f"output.schedule.{k}": full.tables[k] for k in TABLE_NAMES}
    out["output.q_sample.x_t"] = full.q_sample(given["input.q_sample.x0"], given["input.q_sample.t"], given["input.q_sample.noise"])
    for clip in (False, True):
        sfx = "_clip_denoised" if clip else ""
        p = full.p_sample(given["input.p_sample.x_t"], given["input.p_sample.t"], given["input.p_sample.model_eps"],
                          given["input.p_sample.noise"], clip)
        out[f"output.p_sample.pred_xstart{sfx}"], out[f"output.p_sample.x_prev{sfx}"] = p["pred_xstart"], p["x_prev"]
        if not clip:
            out["output.p_sample.mean"], out["output.p_sample.log_variance"] = p["mean"], p["log_variance"]
        d = ddim.ddim_sample(given["input.ddim.x_t"], given["input.ddim.spaced_index"], given["input.ddim.model_eps"], clip)
        out[f"output.ddim.pred_xstart{sfx}"], out[f"output.ddim.x_prev{sfx}"] = d["pred_xstart"], d["x_prev"]
        if not clip:
            out["output.ddim.eps_rederived"] = d["eps_rederived"]
    tmap = torch.tensor(ddim.timestep_map, dtype=torch.int64)
    k = given["input.ddim.spaced_index"]
    out.update({
        "output.ddim.timestep_map": tmap, "output.ddim.t_model": tmap[k],
        "output.ddim.t_prev": torch.where(k > 0, tmap[(k - 1).clamp(min=0)], torch.full_like(k, -1)),
        "output.ddim.spaced_betas": ddim.tables["betas"], "output.ddim.spaced_alphas_cumprod": ddim.tables["alphas_cumprod"],
        "output.ddim.spaced_alphas_cumprod_prev": ddim.tables["alphas_cumprod_prev"],
    })
    return out
