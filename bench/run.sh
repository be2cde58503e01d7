#!/usr/bin/env bash
# bench/run.sh - run the standard shmbus-bench suite and keep everything it
# measured in one folder: each scenario's JSON (and stderr), the transports'
# .hgrm histograms, two PNG plots made with gnuplot, and summary.md.
#
# Scenarios: pingpong, transports, throughput with 1 and 2 producers (one
# event per publish call, and bursts of 32), and oneway, fanout, pipeline
# when this shmbus-bench has them. Every scenario
# runs even when one before it failed; the script exits 1 when any failed.
# Needs jq (JSON) and gnuplot (plots; without it the plots are skipped with
# a warning): scripts/install-deps.sh installs both.
set -euo pipefail

usage() {
  cat <<'EOF'
usage: bench/run.sh [--quick] [--out DIR] [--cpus A,B] [--wait W]

Runs the shmbus-bench suite (pingpong, transports, throughput with 1 and 2
producers, per event and in bursts of 32, and oneway, fanout, pipeline when
built) with --json, writes the transports' histograms (--hgrm), plots them
with gnuplot and writes summary.md, all into one folder.

  --quick      small sizes (seconds, for a smoke run; figures mean little)
  --out DIR    output folder (default bench/results/<UTC date-time>)
  --cpus A,B   the two cores to pin to (default 0,1)
  --wait W     wait strategy for the latency scenarios and throughput:
               spin (default), yield, block, adaptive
  --help       this text

Environment: SHMBUS_BENCH_BIN runs that binary instead of building
build/bench-release (cmake -DCMAKE_BUILD_TYPE=Release); SHMBUS_DIR as for shmbus.
Output: <DIR>/<scenario>.json and .err, <DIR>/hgrm/rtt-<transport>.hgrm
(values in ns), <DIR>/latency.png, <DIR>/throughput.png, <DIR>/summary.md.
Exit status: 0 all scenarios ran, 1 a scenario or a plot failed, 2 usage.
EOF
}

die_usage() {
  echo "run.sh: $*" >&2
  echo "(try bench/run.sh --help)" >&2
  exit 2
}

root=$(cd "$(dirname "$0")/.." && pwd)
quick=0
out=""
cpus="0,1"
wait_opt=""
while [ $# -gt 0 ]; do
  case "$1" in
    --help|-h) usage; exit 0 ;;
    --quick) quick=1 ;;
    --out) [ $# -ge 2 ] || die_usage "--out needs a folder"; out=$2; shift ;;
    --cpus) [ $# -ge 2 ] || die_usage "--cpus needs A,B"; cpus=$2; shift ;;
    --wait) [ $# -ge 2 ] || die_usage "--wait needs spin, yield, block or adaptive"
            wait_opt=$2; shift ;;
    *) die_usage "unknown argument '$1'" ;;
  esac
  shift
done
[[ "$cpus" =~ ^[0-9]+,[0-9]+$ ]] || die_usage "--cpus: '$cpus' is not A,B"
case "$wait_opt" in
  ""|spin|yield|block|adaptive) ;;
  *) die_usage "--wait: '$wait_opt' is not spin, yield, block or adaptive" ;;
esac
command -v jq >/dev/null || { echo "run.sh: jq is missing (run scripts/install-deps.sh)" >&2; exit 1; }

# The binary: given, or built (incrementally) in build/bench-release.
. "$root/bench/bench_bin.sh"
bin=$(bench_bin run.sh "$root")

[ -n "$out" ] || out="$root/bench/results/$(date -u +%Y%m%dT%H%M%SZ)"
mkdir -p "$out/hgrm"
out=$(cd "$out" && pwd)

if [ "$quick" -eq 1 ]; then
  lat=(--iterations 2000 --warmup 200 --rounds 2)
  events=200k
  rounds=(--rounds 2)
  extra=(--iterations 2000 --rounds 2)
else
  lat=(--iterations 100000 --warmup 10000 --rounds 5)
  events=10M
  rounds=(--rounds 5)
  extra=(--rounds 5)
fi
common=(--cpus "$cpus" --json)
[ -z "$wait_opt" ] || common+=(--wait "$wait_opt")

failed=()
# run NAME ARGS...: shmbus-bench ARGS > NAME.json, stderr in NAME.err.
run() {
  local name=$1
  shift
  echo "run.sh: $name: $bin $*"
  if "$bin" "$@" >"$out/$name.json" 2>"$out/$name.err"; then
    jq -e . "$out/$name.json" >/dev/null || { echo "run.sh: $name: output is not JSON" >&2; failed+=("$name"); }
  else
    echo "run.sh: $name failed (exit $?):" >&2
    sed 's/^/  /' "$out/$name.err" >&2
    failed+=("$name")
  fi
  [ -s "$out/$name.err" ] || rm -f "$out/$name.err"
  [ -s "$out/$name.json" ] || rm -f "$out/$name.json"
}

# has SCENARIO: whether this shmbus-bench knows it (an unknown one exits 2).
has() {
  "$bin" "$1" --help >/dev/null 2>&1
}

run pingpong pingpong "${common[@]}" "${lat[@]}"
run transports transports "${common[@]}" "${lat[@]}" --hgrm "$out/hgrm"
run throughput-1p throughput "${common[@]}" "${rounds[@]}" --producers 1 --events "$events"
run throughput-2p throughput "${common[@]}" "${rounds[@]}" --producers 2 --events "$events"
# The same with producers publishing bursts of 32 (shmbus_publish_batch).
run throughput-1p-batch32 throughput "${common[@]}" "${rounds[@]}" --producers 1 \
  --events "$events" --producer-batch 32
run throughput-2p-batch32 throughput "${common[@]}" "${rounds[@]}" --producers 2 \
  --events "$events" --producer-batch 32
# The other latency scenarios, when built: their own default sizes, or
# 2000 events and 2 rounds for --quick; their histograms go to hgrm/ too.
for s in oneway fanout pipeline; do
  if has "$s"; then
    run "$s" "$s" "${common[@]}" "${extra[@]}" --hgrm "$out/hgrm"
  fi
done

plots_failed=0
if command -v gnuplot >/dev/null; then
  "$root/bench/plot.sh" "$out" || plots_failed=1
else
  echo "run.sh: gnuplot is missing: no plots (run scripts/install-deps.sh)" >&2
fi
"$root/bench/summary.sh" "$out" >"$out/summary.md" || { echo "run.sh: summary.md failed" >&2; plots_failed=1; }

echo "run.sh: results in $out"
if [ "${#failed[@]}" -gt 0 ]; then
  echo "run.sh: failed: ${failed[*]}" >&2
  exit 1
fi
exit "$plots_failed"
