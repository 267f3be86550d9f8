#!/usr/bin/env bash
# The project's test command (README, `npm test`, .ci/run): installs what is missing, then
# typechecks and runs every test file with Node's test runner.
#   bash scripts/test.sh                 all tests
#   bash scripts/test.sh PATH...         only these test files
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/setup.sh

npx tsc -p tsconfig.json --noEmit

if [ "$#" -gt 0 ]; then
  files=("$@")
else
  mapfile -t files < <(find packages test -name node_modules -prune -o -name '*.test.ts' -print | sort)
fi
# One file per process, two at a time: the machine has two cores, and WebGPU tests on
# lavapipe use both.
exec node --import tsx --test --test-concurrency=2 "${files[@]}"
