"""The chart's HTTP probes and its helm test pod, against real nodes
(nodes.py, --bin-dir): readiness follows the join, and the test pod's
script puts, gets and deletes a key over mTLS as the admin.
"""
import os

from chart import check, wait_for
from chart_hook import hook_command, hook_env, run_script
from testlib import http_get


def probe_status(node, ctr, probe):
    """The chart's probe (httpGet on the port named metrics) against node."""
    get = ctr[probe]["httpGet"]
    check(get["port"] == "metrics", "%s on the metrics port" % probe)
    return http_get(node.metrics_port, get["path"])


def start_until_ready(c, ctr):
    """kvstore-0 alone answers the liveness and startup probes but not the
    readiness probe (its seeds are down: not joined); once 1 and 2 are up,
    all three are ready."""
    first = c.start(0)
    wait_for("kvstore-0 alive (/healthz)",
             lambda: probe_status(first, ctr, "livenessProbe")[0] == 200)
    check(probe_status(first, ctr, "startupProbe")[0] == 200, "kvstore-0 passes the startup probe")
    status, body = probe_status(first, ctr, "readinessProbe")
    check(status == 503 and "not joined" in body,
          "kvstore-0, whose seeds are down, is not ready: %s %s" % (status, body.strip()))
    c.start(1)
    c.start(2)
    for n in c.nodes:
        wait_for("%s ready (/readyz)" % n.name,
                 lambda: probe_status(n, ctr, "readinessProbe")[0] == 200)
    print("  readiness /readyz: 503 (%s) while kvstore-0's seeds were down, 200 on all three"
          " once they joined" % body.strip())


def check_hook_against_nodes(c, k):
    """The helm test pod's script and kvctl command, as rendered, against
    kvstore-1: its client Service address becomes localhost:PORT (a name the
    certificates carry, as they carry the Service's), /tls the test's dir."""
    _, kvctl = hook_command(k)
    local = []
    for a in kvctl:
        if a.startswith("--addr="):
            a = "--addr=localhost:%d" % c.ports[1]
        local.append(os.path.join(c.bin_dir, "kvctl") if a == "kvctl" else
                     a.replace("=/tls/", "=%s/" % c.tls_dir))
    r = run_script(k, local)
    check(r.returncode == 0 and "ok: put, get and del" in r.stdout,
          "the helm test pod's script passes against the nodes: %s" % r.stdout.strip()[-300:])
    key = hook_env(k).get("KEY", "")
    r = c.kvctl_run(c.ports[2], "get", key)
    check(r.returncode == 1 and "not found" in r.stdout,
          "the helm test deleted its key %s: %s" % (key, r.stdout.strip()))
    print("  the helm test pod's script put, got and deleted %s as the admin over mTLS" % key)
