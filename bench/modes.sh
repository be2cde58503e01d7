#!/usr/bin/env bash
# bench/modes.sh - the pingpong round trip sampled over time, each sample
# classified by the host's placement at that moment.
#
# On the development VM the cache-line round trip switches, minutes or
# seconds apart, between a "near" placement (~100 ns) and a "far" one
# (~400 ns); a ratio measured in one run says which placement that run
# happened to get. This script runs short pingpong runs back to back for a
# while (variants alternated: A B A B ...), files each under near or far by
# the run's own cache-line p50, and prints per placement and variant the
# number of runs and the medians: ratio, shmbus p50, cache-line p50, and
# the difference of the two p50s.
set -euo pipefail

usage() {
  cat <<'EOF'
usage: bench/modes.sh [--seconds S] [--near-below NS] [--iterations N]
                      [--cpus A,B] [--variant LABEL=ARGS]... [--binary LABEL=PATH]...
                      [--json]

Runs `shmbus-bench pingpong --rounds 1 --json` back to back for S seconds,
variants alternated, and reports each variant's medians separately for the
runs whose cache-line baseline p50 was below NS ("near") and the others
("far").

  --seconds S       how long to sample (default 120)
  --near-below NS   cache-line p50 below which a run counts as near (default 250)
  --iterations N    round trips per run (default 100000)
  --cpus A,B        the two cores (default 0,1)
  --variant L=ARGS  a variant named L: extra pingpong options, space-separated
                    (e.g. 'claim=--api claim'); repeatable; default: one
                    variant 'default' with none
  --binary L=PATH   a variant named L that runs another shmbus-bench binary
                    (e.g. one built from an earlier commit) with no extra
                    options; repeatable, mixes with --variant
  --json            one JSON object on stdout instead of the table
  --help            this text

Environment: SHMBUS_BENCH_BIN runs that binary instead of building
build/bench-release; SHMBUS_DIR as for shmbus.
Exit status: 0 sampled, 1 a run failed or no run finished, 2 usage.
EOF
}

die_usage() {
  echo "modes.sh: $*" >&2
  echo "(try bench/modes.sh --help)" >&2
  exit 2
}

root=$(cd "$(dirname "$0")/.." && pwd)
seconds=120
near=250
iterations=100000
cpus="0,1"
json=0
labels=()
vargs=()
vbins=() # per variant: its binary, or empty for the default one
while [ $# -gt 0 ]; do
  case "$1" in
    --help|-h) usage; exit 0 ;;
    --seconds) [ $# -ge 2 ] || die_usage "--seconds needs a number"; seconds=$2; shift ;;
    --near-below) [ $# -ge 2 ] || die_usage "--near-below needs ns"; near=$2; shift ;;
    --iterations) [ $# -ge 2 ] || die_usage "--iterations needs a number"; iterations=$2; shift ;;
    --cpus) [ $# -ge 2 ] || die_usage "--cpus needs A,B"; cpus=$2; shift ;;
    --variant)
      [ $# -ge 2 ] || die_usage "--variant needs LABEL=ARGS"
      [[ "$2" =~ ^[A-Za-z0-9_.+-]+= ]] || die_usage "--variant: '$2' is not LABEL=ARGS"
      labels+=("${2%%=*}")
      vargs+=("${2#*=}")
      vbins+=("")
      shift ;;
    --binary)
      [ $# -ge 2 ] || die_usage "--binary needs LABEL=PATH"
      [[ "$2" =~ ^[A-Za-z0-9_.+-]+=. ]] || die_usage "--binary: '$2' is not LABEL=PATH"
      [ -x "${2#*=}" ] && [ -f "${2#*=}" ] || die_usage "--binary: '${2#*=}' is not an executable file"
      labels+=("${2%%=*}")
      vargs+=("")
      vbins+=("${2#*=}")
      shift ;;
    --json) json=1 ;;
    *) die_usage "unknown argument '$1'" ;;
  esac
  shift
done
[[ "$seconds" =~ ^[1-9][0-9]*$ ]] || die_usage "--seconds: '$seconds' is not a positive integer"
[[ "$near" =~ ^[1-9][0-9]*$ ]] || die_usage "--near-below: '$near' is not a positive integer"
[[ "$iterations" =~ ^[1-9][0-9]*$ ]] || die_usage "--iterations: '$iterations' is not a positive integer"
[[ "$cpus" =~ ^[0-9]+,[0-9]+$ ]] || die_usage "--cpus: '$cpus' is not A,B"
if [ ${#labels[@]} -eq 0 ]; then
  labels=(default)
  vargs=("")
  vbins=("")
fi
command -v jq >/dev/null || { echo "modes.sh: jq is missing (run scripts/install-deps.sh)" >&2; exit 1; }

# The binary: given, or built (incrementally) in build/bench-release.
. "$root/bench/bench_bin.sh"
bin=$(bench_bin modes.sh "$root")

tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
# One line per run: label shmbus_p50 baseline_p50
samples="$tmp/samples"
: >"$samples"
end=$((SECONDS + seconds))
while [ $SECONDS -lt $end ]; do
  for i in "${!labels[@]}"; do
    read -r -a extra <<<"${vargs[$i]}"
    vbin=${vbins[$i]:-$bin}
    if ! "$vbin" pingpong --cpus "$cpus" --iterations "$iterations" --rounds 1 --json \
        "${extra[@]}" >"$tmp/run.json" 2>"$tmp/run.err"; then
      echo "modes.sh: variant ${labels[$i]}: shmbus-bench failed:" >&2
      sed 's/^/  /' "$tmp/run.err" >&2
      exit 1
    fi
    jq -r --arg l "${labels[$i]}" '"\($l) \(.p50_ns) \(.baseline.p50_ns)"' "$tmp/run.json" \
      >>"$samples" || { echo "modes.sh: variant ${labels[$i]}: output is not pingpong JSON" >&2; exit 1; }
  done
done
[ -s "$samples" ] || { echo "modes.sh: no run finished in $seconds s" >&2; exit 1; }

# Medians per (placement, variant), in the order the variants were given.
summary=$(awk -v near="$near" -v order="${labels[*]}" '
  function median(list,   n, a, i, j, t) {
    n = split(list, a, " ")
    for (i = 2; i <= n; i++)
      for (j = i; j > 1 && a[j - 1] + 0 > a[j] + 0; j--) { t = a[j]; a[j] = a[j - 1]; a[j - 1] = t }
    return n % 2 ? a[(n + 1) / 2] : (a[n / 2] + a[n / 2 + 1]) / 2
  }
  {
    mode = ($3 + 0 < near) ? "near" : "far"
    k = mode SUBSEP $1
    cnt[k]++
    ratio[k] = ratio[k] " " ($3 > 0 ? $2 / $3 : 0)
    p50[k] = p50[k] " " $2
    base[k] = base[k] " " $3
    diff[k] = diff[k] " " ($2 - $3)
  }
  END {
    nv = split(order, v, " ")
    split("near far", modes, " ")
    for (m = 1; m <= 2; m++)
      for (i = 1; i <= nv; i++) {
        k = modes[m] SUBSEP v[i]
        if (!cnt[k]) continue
        printf "%s %s %d %.3f %.1f %.1f %.1f\n", modes[m], v[i], cnt[k], median(ratio[k]),
               median(p50[k]), median(base[k]), median(diff[k])
      }
  }' "$samples")

if [ "$json" -eq 1 ]; then
  jq -Rn --argjson seconds "$seconds" --argjson near "$near" --argjson iterations "$iterations" \
    --arg cpus "$cpus" --arg bin "$bin" '
    {scenario: "modes", seconds: $seconds, near_below_ns: $near, iterations: $iterations,
     cpus: $cpus, binary: $bin,
     groups: [inputs | select(length > 0) | split(" ") |
              {placement: .[0], variant: .[1], runs: (.[2] | tonumber),
               ratio_p50: (.[3] | tonumber), shmbus_p50_ns: (.[4] | tonumber),
               baseline_p50_ns: (.[5] | tonumber), excess_p50_ns: (.[6] | tonumber)}]}' \
    <<<"$summary"
else
  echo "modes.sh: $bin pingpong --cpus $cpus --iterations $iterations --rounds 1, $seconds s;" \
       "near: cache-line p50 < $near ns"
  printf '%-5s %-16s %5s %9s %11s %13s %11s\n' placement variant runs "ratio p50" "shmbus p50" \
         "cacheline p50" "excess ns"
  while read -r m l n r s b d; do
    printf '%-5s %-16s %5s %9s %11s %13s %11s\n' "$m" "$l" "$n" "$r" "$s" "$b" "$d"
  done <<<"$summary"
fi
