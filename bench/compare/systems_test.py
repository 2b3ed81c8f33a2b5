"""Unit tests of systems.py's TLS, metrics and replicated units: what each node
and client is given.
No server runs: a fake Recorder records the commands."""

import argparse
import subprocess
import unittest
from unittest import mock

import systems
import tls


class FakeServers:
    def __init__(self):
        self.started = []  # (name, args)
        self.cpus = []  # the cpus= of each start

    def start(self, name, args, cpus=None):
        self.started.append((name, args))
        self.cpus.append(cpus)

    def stop_all(self):
        pass


class FakeRecorder:
    """Records kvctl and kvbench calls; every node answers at once and knows
    15 peers."""

    def __init__(self):
        self.o = argparse.Namespace(bin="/bin", clients=50)
        self.tmp = "/tmp/run"
        self.round = 1
        self.servers = FakeServers()
        self.kvctl_calls = []  # (addr, args, tls)
        self.kvbench_calls = []  # (system, label, op, addrs, extra)
        self.pins = []  # rec.pin at each kvbench or redis-benchmark call
        self.redis_calls = []  # (system, op, args, pipeline)
        self.pin = None

    def kvctl(self, addr, *args, tls=()):
        self.kvctl_calls.append((addr, args, tuple(tls)))
        peers = "\n".join(["id addr", "--"] + [f"x 127.0.0.1:{i}" for i in range(15)])
        return subprocess.CompletedProcess([], 0, stdout=peers)

    def progress(self, *args, **kwargs):
        pass

    def redis_benchmark(self, system, label, op, base, pipeline):
        self.redis_calls.append((system, op, tuple(base), pipeline))
        self.pins.append(self.pin)

    def kvbench(self, system, label, op, target, addrs, extra=(), clients=None):
        self.kvbench_calls.append((system, label, op, addrs, tuple(extra)))
        self.pins.append(self.pin)
        return {"ops_per_sec": 1000.0, "failed": False}


CERTS = tls.Certs("/certs")


class TlsUnitTest(unittest.TestCase):
    def run_unit(self, unit):
        rec = FakeRecorder()
        with mock.patch.object(tls, "make", return_value=CERTS) as make:
            sys_ = systems.Systems(rec)
            sys_.run(unit)
            sys_.run(unit)  # a second round reuses the run's certificates
        make.assert_called_once_with("/tmp/run/tls")
        return rec

    def test_three_tls_nodes_each_serve_their_own_certificate(self):
        rec = self.run_unit("kvstore-3-tls")
        nodes = rec.servers.started[:3]
        for i, (_, args) in enumerate(nodes):
            self.assertEqual(args[-7:], CERTS.server_args(i))
            self.assertIn("quorum", args)
        self.assertEqual(len({args[args.index("--cert-file") + 1] for _, args in nodes}), 3)

    def test_tls_clients_put_then_get_with_the_client_certificate(self):
        rec = self.run_unit("kvstore-3-tls")
        calls = rec.kvbench_calls[:2]
        self.assertEqual([(c[0], c[2]) for c in calls],
                         [("kvstore-3-tls", "put"), ("kvstore-3-tls", "get")])
        for c in calls:
            self.assertEqual(c[4], ("--consistency", "quorum", *CERTS.client_args()))
        self.assertTrue(all(t == tuple(CERTS.client_args()) for _, _, t in rec.kvctl_calls))

    def test_the_one_node_tls_unit_is_the_memory_node_over_tls(self):
        rec = self.run_unit("kvstore-1-tls")
        args = rec.servers.started[0][1]
        self.assertEqual(args[args.index("--replicas") + 1], "1")
        self.assertEqual(args[-7:], CERTS.server_args(0))
        self.assertEqual([(c[0], c[1], c[2], c[4]) for c in rec.kvbench_calls[:2]],
                         [("kvstore-mem-tls", "kvstore 1 node, memory, TLS", op,
                           tuple(CERTS.client_args())) for op in ("put", "get")])

    def test_plaintext_units_carry_no_tls_flag(self):
        rec = FakeRecorder()
        with mock.patch.object(tls, "make") as make:
            systems.Systems(rec).run("kvstore-3")
        make.assert_not_called()
        self.assertFalse(any("--cert-file" in args for _, args in rec.servers.started))
        self.assertTrue(all(t == () for _, _, t in rec.kvctl_calls))
        self.assertFalse(any("--cacert" in c[4] for c in rec.kvbench_calls))



class MetricsUnitTest(unittest.TestCase):
    """Issue 19: the memory node again, with --metrics-addr scraped meanwhile."""

    def test_the_node_serves_metrics_and_is_scraped_while_kvbench_runs(self):
        rec = FakeRecorder()
        scraped = []

        class FakeScraper:
            def __init__(self, url, period):
                self.url, self.period, self.ok, self.error = url, period, 0, ""

            def __enter__(self):
                scraped.append(("start", self.url, self.period, len(rec.kvbench_calls)))
                return self

            def __exit__(self, *exc):
                scraped.append(("stop", len(rec.kvbench_calls)))
                self.ok = 7
                return False

        with mock.patch.object(systems, "Scraper", FakeScraper):
            systems.Systems(rec).run("kvstore-1-metrics")
        args = rec.servers.started[0][1]
        self.assertEqual(args[args.index("--replicas") + 1], "1")
        metrics = args[args.index("--metrics-addr") + 1]
        self.assertEqual(scraped, [("start", f"http://{metrics}/metrics", 1.0, 0), ("stop", 2)])
        self.assertEqual([(c[0], c[2], c[4]) for c in rec.kvbench_calls],
                         [("kvstore-mem-metrics", op, ()) for op in ("put", "get")])

    def test_a_unit_whose_scrapes_all_failed_fails(self):
        class DeadScraper:
            def __init__(self, url, period):
                self.ok, self.error = 0, "connection refused"

            def __enter__(self):
                return self

            def __exit__(self, *exc):
                return False

        with mock.patch.object(systems, "Scraper", DeadScraper):
            with self.assertRaisesRegex(RuntimeError, "connection refused"):
                systems.Systems(FakeRecorder()).run("kvstore-1-metrics")

    def test_plaintext_memory_node_has_no_metrics_addr(self):
        rec = FakeRecorder()
        systems.Systems(rec).run("kvstore-1-memory")
        self.assertFalse(any("--metrics-addr" in args for _, args in rec.servers.started))


class PinningTest(unittest.TestCase):
    """Issue 20 part 2: the Redis comparison's units run their server on one
    CPU and the load generator on another; the others are not pinned."""

    def run_unit(self, unit, cpus=(0, 1), pin="auto"):
        rec = FakeRecorder()
        rec.o.pin = pin
        with mock.patch.object(systems.os, "sched_getaffinity", return_value=set(cpus)), \
                mock.patch.object(tls, "make", return_value=CERTS), \
                mock.patch.object(systems, "Scraper"):
            systems.Systems(rec).run(unit)
        self.assertIsNone(rec.pin, "pinning ends with the unit")
        return rec

    def test_the_memory_node_runs_on_the_first_cpu_and_kvbench_on_the_second(self):
        for unit in ("kvstore-1-memory", "kvstore-1-tls", "kvstore-1-metrics"):
            rec = self.run_unit(unit, cpus=(2, 5))
            self.assertEqual(rec.servers.cpus, ["2"], unit)
            self.assertEqual(set(rec.pins), {("2", "5")}, unit)

    def test_the_other_units_are_not_pinned(self):
        for unit in ("kvstore-3", "kvstore-1-rocksdb", "kvstore-3-rocksdb"):
            rec = self.run_unit(unit)
            self.assertEqual(set(rec.servers.cpus), {None}, unit)
            self.assertEqual(set(rec.pins), {None}, unit)

    def test_pin_off_or_one_cpu_pins_nothing(self):
        for kwargs in ({"pin": "off"}, {"cpus": (0,)}):
            rec = self.run_unit("kvstore-1-memory", **kwargs)
            self.assertEqual(set(rec.servers.cpus), {None}, kwargs)
            self.assertEqual(set(rec.pins), {None}, kwargs)


class RespUnitTest(unittest.TestCase):
    """Issue 21: redis-benchmark against kvstore's RESP port, as against Redis."""

    def test_one_node_is_driven_by_redis_benchmark_like_redis_and_pinned(self):
        rec = FakeRecorder()
        rec.o.duration, rec.o.value_size, rec.o.keys = 10, 100, 100000
        with mock.patch.object(systems.os, "sched_getaffinity", return_value={0, 1}):
            systems.Systems(rec).run("kvstore-1-resp")
        args = rec.servers.started[0][1]
        port = args[args.index("--resp-addr") + 1].split(":")[1]
        self.assertEqual(args[args.index("--replicas") + 1], "1")
        self.assertEqual([(c[0], c[1], c[3]) for c in rec.redis_calls],
                         [("kvstore-resp", "put", 1), ("kvstore-resp", "get", 1),
                          ("kvstore-resp-p16", "put", 16), ("kvstore-resp-p16", "get", 16)])
        for c in rec.redis_calls:
            self.assertEqual(c[2][c[2].index("-p") + 1], port)
        self.assertEqual(rec.servers.cpus, ["0"])
        self.assertEqual(set(rec.pins), {("0", "1")})

    def test_three_nodes_each_serve_resp_and_are_not_pinned(self):
        rec = FakeRecorder()
        rec.o.duration, rec.o.value_size, rec.o.keys = 10, 100, 100000
        systems.Systems(rec).run("kvstore-3-resp")
        self.assertEqual(sum("--resp-addr" in args for _, args in rec.servers.started), 3)
        self.assertEqual([(c[0], c[1]) for c in rec.redis_calls],
                         [("kvstore-3-resp", "put"), ("kvstore-3-resp", "get")])
        self.assertEqual(set(rec.pins), {None})


class ReplicatedDurableTest(unittest.TestCase):
    """Issue 20 part 4: 3-member etcd against 3 durable kvstore nodes."""

    def test_three_etcd_members_form_one_cluster_and_kvbench_uses_all_three(self):
        rec = FakeRecorder()
        with mock.patch.object(systems, "etcd_healthy", return_value=True), \
                mock.patch.object(systems.tempfile, "mkdtemp", return_value="/tmp/run/etcd"):
            systems.Systems(rec).run("etcd-3")
        members = rec.servers.started
        self.assertEqual(len(members), 3)
        initial = {args[args.index("--initial-cluster") + 1] for _, args in members}
        self.assertEqual(len(initial), 1, "every member is given the same member list")
        self.assertEqual(initial.pop().count("=http://127.0.0.1:"), 3)
        self.assertTrue(all("--unsafe-no-fsync" not in args for _, args in members))
        self.assertEqual([(c[0], c[2], len(c[3])) for c in rec.kvbench_calls],
                         [("etcd-3", "put", 3), ("etcd-3", "get", 3)])

    def test_the_kvstore_side_is_three_quorum_nodes_on_rocksdb_with_sync_always(self):
        rec = FakeRecorder()
        systems.Systems(rec).run("kvstore-3-rocksdb")
        nodes = rec.servers.started
        self.assertEqual(len(nodes), 3)
        for _, args in nodes:
            self.assertIn("--data-dir", args)
            self.assertEqual(args[args.index("--sync") + 1], "always")
            self.assertEqual(args[args.index("--replicas") + 1], "3")
        self.assertEqual({c[4] for c in rec.kvbench_calls}, {("--consistency", "quorum")})

if __name__ == "__main__":
    unittest.main()
