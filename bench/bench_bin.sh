# bench/bench_bin.sh - sourced by bench/run.sh and bench/modes.sh.
#
# bench_bin SCRIPT ROOT: print the shmbus-bench to run: $SHMBUS_BENCH_BIN
# when set, else the one in ROOT/build/bench-release, configured (Release, no
# tests) and built incrementally first. Exits 1, naming SCRIPT, when the
# result is not an executable.
bench_bin() {
  local script=$1 root=$2 bin=${SHMBUS_BENCH_BIN:-} bdir
  if [ -z "$bin" ]; then
    bdir="$root/build/bench-release" # not build/bench: a main tree in build/ owns that
    if [ ! -f "$bdir/CMakeCache.txt" ]; then
      cmake -S "$root" -B "$bdir" -DCMAKE_BUILD_TYPE=Release -DSHMBUS_TESTS=OFF >/dev/null
    fi
    cmake --build "$bdir" --target shmbus-bench -j"$(nproc)" >/dev/null
    bin="$bdir/bench/shmbus-bench"
  fi
  [ -x "$bin" ] || { echo "$script: $bin is not an executable" >&2; exit 1; }
  local newer
  newer=$(find "$root/src" "$root/include" "$root/bench" -name '*.[ch]' -newer "$bin" \
    2>/dev/null | head -1)
  [ -z "$newer" ] || echo "$script: warning: $bin is older than $newer:" \
    "it may not be built from this tree" >&2
  echo "$bin"
}
