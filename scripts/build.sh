#!/usr/bin/env bash
# `npm run build`: every package's ESM JavaScript + .d.ts (and source maps) in packages/*/dist,
# through TypeScript project references (tsconfig.build.json), in dependency order and
# incrementally. The workspace itself never needs it: tests, `npx tsx` and `npm run main` run
# the TypeScript sources (tsconfig.json's paths); dist/ is what `npm pack` ships.
#   bash scripts/build.sh           build (incremental)
#   bash scripts/build.sh --clean   remove every dist/ first
set -euo pipefail
cd "$(dirname "$0")/.."
if [ "${1:-}" = "--clean" ]; then
  rm -rf packages/*/dist
fi
npx tsc -b tsconfig.build.json
# The WebGPU kernels' WGSL sources travel inside @reconvla/core (dist/ reads ../shaders/).
rm -rf packages/core/shaders && cp -r shaders packages/core/shaders
