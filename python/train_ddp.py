"""Continue training an exported ReconVLA model folder in PyTorch, on one process or many.

    torchrun --nproc_per_node=2 python/train_ddp.py --model EXPORTED --data DATASET --out OUT --steps 100
    python3 python/train_ddp.py --model EXPORTED --data DATASET --out OUT --steps 100      # one process

The same script runs on CPUs (gloo) and GPUs (NCCL, one process per GPU): torch.distributed +
DistributedDataParallel, gradient accumulation, atomic checkpoints with --resume, and at the end the
model exported back to our folder format (OUT/model: config.json, model.safetensors or shards,
tokenizer files), so `npx reconvla eval --model OUT/model` runs it in the simulator.

What makes N processes train exactly as one with the same global batch:
  - every rank draws the same global batch (python/reconvla_twin/shards.py, the TS trainer's
    stream) and takes its contiguous slice, split into micro-batches of --micro-batch samples;
  - the step's randomness (VAE posterior noise, diffusion t and noise) is drawn per sample for the
    whole global batch from a generator seeded by (seed, step), so a sample gets the same numbers
    whichever rank and micro-batch it lands in;
  - each micro-batch loss is scaled by 1/accumulation and DDP averages over ranks, so the
    gradient is the mean over the global batch (every sample has the same number of supervised
    action tokens, so the mean of micro-batch means is the global mean).
The same optimizer as the TS trainer: AdamW (0.9, 0.999, eps 1e-8) with linear warm-up and cosine
decay to --min-lr, the gradient norm clipped to --max-grad-norm.

--shard: none (DDP: every rank holds all weights, gradients and AdamW moments), zero1
(ZeroRedundancyOptimizer: the AdamW moments split over ranks, verified here on gloo) or fsdp
(FullyShardedDataParallel, ZeRO-3: weights, gradients and moments split; needs torch >= 2.0 with
use_orig_params, see docs/scaling.md).
"""
from __future__ import annotations

import argparse
import contextlib
import datetime
import json
import math
import os
import shutil
import sys
import time
from typing import Dict, List

import torch
import torch.distributed as dist
from torch import nn
from torch.nn.parallel import DistributedDataParallel as DDP

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from reconvla_twin.reconvla import ReconVLA, load_reconvla  # noqa: E402
from reconvla_twin.safetensors_io import save_file  # noqa: E402
from reconvla_twin.shards import TabletopBatches  # noqa: E402

TOKENIZER_FILES = ("vocab.json", "tokenizer.json", "tokenizer_config.json", "special_tokens_map.json")


def parse_args(argv=None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0], formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--model", required=True, help="an exported model folder (reconvla export, or OUT/model of a previous run)")
    p.add_argument("--data", required=True, help="a tabletop dataset folder (reconvla sim generate)")
    p.add_argument("--out", required=True, help="run folder: log.jsonl, checkpoints/, model/")
    p.add_argument("--steps", type=int, default=100, help="optimizer steps")
    p.add_argument("--global-batch", type=int, default=8, help="samples per optimizer step, over all ranks and micro-batches")
    p.add_argument("--micro-batch", type=int, default=0, help="samples per forward pass on a rank (default: global batch / ranks, no accumulation)")
    p.add_argument("--lr", type=float, default=1e-3)
    p.add_argument("--min-lr", type=float, default=1e-5)
    p.add_argument("--warmup", type=int, default=-1, help="warm-up steps (default: the TS trainer's min(50, ceil(steps / 10)))")
    p.add_argument("--weight-decay", type=float, default=0.0)
    p.add_argument("--max-grad-norm", type=float, default=1.0)
    p.add_argument("--seed", type=int, default=0, help="seeds the batch order and the step's noise")
    p.add_argument("--checkpoint-every", type=int, default=50)
    p.add_argument("--keep", type=int, default=2, help="checkpoints kept")
    p.add_argument("--resume", action="store_true", help="continue from the newest checkpoint in OUT/checkpoints")
    p.add_argument("--shard", choices=("none", "zero1", "fsdp"), default="none", help="what is split over ranks (see docs/scaling.md)")
    p.add_argument("--max-shard-size", type=int, default=5_000_000_000, help="bytes per safetensors shard of the exported model")
    p.add_argument("--tasks", default="config", help="task kinds to train on: 'config' (the model's), 'all', or a comma list")
    return p.parse_args(argv)


# ---- processes ----

def init_distributed() -> tuple:
    """(rank, world, device): torchrun's environment, or a single process without one."""
    if "RANK" not in os.environ:
        return 0, 1, torch.device("cuda" if torch.cuda.is_available() else "cpu")
    cuda = torch.cuda.is_available()
    dist.init_process_group("nccl" if cuda else "gloo", timeout=datetime.timedelta(minutes=10))
    rank, world = dist.get_rank(), dist.get_world_size()
    if cuda:
        local = int(os.environ.get("LOCAL_RANK", 0))
        torch.cuda.set_device(local)
        return rank, world, torch.device("cuda", local)
    return rank, world, torch.device("cpu")


def mean_over_ranks(x: torch.Tensor, world: int) -> torch.Tensor:
    if world > 1:
        dist.all_reduce(x)
        x /= world
    return x


class TrainingStep(nn.Module):
    """The module DDP wraps: DDP hooks forward(), and the model's forward is its losses."""

    def __init__(self, model: ReconVLA):
        super().__init__()
        self.model = model

    def forward(self, batch: Dict[str, torch.Tensor]) -> torch.Tensor:
        out = self.model.losses(batch)
        vm = out["vm"] if out["vm"] is not None else torch.zeros((), device=out["lm"].device)
        return torch.stack([out["total"], out["lm"], vm])


def wrap(step: TrainingStep, args, world: int, device: torch.device) -> nn.Module:
    if args.shard == "fsdp":
        try:
            from torch.distributed.fsdp import FullyShardedDataParallel as FSDP
            from torch.distributed.fsdp.wrap import ModuleWrapPolicy
        except Exception as e:  # torch 1.13's FSDP does not import on Python 3.11 (a dataclass default)
            raise SystemExit(f"--shard fsdp needs torch >= 2.0 (FullyShardedDataParallel with use_orig_params); this torch {torch.__version__} cannot: {e}")
        from reconvla_twin.dit import DiTBlock
        from reconvla_twin.qwen2 import Qwen2DecoderLayer
        from reconvla_twin.siglip import SiglipEncoderLayer
        # One FSDP unit per transformer layer (gathered for its forward and backward, then freed);
        # use_orig_params lets frozen (vision tower, VAE) and trained weights share a unit.
        return FSDP(step, auto_wrap_policy=ModuleWrapPolicy({Qwen2DecoderLayer, SiglipEncoderLayer, DiTBlock}),
                    use_orig_params=True, device_id=device if device.type == "cuda" else None)
    if world == 1:
        return step
    # Unused trainable weights (SigLIP's last layer when the tower is trained: hidden_states[-2]
    # never reaches it) get no gradient; DDP must be told to expect that.
    return DDP(step, device_ids=[device.index] if device.type == "cuda" else None, find_unused_parameters=True)


def make_optimizer(params: List[nn.Parameter], args) -> torch.optim.Optimizer:
    kw = dict(lr=args.lr, betas=(0.9, 0.999), eps=1e-8, weight_decay=args.weight_decay)
    if args.shard == "zero1":
        from torch.distributed.optim import ZeroRedundancyOptimizer
        return ZeroRedundancyOptimizer(params, optimizer_class=torch.optim.AdamW, **kw)
    return torch.optim.AdamW(params, **kw)


def lr_at(step: int, args) -> float:
    """packages/core/src/optim/schedules.ts warmupCosine, as the TS LRScheduler applies it before step `step`."""
    warm = args.warmup if args.warmup >= 0 else min(50, math.ceil(args.steps / 10))
    if step < warm:
        return args.lr * step / warm
    progress = min(1.0, (step - warm) / max(1, args.steps - warm))
    return args.min_lr + (args.lr - args.min_lr) * 0.5 * (1 + math.cos(math.pi * progress))


# ---- batches ----

def step_noise(model: ReconVLA, n: int, seed: int, step: int) -> Dict[str, torch.Tensor]:
    """The step's randomness, per sample of the global batch, the same on every rank."""
    c, dc = model.config, model.config.denoiser
    side = c.decode_image_size // 2 ** (len(c.vae.block_out_channels) - 1)
    g = torch.Generator().manual_seed(seed * 1_000_003 + step)
    return {
        "posterior_noise": torch.randn(n, c.vae.latent_channels, side, side, generator=g),
        "t": torch.randint(0, dc.diffusion_steps, (n, dc.repeat), generator=g),
        "noise": torch.randn(n, dc.repeat, dc.x_channel, dc.input_size, dc.input_size, generator=g),
    }


def micro_batch(data: TabletopBatches, samples: list, idx: List[int], noise: Dict[str, torch.Tensor], device) -> Dict[str, torch.Tensor]:
    """Samples idx of the global batch as model inputs; t and noise rows r * m + j (the 4x repeat's layout)."""
    b = data.inputs([samples[i] for i in idx])
    b["posterior_noise"] = noise["posterior_noise"][idx]
    b["t"] = noise["t"][idx].t().reshape(-1)
    b["noise"] = noise["noise"][idx].transpose(0, 1).reshape(-1, *noise["noise"].shape[2:])
    return {k: v.to(device) for k, v in b.items()}


# ---- checkpoints and export ----

def checkpoints(out: str) -> List[str]:
    d = os.path.join(out, "checkpoints")
    return sorted(os.path.join(d, f) for f in os.listdir(d) if f.startswith("step-") and f.endswith(".pt")) if os.path.isdir(d) else []


def full_state(module: nn.Module, args) -> Dict[str, torch.Tensor]:
    """The model's state dict on rank 0 (FSDP gathers its shards)."""
    if args.shard == "fsdp":
        from torch.distributed.fsdp import FullStateDictConfig, StateDictType
        from torch.distributed.fsdp import FullyShardedDataParallel as FSDP
        with FSDP.state_dict_type(module, StateDictType.FULL_STATE_DICT, FullStateDictConfig(offload_to_cpu=True, rank0_only=True)):
            sd = module.state_dict()
        return {k.replace("_fsdp_wrapped_module.", "").removeprefix("model."): v for k, v in sd.items()}
    return {k: v.detach().cpu() for k, v in (module.module if isinstance(module, DDP) else module).model.state_dict().items()}


def save_checkpoint(module: nn.Module, opt, step: int, args, rank: int) -> None:
    """OUT/checkpoints/step-NNNNNN.pt, written to a temporary name and renamed (a crash leaves the previous one)."""
    if args.shard == "zero1":
        opt.consolidate_state_dict(to=0)  # every rank takes part
    state = full_state(module, args)
    opt_state = opt.state_dict() if rank == 0 and args.shard != "fsdp" else None
    if rank == 0:
        d = os.path.join(args.out, "checkpoints")
        os.makedirs(d, exist_ok=True)
        path = os.path.join(d, f"step-{step:06d}.pt")
        torch.save({"step": step, "model": state, "optimizer": opt_state, "args": vars(args)}, path + ".tmp")
        os.replace(path + ".tmp", path)
        for old in checkpoints(args.out)[:-args.keep]:
            os.remove(old)


def write_weights(state: Dict[str, torch.Tensor], folder: str, max_bytes: int) -> None:
    """model.safetensors, or shards model-0000i-of-0000N.safetensors and Hugging Face's index past max_bytes."""
    total = sum(t.numel() * t.element_size() for t in state.values())
    if total <= max_bytes:
        save_file(state, os.path.join(folder, "model.safetensors"), {"format": "pt"})
        return
    shards, cur, size = [], {}, 0
    for k, t in state.items():
        n = t.numel() * t.element_size()
        if cur and size + n > max_bytes:
            shards.append(cur)
            cur, size = {}, 0
        cur[k], size = t, size + n
    shards.append(cur)
    weight_map = {}
    for i, sh in enumerate(shards):
        name = f"model-{i + 1:05d}-of-{len(shards):05d}.safetensors"
        save_file(sh, os.path.join(folder, name), {"format": "pt"})
        weight_map.update({k: name for k in sh})
    index = {"metadata": {"format": "pt", "total_size": total}, "weight_map": dict(sorted(weight_map.items()))}
    with open(os.path.join(folder, "model.safetensors.index.json"), "w") as f:
        json.dump(index, f, indent=2)
        f.write("\n")


def export(state: Dict[str, torch.Tensor], args, last: dict) -> str:
    """OUT/model in our folder format, built under a temporary name and renamed into place."""
    dest = os.path.join(args.out, "model")
    tmp = dest + ".tmp"
    shutil.rmtree(tmp, ignore_errors=True)
    os.makedirs(tmp)
    write_weights({k: v.float().contiguous() for k, v in state.items()}, tmp, args.max_shard_size)
    shutil.copy(os.path.join(args.model, "config.json"), tmp)  # written by the TS config writer; unchanged
    for f in TOKENIZER_FILES:
        if os.path.exists(os.path.join(args.model, f)):
            shutil.copy(os.path.join(args.model, f), tmp)
    with open(os.path.join(tmp, "README.md"), "w") as f:
        f.write(f"# ReconVLA (tiny), continued in PyTorch\n\nStarted from `{args.model}`; trained {args.steps} steps with "
                f"`python/train_ddp.py` on `{args.data}` (global batch {args.global_batch}, lr {args.lr}, seed {args.seed}, "
                f"{last['world']} process(es), shard {args.shard}).\n\nLast step: loss {last['loss']:.4f}, lm {last['lm']:.4f}, vm {last['vm']:.4f}.\n\n"
                f"```sh\nnpx reconvla eval --model {dest} --env D --chains 20\n```\n")
    shutil.rmtree(dest, ignore_errors=True)
    os.replace(tmp, dest)
    return dest


# ---- the loop ----

def main(argv=None) -> None:
    args = parse_args(argv)
    rank, world, device = init_distributed()
    torch.manual_seed(args.seed)
    if args.global_batch % world:
        raise SystemExit(f"--global-batch {args.global_batch} does not split over {world} processes")
    per_rank = args.global_batch // world
    micro = args.micro_batch or per_rank
    if per_rank % micro:
        raise SystemExit(f"--micro-batch {micro} does not divide the {per_rank} samples of a rank")
    accum = per_rank // micro

    model = load_reconvla(args.model)
    start = 0
    ckpts = checkpoints(args.out) if args.resume else []
    resume = torch.load(ckpts[-1], map_location="cpu") if ckpts else None
    if resume:
        model.load_state_dict(resume["model"])
        start = resume["step"]
    model.to(device).train()
    module = wrap(TrainingStep(model), args, world, device)
    params = [p for p in module.parameters() if p.requires_grad]
    opt = make_optimizer(params, args)
    if resume and resume["optimizer"] is not None:
        opt.load_state_dict(resume["optimizer"])

    tasks = None if args.tasks == "all" else "config" if args.tasks == "config" else args.tasks.split(",")
    data = TabletopBatches(args.data, model.config.json, tasks)
    stream = data.host_batches(args.global_batch, args.seed, start)
    if rank == 0:
        os.makedirs(args.out, exist_ok=True)
        print(f"train_ddp: {world} process(es) on {device}, global batch {args.global_batch} = {world} x {accum} x {micro}, "
              f"shard {args.shard}, steps {start}..{args.steps}", flush=True)
    last = {}
    for step in range(start, args.steps):
        t0 = time.time()
        samples = next(stream)
        noise = step_noise(model, args.global_batch, args.seed, step)
        lr = lr_at(step, args)
        for g in opt.param_groups:
            g["lr"] = lr
        logged = torch.zeros(3)
        for k in range(accum):
            idx = list(range(rank * per_rank + k * micro, rank * per_rank + (k + 1) * micro))
            batch = micro_batch(data, samples, idx, noise, device)
            sync = k == accum - 1 or not isinstance(module, DDP)
            with (contextlib.nullcontext() if sync else module.no_sync()):
                losses = module(batch)
                (losses[0] / accum).backward()
            logged += losses.detach().cpu() / accum
        norm = module.clip_grad_norm_(args.max_grad_norm) if args.shard == "fsdp" else torch.nn.utils.clip_grad_norm_(params, args.max_grad_norm)
        opt.step()
        opt.zero_grad(set_to_none=True)
        logged = mean_over_ranks(logged, world)
        last = {"step": step + 1, "loss": float(logged[0]), "lm": float(logged[1]), "vm": float(logged[2]), "lr": lr,
                "grad_norm": float(norm), "world": world, "micro_batch": micro, "accumulation": accum, "seconds": time.time() - t0}
        if rank == 0:
            with open(os.path.join(args.out, "log.jsonl"), "a") as f:
                f.write(json.dumps(last) + "\n")
            if (step + 1) % 10 == 0 or step + 1 == args.steps:
                print(f"step {step + 1}/{args.steps} loss {last['loss']:.6f} lm {last['lm']:.6f} vm {last['vm']:.6f} |g| {last['grad_norm']:.4f} lr {lr:.2e}", flush=True)
        if (step + 1) % args.checkpoint_every == 0 or step + 1 == args.steps:
            save_checkpoint(module, opt, step + 1, args, rank)
    state = full_state(module, args)
    if rank == 0 and last:
        print(f"exported {export(state, args, last)}", flush=True)
    if world > 1:
        dist.barrier()
        dist.destroy_process_group()


if __name__ == "__main__":
    try:
        main()
    except BaseException:
        # torch 1.13's torchrun on Python 3.11 runs only with --redirects 2 --tee 1 (stderr to its
        # log files): the traceback goes to stdout too, so a failure shows on the console.
        import traceback
        traceback.print_exc(file=sys.stdout)
        sys.stdout.flush()
        raise
