"""Child processes of compare.py: the servers, and one-shot commands.

Every server is started through one Servers object so that one cleanup stops
them all; the kernel sends each SIGTERM if compare.py itself dies hard.
"""

import ctypes
import os
import signal
import socket
import subprocess
import time

_libc = ctypes.CDLL(None, use_errno=True)


def _die_with_parent():
    # PR_SET_PDEATHSIG: the kernel sends SIGTERM if this script dies hard.
    _libc.prctl(1, signal.SIGTERM, 0, 0, 0)


def pinned(cpus, args):
    """`args` run by taskset on the CPU list `cpus` (every thread they start
    inherits it)."""
    return ["taskset", "-c", cpus, *args]


class Servers:
    """Every server process started, so that one cleanup stops them all."""

    def __init__(self, tmp):
        self.tmp = tmp
        self.procs = []  # (name, Popen, log path)

    def start(self, name, args, cpus=None):
        """Starts `args` in the temp dir with its output in <name>.log, on the
        CPUs `cpus` ("0", taskset's list) when given; returns the Popen."""
        if cpus is not None:
            args = pinned(cpus, args)
        log = os.path.join(self.tmp, name + ".log")
        with open(log, "wb") as out:
            p = subprocess.Popen(args, stdin=subprocess.DEVNULL, stdout=out,
                                 stderr=subprocess.STDOUT, cwd=self.tmp,
                                 preexec_fn=_die_with_parent)
        self.procs.append((name, p, log))
        return p

    def cpu_seconds(self):
        """CPU time (user + system, all threads) the live servers have used
        since they started; a server that exited counts 0."""
        total = 0
        for _, p, _ in self.procs:
            try:
                with open(f"/proc/{p.pid}/stat") as f:
                    fields = f.read().rsplit(")", 1)[1].split()
            except (OSError, IndexError):
                continue
            total += int(fields[11]) + int(fields[12])  # utime, stime (fields 14, 15)
        return total / os.sysconf("SC_CLK_TCK")

    def check_alive(self):
        """True if every server still runs; prints the log tail of each that exited."""
        dead = [(n, p, log) for n, p, log in self.procs if p.poll() is not None]
        for n, p, log in dead:
            print(f"  ! {n} exited with {p.returncode}; last lines of {log}:")
            print("    " + "\n    ".join(tail(log, 8)))
        return not dead

    def stop_all(self):
        """SIGTERM to every live server, SIGKILL to any still there after 10 s."""
        live = [(n, p) for n, p, _ in self.procs if p.poll() is None]
        for _, p in live:
            p.terminate()
        deadline = time.monotonic() + 10
        for n, p in live:
            try:
                p.wait(timeout=max(0.1, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                print(f"  ! {n} ignored SIGTERM for 10 s; killing it")
                p.kill()
                p.wait()
        self.procs = []


def tail(path, n):
    """The last `n` lines of the file at `path` ([] if it cannot be read)."""
    try:
        with open(path, errors="replace") as f:
            return f.read().splitlines()[-n:]
    except OSError:
        return []


def free_port():
    """A TCP port on 127.0.0.1 that was free a moment ago."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_until(what, check, timeout):
    """Returns once check() is true; raises RuntimeError after `timeout` seconds."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if check():
            return
        time.sleep(0.2)
    raise RuntimeError(f"{what} not ready after {timeout:.0f} s")


def run_quiet(args, timeout):
    """subprocess.run with the output captured as text; raises TimeoutExpired."""
    return subprocess.run(args, stdin=subprocess.DEVNULL, capture_output=True, text=True,
                          timeout=timeout)


def cmd_out(args):
    """The stripped stdout of a short command; '' if it cannot run."""
    try:
        return run_quiet(args, 10).stdout.strip()
    except (OSError, subprocess.SubprocessError):
        return ""
