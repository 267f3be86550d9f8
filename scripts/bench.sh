#!/usr/bin/env bash
# `npm run bench [-- FAMILY...]`: installs what is missing, then runs the benchmarks and
# rewrites bench/results.json and bench/RESULTS.md.
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/setup.sh
exec node --conditions=@reconvla/source --import tsx bench/run.ts "$@"
