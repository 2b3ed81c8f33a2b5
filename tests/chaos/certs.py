"""Throwaway certificates for a TLS run (`chaos.py --tls`).

`scripts/tls-certs.sh` makes a CA, one certificate per host (CN `node`, IP
SANs for the host's address and 127.0.0.1) and one for the harness's
clients, also CN `node`: `kvchaos replicas` calls Peer.Fetch, which only
members may. They live in one directory for the whole run, apart from the
data dirs, so a host that is restarted, or leaves and joins again on a fresh
data dir, keeps its key and so its node ID.

The certificates are dated an hour back (libfaketime, as the clock-skew
nemesis uses): that nemesis puts a node's clock up to 240 s behind, and to
it a certificate issued "now" would not be valid yet.
"""

import os

from hosts import FAKETIME_LIB, Network, run

SCRIPT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "scripts",
                      "tls-certs.sh")
BACKDATE = "-1h"  # libfaketime's FAKETIME: more than the clock-skew nemesis's 240 s
CLIENT = "client"


class Pki:
    """The CA, host and client files of one run, under `dir`."""

    def __init__(self, dir):
        self.dir = dir

    def _file(self, name, ext):
        return os.path.join(self.dir, f"{name}.{ext}")

    def make(self, hosts):
        """Creates the CA and the certificates of hosts 1..`hosts` and of the
        clients; returns self. Raises RuntimeError when a step fails."""
        if not os.path.exists(FAKETIME_LIB):
            raise RuntimeError(f"{FAKETIME_LIB} not found; install Debian's `faketime` "
                               "(--tls backdates its certificates with it)")
        self._tool("ca")
        for i in range(1, hosts + 1):
            self._tool("cert", f"h{i}", "node", f"IP:{Network.ip(i)}", "IP:127.0.0.1")
        self._tool("cert", CLIENT, "node")
        return self

    def _tool(self, cmd, *args):
        env = dict(os.environ, LD_PRELOAD=FAKETIME_LIB, FAKETIME=BACKDATE)
        run(SCRIPT, cmd, self.dir, *args, env=env, timeout=60)

    def node_flags(self, i):
        """kvstore's TLS flags for host i; its node ID is then its key's."""
        return [f"--cert-file={self._file(f'h{i}', 'crt')}",
                f"--key-file={self._file(f'h{i}', 'key')}",
                f"--trusted-ca-file={self._file('ca', 'crt')}", "--client-cert-auth"]

    def client_flags(self):
        """kvctl's and kvchaos's TLS flags."""
        return [f"--cacert={self._file('ca', 'crt')}", f"--cert={self._file(CLIENT, 'crt')}",
                f"--key={self._file(CLIENT, 'key')}"]
