#!/usr/bin/env bash
# test_bench_modes_sh.sh MODES_SH - bench/modes.sh: its placement split and
# medians against a stand-in shmbus-bench that prints fixed figures, its
# exit codes, and one short real run with the built shmbus-bench
# (SHMBUS_BENCH_BIN). Exit 77 (skip) when jq is missing. Never looks at a
# timing of the real run.
set -euo pipefail
modes_sh=$1
command -v jq >/dev/null || { echo "SKIP: jq is not installed (scripts/install-deps.sh installs it)"; exit 77; }
[ -x "${SHMBUS_BENCH_BIN:-}" ] || { echo "FAIL: SHMBUS_BENCH_BIN is not set to shmbus-bench"; exit 1; }
real_bin=$SHMBUS_BENCH_BIN

. "$(dirname "$0")/bench_test_env.sh"

"$modes_sh" --help | grep -q -- '--near-below' || fail "--help does not list --near-below"
for bad in "--no-such-option" "--seconds 0" "--cpus 0" "--variant nolabel" "--near-below x" \
           "--binary nolabel" "--binary x=/no/such/binary"; do
  set +e
  # shellcheck disable=SC2086 # each case is several words on purpose
  "$modes_sh" $bad >/dev/null 2>&1
  rc=$?
  set -e
  [ "$rc" -eq 2 ] || fail "'$bad' exited $rc, not 2"
done

# A stand-in: near figures with --api claim; far ones by default, its runs
# giving 100, 400, 482, 900, 300, 600 ns in turn; its run number STOP
# sleeps past the sampling window, so that exactly STOP runs are taken:
# 5 (median 400: the middle one) and 6 (441: the mean of the middle two).
cat >"$tmp/fake" <<FAKE
#!/usr/bin/env bash
case " \$* " in
  *" --api claim "*) echo '{"p50_ns": 150, "baseline": {"p50_ns": 100}}'; exit 0 ;;
esac
n=\$(cat "$tmp/count" 2>/dev/null || echo 0)
echo \$((n + 1)) >"$tmp/count"
[ "\$((n + 1))" != "\${STOP:-0}" ] || sleep 3
p50=(100 400 482 900 300 600)
echo "{\"p50_ns\": \${p50[n % 6]}, \"baseline\": {\"p50_ns\": 401}}"
FAKE
chmod +x "$tmp/fake"
for want in "5 400 0.998 -1" "6 441 1.1 40"; do
  read -r stop p50 ratio excess <<<"$want"
  rm -f "$tmp/count"
  STOP=$stop SHMBUS_BENCH_BIN="$tmp/fake" "$modes_sh" --seconds 2 --json >"$tmp/fake.json" ||
    fail "modes.sh with the stand-in exited $?"
  jq -e --argjson n "$stop" --argjson p50 "$p50" --argjson r "$ratio" --argjson x "$excess" \
     '.groups | length == 1 and .[0].placement == "far" and .[0].variant == "default" and
      .[0].runs == $n and .[0].ratio_p50 == $r and .[0].shmbus_p50_ns == $p50 and
      .[0].baseline_p50_ns == 401 and .[0].excess_p50_ns == $x' "$tmp/fake.json" >/dev/null ||
    fail "$stop runs: wrong medians: $(cat "$tmp/fake.json")"
done
SHMBUS_BENCH_BIN="$tmp/fake" "$modes_sh" --seconds 1 --variant def= --variant 'claim=--api claim' \
  --json >"$tmp/fake.json" || fail "modes.sh with two variants exited $?"
jq -e '[.groups[] | "\(.placement)/\(.variant)"] == ["near/claim", "far/def"]' "$tmp/fake.json" \
  >/dev/null || fail "two variants: wrong groups: $(cat "$tmp/fake.json")"
jq -e '.groups[] | select(.placement == "near" and .variant == "claim") |
       .ratio_p50 == 1.5 and .excess_p50_ns == 50' "$tmp/fake.json" >/dev/null ||
  fail "near/claim group wrong: $(cat "$tmp/fake.json")"
# --binary: a variant that runs another binary (here one giving 130 on a
# 100 ns line), next to the default binary's --variant.
printf '#!/bin/sh\necho "{\\"p50_ns\\": 130, \\"baseline\\": {\\"p50_ns\\": 100}}"\n' >"$tmp/other"
chmod +x "$tmp/other"
SHMBUS_BENCH_BIN="$tmp/fake" "$modes_sh" --seconds 1 --variant 'claim=--api claim' \
  --binary "old=$tmp/other" --json >"$tmp/bin.json" || fail "modes.sh --binary exited $?"
jq -e '[.groups[] | "\(.placement)/\(.variant)/\(.shmbus_p50_ns)"] ==
       ["near/claim/150", "near/old/130"]' "$tmp/bin.json" >/dev/null ||
  fail "--binary: wrong groups: $(cat "$tmp/bin.json")"
# The threshold moves a run from near to far.
SHMBUS_BENCH_BIN="$tmp/fake" "$modes_sh" --seconds 1 --near-below 50 --variant 'claim=--api claim' \
  --json >"$tmp/far.json" || fail "modes.sh --near-below 50 exited $?"
jq -e '[.groups[].placement] == ["far"]' "$tmp/far.json" >/dev/null || fail "--near-below 50 kept a near run"
SHMBUS_BENCH_BIN="$tmp/fake" "$modes_sh" --seconds 1 | grep -q '^far   default' ||
  fail "the table has no far/default row"

# A failing shmbus-bench: exit 1, its error shown.
printf '#!/bin/sh\necho "bench broke" >&2\nexit 3\n' >"$tmp/broken"
chmod +x "$tmp/broken"
set +e
SHMBUS_BENCH_BIN="$tmp/broken" "$modes_sh" --seconds 1 >/dev/null 2>"$tmp/broken.err"
rc=$?
set -e
[ "$rc" -eq 1 ] || fail "a failing shmbus-bench exited $rc, not 1"
grep -q "bench broke" "$tmp/broken.err" || fail "the failing run's error was not shown"

# The real tool, briefly.
SHMBUS_BENCH_BIN="$real_bin" "$modes_sh" --seconds 1 --iterations 2000 --cpus "$cpus" \
  --variant 'yield=--wait yield --warmup 200' --json >"$tmp/real.json" || fail "a real run exited $?"
jq -e '(.groups | length >= 1) and all(.groups[]; .variant == "yield" and .runs >= 1 and
       .shmbus_p50_ns > 0 and .baseline_p50_ns > 0)' "$tmp/real.json" >/dev/null ||
  fail "real run JSON: $(cat "$tmp/real.json")"
[ -z "$(ls -A "$SHMBUS_DIR")" ] || fail "a bus was left in SHMBUS_DIR: $(ls -A "$SHMBUS_DIR")"
echo "PASS"
