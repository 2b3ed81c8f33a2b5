"""Unit tests of hosts.py that need no root: command lines and the subnet plan."""

import unittest
from unittest import mock

import certs
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


class TlsTest(unittest.TestCase):
    def test_plaintext_passes_no_tls_flag(self):
        h = hosts.Hosts(BINS, "/run")
        self.assertFalse([a for a in h.command(1) if "cert" in a or "key-file" in a])
        self.assertEqual(h.client("kvctl"), ["/b/kvctl"])

    def test_each_node_serves_its_own_certificate_and_takes_its_id_from_it(self):
        h = hosts.Hosts(BINS, "/run/h", spares=1, pki=certs.Pki("/run/tls"))
        for i in (1, 6):
            cmd = h.command(i)
            self.assertIn(f"--cert-file=/run/tls/h{i}.crt", cmd)
            self.assertIn(f"--key-file=/run/tls/h{i}.key", cmd)
            self.assertIn("--trusted-ca-file=/run/tls/ca.crt", cmd)
            self.assertIn("--client-cert-auth", cmd)
            self.assertFalse([a for a in cmd if a.startswith("--node-id")])

    def test_a_skewed_restart_keeps_the_certificate(self):
        h = hosts.Hosts(BINS, "/run/h", pki=certs.Pki("/run/tls"))
        with mock.patch.object(hosts, "build_futex_shim", return_value="/run/shim.so"):
            self.assertIn("--cert-file=/run/tls/h3.crt", h.command(3, skew=30))

    def test_clients_present_the_client_certificate_before_the_subcommand(self):
        h = hosts.Hosts(BINS, "/run/h", pki=certs.Pki("/run/tls"))
        self.assertEqual(h.client("kvchaos"),
                         ["/b/kvchaos", "--cacert=/run/tls/ca.crt", "--cert=/run/tls/client.crt",
                          "--key=/run/tls/client.key"])
        with mock.patch.object(hosts, "run") as run:
            run.return_value.returncode, run.return_value.stdout = 0, ""
            h.kvctl(2, "peers")
        self.assertEqual(run.call_args.args[:3], ("/b/kvctl", "--cacert=/run/tls/ca.crt",
                                                  "--cert=/run/tls/client.crt"))
        self.assertEqual(run.call_args.args[-1], "peers")

    def test_certificates_name_the_hosts_address_and_are_backdated(self):
        with mock.patch.object(certs, "run") as run, \
                mock.patch.object(certs, "FAKETIME_LIB", __file__):
            certs.Pki("/run/tls").make(2)
        calls = [c.args[1:] for c in run.call_args_list]
        self.assertEqual(calls, [("ca", "/run/tls"),
                                 ("cert", "/run/tls", "h1", "node", "IP:10.213.0.11",
                                  "IP:127.0.0.1"),
                                 ("cert", "/run/tls", "h2", "node", "IP:10.213.0.12",
                                  "IP:127.0.0.1"),
                                 ("cert", "/run/tls", "client", "node")])
        self.assertEqual(run.call_args.kwargs["env"]["FAKETIME"], "-1h")


if __name__ == "__main__":
    unittest.main()
