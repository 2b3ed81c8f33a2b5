"""Who else used the CPU while a point ran, read from /proc.

The benchmark loads both cores itself (a server and a load generator), so the
load average cannot tell whether something else competed with it. Instead a
`Window` snapshots /proc/stat and every /proc/<pid>/stat before and after a
point, and splits the CPU time used in between into:

  own      compare.py and its descendants (the servers it started, the load
           generator, kvctl, ...): the benchmark itself;
  kernel   kernel threads (ksoftirqd, kworker, ...): mostly work done on the
           benchmark's behalf (loopback networking, writeback); reported, not
           counted as noise;
  others   every other process: what disturbed the point, plus any CPU time
           /proc/stat counted that no visible process accounts for (a
           process in another PID namespace).

A process that exits during the window is accounted through the parent that
reaps it (the kernel adds a reaped child's time to its parent's cutime and
cstime), so a compiler that runs for two seconds between the snapshots still
counts, charged to the `make` that waited for it.

Steal (time the hypervisor gave another guest) comes from /proc/stat.
A point is noisy when others used more than NOISY_OTHERS_CORES of one core or
steal exceeded NOISY_STEAL_PCT of the CPU time.
"""

import os
import time

NOISY_OTHERS_CORES = 0.10  # others' CPU, as a fraction of one core
NOISY_STEAL_PCT = 5.0  # steal, percent of all CPU time of the window
TOP_N = 5  # other processes listed per point
PF_KTHREAD = 0x00200000  # /proc/<pid>/stat flags: a kernel thread


class Proc:
    """One /proc/<pid>/stat line: the fields the window needs."""

    __slots__ = ("pid", "ppid", "comm", "kthread", "ticks", "start")

    def __init__(self, pid, ppid, comm, kthread, ticks, start):
        self.pid, self.ppid, self.comm = pid, ppid, comm
        self.kthread, self.ticks, self.start = kthread, ticks, start

    @property
    def key(self):
        """(pid, start time): a pid reused during the window is a new process."""
        return (self.pid, self.start)


def parse_pid_stat(text):
    """A Proc from the text of /proc/<pid>/stat; None if it is not one.

    ticks = utime + stime + cutime + cstime: the process's own CPU time plus
    that of the children it has reaped, in clock ticks."""
    try:
        pid = int(text.split(" (", 1)[0])
        comm = text[text.index("(") + 1:text.rindex(")")]  # may hold spaces and ')'
        f = text[text.rindex(")") + 2:].split()
        # f[0] is field 3 (state): ppid 4, flags 9, utime 14 ... cstime 17, starttime 22.
        return Proc(pid, int(f[1]), comm, bool(int(f[6]) & PF_KTHREAD),
                    sum(int(x) for x in f[11:15]), int(f[19]))
    except (ValueError, IndexError):
        return None


def parse_cpu_line(text):
    """{'busy', 'steal', 'total'} in clock ticks, summed over all CPUs, from the
    text of /proc/stat. busy is user + nice + system (irq and softirq time are
    left out: some kernels also charge it to the interrupted process); guest
    time is already inside user."""
    for line in text.splitlines():
        if line.startswith("cpu "):
            v = [int(x) for x in line.split()[1:]] + [0] * 8
            user, nice, system, idle, iowait, irq, softirq, steal = v[:8]
            return {"busy": user + nice + system, "steal": steal,
                    "total": user + nice + system + idle + iowait + irq + softirq + steal}
    raise ValueError("no 'cpu ' line in /proc/stat")


class Snapshot:
    """The CPU counters and every process at one moment."""

    def __init__(self, proc_root="/proc", clock=time.monotonic):
        self.t = clock()
        self.cpu = parse_cpu_line(_read(os.path.join(proc_root, "stat")))
        self.load_1m = float(_read(os.path.join(proc_root, "loadavg")).split()[0])
        self.procs = {}
        for name in os.listdir(proc_root):
            if not name.isdigit():
                continue
            try:
                p = parse_pid_stat(_read(os.path.join(proc_root, name, "stat")))
            except OSError:  # exited since listdir
                continue
            if p is not None:
                self.procs[p.pid] = p

    def descendants(self, root):
        """The pids of `root` and of every process below it."""
        children = {}
        for p in self.procs.values():
            children.setdefault(p.ppid, []).append(p.pid)
        out, todo = set(), [root]
        while todo:
            pid = todo.pop()
            if pid not in out:
                out.add(pid)
                todo.extend(children.get(pid, ()))
        return out


def _read(path):
    with open(path) as f:
        return f.read()


def cpu_deltas(before, after):
    """{key: ticks used between the two snapshots} for each process alive in
    `after`. A process gone by `after` was reaped by an ancestor, whose cutime
    now holds its whole life: its ticks at `before` are taken off the nearest
    ancestor still alive, so that only the window's time is counted."""
    end_keys = {p.key: p for p in after.procs.values()}
    delta = {k: p.ticks for k, p in end_keys.items()}
    for k, p in end_keys.items():
        b = before.procs.get(p.pid)
        if b is not None and b.key == k:
            delta[k] -= b.ticks
    for b in before.procs.values():
        if b.key in end_keys:
            continue
        heir = before.procs.get(b.ppid)
        seen = 0
        while heir is not None and heir.key not in end_keys and seen < 64:
            heir, seen = before.procs.get(heir.ppid), seen + 1
        if heir is not None and heir.key in end_keys:
            delta[heir.key] -= b.ticks
    return {k: max(0, d) for k, d in delta.items()}


def summarize(before, after, own_root, hz=None):
    """The window between two snapshots as the dict recorded with a point:
    others_cpu (every other process, unattributed_cpu included), own_cpu,
    kernel_cpu, unattributed_cpu (the part of others_cpu /proc/stat counted
    but no visible process did), all as fractions of one core;
    steal_pct, load_avg_1m_before/after, others_top [{pid, comm, cpu}],
    window_sec, noisy and noise_reason (None when quiet)."""
    hz = hz or os.sysconf("SC_CLK_TCK")
    sec = max(after.t - before.t, 1e-6)
    delta = cpu_deltas(before, after)
    own = after.descendants(own_root)
    ticks = {"own": 0, "kernel": 0, "others": 0}
    others = []
    for k, d in delta.items():
        p = after.procs[k[0]]
        kind = "own" if p.pid in own else "kernel" if p.kthread else "others"
        ticks[kind] += d
        if kind == "others" and d > 0:
            others.append((d, p))
    others.sort(key=lambda x: -x[0])
    # CPU time /proc/stat saw used that no visible process accounts for (a
    # process in another PID namespace, or one reaped by an invisible parent):
    # someone else's too.
    ticks["unattributed"] = max(0, after.cpu["busy"] - before.cpu["busy"] - sum(ticks.values()))
    cores = {k: round(v / hz / sec, 3) for k, v in ticks.items()}
    total = max(1, after.cpu["total"] - before.cpu["total"])
    out = {"window_sec": round(sec, 2),
           "others_cpu": round(cores["others"] + cores["unattributed"], 3),
           "own_cpu": cores["own"], "kernel_cpu": cores["kernel"],
           "unattributed_cpu": cores["unattributed"],
           "steal_pct": round(100 * (after.cpu["steal"] - before.cpu["steal"]) / total, 2),
           "load_avg_1m_before": before.load_1m, "load_avg_1m_after": after.load_1m,
           "others_top": [{"pid": p.pid, "comm": p.comm, "cpu": round(d / hz / sec, 3)}
                          for d, p in others[:TOP_N]]}
    out["noise_reason"] = noise_reason(out)
    out["noisy"] = out["noise_reason"] is not None
    return out


def noise_reason(w):
    """Why the window `w` (a summarize() dict) is noisy, in a few words; None
    when it is quiet."""
    why = []
    if w["others_cpu"] > NOISY_OTHERS_CORES:
        top = [f"{p['comm']} {p['cpu']:.2f}" for p in w["others_top"][:3] if p["cpu"] >= 0.02]
        if w.get("unattributed_cpu", 0) >= 0.02:
            top.append(f"not in /proc {w['unattributed_cpu']:.2f}")
        top = ", ".join(top)
        why.append(f"others used {w['others_cpu']:.2f} of a core" + (f" ({top})" if top else ""))
    if w["steal_pct"] > NOISY_STEAL_PCT:
        why.append(f"steal {w['steal_pct']:.1f}%")
    return "; ".join(why) or None


class Window:
    """Samples what else ran during a `with` block:

        with noise.Window() as w:
            run_the_point()
        w.result  # the summarize() dict

    own_root: the pid whose descendants are the benchmark (default: this
    process). The block's own exceptions pass through; result stays None."""

    def __init__(self, own_root=None, proc_root="/proc"):
        self.own_root = own_root or os.getpid()
        self.proc_root = proc_root
        self.before = None
        self.result = None

    def __enter__(self):
        self.before = Snapshot(self.proc_root)
        return self

    def __exit__(self, exc_type, exc, tb):
        if exc_type is None:
            self.result = summarize(self.before, Snapshot(self.proc_root), self.own_root)
        return False
