#!/usr/bin/env bash
# kvsim_chaos under CTest: the chaos suite's workloads (register, set,
# delete) on 16 simulated nodes that keep their data across crashes, under
# each of the suite's nemeses, judged by the suite's own checkers
# (tests/chaos/check_run.py): no lost write, stale or impossible read,
# resurrection or divergence. Seconds of wall time in all.
#   kvsim_chaos.sh KVSIM CHECK_RUN [SEEDS]
set -euo pipefail
kvsim=$1 check_run=$2 seeds=${3:-7}
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
status=0 header=--header
for seed in $seeds; do
  for nemesis in none kill pause partition-one partition-halves partition-bridge partition-asym \
                 clog clock-skew; do
    dir="$tmp/$nemesis-$seed"
    mkdir -p "$dir"
    "$kvsim" --workload chaos --history-dir "$dir" --durable --nodes 16 --duration 60s \
      --seed "$seed" --nemesis "$nemesis" --anti-entropy-interval 10s >"$dir.out" 2>&1 ||
      { echo "kvsim --nemesis $nemesis --seed $seed failed:"; cat "$dir.out"; exit 1; }
    /usr/bin/python3 "$check_run" "$dir" --name "$nemesis (seed $seed)" $header || status=1
    header=
  done
done
exit $status
