#!/usr/bin/env bash
# The project's main job (README, `npm run main`): installs what is missing, then runs the
# end-to-end example. Until the ReconVLA trainer lands this trains the examples/ MLP on the
# best available backend.
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/setup.sh
exec node --import tsx examples/mlp_regression.ts "$@"
