"""Unit tests of points.py: reading kvbench's JSON, recording a point."""

import argparse
import tempfile
import unittest
from unittest import mock

import points

# docs/kvbench.md's --json output of a --rate get run
KVBENCH = {"elapsed_sec": 10.0, "failed": False, "error_rate": 0.0, "errors_by_code": {},
           "read": {"ops": 20000, "ops_per_sec": 2000.0, "errors": 0, "misses": 3,
                    "latency_us": {"p50": 400, "p90": 800, "p99": 9151, "p99_9": 12000,
                                   "max": 20000, "mean": 500.0}},
           "write": {"ops": 0, "ops_per_sec": 0.0, "errors": 0,
                     "latency_us": {"p50": 0, "p90": 0, "p99": 0, "p99_9": 0, "max": 0,
                                    "mean": 0.0}},
           "rate": {"target_ops_per_sec": 2000.0, "sent_ops_per_sec": 1999.0, "due_ops": 20000,
                    "sent_ops": 19990, "window_sec": 10.0, "kept_up": True,
                    "send_lag_us": {"p50": 116, "p99": 1887, "max": 10674}}}

WINDOW = {"window_sec": 10.0, "others_cpu": 0.4, "own_cpu": 1.5, "kernel_cpu": 0.02,
          "unattributed_cpu": 0.0, "steal_pct": 0.0, "load_avg_1m_before": 2.1,
          "load_avg_1m_after": 2.9, "others_top": [{"pid": 7, "comm": "cc1plus", "cpu": 0.4}],
          "noise_reason": "others used 0.40 of a core (cc1plus 0.40)", "noisy": True}


OPTS = argparse.Namespace(bin="/b", clients=50, duration=10.0, warmup=2.0, keys=100000,
                          key_size=16, value_size=100)


class KvbenchArgsTest(unittest.TestCase):
    def test_unpinned_kvbench_keeps_its_defaults(self):
        args = points.kvbench_args(OPTS, "kvstore", ["127.0.0.1:1"], "get", "/o.json")
        self.assertEqual(args[0], "/b/kvbench")
        self.assertNotIn("--threads", args)
        self.assertEqual(args[args.index("--read-ratio") + 1], "1")

    def test_pinned_kvbench_runs_one_thread_on_the_load_generators_cpus(self):
        args = points.kvbench_args(OPTS, "kvstore", ["127.0.0.1:1"], "put", "/o.json",
                                   ("--batch", "16"), pin=("0", "1"))
        self.assertEqual(args[:4], ["taskset", "-c", "1", "/b/kvbench"])
        self.assertEqual(args[-6:], ["--batch", "16", "--threads", "1", "--channels", "1"])


class ServerCpuTest(unittest.TestCase):
    def test_cores_and_cost_per_op_over_the_block(self):
        servers = mock.Mock()
        servers.cpu_seconds.side_effect = [100.0, 112.0]  # 12 s of CPU ...
        times = iter([50.0, 60.0])                         # ... in 10 s
        with points.ServerCpu(servers, clock=lambda: next(times)) as cpu:
            pass
        self.assertEqual(cpu.fields(60000.0),
                         {"server_cpu_cores": 1.2, "server_cpu_us_per_op": 20.0})

    def test_no_cpu_no_fields(self):
        servers = mock.Mock()
        servers.cpu_seconds.return_value = 5.0
        with points.ServerCpu(servers) as cpu:
            pass
        self.assertEqual(cpu.fields(1000.0), {})


class KvbenchFieldsTest(unittest.TestCase):
    def test_a_rate_run_gives_its_send_lag(self):
        ops, p50, p99, f = points.kvbench_fields(KVBENCH, "get")
        self.assertEqual((ops, p50, p99), (2000.0, 400, 9151))
        self.assertEqual((f["send_lag_p99_us"], f["rate_kept_up"], f["misses"]), (1887, True, 3))

    def test_a_closed_loop_run_has_no_rate_fields(self):
        j = dict(KVBENCH)
        del j["rate"]
        _, _, _, f = points.kvbench_fields(j, "put")
        self.assertNotIn("send_lag_p99_us", f)
        self.assertNotIn("misses", f)


class RecordTest(unittest.TestCase):
    def setUp(self):
        tmp = tempfile.TemporaryDirectory()
        self.addCleanup(tmp.cleanup)
        self.rec = points.Recorder(argparse.Namespace(), tmp.name)
        self.rec.round = 2

    def test_a_point_carries_its_round_and_noise_window(self):
        with mock.patch("builtins.print"):
            r = self.rec.record("kvstore-mem", "kv", "get", 1000.0, 300, 900, WINDOW,
                                tool="kvbench")
        self.assertEqual((r["round"], r["noisy"], r["noise_reason"]),
                         (2, True, "others used 0.40 of a core (cc1plus 0.40)"))
        self.assertEqual((r["load_avg_1m_at_start"], r["load_avg_1m_at_end"]), (2.1, 2.9))
        self.assertEqual(r["noise"]["others_top"], [{"pid": 7, "comm": "cc1plus", "cpu": 0.4}])
        self.assertIsNone(r["invalid"])
        self.assertIs(self.rec.results[-1], r)

    def test_an_open_loop_point_with_too_much_send_lag_is_recorded_invalid(self):
        ops, p50, p99, f = points.kvbench_fields(KVBENCH, "get")
        with mock.patch("builtins.print") as out:
            r = self.rec.record("kvstore-3-half", "half", "get", ops, p50, p99, None, **f)
        self.assertEqual(r["invalid"], "invalid: send lag p99 1.887 ms > 10% of p99 9.151 ms")
        self.assertIn(mock.call("      ! " + r["invalid"], flush=True), out.call_args_list)

    def test_describe_window_says_why_it_is_noisy(self):
        self.assertEqual(points.describe_window(WINDOW),
                         "others 0.40 core, steal 0.0%, load 2.1->2.9  NOISY: others used "
                         "0.40 of a core (cc1plus 0.40)")


if __name__ == "__main__":
    unittest.main()
