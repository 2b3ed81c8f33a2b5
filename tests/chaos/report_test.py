"""Unit tests of report.py: which findings fail a run, and the --record append."""

import argparse
import os
import tempfile
import unittest
from unittest import mock

import report


def results(lost=0, resurrected=0, diverged=0, crashes=()):
    conv = {"diverged": 0, "diverged_examples": [], "missing": 0, "missing_keys": [],
            "unreachable_nodes": []}
    return {
        "register": {"convergence": dict(conv, diverged=diverged),
                     "registers": {"stale": 2, "invalid": 0, "invalid_examples": []},
                     "linearizable": {"keys": 5, "linearizable": 4, "unknown": []}},
        "set": {"convergence": dict(conv),
                "set": {"lost": lost, "lost_keys": ["set-0-1"] * lost, "unverified": 0,
                        "failed_present": 0}},
        "delete": {"convergence": dict(conv),
                   "resurrection": {"resurrected": resurrected, "examples": []}},
        "crashes": list(crashes),
    }


SUMMARY = {"operations": 10, "acknowledged": 9, "unavailable_pct": 10.0, "p99_ms": 12.3}


class RowTest(unittest.TestCase):
    def test_stale_reads_and_non_linearizable_keys_alone_pass(self):
        r = report.row("kill", results(), SUMMARY)
        self.assertEqual((r["result"], r["stale"], r["linearizable"]), ("ok", 2, "4/5"))

    def test_lost_resurrected_diverged_or_crashed_fail(self):
        for res in (results(lost=1), results(resurrected=1), results(diverged=1),
                    results(crashes=[{"host": 2, "exit": 134, "log": "boom"}])):
            r = report.row("kill", res, SUMMARY)
            self.assertEqual(r["result"], "FAIL")
            self.assertEqual(len(r["problems"]), 1, r["problems"])


    def test_a_leave_that_stayed_passes_and_one_stopped_by_the_harness_fails(self):
        stayed = {"host": 3, "kvctl_exit": 4, "node_exit": None, "stopped": False,
                  "stayed": True, "progress": "incomplete pass 8"}
        stopped = {"host": 4, "kvctl_exit": 4, "node_exit": 0, "stopped": True,
                   "stayed": False, "progress": "incomplete pass 8"}
        self.assertEqual(report.row("membership", dict(results(), leaves=[stayed]),
                                    SUMMARY)["result"], "ok")
        r = report.row("membership", dict(results(), leaves=[stopped]), SUMMARY)
        self.assertEqual(r["result"], "FAIL")
        self.assertIn("did not end cleanly", r["problems"][0])


class TableTest(unittest.TestCase):
    def test_says_whether_the_run_used_tls(self):
        rows = [report.row("kill", results(), SUMMARY)]
        self.assertTrue(report.table(rows, 7, tls=True).startswith("seed 7, TLS"))
        self.assertTrue(report.table(rows, 7).startswith("seed 7, plaintext\n"))


class RecordTest(unittest.TestCase):
    def test_appends_the_heading_once_and_a_table_per_run(self):
        args = argparse.Namespace(seed=7, duration=35.0, tls=True)
        rows = [report.row("kill", results(), SUMMARY)]
        with tempfile.TemporaryDirectory() as d:
            path = os.path.join(d, "guarantees.md")
            with open(path, "w") as f:
                f.write("# Guarantees\n")
            with mock.patch.object(report, "GUARANTEES", path), mock.patch("builtins.print"):
                report.record(rows, args)
                report.record(rows, args)
            with open(path) as f:
                text = f.read()
        self.assertEqual(text.count("## Chaos results"), 1)
        self.assertEqual(text.count("35 s per nemesis, TLS\n"), 2)
        self.assertEqual(text.count("| kill | 10 | 9 |"), 2)


if __name__ == "__main__":
    unittest.main()
