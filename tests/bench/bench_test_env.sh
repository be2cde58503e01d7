# tests/bench/bench_test_env.sh - sourced by the shell tests of bench/:
# a scratch folder $tmp (removed at exit) with an empty bus folder as
# SHMBUS_DIR, the two cpus to use in $cpus (0,0 on one core), and fail().
tmp=$(mktemp -d "${TMPDIR:-/tmp}/tbench-XXXXXX")
trap 'rm -rf "$tmp"' EXIT
mkdir "$tmp/bus"
export SHMBUS_DIR="$tmp/bus"
cpus=0,1
[ "$(nproc)" -ge 2 ] || cpus=0,0
fail() { echo "FAIL: $*"; exit 1; }
