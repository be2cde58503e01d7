#!/usr/bin/env bash
# Builds and runs every test:
#   1. Release build, warnings as errors: every test (unit, stress, fault).
#   2. ASan+UBSan build: unit and fault tests, stress with fewer events.
#   3. TSan build: the threaded concurrency tests (label tsan).
#   4. libFuzzer (clang): the journal block reader, the threshold rules
#      parser, the collector's CSV reader and the bridge's decoders, each for
#      SHMBUS_FUZZ_SECONDS (default 30; 0 skips them), one after the other.
#   5. Shared libshmbus (BUILD_SHARED_LIBS): installed and used through
#      pkg-config and find_package, exporting only shmbus_*; a test that
#      reaches inside (shmbus_private) and one of the public API beside it.
# Exits non-zero when any build or test fails.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/install-deps.sh
jobs=$(nproc)
export SHMBUS_DIR_BASE="${TMPDIR:-/tmp}"

step() { printf '\n=== %s\n' "$*"; }

step "release build (-Werror)"
cmake -S . -B build/release -DCMAKE_BUILD_TYPE=Release -DSHMBUS_WERROR=ON >/dev/null
cmake --build build/release -j"$jobs"

step "ASan+UBSan build"
cmake -S . -B build/asan -DCMAKE_BUILD_TYPE=RelWithDebInfo -DSHMBUS_SANITIZE=address \
  -DSHMBUS_WERROR=ON -DSHMBUS_BENCH=OFF >/dev/null
cmake --build build/asan -j"$jobs"
ASAN_OPTIONS=detect_leaks=1:abort_on_error=1 UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1 \
SHMBUS_STRESS_EVENTS=400000 \
  ctest --test-dir build/asan --output-on-failure -L 'unit|fault|stress' -j"$jobs"

step "TSan build (concurrency tests)"
# Debug, not optimised: at -O2 two memsets over shared atomics (a ring
# entry rebuilt, a producer entry reused) raced unseen; at -O0 TSan saw them.
cmake -S . -B build/tsan -DCMAKE_BUILD_TYPE=Debug -DSHMBUS_SANITIZE=thread \
  -DSHMBUS_WERROR=ON -DSHMBUS_BENCH=OFF >/dev/null
# The tests labelled tsan (each test's target has its name), read from
# ctest so that the label alone decides what this pass builds and runs.
tsan_tests=$(ctest --test-dir build/tsan -N -L tsan | sed -n 's/^ *Test *#[0-9]*: *//p')
[ -n "$tsan_tests" ] || { echo "no test labelled tsan" >&2; exit 1; }
cmake --build build/tsan -j"$jobs" --target $tsan_tests
TSAN_OPTIONS=halt_on_error=1:second_deadlock_stack=1 SHMBUS_TSAN_SMALL=1 \
  ctest --test-dir build/tsan --output-on-failure -L tsan -j1

fuzz_s="${SHMBUS_FUZZ_SECONDS:-30}"
if [ "$fuzz_s" -gt 0 ]; then
  # target:its folder under tests/:-max_len[:a read-only seed folder]
  fuzzers="fuzz_block_reader:journal:65536 fuzz_rules_parse:threshold:4096:config/rules
    fuzz_csv_reader:collector:8192 fuzz_bridge_decode:bridge:4096"
  cmake -S . -B build/fuzz -DCMAKE_C_COMPILER=clang -DCMAKE_BUILD_TYPE=RelWithDebInfo \
    -DSHMBUS_FUZZ=ON -DSHMBUS_BENCH=OFF >/dev/null
  cmake --build build/fuzz -j"$jobs" --target $(for f in $fuzzers; do echo "${f%%:*}"; done)
  for f in $fuzzers; do
    IFS=: read -r name dir max_len seeds <<<"$f"
    step "libFuzzer: $name, ${fuzz_s} s"
    corpus=build/fuzz/corpus/$name artifacts=build/fuzz/artifacts/$name
    rm -rf "$corpus" "$artifacts" && mkdir -p "$corpus" "$artifacts"
    build/fuzz/tests/$dir/$name -max_total_time="$fuzz_s" -max_len="$max_len" -timeout=10 \
      -artifact_prefix="$artifacts/" -print_final_stats=1 "$corpus" ${seeds:+"$seeds"}
  done
fi

step "shared library build (install, exports)"
cmake -S . -B build/shared -DCMAKE_BUILD_TYPE=Release -DBUILD_SHARED_LIBS=ON -DSHMBUS_WERROR=ON \
  -DSHMBUS_BENCH=OFF -DSHMBUS_EXAMPLES=OFF >/dev/null
cmake --build build/shared -j"$jobs"
ctest --test-dir build/shared --output-on-failure -R '^(test_install|test_segment|test_ring)$' -j1

step "release tests (all labels)"
ctest --test-dir build/release --output-on-failure -j1
