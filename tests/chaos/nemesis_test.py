"""Unit tests of nemesis.py schedules: replayable, bounded, the right shapes."""

import unittest

import nemesis


class ScheduleTest(unittest.TestCase):
    def test_same_seed_same_schedule_other_seed_other_schedule(self):
        for n in nemesis.NEMESES:
            self.assertEqual(nemesis.schedule(n, 42, 110), nemesis.schedule(n, 42, 110))
            self.assertNotEqual(nemesis.schedule(n, 42, 110), nemesis.schedule(n, 43, 110))

    def test_faults_do_not_overlap_and_end_before_the_tail(self):
        for n in nemesis.NEMESES:
            faults = nemesis.schedule(n, 7, 60, tail=3)
            self.assertTrue(faults)
            for a, b in zip(faults, faults[1:]):
                self.assertLessEqual(a.at + a.hold, b.at)
            self.assertLessEqual(faults[-1].at + faults[-1].hold, 57.1)

    def test_partitions_have_their_shapes(self):
        def sides(f):
            return {h: {s for d, s in f.drops if d == h} for h in range(1, 6)}

        for seed in range(20):
            one = sides(nemesis.schedule("partition-one", seed, 60)[0])
            self.assertEqual(sorted(len(v) for v in one.values()), [1, 1, 1, 1, 4])
            halves = sides(nemesis.schedule("partition-halves", seed, 60)[0])
            self.assertEqual(sorted(len(v) for v in halves.values()), [2, 2, 2, 3, 3])
            bridge = sides(nemesis.schedule("partition-bridge", seed, 60)[0])
            self.assertEqual(sorted(len(v) for v in bridge.values()), [0, 2, 2, 2, 2])
            asym = nemesis.schedule("partition-asym", seed, 60)[0]
            self.assertEqual(len({d for d, _ in asym.drops}), 1)  # one host is deaf
            self.assertFalse({(s, d) for d, s in asym.drops} & set(asym.drops))

    def test_kill_and_pause_take_one_or_two_hosts(self):
        for n in ("kill", "pause"):
            for f in nemesis.schedule(n, 3, 110):
                self.assertIn(len(f.targets), (1, 2))

    def test_ruleset_drops_only_the_named_hosts(self):
        rules = nemesis._ruleset({2, 4})
        self.assertIn("ip saddr { 10.213.0.12, 10.213.0.14 } drop", rules)
        self.assertNotIn("10.213.0.1,", rules)


if __name__ == "__main__":
    unittest.main()
