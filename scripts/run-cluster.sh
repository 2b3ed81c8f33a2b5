#!/usr/bin/env bash
# Starts a local cluster of N nodes on 127.0.0.1:50051.. in the foreground.
# Ctrl-C (or SIGTERM) stops every node cleanly. With TLS=1 the nodes serve
# TLS with throwaway certificates (scripts/tls-certs.sh), require client
# certificates and read an auth file; the kvctl command line is printed.
# Each node also serves its metrics and status page on 127.0.0.1:9101..
# (METRICS_PORT sets the first; METRICS_PORT=0 turns them off) and, without
# TLS, the Redis protocol on 127.0.0.1:6380.. (RESP_PORT; 0 turns it off).
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
bin=${1:-build/bin}
n=${2:-3}
base=${BASE_PORT:-50051}
mbase=${METRICS_PORT:-9101}
rbase=${RESP_PORT:-6380}
[ "${TLS:-0}" = 1 ] && rbase=0  # the RESP port has no TLS or auth yet (docs/resp.md)
logs=${LOG_DIR:-$(mktemp -d /tmp/kvstore-cluster.XXXXXX)}
pids=()
pids_tail=""
tls_args=()
kvctl=("$bin/kvctl")
if [ "${TLS:-0}" = 1 ]; then
  certs="$logs/tls"
  "$here/tls-certs.sh" ca "$certs"
  for ((i = 0; i < n; i++)); do "$here/tls-certs.sh" cert "$certs" "node$((i + 1))" node; done
  "$here/tls-certs.sh" cert "$certs" admin admin
  "$here/tls-certs.sh" cert "$certs" app app
  token=$(head -c 24 /dev/urandom | od -An -tx1 | tr -d ' \n')
  printf '%s\n' "# who may do what (docs/security.md)" "cn:admin admin" "cn:app write app/" \
    "token-sha256:$(printf %s "$token" | sha256sum | cut -d' ' -f1) read" >"$certs/auth"
  tls_args=(--trusted-ca-file "$certs/ca.crt" --client-cert-auth --auth-file "$certs/auth")
  kvctl=("$bin/kvctl" --cacert "$certs/ca.crt" --cert "$certs/admin.crt" --key "$certs/admin.key")
fi

stop() {
  trap - INT TERM
  echo
  echo "stopping ${#pids[@]} nodes..."
  kill -TERM "${pids[@]}" 2>/dev/null || true
  wait "${pids[@]}" 2>/dev/null || true
  [ -n "$pids_tail" ] && kill "$pids_tail" 2>/dev/null
  echo "stopped; logs are in $logs"
  exit 0
}
trap stop INT TERM

for ((i = 0; i < n; i++)); do
  port=$((base + i))
  args=(--addr "127.0.0.1:$port")
  [ "$i" -gt 0 ] && args+=(--peer "127.0.0.1:$base")
  [ "$mbase" != 0 ] && args+=(--metrics-addr "127.0.0.1:$((mbase + i))")
  [ "$rbase" != 0 ] && args+=(--resp-addr "127.0.0.1:$((rbase + i))")
  if [ ${#tls_args[@]} -gt 0 ]; then
    args+=("${tls_args[@]}" --cert-file "$certs/node$((i + 1)).crt" --key-file "$certs/node$((i + 1)).key")
  fi
  "$bin/kvstore" "${args[@]}" >"$logs/node$((i + 1)).log" 2>&1 &
  pids+=($!)
done

# Wait until every node sees the n-1 others alive (bounded: 30 s a node), so
# that the commands below see one cluster: a node that answers pings may not
# have joined yet, and would read from itself alone.
for ((i = 0; i < n; i++)); do
  for _ in $(seq 1 150); do
    alive=$("${kvctl[@]}" --addr "127.0.0.1:$((base + i))" --timeout 1 peers 2>/dev/null |
      grep -c ' alive ' || true)
    [ "$alive" -ge $((n - 1)) ] && break
    sleep 0.2
  done
done

pages=""
resp_lines=""
if [ "$rbase" != 0 ]; then
  resp_lines="  redis-cli -p $rbase SET hello-redis world
  redis-cli -p $((rbase + n - 1)) GET hello-redis
"
fi
if [ "$mbase" != 0 ]; then
  pages="Status pages: http://127.0.0.1:$mbase/ .. http://127.0.0.1:$((mbase + n - 1))/ (Prometheus metrics at /metrics)
"
fi
if [ ${#tls_args[@]} -gt 0 ]; then
  cat <<MSG
kvstore: $n nodes running with TLS on 127.0.0.1:$base-$((base + n - 1)) (logs: $logs)
Certificates, keys and the auth file are in $certs:
  admin (role admin), app (role write, keys app/...), and a read-only token.

  ${kvctl[*]} --addr 127.0.0.1:$base put hello world
  ${kvctl[*]} --addr 127.0.0.1:$((base + n - 1)) get hello
  ${kvctl[*]} --addr 127.0.0.1:$base peers
  $bin/kvctl --cacert $certs/ca.crt --cert $certs/app.crt --key $certs/app.key --addr 127.0.0.1:$base put app/1 v
  $bin/kvctl --cacert $certs/ca.crt --cert $certs/app.crt --key $certs/app.key --token $token --addr 127.0.0.1:$base get hello
  ${kvctl[*]} --addr 127.0.0.1:$base status

${pages}Press Ctrl-C to stop the cluster.
MSG
else
cat <<MSG
kvstore: $n nodes running on 127.0.0.1:$base-$((base + n - 1)) (logs: $logs)

  $bin/kvctl --addr 127.0.0.1:$base put hello world
  $bin/kvctl --addr 127.0.0.1:$((base + n - 1)) get hello
  $bin/kvctl --addr 127.0.0.1:$base peers
  $bin/kvctl --addr 127.0.0.1:$base locate hello
  $bin/kvctl --addr 127.0.0.1:$base status
  grpcurl -plaintext 127.0.0.1:$base list
${resp_lines}
${pages}Press Ctrl-C to stop the cluster.
MSG
fi
tail -n 0 -F "$logs"/node*.log &
pids_tail=$!
wait "${pids[@]}" || true
kill "$pids_tail" 2>/dev/null || true
