#!/usr/bin/env bash
# test_run_sh.sh RUN_SH - scripts/run.sh, the main job's entry point, in a
# scratch tree where install-deps.sh, cmake and shmbus-pipeline are
# stand-ins: its arguments reach the pipeline as given (none: the SPY file
# of ../shared/data when it is there), the pipeline's exit status is its
# own, and its stdout is the pipeline's alone, so that
# `bash scripts/run.sh --json | jq` reads the summary and nothing else.
set -euo pipefail
run_sh=$1
fail() { echo "FAIL: $*"; exit 1; }
tmp=$(mktemp -d "${TMPDIR:-/tmp}/trun-XXXXXX")
trap 'rm -rf "$tmp"' EXIT

tree=$tmp/top/shmbus
mkdir -p "$tree/scripts" "$tree/build/release/services/pipeline" "$tmp/bin" "$tmp/top/shared/data"
cp "$run_sh" "$tree/scripts/run.sh"
printf '#!/usr/bin/env bash\necho "install-deps: all packages present"\n' \
  >"$tree/scripts/install-deps.sh"
printf '#!/usr/bin/env bash\necho "[100%%] Built target stand-in"\n' >"$tmp/bin/cmake"
# shellcheck disable=SC2016 # the stand-in expands them, not this script
printf '#!/usr/bin/env bash\nfor a in "$@"; do echo "arg:$a"; done\nexit "${STUB_RC:-0}"\n' \
  >"$tree/build/release/services/pipeline/shmbus-pipeline"
chmod +x "$tmp/bin/cmake" "$tree/build/release/services/pipeline/shmbus-pipeline"
export PATH="$tmp/bin:$PATH"

# expect WANT_STDOUT [ARG...]: run.sh's stdout is exactly WANT_STDOUT
expect() {
  local want=$1 out
  shift
  out=$(bash "$tree/scripts/run.sh" "$@" 2>/dev/null) || fail "run.sh $*: status $?"
  [ "$out" = "$want" ] || fail "run.sh $*: stdout is
$out
want
$want"
}

expect $'arg:--events\narg:20000\narg:--json' --events 20000 --json
expect $'arg:--replay\narg:/a dir' --replay '/a dir'
expect ''
: >"$tmp/top/shared/data/spy_trades_20131008.csv"
expect $'arg:--input\narg:../shared/data/spy_trades_20131008.csv'
expect $'arg:--speed\narg:1' --speed 1

set +e
STUB_RC=2 bash "$tree/scripts/run.sh" --events x >/dev/null 2>&1
rc=$?
set -e
[ "$rc" -eq 2 ] || fail "run.sh: the pipeline's status 2 came back as $rc"
echo "ok"
