"""The PyTorch side of interop_twin.test.ts: one process answers a JSON job (argv[1]) with JSON.

  {"losses": [[folder, batch_file], ...]}            -> "losses": [{"lm", "vm", "total"}, ...]
  {"greedy": [folder, prompts_file]}                  -> "greedy": [[ids of row 0], ...]
  {"shards": {"folder", "data", "batch", "seed", "index", "batch_size"}}
      -> "shards": per input.* tensor of the batch file, the max |python - file| (floats) or equality (ids)
"""
import json
import os
import sys

import torch

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "..", "python"))
from reconvla_twin.reconvla import load_reconvla  # noqa: E402
from reconvla_twin.safetensors_io import load_file  # noqa: E402
from reconvla_twin.shards import TabletopBatches  # noqa: E402

torch.set_num_threads(1)


def batch_of(file):
    return {k[len("input."):]: v for k, v in load_file(file).items() if k.startswith("input.")}


def main():
    job = json.loads(sys.argv[1])
    out = {}
    models = {}

    def model(folder):
        if folder not in models:
            models[folder] = load_reconvla(folder).eval()
        return models[folder]

    with torch.no_grad():
        if "losses" in job:
            out["losses"] = []
            for folder, file in job["losses"]:
                l = model(folder).losses(batch_of(file))
                out["losses"].append({k: None if v is None else float(v) for k, v in l.items()})
        if "greedy" in job:
            folder, file = job["greedy"]
            b = batch_of(file)
            ids = model(folder).greedy_actions(b["pixel_values"], b["input_ids"], b["attention_mask"], b.get("state_values"))
            out["greedy"] = ids.tolist()
        if "shards" in job:
            s = job["shards"]
            with open(os.path.join(s["folder"], "config.json")) as f:
                config = json.load(f)
            got = next(TabletopBatches(s["data"], config).batches(s["batch_size"], s["seed"], s["index"]))
            ref = batch_of(s["batch"])
            out["shards"] = {k: float((v - ref[k]).abs().max()) if v.dtype.is_floating_point else bool(torch.equal(v, ref[k]))
                             for k, v in got.items()}
    print(json.dumps(out))


if __name__ == "__main__":
    main()
