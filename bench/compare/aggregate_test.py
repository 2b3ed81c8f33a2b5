"""Unit tests of aggregate.py: one row per system and op from every round."""

import unittest

import aggregate
from fakes import failed, half, point


def row(samples, system="kvstore-mem", op="get"):
    rows = [r for r in aggregate.aggregate(samples) if (r["system"], r["op"]) == (system, op)]
    return rows[0]


class MedianTest(unittest.TestCase):
    def test_median_of_odd_and_even_counts(self):
        self.assertEqual(aggregate.median([3, 1, 2]), 2)
        self.assertEqual(aggregate.median([4, 1, 3, 2]), 2.5)


class AggregateTest(unittest.TestCase):
    def test_medians_with_lowest_and_highest_of_the_rounds(self):
        r = row([point("kvstore-mem", "get", i, ops=x, p99=y)
                 for i, (x, y) in enumerate([(900, 3000), (1500, 1000), (1000, 2000)], 1)])
        self.assertEqual((r["ops_per_sec"], r["ops_per_sec_min"], r["ops_per_sec_max"]),
                         (1000, 900, 1500))
        self.assertEqual((r["p99_us"], r["p99_us_min"], r["p99_us_max"]), (2000, 1000, 3000))
        self.assertEqual((r["rounds"], r["rounds_used"], r["quiet_rounds"]), (3, 3, 3))
        self.assertFalse(r["noisy"])
        self.assertNotIn("round", r)

    def test_a_noisy_round_is_left_out_when_quiet_ones_exist(self):
        r = row([point("kvstore-mem", "get", 1, ops=1000),
                 point("kvstore-mem", "get", 2, ops=100, noisy=True),
                 point("kvstore-mem", "get", 3, ops=1200)])
        self.assertEqual((r["ops_per_sec"], r["rounds_used"], r["quiet_rounds"]), (1100, 2, 2))
        self.assertEqual(r["ops_per_sec_samples"], [1000, 100, 1200])
        self.assertFalse(r["noisy"])
        self.assertEqual(r["others_cpu"], 0.01)

    def test_only_noisy_rounds_give_a_noisy_row_that_says_why(self):
        r = row([point("kvstore-mem", "get", i, ops=1000 * i, noisy=True) for i in (1, 2, 3)])
        self.assertEqual(r["ops_per_sec"], 2000)
        self.assertTrue(r["noisy"])
        self.assertEqual(r["noise_reason"], "others used 0.50 of a core (cc1plus 0.50)")
        self.assertEqual(r["others_cpu"], 0.5)

    def test_a_failed_round_marks_the_row_failed_but_the_others_count(self):
        r = row([point("kvstore-mem", "get", 1, ops=1000), failed("kvstore-mem", "get", 2)])
        self.assertEqual((r["ops_per_sec"], r["failed"], r["rounds_used"]), (1000, True, 1))

    def test_invalid_rounds_are_left_out_and_all_invalid_is_invalid(self):
        r = row([half(1, p99=1500, lag=100), half(2, p99=9000, lag=2000)], "kvstore-3-half")
        self.assertEqual((r["p99_us"], r["rounds_used"], r["invalid"]), (1500, 1, None))
        r = row([half(1, p99=9000, lag=2000, noisy=True)], "kvstore-3-half")
        self.assertEqual(r["invalid"], "invalid: send lag p99 2.000 ms > 10% of p99 9.000 ms")
        self.assertEqual((r["failed"], r["noisy"], r["others_cpu"]), (False, True, 0.5))

    def test_rows_keep_the_order_the_points_ran_in(self):
        rows = aggregate.aggregate([point("redis", "put"), point("redis", "get"),
                                    point("redis", "put", 2), point("kvstore-mem", "put")])
        self.assertEqual([(r["system"], r["op"]) for r in rows],
                         [("redis", "put"), ("redis", "get"), ("kvstore-mem", "put")])


if __name__ == "__main__":
    unittest.main()
