#!/usr/bin/env bash
# Puts buses on 2 MiB pages: reserves pages in the kernel's pool
# (vm.nr_hugepages) and mounts hugetlbfs on /dev/hugepages when no 2 MiB
# hugetlbfs mount exists. shmbus then creates every bus there by itself while
# the pages last (README, "Shared memory"); without it a bus lives in /dev/shm,
# whose transparent huge pages Debian leaves off (shmem_enabled = never).
#
# Usage: scripts/hugepages.sh [PAGES]   reserve at least PAGES (default 256,
#                                       512 MiB) and mount; prints the state
#        scripts/hugepages.sh --status  print the state only
#        scripts/hugepages.sh --off     unmount what this script mounted and
#                                       release the free pages
#        scripts/hugepages.sh --version the shmbus version it comes with
# (`cmake --install` puts it in bin/ as shmbus-hugepages.)
# Needs root. Nothing here survives a reboot; for that put vm.nr_hugepages in
# /etc/sysctl.d/ and the mount in /etc/fstab.
# Exit status: 0 ok, 1 failure (fewer pages than asked, mount refused), 2 usage.
set -euo pipefail

pool=/sys/kernel/mm/hugepages/hugepages-2048kB
mnt=/dev/hugepages
marker=/run/shmbus-hugepages.mounted

# The version: written in by `cmake --install`; in the source tree, the
# header's (the literal below is split so that the install leaves it).
version=@SHMBUS_VERSION@
if [ "$version" = "@SHMBUS_""VERSION@" ]; then
  version=$(sed -n 's/^#define SHMBUS_VERSION_STRING "\(.*\)"$/\1/p' \
    "$(dirname "$0")/../include/shmbus/shmbus.h" 2>/dev/null || true)
fi

usage() {
  awk 'NR > 1 && /^#/ { sub(/^# ?/, ""); print; next } NR > 1 { exit }' "$0"
}

state() {
  local total free resv
  total=$(cat "$pool/nr_hugepages")
  free=$(cat "$pool/free_hugepages")
  resv=$(cat "$pool/resv_hugepages")
  echo "hugepages: 2 MiB pool: $total pages, $free free, $resv reserved by mappings"
  local mounts
  mounts=$(awk '$3 == "hugetlbfs" { print $2 " (" $4 ")" }' /proc/mounts)
  echo "hugepages: hugetlbfs mounts: ${mounts:-none}"
}

huge_mount() { # the first hugetlbfs mount of 2 MiB pages, if any
  local m
  for m in $(awk '$3 == "hugetlbfs" { print $2 }' /proc/mounts); do
    [ "$(stat -f -c %S "$m" 2>/dev/null)" = 2097152 ] && { echo "$m"; return; }
  done
  return 0
}

need_root() {
  [ "$(id -u)" -eq 0 ] || { echo "hugepages: needs root" >&2; exit 1; }
  [ -d "$pool" ] || { echo "hugepages: no 2 MiB pool ($pool): kernel without hugetlb" >&2; exit 1; }
}

case "${1:-256}" in
  -h|--help) usage; exit 0 ;;
  --version)
    [ -n "$version" ] || { echo "hugepages: no version (not installed, no source tree)" >&2; exit 1; }
    echo "shmbus-hugepages (shmbus) $version"; exit 0 ;;
  --status)
    [ -d "$pool" ] || { echo "hugepages: no 2 MiB pool ($pool)" >&2; exit 1; }
    state; exit 0 ;;
  --off)
    need_root
    if [ -f "$marker" ] && mountpoint -q "$mnt"; then
      if ! umount "$mnt"; then
        echo "hugepages: cannot unmount $mnt (a bus still mapped there?)" >&2
        exit 1
      fi
      rm -f "$marker"
      echo "hugepages: unmounted $mnt"
    fi
    # Pages in use (buses still mapped or on a mount) stay; the rest go back.
    in_use=$(( $(cat "$pool/nr_hugepages") - $(cat "$pool/free_hugepages") ))
    echo "$in_use" > "$pool/nr_hugepages"
    state; exit 0 ;;
  *[!0-9]*|'')
    echo "hugepages: PAGES must be a whole number, not '$1'" >&2
    usage >&2; exit 2 ;;
esac

want=${1:-256}
need_root
have=$(cat "$pool/nr_hugepages")
if [ "$have" -lt "$want" ]; then
  echo "$want" > "$pool/nr_hugepages"
  have=$(cat "$pool/nr_hugepages")
fi
if [ "$have" -lt "$want" ]; then
  state
  echo "hugepages: asked for $want pages, the kernel gave $have (memory too fragmented?)" >&2
  exit 1
fi
if [ -z "$(huge_mount)" ]; then
  mkdir -p "$mnt"
  if ! mount -t hugetlbfs -o pagesize=2M,mode=1777 none "$mnt"; then
    echo "hugepages: cannot mount hugetlbfs on $mnt" >&2
    exit 1
  fi
  : > "$marker"
fi
state
