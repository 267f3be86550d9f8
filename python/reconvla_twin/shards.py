"""Training batches from our tabletop datasets, built exactly as the TypeScript trainer builds them.

The dataset (packages/tabletop/src/dataset.ts, reader.ts): dataset.json plus safetensors shards
holding static_rgb [T, H, W, 3] U8, gripper_rgb [T, h, w, 3] U8, actions [T, 7] F32, proprio [T, 8]
F32, gaze_static / gaze_gripper [T, 4] I32 (x0 y0 x1 y1, -1 when out of view), episode_start [E+1]
I64, and the episodes (instruction, task, success) as JSON in the metadata.

The stream (packages/reconvla/src/sim/dataset.ts tabletopSource): an sfc32 Rng seeded with the
stage's seed shuffles the shard order; shards are read 4 at a time, the usable frames of the window
(successful expert episodes and every DAgger rollout, of the wanted task kinds) are shuffled, and consecutive runs of batch_size
frames are the batches; then the next window, then the next pass. A sample is the frame's camera
views, its gaze crop (bilinear, cropResize) as the reconstruction target, the episode's
instruction, the proprio state and the chunk of actions from the frame on (the episode's last
action repeated past its end).

The processor (packages/reconvla/src/processor.ts): images resized like PIL's bilinear filter
(widened when shrinking, uint8 rounding after each pass) and normalised; the prompt built from
word ids, state tokens (or the state placeholder), action tokens; right-padded; labels masked up
to the last colon. Every float operation is done in float64 in the TypeScript order, so pixels and
ids are bit-identical; the Fourier state features go through libm's sin/cos, which may differ
from V8's in the last bit before rounding to float32.
"""
from __future__ import annotations

import bisect
import json
import math
import os
import re
from dataclasses import dataclass
from typing import Dict, Iterator, List, Optional, Sequence

import numpy as np
import torch

from .safetensors_io import load_file, load_metadata

DATASET_FORMAT = "reconvla-tabletop/1"
FIRST_WORD_ID = 5
WORD_UNK = 2
WINDOW = 4  # shards in memory at a time (tabletopSource's default)


class Rng:
    """packages/tabletop/src/rng.ts: sfc32 seeded through splitmix32, 12 outputs discarded."""

    def __init__(self, seed: int):
        s = seed & 0xFFFFFFFF

        def nxt() -> int:
            nonlocal s
            s = (s + 0x9E3779B9) & 0xFFFFFFFF
            z = s
            z = ((z ^ (z >> 16)) * 0x85EBCA6B) & 0xFFFFFFFF
            z = ((z ^ (z >> 13)) * 0xC2B2AE35) & 0xFFFFFFFF
            return (z ^ (z >> 16)) & 0xFFFFFFFF

        self.a, self.b, self.c, self.d = nxt(), nxt(), nxt(), nxt()
        for _ in range(12):
            self.u32()

    def u32(self) -> int:
        t = (self.a + self.b + self.d) & 0xFFFFFFFF
        self.d = (self.d + 1) & 0xFFFFFFFF
        self.a = self.b ^ (self.b >> 9)
        self.b = (self.c + (self.c << 3)) & 0xFFFFFFFF
        self.c = ((self.c << 21) | (self.c >> 11)) & 0xFFFFFFFF
        self.c = (self.c + t) & 0xFFFFFFFF
        return t

    def next(self) -> float:
        return self.u32() / 4294967296

    def int(self, n: int) -> int:
        return math.floor(self.next() * n)

    def shuffle(self, items: list) -> list:
        for i in range(len(items) - 1, 0, -1):
            j = self.int(i + 1)
            items[i], items[j] = items[j], items[i]
        return items


def js_round(x: np.ndarray) -> np.ndarray:
    """JavaScript's Math.round: the nearest integer, halves up (Python's round goes to even)."""
    f = np.floor(x)
    return f + (x - f >= 0.5)


@dataclass
class Shard:
    frames: int
    static_rgb: np.ndarray  # [T, H, W, 3] uint8
    gripper_rgb: np.ndarray
    actions: np.ndarray  # [T, 7] float32
    proprio: np.ndarray  # [T, 8] float32
    gaze_static: np.ndarray  # [T, 4] int32
    gaze_gripper: np.ndarray
    frame_episode: np.ndarray  # [T] episode index within the shard
    episodes: List[dict]


class Dataset:
    """DatasetReader: dataset.json and its shards."""

    NEED = ("static_rgb", "gripper_rgb", "actions", "proprio", "gaze_static", "gaze_gripper", "episode_start")

    def __init__(self, folder: str):
        path = os.path.join(folder, "dataset.json")
        if not os.path.exists(path):
            raise FileNotFoundError(f"no dataset at {folder}: dataset.json is missing (write one with `reconvla sim generate`)")
        with open(path) as f:
            self.index = json.load(f)
        if self.index.get("format") != DATASET_FORMAT:
            raise ValueError(f"{path}: format is {self.index.get('format')}, expected {DATASET_FORMAT}")
        self.folder = folder

    def read_shard(self, i: int) -> Shard:
        file = os.path.join(self.folder, self.index["shards"][i]["file"])
        t = load_file(file)
        for name in self.NEED:
            if name not in t:
                raise ValueError(f"{file}: tensor {name} is missing")
        starts = t["episode_start"].tolist()
        frames = starts[-1]
        frame_episode = np.zeros(frames, dtype=np.int64)
        for e in range(len(starts) - 1):
            frame_episode[starts[e]:starts[e + 1]] = e
        return Shard(frames, t["static_rgb"].numpy(), t["gripper_rgb"].numpy(), t["actions"].numpy(), t["proprio"].numpy(),
                     t["gaze_static"].numpy(), t["gaze_gripper"].numpy(), frame_episode,
                     json.loads(load_metadata(file).get("episodes", "[]")))


def crop_resize(img: np.ndarray, box: Sequence[int], size: int) -> np.ndarray:
    """packages/tabletop/src/image.ts cropResize: a square around the box's centre, bilinear, rounded."""
    H, W = img.shape[:2]
    x0, y0, x1, y1 = box
    cx, cy = (x0 + x1) / 2, (y0 + y1) / 2
    side = max(x1 - x0, y1 - y0, 1)
    sx0, sy0, step = cx - side / 2, cy - side / 2, side / size
    k = np.arange(size, dtype=np.float64)
    fy = np.minimum(H - 1, np.maximum(0, sy0 + (k + 0.5) * step - 0.5))
    fx = np.minimum(W - 1, np.maximum(0, sx0 + (k + 0.5) * step - 0.5))
    ya, xa = np.floor(fy).astype(np.int64), np.floor(fx).astype(np.int64)
    yb, xb = np.minimum(H - 1, ya + 1), np.minimum(W - 1, xa + 1)
    ty, tx = (fy - ya)[:, None, None], (fx - xa)[None, :, None]
    src = img.astype(np.float64)
    a, b = src[ya][:, xa], src[ya][:, xb]
    d, e = src[yb][:, xa], src[yb][:, xb]
    return js_round((a * (1 - tx) + b * tx) * (1 - ty) + (d * (1 - tx) + e * tx) * ty).astype(np.uint8)


def resample_weights(in_size: int, out_size: int):
    """packages/siglip/src/preprocess.ts resampleWeights: PIL's bilinear (triangle) filter, widened when shrinking."""
    scale = in_size / out_size
    filter_scale = max(scale, 1)
    support = 1 * filter_scale
    starts, weights = [], []
    for o in range(out_size):
        center = (o + 0.5) * scale
        lo = max(0, math.floor(center - support + 0.5))
        hi = min(in_size, math.floor(center + support + 0.5))
        w = [max(0.0, 1 - abs((i - center + 0.5) / filter_scale)) for i in range(lo, hi)]
        total = 0.0
        for x in w:
            total += x
        starts.append(lo)
        weights.append([x / total if total > 0 else 0.0 for x in w])
    return starts, weights


def resize_bilinear(img: np.ndarray, out_w: int, out_h: int) -> np.ndarray:
    """Horizontal pass then vertical, each rounded to uint8, accumulating taps in order as the TS code does."""
    h, w = img.shape[:2]
    if (w, h) == (out_w, out_h):
        return img.copy()
    hs, hw = resample_weights(w, out_w)
    vs, vw = resample_weights(h, out_h)
    src = img.astype(np.float64)
    tmp = np.empty((h, out_w, 3), dtype=np.float64)
    for x in range(out_w):
        acc = np.zeros((h, 3))
        for k, wt in enumerate(hw[x]):
            acc = acc + wt * src[:, hs[x] + k, :]
        tmp[:, x, :] = np.clip(js_round(acc), 0, 255)
    out = np.empty((out_h, out_w, 3), dtype=np.float64)
    for y in range(out_h):
        acc = np.zeros((out_w, 3))
        for k, wt in enumerate(vw[y]):
            acc = acc + wt * tmp[vs[y] + k, :, :]
        out[y] = np.clip(js_round(acc), 0, 255)
    return out.astype(np.uint8)


class Processor:
    """packages/reconvla/src/processor.ts: raw samples to model inputs."""

    def __init__(self, config: dict):
        self.config = config
        words = (config.get("word_tokenizer") or {}).get("words")
        if words is None:
            raise ValueError("config.json has no word_tokenizer.words: the word-level tokenizer needs its vocabulary")
        self.ids = {w: FIRST_WORD_ID + i for i, w in enumerate(words)}
        self.prompt = config["prompt"]
        at = config.get("action_tokenizer", {})
        self.n_bins, self.vocab = at.get("n_bins", 256), at.get("vocab_size", config["vocab_size"])
        self.min_action, self.max_action = at.get("min_action", -1.0), at.get("max_action", 1.0)
        step = (self.max_action - self.min_action) / (self.n_bins - 1)
        self.bins = [self.min_action + i * step for i in range(self.n_bins)]  # as the TS code builds them (not numpy.linspace)
        self.bins[-1] = self.max_action
        self.image_size = config["vision_config"]["image_size"]
        self.mean, self.std = config.get("image_mean", [0.5] * 3), config.get("image_std", [0.5] * 3)
        self.state_range = config.get("state_range")
        self.encoding = self.prompt.get("state_encoding", "bins")
        self.bands = self.prompt.get("state_fourier_bands", 6) if self.encoding == "fourier" else 0
        if self.prompt.get("grounding_tokens", 0):
            raise ValueError("prompt.grounding_tokens: the twin's batches do not build explicit-grounding answers "
                             "(the TS trainer does: docs/reconvla.md); train this config with `reconvla train`")

    def encode_words(self, text: str) -> List[int]:
        return [self.ids.get(w, WORD_UNK) for w in re.findall(r"[a-z]+|[0-9]+", text.lower())]

    def encode_values(self, values) -> List[int]:
        out = []
        for v in values:
            c = min(max(float(v), self.min_action), self.max_action)
            out.append(self.vocab - bisect.bisect_right(self.bins, c))
        return out

    def normalize_state(self, state) -> List[float]:
        n = self.prompt["state_dim"]
        if len(state) < n:
            raise ValueError(f"state has {len(state)} values, the config expects {n}")
        r = self.state_range
        if not r:
            return [float(state[i]) for i in range(n)]
        out = []
        for i in range(n):
            lo, hi = r["min"][i], r["max"][i]
            out.append((2 * (float(state[i]) - lo)) / (hi - lo) - 1 if hi > lo else 0.0)
        return out

    def prompt_ids(self, instruction: str, state, actions=None) -> List[int]:
        p = self.prompt
        instr, img = self.encode_words(instruction), [p.get("image_token_index", -200)]
        layout = p.get("layout", "instr-image-instr")
        head = instr + img + instr if layout == "instr-image-instr" else img + instr if layout == "image-instr" else instr + img
        st = self.encode_values(self.normalize_state(state)) if self.encoding == "bins" else [p.get("state_token_index", -201)]
        ids = head + st + [p["assistant_token_id"], p["colon_token_id"]]
        if actions is not None:
            ids += self.encode_values(actions) + [p["end_token_id"]]
        return ids

    def collate(self, rows: List[List[int]], with_labels: bool = True) -> Dict[str, torch.Tensor]:
        p = self.prompt
        pad, ignore, colon = p.get("pad_token_id", 0), p.get("ignore_index", -100), p["colon_token_id"]
        t = max(len(r) for r in rows)
        ids = torch.full((len(rows), t), pad, dtype=torch.int64)
        labels = torch.full((len(rows), t), ignore, dtype=torch.int64)
        for i, r in enumerate(rows):
            ids[i, :len(r)] = torch.tensor(r)
            if with_labels:
                last = max(k for k, x in enumerate(r) if x == colon)
                labels[i, :len(r)] = torch.tensor([ignore if k <= last else x for k, x in enumerate(r)])
        return {"input_ids": ids, "attention_mask": (ids != pad).to(torch.int64), "labels": labels}

    def pixels(self, images: List[np.ndarray]) -> torch.Tensor:
        s = self.image_size
        out = np.empty((len(images), 3, s, s), dtype=np.float32)
        for n, img in enumerate(images):
            r = resize_bilinear(img, s, s).astype(np.float64)
            for c in range(3):
                out[n, c] = (r[:, :, c] / 255 - self.mean[c]) / self.std[c]
        return torch.from_numpy(out)

    def state_values(self, states) -> torch.Tensor:
        rows = []
        for st in states:
            v = self.normalize_state(st)
            row = list(v)
            for k in range(self.bands):
                for x in v:
                    row += [math.sin(2 ** k * math.pi * x), math.cos(2 ** k * math.pi * x)]
            rows.append(row)
        return torch.tensor(np.array(rows, dtype=np.float64).astype(np.float32))


@dataclass
class FrameRef:
    shard: Shard
    frame: int
    episode_end: int


def usable_episode(ep: dict) -> bool:
    """dataset.ts usableEpisode: a successful expert demonstration, or any DAgger rollout (expert labels)."""
    return bool(ep.get("success")) or ep.get("actor") == "policy"


def frames_of(shard: Shard, tasks: Optional[Sequence[str]]) -> List[FrameRef]:
    refs, end = [], shard.frames
    for f in range(shard.frames - 1, -1, -1):
        if f + 1 < shard.frames and shard.frame_episode[f + 1] != shard.frame_episode[f]:
            end = f + 1
        ep = shard.episodes[shard.frame_episode[f]]
        if usable_episode(ep) and (tasks is None or ep["task"]["kind"] in tasks):
            refs.append(FrameRef(shard, f, end))
    refs.reverse()
    return refs


class TabletopBatches:
    """tabletopSource + Processor.batchInputs for one model config.json and dataset folder."""

    def __init__(self, folder: str, config: dict, tasks: Optional[Sequence[str]] = "config"):
        self.data = Dataset(folder)
        self.processor = Processor(config)
        self.views: List[str] = config.get("image_views", ["static"])
        self.chunk = config["prompt"].get("action_chunk", 1)
        self.crop = config["vision_config"]["image_size"]
        self.target = (config.get("ablation") or {}).get("recon_target", "gaze")
        # The fine-tuning stage trains on the config's tasks (null: all); pass tasks=None for every episode.
        self.tasks = config.get("tasks") if tasks == "config" else tasks

    def sample(self, ref: FrameRef) -> dict:
        sh, f = ref.shard, ref.frame
        image = sh.static_rgb[f]
        g = sh.gaze_static[f]
        target = crop_resize(image, g.tolist(), self.crop) if self.target == "gaze" and g[0] >= 0 else image
        actions = np.concatenate([sh.actions[min(f + k, ref.episode_end - 1)] for k in range(self.chunk)])
        return {"images": [image if v == "static" else sh.gripper_rgb[f] for v in self.views], "target": target,
                "instruction": sh.episodes[sh.frame_episode[f]]["instruction"], "state": sh.proprio[f], "actions": actions}

    def host_batches(self, batch_size: int, seed: int, start: int = 0) -> Iterator[List[dict]]:
        """Batches number start, start + 1, ... of the endless stream, as lists of samples."""
        rng, index = Rng(seed), 0
        while True:
            order = rng.shuffle(list(range(len(self.data.index["shards"]))))
            for w in range(0, len(order), WINDOW):
                refs = [r for i in order[w:w + WINDOW] for r in frames_of(self.data.read_shard(i), self.tasks)]
                if len(refs) < batch_size:
                    raise ValueError(f"dataset {self.data.folder}: {len(refs)} usable frames in a window, fewer than the batch size {batch_size}")
                rng.shuffle(refs)
                for b in range(0, len(refs) - batch_size + 1, batch_size):
                    if index >= start:
                        yield [self.sample(r) for r in refs[b:b + batch_size]]
                    index += 1

    def inputs(self, samples: List[dict]) -> Dict[str, torch.Tensor]:
        """The model inputs of a batch, named as the batch files' input.* tensors (without the prefix)."""
        p = self.processor
        rows = [p.prompt_ids(s["instruction"], s["state"], s["actions"]) for s in samples]
        out = p.collate(rows)
        out["pixel_values"] = p.pixels([img for s in samples for img in s["images"]])
        out["target_images"] = p.pixels([s["target"] for s in samples])
        if p.encoding != "bins":
            out["state_values"] = p.state_values([s["state"] for s in samples])
        return out

    def batches(self, batch_size: int, seed: int, start: int = 0) -> Iterator[Dict[str, torch.Tensor]]:
        for samples in self.host_batches(batch_size, seed, start):
            yield self.inputs(samples)
