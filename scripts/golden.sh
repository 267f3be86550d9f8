#!/usr/bin/env bash
# Regenerates the PyTorch parity fixtures (golden/) with the twin in python/reconvla_twin,
# deterministically: fixed seeds, one thread, no timestamps, so a rerun writes the same bytes.
#   bash scripts/golden.sh               every fixture kind into golden/
#   bash scripts/golden.sh DIR [KIND...] into DIR, only these kinds (ops dtypes qwen2_tiny ...)
# Needs a python3 with torch (Debian: apt-get install python3-torch); RECONVLA_PYTHON picks one.
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/find_torch_python.sh
python=$(find_torch_python) || { echo "golden: no python3 with torch (apt-get install python3-torch, or set RECONVLA_PYTHON)" >&2; exit 1; }
out="${1:-golden}"
[ "$#" -gt 0 ] && shift
OMP_NUM_THREADS=1 MKL_NUM_THREADS=1 PYTHONHASHSEED=0 PYTHONDONTWRITEBYTECODE=1 PYTHONPATH="$PWD/python" \
  "$python" -m reconvla_twin.golden "$out" "$@"
