"""ReconQwen2ForCausalLM: the ReconVLA wiring (reconvla/recon/model/recon_arch.py,
language_model/recon_qwen.py) over the twin's parts, reading our model folders.

State-dict keys (= our model.safetensors names): Qwen2 at the root (model.embed_tokens, model.layers,
model.norm; lm_head only when untied), model.vision_tower.vision_tower.<SigLIP>, model.mm_projector.<i>,
model.pixel_decoder.pixel_decoder.<AutoencoderKL> (our checkpoints hold the decoder too, upstream's
only the encoder), model.mm_inv_projector.<ReconDenoiser>, and ours: model.state_proj (the 'linear' /
'fourier' state token).

A training step: image -> SigLIP hidden_states[select_layer] -> projector -> spliced into the prompt
-> Qwen2 -> lm loss on the supervised (action) tokens; the hidden states at the first view's image
positions -> ln_pre -> DiT against the VAE latent of the target (gaze) image -> vm loss.

Batches use the golden fixtures' input names (reconvla_tiny's input.* without the prefix):
pixel_values [B x views, 3, S, S], input_ids / attention_mask / labels [B, T], target_images
[B, 3, S', S'], posterior_noise [B, latent, s, s], t [repeat x B], noise [repeat x B, C, h, w], and
with a 'linear' / 'fourier' state encoding state_values [B, F] (the TS Processor.stateValues).
"""
from __future__ import annotations

import json
import math
import os
from dataclasses import dataclass, field
from typing import Dict, List, Optional

import torch
import torch.nn.functional as F
from torch import nn

from .action_tokenizer import ActionTokenizer
from .diffusion import GaussianDiffusion, vm_loss
from .dit import DiTConfig, ReconDenoiser
from .qwen2 import Qwen2Config, Qwen2Model, causal_lm_loss
from .safetensors_io import load_file
from .siglip import SiglipVisionConfig, SiglipVisionModel
from .vae import AutoencoderKL, VaeConfig, pack_latents


@dataclass
class PromptConfig:
    image_token_index: int = -200
    state_token_index: int = -201
    ignore_index: int = -100
    pad_token_id: int = 0
    state_dim: int = 0
    action_dim: int = 7
    action_chunk: int = 1
    state_encoding: str = "bins"
    state_fourier_bands: int = 6
    grounding_tokens: int = 0  # explicit grounding (ours): the gaze box centre x, y (of the first view, or of every view) answered before the actions

    @property
    def state_features(self) -> int:
        """Inputs of the state projection: 1 ('linear') or 1 + 2 x bands ('fourier') per value."""
        return self.state_dim * (1 + 2 * self.state_fourier_bands if self.state_encoding == "fourier" else 1)


@dataclass
class ReconVLAConfig:
    llm: Qwen2Config
    vision: SiglipVisionConfig
    vae: VaeConfig
    denoiser: DiTConfig
    tokenizer: ActionTokenizer
    prompt: PromptConfig
    mm_hidden_size: int
    projector_type: str = "mlp2x_gelu"
    vision_select_layer: int = -2
    image_embed_len: int = 0
    decode_image_size: int = 0
    image_mean: List[float] = field(default_factory=lambda: [0.5, 0.5, 0.5])
    image_std: List[float] = field(default_factory=lambda: [0.5, 0.5, 0.5])
    views: List[str] = field(default_factory=lambda: ["static"])
    recon: bool = True
    unfreeze_vision_tower: bool = False
    freeze_projector: bool = False
    json: dict = field(default_factory=dict)

    @staticmethod
    def from_dict(d: dict) -> "ReconVLAConfig":
        if d.get("locator") is not None:
            raise ValueError('config "locator": the locator (ours, packages/reconvla/src/locator.ts) is not in the twin; '
                             "a twin model without it would compute another function")
        if d.get("prompt", {}).get("bin_fourier_bands", 0):
            raise ValueError('config "prompt.bin_fourier_bands": the ordered bin embeddings (ours, packages/reconvla/src/bin_features.ts) '
                             "are not in the twin; a twin model without them would compute another function")
        llm = Qwen2Config.from_dict(d)
        vision = SiglipVisionConfig.from_dict(d["vision_config"])
        vae = VaeConfig.from_dict(d["vae_config"])
        grid = vision.image_size // vision.patch_size
        pr, ab = d.get("prompt", {}), d.get("ablation", {})
        prompt = PromptConfig(
            image_token_index=pr.get("image_token_index", -200), state_token_index=pr.get("state_token_index", -201),
            ignore_index=pr.get("ignore_index", -100), pad_token_id=pr.get("pad_token_id", d.get("pad_token_id") or 0),
            state_dim=pr.get("state_dim", 0), action_dim=pr.get("action_dim", 7), action_chunk=pr.get("action_chunk", 1),
            state_encoding=pr.get("state_encoding", "bins"), state_fourier_bands=pr.get("state_fourier_bands", 6),
            grounding_tokens=pr.get("grounding_tokens", 0),
        )
        return ReconVLAConfig(
            llm=llm, vision=vision, vae=vae, denoiser=DiTConfig.from_dict(d["denoiser_config"]),
            tokenizer=ActionTokenizer.from_dict(d.get("action_tokenizer", {}), llm.vocab_size), prompt=prompt,
            mm_hidden_size=d.get("mm_hidden_size", vision.hidden_size), projector_type=d.get("mm_projector_type", "mlp2x_gelu"),
            vision_select_layer=d.get("mm_vision_select_layer", -2), image_embed_len=d.get("image_embed_len", grid * grid),
            decode_image_size=d.get("decode_image_size", grid * 2 ** (len(vae.block_out_channels) - 1) * 2),
            image_mean=d.get("image_mean", [0.5] * 3), image_std=d.get("image_std", [0.5] * 3),
            views=d.get("image_views", ["static"]),
            recon=ab.get("recon", d.get("recon_enable", True)),
            unfreeze_vision_tower=ab.get("unfreeze_vision_tower", d.get("unfreeze_mm_vision_tower", False)),
            freeze_projector=ab.get("freeze_projector", d.get("freeze_mm_mlp_adapter", False)),
            json=d,
        )


class Wrapper(nn.Module):
    """A module with no parameters that only names its child (upstream's vision_tower.vision_tower)."""

    def __init__(self, name: str, inner: nn.Module):
        super().__init__()
        self.add_module(name, inner)


class ReconQwen2Model(Qwen2Model):
    def __init__(self, c: ReconVLAConfig, vae_decoder: bool):
        super().__init__(c.llm)
        d = c.llm.hidden_size
        self.vision_tower = Wrapper("vision_tower", SiglipVisionModel(c.vision))
        layers = [nn.Linear(c.mm_hidden_size, d)]
        if c.projector_type == "mlp2x_gelu":
            layers += [nn.GELU(), nn.Linear(d, d)]  # exact erf GELU, nn.GELU's default
        elif c.projector_type != "linear":
            raise ValueError(f"mm_projector_type {c.projector_type}")
        self.mm_projector = nn.Sequential(*layers)
        self.pixel_decoder = Wrapper("pixel_decoder", AutoencoderKL(c.vae, with_decoder=vae_decoder))
        self.mm_inv_projector = ReconDenoiser(c.denoiser)
        if c.prompt.state_encoding != "bins":
            self.state_proj = nn.Linear(c.prompt.state_features, d)


@dataclass
class Splice:
    inputs_embeds: torch.Tensor  # [B, L, D]
    labels: torch.Tensor  # [B, L]
    attention_mask: torch.Tensor  # [B, L]
    boi: List[int]  # the image placeholder's position in each unpadded row


class ReconVLA(nn.Module):
    def __init__(self, config: ReconVLAConfig, vae_decoder: bool = True):
        super().__init__()
        self.config = config
        self.model = ReconQwen2Model(config, vae_decoder)
        self.lm_head = None if config.llm.tie_word_embeddings else nn.Linear(config.llm.hidden_size, config.llm.vocab_size, bias=False)
        self.tokenizer = config.tokenizer
        dc = config.denoiser
        self.diffusion = GaussianDiffusion.create(dc.diffusion_steps, dc.noise_schedule, dc.timesteps)
        self.apply_freezing()

    # parts, by upstream's names
    @property
    def vision_tower(self) -> SiglipVisionModel:
        return self.model.vision_tower.vision_tower

    @property
    def vae(self) -> AutoencoderKL:
        return self.model.pixel_decoder.pixel_decoder

    @property
    def denoiser(self) -> ReconDenoiser:
        return self.model.mm_inv_projector

    def apply_freezing(self) -> None:
        """Upstream's flags: vision tower and VAE frozen, pos_embed fixed, the rest trained."""
        c = self.config
        self.requires_grad_(True)
        self.vision_tower.requires_grad_(c.unfreeze_vision_tower)
        self.vae.requires_grad_(False)
        self.denoiser.net.pos_embed.requires_grad_(False)
        if c.freeze_projector:
            self.model.mm_projector.requires_grad_(False)
        if not c.recon:
            self.denoiser.requires_grad_(False)

    def trainable_names(self) -> List[str]:
        return [k for k, p in self.named_parameters() if p.requires_grad]

    # the step, piece by piece
    def encode_images(self, pixel_values: torch.Tensor) -> Dict[str, torch.Tensor]:
        """SigLIP hidden_states[select_layer] -> projector; features [B, views x P, D]."""
        with torch.set_grad_enabled(torch.is_grad_enabled() and self.config.unfreeze_vision_tower):
            vision = self.vision_tower.select_layer(pixel_values, self.config.vision_select_layer)
        feats = self.model.mm_projector(vision)
        views = len(self.config.views)
        n, p, d = feats.shape
        return {"vision_hidden_state": vision, "image_features": feats.reshape(n // views, views * p, d)}

    def splice(self, input_ids: torch.Tensor, attention_mask: torch.Tensor, labels: Optional[torch.Tensor],
               image_features: torch.Tensor, state_values: Optional[torch.Tensor] = None) -> Splice:
        """prepare_inputs_labels_for_multimodal (flat merge), plus our state placeholder."""
        pc = self.config.prompt
        embed = self.model.embed_tokens
        if labels is None:
            labels = torch.full_like(input_ids, pc.ignore_index)
        state = self.model.state_proj(state_values) if hasattr(self.model, "state_proj") and state_values is not None else None
        rows, row_labels, boi = [], [], []
        for b in range(input_ids.shape[0]):
            keep = attention_mask[b].bool()
            ids, lab = input_ids[b][keep], labels[b][keep]
            pieces, piece_labels = [], []
            for i, tok in enumerate(ids.tolist()):
                if tok == pc.image_token_index:
                    boi.append(sum(x.shape[0] for x in pieces))
                    feats = image_features[b]
                    pieces.append(feats)
                    piece_labels.append(torch.full((feats.shape[0],), pc.ignore_index, dtype=torch.int64))
                elif tok == pc.state_token_index and pc.state_encoding != "bins":
                    if state is None:
                        raise ValueError("the prompt holds a state placeholder: pass state_values")
                    pieces.append(state[b:b + 1])
                    piece_labels.append(torch.tensor([pc.ignore_index]))
                else:
                    pieces.append(embed(ids[i:i + 1]))
                    piece_labels.append(lab[i:i + 1])
            rows.append(torch.cat(pieces))
            row_labels.append(torch.cat(piece_labels))
        if len(boi) != len(rows):
            raise ValueError(f"every row needs exactly one image placeholder ({pc.image_token_index})")
        length = max(r.shape[0] for r in rows)
        d = rows[0].shape[1]
        out_embeds, out_labels, out_mask = [], [], []
        for r, lab in zip(rows, row_labels):
            pad = length - r.shape[0]
            out_embeds.append(torch.cat([r, r.new_zeros(pad, d)]))  # zero vectors, not the pad token's embedding
            out_labels.append(torch.cat([lab, torch.full((pad,), pc.ignore_index, dtype=torch.int64)]))
            out_mask.append(torch.cat([torch.ones(r.shape[0], dtype=torch.int64), torch.zeros(pad, dtype=torch.int64)]))
        return Splice(torch.stack(out_embeds), torch.stack(out_labels), torch.stack(out_mask), boi)

    def lm_logits(self, hidden: torch.Tensor) -> torch.Tensor:
        w = self.model.embed_tokens.weight if self.lm_head is None else self.lm_head.weight
        return hidden @ w.t()

    @torch.no_grad()
    def target_latent(self, target_images: torch.Tensor, posterior_noise: torch.Tensor) -> Dict[str, torch.Tensor]:
        """The frozen VAE's packed, scaled latent of the target image."""
        c = self.config
        ch = target_images.shape[1]
        mean = torch.tensor(c.image_mean, dtype=target_images.dtype).view(1, ch, 1, 1)
        std = torch.tensor(c.image_std, dtype=target_images.dtype).view(1, ch, 1, 1)
        unit = ((target_images * std + mean - 0.5) / 0.5).clamp(-1, 1)
        s = c.decode_image_size
        images = F.interpolate(unit, size=(s, s), mode="bilinear", align_corners=False)
        pm, plv = self.vae.encode(images)
        sample = pm + torch.exp(0.5 * plv) * posterior_noise
        return {"target_images_vae": images, "posterior_mean": pm, "posterior_logvar": plv, "latent_sample": sample,
                "target_latent": pack_latents(self.vae.scale_latents(sample))}

    def forward(self, batch: Dict[str, torch.Tensor], generator: Optional[torch.Generator] = None) -> Dict[str, torch.Tensor]:
        """One training forward pass: every intermediate the reconvla_tiny fixture names, and the losses."""
        c, dc = self.config, self.config.denoiser
        out: Dict[str, torch.Tensor] = dict(self.encode_images(batch["pixel_values"]))
        sp = self.splice(batch["input_ids"], batch["attention_mask"], batch.get("labels"), out["image_features"], batch.get("state_values"))
        hidden = self.model(inputs_embeds=sp.inputs_embeds, attention_mask=sp.attention_mask)
        logits = self.lm_logits(hidden)
        out.update(inputs_embeds=sp.inputs_embeds, labels=sp.labels, attention_mask=sp.attention_mask,
                   boi_ids=torch.tensor(sp.boi), hidden_states=hidden, logits=logits)
        out["lm_loss"] = causal_lm_loss(logits, sp.labels, c.prompt.ignore_index)
        p = c.image_embed_len  # the first view's tokens are the recon tokens
        tokens = torch.stack([hidden[b, s:s + p] for b, s in enumerate(sp.boi)])
        # Ours (--patch-size 4): a finer image grid is averaged k x k onto the DiT's grid.
        grid, g = int(round(math.sqrt(p))), dc.input_size
        if grid != g:
            k = grid // g
            tokens = tokens.reshape(tokens.shape[0], g, k, g, k, -1).mean(dim=(2, 4)).reshape(tokens.shape[0], g * g, -1)
        out["recon_tokens"] = tokens
        if c.recon and batch.get("target_images") is not None:
            b = out["recon_tokens"].shape[0]
            target = batch["target_images"]
            noise_post = batch.get("posterior_noise")
            if noise_post is None:
                side = c.decode_image_size // 2 ** (len(c.vae.block_out_channels) - 1)
                noise_post = torch.randn(b, c.vae.latent_channels, side, side, generator=generator, dtype=target.dtype)
            out.update(self.target_latent(target, noise_post))
            r = dc.repeat
            z = self.denoiser.condition(out["recon_tokens"])
            out["recon_tokens_ln_pre"] = self.denoiser.ln_pre(out["recon_tokens"])
            x0 = out["target_latent"].repeat(r, 1, 1, 1)
            t = batch.get("t")
            if t is None:
                t = torch.randint(0, self.diffusion.num_timesteps, (r * b,), generator=generator)
            noise = batch.get("noise")
            if noise is None:
                noise = torch.randn(x0.shape, generator=generator, dtype=x0.dtype)
            out["x_t"] = self.diffusion.q_sample(x0, t, noise)
            out["model_out"] = self.denoiser.net(out["x_t"], t, z.repeat(r, 1, 1, 1))
            out["vm_loss"], out["mse_per_sample"] = vm_loss(out["model_out"], noise, b, dc.vm_loss_eps)
            out["loss"] = out["lm_loss"] + out["vm_loss"]
        else:
            out["loss"] = out["lm_loss"]
        return out

    def losses(self, batch: Dict[str, torch.Tensor], generator: Optional[torch.Generator] = None) -> Dict[str, Optional[torch.Tensor]]:
        """lm, vm (None without the reconstruction branch or target images) and total = lm + vm."""
        out = self.forward(batch, generator)
        return {"lm": out["lm_loss"], "vm": out.get("vm_loss"), "total": out["loss"]}

    @torch.no_grad()
    def greedy_actions(self, pixel_values: torch.Tensor, input_ids: torch.Tensor, attention_mask: Optional[torch.Tensor] = None,
                       state_values: Optional[torch.Tensor] = None, whole_vocab: bool = False) -> torch.Tensor:
        """Greedy ids [B, grounding_tokens + action_chunk x action_dim] from generation prompts (up to "ASSISTANT:"):
        the explicit-grounding ids first when the config has them, then the action ids.

        Like our policy: argmax over the action ids only (whole_vocab=True: over every id, as
        upstream's generate), each chosen id fed back; the spliced prompt runs again at each step.
        """
        c = self.config
        n = c.prompt.grounding_tokens + c.prompt.action_chunk * c.prompt.action_dim
        lo, hi = self.tokenizer.token_range
        if attention_mask is None:
            attention_mask = torch.ones_like(input_ids)
        feats = self.encode_images(pixel_values)["image_features"]
        result = []
        for b in range(input_ids.shape[0]):
            sp = self.splice(input_ids[b:b + 1], attention_mask[b:b + 1], None, feats[b:b + 1],
                             None if state_values is None else state_values[b:b + 1])
            embeds, ids = sp.inputs_embeds, []
            for _ in range(n):
                last = self.lm_logits(self.model(inputs_embeds=embeds))[0, -1]
                pick = int(last.argmax()) if whole_vocab else lo + int(last[lo:hi + 1].argmax())
                ids.append(pick)
                embeds = torch.cat([embeds, self.model.embed_tokens(torch.tensor([[pick]]))], dim=1)
            result.append(ids)
        return torch.tensor(result, dtype=torch.int64)


DECODER_PREFIXES = ("model.pixel_decoder.pixel_decoder.decoder.", "model.pixel_decoder.pixel_decoder.post_quant_conv.")


def load_state(model: nn.Module, state: Dict[str, torch.Tensor], what: str) -> None:
    """load_state_dict(strict=True) with a message naming every missing, unexpected or misshapen key."""
    own = model.state_dict()
    missing = sorted(set(own) - set(state))
    unexpected = sorted(set(state) - set(own))
    shapes = sorted(k for k in set(own) & set(state) if tuple(own[k].shape) != tuple(state[k].shape))
    if missing or unexpected or shapes:
        raise ValueError(f"{what}: missing {missing[:8]}, unexpected {unexpected[:8]}, shape mismatch {shapes[:8]}")
    model.load_state_dict({k: v.to(own[k].dtype) for k, v in state.items()}, strict=True)


def from_state_dict(config: dict, state: Dict[str, torch.Tensor], dtype: torch.dtype = torch.float32, what: str = "ReconVLA") -> ReconVLA:
    has_decoder = any(k.startswith(DECODER_PREFIXES[0]) for k in state)
    model = ReconVLA(ReconVLAConfig.from_dict(config), vae_decoder=has_decoder).to(dtype)
    load_state(model, state, what)
    return model


def load_reconvla(folder: str, dtype: torch.dtype = torch.float32) -> ReconVLA:
    """A model folder: config.json + model.safetensors (as our savePretrained / run folders write it)."""
    with open(os.path.join(folder, "config.json")) as f:
        config = json.load(f)
    return from_state_dict(config, load_folder_weights(folder), dtype, f"load_reconvla({folder})")


def load_folder_weights(folder: str) -> Dict[str, torch.Tensor]:
    """model.safetensors, or the shards model.safetensors.index.json lists (weight_map: key -> file)."""
    index = os.path.join(folder, "model.safetensors.index.json")
    if not os.path.exists(index):
        return load_file(os.path.join(folder, "model.safetensors"))
    with open(index) as f:
        weight_map: Dict[str, str] = json.load(f)["weight_map"]
    state: Dict[str, torch.Tensor] = {}
    for shard in sorted(set(weight_map.values())):
        state.update(load_file(os.path.join(folder, shard)))
    return state
