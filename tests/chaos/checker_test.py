"""Unit tests of checker.py on hand-made histories: each must pass or must fail."""

import json
import os
import tempfile
import unittest

import checker


class H:
    """Builds history events; times are in arbitrary ticks."""

    def __init__(self):
        self.events = []

    def op(self, process, f, key, start, end, type="ok", value=None, read=None, version=None,
           node="n1"):
        self.events.append({"process": process, "type": "invoke", "f": f, "key": key,
                            "value": value, "time_ns": start, "node": node})
        if end is not None:
            done = value if f != "read" else read
            e = {"process": process, "type": type, "f": f, "key": key, "value": done,
                 "time_ns": end, "node": node}
            if version is not None:
                e["version"] = version
            self.events.append(e)
        return self

    def ops(self):
        return checker.pair(sorted(self.events, key=lambda e: e["time_ns"]))


class PairTest(unittest.TestCase):
    def test_info_and_unfinished_ops_never_end(self):
        ops = (H().op(0, "write", "k", 1, 2, type="info", value="a")
               .op(1, "write", "k", 3, None, value="b").ops())
        self.assertEqual([o.type for o in ops], ["info", "info"])
        self.assertEqual([o.end for o in ops], [checker.INF, checker.INF])

    def test_completion_without_invocation_is_an_error(self):
        with self.assertRaises(ValueError):
            checker.pair([{"process": 0, "type": "ok", "f": "read", "key": "k",
                           "time_ns": 1}])

    def test_reads_history_written_by_kvchaos(self):
        lines = [{"process": 3, "type": "invoke", "f": "add", "key": "set-3-0",
                  "value": "3-0", "time_ns": 10, "node": "10.213.0.11:50051"},
                 {"process": 3, "type": "ok", "f": "add", "key": "set-3-0", "value": "3-0",
                  "time_ns": 20, "node": "10.213.0.11:50051", "version": "1@ab"}]
        with tempfile.TemporaryDirectory() as d:
            path = os.path.join(d, "h.jsonl")
            with open(path, "w") as f:
                f.write("".join(json.dumps(x) + "\n" for x in lines))
            ops = checker.pair(checker.load_jsonl(path))
        self.assertEqual((ops[0].type, ops[0].start, ops[0].end), ("ok", 10, 20))


class SetTest(unittest.TestCase):
    def test_every_acknowledged_add_in_the_final_read_passes(self):
        h = (H().op(0, "add", "set-0-0", 1, 2, value="0-0")
             .op(1, "add", "set-1-0", 1, 3, value="1-0")
             .op(1, "add", "set-1-1", 4, 5, type="info", value="1-1")
             .op("final", "read", "set-0-0", 10, 11, read="0-0")
             .op("final", "read", "set-1-0", 12, 13, read="1-0")
             .op("final", "read", "set-1-1", 14, 15, read=None))
        r = checker.check_set(h.ops())
        self.assertEqual((r["acknowledged"], r["present"], r["lost"]), (2, 2, 0))

    def test_acknowledged_add_missing_from_the_final_read_is_lost(self):
        h = (H().op(0, "add", "set-0-0", 1, 2, value="0-0")
             .op(0, "add", "set-0-1", 3, 4, value="0-1")
             .op("final", "read", "set-0-0", 10, 11, read="0-0")
             .op("final", "read", "set-0-1", 12, 13, read=None))
        r = checker.check_set(h.ops())
        self.assertEqual((r["acknowledged"], r["present"], r["lost"]), (2, 1, 1))
        self.assertEqual(r["lost_keys"], ["set-0-1"])

    def test_acknowledged_add_never_read_is_unverified_not_lost(self):
        h = (H().op(0, "add", "set-0-0", 1, 2, value="0-0")
             .op("final", "read", "set-0-0", 10, 11, type="fail"))
        r = checker.check_set(h.ops())
        self.assertEqual((r["lost"], r["unverified"]), (0, 1))

    def test_failed_add_that_shows_up_is_counted(self):
        h = (H().op(0, "add", "set-0-0", 1, 2, type="fail", value="0-0")
             .op("final", "read", "set-0-0", 10, 11, read="0-0"))
        self.assertEqual(checker.check_set(h.ops())["failed_present"], 1)


class ResurrectionTest(unittest.TestCase):
    def test_key_stays_deleted_passes(self):
        h = (H().op(0, "write", "del-0-0", 1, 2, value="0-0")
             .op(0, "delete", "del-0-0", 3, 4)
             .op(1, "read", "del-0-0", 5, 6, read=None))
        r = checker.check_resurrection(h.ops())
        self.assertEqual((r["resurrected"], r["reads_checked"]), (0, 1))

    def test_old_value_after_an_acknowledged_delete_is_resurrection(self):
        h = (H().op(0, "write", "del-0-0", 1, 2, value="0-0")
             .op(0, "delete", "del-0-0", 3, 4)
             .op("final", "read", "del-0-0", 10, 11, read="0-0"))
        r = checker.check_resurrection(h.ops())
        self.assertEqual(r["resurrected"], 1)
        self.assertEqual(r["examples"][0]["value"], "0-0")

    def test_read_concurrent_with_the_delete_may_see_the_value(self):
        h = (H().op(0, "write", "del-0-0", 1, 2, value="0-0")
             .op(0, "delete", "del-0-0", 3, 6)
             .op(1, "read", "del-0-0", 5, 7, read="0-0"))
        self.assertEqual(checker.check_resurrection(h.ops())["resurrected"], 0)

    def test_value_of_an_indeterminate_write_may_come_back(self):
        # The write timed out: it may have been applied after the delete.
        h = (H().op(0, "write", "del-0-0", 1, 2, type="info", value="0-0")
             .op(1, "delete", "del-0-0", 3, 4)
             .op(1, "read", "del-0-0", 5, 6, read="0-0"))
        self.assertEqual(checker.check_resurrection(h.ops())["resurrected"], 0)

    def test_failed_delete_proves_nothing(self):
        h = (H().op(0, "write", "del-0-0", 1, 2, value="0-0")
             .op(0, "delete", "del-0-0", 3, 4, type="info")
             .op(1, "read", "del-0-0", 5, 6, read="0-0"))
        self.assertEqual(checker.check_resurrection(h.ops())["resurrected"], 0)


    def test_delete_with_the_lower_version_is_a_lost_delete_not_resurrection(self):
        # The write's coordinator had a clock ahead: LWW keeps the older write.
        h = (H().op(0, "write", "del-0-0", 1, 2, value="0-0", version="900@aa")
             .op(0, "delete", "del-0-0", 3, 4, version="500@bb")
             .op(1, "read", "del-0-0", 5, 6, read="0-0", version="900@aa"))
        r = checker.check_resurrection(h.ops())
        self.assertEqual((r["resurrected"], r["lost_deletes"]), (0, 1))
        self.assertEqual(r["lost_delete_examples"][0]["delete_versions"], ["500@bb"])

    def test_delete_tied_on_timestamp_losing_on_node_id_is_a_lost_delete(self):
        h = (H().op(0, "write", "del-0-0", 1, 2, value="0-0", version="900@bb")
             .op(0, "delete", "del-0-0", 3, 4, version="900@aa")
             .op(1, "read", "del-0-0", 5, 6, read="0-0", version="900@bb"))
        r = checker.check_resurrection(h.ops())
        self.assertEqual((r["resurrected"], r["lost_deletes"]), (0, 1))

    def test_delete_with_the_higher_version_that_comes_back_is_resurrection(self):
        h = (H().op(0, "write", "del-0-0", 1, 2, value="0-0", version="500@aa")
             .op(0, "delete", "del-0-0", 3, 4, version="900@bb")
             .op(1, "read", "del-0-0", 5, 6, read="0-0", version="500@aa"))
        r = checker.check_resurrection(h.ops())
        self.assertEqual((r["resurrected"], r["lost_deletes"]), (1, 0))


class RegisterTest(unittest.TestCase):
    def test_reads_of_the_latest_write_pass(self):
        h = (H().op(0, "write", "reg-0", 1, 2, value="0-0")
             .op(1, "read", "reg-0", 3, 4, read="0-0")
             .op(0, "write", "reg-0", 5, 8, value="0-1")
             .op(1, "read", "reg-0", 6, 7, read="0-0")  # concurrent with 0-1: either is fine
             .op(1, "read", "reg-0", 9, 10, read="0-1"))
        r = checker.check_registers(h.ops())
        self.assertEqual((r["reads"], r["stale"], r["invalid"]), (3, 0, 0))

    def test_value_overwritten_before_the_read_began_is_stale(self):
        h = (H().op(0, "write", "reg-0", 1, 2, value="0-0")
             .op(0, "write", "reg-0", 3, 4, value="0-1")
             .op(1, "read", "reg-0", 5, 6, read="0-0"))
        r = checker.check_registers(h.ops())
        self.assertEqual(r["stale"], 1)
        self.assertEqual(r["stale_examples"][0]["newer"], "0-1")

    def test_stale_read_of_the_higher_version_is_a_lost_update(self):
        h = (H().op(0, "write", "reg-0", 1, 2, value="0-0", version="900@aa")
             .op(0, "write", "reg-0", 3, 4, value="0-1", version="500@bb")
             .op(1, "read", "reg-0", 5, 6, read="0-0", version="900@aa")
             .op(1, "read", "reg-0", 7, 8, read="0-0"))  # no version: stale only
        r = checker.check_registers(h.ops())
        self.assertEqual((r["stale"], r["lost_updates"]), (2, 1))
        self.assertEqual(r["lost_update_examples"][0]["newer_version"], "500@bb")

    def test_stale_read_of_the_lower_version_is_not_a_lost_update(self):
        h = (H().op(0, "write", "reg-0", 1, 2, value="0-0", version="500@aa")
             .op(0, "write", "reg-0", 3, 4, value="0-1", version="900@bb")
             .op(1, "read", "reg-0", 5, 6, read="0-0", version="500@aa"))
        r = checker.check_registers(h.ops())
        self.assertEqual((r["stale"], r["lost_updates"]), (1, 0))

    def test_not_found_after_a_completed_write_is_stale(self):
        h = (H().op(0, "write", "reg-0", 1, 2, value="0-0")
             .op(1, "read", "reg-0", 3, 4, read=None))
        self.assertEqual(checker.check_registers(h.ops())["stale"], 1)

    def test_concurrent_writes_in_either_order_are_not_stale(self):
        h = (H().op(0, "write", "reg-0", 1, 4, value="0-0")
             .op(1, "write", "reg-0", 2, 3, value="1-0")
             .op(2, "read", "reg-0", 5, 6, read="0-0")
             .op(2, "read", "reg-0", 7, 8, read="1-0"))
        self.assertEqual(checker.check_registers(h.ops())["stale"], 0)

    def test_value_never_written_or_failed_or_from_the_future_is_invalid(self):
        h = (H().op(0, "write", "reg-0", 1, 2, type="fail", value="0-0")
             .op(1, "read", "reg-0", 3, 4, read="0-0")
             .op(1, "read", "reg-0", 5, 6, read="9-9")
             .op(1, "read", "reg-0", 7, 8, read="2-0")
             .op(2, "write", "reg-0", 9, 10, value="2-0"))
        r = checker.check_registers(h.ops())
        self.assertEqual(r["invalid"], 3)


class ConvergenceTest(unittest.TestCase):
    def rec(self, key, node, ts, tomb=False):
        return {"key": key, "node": node, "found": True, "tombstone": tomb,
                "version": {"timestamp": ts, "node_id": "aa"}}

    def test_equal_versions_and_absent_replicas_converge(self):
        ops = H().op(0, "add", "k", 1, 2, value="v").ops()
        lines = [self.rec("k", "n1", 5), self.rec("k", "n2", 5),
                 {"key": "k", "node": "n3", "found": False}]
        r = checker.check_convergence(lines, ops)
        self.assertEqual((r["diverged"], r["missing"], r["under_replicated"]), (0, 0, 1))

    def test_different_versions_diverge(self):
        ops = H().op(0, "add", "k", 1, 2, value="v").ops()
        lines = [self.rec("k", "n1", 5), self.rec("k", "n2", 6)]
        self.assertEqual(checker.check_convergence(lines, ops)["diverged"], 1)

    def test_tombstone_beside_live_value_diverges(self):
        ops = H().op(0, "delete", "k", 1, 2).ops()
        lines = [self.rec("k", "n1", 5, tomb=True), self.rec("k", "n2", 5)]
        self.assertEqual(checker.check_convergence(lines, ops)["diverged"], 1)

    def test_acknowledged_key_held_nowhere_is_missing(self):
        ops = H().op(0, "add", "k", 1, 2, value="v").ops()
        lines = [{"key": "k", "node": "n1", "found": False}]
        self.assertEqual(checker.check_convergence(lines, ops)["missing"], 1)

    def test_deleted_key_held_nowhere_is_fine_and_unreachable_nodes_are_named(self):
        ops = H().op(0, "write", "k", 1, 2, value="v").op(0, "delete", "k", 3, 4).ops()
        lines = [{"key": "k", "node": "n1", "found": False},
                 {"key": "k", "node": "n2", "error": "UNAVAILABLE: x"}]
        r = checker.check_convergence(lines, ops)
        self.assertEqual((r["missing"], r["unreachable_nodes"]), (0, ["n2"]))


class VersionClocksTest(unittest.TestCase):
    def test_versions_ahead_and_behind_real_time_per_coordinator(self):
        ms = 1_000_000  # ns
        wall_minus_mono = 1_700_000_000_000 * ms
        at = lambda real_ms: str(((1_700_000_000_000 + real_ms) << 16) | 3)  # noqa: E731
        h = (H().op(0, "write", "reg-0", 1 * ms, 10 * ms, value="a", version=at(10) + "@aa",
                    node="n1")
             .op(1, "write", "reg-0", 20 * ms, 30 * ms, value="b", version=at(120_030) + "@bb",
                 node="n2")
             .op(1, "write", "reg-1", 40 * ms, 50 * ms, value="c", version=at(45) + "@bb",
                 node="n2")
             .op(2, "read", "reg-0", 60 * ms, 70 * ms, read="b", version=at(120_030) + "@bb",
                 node="n3")
             .op(2, "write", "reg-1", 80 * ms, None, value="d", node="n3"))
        c = checker.version_clocks(h.ops(), wall_minus_mono)
        self.assertEqual(c["n1"], {"writes": 1, "max_ahead_ms": 0, "min_ahead_ms": 0,
                                   "over_1s_ahead": 0})
        self.assertEqual(c["n2"], {"writes": 2, "max_ahead_ms": 120_000, "min_ahead_ms": -5,
                                   "over_1s_ahead": 1})
        self.assertNotIn("n3", c)  # reads and unfinished writes say nothing


class SummaryTest(unittest.TestCase):
    def test_counts_unavailable_and_p99_of_client_ops_only(self):
        h = H()
        for i in range(100):
            h.op(i, "write", "k", 1_000_000 * i, 1_000_000 * i + 1_000_000 * (i + 1),
                 value=f"{i}")
        h.op(200, "write", "k", 1, 2, type="info", value="x")
        h.op("final", "read", "k", 1, 2, read=None)
        s = checker.summarize(h.ops())
        self.assertEqual((s["operations"], s["acknowledged"], s["info"]), (101, 100, 1))
        self.assertAlmostEqual(s["unavailable_pct"], 100 / 101)
        self.assertEqual(s["p99_ms"], 99.0)


if __name__ == "__main__":
    unittest.main()
