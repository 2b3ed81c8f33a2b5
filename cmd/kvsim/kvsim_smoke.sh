#!/usr/bin/env bash
# kvsim under CTest: 16 nodes under each nemesis lose no acknowledged write
# (the kv workload's own check), and a second process with the same seed and
# flags replays the same run (same trace hash); anti-entropy reads nothing on
# an unchanged store.
set -euo pipefail
kvsim=$1
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
field() { grep -o "\"$1\":[^,}]*" "$2" | head -1 | cut -d: -f2; }
for nemesis in none kill pause partition-one partition-halves partition-bridge partition-asym \
               clog clock-skew; do
  args=(--nodes 16 --duration 30s --seed 3 --nemesis "$nemesis" --anti-entropy-interval 10s)
  "$kvsim" "${args[@]}" --json "$tmp/a.json" >"$tmp/a.out" 2>&1 ||
    { echo "kvsim ${args[*]} failed:"; cat "$tmp/a.out"; exit 1; }
  "$kvsim" "${args[@]}" --json "$tmp/b.json" >"$tmp/b.out" 2>&1 ||
    { echo "kvsim ${args[*]} failed on its second run:"; cat "$tmp/b.out"; exit 1; }
  [ "$(field lost "$tmp/a.json")" = 0 ] || { echo "lost writes: $(cat "$tmp/a.json")"; exit 1; }
  [ "$(field acknowledged "$tmp/a.json")" -gt 0 ] || { echo "no write acknowledged"; exit 1; }
  ha=$(field trace_hash "$tmp/a.json")
  hb=$(field trace_hash "$tmp/b.json")
  [ "$ha" = "$hb" ] || { echo "$nemesis: two runs differ: $ha vs $hb"; exit 1; }
  echo "$nemesis: $(tail -1 "$tmp/a.out")"
done
# Beyond k nodes a coordinator asks the key's neighbours for its owners:
# every Locate after the run must name the true owners.
args=(--nodes 150 --k 8 --duration 20s --seed 3 --anti-entropy-interval 10s)
"$kvsim" "${args[@]}" --json "$tmp/c.json" >"$tmp/c.out" 2>&1 ||
  { echo "kvsim ${args[*]} failed:"; cat "$tmp/c.out"; exit 1; }
[ "$(field lost "$tmp/c.json")" = 0 ] || { echo "lost writes: $(cat "$tmp/c.json")"; exit 1; }
agreement=$(field replica_set_agreement "$tmp/c.json")
awk -v a="$agreement" 'BEGIN { exit !(a == 1) }' ||
  { echo "150 nodes: coordinators named other owners than the true ones: $(cat "$tmp/c.json")"; exit 1; }
echo "150 nodes, k 8: $(tail -1 "$tmp/c.out")"
# 3 % of 100 nodes crash at once mid-run and come back empty at its end:
# nothing acknowledged is lost, and the crashed nodes' calls are counted.
args=(--nodes 100 --duration 20s --seed 3 --mass-kill 3 --anti-entropy-interval 10s)
"$kvsim" "${args[@]}" --json "$tmp/d.json" >"$tmp/d.out" 2>&1 ||
  { echo "kvsim ${args[*]} failed:"; cat "$tmp/d.out"; exit 1; }
[ "$(field lost "$tmp/d.json")" = 0 ] || { echo "lost writes: $(cat "$tmp/d.json")"; exit 1; }
[ "$(field mass_kill_victims "$tmp/d.json")" = 3 ] || { echo "no mass kill: $(cat "$tmp/d.json")"; exit 1; }
echo "mass kill: $(grep 'client requests sent' "$tmp/d.out")"
# Anti-entropy's cost: rounds on an unchanged store read no record, and one
# lost record comes back.
args=(--nodes 20 --workload repair --keys 20000 --seed 3 --anti-entropy-interval 10s)
"$kvsim" "${args[@]}" --json "$tmp/e.json" >"$tmp/e.out" 2>&1 ||
  { echo "kvsim ${args[*]} failed:"; cat "$tmp/e.out"; exit 1; }
unchanged_scans=$(grep -o '"unchanged":{[^}]*}' "$tmp/e.json" | grep -o '"scans":[0-9]*' | cut -d: -f2)
[ "$unchanged_scans" = 0 ] || { echo "rounds on an unchanged store scanned: $(cat "$tmp/e.json")"; exit 1; }
[ "$(field restored_keys "$tmp/e.json")" = 1 ] || { echo "lost record not back: $(cat "$tmp/e.json")"; exit 1; }
echo "repair: $(grep 'lost records back' "$tmp/e.out")"
