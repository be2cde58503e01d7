#!/usr/bin/env bash
# test_bench_run_sh.sh RUN_SH - bench/run.sh --quick end to end with the
# built shmbus-bench (SHMBUS_BENCH_BIN): it exits 0 and leaves every
# scenario's JSON, the transports' .hgrm files, both PNG plots and
# summary.md in --out. Exit 77 (skip) when gnuplot or jq is missing.
# Never looks at a timing.
set -euo pipefail
run_sh=$1
for tool in gnuplot jq; do
  if ! command -v "$tool" >/dev/null; then
    echo "SKIP: $tool is not installed (scripts/install-deps.sh installs it)"
    exit 77
  fi
done
[ -x "${SHMBUS_BENCH_BIN:-}" ] || { echo "FAIL: SHMBUS_BENCH_BIN is not set to shmbus-bench"; exit 1; }

. "$(dirname "$0")/bench_test_env.sh"

"$run_sh" --help | grep -q -- '--quick' || fail "--help does not list --quick"
set +e
"$run_sh" --quick --no-such-option >/dev/null 2>&1
rc=$?
set -e
[ "$rc" -eq 2 ] || fail "a bad option exited $rc, not 2"

"$run_sh" --quick --wait yield --cpus "$cpus" --out "$tmp/out" || fail "run.sh --quick exited $?"
for f in pingpong transports throughput-1p throughput-2p; do
  [ -s "$tmp/out/$f.json" ] || fail "no $f.json"
  jq -e . "$tmp/out/$f.json" >/dev/null || fail "$f.json is not JSON"
done
jq -e '.transports | length >= 5' "$tmp/out/transports.json" >/dev/null || fail "transports.json lists too few transports"
for t in $(jq -r '.transports[].name' "$tmp/out/transports.json"); do
  h="$tmp/out/hgrm/rtt-$t.hgrm"
  [ -s "$h" ] || fail "no $h"
  grep -q '^#\[Mean' "$h" || fail "$h has no #[Mean footer"
done
for p in latency.png throughput.png; do
  [ -s "$tmp/out/$p" ] || fail "no $p"
  head -c 8 "$tmp/out/$p" | od -An -c | grep -q 'P   N   G' || fail "$p is not a PNG"
done
grep -q '^| shmbus |' "$tmp/out/summary.md" || fail "summary.md has no shmbus row"
[ -z "$(ls -A "$SHMBUS_DIR")" ] || fail "a bus was left in SHMBUS_DIR: $(ls -A "$SHMBUS_DIR")"
echo "PASS"
