#!/usr/bin/env bash
# `make run` and `make run-tls` end to end: starts scripts/run-cluster.sh
# (plaintext, or TLS=1), runs every kvctl line its banner prints, then stops
# it with SIGTERM and checks that it stopped; fetches every status page URL
# it prints. Usage: run_cluster_test.sh BIN_DIR plain|tls
set -euo pipefail
bin=$1 mode=$2
root=$(cd "$(dirname "$0")/../.." && pwd)
base=$((20000 + RANDOM % 30000))
mbase=$((base + 10))
rbase=$((base + 20))
out=$(mktemp)
logs=$(mktemp -d /tmp/kvtest-run.XXXXXX)
tls=0
[ "$mode" = tls ] && tls=1
TLS=$tls BASE_PORT=$base METRICS_PORT=$mbase RESP_PORT=$rbase LOG_DIR=$logs "$root/scripts/run-cluster.sh" "$bin" 3 >"$out" 2>&1 &
pid=$!
fail() {
  echo "run_cluster_test ($mode): $*" >&2
  cat "$out" >&2
  kill -TERM "$pid" 2>/dev/null || true
  wait "$pid" 2>/dev/null || true
  exit 1
}
for _ in $(seq 1 300); do
  grep -q "Press Ctrl-C" "$out" && break
  kill -0 "$pid" 2>/dev/null || fail "the script exited before its banner"
  sleep 0.1
done
grep -q "Press Ctrl-C" "$out" || fail "no banner within 30 s"
mapfile -t lines < <(grep -E '^  \S*/kvctl ' "$out")
[ ${#lines[@]} -ge 3 ] || fail "the banner shows fewer than 3 kvctl lines"
for line in "${lines[@]}"; do
  # Bounded: every kvctl call has a deadline.
  eval "$line --timeout 5" >/dev/null || fail "this line failed: $line"
done
grep -q "Status pages: http://127.0.0.1:$mbase/ .. http://127.0.0.1:$((mbase + 2))/" "$out" ||
  fail "the banner names no status pages"
for ((i = 0; i < 3; i++)); do
  python3 - "$((mbase + i))" <<'PY' || fail "no status page listing 3 members on port $((mbase + i))"
import sys, urllib.request
with urllib.request.urlopen("http://127.0.0.1:%s/" % sys.argv[1], timeout=10) as r:
    page = r.read().decode()
sys.exit(0 if r.status == 200 and page.count('<tr class="member"') == 3 else 1)
PY
done
# The banner's redis-cli lines (plaintext only): GET returns what SET wrote.
mapfile -t redis_lines < <(grep -E '^  redis-cli ' "$out")
if [ "$tls" = 0 ]; then
  [ ${#redis_lines[@]} -ge 2 ] || fail "the banner shows no redis-cli lines"
  if command -v redis-cli >/dev/null; then
    out_set=$(eval "${redis_lines[0]}") || fail "this line failed: ${redis_lines[0]}"
    out_get=$(eval "${redis_lines[1]}") || fail "this line failed: ${redis_lines[1]}"
    [ "$out_set" = OK ] && [ "$out_get" = world ] ||
      fail "redis-cli lines answered '$out_set' and '$out_get'"
  fi
else
  [ ${#redis_lines[@]} -eq 0 ] || fail "a TLS cluster's banner shows redis-cli lines"
fi
if [ "$tls" = 1 ]; then
  "$bin/kvctl" --addr "127.0.0.1:$base" ping >/dev/null 2>&1 &&
    fail "a plaintext kvctl reached a TLS node"
  "$bin/kvctl" --addr "127.0.0.1:$base" --cacert "$logs/tls/ca.crt" --cert "$logs/tls/app.crt" \
    --key "$logs/tls/app.key" put other/1 v >/dev/null 2>&1 &&
    fail "role write with prefix app/ wrote other/1"
fi
kill -TERM "$pid"
for _ in $(seq 1 200); do
  kill -0 "$pid" 2>/dev/null || break
  sleep 0.1
done
kill -0 "$pid" 2>/dev/null && fail "still running 20 s after SIGTERM"
wait "$pid" || fail "exited with an error after SIGTERM"
grep -q "stopped; logs are in" "$out" || fail "no clean stop"
echo "run_cluster_test ($mode): ok, ${#lines[@]} kvctl lines"
rm -rf "$out" "$logs"
