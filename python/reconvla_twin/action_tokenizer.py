"""Upstream's ActionTokenizer (reconvla/recon/action_tokenizer.py): a value in [min, max] becomes
one of n_bins uniform bins counted down from the top of the vocabulary,
token = vocab_size - digitize(clip(a), bins); an id decodes to its bin centre. float64 (numpy).
"""
from __future__ import annotations

from typing import Tuple

import numpy as np


class ActionTokenizer:
    def __init__(self, n_bins: int = 256, min_action: float = -1.0, max_action: float = 1.0, vocab_size: int = 151643):
        self.n_bins, self.min_action, self.max_action, self.vocab_size = n_bins, min_action, max_action, vocab_size
        self.bins = np.linspace(min_action, max_action, n_bins)
        self.bin_centers = (self.bins[:-1] + self.bins[1:]) / 2.0

    @staticmethod
    def from_dict(d: dict, default_vocab: int) -> "ActionTokenizer":
        return ActionTokenizer(d.get("n_bins", 256), d.get("min_action", -1.0), d.get("max_action", 1.0), d.get("vocab_size", default_vocab))

    @property
    def token_range(self) -> Tuple[int, int]:
        """The smallest and largest id an action can become."""
        return self.vocab_size - self.n_bins, self.vocab_size - 1

    def encode(self, values) -> np.ndarray:
        clipped = np.clip(np.asarray(values, dtype=np.float64), self.min_action, self.max_action)
        return self.vocab_size - np.digitize(clipped, self.bins)

    def decode(self, ids) -> np.ndarray:
        idx = np.clip(self.vocab_size - np.asarray(ids, dtype=np.int64) - 1, 0, self.bin_centers.shape[0] - 1)
        return self.bin_centers[idx]
