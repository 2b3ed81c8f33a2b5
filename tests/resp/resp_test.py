#!/usr/bin/env python3
"""The Redis-protocol front door (--resp-addr) against clients nobody here
wrote: Debian's redis-py (python3-redis) and redis-cli.

Three kvstore nodes of this build (--bin-dir) on free 127.0.0.1 ports, N=3,
each with --resp-addr. Writes go through one node's RESP port and reads
through another's; MSET/MGET across nodes, DEL and EXISTS counts, binary
keys and values, pipelines, SET EX/PX, TTL/PTTL, refused read-modify-write commands,
unknown commands, SELECT, KVSTORE.CONSISTENCY; over a raw socket: RESP3
after HELLO 3, inline commands, and a protocol error that closes only that
connection; with redis-cli: SET, GET, INFO, -3 (RESP3) and a --pipe import
of 10,000 keys. The nodes are always stopped.

Exit 0: pass, 1: fail, 77: skipped (python3-redis or redis-cli missing
outside CI; in CI, CI=true, they must be there).
Usage: tests/resp/resp_test.py --bin-dir DIR
"""
import argparse
import os
import shutil
import socket
import subprocess
import sys
import tempfile

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "deploy"))
from testlib import (Node, check, missing_exit, stop_all, verdict, wait_for,  # noqa: E402
                     wait_formed)



def raw(port, data, read_until_close=False, timeout=5):
    """Sends `data` over a fresh socket; returns what came back (all of it
    until the server closes, with read_until_close)."""
    with socket.create_connection(("127.0.0.1", port), timeout=timeout) as s:
        s.sendall(data)
        out = b""
        while True:
            try:
                chunk = s.recv(65536)
            except socket.timeout:
                break
            if not chunk:
                break
            out += chunk
            if not read_until_close and out.endswith(b"\r\n"):
                s.settimeout(0.3)
        return out


def redis_py_checks(redis, a, b):
    ra = redis.Redis(host="127.0.0.1", port=a.resp_port, socket_timeout=10)
    rb = redis.Redis(host="127.0.0.1", port=b.resp_port, socket_timeout=10)
    check(ra.ping() is True, "PING")
    check(ra.set("greeting", "hello") is True, "SET through node a")
    check(rb.get("greeting") == b"hello", "GET of it through node b")
    check(rb.get("missing") is None, "GET of a missing key is nil")
    binary_key, binary_value = b"k\x00\r\n caf\xc3\xa9", b"v\r\n\x00\xff" * 1000
    ra.set(binary_key, binary_value)
    check(rb.get(binary_key) == binary_value, "keys with CR, LF, NUL and binary values round-trip")
    try:
        ra.set(b"k\xff", "v")
        check(False, "a key that is not UTF-8 is refused")
    except redis.exceptions.ResponseError as e:
        check("not valid UTF-8" in str(e), "a key that is not UTF-8 is refused: %s" % e)
    check(ra.mset({"m1": "1", "m2": "2", "m3": "3"}) is True, "MSET")
    check(rb.mget(["m1", "m2", "nope", "m3"]) == [b"1", b"2", None, b"3"], "MGET across nodes")
    check(rb.exists("m1", "m2", "nope", "m1") == 3, "EXISTS counts (a repeated key twice)")
    check(ra.strlen("greeting") == 5 and ra.strlen("nope") == 0, "STRLEN")
    check(rb.delete("m1", "nope") == 1, "DEL counts the keys that existed")
    check(ra.get("m1") is None, "a deleted key reads as nil through the other node")
    check(ra.set("ttl", "x", ex=100) is True and rb.get("ttl") == b"x", "SET EX")
    check(ra.setex("ttl2", 100, "y") is True and rb.get("ttl2") == b"y", "SETEX")
    check(rb.ttl("ttl") in (99, 100) and rb.ttl("greeting") == -1 and rb.ttl("nope") == -2,
          "TTL through another node: %s, %s, %s" % (rb.ttl("ttl"), rb.ttl("greeting"),
                                                     rb.ttl("nope")))
    ra.set("short", "z", px=400)
    check(0 < rb.pttl("short") <= 400, "PTTL of a SET PX 400: %s" % rb.pttl("short"))
    wait_for("a key set with PX 400 expires", lambda: rb.get("short") is None, seconds=10)
    for call, what in ((lambda: ra.incr("n"), "INCR"), (lambda: ra.getset("g", "v"), "GETSET"),
                       (lambda: ra.set("g", "v", nx=True), "SET NX"),
                       (lambda: ra.expire("g", 10), "EXPIRE")):
        try:
            call()
            check(False, "%s is refused" % what)
        except redis.exceptions.ResponseError as e:
            check("not supported" in str(e),
                  "%s is refused with a reason: %s" % (what, e))
    try:
        ra.execute_command("FLUSHALL")
        check(False, "an unknown command is an error")
    except redis.exceptions.ResponseError as e:
        check(str(e).startswith("unknown command 'FLUSHALL'"), "unknown command: %s" % e)
    try:
        ra.execute_command("SELECT", "1")
        check(False, "SELECT 1 is refused")
    except redis.exceptions.ResponseError as e:
        check("out of range" in str(e), "SELECT 1: %s" % e)
    check(ra.execute_command("SELECT", "0") in (b"OK", True), "SELECT 0")
    check(ra.execute_command("KVSTORE.CONSISTENCY", "all") in (b"OK", True),
          "KVSTORE.CONSISTENCY all")
    check(ra.get("greeting") == b"hello", "GET at ALL")
    check(ra.execute_command("KVSTORE.CONSISTENCY") == b"all", "the connection's consistency")
    # A pipeline of 2,000 commands: replies in order.
    pipe = rb.pipeline(transaction=False)
    for i in range(1000):
        pipe.set("p%d" % i, "v%d" % i)
        pipe.get("p%d" % i)
    replies = pipe.execute()
    check(replies[0::2] == [True] * 1000 and replies[1::2] == [b"v%d" % i for i in range(1000)],
          "a pipeline of 2,000 SETs and GETs answers in order")
    loc = rb.execute_command("KVSTORE.LOCATE", "greeting")
    fields = dict(zip(loc[0::2], loc[1::2]))
    replicas = [dict(zip(r[0::2], r[1::2])) for r in fields.get(b"replicas", [])]
    check(fields.get(b"replication_factor") == 3 and len(replicas) == 3 and
          all(r[b"holds"] == 1 and r[b"reachable"] == 1 for r in replicas),
          "KVSTORE.LOCATE names 3 replicas that all hold the key: %s" % loc)
    info = ra.info()
    check(info.get("redis_version") == "7.0.0" and "kvstore_version" in info,
          "INFO server: %s" % {k: info.get(k) for k in ("redis_version", "kvstore_version")})
    check(ra.dbsize() >= 1000, "DBSIZE counts this node's keys: %s" % ra.dbsize())
    ra.client_setname("tester")
    check(ra.client_getname() == "tester" or ra.client_getname() == b"tester", "CLIENT SETNAME")
    print("  redis-py: SET/GET/MSET/MGET/DEL/EXISTS across nodes, binary data, pipelines, "
          "refused atomics, INFO, DBSIZE")


def raw_checks(a):
    out = raw(a.resp_port, b"HELLO 3\r\nGET nope\r\nPING\r\n")
    check(out.startswith(b"%7\r\n") and b"_\r\n+PONG\r\n" in out,
          "HELLO 3 answers a map, then RESP3 nulls: %r" % out[-40:])
    out = raw(a.resp_port, b"PING\r\nECHO hi\r\n")
    check(out == b"+PONG\r\n$2\r\nhi\r\n", "inline commands: %r" % out)
    out = raw(a.resp_port, b"*1\r\n$x\r\nPING\r\n", read_until_close=True)
    check(out.startswith(b"-ERR Protocol error") and out.endswith(b"\r\n"),
          "a malformed frame gets an error, then the connection closes: %r" % out)
    out = raw(a.resp_port, b"PING\r\n")
    check(out == b"+PONG\r\n", "other connections go on serving: %r" % out)
    # A client that pipelines 20,000 SETs before reading a byte.
    payload = b"".join(b"*3\r\n$3\r\nSET\r\n$6\r\nbp%04d\r\n$3\r\nval\r\n" % (i % 10000)
                       for i in range(20000))
    with socket.create_connection(("127.0.0.1", a.resp_port), timeout=30) as s:
        s.sendall(payload)
        got = b""
        while got.count(b"\r\n") < 20000:
            chunk = s.recv(1 << 16)
            if not chunk:
                break
            got += chunk
    check(got == b"+OK\r\n" * 20000, "20,000 pipelined SETs sent before reading: all +OK")
    print("  raw socket: RESP3 after HELLO 3, inline commands, a protocol error closes one "
          "connection, 20,000 pipelined commands")


def redis_cli_checks(a, b):
    cli = ["redis-cli", "-h", "127.0.0.1"]

    def run(port, *args, stdin=None):
        return subprocess.run(cli + ["-p", str(port), *args], input=stdin, capture_output=True,
                              timeout=60)

    r = run(a.resp_port, "SET", "cli", "value")
    check(r.stdout.strip() == b"OK", "redis-cli SET: %r" % r.stdout)
    r = run(b.resp_port, "GET", "cli")
    check(r.stdout.strip() == b"value", "redis-cli GET through another node: %r" % r.stdout)
    r = run(a.resp_port, "-3", "GET", "nope")
    check(r.returncode == 0 and r.stdout.strip() in (b"(nil)", b""),
          "redis-cli -3 (RESP3): %r %r" % (r.stdout, r.stderr))
    r = run(a.resp_port, "INFO", "server")
    check(b"redis_version:7.0.0" in r.stdout, "redis-cli INFO")
    lines = b"".join(b"*3\r\n$3\r\nSET\r\n$%d\r\n%s\r\n$1\r\nx\r\n" % (len(k), k)
                     for k in (b"pipe:%05d" % i for i in range(10000)))
    r = run(a.resp_port, "--pipe", stdin=lines)
    check(r.returncode == 0 and b"errors: 0, replies: 10000" in r.stdout,
          "redis-cli --pipe imports 10,000 keys: %r" % r.stdout[-200:])
    r = run(b.resp_port, "GET", "pipe:09999")
    check(r.stdout.strip() == b"x", "the last imported key reads through another node")
    print("  redis-cli: SET, GET, -3, INFO, --pipe of 10,000 keys")


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--bin-dir", required=True)
    args = ap.parse_args()
    try:
        import redis
    except ImportError:
        redis = None
    missing = [what for what, ok in (("python3-redis", redis is not None),
                                     ("redis-tools", shutil.which("redis-cli"))) if not ok]
    if missing:
        return missing_exit(missing)
    work = tempfile.mkdtemp(prefix="kv-resp-")
    nodes = []
    try:
        nodes.append(Node(args.bin_dir, work, "n0", resp=True))
        for i in (1, 2):
            nodes.append(Node(args.bin_dir, work, "n%d" % i, seed=nodes[0], resp=True))

        def answers(n):
            try:
                return raw(n.resp_port, b"PING\r\n", timeout=1) == b"+PONG\r\n"
            except OSError:
                return False
        for n in nodes:
            if not wait_for("%s answers PING on its RESP port" % n.name, lambda: answers(n)):
                return 1
        if not wait_formed(nodes):
            return 1
        # A write at QUORUM needs the cluster formed: retry the first one.
        wait_for("a first SET through n0 succeeds", lambda: raw(
            nodes[0].resp_port, b"SET warm up\r\n") == b"+OK\r\n", seconds=60)
        redis_py_checks(redis, nodes[0], nodes[2])
        raw_checks(nodes[1])
        redis_cli_checks(nodes[0], nodes[1])
    finally:
        stop_all(nodes, work)
    return verdict("resp test")


if __name__ == "__main__":
    sys.exit(main())
