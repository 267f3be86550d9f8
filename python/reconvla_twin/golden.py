"""Generates the golden parity fixtures with the twin, deterministically.

    python3 -m reconvla_twin.golden OUT_DIR [KIND...]     (npm run golden writes <repo>/golden)

Every kind of ../shared/golden (ops, dtypes, qwen2_tiny, siglip_tiny, vae_tiny, dit_tiny,
diffusion_schedule, reconvla_tiny) with the same tensor names, shapes, dtypes, metadata keys and
conventions (golden/README.md): parameters and inputs are drawn in float32 from seeded
generators, references are computed in float64 from those float32 values and rounded to float32
(dit_tiny: float32 in the source's op order, as upstream's), and `f32_vs_f64` records how far the
other precision lands. One thread, fixed seeds and no timestamps: a rerun writes the same bytes.
"""
from __future__ import annotations

import json
import math
import os
import shutil
import sys
from typing import Callable, Dict, List, Optional

import torch

from .golden_compute import COMPUTE, Tensors
from .golden_configs import DIT_TINY, QWEN2_TINY, RECONVLA_TINY, SIGLIP_TINY, VAE_TINY
from .golden_ops import (cases_metadata, compute_diffusion, compute_dtypes, compute_ops, draw_diffusion_inputs,
                         draw_dtypes_inputs, draw_ops_inputs, SPECIAL_VALUES)
from .reconvla import ReconVLA, ReconVLAConfig
from .dit import DiTConfig, ReconDenoiser
from .qwen2 import Qwen2Config, Qwen2ForCausalLM
from .safetensors_io import serialize
from .siglip import SiglipVisionConfig, SiglipVisionModel
from .vae import AutoencoderKL, VaeConfig

SEED = 0


def dumps(obj) -> str:
    return json.dumps(obj, sort_keys=True)


def sig(x: float) -> float:
    """4 significant digits: the metadata's figures do not depend on the last bits of a float32 run."""
    return float(f"{x:.4g}")


def deviation(test: torch.Tensor, ref: torch.Tensor) -> dict:
    """How far `test` lands from `ref`: max_abs, max_ref, max_abs_over_max_ref, max_elem_rel."""
    t, r = test.detach().double().reshape(-1), ref.detach().double().reshape(-1)
    err = (t - r).abs()
    max_ref = r.abs().max().item() if r.numel() else 0.0
    max_abs = err.max().item() if r.numel() else 0.0
    if max_ref < 1e-10:  # zero in exact arithmetic (attention key biases): only the absolute error means anything
        return {"exact_zero": True, "max_abs": sig(max_abs), "max_ref": sig(max_ref)}
    rel = (err / torch.clamp(r.abs(), min=1e-3 * max_ref)).max().item()
    return {"max_abs": sig(max_abs), "max_ref": sig(max_ref), "max_abs_over_max_ref": sig(max_abs / max_ref if max_ref else 0.0),
            "max_elem_rel": sig(rel)}


def f32_vs_ref(ref: Tensors, other: Tensors) -> dict:
    return {k: deviation(other[k], v) for k, v in sorted(ref.items())
            if k.startswith(("output.", "grad.")) and v.is_floating_point() and v.numel() > 0 and k in other}


KEPT_DTYPES = (torch.float32, torch.float16, torch.bfloat16, torch.int64, torch.int32)


def stored(t: torch.Tensor) -> torch.Tensor:
    """float64 results are stored as F32; other integers as I64; F16/BF16/I32 (dtypes) stay."""
    t = t.detach()
    if t.dtype in KEPT_DTYPES:
        return t
    return t.to(torch.float32) if t.is_floating_point() else t.to(torch.int64)


def init_params(module: torch.nn.Module, gen: torch.Generator, special: Optional[Callable[[str], Optional[float]]] = None) -> Tensors:
    """Random weights at scales where every parameter matters numerically (not trained weights):
    norm weights 1 + N(0, 0.1^2), biases N(0, 0.1^2), matrices and kernels N(0, 1/fan_in), and a
    per-name std from `special` where it gives one. Fixed buffers (DiT pos_embed) are kept."""
    params: Tensors = {}
    for name, p in module.state_dict().items():
        std = special(name) if special else None
        if name.endswith("pos_embed"):
            params[name] = p.clone()
        elif std is not None:
            params[name] = torch.randn(p.shape, generator=gen) * std
        elif p.dim() == 1 and "norm" in name and name.endswith("weight"):
            params[name] = 1 + 0.1 * torch.randn(p.shape, generator=gen)
        elif p.dim() == 1:
            params[name] = 0.1 * torch.randn(p.shape, generator=gen)
        else:
            fan_in = math.prod(p.shape[1:])
            params[name] = torch.randn(p.shape, generator=gen) / math.sqrt(fan_in)
    return params


def special_std(name: str) -> Optional[float]:
    if name.endswith("embed_tokens.weight"):
        return 0.3
    if name.endswith("position_embedding.weight"):
        return 0.5
    if name.endswith("head.probe"):
        return 1.0
    return None


def with_prefix(prefix: str, tensors: Tensors) -> Tensors:
    return {prefix + k: v for k, v in tensors.items()}


def model_fixture(kind: str, config: dict, params: Tensors, inputs: Tensors, dtype: torch.dtype, other: torch.dtype) -> Tensors:
    """params and inputs, the reference run in `dtype`, and the run in `other` for f32_vs_f64."""
    given = {**with_prefix("param.", params), **inputs}
    ref = COMPUTE[kind](config, given, dtype)
    return {**given, **ref}, f32_vs_ref(ref, COMPUTE[kind](config, given, other))


SOURCES = dumps({"OpenHelix-Team/ReconVLA@047ccd9f3278161dcf82d731716e466e1209ef1c": [
    "reconvla/recon/model/multimodal_denoiser/denoiser_dit.py", "reconvla/recon/model/multimodal_denoiser/diffusion_utils/__init__.py",
    "reconvla/recon/model/multimodal_denoiser/diffusion_utils/gaussian_diffusion.py",
    "reconvla/recon/model/multimodal_denoiser/diffusion_utils/respace.py", "reconvla/recon/model/recon_arch.py"],
    "timm==0.6.13": ["timm/models/vision_transformer.py (Attention)", "timm/models/layers/mlp.py (Mlp)", "timm/models/layers/patch_embed.py"]})


# One function per fixture kind: (tensors, metadata, sidecar config or None).

def make_qwen2(gen: torch.Generator):
    config = QWEN2_TINY
    params = init_params(Qwen2ForCausalLM(Qwen2Config.from_dict(config)), gen, special_std)
    b, t = 2, 12
    ids = torch.randint(0, config["vocab_size"], (b, t), generator=gen)
    mask = torch.ones(b, t, dtype=torch.int64)
    mask[1, -4:] = 0
    ids[1, -4:] = 0
    labels = ids.masked_fill(mask == 0, -100)
    inputs = {"input.input_ids": ids, "input.attention_mask": mask, "input.labels": labels}
    tensors, dev = model_fixture("qwen2", config, params, inputs, torch.float64, torch.float32)
    steps = tensors["output.greedy_step_logits"].double()
    top2 = steps.topk(2, dim=-1).values
    margin = (top2[:, 0] - top2[:, 1]).min().item()
    meta = {
        "model": "Qwen2ForCausalLM (transformers modeling_qwen2.py, eager attention), the twin's python/reconvla_twin/qwen2.py",
        "config": dumps(config),
        "loss": dumps({"kind": "causal_lm_cross_entropy", "logits": "output.logits", "labels": "input.labels", "shift": 1,
                       "ignore_index": -100, "reduction": "mean", "value": "output.loss", "gradients": "grad.param.<name>",
                       "description": "Hugging Face ForCausalLMLoss: position t is scored against labels[t+1], the last position "
                                      "against -100; cross_entropy(logits.view(-1, vocab), shift_labels.view(-1), ignore_index=-100), "
                                      "mean over the scored positions. grad.param.model.embed_tokens.weight sums both uses (tied lm_head)."}),
        "inputs": "input.attention_mask: 1 = real token, 0 = padding (row 1 right-padded by 4, padded ids 0). position_ids = arange(seq) "
                  "for every row. Key j is visible from query i iff j <= i and attention_mask[b, j] == 1 (additive mask of finfo.min). "
                  "output.logits covers every position, padded ones included.",
        "greedy": f"output.greedy_ids = row 0 of input_ids followed by {steps.shape[0]} greedily decoded tokens (argmax of the last "
                  f"position's logits, mask all ones, no stop token; generate(do_sample=False)). output.greedy_step_logits[i] = the "
                  f"logits token i was picked from. Smallest top-1/top-2 margin {sig(margin)}.",
        "compute": "float64 from the stored float32 params/inputs (RMSNorm, softmax, rope and loss also in float64); results rounded "
                   "to float32 when stored",
        "f32_vs_f64": dumps(dev),
    }
    return tensors, meta, config


def make_siglip(gen: torch.Generator):
    config = SIGLIP_TINY
    params = init_params(SiglipVisionModel(SiglipVisionConfig.from_dict(config)), gen, special_std)
    s, d = config["image_size"], config["hidden_size"]
    n = (s // config["patch_size"]) ** 2
    inputs = {"input.pixel_values": torch.rand(2, config["num_channels"], s, s, generator=gen) * 2 - 1,
              "input.gy.last_hidden_state": torch.randn(2, n, d, generator=gen), "input.gy.pooler_output": torch.randn(2, d, generator=gen)}
    tensors, dev = model_fixture("siglip", config, params, inputs, torch.float64, torch.float32)
    meta = {
        "model": "SiglipVisionModel (transformers modeling_siglip.py, eager attention, attention-pooling head), the twin's siglip.py",
        "config": dumps(config),
        "loss": dumps({"kind": "sum_of_products", "terms": [["output.last_hidden_state", "input.gy.last_hidden_state"],
                                                            ["output.pooler_output", "input.gy.pooler_output"]],
                       "value": "output.loss", "gradients": "grad.param.<name>, grad.input.pixel_values",
                       "description": "output.loss = sum(last_hidden_state * gy.last_hidden_state) + sum(pooler_output * gy.pooler_output); "
                                      "the pooler term gives the head's parameters a gradient."}),
        "inputs": "input.pixel_values [batch, 3, image_size, image_size], uniform in [-1, 1] (already normalised). position_ids = "
                  "arange(num_patches), patches row-major (conv output flatten(2).transpose(1, 2)). pooler_output: the probe repeated "
                  "over the batch attends to last_hidden_state through nn.MultiheadAttention, then h = a + mlp(layernorm(a)), h[:, 0].",
        "compute": "float64 from the stored float32 params/inputs; results rounded to float32 when stored",
        "f32_vs_f64": dumps(dev),
    }
    return tensors, meta, config


def make_vae(gen: torch.Generator):
    config = VAE_TINY
    params = init_params(AutoencoderKL(VaeConfig.from_dict(config)), gen, special_std)
    s = config["sample_size"]
    inputs = {"input.sample": torch.rand(2, config["in_channels"], s, s, generator=gen) * 2 - 1}
    tensors, dev = model_fixture("vae", config, params, inputs, torch.float64, torch.float32)
    meta = {
        "model": "diffusers AutoencoderKL (Encoder/Decoder of autoencoders/vae.py, AttnProcessor2_0 attention), the twin's vae.py",
        "config": dumps(config),
        "loss": dumps({"kind": "mse", "prediction": "output.decoded", "target": "input.sample", "reduction": "mean", "value": "output.loss",
                       "gradients": "grad.param.<name>, grad.input.sample",
                       "description": "mean, logvar = torch.chunk(quant_conv(encoder(input.sample)), 2, dim=1), logvar clamped to [-30, 20]; "
                                      "output.decoded = decoder(post_quant_conv(mean)) (the posterior mode, no scaling_factor); "
                                      "output.loss = mse_loss(output.decoded, input.sample); input.sample is input and target."}),
        "inputs": "input.sample [batch, 3, H, W], uniform in [-1, 1]",
        "compute": "float64 from the stored float32 params/inputs; results rounded to float32 when stored",
        "f32_vs_f64": dumps(dev),
    }
    return tensors, meta, config


def make_dit(gen: torch.Generator):
    config = DIT_TINY
    c = DiTConfig.from_dict(config)
    params = init_params(ReconDenoiser(c), gen)
    for k in params:  # the modulation's weights at half scale
        if "adaLN_modulation" in k and k.endswith("weight"):
            params[k] = params[k] * 0.5
    b, r, g = config["batch_size"], c.repeat, c.input_size
    cond = torch.randn(b, g * g, c.z_channel, generator=gen)
    cond[:, 1] *= 0.003  # a token of tiny variance, so that ln_pre's eps matters
    t = torch.randint(0, c.diffusion_steps, (r * b,), generator=gen)
    t[0], t[-1] = 0, c.diffusion_steps - 1
    inputs = {"input.x0": torch.randn(b, c.x_channel, g, g, generator=gen), "input.cond": cond, "input.t": t,
              "input.noise": torch.randn(r * b, c.x_channel, g, g, generator=gen)}
    # float64 reference like the other model fixtures (upstream's set stores a float32 run here; a
    # float64 one rounds to the same float32 bits on every CPU, which a float32 run does not).
    tensors, dev = model_fixture("dit", config, params, inputs, torch.float64, torch.float32)
    meta = {
        "format": "golden fixture: ReconVLA diffusion denoiser (DiT) forward + loss + gradients",
        "config": dumps(config),
        "loss_definition": "cond (B,T,Cz) = raw reconstructive tokens; z = LayerNorm(cond, no affine, eps=ln_pre_eps) (ln_pre); "
                           "'b (h w) c -> b c h w'; z_rep = z.repeat(4,1,1,1), x0_rep = x0.repeat(4,1,1,1) (row r*B+b is sample b); "
                           "x_t = sqrt_alphas_cumprod[t]*x0_rep + sqrt_one_minus_alphas_cumprod[t]*noise (float64 tables, coefficients "
                           "cast to float32); model_out = DiT(x_t, t, z_rep); mse[i] = mean((noise - model_out)^2) over (C,h,w); "
                           "loss = (mse.view(B,-1).mean() * mask).sum() / (mask.sum() + vm_loss_eps), mask = ones(4B)",
        "modulation": "per-token c = t_embedder(t)[:,None,:] + z_embedder(z); block: shift_msa, scale_msa, gate_msa, shift_mlp, scale_mlp, "
                      "gate_mlp = Linear(SiLU(c)).chunk(6,-1); x += gate_msa*Attn(LN(x)*(1+scale_msa)+shift_msa); "
                      "x += gate_mlp*MLP(LN(x)*(1+scale_mlp)+shift_mlp); final: shift, scale = Linear(SiLU(c)).chunk(2,-1); "
                      "linear(LN(x)*(1+scale)+shift); LN without affine, eps norm_eps; MLP GELU(tanh)",
        "embeddings": "t_freq = cat([cos(t*f), sin(t*f)]), f[i] = exp(-ln(max_period)*i/half), float32; pos_embed fixed 2D sin-cos "
                      "(dims [0,D/2) the column, [D/2,D) the row; each half [sin(p*w_j)] ++ [cos(p*w_j)], w_j = 10000^(-j/(D/4)))",
        "naming": "param.<ReconDenoiser state_dict key> (inside ReconVLA: model.mm_inv_projector.<key>); input.*, output.*, grad.param.<key>, "
                  "grad.input.cond; net.pos_embed has no grad",
        "weights": "random N(0, std) non-zero everywhere: weights std 1/sqrt(fan_in) (adaLN_modulation x0.5), biases std 0.1; "
                   "pos_embed the fixed 2D sin-cos; NOT the source's adaLN-Zero init",
        "config_keys": "x_channel = latent channels C (in = out channels, learn_sigma False); z_channel = condition width Cz (the LLM "
                       "hidden size in ReconVLA); embed_dim = DiT width D; input_size = latent grid side h = w; n_patches = T = h*w; "
                       "num_heads (upstream always builds the DiT default 16; here from the config); batch_size B before the repeat; "
                       "repeat = copies of each sample (4 upstream)",
        "source_defaults": "upstream builds ReconDenoiser(x_channel = 64 (16 FLUX channels packed 2x2), z_channel = the LLM hidden size, "
                           "embed_dim 1024 for denoiser_vit3x, depth from the name, num_heads 16), timesteps '1000', cosine schedule, "
                           "learn_sigma False, ln_pre = LayerNorm(z_channel, elementwise_affine=False)",
        "tolerance": "a float32 re-implementation: outputs |a-ref| <= 5e-5 + 1e-4*|ref|; each gradient max|a-ref| <= 1e-4 * max|ref|; "
                     "loss relative 1e-5 (f32_vs_f64 gives the float64 run's distance)",
        "tensors_doc": dumps({"input.x0": "(B,C,h,w) clean latent, not repeated", "input.cond": "(B,T,Cz) raw tokens before ln_pre, not repeated",
                              "input.t": "(4B,) I64 timesteps, row 0 is 0, the last 999", "input.noise": "(4B,C,h,w) epsilon target",
                              "input.x_t": "(4B,C,h,w) q_sample(x0.repeat(4,1,1,1), t, noise)",
                              "output.model_out": "(4B,C,h,w) epsilon prediction", "output.loss": "(1,)", "output.mse_per_sample": "(4B,)",
                              "grad.input.cond": "(B,T,Cz) summed over the 4 copies"}),
        "sources": SOURCES,
        "param_names": dumps(list(params)),
        "inputs_note": "cond token index 1 of every sample is scaled by 0.003 (tiny variance: ln_pre eps matters); input.x_t = q_sample(x0 "
                       "repeated, t, noise); t row 0 is 0, the last row 999",
        "dtype_note": "all F32 except input.t (I64); computed in float64 from the stored float32 params/inputs (in the source's op "
                      "order) and rounded to float32, except what upstream fixes to float32: t_freq and the diffusion coefficients "
                      "sqrt_alphas_cumprod[t], sqrt_one_minus_alphas_cumprod[t] (float32, widened)",
        "compute": "float64 from the stored float32 params/inputs, except t_freq and the diffusion coefficients (float32, widened); "
                   "results rounded to float32 when stored",
        "f32_vs_f64": dumps(dev),
    }
    return tensors, meta, config


def make_diffusion(gen: torch.Generator):
    inputs = draw_diffusion_inputs(gen)
    meta = {
        "format": "golden fixture: ReconVLA Gaussian diffusion (DDPM 1000 steps, cosine, epsilon, FIXED_LARGE)",
        "schedule": "alpha_bar(s) = cos((s+0.008)/1.008*pi/2)^2; betas[i] = min(1 - alpha_bar((i+1)/1000)/alpha_bar(i/1000), 0.999), "
                    "python float64; create_diffusion wraps it in SpacedDiffusion, which recomputes betas[i] = 1 - ac[i]/ac[i-1]; "
                    "GaussianDiffusion's float64 tables (output.schedule.*, stored F32)",
        "extract": "coefficients are gathered from the float64 tables at t, cast to float32, then float32 arithmetic",
        "q_sample": "x_t = sqrt_alphas_cumprod[t]*x0 + sqrt_one_minus_alphas_cumprod[t]*noise",
        "p_sample": "pred_xstart = sqrt_recip_alphas_cumprod[t]*x_t - sqrt_recipm1_alphas_cumprod[t]*model_eps (clip_denoised=False; "
                    "*_clip_denoised clamp it to [-1,1]); mean = posterior_mean_coef1[t]*pred_xstart + posterior_mean_coef2[t]*x_t; "
                    "log_variance = fixed_large_log_variance[t]; x_prev = mean + (t!=0)*exp(0.5*log_variance)*noise",
        "ddim": "create_diffusion('50'): space_timesteps(1000,'50') -> output.ddim.timestep_map, spaced tables output.ddim.spaced_*; "
                "one eta=0 step from spaced index input.ddim.spaced_index (the model sees output.ddim.t_model) to output.ddim.t_prev "
                "(-1 at index 0): pred_xstart as above on the spaced tables, eps' = (sqrt_recip_ac[k]*x_t - pred_xstart)/sqrt_recipm1_ac[k], "
                "x_prev = pred_xstart*sqrt(ac_prev[k]) + sqrt(1-ac_prev[k])*eps'",
        "dtype_note": "all F32 except *.t, input.ddim.spaced_index, output.ddim.timestep_map/t_model/t_prev (I64)",
    }
    meta["case"] = dumps({"seed": SEED, "shape": list(inputs["input.q_sample.x0"].shape), "q_t": inputs["input.q_sample.t"].tolist(),
                          "p_t": inputs["input.p_sample.t"].tolist(), "ddim_shape": list(inputs["input.ddim.x_t"].shape),
                          "ddim_idx": inputs["input.ddim.spaced_index"].tolist(), "name": "public"})
    meta["sources"] = SOURCES
    out = {**inputs, **compute_diffusion(inputs, 50, meta)}
    return out, meta, None


def make_ops(gen: torch.Generator):
    inputs = draw_ops_inputs(gen)
    ref = compute_ops(cases_metadata({}), inputs)
    f32 = compute_ops(cases_metadata({}), inputs, f32=True)
    meta = {
        "fixture": "ops", "seed": str(SEED),
        "loss": dumps({"kind": "sum_of_products", "per_case": True, "terms": [["output.<op>.y", "input.<op>.gy"]],
                       "gradients": "grad.input.<op>.<arg> for every differentiable float input",
                       "description": "For each case <op>: L = sum(output.<op>.y * input.<op>.gy); grad.input.<op>.<arg> = dL/d "
                                      "input.<op>.<arg> for every differentiable float input. Integer inputs have no gradient."}),
        "compute": "float64 from the stored float32 inputs, results rounded to float32 when stored; except rms_norm (compute_dtype float32)",
        "cases": dumps(cases_metadata(ref)),
        "f32_vs_f64": dumps(f32_vs_ref(ref, f32)),
    }
    return {**inputs, **ref}, meta, None


def make_dtypes(gen: torch.Generator):
    inputs = draw_dtypes_inputs(gen)
    meta = {
        "fixture": "dtypes", "seed": str(SEED),
        "description": "input.values.f32 holds float32 values (the first are special cases: +-0, +-inf, NaN, float16 overflow, subnormals, "
                       "exact rounding ties; special_values_order lists them); input.values.f16 / input.values.bf16 are the same values "
                       "rounded to float16 / bfloat16, nearest, ties to even (overflow to inf, NaN stays NaN); output.values.f16_as_f32 / "
                       "bf16_as_f32 are those widened back to float32 exactly. input.ids.* are integer tensors; i64_extreme holds int64 "
                       "max, int64 min and 2^53+1. input.scalar.f32 is a 0-dim tensor.",
        "special_values_order": dumps([repr(float(torch.tensor(v, dtype=torch.float32))) for v in SPECIAL_VALUES]),
    }
    return {**inputs, **compute_dtypes(inputs)}, meta, None


def make_reconvla(gen: torch.Generator):
    config = RECONVLA_TINY
    model = ReconVLA(ReconVLAConfig.from_dict(config), vae_decoder=False)  # upstream checkpoints hold only the VAE encoder
    params = init_params(model, gen, special_std)
    for k in params:
        if "adaLN_modulation" in k and k.endswith("weight"):
            params[k] = params[k] * 0.5
    inputs = reconvla_batch(config, model, gen)
    tensors, dev = model_fixture("reconvla", config, params, inputs, torch.float64, torch.float32)
    prefixes = {"llm": "", "vision": "model.vision_tower.vision_tower.", "projector": "model.mm_projector.",
                "vae": "model.pixel_decoder.pixel_decoder.", "denoiser": "model.mm_inv_projector."}
    part = lambda k: next((p for p, pre in list(prefixes.items())[1:] if k.startswith(pre)), "llm")  # noqa: E731
    names: Dict[str, List[str]] = {p: [] for p in prefixes}
    for k in params:
        names[part(k)].append(k)
    trainable = model.trainable_names()
    meta = {
        "fixture": "reconvla_tiny", "seed": str(SEED),
        "model": "ReconQwen2ForCausalLM training step (vision tower, projector, Qwen2, FLUX-style AutoencoderKL target, ln_pre + DiT "
                 "denoiser, action tokenizer), the twin's python/reconvla_twin/reconvla.py",
        "source": "OpenHelix-Team/ReconVLA@047ccd9f3278161dcf82d731716e466e1209ef1c",
        "config": dumps(config),
        "wiring": dumps(WIRING),
        "upstream_notes": dumps({"sizes": "upstream: SigLIP so400m-patch14-384 (27x27 = 729 patches), Qwen2-7B, FLUX VAE (16 latent channels "
                                          "-> 64 packed, decode_image_size 432 -> 54x54 latent -> 27x27), denoiser_vit3x (DiT width 1024, "
                                          "depth 3), 5-step x 7-D action chunks, 15 state tokens; here the same structure, tiny",
                                 "randomness": "upstream draws posterior.sample(), t and the diffusion noise inside the step; here they are inputs",
                                 "vocab": "upstream's ActionTokenizer counts down from the text tokenizer's vocab_size (151643), fewer than "
                                          "the embedding rows; here action_tokenizer.vocab_size"}),
        "param_prefixes": dumps(prefixes),
        "param_names": dumps(names),
        "trainable": dumps(trainable),
        "frozen": dumps([k for k in params if k not in trainable]),
        "loss": dumps({"kind": "reconvla_training_step", "value": "output.loss", "terms": ["output.lm_loss", "output.vm_loss"],
                       "gradients": "grad.param.<name> for every trainable parameter (see trainable)",
                       "description": "output.loss = output.lm_loss + output.vm_loss. lm_loss = CrossEntropyLoss()(logits[:, :-1], "
                                      "output.labels[:, 1:]), ignore_index -100, mean over the supervised positions (actions + end token). "
                                      "vm_loss = (mse.view(B,-1).mean() * m).sum() / (m.sum() + 1e-6), m = ones(4B)."}),
        "tensors": dumps(TENSOR_NOTES),
        "compute": "float64 from the stored float32 params/inputs (RMSNorm, softmax, rope, losses in float64), except what upstream fixes "
                   "to float32 whatever the model dtype: the DiT timestep frequencies t_freq and the diffusion coefficients "
                   "sqrt_alphas_cumprod[t], sqrt_one_minus_alphas_cumprod[t] (float32, then widened). Results rounded to float32.",
        "f32_vs_f64": dumps(dev),
    }
    return tensors, meta, config


def reconvla_batch(config: dict, model: ReconVLA, gen: torch.Generator) -> Tensors:
    """Two prompts as upstream builds them (instruction, <image>, instruction, state tokens, ASSISTANT:, actions, end),
    text reduced to random ids below the action range; row 1 shorter and right-padded."""
    pr, tok = config["prompt"], model.tokenizer
    lo, _ = tok.token_range
    chunk, adim, sdim = pr["action_chunk"], pr["action_dim"], pr["state_dim"]
    specials = {pr["pad_token_id"], pr["end_token_id"], pr["colon_token_id"], pr["assistant_token_id"]}
    actions = torch.rand(2, chunk, adim, generator=gen) * 2 - 1
    actions[..., -1] = torch.where(torch.rand(2, chunk, generator=gen) < 0.5, -1.0, 1.0)  # the gripper
    actions[0, 0, 0], actions[0, 1, 1], actions[1, 0, 2], actions[1, 1, 3] = 1.0, -1.0, 1.37, -1.6
    state = torch.rand(2, sdim, generator=gen) * 2.4 - 1.2
    rows = []
    for b, n in enumerate((5, 3)):
        instr = []
        while len(instr) < n:
            i = int(torch.randint(2, lo, (1,), generator=gen))
            if i not in specials:
                instr.append(i)
        act = tok.encode(actions[b].double().reshape(-1).numpy()).tolist()
        st = tok.encode(state[b].double().numpy()).tolist()
        rows.append(instr + [pr["image_token_index"]] + instr + st + [pr["assistant_token_id"], pr["colon_token_id"]] + act + [pr["end_token_id"]])
    length = max(len(r) for r in rows)
    ids = torch.tensor([r + [pr["pad_token_id"]] * (length - len(r)) for r in rows])
    mask = (ids != pr["pad_token_id"]).to(torch.int64)
    labels = torch.full_like(ids, -100)
    for b, r in enumerate(rows):
        colon = max(i for i, x in enumerate(r) if x == pr["colon_token_id"])
        labels[b, colon + 1:len(r)] = ids[b, colon + 1:len(r)]
    c = model.config
    s, dc = c.vision.image_size, c.denoiser
    side = c.decode_image_size // 2 ** (len(c.vae.block_out_channels) - 1)
    t = torch.randint(0, dc.diffusion_steps, (dc.repeat * 2,), generator=gen)
    t[0], t[-1] = 0, dc.diffusion_steps - 1
    return {
        "input.pixel_values": torch.rand(2, 3, s, s, generator=gen) * 2 - 1,
        "input.input_ids": ids, "input.attention_mask": mask, "input.labels": labels,
        "input.target_images": torch.rand(2, 3, s, s, generator=gen) * 2.2 - 1.1,
        "input.posterior_noise": torch.randn(2, c.vae.latent_channels, side, side, generator=gen),
        "input.t": t, "input.noise": torch.randn(dc.repeat * 2, dc.x_channel, dc.input_size, dc.input_size, generator=gen),
        "input.actions": actions, "input.state": state,
    }


WIRING = {
    "vision": "SiglipVisionModel(pixel_values, output_hidden_states=True).hidden_states[mm_vision_select_layer = -2]: no post_layernorm, "
              "no head; every patch kept, row-major -> output.vision_hidden_state",
    "projector": "mlp2x_gelu: Linear, GELU (exact erf), Linear -> output.image_features",
    "splice": "prepare_inputs_labels_for_multimodal (flat merge): per row drop padding, embed the text around the -200 placeholder, put the "
              "image features in its place (label -100), right-pad with zero vectors, label -100, mask 0 -> output.inputs_embeds, "
              "output.labels, output.attention_mask, output.boi_ids (placeholder index), output.eoi_ids = boi + P - 1; position ids arange",
    "llm": "Qwen2 on inputs_embeds -> output.hidden_states after the final norm; logits = hidden_states @ embed_tokens^T (tied)",
    "lm_loss": "cross entropy of logits[:, :-1] vs labels[:, 1:], ignore -100 -> output.lm_loss; output.action_logits[b, k] = "
               "logits[b, output.action_positions[b, k] - 1]",
    "recon_tokens": "hidden_states[b, boi:eoi+1] -> output.recon_tokens; ln_pre (LayerNorm, no affine, eps 1e-5) -> output.recon_tokens_ln_pre",
    "vae_target": "((x*std + mean - 0.5)/0.5).clamp(-1, 1), F.interpolate(decode_image_size, bilinear, align_corners False) -> "
                  "output.target_images_vae; encoder, chunk -> output.posterior_mean, output.posterior_logvar (clamped [-30, 20]); "
                  "output.latent_sample = mean + exp(0.5*logvar)*input.posterior_noise; (z - shift_factor)*scaling_factor, 2x2 packed "
                  "b c (h p1) (w p2) -> b (c p1 p2) h w -> output.target_latent",
    "denoiser": "context and target repeated 4x (row r*B + b is sample b); output.x_t = q_sample; output.model_out = DiT(x_t, t, context); "
                "output.mse_per_sample; output.vm_loss = (mse.view(B,-1).mean() * m).sum() / (m.sum() + 1e-6)",
    "loss": "output.loss = output.lm_loss + output.vm_loss",
    "action_tokenizer": "bins = linspace(-1, 1, 256); token = vocab_size - digitize(clip(a, -1, 1), bins); decode: bin_centers[clip(vocab_size "
                        "- id - 1, 0, 254)]; actions step-major -> output.action_token_ids; state -> output.state_token_ids; "
                        "output.action_pred_ids = argmax over the vocabulary of output.action_logits (teacher-forced)",
}

TENSOR_NOTES = {
    "input.pixel_values": "[B,3,S,S] normalised image, uniform in [-1,1]",
    "input.input_ids": "[B,T] I64 with one -200 image placeholder per row, right-padded with pad_token_id",
    "input.attention_mask": "[B,T] I64, 1 = token (the placeholder counts as a token)",
    "input.labels": "[B,T] I64, -100 up to and including the last colon_token_id, then the ids; padding -100",
    "input.target_images": "[B,3,S,S] the gaze-crop target, normalised like pixel_values, uniform in [-1.1,1.1]",
    "input.posterior_noise": "[B,latent,s,s] the N(0,1) draw of posterior.sample()",
    "input.t": "[4B] I64 diffusion timesteps (row 0 is 0, the last 999)",
    "input.noise": "[4B,C,h,w] the epsilon target",
    "input.actions": "[B,chunk,action_dim] the continuous actions (last dim the gripper, +-1; some values outside [-1,1])",
    "input.state": "[B,state_dim] the normalised state (some values outside [-1,1])",
}


KINDS: Dict[str, Callable] = {
    "ops": make_ops, "dtypes": make_dtypes, "qwen2_tiny": make_qwen2, "siglip_tiny": make_siglip, "vae_tiny": make_vae,
    "dit_tiny": make_dit, "diffusion_schedule": make_diffusion, "reconvla_tiny": make_reconvla,
}


def generate(name: str, out_dir: str) -> List[str]:
    """Writes <name>.safetensors (and <name>.json for the models); returns the paths written."""
    torch.manual_seed(SEED)
    gen = torch.Generator().manual_seed(SEED)
    tensors, meta, config = KINDS[name](gen)
    meta = {"fixture": name, "seed": str(SEED), **meta}
    written = []
    path = os.path.join(out_dir, f"{name}.safetensors")
    with open(path, "wb") as f:
        f.write(serialize({k: stored(v) for k, v in tensors.items()}, meta))
    written.append(path)
    if config is not None:
        side = os.path.join(out_dir, f"{name}.json")
        with open(side, "w") as f:
            f.write(json.dumps(config, indent=2) + "\n")
        written.append(side)
    return written


def main(argv: List[str]) -> int:
    torch.set_num_threads(1)
    if not argv:
        print(__doc__)
        return 2
    out_dir, kinds = argv[0], argv[1:] or list(KINDS)
    os.makedirs(out_dir, exist_ok=True)
    for k in kinds:
        if k not in KINDS:
            print(f"unknown fixture kind {k} (one of {', '.join(KINDS)})")
            return 2
        for p in generate(k, out_dir):
            print(f"{p} {os.path.getsize(p):,} bytes")
    readme = os.path.join(out_dir, "README.md")
    shutil.copyfile(os.path.join(os.path.dirname(__file__), "golden_README.md"), readme)
    print(readme)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
