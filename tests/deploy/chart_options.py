"""Checks on the chart's optional parts: the metrics port and the probes on
it, the startup probe, minReadySeconds, the ServiceMonitor, the
NetworkPolicy, the RESP port, the ServiceAccount, topologySpreadConstraints,
extraEnv and extra volumes, and storageClass "-". Names, labels and the
schema are in chart_names.py; the helm test pod in chart_hook.py.
"""
import re

from chart import check, container, helm, named, render, render_fails, template_args
from manifests import check_release

DEFAULTS = dict(fullname="kvstore", replicas=3, rf=3, consistency="quorum", maxUnavailable=1,
                image="localhost/kvstore:0.1.0", persistence=True, size="1Gi", tls="generated")


def pod_spec(k):
    return k["StatefulSet"][0]["spec"]["template"]["spec"]


def pod_labels(k):
    return k["StatefulSet"][0]["spec"]["template"]["metadata"]["labels"]


def selects(selector, labels):
    """Whether a matchLabels selector picks a pod with these labels."""
    return bool(selector) and all(labels.get(a) == b for a, b in selector.items())


def check_probes_without_metrics():
    """metrics.enabled=false: the probes of before (gRPC health, or kvctl ping
    with TLS), now also as the startup probe; no metrics port or Service."""
    print("metrics.enabled=false: the probes of before, no metrics port")
    for tls, sets in [("off", ["tls.enabled=false"]), ("generated", []),
                      ("csi", ["tls.certManager.issuer.name=ca", "tls.certManager.mode=csi",
                               "persistence.enabled=false"])]:
        want = dict(DEFAULTS, tls=tls, metrics=False, persistence=tls != "csi")
        k = check_release("kvstore", "kv", ["metrics.enabled=false"] + sets, want)
        check("ServiceMonitor" not in k, "no ServiceMonitor without metrics")
    render_fails("kvstore", "kv", ["metrics.enabled=false", "metrics.serviceMonitor.enabled=true"],
                 [], "metrics.serviceMonitor.enabled needs metrics.enabled")


def check_metrics_port():
    print("metrics: its port, the probes' timings, a single pod's readiness")
    k = render("kvstore", "kv", "metrics.port=9200", "probes.startup.failureThreshold=90",
               "minReadySeconds=30")
    c = container(k)
    check("--metrics-addr=0.0.0.0:9200" in c["args"], "--metrics-addr follows metrics.port")
    check(named(c["ports"], "metrics").get("containerPort") == 9200, "container port metrics 9200")
    service = [s for s in k["Service"] if s["metadata"]["name"] == "kvstore-metrics"]
    spec = service[0]["spec"] if service else {}
    check(spec.get("clusterIP") == "None" and spec.get("publishNotReadyAddresses") is True,
          "the metrics Service lists every pod, ready or not (scrape the ones that cannot join)")
    check(spec.get("ports") == [{"name": "metrics", "port": 9200, "targetPort": "metrics",
                                 "protocol": "TCP", "appProtocol": "http"}],
          "metrics Service port: %s" % spec.get("ports"))
    startup = c.get("startupProbe", {})
    check(startup.get("failureThreshold") == 90 and startup.get("periodSeconds") == 5,
          "startupProbe timings from probes.startup: %s" % startup)
    check(k["StatefulSet"][0]["spec"].get("minReadySeconds") == 30, "minReadySeconds 30")
    k = render("kvstore", "kv")
    check(k["StatefulSet"][0]["spec"].get("minReadySeconds") == 10, "minReadySeconds 10 by default")
    check_release("kvstore", "kv", ["replicaCount=1"], dict(DEFAULTS, replicas=1, maxUnavailable=0))
    render_fails("kvstore", "kv", ["metrics.port=50051"], [], "needs a port of its own")


def check_service_monitor():
    print("metrics.serviceMonitor: a ServiceMonitor on the metrics Service only")
    k = render("kvstore", "kv")
    check("ServiceMonitor" not in k, "no ServiceMonitor by default (needs the operator's CRD)")
    k = render("kvstore", "kv", "metrics.serviceMonitor.enabled=true",
               "metrics.serviceMonitor.interval=15s", "metrics.serviceMonitor.labels.release=prom")
    sms = k.get("ServiceMonitor", [])
    if not check(len(sms) == 1, "one ServiceMonitor"):
        return
    sm = sms[0]
    check(sm["apiVersion"] == "monitoring.coreos.com/v1", "ServiceMonitor monitoring.coreos.com/v1")
    check(sm["metadata"]["labels"].get("release") == "prom"
          and sm["metadata"]["labels"].get("app.kubernetes.io/name") == "kvstore",
          "ServiceMonitor labels: the chart's and metrics.serviceMonitor.labels")
    selector = sm["spec"]["selector"]["matchLabels"]
    picked = [s["metadata"]["name"] for s in k["Service"]
              if selects(selector, s["metadata"]["labels"])]
    check(picked == ["kvstore-metrics"], "the ServiceMonitor selects the metrics Service only: %s"
          % picked)
    check(sm["spec"].get("namespaceSelector") == {"matchNames": ["kv"]}, "in the release namespace")
    check(sm["spec"]["endpoints"] == [{"port": "metrics", "path": "/metrics", "scheme": "http",
                                       "interval": "15s"}],
          "ServiceMonitor endpoint: %s" % sm["spec"]["endpoints"])


def policy(sets):
    k = render("kvstore", "kv", "networkPolicy.enabled=true", *sets)
    found = k.get("NetworkPolicy", [])
    check(len(found) == 1, "one NetworkPolicy with networkPolicy.enabled")
    return k, (found[0]["spec"] if found else {"ingress": []})


def check_network_policy():
    print("networkPolicy: gRPC from peers, the test pod and clients; metrics from scrapers")
    check("NetworkPolicy" not in render("kvstore", "kv"), "no NetworkPolicy by default")
    k, spec = policy(["networkPolicy.clientSelector.matchLabels.role=app",
                      "networkPolicy.metricsSelector.matchLabels.app=prometheus",
                      "networkPolicy.metricsNamespaceSelector.matchLabels.team=obs"])
    labels = pod_labels(k)
    check(selects(spec["podSelector"].get("matchLabels"), labels), "the policy applies to the pods")
    check(spec.get("policyTypes") == ["Ingress"], "policyTypes [Ingress] (egress left alone)")
    rules = spec["ingress"]
    check(len(rules) == 2, "two rules: gRPC and metrics")
    grpc, metrics = (rules + [{}, {}])[:2]
    check(grpc.get("ports") == [{"port": 50051, "protocol": "TCP"}], "rule 1: the gRPC port")
    froms = grpc.get("from", [])
    check(selects(froms[0]["podSelector"]["matchLabels"], labels) and len(froms[0]) == 1,
          "gRPC from the release's own pods (peers), in its namespace")
    test_pod = k["Pod"][0]["metadata"]["labels"]
    check(selects(froms[1]["podSelector"]["matchLabels"], test_pod),
          "gRPC from the helm test pod")
    check(froms[2:] == [{"podSelector": {"matchLabels": {"role": "app"}}}],
          "gRPC from clientSelector's pods: %s" % froms[2:])
    check(metrics.get("ports") == [{"port": 9100, "protocol": "TCP"}], "rule 2: the metrics port")
    check(metrics.get("from") == [{"podSelector": {"matchLabels": {"app": "prometheus"}},
                                   "namespaceSelector": {"matchLabels": {"team": "obs"}}}],
          "metrics from metricsSelector's pods in metricsNamespaceSelector's namespaces: %s"
          % metrics.get("from"))
    check_network_policy_defaults()


def check_network_policy_defaults():
    """Null selectors: nobody else; {} is every pod; extraIngress appended; port follows."""
    _, spec = policy(["port=6000"])
    rules = spec["ingress"]
    check(len(rules) == 1 and len(rules[0]["from"]) == 2,
          "without selectors: gRPC from the peers and the test pod only, no metrics rule: %s"
          % rules)
    check(rules[0]["ports"][0]["port"] == 6000, "the gRPC rule follows port")
    _, spec = policy(["networkPolicy.clientNamespaceSelector.matchLabels.env=prod",
                      "networkPolicy.extraIngress[0].from[0].ipBlock.cidr=10.0.0.0/8"])
    check(spec["ingress"][0]["from"][2:] == [{"namespaceSelector": {"matchLabels":
                                                                     {"env": "prod"}}}],
          "clientNamespaceSelector alone: every pod of those namespaces")
    check(spec["ingress"][-1] == {"from": [{"ipBlock": {"cidr": "10.0.0.0/8"}}]},
          "extraIngress appended as given")
    _, spec = policy(["networkPolicy.metricsSelector.matchLabels.x=y", "metrics.enabled=false"])
    check(len(spec["ingress"]) == 1, "no metrics rule without metrics")
    k = render("kvstore", "kv", "networkPolicy.enabled=true",
               extra=["--set-json", "networkPolicy.clientSelector={}"])
    froms = k["NetworkPolicy"][0]["spec"]["ingress"][0]["from"]
    check(froms[2:] == [{"podSelector": {}}], "clientSelector {}: every pod of the namespace")


def resp_ports(ports):
    return [p for p in ports if p["name"] == "resp"]


def check_resp_port():
    """resp.enabled: --resp-addr, container port resp, a resp port on the client
    and headless Services, and in the NetworkPolicy's gRPC rule; off: none."""
    print("resp: the Redis protocol port, off by default")
    for tls, sets, extra in [("off", ["tls.enabled=false"], {}), ("generated", [], {}),
                             ("generated", ["tls.auth.enabled=true", "tls.clientCertAuth=false"],
                              dict(auth=True, client_cert_auth=False)),
                             ("csi", ["tls.certManager.issuer.name=ca", "tls.certManager.mode=csi",
                                      "persistence.enabled=false"], dict(persistence=False))]:
        # check_release: --resp-addr, the container port and both Service ports;
        # with TLS the node's TLS flags (and --auth-file) are there for it too.
        want = dict(DEFAULTS, tls=tls, resp=6379, **extra)
        check_release("kvstore", "kv", ["resp.enabled=true"] + sets, want)

    k = render("kvstore", "kv", "resp.enabled=true", "resp.port=6380", "service.port=7000")
    c = container(k)
    check("--resp-addr=0.0.0.0:6380" in c["args"], "--resp-addr follows resp.port")
    check(resp_ports(c["ports"]) == [{"name": "resp", "containerPort": 6380, "protocol": "TCP"}],
          "container port resp 6380")
    services = {s["metadata"]["name"]: s["spec"]["ports"] for s in k["Service"]}
    resp = {"name": "resp", "port": 6380, "targetPort": "resp", "protocol": "TCP"}
    check(services.get("kvstore") == [{"name": "grpc", "port": 7000, "targetPort": "grpc",
                                       "protocol": "TCP", "appProtocol": "grpc"}, resp],
          "client Service: grpc on service.port, then resp on resp.port: %s"
          % services.get("kvstore"))
    check(services.get("kvstore-headless") == [{"name": "grpc", "port": 50051,
                                                "targetPort": "grpc", "protocol": "TCP"}, resp],
          "headless Service: grpc, then resp: %s" % services.get("kvstore-headless"))
    check(not resp_ports(services.get("kvstore-metrics", [])),
          "no resp port on the metrics Service")

    # The NetworkPolicy: the RESP port in the gRPC rule, so from the same pods.
    np = ["networkPolicy.clientSelector.matchLabels.role=app",
          "networkPolicy.clientNamespaceSelector.matchLabels.env=prod",
          "networkPolicy.metricsSelector.matchLabels.app=prometheus"]
    _, off = policy(np)
    _, on = policy(np + ["resp.enabled=true", "resp.port=6380"])
    if check(len(on["ingress"]) == 2 == len(off["ingress"]), "still two rules: gRPC and metrics"):
        check(on["ingress"][0]["ports"] == [{"port": 50051, "protocol": "TCP"},
                                            {"port": 6380, "protocol": "TCP"}],
              "rule 1: the gRPC port and the RESP port: %s" % on["ingress"][0]["ports"])
        check(on["ingress"][0]["from"] == off["ingress"][0]["from"],
              "the RESP port from the same sources as gRPC (peers, test pod, clients)")
        check(on["ingress"][1] == off["ingress"][1], "the metrics rule unchanged")
    check(off["ingress"][0]["ports"] == [{"port": 50051, "protocol": "TCP"}],
          "resp off: the gRPC port alone")

    # Off (the default): not a byte of it, whatever resp.port says; no port
    # conflict check either. TLS off: no random keys, so the text compares.
    base = ["tls.enabled=false", "networkPolicy.enabled=true"] + np
    default = helm(*template_args("kvstore", "kv", base))
    moved = helm(*template_args("kvstore", "kv", base + ["resp.port=50051"]))
    check(default.returncode == 0 and default.stdout == moved.stdout,
          "resp off: the same manifests whatever resp.port is")
    check(not re.search(r"\bresp\b", default.stdout), "resp off: nothing about it rendered")
    k = render("kvstore", "kv", "resp.port=6380")
    c = container(k)
    check(not [a for a in c["args"] if a.startswith("--resp-addr")], "resp off: no --resp-addr")
    check(not resp_ports(c["ports"]), "resp off: no container port resp")
    check(not [s for s in k["Service"] if resp_ports(s["spec"]["ports"])],
          "resp off: no Service port resp")

    for sets, message in [(["resp.port=50051"], "resp.port and port are both 50051"),
                          (["resp.port=9100"], "resp.port and metrics.port are both 9100"),
                          (["service.port=6379"], "resp.port and service.port are both 6379")]:
        render_fails("kvstore", "kv", ["resp.enabled=true"] + sets, [], message)
    render("kvstore", "kv", "resp.enabled=true", "resp.port=9100", "metrics.enabled=false")


def check_service_account():
    print("serviceAccount: created without a token by default; or one of yours")
    k = render("kvstore", "kv")
    sa = k.get("ServiceAccount", [{}])[0]
    check(sa.get("metadata", {}).get("name") == "kvstore"
          and sa.get("automountServiceAccountToken") is False,
          "ServiceAccount kvstore with automountServiceAccountToken: false")
    for sets, name in [(["serviceAccount.name=kv-sa"], "kv-sa"),
                       (["serviceAccount.create=false"], "default"),
                       (["serviceAccount.create=false", "serviceAccount.name=mine"], "mine")]:
        k = render("kvstore", "kv", *sets)
        created = [s["metadata"]["name"] for s in k.get("ServiceAccount", [])]
        want = [name] if "serviceAccount.create=false" not in sets else []
        check(created == want, "%s: ServiceAccounts created %s" % (sets, created))
        ps = pod_spec(k)
        check(ps.get("serviceAccountName") == name
              and ps.get("automountServiceAccountToken") is False,
              "%s: the pods run as %s, no token mounted" % (sets, name))
        check(k["Pod"][0]["spec"].get("serviceAccountName") == name,
              "the test pod runs as %s" % name)


def check_spread_and_extras():
    print("topologySpreadConstraints, extraEnv, extraVolumes, extraVolumeMounts")
    check("topologySpreadConstraints" not in pod_spec(render("kvstore", "kv")),
          "no topologySpreadConstraints by default")
    zone = "topologySpreadConstraints[0]."
    host = "topologySpreadConstraints[1]."
    k = render("kvstore", "kv", zone + "maxSkew=1",
               zone + "topologyKey=topology.kubernetes.io/zone",
               zone + "whenUnsatisfiable=ScheduleAnyway", host + "maxSkew=2",
               host + "topologyKey=kubernetes.io/hostname",
               host + "whenUnsatisfiable=DoNotSchedule",
               host + "labelSelector.matchLabels.tier=kv",
               "extraEnv[0].name=TZ", "extraEnv[0].value=UTC",
               "extraVolumes[0].name=scratch", "extraVolumes[0].emptyDir.medium=Memory",
               "extraVolumeMounts[0].name=scratch", "extraVolumeMounts[0].mountPath=/scratch")
    ps = pod_spec(k)
    tsc = ps.get("topologySpreadConstraints", [])
    check(len(tsc) == 2, "two topologySpreadConstraints")
    if len(tsc) == 2:
        check(tsc[0]["topologyKey"] == "topology.kubernetes.io/zone"
              and selects(tsc[0]["labelSelector"]["matchLabels"], pod_labels(k))
              and tsc[0]["labelSelector"]["matchLabels"]
              == k["StatefulSet"][0]["spec"]["selector"]["matchLabels"],
              "a constraint without labelSelector gets the chart's selector labels: %s" % tsc[0])
        check(tsc[1]["labelSelector"] == {"matchLabels": {"tier": "kv"}} and tsc[1]["maxSkew"] == 2,
              "a constraint with its own labelSelector is kept as given: %s" % tsc[1])
    c = container(k)
    check([e["name"] for e in c["env"]] == ["POD_NAME", "POD_NAMESPACE", "TZ"]
          and c["env"][2].get("value") == "UTC", "extraEnv after the downward API: %s" % c["env"])
    check(named(ps["volumes"], "scratch") == {"name": "scratch", "emptyDir": {"medium": "Memory"}},
          "extraVolumes added")
    check(named(c["volumeMounts"], "scratch").get("mountPath") == "/scratch",
          "extraVolumeMounts added")
    check(named(c["volumeMounts"], "data").get("mountPath") == "/data", "/data still mounted")


def claim_class(*sets):
    vct = render("kvstore", "kv", *sets)["StatefulSet"][0]["spec"]["volumeClaimTemplates"][0]
    return vct["spec"].get("storageClassName")


def check_storage_class():
    print('persistence.storageClass: "" default class, a name, "-" no class')
    check(claim_class() is None, 'storageClass "": no storageClassName (the default class)')
    check(claim_class("persistence.storageClass=fast") == "fast", "storageClass fast")
    check(claim_class("persistence.storageClass=-") == "",
          'storageClass "-": storageClassName "" (no class), not a class named "-"')


def check_options():
    check_probes_without_metrics()
    check_metrics_port()
    check_service_monitor()
    check_network_policy()
    check_resp_port()
    check_service_account()
    check_spread_and_extras()
    check_storage_class()
