#!/usr/bin/env bash
# The main job: install what is needed, build, and run the demo pipeline.
# Usage: scripts/run.sh [extra arguments for the main job]
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/install-deps.sh
cmake -S . -B build/release -DCMAKE_BUILD_TYPE=Release >/dev/null
cmake --build build/release -j"$(nproc)"
exec build/release/src/tools/demo/shmbus-demo "$@"
