"""Five hosts (six with a spare) as Linux network namespaces on one bridge,
one kvstore in each.

The subnet 10.213.0.0/24 exists only on the bridge `kvchaos0`: the root
namespace is 10.213.0.1 (so kvchaos and kvctl there reach every host) and
host i is 10.213.0.(10+i) in namespace `kvc-hi`. The namespaces have no
route beyond the subnet, so no traffic leaves it.

Every name this module creates starts with `kvc` (namespaces `kvc-h*`, root
ends of the veth pairs `kvc-h*b`, the bridge `kvchaos0`);
`Network.remove_leftovers` removes exactly those, and the processes inside
the namespaces, so a crashed run never blocks the next one.
"""

import ctypes
import os
import re
import signal
import subprocess
import time

BRIDGE = "kvchaos0"
PREFIX = "10.213.0"
PORT = 50051
NS_PREFIX = "kvc-h"
DEFAULT_FLAGS = {"--heartbeat-interval": "200ms", "--failure-timeout": "2s",
                 "--dead-after": "30s", "--anti-entropy-interval": "2s",
                 "--tombstone-grace": "60s", "--rpc-timeout": "800ms"}
_PR_SET_PDEATHSIG = 1
KVCTL_LEAVE_INCOMPLETE = 4  # kvctl leave: not every key handed off, the node stays
MAX_HOSTS = 9  # 10.213.0.11 .. 10.213.0.19
FAKETIME_LIB = "/usr/lib/x86_64-linux-gnu/faketime/libfaketime.so.1"
FUTEX_SHIM_SRC = os.path.join(os.path.dirname(os.path.abspath(__file__)), "futex_realtime.c")


def run(*cmd, check=True, timeout=30, **kw):
    """Runs `cmd`; returns the CompletedProcess. Raises on failure when `check`."""
    r = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout, **kw)
    if check and r.returncode != 0:
        raise RuntimeError(f"{' '.join(cmd)} failed ({r.returncode}): {r.stderr.strip()}")
    return r


def die_with_parent():
    """In the child before exec: SIGKILL when the runner dies, whatever the reason."""
    ctypes.CDLL(None, use_errno=True).prctl(_PR_SET_PDEATHSIG, signal.SIGKILL)


def namespaces_unavailable():
    """Why this machine cannot run the suite, or None when it can."""
    if os.geteuid() != 0:
        return "not root"
    for tool in ("ip", "nft"):
        if run("sh", "-c", f"command -v {tool}", check=False).returncode != 0:
            return f"`{tool}` not found; `make deps` installs iproute2 and nftables"
    probe = f"kvc-probe{os.getpid()}"
    r = run("ip", "netns", "add", probe, check=False)
    if r.returncode != 0:
        return f"ip netns add failed: {r.stderr.strip()}"
    try:
        r = run("ip", "netns", "exec", probe, "nft", "list", "tables", check=False)
        if r.returncode != 0:
            return f"nft cannot run in a namespace: {r.stderr.strip()}"
    finally:
        run("ip", "netns", "del", probe, check=False)
    return None


class Network:
    """The bridge, the namespaces and the veth pairs of `count` hosts."""

    def __init__(self, count=5):
        if not 1 <= count <= MAX_HOSTS:
            raise ValueError(f"{count} hosts: the subnet plan has room for 1..{MAX_HOSTS}")
        self.count = count

    @staticmethod
    def ns(i):
        return f"{NS_PREFIX}{i}"

    @staticmethod
    def ip(i):
        return f"{PREFIX}.{10 + i}"

    def setup(self):
        """Creates everything; raises (after removing what it made) on failure."""
        self._check_subnet_is_free()
        try:
            run("ip", "link", "add", BRIDGE, "type", "bridge")
            run("ip", "addr", "add", f"{PREFIX}.1/24", "dev", BRIDGE)
            run("ip", "link", "set", BRIDGE, "up")
            for i in range(1, self.count + 1):
                self._add_host(i)
        except BaseException:
            self.remove_leftovers()
            raise

    def _add_host(self, i):
        ns, veth = self.ns(i), f"{self.ns(i)}b"
        run("ip", "netns", "add", ns)
        run("ip", "link", "add", veth, "type", "veth", "peer", "name", "eth0", "netns", ns)
        run("ip", "link", "set", veth, "master", BRIDGE, "up")
        run("ip", "-n", ns, "addr", "add", f"{self.ip(i)}/24", "dev", "eth0")
        run("ip", "-n", ns, "link", "set", "eth0", "up")
        run("ip", "-n", ns, "link", "set", "lo", "up")

    def _check_subnet_is_free(self):
        out = run("ip", "-4", "-o", "addr", "show").stdout
        for line in out.splitlines():
            if f" {PREFIX}." in line and BRIDGE not in line:
                raise RuntimeError(f"{PREFIX}.0/24 is already used on this machine: {line}")

    @staticmethod
    def remove_leftovers():
        """Kills every process in a kvc-h* namespace, then deletes the namespaces,
        their links and the bridge. Safe to call when nothing exists."""
        names = run("ip", "netns", "list", check=False).stdout.split()
        ours = [n for n in names if n.startswith(NS_PREFIX) or n.startswith("kvc-probe")]
        for ns in ours:
            pids = run("ip", "netns", "pids", ns, check=False).stdout.split()
            for pid in pids:
                try:
                    os.kill(int(pid), signal.SIGKILL)
                except (ProcessLookupError, ValueError):
                    pass
        for ns in ours:
            run("ip", "netns", "del", ns, check=False)
        links = run("ip", "-o", "link", "show", check=False).stdout
        for name in re.findall(r"^\d+: (kvc-h\d+b)[@:]", links, re.M):
            run("ip", "link", "del", name, check=False)
        if re.search(rf"^\d+: {BRIDGE}[@:]", links, re.M):
            run("ip", "link", "del", BRIDGE, check=False)


def faketime_env(skew, shim):
    """`env` assignments that put a process's wall clock (CLOCK_REALTIME only)
    `skew` seconds off: libfaketime, and `shim` (futex_realtime.c) so abseil's
    timed waits still last what they should."""
    return [f"LD_PRELOAD={FAKETIME_LIB} {shim}", f"FAKETIME={skew:+d}s",
            "FAKETIME_DONT_FAKE_MONOTONIC=1"]


def build_futex_shim(out_dir):
    """Compiles futex_realtime.c into `out_dir` once; returns the library's path."""
    out = os.path.join(out_dir, "futex_realtime.so")
    if not os.path.exists(out):
        if not os.path.exists(FAKETIME_LIB):
            raise RuntimeError(f"{FAKETIME_LIB} not found; install Debian's `faketime`")
        run("cc", "-O2", "-shared", "-fPIC", "-o", out, FUTEX_SHIM_SRC, "-ldl")
    return out


class Hosts:
    """One kvstore per namespace, data and logs under `run_dir`.

    Hosts 1..count start as members; `spares` more hosts exist on the bridge
    for the membership nemesis to join. A host that left gets a fresh data dir
    (and so a new node id) when it joins again; the old one is kept as
    `data<i>.left<n>`. With `pki` (a certs.Pki) every kvstore serves TLS and
    every kvctl and kvchaos presents the client certificate; a node's ID is
    then its certificate's, the same whenever it starts, fresh or not.

    Not thread-safe: call from the thread that created it (children die with
    that thread through PR_SET_PDEATHSIG)."""

    def __init__(self, bins, run_dir, count=5, spares=0, extra_args=(), pki=None):
        self.bins, self.run_dir, self.pki = bins, run_dir, pki
        self.slots = count + spares
        self.members = set(range(1, count + 1))
        self.extra_args = list(extra_args)
        self.procs = {}  # host -> Popen while it should be running
        self.paused = set()
        self.skews = {}  # host -> seconds its running kvstore's wall clock is off
        self.leaving = {}  # host -> its `kvctl leave` Popen
        self.leaves = []  # one dict per finished leave (see finish_leave)
        self.crashes = []  # (host, exit code) of nodes that exited unasked

    def addr(self, i):
        return f"{Network.ip(i)}:{PORT}"

    def addrs(self):
        """The members' addresses: the cluster to settle, dump and read."""
        return [self.addr(i) for i in sorted(self.members)]

    def slot_addrs(self):
        """Every host's address, members or not: what the clients talk to."""
        return [self.addr(i) for i in range(1, self.slots + 1)]

    def log_path(self, i):
        return os.path.join(self.run_dir, f"n{i}.log")

    def data_dir(self, i):
        return os.path.join(self.run_dir, f"data{i}")

    def _seed(self, i):
        """The host i joins through: host 1 (host 2 for host 1) while it is a
        member, else the lowest other member."""
        usual = 2 if i == 1 else 1
        if usual in self.members:
            return usual
        return min((m for m in self.members if m != i), default=usual)

    def _args(self, i):
        """kvstore's command line; an extra `--flag=value` replaces the default one."""
        # kvctl runs in the root namespace (PREFIX.1), not on the node's
        # loopback: its leave needs --admin-from.
        flags = {"--addr": self.addr(i), "--peer": self.addr(self._seed(i)),
                 "--data-dir": self.data_dir(i), "--admin-from": f"{PREFIX}.1"}
        flags.update(DEFAULT_FLAGS)
        flags.update(a.split("=", 1) for a in self.extra_args)
        tls = self.pki.node_flags(i) if self.pki else []
        return [self.bins["kvstore"], *(f"{k}={v}" for k, v in flags.items()), *tls]

    def client(self, tool):
        """The start of a kvctl or kvchaos command line: the binary and, on
        TLS, the CA and client certificate."""
        return [self.bins[tool], *(self.pki.client_flags() if self.pki else [])]

    def command(self, i, skew=0):
        """The command that runs host i's kvstore, its wall clock `skew` s off."""
        env = ["env", *faketime_env(skew, build_futex_shim(self.run_dir))] if skew else []
        return ["ip", "netns", "exec", Network.ns(i), *env, *self._args(i)]

    def start(self, i, skew=0):
        cmd = self.command(i, skew)
        log = open(self.log_path(i), "ab")
        try:
            log.write(f"==== chaos: starting {' '.join(cmd)}\n".encode())
            log.flush()
            self.procs[i] = subprocess.Popen(
                cmd, stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                preexec_fn=die_with_parent)
        finally:
            log.close()
        if skew:
            self.skews[i] = skew
        else:
            self.skews.pop(i, None)

    def start_all(self):
        for i in sorted(self.members):
            self.start(i)

    def running(self, i):
        return i in self.procs

    def note_crashes(self):
        """Records nodes that exited while they should run (a kvstore crash).
        A leaving node's exit is finish_leave's to judge."""
        for i, p in list(self.procs.items()):
            if i not in self.leaving and p.poll() is not None:
                self.crashes.append((i, p.returncode))
                del self.procs[i]

    def kill(self, i):
        p = self.procs.pop(i, None)
        if p:
            p.kill()
            p.wait(timeout=10)
        self.paused.discard(i)
        self.skews.pop(i, None)

    def restart(self, i, skew=0):
        """Graceful stop, then start on the same data dir, the clock `skew` s off."""
        self.stop(i)
        self.start(i, skew)

    def join(self, i):
        """Host i, not a member, starts on a fresh data dir and joins through a member."""
        assert i not in self.members and i not in self.procs, f"host {i} is already in"
        self.members.add(i)
        self.start(i)

    def leave(self, i):
        """Starts host i's planned leave (`kvctl leave`, progress in leave-h<i>.log)."""
        with open(os.path.join(self.run_dir, f"leave-h{i}.log"), "a") as log:
            self.leaving[i] = subprocess.Popen(
                [*self.client("kvctl"), f"--addr={self.addr(i)}", "leave"], stdout=log,
                stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL, preexec_fn=die_with_parent)

    def finish_leave(self, i, timeout=30):
        """Waits (up to `timeout` s) for host i's leave to end and its kvstore to
        exit, stops it if not, and takes it out of the members. A leave that
        ended incomplete (kvctl exit 4) keeps the node in the cluster, as
        kvstore does: it stays a member, running. Returns (and appends to
        `leaves`) {host, kvctl_exit, node_exit, stopped, stayed, progress}."""
        deadline = time.monotonic() + timeout
        ctl = self.leaving.pop(i)
        node = self.procs.get(i)
        out = {"host": i, "kvctl_exit": None, "node_exit": None, "stopped": False,
               "stayed": False}
        try:
            out["kvctl_exit"] = ctl.wait(timeout=max(0.1, deadline - time.monotonic()))
        except subprocess.TimeoutExpired:
            pass
        if out["kvctl_exit"] == KVCTL_LEAVE_INCOMPLETE and node and node.poll() is None:
            out["stayed"] = True
            out["progress"] = self._last_leave_line(i)
            self.leaves.append(out)
            return out
        try:
            out["node_exit"] = node.wait(timeout=max(0.1, deadline - time.monotonic())) \
                if node else None
        except subprocess.TimeoutExpired:
            pass
        if ctl.poll() is None:
            ctl.kill()
            ctl.wait(timeout=10)
        if i in self.procs and self.procs[i].poll() is None:
            out["stopped"] = True
            out["node_exit"] = self.stop(i)
        self.procs.pop(i, None)
        self.skews.pop(i, None)
        self.members.discard(i)
        out["progress"] = self._last_leave_line(i)
        n = sum(1 for x in self.leaves if x["host"] == i) + 1
        if os.path.exists(self.data_dir(i)):
            os.rename(self.data_dir(i), f"{self.data_dir(i)}.left{n}")
        self.leaves.append(out)
        return out

    def _last_leave_line(self, i):
        try:
            with open(os.path.join(self.run_dir, f"leave-h{i}.log"), errors="replace") as f:
                lines = [x.strip() for x in f if x.strip()]
            return lines[-1] if lines else ""
        except OSError:
            return ""

    def pause(self, i):
        if i in self.procs:
            self.procs[i].send_signal(signal.SIGSTOP)
            self.paused.add(i)

    def resume(self, i):
        if i in self.procs:
            self.procs[i].send_signal(signal.SIGCONT)
        self.paused.discard(i)

    def stop(self, i, timeout=10):
        """Graceful stop of host i: SIGTERM (after SIGCONT), SIGKILL after `timeout`.
        Returns the exit code, or None if it was not running."""
        p = self.procs.pop(i, None)
        self.skews.pop(i, None)
        if p is None:
            return None
        if i in self.paused:
            p.send_signal(signal.SIGCONT)
            self.paused.discard(i)
        p.terminate()
        try:
            return p.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            p.kill()
            return p.wait(timeout=10)

    def stop_all(self, timeout=10):
        """Ends every leave, then SIGTERM (after SIGCONT) to every node, SIGKILL
        to those still up after `timeout`."""
        for p in self.leaving.values():
            if p.poll() is None:
                p.kill()
                p.wait(timeout=10)
        self.leaving.clear()
        for i in list(self.paused):
            self.resume(i)
        for p in self.procs.values():
            p.terminate()
        deadline = time.monotonic() + timeout
        for p in self.procs.values():
            try:
                p.wait(timeout=max(0.1, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                p.kill()
                p.wait(timeout=10)
        self.procs.clear()
        self.skews.clear()

    def kvctl(self, i, *args, timeout=2):
        """Runs kvctl against host i; returns (exit code, stdout)."""
        try:
            r = run(*self.client("kvctl"), f"--addr={self.addr(i)}", "--timeout=1", *args,
                    check=False, timeout=timeout + 1)
        except subprocess.TimeoutExpired:
            return -1, ""
        return r.returncode, r.stdout

    def peer_states(self, i):
        """[(id, address, state)] as host i lists its peers (`kvctl peers`;
        state alive, suspect, down or dead), or None when it does not answer."""
        code, out = self.kvctl(i, "peers")
        if code != 0:
            return None
        return re.findall(r"^(\w{40})\s+(\S+)\s+(\w+)\b", out, re.M)

    def alive_peers(self, i):
        """Addresses host i lists as alive, or None when it does not answer."""
        peers = self.peer_states(i)
        return None if peers is None else {a for _, a, st in peers if st == "alive"}

    def stat(self, i, name):
        """A counter of `kvctl stats` on host i, or None when it does not answer."""
        code, out = self.kvctl(i, "stats")
        m = re.search(rf"^{name}\s+(\d+)$", out, re.M) if code == 0 else None
        return int(m.group(1)) if m else None

    def tail(self, i, lines=20):
        try:
            with open(self.log_path(i), errors="replace") as f:
                return "".join(f.readlines()[-lines:])
        except OSError:
            return ""
