"""Unit tests of nemesis.py schedules: replayable, bounded, the right shapes."""

import unittest
from unittest import mock

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

    def test_clock_skew_moves_one_host_seconds_to_minutes_both_ways(self):
        signs = set()
        for seed in range(30):
            for f in nemesis.schedule("clock-skew", seed, 110):
                self.assertEqual(f.kind, "skew")
                self.assertEqual(len(f.targets), 1)
                self.assertIn(f.targets[0], range(1, 6))
                self.assertTrue(2 <= abs(f.skew) <= 240, f.skew)
                signs.add(f.skew > 0)
        self.assertEqual(signs, {True, False})

    def test_membership_alternates_a_fresh_join_and_a_members_leave(self):
        for seed in range(20):
            faults = nemesis.schedule("membership", seed, 110)
            self.assertGreaterEqual(len(faults), 4)
            self.assertEqual((faults[0].kind, faults[0].targets), ("join", (6,)))
            for i, f in enumerate(faults):
                before = nemesis.members_after(faults[:i], 5)
                self.assertEqual(f.kind, "join" if i % 2 == 0 else "leave")
                if f.kind == "join":
                    self.assertEqual(len(before), 5)
                    self.assertNotIn(f.targets[0], before)
                else:
                    self.assertEqual(len(before), 6)
                    self.assertIn(f.targets[0], before)
                self.assertIn(f.targets[0], range(1, 7))

    def test_describe_names_the_fault(self):
        F = nemesis.Fault  # noqa: N806
        self.assertEqual(F(at=2, hold=7.4, kind="skew", targets=(2,), skew=59).describe(),
                         "t=   2.0s  skew      for  7.4s  host 2 clock +59s")
        self.assertIn("host 1 clock -89s", F(1, 5, "skew", targets=(1,), skew=-89).describe())
        self.assertIn("host 6 joins, fresh", F(1, 5, "join", targets=(6,)).describe())
        self.assertIn("host 3 leaves (kvctl leave)", F(1, 5, "leave", targets=(3,)).describe())
        self.assertIn("hosts 1,4", F(1, 5, "kill", targets=(1, 4)).describe())
        self.assertIn("2x3, 3x2", F(1, 5, "partition", drops=((2, 3), (3, 2))).describe())

    def test_ruleset_drops_only_the_named_hosts(self):
        rules = nemesis._ruleset({2, 4})
        self.assertIn("ip saddr { 10.213.0.12, 10.213.0.14 } drop", rules)
        self.assertNotIn("10.213.0.1,", rules)



class ApplyHealTest(unittest.TestCase):
    """apply/heal ask hosts.Hosts for the right thing (a mock records the calls)."""

    def test_skew_restarts_skewed_then_restarts_right(self):
        hosts = mock.Mock()
        f = nemesis.Fault(at=1, hold=5, kind="skew", targets=(3,), skew=-42)
        nemesis.apply(f, hosts)
        nemesis.heal(f, hosts)
        self.assertEqual(hosts.mock_calls, [mock.call.restart(3, skew=-42), mock.call.restart(3)])

    def test_join_stays_and_a_leave_is_waited_for(self):
        hosts = mock.Mock()
        join = nemesis.Fault(at=1, hold=5, kind="join", targets=(6,))
        leave = nemesis.Fault(at=9, hold=5, kind="leave", targets=(2,))
        for f in (join, leave):
            nemesis.apply(f, hosts)
            nemesis.heal(f, hosts)
        self.assertEqual(hosts.mock_calls, [mock.call.join(6), mock.call.leave(2),
                                            mock.call.finish_leave(2)])

    def test_heal_all_ends_leaves_and_skews_and_starts_members(self):
        hosts = mock.Mock(leaving={4: None}, members={1, 2, 3, 5, 6}, paused=set(),
                          skews={2: 30})
        hosts.running.side_effect = lambda h: h != 6
        with mock.patch.object(nemesis, "clear_rules"):
            nemesis.heal_all(hosts)
        self.assertEqual([c for c in hosts.mock_calls if c[0] != "running"],
                         [mock.call.finish_leave(4), mock.call.restart(2), mock.call.start(6)])


if __name__ == "__main__":
    unittest.main()
