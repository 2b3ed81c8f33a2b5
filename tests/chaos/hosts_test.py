"""Unit tests of hosts.py that need no root: command lines and the subnet plan."""

import unittest
from unittest import mock

import hosts

BINS = {"kvstore": "/b/kvstore", "kvctl": "/b/kvctl", "kvchaos": "/b/kvchaos"}


class NetworkTest(unittest.TestCase):
    def test_every_host_stays_in_the_subnet(self):
        self.assertEqual(hosts.Network.ip(6), "10.213.0.16")
        self.assertEqual(hosts.Network.ns(6), "kvc-h6")
        with self.assertRaises(ValueError):
            hosts.Network(hosts.MAX_HOSTS + 1)


class HostsTest(unittest.TestCase):
    def test_a_spare_is_a_slot_for_the_clients_not_a_member(self):
        h = hosts.Hosts(BINS, "/run", spares=1)
        self.assertEqual(h.addrs(), [f"10.213.0.1{i}:50051" for i in range(1, 6)])
        self.assertEqual(h.slot_addrs(), [f"10.213.0.1{i}:50051" for i in range(1, 7)])

    def test_joins_through_a_member(self):
        h = hosts.Hosts(BINS, "/run", spares=1)
        self.assertIn("--peer=10.213.0.11:50051", h.command(6))
        self.assertIn("--peer=10.213.0.12:50051", h.command(1))
        h.members -= {1, 2}
        self.assertIn("--peer=10.213.0.13:50051", h.command(1))

    def test_skewed_command_preloads_libfaketime_for_the_wall_clock_only(self):
        h = hosts.Hosts(BINS, "/run")
        self.assertNotIn("env", h.command(2))
        with mock.patch.object(hosts, "build_futex_shim", return_value="/run/shim.so"):
            cmd = h.command(2, skew=-90)
        self.assertEqual(cmd[:5], ["ip", "netns", "exec", "kvc-h2", "env"])
        self.assertIn(f"LD_PRELOAD={hosts.FAKETIME_LIB} /run/shim.so", cmd)
        self.assertIn("FAKETIME=-90s", cmd)
        self.assertIn("FAKETIME_DONT_FAKE_MONOTONIC=1", cmd)
        self.assertEqual(cmd[8], "/b/kvstore")
        self.assertIn("FAKETIME=+5s", hosts.faketime_env(5, "/s.so"))


if __name__ == "__main__":
    unittest.main()
