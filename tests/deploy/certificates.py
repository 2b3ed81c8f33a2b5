"""The generated TLS Secret, checked with openssl: every certificate, its key
and its SANs, and the keys and CA kept across `helm upgrade`.
"""
import base64
import hashlib
import os
import subprocess
import tempfile

from chart import check, render, render_fails
from fake_api import FakeApi, upgrade_render


def secret_files(by_kind, name):
    found = [s for s in by_kind.get("Secret", []) if s["metadata"]["name"] == name]
    if not check(len(found) == 1, "one Secret %s rendered" % name):
        return {}
    return {f: base64.b64decode(v) for f, v in found[0].get("data", {}).items()}


def write_files(files, directory):
    for f, data in files.items():
        path = os.path.join(directory, f)
        with open(path, "wb") as out:
            out.write(data)
        os.chmod(path, 0o600)


def openssl(*args):
    return subprocess.run(["openssl", *args], stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                          text=True)


def node_id(pem_path, is_key=False):
    """SHA-1 of the DER SubjectPublicKeyInfo: the node ID (docs/security.md)."""
    r = openssl("pkey", "-in", pem_path, "-pubout") if is_key else \
        openssl("x509", "-in", pem_path, "-pubkey", "-noout")
    body = "".join(l for l in r.stdout.splitlines() if l and not l.startswith("-----"))
    return hashlib.sha1(base64.b64decode(body)).hexdigest()


def cert_info(path):
    subject = openssl("x509", "-in", path, "-noout", "-subject", "-nameopt", "RFC2253").stdout
    ext = openssl("x509", "-in", path, "-noout", "-ext", "subjectAltName,extendedKeyUsage").stdout
    lines = [l.strip() for l in ext.splitlines()]
    def after(header):
        for i, l in enumerate(lines):
            if l.startswith(header) and i + 1 < len(lines):
                return [x.strip() for x in lines[i + 1].split(",")]
        return []
    sans = after("X509v3 Subject Alternative Name")
    return {"subject": subject.strip(), "eku": after("X509v3 Extended Key Usage"),
            "dns": sorted(s[4:] for s in sans if s.startswith("DNS:")),
            "ip": sorted(s[11:] for s in sans if s.startswith("IP Address:"))}


def expected_dns(fullname, pod, ns, extra=()):
    h = fullname + "-headless"
    return sorted(["%s.%s.%s.svc.cluster.local" % (pod, h, ns), "%s.%s.%s.svc" % (pod, h, ns),
                   "%s.%s.%s" % (pod, h, ns), "%s.%s" % (pod, h),
                   "%s.%s.svc.cluster.local" % (fullname, ns), "%s.%s.svc" % (fullname, ns),
                   "%s.%s" % (fullname, ns), fullname, "localhost", *extra])


BOTH_EKU = ["TLS Web Server Authentication", "TLS Web Client Authentication"]


def check_generated_certs(files, fullname, ns, ordinals, directory, extra_dns=(), extra_ip=()):
    """Each pod's certificate verifies against ca.crt, has CN node, both EKUs,
    the SANs peers and clients dial, and belongs to its key. Returns the node IDs."""
    want_files = {"ca.crt", "admin.crt", "admin.key"}
    want_files |= {"%s-%d.%s" % (fullname, i, e) for i in range(ordinals) for e in ("crt", "key")}
    check(set(files) == want_files, "Secret files %s, want %s" % (sorted(files), sorted(want_files)))
    write_files(files, directory)
    ca = os.path.join(directory, "ca.crt")
    ids = {}
    for i in range(ordinals):
        pod = "%s-%d" % (fullname, i)
        crt, key = os.path.join(directory, pod + ".crt"), os.path.join(directory, pod + ".key")
        r = openssl("verify", "-CAfile", ca, crt)
        check(r.returncode == 0, "%s.crt verifies against ca.crt: %s" % (pod, r.stdout.strip()))
        info = cert_info(crt)
        check(info["subject"] == "subject=CN=node", "%s: CN node (%s)" % (pod, info["subject"]))
        check(info["eku"] == BOTH_EKU, "%s: serverAuth and clientAuth (%s)" % (pod, info["eku"]))
        check(info["dns"] == expected_dns(fullname, pod, ns, extra_dns),
              "%s: DNS SANs %s" % (pod, info["dns"]))
        check(info["ip"] == sorted(["127.0.0.1", *extra_ip]), "%s: IP SANs %s" % (pod, info["ip"]))
        ids[pod] = node_id(crt)
        check(ids[pod] == node_id(key, is_key=True), "%s.key is the key of %s.crt" % (pod, pod))
    check(len(set(ids.values())) == ordinals, "every pod has its own key (node ID)")
    admin = os.path.join(directory, "admin.crt")
    check(openssl("verify", "-CAfile", ca, admin).returncode == 0, "admin.crt verifies")
    check(cert_info(admin)["subject"] == "subject=CN=admin", "admin.crt has CN admin")
    check(node_id(admin) == node_id(os.path.join(directory, "admin.key"), is_key=True),
          "admin.key is the key of admin.crt")
    ca_text = openssl("x509", "-in", ca, "-noout", "-ext", "basicConstraints").stdout
    check("CA:TRUE" in ca_text, "ca.crt is a CA")
    ids["admin"] = node_id(admin)
    ids["ca"] = node_id(ca)
    return ids


def check_tls_generated():
    """Default values: TLS on, a Secret per release with every ordinal's pair."""
    print("TLS generated at install: Secret contents, checked with openssl")
    k = render("kvstore", "kv", "replicaCount=4", "tls.generatedOrdinals=5",
               "tls.extraDnsNames={kv.example.com}", "tls.extraIPs={203.0.113.7}")
    files = secret_files(k, "kvstore-tls")
    ca_files = secret_files(k, "kvstore-tls-ca")
    check(set(ca_files) == {"ca.crt", "ca.key"}, "the CA Secret holds ca.crt and ca.key")
    check("ca.key" not in files, "the Secret the pods mount has no CA key")
    check(files.get("ca.crt") == ca_files.get("ca.crt"), "both Secrets carry the same ca.crt")
    for s in k["Secret"]:
        check(s["metadata"].get("annotations", {}).get("helm.sh/resource-policy") == "keep",
              "Secret %s survives helm uninstall (the PVCs do too)" % s["metadata"]["name"])
    with tempfile.TemporaryDirectory() as d:
        check_generated_certs(files, "kvstore", "kv", 5, d, ["kv.example.com"], ["203.0.113.7"])
    k = render("kvstore", "kv", "replicaCount=7", "tls.generatedOrdinals=2")
    check(len([f for f in secret_files(k, "kvstore-tls") if f.endswith(".key")]) == 8,
          "at least replicaCount ordinals get keys (7 pods + admin)")


def check_reuse_on_upgrade():
    print("TLS keys kept on helm upgrade (lookup answered by a fake API server)")
    first = render("kvstore", "kv")
    before = secret_files(first, "kvstore-tls")
    with tempfile.TemporaryDirectory() as d1, tempfile.TemporaryDirectory() as d2:
        ids1 = check_generated_certs(before, "kvstore", "kv", 3, d1)
        # Scale up to 4 in the same upgrade: 0-2 and admin keep their keys,
        # 3 gets a new one, all signed by the same CA.
        up = upgrade_render(first["Secret"], "replicaCount=4")
        after = secret_files(up, "kvstore-tls")
        check(secret_files(up, "kvstore-tls-ca") == secret_files(first, "kvstore-tls-ca"),
              "upgrade keeps the CA (certificate and key)")
        ids2 = check_generated_certs(after, "kvstore", "kv", 4, d2)
        for f in ["kvstore-%d.key" % i for i in range(3)] + ["admin.key"]:
            check(after.get(f) == before.get(f), "upgrade keeps %s" % f)
        for pod in ["kvstore-%d" % i for i in range(3)] + ["admin", "ca"]:
            check(ids1[pod] == ids2[pod], "%s keeps its ID across the upgrade" % pod)
        check(after.get("kvstore-0.crt") != before.get("kvstore-0.crt"),
              "upgrade signs the certificates again (renewal, same key)")
        print("  node IDs kept: %s" % ", ".join("%s=%s" % (p, ids2[p][:8]) for p in sorted(ids2)))
    # Scaled back down to 2: keys of 2 and 3 stay (their PVCs hold those IDs).
    down = upgrade_render(up["Secret"], "replicaCount=2")
    files = secret_files(down, "kvstore-tls")
    check(all(files.get("kvstore-%d.key" % i) == after.get("kvstore-%d.key" % i) for i in range(4)),
          "a scale-down keeps the keys of the ordinals above replicaCount")
    # No Secret on upgrade (e.g. a release that ran plaintext): refuse.
    render_fails("kvstore", "kv", [], ["--is-upgrade"], "found no Secret kvstore-tls")
    api = FakeApi([])
    try:
        render("kvstore", "kv", "tls.generateOnUpgrade=true", extra=api.upgrade_args())
    finally:
        api.close()
    # Node keys without the CA that signed them: refuse.
    node_secret = [s for s in first["Secret"] if s["metadata"]["name"] == "kvstore-tls"]
    api = FakeApi(node_secret)
    try:
        render_fails("kvstore", "kv", [], api.upgrade_args(), "Secret kvstore-tls-ca")
    finally:
        api.close()
