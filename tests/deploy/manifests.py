"""Checks on the rendered manifests: one release's StatefulSet, Services, PDB,
probes, flags and volumes (check_release), and the TLS value variants.
"""
from certificates import expected_dns
from chart import arg, check, expand, named, render, render_fails


# kvctl's flags in the probes and the preStop hook, with the admin certificate.
ADMIN_TLS = ["--cacert=/tls/ca.crt", "--cert=/tls/admin.crt", "--key=/tls/admin.key"]
CSI_ADMIN_TLS = ["--cacert=/tls/ca.crt", "--cert=/tls-admin/admin.crt",
                 "--key=/tls-admin/admin.key"]


PROBES = ("startupProbe", "readinessProbe", "livenessProbe")


def check_http_probes(c, want):
    """With metrics: httpGet on the metrics port; readiness /readyz (joined),
    except for a single pod, which has no one to join."""
    ready = "/readyz" if want["replicas"] > 1 else "/healthz"
    for probe, path in zip(PROBES, ("/healthz", ready, "/healthz")):
        p = c.get(probe, {})
        check(p.get("httpGet") == {"path": path, "port": "metrics"}
              and "grpc" not in p and "exec" not in p,
              "%s is httpGet %s on the metrics port: %s" % (probe, path, p))


def check_grpc_or_exec_probes(c, want, kvctl_tls):
    """Without metrics: the gRPC health service in plaintext, kvctl ping with TLS."""
    for probe in PROBES:
        p = c.get(probe, {})
        if want["tls"] == "off":
            check(p.get("grpc", {}).get("port") == 50051 and "service" not in p.get("grpc", {})
                  and "exec" not in p,
                  "%s is a gRPC probe on 50051 (standard health service)" % probe)
            continue
        cmd = p.get("exec", {}).get("command", [])
        timeout = "--timeout=%s" % p.get("timeoutSeconds")
        check("grpc" not in p, "%s: no gRPC probe with TLS (the kubelet's speaks no TLS)" % probe)
        check(cmd == ["kvctl", "--addr=127.0.0.1:50051", timeout] + kvctl_tls + ["ping"],
              "%s is an exec kvctl ping over 127.0.0.1 with --cacert and the admin "
              "certificate: %s" % (probe, cmd))


def check_probes_and_hook(c, want):
    tls = want["tls"] != "off"
    kvctl_tls = CSI_ADMIN_TLS if want["tls"] == "csi" else ADMIN_TLS
    if want.get("metrics", True):
        check_http_probes(c, want)
    else:
        check_grpc_or_exec_probes(c, want, kvctl_tls)
    hook = c.get("lifecycle", {}).get("preStop", {}).get("exec", {}).get("command", [])
    if want.get("leave"):
        leave = ["kvctl", "leave", "--addr=127.0.0.1:50051"] + (kvctl_tls if tls else [])
        check(hook == leave, "preStop runs %s: %s" % (leave, hook))
    else:
        check("lifecycle" not in c, "no preStop hook unless leaveOnStop is set")


def check_node_tls_args(args, want):
    """The TLS flags with TLS, none in plaintext; never --peer seeds (both modes
    join through --discover, checked in check_release)."""
    mode = want["tls"]
    check(not [a for a in args if a.startswith("--peer")], "no --peer seeds: %s" % args)
    if mode == "off":
        check(not [a for a in args if a.startswith(("--cert-file", "--key-file",
                                                      "--trusted-ca-file", "--client-cert-auth",
                                                      "--auth-file"))],
              "no TLS flags in plaintext: %s" % args)
        return
    pod_file = "node" if mode == "csi" else "$(POD_NAME)"
    check(arg(args, "--cert-file") == "/tls/%s.crt" % pod_file, "--cert-file")
    check(arg(args, "--key-file") == "/tls/%s.key" % pod_file, "--key-file")
    check(arg(args, "--trusted-ca-file") == "/tls/ca.crt", "--trusted-ca-file")
    check(("--client-cert-auth" in args) == want.get("client_cert_auth", True),
          "--client-cert-auth present: %s" % want.get("client_cert_auth", True))
    if want.get("auth"):
        check(arg(args, "--auth-file") == "/etc/kvstore/auth", "--auth-file")
    else:
        check(not [a for a in args if a.startswith("--auth-file")], "no --auth-file")


def check_release(release, namespace, sets, want):
    print("helm template %s -n %s %s" % (release, namespace, " ".join("--set " + s for s in sets)))
    k = render(release, namespace, *sets)
    kinds = {"off": [], "generated": ["Secret"], "existing": [], "certificate": ["Certificate"],
             "csi": []}
    expected_kinds = sorted(["PodDisruptionBudget", "Service", "StatefulSet", "ServiceAccount",
                             "Pod"]
                            + kinds[want["tls"]] + (["Secret"] if want.get("auth") else []))
    check(sorted(set(k)) == sorted(set(expected_kinds)), "kinds rendered: %s" % sorted(k))
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
    metrics = want.get("metrics", True)
    resp = want.get("resp")  # the RESP port, or None: resp.enabled=false
    check((name + "-metrics" in services) == metrics, "a metrics Service iff metrics are on")
    for s in services.values():
        check(all(labels.get(a) == b for a, b in s["spec"]["selector"].items()),
              "Service %s selects the pods" % s["metadata"]["name"])
        target = "metrics" if s["metadata"]["name"] == name + "-metrics" else "grpc"
        check(s["spec"]["ports"][0]["targetPort"] == target,
              "Service %s targets the %s port" % (s["metadata"]["name"], target))
        want_resp = [{"name": "resp", "port": resp, "targetPort": "resp", "protocol": "TCP"}] \
            if resp and target == "grpc" else []
        check([p for p in s["spec"]["ports"] if p["name"] == "resp"] == want_resp,
              "Service %s: a resp port %s iff resp is on, on the client and headless Services"
              % (s["metadata"]["name"], want_resp))

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
    check([p["containerPort"] for p in c["ports"] if p["name"] == "metrics"]
          == ([9100] if metrics else []), "container port metrics 9100 iff metrics are on")
    check([p for p in c["ports"] if p["name"] == "resp"]
          == ([{"name": "resp", "containerPort": resp, "protocol": "TCP"}] if resp else []),
          "container port resp %s iff resp is on" % resp)
    check(ps.get("serviceAccountName") == name and ps.get("automountServiceAccountToken") is False,
          "the pods run as ServiceAccount %s, without a token" % name)
    check_probes_and_hook(c, want)
    check("resources" in c and c["resources"].get("requests"), "resources set")
    env = {e["name"]: e["valueFrom"]["fieldRef"]["fieldPath"] for e in c["env"]}
    check(env == {"POD_NAME": "metadata.name", "POD_NAMESPACE": "metadata.namespace"},
          "downward API env %s" % env)
    mounts = {m["mountPath"]: m["name"] for m in c["volumeMounts"]}
    check(mounts.get("/data") == "data", "/data mounted")
    vols = {v["name"]: v for v in ps.get("volumes", [])}
    if want["tls"] == "off":
        check("/tls" not in mounts and "tls" not in vols, "no TLS volume in plaintext")
    else:
        check(mounts.get("/tls") == "tls", "/tls mounted")
    if want["tls"] == "generated":
        check(vols.get("tls", {}).get("secret", {}).get("secretName") == name + "-tls",
              "the pods mount Secret %s-tls (not the CA's)" % name)

    args = c["args"]
    check(arg(args, "--addr") == "0.0.0.0:50051", "--addr")
    check(arg(args, "--data-dir") == "/data", "--data-dir=/data")
    check(arg(args, "--backup-dir") == "/data/backups", "--backup-dir=/data/backups")
    check(arg(args, "--replicas") == str(want["rf"]), "--replicas")
    check(arg(args, "--consistency") == want["consistency"], "--consistency")
    check([a for a in args if a.startswith("--metrics-addr")]
          == (["--metrics-addr=0.0.0.0:9100"] if metrics else []),
          "--metrics-addr=0.0.0.0:9100 iff metrics are on")
    check([a for a in args if a.startswith("--resp-addr")]
          == (["--resp-addr=0.0.0.0:%d" % resp] if resp else []),
          "--resp-addr=0.0.0.0:%s iff resp is on: %s" % (resp, args))
    for extra in want.get("extra", []):
        check(extra in args, "extra arg %s" % extra)
    check_node_tls_args(args, want)
    # The DNS names the pods will get: <sts>-<i>.<serviceName>.<ns>.svc.<domain>.
    headless_fqdn = "%s.%s.svc.cluster.local" % (spec["serviceName"], namespace)
    # With TLS too: a join checks the seed's chain and answered ID, not the
    # host name, so the pod IPs the Service resolves to will do as seeds.
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
    if want["persistence"]:
        check(vct and vct[0]["metadata"]["name"] == "data", "volumeClaimTemplate data")
        if vct:
            check(vct[0]["spec"]["resources"]["requests"]["storage"] == want["size"],
                  "PVC size %s" % want["size"])
        check("data" not in vols, "no emptyDir for data when persistent")
    else:
        check(not vct, "no volumeClaimTemplates without persistence")
        check("emptyDir" in vols.get("data", {}), "data is an emptyDir without persistence")
    return k


def check_cert_manager():
    print("TLS from cert-manager: Certificates per ordinal, or the CSI driver")
    k = check_release("kvstore", "kv", ["tls.certManager.issuer.name=kv-ca",
                                        "tls.certManager.issuer.kind=ClusterIssuer"], dict(
        fullname="kvstore", replicas=3, rf=3, consistency="quorum", maxUnavailable=1,
        image="localhost/kvstore:0.1.0", persistence=True, size="1Gi", tls="certificate"))
    certs = {c["metadata"]["name"]: c["spec"] for c in k.get("Certificate", [])}
    check(sorted(certs) == ["kvstore-0-tls", "kvstore-1-tls", "kvstore-2-tls",
                            "kvstore-admin-tls"], "Certificates %s" % sorted(certs))
    for i in range(3):
        c = certs.get("kvstore-%d-tls" % i, {})
        check(c.get("commonName") == "node" and c.get("secretName") == "kvstore-%d-tls" % i,
              "Certificate %d: CN node, its own Secret" % i)
        check(sorted(c.get("dnsNames", [])) == expected_dns("kvstore", "kvstore-%d" % i, "kv"),
              "Certificate %d SANs" % i)
        check(c.get("ipAddresses") == ["127.0.0.1"], "Certificate %d IP SAN" % i)
        check({"server auth", "client auth"} <= set(c.get("usages", [])),
              "Certificate %d: server and client auth" % i)
        check(c.get("privateKey", {}).get("rotationPolicy") == "Never",
              "Certificate %d keeps its key on renewal (the node ID)" % i)
        check(c.get("issuerRef") == {"name": "kv-ca", "kind": "ClusterIssuer",
                                     "group": "cert-manager.io"}, "Certificate %d issuerRef" % i)
    check(certs.get("kvstore-admin-tls", {}).get("commonName") == "admin", "admin Certificate")
    check(k.get("Secret") is None, "no generated Secret with cert-manager")
    vol = named(k["StatefulSet"][0]["spec"]["template"]["spec"]["volumes"], "tls")
    sources = vol.get("projected", {}).get("sources", [])
    paths = sorted(i["path"] for s in sources for i in s["secret"]["items"])
    check(paths == sorted(["ca.crt", "admin.crt", "admin.key"] +
                          ["kvstore-%d.%s" % (i, e) for i in range(3) for e in ("crt", "key")]),
          "projected volume lays the Secrets out as in generated mode: %s" % paths)

    sets = ["tls.certManager.issuer.name=kv-ca", "tls.certManager.mode=csi",
            "persistence.enabled=false"]
    k = check_release("kvstore", "kv", sets, dict(
        fullname="kvstore", replicas=3, rf=3, consistency="quorum", maxUnavailable=1,
        image="localhost/kvstore:0.1.0", persistence=False, tls="csi"))
    vols = k["StatefulSet"][0]["spec"]["template"]["spec"]["volumes"]
    node, admin = named(vols, "tls").get("csi", {}), named(vols, "tls-admin").get("csi", {})
    a = {key.split("/", 1)[1]: v for key, v in node.get("volumeAttributes", {}).items()}
    check(node.get("driver") == "csi.cert-manager.io" and node.get("readOnly") is True,
          "CSI volume csi.cert-manager.io, read-only")
    check(a.get("issuer-name") == "kv-ca" and a.get("common-name") == "node", "CSI issuer, CN")
    check(a.get("dns-names", "").split(",")[0]
          == "${POD_NAME}.kvstore-headless.${POD_NAMESPACE}.svc.cluster.local",
          "CSI dns-names start with the pod's advertised name: %s" % a.get("dns-names"))
    check(a.get("ip-sans") == "127.0.0.1", "CSI ip-sans")
    check("server auth" in a.get("key-usages", "") and "client auth" in a.get("key-usages", ""),
          "CSI key-usages")
    check(a.get("reuse-private-key") == "true", "CSI keeps the key on renewal")
    check(a.get("fs-group") == "10001", "CSI files readable by the kvstore group")
    check((a.get("certificate-file"), a.get("privatekey-file"), a.get("ca-file"))
          == ("node.crt", "node.key", "ca.crt"), "CSI file names")
    admin_attrs = {key.split("/", 1)[1]: v for key, v in admin.get("volumeAttributes", {}).items()}
    check(admin_attrs.get("common-name") == "admin", "CSI admin volume with CN admin")
    render_fails("kvstore", "kv", sets[:2], [], "tls.certManager.mode=csi gives every new pod")


def check_tls_values():
    print("TLS values: plaintext, auth file, client certificates optional")
    k = check_release("kvstore", "kv", ["tls.enabled=false", "leaveOnStop=true"], dict(
        fullname="kvstore", replicas=3, rf=3, consistency="quorum", maxUnavailable=1, leave=True,
        image="localhost/kvstore:0.1.0", persistence=True, size="1Gi", tls="off"))
    check("Secret" not in k, "no Secret in plaintext")
    k = check_release("kvstore", "kv", ["tls.auth.enabled=true", "tls.clientCertAuth=false",
                                        "tls.auth.principals={cn:app write app/}"], dict(
        fullname="kvstore", replicas=3, rf=3, consistency="quorum", maxUnavailable=1, auth=True,
        client_cert_auth=False, image="localhost/kvstore:0.1.0", persistence=True, size="1Gi",
        tls="generated"))
    auth = [s for s in k["Secret"] if s["metadata"]["name"] == "kvstore-auth"]
    text = auth[0]["stringData"]["auth"] if auth else ""
    lines = [l for l in text.splitlines() if l and not l.startswith("#")]
    check(lines == ["cn:admin admin", "cn:app write app/"], "auth file lines %s" % lines)
    pod = k["StatefulSet"][0]["spec"]["template"]
    check(pod["metadata"].get("annotations", {}).get("checksum/auth"),
          "the pods carry the auth file's checksum (nodes read it at start)")
    render_fails("kvstore", "kv", ["tls.auth.enabled=true",
                                   "tls.auth.principals={cn:admin read}"], [], "cn:admin is")
    k = check_release("kvstore", "kv", ["tls.existingSecret=my-tls"], dict(
        fullname="kvstore", replicas=3, rf=3, consistency="quorum", maxUnavailable=1,
        image="localhost/kvstore:0.1.0", persistence=True, size="1Gi", tls="existing"))
    vol = named(k["StatefulSet"][0]["spec"]["template"]["spec"]["volumes"], "tls")
    check("Secret" not in k and vol.get("secret", {}).get("secretName") == "my-tls",
          "tls.existingSecret: nothing generated, the pods mount my-tls")
    return text
