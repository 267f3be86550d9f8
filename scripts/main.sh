#!/usr/bin/env bash
# The project's main job (README, `npm run main`): installs what is missing, then trains a tiny
# ReconVLA on demonstrations from the built-in simulator (envs A, B, C) and evaluates it in closed
# loop on env D (`reconvla demo`; its options pass through, e.g. `npm run main -- --help`).
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/setup.sh
exec node packages/cli/bin/reconvla.js demo "$@"
