#!/usr/bin/env bash
# Starts a local cluster of N nodes on 127.0.0.1:50051.. in the foreground.
# Ctrl-C (or SIGTERM) stops every node cleanly.
set -euo pipefail
bin=${1:-build/bin}
n=${2:-3}
base=${BASE_PORT:-50051}
logs=${LOG_DIR:-$(mktemp -d /tmp/kvstore-cluster.XXXXXX)}
pids=()

stop() {
  trap - INT TERM
  echo
  echo "stopping ${#pids[@]} nodes..."
  kill -TERM "${pids[@]}" 2>/dev/null || true
  wait "${pids[@]}" 2>/dev/null || true
  echo "stopped; logs are in $logs"
  exit 0
}
trap stop INT TERM

for ((i = 0; i < n; i++)); do
  port=$((base + i))
  args=(--addr "127.0.0.1:$port")
  [ "$i" -gt 0 ] && args+=(--peer "127.0.0.1:$base")
  "$bin/kvstore" "${args[@]}" >"$logs/node$((i + 1)).log" 2>&1 &
  pids+=($!)
done

# Wait until every node answers a ping (bounded).
for ((i = 0; i < n; i++)); do
  for _ in $(seq 1 50); do
    "$bin/kvctl" --addr "127.0.0.1:$((base + i))" --timeout 1 ping >/dev/null 2>&1 && break
    sleep 0.2
  done
done

cat <<MSG
kvstore: $n nodes running on 127.0.0.1:$base-$((base + n - 1)) (logs: $logs)

  $bin/kvctl --addr 127.0.0.1:$base put hello world
  $bin/kvctl --addr 127.0.0.1:$((base + n - 1)) get hello
  $bin/kvctl --addr 127.0.0.1:$base peers
  $bin/kvctl --addr 127.0.0.1:$base locate hello
  grpcurl -plaintext 127.0.0.1:$base list

Press Ctrl-C to stop the cluster.
MSG
tail -n 0 -F "$logs"/node*.log &
pids_tail=$!
wait "${pids[@]}" || true
kill "$pids_tail" 2>/dev/null || true
