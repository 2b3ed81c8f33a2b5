"""Unit tests of linearizable.py on hand-made register histories."""

import unittest

import linearizable
from checker_test import H


def verdict(h):
    return linearizable.check(h.ops())


class LinearizableTest(unittest.TestCase):
    def test_sequential_reads_of_the_latest_write_pass(self):
        h = (H().op(0, "read", "k", 1, 2, read=None)
             .op(0, "write", "k", 3, 4, value="a")
             .op(1, "read", "k", 5, 6, read="a")
             .op(0, "write", "k", 7, 8, value="b")
             .op(1, "read", "k", 9, 10, read="b"))
        self.assertEqual(verdict(h), {"keys": 1, "linearizable": 1, "violations": [],
                                      "unknown": []})

    def test_concurrent_write_may_be_seen_or_not(self):
        h = (H().op(0, "write", "k", 1, 2, value="a")
             .op(0, "write", "k", 3, 10, value="b")
             .op(1, "read", "k", 4, 5, read="a")
             .op(2, "read", "k", 6, 7, read="b"))
        self.assertEqual(verdict(h)["linearizable"], 1)

    def test_stale_read_is_a_violation(self):
        h = (H().op(0, "write", "k", 1, 2, value="a")
             .op(0, "write", "k", 3, 4, value="b")
             .op(1, "read", "k", 5, 6, read="a"))
        self.assertEqual(verdict(h)["violations"], ["k"])

    def test_new_then_old_during_one_write_is_a_violation(self):
        # Not a stale read by checker.check_registers (b had not completed),
        # but once r1 saw b, r2 (after r1) may not see a again.
        h = (H().op(0, "write", "k", 1, 2, value="a")
             .op(0, "write", "k", 3, 20, value="b")
             .op(1, "read", "k", 5, 6, read="b")
             .op(2, "read", "k", 8, 9, read="a"))
        self.assertEqual(verdict(h)["violations"], ["k"])

    def test_indeterminate_writes_count_only_when_seen(self):
        h = (H().op(0, "write", "k", 1, 2, value="a")
             .op(1, "write", "k", 3, 4, type="info", value="lost")
             .op(2, "write", "k", 5, 6, type="info", value="late")
             .op(0, "read", "k", 7, 8, read="a")
             .op(0, "read", "k", 30, 31, read="late"))
        self.assertEqual(verdict(h)["linearizable"], 1)

    def test_failed_write_seen_is_a_violation(self):
        h = (H().op(0, "write", "k", 1, 2, type="fail", value="a")
             .op(1, "read", "k", 3, 4, read="a"))
        self.assertEqual(verdict(h)["violations"], ["k"])

    def test_budget_exhausted_is_unknown(self):
        h = H()
        for i in range(12):  # twelve concurrent writes, then a read of none of them
            h.op(i, "write", "k", 1, 100, value=str(i))
        h.op(99, "read", "k", 200, 201, read="nope")
        self.assertEqual(linearizable.check(h.ops(), budget=50)["unknown"], ["k"])


if __name__ == "__main__":
    unittest.main()
