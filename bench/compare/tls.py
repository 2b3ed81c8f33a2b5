"""The throwaway PKI of a run's TLS points (scripts/tls-certs.sh, openssl).

One CA, one member certificate per node (CN `node`: a node's ID is SHA-1 of
its certificate's key, so each node of a cluster needs its own key), and one
client certificate for kvbench and kvctl, all made once per run in the run's
temp dir. The nodes run as docs/security.md's secure cluster does (TLS,
client certificates required with --client-cert-auth, mTLS between nodes)
but without --auth-file: the points measure the cost of TLS, not of roles.
"""

import os
import subprocess

SCRIPT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "scripts",
                      "tls-certs.sh")
NODES = 3  # the largest TLS cluster of the run (kvstore-3-tls)
CLIENT = "bench"  # CN of the client certificate: any name but the member CN


class Certs:
    """Paths of the files tls-certs.sh made in one directory (see make())."""

    def __init__(self, where):
        self.dir = where

    def path(self, name):
        """DIR/<name>, e.g. path('ca.crt')."""
        return os.path.join(self.dir, name)

    def server_args(self, i):
        """kvstore's flags for node `i` (0-based): its own certificate and key,
        the CA, client certificates required."""
        node = f"node{i + 1}"
        return ["--cert-file", self.path(node + ".crt"), "--key-file", self.path(node + ".key"),
                "--trusted-ca-file", self.path("ca.crt"), "--client-cert-auth"]

    def client_args(self):
        """kvbench's and kvctl's flags: TLS, verified against the CA, with the
        client certificate."""
        return ["--cacert", self.path("ca.crt"), "--cert", self.path(CLIENT + ".crt"),
                "--key", self.path(CLIENT + ".key")]


def make(where, nodes=NODES, script=SCRIPT, timeout=60):
    """Makes the CA, `nodes` member certificates (SANs IP:127.0.0.1 and
    DNS:localhost) and the client certificate in `where`; returns their Certs.
    Raises RuntimeError naming the step that failed and its output."""
    steps = [["ca", where]] + [["cert", where, f"node{i + 1}", "node"] for i in range(nodes)]
    steps.append(["cert", where, CLIENT, CLIENT])
    for step in steps:
        try:
            p = subprocess.run(["bash", script, *step], stdin=subprocess.DEVNULL,
                               capture_output=True, text=True, timeout=timeout)
        except subprocess.TimeoutExpired:
            raise RuntimeError(f"tls-certs.sh {' '.join(step[:1] + step[2:])}: "
                               f"over {timeout} s") from None
        if p.returncode != 0:
            raise RuntimeError(f"tls-certs.sh {' '.join(step[:1] + step[2:])} exited "
                               f"{p.returncode}: {(p.stderr or p.stdout)[-300:]}")
    return Certs(where)
