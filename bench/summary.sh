#!/usr/bin/env bash
# bench/summary.sh DIR - summary.md (on stdout) of a bench/run.sh folder:
# the machine, each scenario's command, the transports' latency table with
# ratios to shmbus and the issue's targets, pingpong against the
# cache-line floor, throughput against the SPSC baseline, and the numeric
# top-level figures of any other scenario's JSON. Reads the JSON with jq.
set -euo pipefail
[ $# -eq 1 ] && [ -d "$1" ] || { echo "usage: bench/summary.sh DIR (a bench/run.sh folder)" >&2; exit 2; }
dir=$1
shopt -s nullglob

first=""
for f in "$dir"/*.json; do
  [ -s "$f" ] && jq -e .machine "$f" >/dev/null 2>&1 && { first=$f; break; }
done

echo "# shmbus-bench results"
echo
echo "Folder \`$(basename "$(cd "$dir" && pwd)")\`, written $(date -u +%Y-%m-%dT%H:%M:%SZ) by bench/run.sh."
if [ -n "$first" ]; then
  jq -r '.machine | "Machine: \(.nproc) cpus, \(.model), \(.kernel), clocksource \(.clocksource)."' "$first"
  jq -r '.machine | select(.binary) | "Binary: `\(.binary)`, built \(.binary_built)."' "$first"
  jq -r '.machine | select(.bus_backing) | "Bus pages: \(.bus_backing) (run.sh leaves SHMBUS_DIR as given; scripts/hugepages.sh sets up 2 MiB pages)."' "$first"
  ts="$dir/transports.json"
  [ -s "$ts" ] && jq -r '.machine | select(.baseline_ring_pages) | "Baseline SPSC rings: \(.baseline_ring_pages) pages."' "$ts"
fi
echo "Benchmarks report numbers; nothing here is asserted. Latencies are in ns."
echo

f="$dir/transports.json"
if [ -s "$f" ]; then
  echo "## Round trip by transport (transports)"
  echo
  jq -r '"`\(.command)`", "",
    "\(.config.iterations) round trips (+\(.config.warmup) warmup) x \(.config.rounds) rounds, interleaved; medians over rounds; wait \(.config.wait).", ""' "$f"
  echo "| transport | p50 | p90 | p99 | p99.9 | max | p50 / shmbus | p99 / shmbus |"
  echo "|---|---:|---:|---:|---:|---:|---:|---:|"
  jq -r '.transports[] | "| \(.name) | \(.p50_ns) | \(.p90_ns) | \(.p99_ns) | \(.p999_ns) | \(.max_ns) | \(.ratio_p50 // "-") | \(.ratio_p99 // "-") |"' "$f"
  echo
  echo "| target (issue 7) | figure | value | verdict |"
  echo "|---|---|---:|---|"
  jq -r '.targets[] | "| \(.target) | \(.figure) \(.op) \(.limit) | \(.value) | \(.verdict) |"' "$f"
  echo
  [ -e "$dir/latency.png" ] && echo "![round-trip percentiles](latency.png)" && echo
fi

f="$dir/pingpong.json"
if [ -s "$f" ]; then
  echo "## shmbus against the cache-line floor (pingpong)"
  echo
  jq -r '"`\(.command)`", "",
    "| | p50 | p90 | p99 | p99.9 | max |", "|---|---:|---:|---:|---:|---:|",
    "| cache line | \(.baseline.p50_ns) | \(.baseline.p90_ns) | \(.baseline.p99_ns) | \(.baseline.p999_ns) | \(.baseline.max_ns) |",
    "| shmbus | \(.p50_ns) | \(.p90_ns) | \(.p99_ns) | \(.p999_ns) | \(.max_ns) |", "",
    "Ratio p50 \(.ratio_p50) (target <= \(.targets.ratio_p50_max): \(.targets.p50)), p99 \(.ratio_p99) (target <= \(.targets.ratio_p99_max): \(.targets.p99)); per-round paired: p50 \(.ratio_p50_paired), p99 \(.ratio_p99_paired).", ""' "$f"
fi

tp=("$dir"/throughput-*.json)
if [ "${#tp[@]}" -gt 0 ]; then
  echo "## Throughput (throughput)"
  echo
  echo "| producers | events per publish call | shmbus Mev/s | SPSC baseline Mev/s | ratio | lost | dups | corrupt | target |"
  echo "|---:|---:|---:|---:|---:|---:|---:|---:|---|"
  for f in "${tp[@]}"; do
    [ -s "$f" ] || continue
    jq -r '"| \(.config.producers) | \(.config.producer_batch // 1) | \(.events_per_sec / 1e6 * 100 | round / 100) | \(.baseline_spsc / 1e6 * 100 | round / 100) | \(.ratio) | \(.lost) | \(.duplicates) | \(.corrupt) | \(if .target.applies then "\(.target.result) (>= \(.target.ratio_min))" else "-" end) |"' "$f"
  done
  echo
  for f in "${tp[@]}"; do
    [ -s "$f" ] && jq -r '"- `\(.command)`"' "$f"
  done
  echo
  [ -e "$dir/throughput.png" ] && echo "![throughput](throughput.png)" && echo
fi

for f in "$dir"/*.json; do
  case "$(basename "$f")" in
    transports.json|pingpong.json|throughput-*.json) continue ;;
  esac
  [ -s "$f" ] || continue
  echo "## $(basename "$f" .json)"
  echo
  jq -r '"`\(.command // "?")`", "", "| figure | value |", "|---|---:|",
    (to_entries[] | select(.value | type == "number") | "| \(.key) | \(.value) |"), ""' "$f"
done

errs=("$dir"/*.err)
if [ "${#errs[@]}" -gt 0 ]; then
  echo "## Failures"
  echo
  for e in "${errs[@]}"; do
    echo "- $(basename "$e" .err): \`$(head -c 300 "$e" | tr '\n' ' ')\`"
  done
  echo
fi
