#!/usr/bin/env bash
# test_hugepages_sh.sh HUGEPAGES_SH - scripts/hugepages.sh's argument
# handling, without touching the host: every reservation or mount needs
# root, so the script runs as an unprivileged user (setpriv from root) and
# must stop at its root check, or at a usage error, never earlier. Exit 77
# (skip) when run as root without setpriv.
set -euo pipefail
script=$1
fail() { echo "FAIL: $*"; exit 1; }

as_user=()
if [ "$(id -u)" -eq 0 ]; then
  command -v setpriv >/dev/null || { echo "SKIP: root without setpriv"; exit 77; }
  as_user=(setpriv --reuid=65534 --regid=65534 --clear-groups)
fi
# run EXPECTED_STATUS EXPECTED_TEXT [ARG...]: the script's status and output
run() {
  local want=$1 text=$2 out rc
  shift 2
  set +e
  out=$("${as_user[@]}" bash "$script" "$@" 2>&1)
  rc=$?
  set -e
  [ "$rc" -eq "$want" ] || fail "hugepages.sh $*: status $rc, want $want: $out"
  case "$out" in
    *"$text"*) ;;
    *) fail "hugepages.sh $*: no '$text' in: $out" ;;
  esac
}

run 0 'vm.nr_hugepages' --help
# the version of the source tree it is in, as every tool's --version
want_version=$(sed -n 's/^#define SHMBUS_VERSION_STRING "\(.*\)"$/\1/p' \
  "$(dirname "$script")/../include/shmbus/shmbus.h")
run 0 "shmbus-hugepages (shmbus) $want_version" --version
# PAGES is optional (default 256): no argument reaches the root check.
run 1 'hugepages: needs root'
run 1 'hugepages: needs root' 16
run 1 'hugepages: needs root' --off
run 2 "PAGES must be a whole number, not 'x'" x
echo "ok"
