"""Unit tests of rounds.py: the interleaved order of the units."""

import unittest

import rounds

ALL = list(rounds.GROUPS)


class ScheduleTest(unittest.TestCase):
    def test_each_round_runs_every_comparison_peer_first(self):
        one_round = ["redis", "kvstore-1-memory", "kvstore-1-tls", "kvstore-1-metrics",
                     "kvstore-1-resp", "kvstore-3-resp", "etcd",
                     "kvstore-3", "kvstore-3-tls", "kvstore-1-rocksdb", "etcd-3",
                     "kvstore-3-rocksdb", "opendht-16", "kvstore-16"]
        plan = rounds.schedule(ALL, 2)
        self.assertEqual(plan, [(1, u) for u in one_round] + [(2, u) for u in one_round])

    def test_the_two_sides_of_a_comparison_alternate_over_the_rounds(self):
        plan = rounds.schedule(ALL, 3)
        pair = [u for _, u in plan if u in ("redis", "kvstore-1-memory")]
        self.assertEqual(pair, ["redis", "kvstore-1-memory"] * 3)
        rnds = [r for r, u in plan if u in ("redis", "kvstore-1-memory")]
        self.assertEqual(rnds, [1, 1, 2, 2, 3, 3])

    def test_each_tls_unit_runs_right_after_its_plaintext_twin_in_every_round(self):
        units = [u for _, u in rounds.schedule(ALL, 3)]
        for plain, tls in (("kvstore-1-memory", "kvstore-1-tls"), ("kvstore-3", "kvstore-3-tls")):
            after = [units[i + 1] for i, u in enumerate(units) if u == plain]
            self.assertEqual(after, [tls] * 3)

    def test_the_metrics_unit_runs_in_the_same_round_as_its_plaintext_twin(self):
        plan = rounds.schedule(ALL, 3)
        for r in (1, 2, 3):
            units = [u for rnd, u in plan if rnd == r]
            self.assertEqual(units.index("kvstore-1-metrics"),
                             units.index("kvstore-1-memory") + 2)

    def test_only_keeps_the_named_groups_in_comparison_order(self):
        plan = rounds.schedule(["kvstore", "redis"], 1)
        self.assertEqual([u for _, u in plan],
                         ["redis", "kvstore-1-memory", "kvstore-1-tls", "kvstore-1-metrics",
                          "kvstore-1-resp", "kvstore-3-resp", "kvstore-3", "kvstore-3-tls",
                          "kvstore-1-rocksdb", "kvstore-3-rocksdb"])

    def test_units_pick_single_units_in_comparison_order(self):
        plan = rounds.schedule(ALL, 2, rounds.parse_units("kvstore-3-rocksdb,etcd-3"))
        self.assertEqual(plan, [(1, "etcd-3"), (1, "kvstore-3-rocksdb"),
                                (2, "etcd-3"), (2, "kvstore-3-rocksdb")])
        with self.assertRaisesRegex(ValueError, "unknown etcd-5"):
            rounds.parse_units("etcd-5")

    def test_a_quick_run_is_one_round(self):
        self.assertEqual({r for r, _ in rounds.schedule(ALL, 1)}, {1})

    def test_step_counts_match_the_points_of_a_round(self):
        per_round = sum(rounds.steps(u, 50) for _, u in rounds.schedule(ALL, 1))
        # docs/benchmarks.md: 48 points, 4 of them TLS, 2 with metrics, 6 over RESP
        self.assertEqual(per_round, 48)
        self.assertEqual(sum(rounds.steps(u, 1) for _, u in rounds.schedule(ALL, 1)), 41)

    def test_parse_only_names_an_unknown_group(self):
        self.assertEqual(rounds.parse_only("kvstore, redis"), ["kvstore", "redis"])
        with self.assertRaisesRegex(ValueError, "unknown mongo"):
            rounds.parse_only("redis,mongo")


if __name__ == "__main__":
    unittest.main()
