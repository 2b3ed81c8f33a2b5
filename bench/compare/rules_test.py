"""Unit tests of rules.py: the send-lag rule and which points a figure uses."""

import unittest

import rules
from fakes import failed, half, point


class SendLagTest(unittest.TestCase):
    def test_lag_up_to_a_tenth_of_p99_is_valid(self):
        self.assertIsNone(rules.send_lag_invalid(half(p99=1500, lag=150)))

    def test_lag_over_a_tenth_of_p99_is_invalid_and_says_both(self):
        self.assertEqual(rules.send_lag_invalid(half(p99=9151, lag=1887)),
                         "invalid: send lag p99 1.887 ms > 10% of p99 9.151 ms")

    def test_a_closed_loop_point_has_no_send_lag_to_judge(self):
        self.assertIsNone(rules.send_lag_invalid(point("kvstore-3", "get")))


class PickTest(unittest.TestCase):
    def test_quiet_points_are_preferred(self):
        a, b, c = point("x", "get", 1), point("x", "get", 2, noisy=True), point("x", "get", 3)
        self.assertEqual(rules.pick([a, b, c]), ([a, c], False))

    def test_only_noisy_points_give_a_noisy_figure(self):
        a, b = point("x", "get", 1, noisy=True), point("x", "get", 2, noisy=True)
        self.assertEqual(rules.pick([a, b]), ([a, b], True))

    def test_failed_and_invalid_points_are_never_used(self):
        bad = half(lag=5000)
        self.assertTrue(bad["invalid"])
        self.assertEqual(rules.pick([failed("x", "get"), bad]), ([], False))

    def test_points_of_older_results_count_as_quiet(self):
        old = {"system": "x", "label": "x", "op": "get", "ops_per_sec": 5.0, "p99_us": 1}
        self.assertTrue(rules.quiet(old))

    def test_all_rounds_invalid_reports_the_median_one_and_how_many(self):
        p, why = rules.invalid_point([half(1, p99=9000, lag=2000), half(2, p99=7000, lag=1000),
                                      half(3, p99=8000, lag=900), failed("kvstore-3-half", "get")])
        self.assertEqual(p["round"], 3)
        self.assertEqual(why, "invalid: send lag p99 0.900 ms > 10% of p99 8.000 ms "
                              "(each of 3 rounds; this is the median one)")
        self.assertEqual(rules.invalid_point([half(1, lag=10)]), (None, None))

    def test_noise_summary_names_the_point(self):
        p = point("kvstore-mem", "get", noisy=True, label="kvstore 1 node, memory")
        self.assertEqual(rules.noise_summary([point("redis", "get"), p]),
                         "kvstore 1 node, memory get: others used 0.50 of a core (cc1plus 0.50)")


if __name__ == "__main__":
    unittest.main()
