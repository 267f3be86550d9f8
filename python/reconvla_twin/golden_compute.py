"""What each golden fixture computes from its parameters and inputs, with the twin.

compute_<kind>(config, tensors, dtype) takes the fixture's `param.*` and `input.*` tensors (the
prefixes kept) and returns every `output.*` and `grad.*` tensor the fixture holds, computed in
`dtype`. The generator (golden.py) stores the float64 run (except where a fixture says float32)
and measures a float32 run against it; the checker (check_golden.py) compares a run on another
fixture set's parameters and inputs with that set's stored values.
"""
from __future__ import annotations

from typing import Callable, Dict

import torch

from .diffusion import GaussianDiffusion, vm_loss
from .dit import DiTConfig, ReconDenoiser
from .qwen2 import Qwen2Config, Qwen2ForCausalLM, causal_lm_loss
from .reconvla import from_state_dict
from .siglip import SiglipVisionConfig, SiglipVisionModel
from .vae import AutoencoderKL, VaeConfig

Tensors = Dict[str, torch.Tensor]


def leaf(x: torch.Tensor, dtype: torch.dtype) -> torch.Tensor:
    """A fresh leaf copy that collects a gradient (never the caller's tensor)."""
    return x.detach().to(dtype).clone().requires_grad_(True)


def strip(tensors: Tensors, prefix: str) -> Tensors:
    return {k[len(prefix):]: v for k, v in tensors.items() if k.startswith(prefix)}


def load_module(module: torch.nn.Module, params: Tensors, dtype: torch.dtype) -> torch.nn.Module:
    module.load_state_dict(params, strict=True)
    return module.to(dtype)


def param_grads(module: torch.nn.Module) -> Tensors:
    return {f"grad.param.{k}": p.grad for k, p in module.named_parameters() if p.grad is not None}


def compute_qwen2(config: dict, t: Tensors, dtype: torch.dtype) -> Tensors:
    model = load_module(Qwen2ForCausalLM(Qwen2Config.from_dict(config)), strip(t, "param."), dtype)
    logits = model(input_ids=t["input.input_ids"], attention_mask=t["input.attention_mask"])
    loss = causal_lm_loss(logits, t["input.labels"])
    loss.backward()
    out = {"output.logits": logits, "output.loss": loss, **param_grads(model)}
    steps = t.get("output.greedy_step_logits")
    n = 6 if steps is None else steps.shape[0]
    row = t["input.input_ids"][:1]
    out["output.greedy_ids"], out["output.greedy_step_logits"] = model.greedy(row, n)
    return out


def compute_siglip(config: dict, t: Tensors, dtype: torch.dtype) -> Tensors:
    model = load_module(SiglipVisionModel(SiglipVisionConfig.from_dict(config)), strip(t, "param."), dtype)
    pixels = leaf(t["input.pixel_values"], dtype)
    last, pooled, _ = model(pixels)
    loss = (last * t["input.gy.last_hidden_state"].to(dtype)).sum() + (pooled * t["input.gy.pooler_output"].to(dtype)).sum()
    loss.backward()
    return {"output.last_hidden_state": last, "output.pooler_output": pooled, "output.loss": loss,
            "grad.input.pixel_values": pixels.grad, **param_grads(model)}


def compute_vae(config: dict, t: Tensors, dtype: torch.dtype) -> Tensors:
    model = load_module(AutoencoderKL(VaeConfig.from_dict(config)), strip(t, "param."), dtype)
    x = leaf(t["input.sample"], dtype)
    mean, logvar = model.encode(x)
    decoded = model.decode(mean)
    loss = torch.nn.functional.mse_loss(decoded, x)
    loss.backward()
    return {"output.latent_mean": mean, "output.latent_logvar": logvar, "output.decoded": decoded, "output.loss": loss,
            "grad.input.sample": x.grad, **param_grads(model)}


def compute_dit(config: dict, t: Tensors, dtype: torch.dtype) -> Tensors:
    c = DiTConfig.from_dict(config)
    model = load_module(ReconDenoiser(c), strip(t, "param."), dtype)
    model.net.pos_embed.requires_grad_(False)
    diffusion = GaussianDiffusion.create(c.diffusion_steps, c.noise_schedule, c.timesteps)
    cond = leaf(t["input.cond"], dtype)
    x0, steps, noise = t["input.x0"].to(dtype), t["input.t"], t["input.noise"].to(dtype)
    b, r = cond.shape[0], c.repeat
    z = model.condition(cond)
    x_t = diffusion.q_sample(x0.repeat(r, 1, 1, 1), steps, noise)
    trace: Tensors = {}
    eps = model.net(x_t, steps, z.repeat(r, 1, 1, 1), trace)
    loss, mse = vm_loss(eps, noise, b, c.vm_loss_eps)
    loss.backward()
    out = {f"output.{k}": v for k, v in trace.items()}
    out.update({"output.ln_pre": model.ln_pre(cond), "output.model_out": eps, "output.loss": loss.reshape(1),
                "output.mse_per_sample": mse, "input.x_t": x_t, "grad.input.cond": cond.grad, **param_grads(model)})
    return out


def compute_reconvla(config: dict, t: Tensors, dtype: torch.dtype) -> Tensors:
    model = from_state_dict(config, strip(t, "param."), dtype, "reconvla fixture")
    batch = {k: (v.to(dtype) if v.is_floating_point() else v) for k, v in strip(t, "input.").items()}
    o = model.forward(batch)
    o["loss"].backward()
    tok, pc = model.tokenizer, model.config.prompt
    lo, hi = tok.token_range
    b = batch["input_ids"].shape[0]
    positions = torch.stack([((row >= lo) & (row <= hi)).nonzero()[:, 0] for row in o["labels"]])
    action_logits = torch.stack([o["logits"][i, positions[i] - 1] for i in range(b)])
    pred = action_logits.argmax(-1)
    shape = (b, pc.action_chunk, pc.action_dim)
    as_i64 = lambda a: torch.from_numpy(a).to(torch.int64)  # noqa: E731
    out = {f"output.{k}": v for k, v in o.items() if k != "logits"}
    out.update({
        "output.eoi_ids": o["boi_ids"] + model.config.image_embed_len - 1,
        "output.action_positions": positions, "output.action_logits": action_logits, "output.action_pred_ids": pred,
        "output.action_token_ids": as_i64(tok.encode(batch["actions"].double().reshape(b, -1).numpy())),
        "output.state_token_ids": as_i64(tok.encode(batch["state"].double().numpy())),
        "output.bin_centers": torch.from_numpy(tok.bin_centers),
        "output.action_gt_decoded": torch.from_numpy(tok.decode(as_i64(tok.encode(batch["actions"].double().numpy())).numpy())).reshape(shape),
        "output.action_pred_decoded": torch.from_numpy(tok.decode(pred.numpy())).reshape(shape),
    })
    out.update(param_grads(model))
    return out


COMPUTE: Dict[str, Callable[[dict, Tensors, torch.dtype], Tensors]] = {
    "qwen2": compute_qwen2, "siglip": compute_siglip, "vae": compute_vae, "dit": compute_dit, "reconvla": compute_reconvla,
}
