"""What the deploy checks share, without PyYAML: the list of failures,
check() and wait_for(), free ports, HTTP GETs and stopping a node.

check() records a failed condition and goes on, so one run reports them
all; each test script exits 1 when `failures` is not empty.
"""
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
