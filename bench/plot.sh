#!/usr/bin/env bash
# bench/plot.sh DIR - the PNG plots of a bench/run.sh folder, with gnuplot:
#   DIR/latency.png     every DIR/hgrm/rtt-<transport>.hgrm on one chart:
#                       round trip (ns, log) against the percentile, drawn
#                       as 1/(1-p) on a log axis as HdrHistogram's plots do
#   DIR/throughput.png  events/s of shmbus with 1 and 2 producers (one event
#                       per publish call, and bursts of 32 when measured) and of
#                       the SPSC baseline (medians over rounds, from
#                       DIR/throughput-1p.json and throughput-2p.json)
# A plot whose inputs are missing is skipped with a note. Exit 1 when
# gnuplot fails.
set -euo pipefail
[ $# -eq 1 ] && [ -d "$1" ] || { echo "usage: bench/plot.sh DIR (a bench/run.sh folder)" >&2; exit 2; }
dir=$(cd "$1" && pwd)
status=0

shopt -s nullglob
hgrms=("$dir"/hgrm/rtt-*.hgrm)
if [ "${#hgrms[@]}" -gt 0 ]; then
  files="" names=""
  for f in "${hgrms[@]}"; do
    n=$(basename "$f" .hgrm)
    files+="$f "
    names+="${n#rtt-} "
  done
  # Rows are "value percentile count 1/(1-p)"; the header row is text and
  # the footer rows are comments; the last row (p = 1) has no finite x.
  gnuplot <<GP || status=1
set terminal pngcairo size 1200,720 font ",11"
set output "$dir/latency.png"
set title "Round trip of a 56-byte message between two pinned processes (all rounds merged)"
set xlabel "percentile"
set ylabel "round trip (ns)"
set logscale xy
set xrange [1:*]
set xtics ("0%%" 1, "50%%" 2, "90%%" 10, "99%%" 100, "99.9%%" 1000, "99.99%%" 10000, "99.999%%" 100000, "99.9999%%" 1000000)
set grid xtics ytics mytics
set key top left
set datafile commentschars "#"
files = "$files"
names = "$names"
plot for [i=1:words(files)] word(files, i) using ((\$2 < 1) ? 1 / (1 - \$2) : NaN):1 \
  with lines linewidth 2 title word(names, i)
GP
else
  echo "plot.sh: no $dir/hgrm/rtt-*.hgrm: no latency plot" >&2
fi

t1="$dir/throughput-1p.json" t2="$dir/throughput-2p.json"
if [ -s "$t1" ] && [ -s "$t2" ]; then
  dat="$dir/throughput.dat"
  {
    echo "# run  Mevents/s (median over rounds)"
    jq -r '"\"1 producer\" \(.events_per_sec / 1e6)"' "$t1"
    jq -r '"\"2 producers\" \(.events_per_sec / 1e6)"' "$t2"
    for b in 1p 2p; do
      f="$dir/throughput-$b-batch32.json"
      if [ -s "$f" ]; then
        jq -r '"\"\(.config.producers)p, bursts \(.config.producer_batch)\" \(.events_per_sec / 1e6)"' "$f"
      fi
    done
    jq -r '"\"SPSC ring\" \(.baseline_spsc / 1e6)"' "$t1"
  } >"$dat"
  gnuplot <<GP || status=1
set terminal pngcairo size 900,600 font ",11"
set output "$dir/throughput.png"
set title "shmbus throughput of 56-byte events into one consumer, and the SPSC baseline (medians)"
set ylabel "million events per second"
set style data histograms
set style histogram clustered gap 1
set style fill solid 0.8 border -1
set boxwidth 0.8
set yrange [0:*]
set grid ytics
plot "$dat" using 2:xtic(1) notitle, \
  "" using 0:2:(sprintf("%.2f", \$2)) with labels offset 0,1 notitle
GP
else
  echo "plot.sh: no throughput-1p.json and throughput-2p.json in $dir: no throughput plot" >&2
fi
exit "$status"
