"""What the deploy checks share, without PyYAML: the list of failures,
check() and wait_for(), free ports, HTTP GETs, stopping a process, and a
kvstore node of this build with --metrics-addr, with kvctl to talk to it.

check() records a failed condition and goes on, so one run reports them
all; each test script exits 1 when `failures` is not empty.
"""
import os
import re
import shutil
import socket
import subprocess
import time
import urllib.error
import urllib.request

failures = []


def check(cond, what):
    if not cond:
        failures.append(what)
        print("  FAIL:", what)
    return cond


def wait_for(what, fn, seconds=30):
    """Polls fn until it is true; a failed check after `seconds`."""
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if fn():
            return True
        time.sleep(0.2)
    return check(False, "within %d s: %s" % (seconds, what))


def free_port():
    """A TCP port on 127.0.0.1 that was free a moment ago."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def http_get(port, path):
    """(status, body) of GET http://127.0.0.1:port/path; (None, why) when nothing answers."""
    try:
        with urllib.request.urlopen("http://127.0.0.1:%d%s" % (port, path), timeout=2) as r:
            return r.status, r.read().decode()
    except urllib.error.HTTPError as e:
        return e.code, e.read().decode()
    except OSError as e:
        return None, str(e)


def stop_process(proc, log):
    """SIGTERM, SIGKILL after 10 s, then closes its log file."""
    if proc.poll() is None:
        proc.terminate()
        try:
            proc.wait(10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
    log.close()


class Node:
    """A kvstore of `bin_dir` on free 127.0.0.1 ports, with --data-dir under
    `work` (the memory engine instead when not `durable`) and --metrics-addr
    (and --resp-addr on resp_port with `resp`), joining through `seed` (a
    Node) if given, with `extra` flags; its log is work/<name>.log."""

    def __init__(self, bin_dir, work, name, seed=None, resp=False, extra=(), durable=True):
        self.name, self.port, self.metrics_port = name, free_port(), free_port()
        self.resp_port = free_port() if resp else None
        self.log_path = os.path.join(work, name + ".log")
        self.log = open(self.log_path, "w")
        cmd = [os.path.join(bin_dir, "kvstore"), "--addr=127.0.0.1:%d" % self.port,
               "--metrics-addr=127.0.0.1:%d" % self.metrics_port]
        if durable:
            cmd.append("--data-dir=%s" % os.path.join(work, name))
        if seed:
            cmd.append("--peer=127.0.0.1:%d" % seed.port)
        if resp:
            cmd.append("--resp-addr=127.0.0.1:%d" % self.resp_port)
        cmd.extend(extra)
        self.proc = subprocess.Popen(cmd, stdout=self.log, stderr=subprocess.STDOUT)

    def metrics(self):
        status, body = http_get(self.metrics_port, "/metrics")
        return body if status == 200 else ""

    def alive_peers(self):
        m = re.search(r'^kvstore_peers\{state="alive"\} (\S+)$', self.metrics(), re.M)
        return float(m.group(1)) if m else 0

    def stop(self):
        stop_process(self.proc, self.log)


def missing_exit(missing):
    """For tests that need Debian packages: prints which of `missing` are not
    installed and returns the exit code, 1 in CI (CI=true, where make deps
    must have installed them) or 77 (skipped) elsewhere."""
    ci = os.environ.get("CI") == "true"
    print("%s: %s not installed (make deps installs them)" %
          ("FAIL" if ci else "SKIP", ", ".join(missing)))
    return 1 if ci else 77


def wait_formed(nodes, seconds=60):
    """Waits until every node sees every other alive (a node answers clients
    before it has joined, and would then read only itself)."""
    return all(wait_for("%s sees its %d peers alive" % (n.name, len(nodes) - 1),
                        lambda n=n: n.alive_peers() >= len(nodes) - 1, seconds=seconds)
               for n in nodes)


def kvctl(bin_dir, node, *args):
    """kvctl of `bin_dir` against `node` (5 s per call): a CompletedProcess."""
    return subprocess.run([os.path.join(bin_dir, "kvctl"), "--addr=127.0.0.1:%d" % node.port,
                           "--timeout=5", *args], stdout=subprocess.PIPE,
                          stderr=subprocess.STDOUT, text=True, timeout=30)


def stop_all(nodes, work):
    """Stops `nodes`; keeps `work` (their logs) when a check failed, else
    removes it."""
    for n in nodes:
        n.stop()
    if failures:
        print("node logs kept in", work)
    else:
        shutil.rmtree(work, ignore_errors=True)


def verdict(name):
    """Prints whether test `name` passed; returns its exit code."""
    if failures:
        print("FAILED: %d checks" % len(failures))
        return 1
    print("%s passed" % name)
    return 0
