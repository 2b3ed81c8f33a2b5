#!/usr/bin/env python3
"""The Redis-protocol front door of a TLS cluster with an --auth-file, against
Debian's redis-py and redis-cli.

Throwaway certificates (scripts/tls-certs.sh): two member nodes, each with
--cert-file/--key-file/--trusted-ca-file, --auth-file and --resp-addr; n1
also has --client-cert-auth. Checks:
  - the RESP port speaks TLS only (a plaintext client gets no reply);
  - before AUTH only AUTH, HELLO and QUIT run (NOAUTH);
  - a token's role and key prefix bound what it may touch (NOPERM), in
    redis-py and in redis-cli --tls --user --pass;
  - a client certificate whose CN the auth file lists needs no AUTH;
  - with --client-cert-auth, a client without a certificate cannot connect,
    and one from another CA neither;
  - a key written over RESP reads through kvctl (gRPC, --cacert --token);
  - a renewed certificate is served without a restart (--cert-reload-interval).
The nodes are always stopped.

Exit 0: pass, 1: fail, 77: skipped (python3-redis, redis-cli or openssl
missing outside CI).
Usage: tests/resp/resp_tls_test.py --bin-dir DIR --certs-script scripts/tls-certs.sh
"""
import argparse
import os
import shutil
import socket
import ssl
import subprocess
import sys
import tempfile

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "deploy"))
from testlib import (Node, check, missing_exit, stop_all, verdict, wait_for,  # noqa: E402
                     wait_formed)

WRITE_TOKEN, READ_TOKEN = "w-3f1c9a", "r-77d2e0"


def make_certs(script, d):
    def run(*args):
        subprocess.run(["bash", script, *args], check=True, capture_output=True)
    run("ca", d)
    for name, cn in (("n0", "node"), ("n1", "node"), ("alice", "alice"), ("bob", "bob")):
        run("cert", d, name, cn)
    run("ca", os.path.join(d, "other"))
    run("cert", os.path.join(d, "other"), "alice", "alice")


def write_auth_file(path):
    import hashlib
    sha = lambda t: hashlib.sha256(t.encode()).hexdigest()  # noqa: E731
    with open(path, "w") as f:
        f.write("token-sha256:%s write app/\n" % sha(WRITE_TOKEN))
        f.write("token-sha256:%s read\n" % sha(READ_TOKEN))
        f.write("cn:alice write\n")


def tls_flags(d, name, auth_file):
    return ["--cert-file=%s/%s.crt" % (d, name), "--key-file=%s/%s.key" % (d, name),
            "--trusted-ca-file=%s/ca.crt" % d, "--auth-file=%s" % auth_file]


def client(redis, port, d, cert=None, ca=None, **kw):
    return redis.Redis(host="127.0.0.1", port=port, socket_timeout=10, ssl=True,
                       ssl_ca_certs=ca or os.path.join(d, "ca.crt"),
                       ssl_certfile=os.path.join(d, cert + ".crt") if cert else None,
                       ssl_keyfile=os.path.join(d, cert + ".key") if cert else None, **kw)


def error_of(fn):
    try:
        fn()
    except Exception as e:  # noqa: BLE001 - the message is what is checked
        return str(e)
    return ""


def plaintext_checks(n):
    with socket.create_connection(("127.0.0.1", n.resp_port), timeout=5) as s:
        s.sendall(b"PING\r\n")
        try:
            got = s.recv(100)
        except OSError:
            got = b""
    check(b"PONG" not in got, "a plaintext client gets no RESP reply from a TLS port: %r" % got)


def token_checks(redis, n, d):
    anon = client(redis, n.resp_port, d)
    check("Authentication required" in error_of(lambda: anon.get("app/k")),
          "GET before AUTH: NOAUTH")
    check("invalid username-password" in error_of(
        lambda: client(redis, n.resp_port, d, password="nope").ping()), "a wrong token: WRONGPASS")
    w = client(redis, n.resp_port, d, password=WRITE_TOKEN)
    check(w.set("app/k", "v1") is True, "the write token SETs under its prefix app/")
    check(w.get("app/k") == b"v1", "and GETs it back")
    e = error_of(lambda: w.set("other", "x"))
    check("may only touch keys starting with 'app/'" in e, "outside its prefix: NOPERM: %s" % e)
    r = client(redis, n.resp_port, d, username="default", password=READ_TOKEN)
    check(r.get("app/k") == b"v1", "the read token GETs (AUTH username token)")
    e = error_of(lambda: r.set("app/k", "x"))
    check("role read, which cannot write" in e, "the read token cannot SET: %s" % e)
    check(r.get("app/k") == b"v1", "the refused SET changed nothing")


def certificate_checks(redis, n0, n1, d):
    alice = client(redis, n0.resp_port, d, cert="alice")
    check(alice.set("any", "from-alice") is True, "a listed certificate (cn:alice) needs no AUTH")
    bob = client(redis, n0.resp_port, d, cert="bob")
    check("Authentication required" in error_of(lambda: bob.get("any")),
          "an unlisted certificate (cn:bob) still needs AUTH")
    check(client(redis, n0.resp_port, d, cert="bob", password=WRITE_TOKEN).get("app/k") == b"v1",
          "which a token gives it")
    # n1 has --client-cert-auth.
    check(error_of(lambda: client(redis, n1.resp_port, d, password=WRITE_TOKEN).ping()) != "",
          "--client-cert-auth: a client without a certificate cannot connect")
    other = os.path.join(d, "other")
    check(error_of(lambda: redis.Redis(
        host="127.0.0.1", port=n1.resp_port, socket_timeout=10, ssl=True,
        ssl_ca_certs=os.path.join(d, "ca.crt"), ssl_certfile=os.path.join(other, "alice.crt"),
        ssl_keyfile=os.path.join(other, "alice.key")).ping()) != "",
        "--client-cert-auth: a certificate from another CA cannot connect")
    got = client(redis, n1.resp_port, d, cert="alice").get("any")
    check(got == b"from-alice",
          "--client-cert-auth: alice's certificate reads through n1 what she wrote through n0 "
          "(got %r)" % got)


def cli_and_kvctl_checks(bin_dir, n0, d):
    cli = ["redis-cli", "-h", "127.0.0.1", "-p", str(n0.resp_port), "--tls", "--cacert",
           os.path.join(d, "ca.crt"), "--no-auth-warning"]
    r = subprocess.run(cli + ["--user", "default", "--pass", WRITE_TOKEN, "SET", "app/cli", "c"],
                       capture_output=True, timeout=60)
    check(r.stdout.strip() == b"OK", "redis-cli --tls --user --pass SET: %r %r" % (r.stdout, r.stderr))
    r = subprocess.run(cli + ["GET", "app/cli"], capture_output=True, timeout=60)
    check(b"NOAUTH" in r.stdout + r.stderr, "redis-cli --tls without a token: NOAUTH")
    r = subprocess.run([os.path.join(bin_dir, "kvctl"), "--addr=127.0.0.1:%d" % n0.port,
                        "--cacert", os.path.join(d, "ca.crt"), "--token", READ_TOKEN,
                        "--timeout=5", "get", "app/cli"], capture_output=True, text=True,
                       timeout=30)
    check(r.returncode == 0 and "c" in r.stdout.split(),
          "kvctl (gRPC, the same token) reads the key redis-cli wrote: %r %r"
          % (r.stdout, r.stderr))


def served_certificate(port, d):
    """The DER certificate the RESP port presents (b"" when it does not answer)."""
    try:
        ctx = ssl.create_default_context(cafile=os.path.join(d, "ca.crt"))
        ctx.load_cert_chain(os.path.join(d, "alice.crt"), os.path.join(d, "alice.key"))
        with socket.create_connection(("127.0.0.1", port), timeout=2) as raw:
            with ctx.wrap_socket(raw, server_hostname="localhost") as s:
                return s.getpeercert(binary_form=True)
    except OSError:
        return b""


def reload_checks(script, n0, d):
    before = served_certificate(n0.resp_port, d)
    subprocess.run(["bash", script, "cert", d, "n0", "node"], check=True, capture_output=True)
    with open(os.path.join(d, "n0.crt")) as f:
        renewed = ssl.PEM_cert_to_DER_cert(f.read())
    check(renewed != before, "the renewal made a new certificate")
    wait_for("the RESP port serves the renewed certificate without a restart",
             lambda: served_certificate(n0.resp_port, d) == renewed)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--bin-dir", required=True)
    ap.add_argument("--certs-script", required=True)
    args = ap.parse_args()
    try:
        import redis
    except ImportError:
        redis = None
    missing = [what for what, ok in (("python3-redis", redis is not None),
                                     ("redis-tools", shutil.which("redis-cli")),
                                     ("openssl", shutil.which("openssl"))) if not ok]
    if missing:
        return missing_exit(missing)
    work = tempfile.mkdtemp(prefix="kv-resp-tls-")
    d = os.path.join(work, "tls")
    make_certs(args.certs_script, d)
    auth = os.path.join(work, "auth")
    write_auth_file(auth)
    nodes = []
    try:
        nodes.append(Node(args.bin_dir, work, "n0", resp=True,
                          extra=tls_flags(d, "n0", auth) + ["--cert-reload-interval=1s"]))
        nodes.append(Node(args.bin_dir, work, "n1", seed=nodes[0], resp=True,
                          extra=tls_flags(d, "n1", auth) + ["--client-cert-auth"]))

        def answers(n):
            try:
                ctx = ssl.create_default_context(cafile=os.path.join(d, "ca.crt"))
                ctx.load_cert_chain(os.path.join(d, "alice.crt"), os.path.join(d, "alice.key"))
                with socket.create_connection(("127.0.0.1", n.resp_port), timeout=2) as raw:
                    with ctx.wrap_socket(raw, server_hostname="localhost") as s:
                        s.sendall(b"PING\r\n")
                        return s.recv(100) == b"+PONG\r\n"
            except OSError:
                return False
        for n in nodes:
            if not wait_for("%s answers PING over TLS on its RESP port" % n.name,
                            lambda: answers(n)):
                return 1
        if not wait_formed(nodes):
            return 1
        w = client(redis, nodes[0].resp_port, d, password=WRITE_TOKEN)

        def first_write():
            try:
                return w.set("app/warm", "up") is True
            except redis.exceptions.RedisError:
                return False
        wait_for("a first SET through n0 succeeds", first_write, seconds=60)
        plaintext_checks(nodes[0])
        token_checks(redis, nodes[0], d)
        certificate_checks(redis, nodes[0], nodes[1], d)
        cli_and_kvctl_checks(args.bin_dir, nodes[0], d)
        reload_checks(args.certs_script, nodes[0], d)
        print("  TLS only; NOAUTH, WRONGPASS, NOPERM by role and prefix; listed certificates; "
              "--client-cert-auth; redis-cli --tls; kvctl reads the same key; a renewed "
              "certificate served without a restart")
    finally:
        stop_all(nodes, work)
    return verdict("resp tls test")


if __name__ == "__main__":
    sys.exit(main())
