"""Unit tests of tls.py: the run's certificates and the flags that use them."""

import os
import shutil
import subprocess
import tempfile
import unittest

import tls


class ArgsTest(unittest.TestCase):
    def test_each_node_gets_its_own_certificate_and_key(self):
        c = tls.Certs("/t")
        self.assertEqual(c.server_args(2), ["--cert-file", "/t/node3.crt", "--key-file",
                                            "/t/node3.key", "--trusted-ca-file", "/t/ca.crt",
                                            "--client-cert-auth"])

    def test_clients_verify_the_ca_and_present_the_client_certificate(self):
        self.assertEqual(tls.Certs("/t").client_args(),
                         ["--cacert", "/t/ca.crt", "--cert", "/t/bench.crt", "--key",
                          "/t/bench.key"])


@unittest.skipUnless(shutil.which("openssl"), "openssl not installed")
class MakeTest(unittest.TestCase):
    def setUp(self):
        tmp = tempfile.TemporaryDirectory()
        self.addCleanup(tmp.cleanup)
        self.dir = os.path.join(tmp.name, "tls")

    def subject_and_sans(self, name):
        out = subprocess.run(["openssl", "x509", "-in", os.path.join(self.dir, name), "-noout",
                              "-subject", "-ext", "subjectAltName"],
                             capture_output=True, text=True, timeout=10, check=True).stdout
        return out.replace(" ", "")

    def test_members_are_cn_node_with_distinct_keys_for_127_0_0_1(self):
        c = tls.make(self.dir, nodes=2)
        for i in range(2):
            text = self.subject_and_sans(f"node{i + 1}.crt")
            self.assertIn("CN=node", text)
            self.assertIn("IPAddress:127.0.0.1", text)
        keys = []
        for i in range(2):
            with open(c.path(f"node{i + 1}.key")) as f:
                keys.append(f.read())
        self.assertNotEqual(keys[0], keys[1])  # node ID = SHA-1 of the key
        self.assertIn("CN=bench", self.subject_and_sans("bench.crt"))
        subprocess.run(["openssl", "verify", "-CAfile", c.path("ca.crt"), c.path("node2.crt"),
                        c.path("bench.crt")], capture_output=True, timeout=10, check=True)

    def test_a_failing_step_raises_naming_it(self):
        script = os.path.join(os.path.dirname(self.dir), "fail.sh")
        with open(script, "w") as f:
            f.write('[ "$1" = ca ] || { echo "no $3" >&2; exit 3; }\n')
        with self.assertRaisesRegex(RuntimeError, r"tls-certs.sh cert node1 node exited 3: "
                                                  r"no node1"):
            tls.make(self.dir, script=script)


if __name__ == "__main__":
    unittest.main()
