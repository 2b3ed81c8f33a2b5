"""Real kvstore nodes with the chart's generated certificates (--bin-dir).

The pods join through `--discover`: pod IPs, which no certificate names. Here
the seeds are 127.0.0.2:PORT, an address on no certificate (they carry
127.0.0.1 and DNS names), and every node advertises localhost:PORT, a name
they carry. A join checks the seed's chain and answered ID only; every other
call dials an advertised name and checks the host name, which a node that
advertises 127.0.0.2 shows: it joins, but no other node takes it in.
127.0.0.2 is loopback on Linux without any set-up (all of 127.0.0.0/8 is).
"""
import os
import shutil
import subprocess
import tempfile

from certificates import node_id, secret_files, write_files
from chart import check, container, failures, render, wait_for
from fake_api import upgrade_render
from manifests import ADMIN_TLS
from node_probes import check_hook_against_nodes, probe_status, start_until_ready
from testlib import free_port, stop_process

SEED_HOST = "127.0.0.2"  # loopback, on no certificate: stands for a pod IP


def local_command(bin_dir, cmd, port, tls_dir):
    """The chart's probe or hook command, for a node on 127.0.0.1:port with /tls in tls_dir."""
    out = []
    for a in cmd:
        a = a.replace("--addr=127.0.0.1:50051", "--addr=127.0.0.1:%d" % port)
        a = a.replace("=/tls/", "=%s/" % tls_dir)
        out.append(os.path.join(bin_dir, a) if a == "kvctl" else a)
    return out


class Node:
    """kvstore as the chart runs it: listening on every address, advertising a
    name its certificate carries (unless told otherwise), and joining through
    seeds at SEED_HOST, like the pod IPs --discover finds."""

    def __init__(self, bin_dir, name, port, work, tls_dir, auth, seed_ports,
                 advertise_host="localhost", metrics_port=None):
        self.name, self.port, self.metrics_port = name, port, metrics_port
        self.advertise = "%s:%d" % (advertise_host, port)
        self.log = open(os.path.join(work, name + ".log"), "w")
        cmd = [os.path.join(bin_dir, "kvstore"), "--addr=0.0.0.0:%d" % port,
               "--advertise=%s" % self.advertise,
               "--data-dir=%s" % os.path.join(work, name),
               "--cert-file=%s/%s.crt" % (tls_dir, name), "--key-file=%s/%s.key" % (tls_dir, name),
               "--trusted-ca-file=%s/ca.crt" % tls_dir, "--client-cert-auth",
               "--auth-file=%s" % auth]
        if metrics_port:
            cmd.append("--metrics-addr=0.0.0.0:%d" % metrics_port)  # as the chart passes it
        if seed_ports:
            cmd.append("--peer=" + ",".join("%s:%d" % (SEED_HOST, p) for p in seed_ports))
        self.proc = subprocess.Popen(cmd, stdout=self.log, stderr=subprocess.STDOUT)

    def stop(self):
        stop_process(self.proc, self.log)


class Cluster:
    """Three nodes kvstore-0..2, each seeded with the other two at SEED_HOST,
    each with a metrics port."""

    def __init__(self, bin_dir, work, tls_dir, auth):
        self.bin_dir, self.work, self.tls_dir, self.auth = bin_dir, work, tls_dir, auth
        self.ports = [free_port() for _ in range(3)]
        self.metrics_ports = [free_port() for _ in range(3)]
        self.nodes = []
        self.kvctl = [os.path.join(bin_dir, "kvctl")] + \
            [a.replace("=/tls/", "=%s/" % tls_dir) for a in ADMIN_TLS]

    def start(self, i, name=None, port=None, advertise_host="localhost"):
        """Starts ordinal i (a new one past the three: name and port)."""
        seeds = [p for j, p in enumerate(self.ports) if j != i]
        metrics = self.metrics_ports[i] if i < len(self.metrics_ports) else None
        n = Node(self.bin_dir, name or "kvstore-%d" % i, port or self.ports[i], self.work,
                 self.tls_dir, self.auth, seeds, advertise_host, metrics)
        if i < len(self.nodes):
            self.nodes[i] = n
        else:
            self.nodes.append(n)
        return n

    def kvctl_run(self, port, *args, **kw):
        return subprocess.run(self.kvctl + ["--addr=127.0.0.1:%d" % port, *args],
                              stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, **kw)

    def peers(self, port):
        """{node ID: (address, state)} from `kvctl peers` on the node at port."""
        r = self.kvctl_run(port, "peers")
        rows = [l.split() for l in r.stdout.splitlines()[2:]] if r.returncode == 0 else []
        return {row[0]: (row[1], row[2]) for row in rows if len(row) >= 3}

    def alive(self, port):
        return sorted(a for a, state in self.peers(port).values() if state == "alive")

    def stop(self):
        for n in self.nodes:
            n.stop()


def check_join_through_unnamed_seeds(c):
    """The three join through SEED_HOST seeds; their tables then hold only the
    advertised names, which the certificates carry, so the calls after the
    join pass the host-name check."""
    for n in c.nodes:
        want = sorted(m.advertise for m in c.nodes if m is not n)
        wait_for("%s sees %s alive" % (n.name, want), lambda: c.alive(n.port) == want)
    # The seed address is on no certificate: kvctl, which checks the host
    # name, is refused there by a node that is up.
    seed = "%s:%d" % (SEED_HOST, c.ports[0])
    r = subprocess.run(c.kvctl + ["--addr=" + seed, "ping"], stdout=subprocess.PIPE,
                       stderr=subprocess.STDOUT, text=True)
    check(r.returncode != 0 and "not in peer certificate" in r.stdout,
          "kvctl refuses %s, which no certificate names: %s" % (seed, r.stdout.strip()[-200:]))
    for n in c.nodes:
        addresses = [a for a, _ in c.peers(n.port).values()]
        check(addresses and all(a.startswith("localhost:") for a in addresses),
              "%s's table holds advertised names only, no seed address: %s" % (n.name, addresses))
    print("  3 nodes joined over mTLS through seeds at %s, an address no certificate names;"
          " their tables hold only the advertised localhost:PORT names" % SEED_HOST)


def check_unnamed_advertise_is_refused(c):
    """kvstore-3 advertises SEED_HOST:PORT, which its certificate does not
    carry: its join through the seeds works, and it reaches the others by
    their names, but every call the others make to it fails the host-name
    check, so none of them takes it into its table."""
    n = c.start(3, name="kvstore-3", port=free_port(), advertise_host=SEED_HOST)
    try:
        others = sorted(m.advertise for m in c.nodes[:3])
        wait_for("kvstore-3 (advertising %s) sees %s alive" % (n.advertise, others),
                 lambda: c.alive(n.port) == others)
        unnamed = node_id(os.path.join(c.tls_dir, "kvstore-3.crt"))
        for m in c.nodes[:3]:
            table = c.peers(m.port)
            check(table and unnamed not in table,
                  "%s lists its peers but not kvstore-3, whose certificate does not name %s: %s"
                  % (m.name, n.advertise, sorted(a for a, _ in table.values())))
    finally:
        n.stop()
        c.nodes.pop()
    print("  kvstore-3, advertising %s (not on its certificate), joined through the same seeds,"
          " but no node took it in: calls other than joins check the host name" % n.advertise)


def run_nodes(bin_dir, auth_text):
    print("Nodes with the generated certificates, joining through seeds the certificates"
          " do not name (--bin-dir %s)" % bin_dir)
    first = render("kvstore", "kv", "leaveOnStop=true", "tls.generatedOrdinals=4")
    ctr = container(first)
    probe = container(render("kvstore", "kv", "metrics.enabled=false"))["readinessProbe"]
    probe = probe["exec"]["command"]
    leave = ctr["lifecycle"]["preStop"]["exec"]["command"]
    work = tempfile.mkdtemp(prefix="kv-helm-nodes-")
    tls_dir = os.path.join(work, "tls")
    os.mkdir(tls_dir)
    write_files(secret_files(first, "kvstore-tls"), tls_dir)
    auth = os.path.join(work, "auth")
    with open(auth, "w") as f:
        f.write(auth_text)
    c = Cluster(bin_dir, work, tls_dir, auth)
    try:
        start_until_ready(c, ctr)
        for n in c.nodes:
            r = subprocess.run([os.path.join(bin_dir, "kvstore"), "--print-node-id",
                                "--cert-file=%s/%s.crt" % (tls_dir, n.name)],
                               stdout=subprocess.PIPE, text=True)
            check(r.stdout.strip() == node_id(os.path.join(tls_dir, n.name + ".crt")),
                  "%s: kvstore --print-node-id is SHA-1 of the generated key" % n.name)
        check_join_through_unnamed_seeds(c)
        check_unnamed_advertise_is_refused(c)
        ports = c.ports
        r = c.kvctl_run(ports[1], "put", "hello", "world")
        check(r.returncode == 0, "admin put through kvstore-1: %s" % r.stdout.strip())
        r = c.kvctl_run(ports[2], "get", "hello")
        check(r.stdout.strip() == "world", "get through kvstore-2: %s" % r.stdout.strip())
        for n in c.nodes:
            r = subprocess.run(local_command(bin_dir, probe, n.port, tls_dir),
                               stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
            check(r.returncode == 0, "the chart's probe passes on %s: %s" % (n.name, r.stdout))
        print("  admin put/get, and the chart's probe command (metrics off) passes on every node")
        check_hook_against_nodes(c, first)
        r = subprocess.run([os.path.join(bin_dir, "kvctl"), "--addr=127.0.0.1:%d" % ports[0],
                            "--cacert=%s/ca.crt" % tls_dir, "ping"],
                           stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
        check(r.returncode != 0, "--client-cert-auth: kvctl without a certificate is refused")
        # An upgrade signs kvstore-1's certificate again: it restarts on its
        # data dir (same key, same ID) and rejoins through the seeds.
        up = upgrade_render(first["Secret"], "leaveOnStop=true")
        c.nodes[1].stop()
        write_files(secret_files(up, "kvstore-tls"), tls_dir)
        c.start(1)
        wait_for("kvstore-1 back with its re-signed certificate",
                 lambda: len(c.alive(ports[1])) == 2)
        check(c.nodes[1].proc.poll() is None, "kvstore-1 accepted its data dir after the upgrade")
        wait_for("kvstore-1 ready again", lambda: probe_status(c.nodes[1], ctr, "readinessProbe")[0]
                 == 200)
        print("  kvstore-1 restarted with its re-signed certificate, same ID, and rejoined")
        # The preStop hook, as the chart renders it, on kvstore-2.
        r = subprocess.run(local_command(bin_dir, leave, ports[2], tls_dir),
                           stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                           timeout=120)
        check(r.returncode == 0, "the chart's preStop kvctl leave: %s" % r.stdout.strip()[-300:])
        try:
            c.nodes[2].proc.wait(30)
        except subprocess.TimeoutExpired:
            pass
        check(c.nodes[2].proc.poll() is not None, "kvstore-2 exited after its leave")
        print("  the chart's preStop kvctl leave (admin certificate, auth file) moved kvstore-2 out")
    finally:
        c.stop()
    if failures:
        print("  logs kept in", work)
    else:
        shutil.rmtree(work, ignore_errors=True)
