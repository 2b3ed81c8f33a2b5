#!/bin/sh
# End-to-end check of the container image (make image-test):
# 3 kvstore containers on the host network at 127.0.0.1:57051-57053 (node 3
# finds the others through --discover dns:localhost:57051), with /data on
# named volumes; puts and gets through different containers with the image's
# own kvctl; a restart of one container keeps its data; prints the image size.
# Everything is removed on exit (trap). Exit 0 also when skipped: podman
# cannot run here (the reason is printed).
#   IMAGE=localhost/kvstore:0.1.0 tests/deploy/image_test.sh
set -eu
cd "$(dirname "$0")/../.."
IMAGE=${IMAGE:-localhost/kvstore:0.1.0}
SUDO=""; [ "$(id -u)" = 0 ] || SUDO=sudo
P="$SUDO podman --runtime runc"
PREFIX=kvstore-image-test
BASE=${BASE_PORT:-57051}

rc=0; deploy/docker/podman-setup.sh >/dev/null || rc=$?
if [ "$rc" = 77 ]; then
  echo "image-test: SKIPPED: podman cannot run on this machine (see above)" >&2
  [ -z "${IMAGE_REQUIRED:-}" ] || { echo "image-test: FAIL: IMAGE_REQUIRED is set" >&2; exit 1; }
  exit 0
fi
[ "$rc" = 0 ] || exit "$rc"
if ! $P image exists "$IMAGE"; then
  echo "image-test: $IMAGE is missing; run 'make image' first" >&2; exit 1
fi

cleanup() {
  for i in 1 2 3; do
    $P rm -f -t 2 "$PREFIX-$i" >/dev/null 2>&1 || true
    $P volume rm -f "$PREFIX-data-$i" >/dev/null 2>&1 || true
  done
}
trap cleanup EXIT INT TERM
cleanup

start=$(date +%s)
fail() {
  echo "image-test: FAIL: $*" >&2
  for i in 1 2 3; do echo "--- logs of $PREFIX-$i:" >&2; $P logs --tail 20 "$PREFIX-$i" >&2 || true; done
  exit 1
}
kvctl() {  # kvctl NODE ARGS...: the image's kvctl, run inside container NODE
  n=$1; shift
  $P exec "$PREFIX-$n" kvctl --addr "127.0.0.1:$((BASE + n - 1))" "$@"
}
run_node() {  # run_node N EXTRA_FLAGS...
  n=$1; shift
  $P run -d --name "$PREFIX-$n" --network=host -v "$PREFIX-data-$n:/data" \
    -e KVSTORE_HEALTH_ADDR="127.0.0.1:$((BASE + n - 1))" "$IMAGE" \
    --addr="127.0.0.1:$((BASE + n - 1))" --data-dir=/data --failure-timeout=2s "$@" >/dev/null
}
wait_for() {  # wait_for SECONDS WHAT COMMAND...
  t=$1; what=$2; shift 2
  i=0
  until "$@" >/dev/null 2>&1; do
    i=$((i + 1)); [ "$i" -le $((t * 4)) ] || fail "timed out waiting for $what"
    sleep 0.25
  done
}
peers_seen() {  # peers_seen NODE COUNT: the node's routing table holds COUNT alive peers
  [ "$(kvctl "$1" peers 2>/dev/null | grep -c alive)" -ge "$2" ]
}

# No container network needed (and none may be configured): --network=none / host.
version=$($P run --rm --network=none "$IMAGE" --version) || fail "kvstore --version in the image"
echo "image-test: $IMAGE: $version"
[ "$($P run --rm --network=none --entrypoint id "$IMAGE" -u)" = 10001 ] ||
  fail "image does not run as uid 10001"
# The image describes itself: OCI labels and a health check (docker format).
label() { $P image inspect --format "{{ index .Labels \"org.opencontainers.image.$1\" }}" "$IMAGE"; }
[ "$(label title)" = kvstore ] || fail "label org.opencontainers.image.title is '$(label title)'"
[ -n "$(label version)" ] && [ -n "$(label revision)" ] || fail "version or revision label missing"
echo "image-test: labels: version $(label version), revision $(label revision), created $(label created)"
$P image inspect --format '{{ .Config.Healthcheck.Test }}' "$IMAGE" | grep -q 'kvctl' ||
  fail "the image has no HEALTHCHECK (built without --format docker?)"
apt_left=$($P run --rm --network=none --entrypoint sh "$IMAGE" -c \
  'ls /var/lib/apt/lists /var/cache/apt 2>/dev/null | grep -v -e "^/" -e "^$" -e "^partial$" -e "^lock$" -e "^archives$" || true')
[ -z "$apt_left" ] || fail "apt caches left in the image: $apt_left"

run_node 1
run_node 2 --peer="127.0.0.1:$BASE"
run_node 3 --discover="dns:localhost:$BASE"
for n in 1 2 3; do wait_for 30 "node $n to answer ping" kvctl "$n" ping; done
for n in 1 2 3; do wait_for 30 "node $n to see 2 peers" peers_seen "$n" 2; done
echo "image-test: 3 containers joined"
for n in 1 2 3; do
  wait_for 30 "container $n to report healthy" $P healthcheck run "$PREFIX-$n"
done
echo "image-test: all three health checks pass"
kvctl 2 peers

kvctl 1 --consistency all put greeting "hello from container 1" >/dev/null || fail "put via node 1"
kvctl 3 --consistency all put answer 42 >/dev/null || fail "put via node 3"
for n in 1 2 3; do
  [ "$(kvctl "$n" get greeting)" = "hello from container 1" ] || fail "get greeting via node $n"
  [ "$(kvctl "$n" --consistency all get answer)" = 42 ] || fail "get answer via node $n"
done
echo "image-test: puts and gets through all three containers agree"

# A restarted container keeps its data (RocksDB on its /data volume) and rejoins.
$P stop -t 10 "$PREFIX-2" >/dev/null
kvctl 1 --consistency quorum put while-2-was-down yes >/dev/null || fail "quorum put with 2 of 3 up"
$P start "$PREFIX-2" >/dev/null
wait_for 30 "node 2 to answer after restart" kvctl 2 ping
wait_for 30 "node 2 to see its peers again" peers_seen 2 2
# Before any read (a read could repair it): node 2's own copy came back from /data.
kvctl 2 locate greeting | grep -Eq "127\.0\.0\.1:$((BASE + 1)) +yes" ||
  fail "node 2 lost its copy of 'greeting' across the restart"
[ "$(kvctl 2 --consistency all get greeting)" = "hello from container 1" ] || fail "get after restart"
echo "image-test: container 2 restarted with its data and rejoined"

size=$($P image inspect --format '{{.Size}}' "$IMAGE")
echo "image-test: PASS in $(( $(date +%s) - start ))s; image $IMAGE is $((size / 1000000)) MB"
