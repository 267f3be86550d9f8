"""safetensors read/write by hand (the `safetensors` package is not installable here).

Format: an 8-byte little-endian u64 header length N, N bytes of UTF-8 JSON
{name: {"dtype", "shape", "data_offsets": [begin, end]}, "__metadata__": {str: str}}
padded with spaces to a multiple of 8, then the raw little-endian tensor bytes.

Writing lays tensors out by decreasing element size, then by name, so every tensor's absolute
offset is a multiple of its element size (the golden README's contract), and the header is
compact JSON in that order with __metadata__ last: the same tensors and metadata always give
the same bytes.
"""
from __future__ import annotations

import json
import struct
import sys
from typing import Dict, Mapping, Optional, Tuple

import numpy as np
import torch

assert sys.byteorder == "little", "safetensors_io assumes a little-endian host"

# safetensors dtype name -> (torch dtype, bytes per element)
DTYPES: Dict[str, Tuple[torch.dtype, int]] = {
    "F64": (torch.float64, 8),
    "F32": (torch.float32, 4),
    "F16": (torch.float16, 2),
    "BF16": (torch.bfloat16, 2),
    "I64": (torch.int64, 8),
    "I32": (torch.int32, 4),
    "I16": (torch.int16, 2),
    "I8": (torch.int8, 1),
    "U8": (torch.uint8, 1),
    "BOOL": (torch.bool, 1),
}
NAME_OF = {dt: name for name, (dt, _) in DTYPES.items()}

# The raw bits of 16-bit floats go through numpy as int16 (numpy has no bfloat16).
_BITS_VIEW = {torch.float16: torch.int16, torch.bfloat16: torch.int16}


def _to_bytes(t: torch.Tensor) -> bytes:
    t = t.detach().contiguous().cpu()
    if t.dtype in _BITS_VIEW:
        t = t.view(_BITS_VIEW[t.dtype])
    return t.numpy().tobytes()  # the host is little-endian (checked at import)


def _from_bytes(buf: bytes, dtype_name: str, shape) -> torch.Tensor:
    dtype, size = DTYPES[dtype_name]
    n = len(buf) // size if size else 0
    if dtype in _BITS_VIEW:
        arr = np.frombuffer(buf, dtype="<i2", count=n).copy()
        return torch.from_numpy(arr).view(dtype).reshape(shape)
    arr = np.frombuffer(buf, dtype=torch.empty(0, dtype=dtype).numpy().dtype, count=n).copy()
    return torch.from_numpy(arr).reshape(shape)


def read_header(path: str) -> Tuple[dict, int]:
    """The parsed JSON header and the absolute offset of the data section."""
    with open(path, "rb") as f:
        (n,) = struct.unpack("<Q", f.read(8))
        header = json.loads(f.read(n).decode("utf-8"))
    return header, 8 + n


def load_file(path: str) -> Dict[str, torch.Tensor]:
    """Every tensor of the file, by name, in the stored dtype."""
    header, start = read_header(path)
    with open(path, "rb") as f:
        data = f.read()[start:]
    out: Dict[str, torch.Tensor] = {}
    for name, info in header.items():
        if name == "__metadata__":
            continue
        b, e = info["data_offsets"]
        out[name] = _from_bytes(data[b:e], info["dtype"], info["shape"])
    return out


def load_metadata(path: str) -> Dict[str, str]:
    return read_header(path)[0].get("__metadata__", {})


def serialize(tensors: Mapping[str, torch.Tensor], metadata: Optional[Mapping[str, str]] = None) -> bytes:
    for name, t in tensors.items():
        if t.dtype not in NAME_OF:
            raise TypeError(f"safetensors: {name} has unsupported dtype {t.dtype}")
    order = sorted(tensors, key=lambda k: (-DTYPES[NAME_OF[tensors[k].dtype]][1], k))
    header: Dict[str, object] = {}
    chunks = []
    offset = 0
    for name in order:
        t = tensors[name]
        raw = _to_bytes(t)
        header[name] = {"dtype": NAME_OF[t.dtype], "shape": list(t.shape), "data_offsets": [offset, offset + len(raw)]}
        chunks.append(raw)
        offset += len(raw)
    if metadata:
        for k, v in metadata.items():
            if not isinstance(v, str):
                raise TypeError(f"safetensors: metadata {k} must be a string")
        header["__metadata__"] = dict(metadata)
    text = json.dumps(header, separators=(",", ":"), ensure_ascii=False).encode("utf-8")
    text += b" " * (-len(text) % 8)
    return struct.pack("<Q", len(text)) + text + b"".join(chunks)


def save_file(tensors: Mapping[str, torch.Tensor], path: str, metadata: Optional[Mapping[str, str]] = None) -> None:
    with open(path, "wb") as f:
        f.write(serialize(tensors, metadata))
