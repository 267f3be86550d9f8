"""The configs of the tiny golden fixtures (the public set's sizes), as the .json files beside this one."""
import json
import os

_HERE = os.path.dirname(__file__)


def _load(name: str) -> dict:
    with open(os.path.join(_HERE, f"{name}.json")) as f:
        return json.load(f)


QWEN2_TINY = _load("qwen2_tiny")
SIGLIP_TINY = _load("siglip_tiny")
VAE_TINY = _load("vae_tiny")
DIT_TINY = _load("dit_tiny")
RECONVLA_TINY = _load("reconvla_tiny")
