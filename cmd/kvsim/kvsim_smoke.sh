#!/usr/bin/env bash
# kvsim under CTest: 16 nodes under each nemesis lose no acknowledged write,
# and a second process with the same seed and flags replays the same run
# (same trace hash).
set -euo pipefail
kvsim=$1
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
for nemesis in none kill partition-one; do
  args=(--nodes 16 --duration 30s --seed 3 --nemesis "$nemesis" --anti-entropy-interval 10s)
  "$kvsim" "${args[@]}" --json "$tmp/a.json" >"$tmp/a.out" 2>&1 ||
    { echo "kvsim ${args[*]} failed:"; cat "$tmp/a.out"; exit 1; }
  "$kvsim" "${args[@]}" --json "$tmp/b.json" >"$tmp/b.out" 2>&1 ||
    { echo "kvsim ${args[*]} failed on its second run:"; cat "$tmp/b.out"; exit 1; }
  grep -q '"lost": 0,' "$tmp/a.json" || { echo "lost writes: $(cat "$tmp/a.json")"; exit 1; }
  grep -q '"acknowledged": [1-9]' "$tmp/a.json" || { echo "no write acknowledged"; exit 1; }
  ha=$(grep -o '"trace_hash": "[0-9a-f]*"' "$tmp/a.json")
  hb=$(grep -o '"trace_hash": "[0-9a-f]*"' "$tmp/b.json")
  [ "$ha" = "$hb" ] || { echo "$nemesis: two runs differ: $ha vs $hb"; exit 1; }
  echo "$nemesis: $(tail -1 "$tmp/a.out")"
done
