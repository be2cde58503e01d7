#!/usr/bin/env bash
# The main job: install what is needed, build, and run the trading pipeline
# (collector -> ta -> threshold, journaled) with shmbus-pipeline.
# Usage: scripts/run.sh [shmbus-pipeline arguments]
# Without arguments it runs on the real SPY trades of ../shared/data when that
# file is there, else on the synthetic market generator.
set -euo pipefail
cd "$(dirname "$0")/.."
# stdout is the pipeline's alone (--json: one JSON object); the rest says
# what it does on stderr.
bash scripts/install-deps.sh >&2
cmake -S . -B build/release -DCMAKE_BUILD_TYPE=Release >/dev/null
cmake --build build/release -j"$(nproc)" >&2
args=("$@")
spy=../shared/data/spy_trades_20131008.csv
if [ $# -eq 0 ] && [ -r "$spy" ]; then
  args=(--input "$spy")
fi
exec build/release/services/pipeline/shmbus-pipeline "${args[@]}"
