"""kvctl -o json against a real 1-node kvstore on a free loopback port: every
command prints JSON lines on stdout that parse, with the fields
docs/operations.md ("kvctl -o json") promises; errors stay text on stderr,
with the same exit codes.
  json_output_test.py BIN_DIR
"""
import base64
import hashlib
import json
import os
import shutil
import subprocess
import sys
import tempfile

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..",
                                "tests", "deploy"))
from testlib import check, failures, free_port, stop_process, wait_for  # noqa: E402


class Kvctl:
    def __init__(self, bin_dir, addr):
        self.path, self.addr = os.path.join(bin_dir, "kvctl"), addr

    def run(self, *args, addr=None):
        """(exit code, stdout bytes, stderr text) of kvctl --addr ADDR ARGS."""
        r = subprocess.run([self.path, "--addr", addr or self.addr, *args],
                           stdout=subprocess.PIPE, stderr=subprocess.PIPE, timeout=60)
        return r.returncode, r.stdout, r.stderr.decode(errors="replace")

    def json(self, *args, want_rc=0, lines=1):
        """The objects kvctl -o json ARGS printed, each line parsed; a failed
        check when the exit code, the count or any line is not as wanted."""
        rc, out, err = self.run("-o", "json", *args)
        what = "kvctl -o json %s" % " ".join(args)
        check(rc == want_rc, "%s: exit %d, want %d (stderr: %s)" % (what, rc, want_rc, err))
        objs = []
        check(out.endswith(b"\n") or not out, "%s: stdout ends with a newline: %r" % (what, out))
        for line in out.decode().splitlines():
            try:
                obj = json.loads(line)
            except ValueError as e:
                check(False, "%s: a line that is not JSON (%s): %r" % (what, e, line))
                continue
            check(isinstance(obj, dict), "%s: a line that is not an object: %r" % (what, line))
            objs.append(obj)
        if lines is not None:
            check(len(objs) == lines, "%s: %d objects, want %d: %r" % (what, len(objs), lines, out))
        if lines == 1:
            return objs[0] if objs else {}
        return objs


def is_count(v):
    """A uint64 in protobuf's JSON: a string of digits."""
    return isinstance(v, str) and v.isdigit()


def check_kv(k, node_id, work):
    """put, get, del, with text and binary values."""
    put = k.json("put", "hello", "world")
    check(put.get("key") == "hello" and put.get("acks") == 1, "put: key and acks: %s" % put)
    version = put.get("version", {})
    check(is_count(version.get("timestamp")) and version.get("node_id") == node_id,
          "put: version {timestamp: digits, node_id: the node's}: %s" % put)

    got = k.json("get", "hello")
    check(got.get("key") == "hello" and got.get("found") is True, "get: key, found: %s" % got)
    check(base64.b64decode(got.get("value", "")) == b"world", "get: value is base64 of world: %s"
          % got)
    check(got.get("version") == version, "get: the put's version: %s vs %s" % (got, version))

    # A value of arbitrary bytes, a key of non-ASCII UTF-8; --output and an
    # option after the command are the same as -o before it.
    blob = bytes(range(256)) + b"\n\"\\"
    path = os.path.join(work, "blob")
    with open(path, "wb") as f:
        f.write(blob)
    key = "caf\u00e9/\"quoted\"\\\t"
    k.json("put", key, "--file", path)
    rc, out, _ = k.run("get", key, "--output", "json")
    got = json.loads(out) if rc == 0 else {}
    check(got.get("key") == key and base64.b64decode(got.get("value", "")) == blob,
          "get --output json: the key and the bytes of the file: %r" % out[:200])

    missing = k.json("get", "no-such-key", want_rc=1)
    check(missing.get("key") == "no-such-key" and missing.get("found") is False
          and missing.get("value") == "", "get of a missing key: found false: %s" % missing)

    deleted = k.json("del", "hello")
    check(deleted.get("key") == "hello" and deleted.get("acks") == 1
          and int(deleted.get("version", {}).get("timestamp", 0)) > int(version["timestamp"]),
          "del: key, acks, a newer version: %s" % deleted)
    check(k.json("get", "hello", want_rc=1).get("found") is False, "get after del: not found")

    # Text stays as it was: the value byte for byte.
    rc, out, _ = k.run("get", key)
    check(rc == 0 and out == blob, "get without -o: the raw value, as before")
    rc, out, _ = k.run("-o", "text", "put", "k2", "v2")
    check(rc == 0 and out.startswith(b"OK version="), "-o text put: %r" % out)


def check_admin(k, node_id, addr, backup_dir):
    ping = k.json("ping")
    check(ping.get("node") == {"id": node_id, "address": addr}, "ping: node: %s" % ping)
    check(ping.get("transport") == "plaintext" and ping.get("clock_fenced") is False
          and isinstance(ping.get("round_trip_seconds"), (int, float)),
          "ping: transport, clock_fenced, round_trip_seconds: %s" % ping)

    peers = k.json("peers")
    check(peers.get("self") == {"id": node_id, "address": addr} and peers.get("peers") == [],
          "peers: self and no peers: %s" % peers)

    stats = k.json("stats")
    counters = stats.get("counters", {})
    check(stats.get("self", {}).get("id") == node_id, "stats: self: %s" % stats.get("self"))
    check(is_count(counters.get("keys")) and int(counters["keys"]) >= 2
          and is_count(counters.get("hints_sent")), "stats: counters as digit strings: %s"
          % counters)
    check(list(counters) == sorted(counters), "stats: counters sorted by name: %s" % list(counters))
    check(isinstance(stats.get("version"), str) and is_count(stats.get("uptime_seconds"))
          and is_count(stats.get("coordinated_operations")),
          "stats: version, uptime_seconds, coordinated_operations: %s" % stats)

    loc = k.json("locate", "k2")
    check(loc.get("key") == "k2" and loc.get("key_id") == hashlib.sha1(b"k2").hexdigest()
          and loc.get("replication_factor", 0) >= 1, "locate: key, key_id, N: %s" % loc)
    replicas = loc.get("replicas", [])
    check(len(replicas) == 1 and replicas[0].get("node", {}).get("id") == node_id
          and replicas[0].get("holds") is True and replicas[0].get("reachable") is True,
          "locate: the node is the replica and holds k2: %s" % replicas)

    snap = k.json("snapshot", "snap1")
    check(snap.get("dir", "").endswith("snap1") and os.path.isdir(snap.get("dir", "")),
          "snapshot: dir, on disk: %s" % snap)
    # A server error: text on stderr, nothing on stdout, exit 2 as before.
    rc, out, err = k.run("-o", "json", "snapshot", "snap1")
    check(rc == 2 and out == b"" and "FAILED_PRECONDITION" in err,
          "snapshot of an existing name: exit 2, error on stderr only: %d %r %s" % (rc, out, err))

    k.json("put", "drop/1", "x")
    dropped = k.json("drop-keys", "--prefix", "drop/")
    check(dropped == {"dropped": "1"}, "drop-keys: dropped: %s" % dropped)

    status = k.json("status")
    members = status.get("members", [])
    check(status.get("healthy") is True and len(members) == 1, "status: healthy, 1 member: %s"
          % status)
    m = members[0] if members else {}
    check(m.get("id") == node_id and m.get("address") == addr and m.get("state") == "alive"
          and m.get("reachable") is True and m.get("healthy") is True and m.get("views") == {},
          "status: the member, alive: %s" % m)
    check(isinstance(m.get("keys"), int) and isinstance(m.get("stored_bytes"), int)
          and isinstance(m.get("uptime_seconds"), int) and isinstance(m.get("version"), str)
          and isinstance(m.get("ops_per_second"), (int, float)),
          "status: keys, stored_bytes, uptime_seconds, version, ops_per_second: %s" % m)

    # Unreachable: exit 3, UNAVAILABLE on stderr, nothing on stdout.
    closed = "127.0.0.1:%d" % free_port()
    rc, out, err = k.run("-o", "json", "--timeout", "2", "ping", addr=closed)
    check(rc == 3 and out == b"" and "UNAVAILABLE" in err,
          "ping of a closed port: exit 3, error on stderr only: %d %r %s" % (rc, out, err))

    rc, out, _ = k.run("-o", "json", "completion", "bash")
    check(rc == 0 and out.startswith(b"# bash completion"), "completion bash ignores -o json")


def check_leave(k, proc):
    """leave: one object per progress message; the last says how it ended."""
    progress = k.json("leave", "--force", lines=None)
    phases = [p.get("phase") for p in progress]
    check(len(progress) >= 1 and phases[-1] in ("done", "forced"),
          "leave: progress objects ending in done or forced: %s" % progress)
    check(all(is_count(p.get("keys_total")) and is_count(p.get("keys_moved"))
              and isinstance(p.get("pass"), int) for p in progress),
          "leave: every object has keys_total, keys_moved, pass: %s" % progress)
    wait_for("the node exits after its leave", lambda: proc.poll() is not None, seconds=15)


def main():
    bin_dir = sys.argv[1]
    work = tempfile.mkdtemp(prefix="kvctl-json-")
    port = free_port()
    addr = "127.0.0.1:%d" % port
    log = open(os.path.join(work, "kvstore.log"), "w")
    backup_dir = os.path.join(work, "backup")
    proc = subprocess.Popen([os.path.join(bin_dir, "kvstore"), "--addr", addr,
                             "--data-dir", os.path.join(work, "data"), "--backup-dir", backup_dir,
                             "--enable-test-hooks", "--sync", "none"],
                            stdout=log, stderr=subprocess.STDOUT)
    k = Kvctl(bin_dir, addr)
    try:
        if wait_for("kvstore answers ping on %s" % addr,
                    lambda: proc.poll() is None and k.run("ping")[0] == 0, seconds=15):
            node_id = k.json("ping").get("node", {}).get("id", "")
            check(len(node_id) == 40, "ping: a 40-hex node id: %r" % node_id)
            check_kv(k, node_id, work)
            check_admin(k, node_id, addr, backup_dir)
            check_leave(k, proc)
    finally:
        stop_process(proc, log)
        if failures:
            with open(os.path.join(work, "kvstore.log")) as f:
                print("kvstore log:\n" + f.read()[-3000:])
        shutil.rmtree(work, ignore_errors=True)
    if failures:
        print("FAIL: kvctl -o json: %d failed checks" % len(failures))
        return 1
    print("PASS: kvctl -o json: every command's lines parse and carry their fields")
    return 0


if __name__ == "__main__":
    sys.exit(main())
