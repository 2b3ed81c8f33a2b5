"""Unit tests of noise.py: a fake /proc tree, and one real busy process."""

import os
import select
import subprocess
import sys
import tempfile
import unittest
from unittest import mock

import noise

HZ = 100
COMPARE, SERVER, MAKE, CC1, CC2, KWORKER = 100, 101, 200, 201, 202, 300


def pid_stat(pid, comm, ppid, ticks=(0, 0, 0, 0), start=1, kthread=False):
    """The text of /proc/<pid>/stat with the fields noise.py reads."""
    utime, stime, cutime, cstime = ticks
    flags = noise.PF_KTHREAD if kthread else 0
    return (f"{pid} ({comm}) S {ppid} {pid} {pid} 0 -1 {flags} 0 0 0 0 {utime} {stime} "
            f"{cutime} {cstime} 20 0 1 0 {start} 1000 100\n")


class FakeProc:
    """A /proc tree in a temp dir: write() replaces its whole content."""

    def __init__(self):
        self.dir = tempfile.TemporaryDirectory()
        self.root = self.dir.name

    def write(self, cpu, load, procs):
        """cpu: (user, nice, system, idle, iowait, irq, softirq, steal) ticks;
        procs: {pid: pid_stat text}."""
        for name in os.listdir(self.root):
            path = os.path.join(self.root, name)
            if name.isdigit():
                os.remove(os.path.join(path, "stat"))
                os.rmdir(path)
        with open(os.path.join(self.root, "stat"), "w") as f:
            f.write("cpu  " + " ".join(map(str, cpu)) + " 0 0\ncpu0 1 2 3 4\n")
        with open(os.path.join(self.root, "loadavg"), "w") as f:
            f.write(f"{load:.2f} 1.00 1.00 3/200 999\n")
        for pid, text in procs.items():
            os.mkdir(os.path.join(self.root, str(pid)))
            with open(os.path.join(self.root, str(pid), "stat"), "w") as f:
                f.write(text)

    def snapshot(self, t):
        return noise.Snapshot(self.root, clock=lambda: t)


def before_procs():
    return {1: pid_stat(1, "init", 0),
            COMPARE: pid_stat(COMPARE, "python3", 1, (50, 5, 0, 0)),
            SERVER: pid_stat(SERVER, "kvstore", COMPARE, (10, 10, 0, 0)),
            MAKE: pid_stat(MAKE, "make", 1, (2, 0, 100, 0)),
            CC1: pid_stat(CC1, "cc1plus", MAKE, (400, 100, 0, 0), start=7),
            KWORKER: pid_stat(KWORKER, "kworker/0:1", 2, (0, 4, 0, 0), kthread=True)}


def after_procs():
    """One second later: kvbench ran and was reaped by compare.py (40 ticks),
    the server used 60, cc1plus ran 30 more and was reaped by make, a new
    cc1plus ran 20, make itself 1, the kernel thread 3."""
    return {1: pid_stat(1, "init", 0),
            COMPARE: pid_stat(COMPARE, "python3", 1, (55, 5, 30, 10)),
            SERVER: pid_stat(SERVER, "kvstore", COMPARE, (50, 30, 0, 0)),
            MAKE: pid_stat(MAKE, "make", 1, (3, 0, 100 + 530, 0)),
            CC2: pid_stat(CC2, "cc1plus", MAKE, (20, 0, 0, 0), start=90),
            KWORKER: pid_stat(KWORKER, "kworker/0:1", 2, (0, 7, 0, 0), kthread=True)}


BUSY = 5 + 40 + 60 + 31 + 20 + 3  # ticks every process above used in the window


class ParseTest(unittest.TestCase):
    def test_comm_with_spaces_and_parentheses(self):
        p = noise.parse_pid_stat(pid_stat(42, "tmux: server (1)", 7, (1, 2, 3, 4), start=9))
        self.assertEqual((p.pid, p.comm, p.ppid, p.ticks, p.start, p.kthread),
                         (42, "tmux: server (1)", 7, 10, 9, False))

    def test_garbage_is_not_a_process(self):
        self.assertIsNone(noise.parse_pid_stat("not a stat line"))

    def test_cpu_line_leaves_out_irq_and_counts_steal(self):
        c = noise.parse_cpu_line("cpu  10 1 5 100 2 3 4 7 0 0\ncpu0 1 1 1 1\n")
        self.assertEqual(c, {"busy": 16, "steal": 7, "total": 132})


class WindowTest(unittest.TestCase):
    def setUp(self):
        self.proc = FakeProc()
        self.addCleanup(self.proc.dir.cleanup)

    def window(self, busy=BUSY, steal=0, procs_after=None):
        """Summary of a 1 s window on 2 cores (200 ticks) from before_procs()
        to procs_after (default after_procs())."""
        self.proc.write((1000, 0, 500, 5000, 0, 0, 0, 0), 1.5, before_procs())
        b = self.proc.snapshot(10.0)
        self.proc.write((1000 + busy, 0, 500, 5000 + 200 - busy - steal, 0, 0, 0, steal), 2.5,
                        procs_after or after_procs())
        a = self.proc.snapshot(11.0)
        return noise.summarize(b, a, COMPARE, hz=HZ)

    def test_splits_the_window_into_own_kernel_and_others(self):
        w = self.window()
        self.assertEqual((w["own_cpu"], w["kernel_cpu"], w["others_cpu"]), (1.05, 0.03, 0.51))
        self.assertEqual(w["unattributed_cpu"], 0)
        self.assertEqual((w["load_avg_1m_before"], w["load_avg_1m_after"]), (1.5, 2.5))

    def test_an_exited_child_is_charged_to_its_reaper_for_the_window_only(self):
        top = {p["pid"]: p for p in self.window()["others_top"]}
        self.assertEqual(top[MAKE]["cpu"], 0.31)  # 1 of its own + 30 of the reaped cc1plus
        self.assertEqual(top[CC2], {"pid": CC2, "comm": "cc1plus", "cpu": 0.2})
        self.assertEqual([p["pid"] for p in self.window()["others_top"]], [MAKE, CC2])

    def test_others_above_a_tenth_of_a_core_make_it_noisy_and_say_who(self):
        w = self.window()
        self.assertTrue(w["noisy"])
        self.assertEqual(w["noise_reason"], "others used 0.51 of a core (make 0.31, cc1plus 0.20)")

    def test_only_the_benchmark_and_the_kernel_busy_is_quiet(self):
        after = after_procs()
        after[MAKE] = pid_stat(MAKE, "make", 1, (2, 0, 100 + 500, 0))  # reaped, no new time
        after[CC2] = pid_stat(CC2, "cc1plus", MAKE, (5, 0, 0, 0), start=90)  # 0.05 core
        w = self.window(busy=5 + 40 + 60 + 5 + 3, procs_after=after)
        self.assertEqual(w["others_cpu"], 0.05)
        self.assertFalse(w["noisy"])
        self.assertIsNone(w["noise_reason"])

    def test_a_reused_pid_is_a_new_process(self):
        after = after_procs()
        del after[CC2]
        after[CC1] = pid_stat(CC1, "cc1plus", MAKE, (20, 0, 0, 0), start=95)
        top = {p["pid"]: p["cpu"] for p in self.window(procs_after=after)["others_top"]}
        self.assertEqual(top, {MAKE: 0.31, CC1: 0.2})

    def test_cpu_no_visible_process_used_counts_as_others(self):
        w = self.window(busy=BUSY + 30)
        self.assertEqual((w["unattributed_cpu"], w["others_cpu"]), (0.3, 0.81))
        self.assertIn("not in /proc 0.30", w["noise_reason"])

    def test_steal_above_five_percent_is_noisy(self):
        after = after_procs()
        after[MAKE] = pid_stat(MAKE, "make", 1, (2, 0, 100 + 500, 0))
        del after[CC2]
        w = self.window(busy=5 + 40 + 60 + 3, steal=12, procs_after=after)
        self.assertEqual((w["others_cpu"], w["steal_pct"]), (0, 6.0))
        self.assertEqual(w["noise_reason"], "steal 6.0%")
        self.assertFalse(self.window(busy=5 + 40 + 60 + 3, steal=10, procs_after=after)["noisy"])


SPIN = """
import sys, time
sys.stdin.readline()
t0, deadline = time.process_time(), time.monotonic() + 8
while time.process_time() - t0 < 0.3 and time.monotonic() < deadline:
    pass
print(time.process_time() - t0, flush=True)
sys.stdin.readline()
"""


class RealProcTest(unittest.TestCase):
    """A child that burns a known amount of CPU (about 0.3 s, at most 8 s of
    waiting) between two snapshots of the real /proc."""

    def spin(self, own_root):
        """(summary, ticks cpu_deltas gave the child, CPU seconds it reported)."""
        with subprocess.Popen([sys.executable, "-c", SPIN], stdin=subprocess.PIPE,
                              stdout=subprocess.PIPE, text=True) as child:
            try:
                before = noise.Snapshot()
                child.stdin.write("go\n")
                child.stdin.flush()
                ready, _, _ = select.select([child.stdout], [], [], 10)
                self.assertTrue(ready, "the child did not report within 10 s")
                used = float(child.stdout.readline())
                after = noise.Snapshot()
            finally:
                child.kill()
        deltas = noise.cpu_deltas(before, after)
        key = after.procs[child.pid].key
        with mock.patch.object(noise, "TOP_N", 100000):
            return noise.summarize(before, after, own_root), deltas[key], used, child.pid

    def test_a_child_of_the_benchmark_is_its_own(self):
        w, ticks, used, pid = self.spin(os.getpid())
        hz = os.sysconf("SC_CLK_TCK")
        self.assertGreaterEqual(ticks / hz, used - 0.05)
        self.assertNotIn(pid, [p["pid"] for p in w["others_top"]])
        self.assertGreaterEqual(w["own_cpu"] * w["window_sec"], used - 0.06)

    def test_a_process_outside_the_benchmark_is_others(self):
        w, ticks, used, pid = self.spin(own_root=1 << 30)  # no such pid: nothing is own
        top = {p["pid"]: p for p in w["others_top"]}
        self.assertIn(pid, top)
        self.assertEqual(top[pid]["comm"], os.path.basename(sys.executable)[:15])
        self.assertGreaterEqual(top[pid]["cpu"] * w["window_sec"], used - 0.06)


if __name__ == "__main__":
    unittest.main()
