#!/usr/bin/env bash
# Installs the Debian 12 packages shmbus builds, tests and benchmarks with.
# Idempotent: re-running it installs nothing new. Needs root (or sudo).
set -euo pipefail

pkgs=(
  build-essential cmake pkg-config git
  liburing-dev libnuma-dev libxxhash-dev libcmocka-dev
  clang libclang-rt-14-dev
  libnats-dev librdkafka-dev nats-server
  tmux procps util-linux
  fio
  libinih-dev libmicrohttpd-dev
  libzmq3-dev iceoryx libiceoryx-binding-c-dev
  gnuplot-nox jq
  tzdata
)

missing=()
for p in "${pkgs[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || missing+=("$p")
done

if [ "${#missing[@]}" -eq 0 ]; then
  echo "install-deps: all ${#pkgs[@]} packages present"
  exit 0
fi

SUDO=""
[ "$(id -u)" -eq 0 ] || SUDO="sudo"
echo "install-deps: installing ${missing[*]}"
export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update -qq
$SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}" </dev/null
