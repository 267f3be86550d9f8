"""Localisation probe: can a small vision network find the named object on unseen scenes?

A supervised question, asked outside the VLA so that it is quick and unambiguous: from one camera
view and the instruction, predict the centre of the frame's gaze box (the object a lift / push task
names) in [-1, 1]; train on one dataset's frames, report the mean |error| on another dataset's
(other scenes). The networks (all ~width 48, trained from scratch with AdamW 1e-3, batch 64):

  vit         our tiny SigLIP's shape (patch conv + learned position embedding + 2 pre-norm
              layers, 4 heads) with the instruction as one extra token (bag of words); the
              readout is that token: how the VLA's LLM meets the image (late fusion).
  convvit     vit with two 3x3 convolutions before the patch conv (early convolutions).
  filmvit     convvit whose conv features are FiLM-modulated by the instruction.
  film        two 3x3 convs, FiLM by the instruction, a 1x1 conv to one heat map, spatial softmax:
              the expected pixel centre is the answer (no per-position weight anywhere).
  kplate      text-free convs to 8 spatial-softmax keypoints, the instruction picks among them
              in an MLP (late fusion with a spatial softmax).

Usage (a python3 with torch; PYTHONPATH=python):
  python3 python/localisation_probe.py --train DATA --held-out DATA --words CONFIG_JSON \\
      [--view static] [--steps 3000] [--seed 0] vit/32/8 film/32/8 ...
each model as name/resolution/patch. See docs/reconvla.md#measured for what it found.
"""
import argparse
import json
import time
from typing import Dict, List, Sequence, Tuple

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F

from reconvla_twin.shards import Dataset, resize_bilinear

TASKS = ("lift", "push_left")


def load_frames(folder: str, every: int, sizes: Sequence[int], view: str, word_ids: Dict[str, int], max_words: int = 16):
    """Every `every`-th frame of the lift / push_left episodes whose gaze box is in view."""
    ds = Dataset(folder)
    images: Dict[int, List[np.ndarray]] = {s: [] for s in sizes}
    centres, texts = [], []
    for s in range(len(ds.index["shards"])):
        sh = ds.read_shard(s)
        for f in range(0, sh.frames, every):
            ep = sh.episodes[sh.frame_episode[f]]
            if ep["task"]["kind"] not in TASKS:
                continue
            box = sh.gaze_static[f] if view == "static" else sh.gaze_gripper[f]
            if box[0] < 0:
                continue
            img = sh.static_rgb[f] if view == "static" else sh.gripper_rgb[f]
            h, w = img.shape[:2]
            centres.append([(box[0] + box[2]) / w - 1, (box[1] + box[3]) / h - 1])
            for size in sizes:
                images[size].append(resize_bilinear(img, size, size))
            ids = [word_ids.get(t.strip(".,").lower(), 0) for t in ep["instruction"].split()][:max_words]
            texts.append(ids + [0] * (max_words - len(ids)))
    pixels = {s: torch.tensor(np.stack(v)).permute(0, 3, 1, 2).float() / 127.5 - 1 for s, v in images.items()}
    return pixels, torch.tensor(centres).float(), torch.tensor(texts)


def centre_grid(size: int) -> torch.Tensor:
    c = torch.linspace(-1 + 1 / size, 1 - 1 / size, size)
    ys, xs = torch.meshgrid(c, c, indexing="ij")
    return torch.stack([xs.flatten(), ys.flatten()], 1)


class ViT(nn.Module):
    def __init__(self, vocab: int, size: int, patch: int, d: int = 48, layers: int = 2, heads: int = 4):
        super().__init__()
        self.patches = nn.Conv2d(3, d, patch, patch)
        self.pos = nn.Parameter(torch.randn(1, (size // patch) ** 2 + 1, d) * 0.02)
        self.words = nn.EmbeddingBag(vocab, d, mode="mean", padding_idx=0)
        layer = nn.TransformerEncoderLayer(d, heads, 2 * d, 0.0, batch_first=True, norm_first=True, activation="gelu")
        self.encoder = nn.TransformerEncoder(layer, layers)
        self.out = nn.Linear(d, 2)

    def tokens(self, x: torch.Tensor, t: torch.Tensor) -> torch.Tensor:
        return self.patches(x).flatten(2).transpose(1, 2)

    def forward(self, x: torch.Tensor, t: torch.Tensor) -> torch.Tensor:
        h = self.encoder(torch.cat([self.words(t).unsqueeze(1), self.tokens(x, t)], 1) + self.pos)
        return self.out(h[:, 0])


class ConvViT(ViT):
    def __init__(self, vocab: int, size: int, patch: int, d: int = 48, width: int = 32):
        super().__init__(vocab, size, patch, d)
        self.convs = nn.Sequential(nn.Conv2d(3, width, 3, 1, 1), nn.GELU(), nn.Conv2d(width, width, 3, 1, 1))
        self.patches = nn.Conv2d(width, d, patch, patch)

    def tokens(self, x, t):
        return self.patches(F.gelu(self.convs(x))).flatten(2).transpose(1, 2)


class FilmViT(ConvViT):
    def __init__(self, vocab: int, size: int, patch: int, d: int = 48, width: int = 32):
        super().__init__(vocab, size, patch, d, width)
        self.film = nn.EmbeddingBag(vocab, 2 * width, mode="mean", padding_idx=0)

    def tokens(self, x, t):
        g, b = self.film(t).chunk(2, 1)
        h = self.convs(x) * (1 + g[:, :, None, None]) + b[:, :, None, None]
        return self.patches(F.gelu(h)).flatten(2).transpose(1, 2)


class FilmHeatmap(nn.Module):
    def __init__(self, vocab: int, size: int, width: int = 32):
        super().__init__()
        self.film = nn.EmbeddingBag(vocab, 2 * width, mode="mean", padding_idx=0)
        self.convs = nn.Sequential(nn.Conv2d(3, width, 3, 1, 1), nn.ReLU(), nn.Conv2d(width, width, 3, 1, 1), nn.ReLU())
        self.heat = nn.Sequential(nn.Conv2d(width, width, 3, 1, 1), nn.ReLU(), nn.Conv2d(width, 1, 1))
        self.register_buffer("grid", centre_grid(size))

    def forward(self, x, t):
        g, b = self.film(t).chunk(2, 1)
        h = self.convs(x) * (1 + g[:, :, None, None]) + b[:, :, None, None]
        return self.heat(h).flatten(1).softmax(1) @ self.grid


class KeypointsLate(nn.Module):
    def __init__(self, vocab: int, size: int, keypoints: int = 8, width: int = 32):
        super().__init__()
        self.convs = nn.Sequential(nn.Conv2d(3, width, 3, 1, 1), nn.GELU(), nn.Conv2d(width, width, 3, 1, 1), nn.GELU(), nn.Conv2d(width, keypoints, 1))
        self.words = nn.EmbeddingBag(vocab, 64, mode="mean", padding_idx=0)
        self.mlp = nn.Sequential(nn.Linear(2 * keypoints + 64, 128), nn.GELU(), nn.Linear(128, 2))
        self.register_buffer("grid", centre_grid(size))

    def forward(self, x, t):
        points = self.convs(x).flatten(2).softmax(2) @ self.grid
        return self.mlp(torch.cat([points.flatten(1), self.words(t)], 1))


MODELS = {
    "vit": lambda v, s, p: ViT(v, s, p), "convvit": lambda v, s, p: ConvViT(v, s, p), "filmvit": lambda v, s, p: FilmViT(v, s, p),
    "film": lambda v, s, p: FilmHeatmap(v, s), "kplate": lambda v, s, p: KeypointsLate(v, s),
}


def train_and_report(name: str, model: nn.Module, train: Tuple, held: Tuple, steps: int, batch: int = 64) -> None:
    (xt, yt, tt), (xh, yh, th) = train, held
    opt = torch.optim.AdamW(model.parameters(), 1e-3, weight_decay=0.01)
    start = time.time()
    for step in range(steps + 1):
        if step % 1000 == 0 or step == steps:
            with torch.no_grad():
                eh = (model(xh, th) - yh).abs().mean(0)
                pick = torch.randint(0, len(yt), (2048,))
                et = (model(xt[pick], tt[pick]) - yt[pick]).abs().mean(0)
            print(f"{name} step {step}: held-out |err| x {eh[0]:.3f} y {eh[1]:.3f}; training frames x {et[0]:.3f} y {et[1]:.3f} ({time.time() - start:.0f} s)", flush=True)
        if step == steps:
            break
        pick = torch.randint(0, len(yt), (batch,))
        loss = F.smooth_l1_loss(model(xt[pick], tt[pick]), yt[pick], beta=0.05)
        opt.zero_grad()
        loss.backward()
        opt.step()


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--train", required=True)
    ap.add_argument("--held-out", required=True)
    ap.add_argument("--words", required=True, help="a model config.json whose word_tokenizer.words give the vocabulary")
    ap.add_argument("--view", choices=["static", "gripper"], default="static")
    ap.add_argument("--steps", type=int, default=3000)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("models", nargs="+", help="name/resolution/patch, name one of " + ", ".join(MODELS))
    a = ap.parse_args()
    torch.manual_seed(a.seed)
    torch.set_num_threads(a.threads)
    with open(a.words) as f:
        words = json.load(f)["word_tokenizer"]["words"]
    word_ids = {w: i + 1 for i, w in enumerate(words)}
    specs = [(m.split("/")[0], int(m.split("/")[1]), int(m.split("/")[2])) for m in a.models]
    for name, _, _ in specs:
        if name not in MODELS:
            raise SystemExit(f"unknown model {name!r} (one of {', '.join(MODELS)})")
    sizes = sorted({s for _, s, _ in specs})
    xt, yt, tt = load_frames(a.train, 2, sizes, a.view, word_ids)
    xh, yh, th = load_frames(a.held_out, 3, sizes, a.view, word_ids)
    const = (yh - yt.mean(0)).abs().mean(0)
    print(f"{a.view} view: {len(yt)} training frames, {len(yh)} held-out; the training mean as a constant answer: x {const[0]:.3f} y {const[1]:.3f}", flush=True)
    for name, size, patch in specs:
        train_and_report(f"{name} {size}px patch {patch}", MODELS[name](len(words) + 1, size, patch), (xt[size], yt, tt), (xh[size], yh, th), a.steps)


if __name__ == "__main__":
    main()
