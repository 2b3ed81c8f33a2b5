"""The helm test pod (templates/tests/put-get.yaml): a hook that puts, gets
and deletes a key through the client Service with kvctl, as the admin under
TLS, with only the admin files mounted. Its script runs here with stand-ins
for kvctl; nodes.py runs it against real nodes (--bin-dir).
"""
import os
import subprocess

from chart import check, render
from manifests import ADMIN_TLS

ADMIN_FILES = ["admin.crt", "admin.key", "ca.crt"]


def test_pod(k):
    pods = k.get("Pod", [])
    check(len(pods) == 1, "one helm test pod rendered")
    return pods[0] if pods else {"metadata": {"labels": {}}, "spec": {"containers": [{}]}}


def hook_command(k):
    """(script, kvctl command) of the test pod: sh -ec SCRIPT helm-test KVCTL..."""
    cmd = test_pod(k)["spec"]["containers"][0].get("command", [])
    check(cmd[:2] == ["sh", "-ec"] and cmd[3:4] == ["helm-test"],
          "the test pod runs sh -ec SCRIPT helm-test KVCTL...: %s" % cmd[:4])
    return (cmd[2], cmd[4:]) if len(cmd) > 4 else ("", [])


def hook_env(k):
    c = test_pod(k)["spec"]["containers"][0]
    return {e["name"]: e["value"] for e in c.get("env", [])}


def mounted_files(volume):
    """The file names the test pod's tls volume lays out."""
    if "secret" in volume:
        return sorted(i["path"] for i in volume["secret"].get("items", []))
    attrs = volume.get("csi", {}).get("volumeAttributes", {})
    attrs = {k.split("/", 1)[1]: v for k, v in attrs.items()}
    check(attrs.get("common-name") == "admin", "CSI volume of the test pod: CN admin")
    return sorted(attrs.get(f, "") for f in ("ca-file", "certificate-file", "privatekey-file"))


def check_hook_pod(tls, sets, secret):
    k = render("kvstore", "kv", *sets)
    pod = test_pod(k)
    sts = k["StatefulSet"][0]["spec"]
    check(pod["metadata"].get("annotations", {}).get("helm.sh/hook") == "test",
          "%s: the test pod is a helm test hook" % tls)
    labels = pod["metadata"]["labels"]
    check(not all(labels.get(a) == b for a, b in sts["selector"]["matchLabels"].items()),
          "the test pod is no member: the StatefulSet, Services and PDB do not select it")
    spec = pod["spec"]
    check(spec.get("restartPolicy") == "Never"
          and spec.get("automountServiceAccountToken") is False,
          "test pod: restartPolicy Never, no token")
    check(spec["containers"][0]["securityContext"].get("readOnlyRootFilesystem") is True
          and spec["securityContext"].get("runAsNonRoot") is True, "test pod security contexts")
    _, kvctl = hook_command(k)
    want = ["kvctl", "--addr=kvstore.kv.svc.cluster.local:50051"] + (ADMIN_TLS if secret else [])
    check(kvctl == want, "%s: the test pod's kvctl %s, want %s" % (tls, kvctl, want))
    volumes = {v["name"]: v for v in spec.get("volumes", [])}
    if not secret:
        check(not volumes, "no volume in plaintext")
        return
    check(list(volumes) == ["tls"], "one volume, tls: %s" % list(volumes))
    check(mounted_files(volumes.get("tls", {})) == ADMIN_FILES,
          "%s: the test pod mounts ca.crt and the admin pair only, no node key" % tls)
    if secret is not True:
        check(volumes["tls"].get("secret", {}).get("secretName") == secret,
              "%s: from Secret %s" % (tls, secret))


def run_script(k, kvctl, env=None):
    script, _ = hook_command(k)
    return subprocess.run(["sh", "-ec", script, "helm-test", *kvctl], stdout=subprocess.PIPE,
                          stderr=subprocess.STDOUT, text=True,
                          env=dict(os.environ, **(env or hook_env(k))))


def check_hook_script():
    """The script passes when get returns what put wrote, fails otherwise."""
    k = render("kvstore", "kv", "tls.enabled=false")
    env = hook_env(k)
    check(env.get("KEY", "").startswith("helm-test/kvstore/") and env.get("VALUE"), "KEY, VALUE")
    good = ["sh", "-c", '[ "$1" != get ] || printf "%s\\n" "$VALUE"', "kvctl"]
    r = run_script(k, good)
    check(r.returncode == 0 and "ok: put, get and del" in r.stdout,
          "the script passes when get answers the value put: %s" % r.stdout.strip())
    r = run_script(k, ["echo"])
    check(r.returncode == 1 and "want" in r.stdout, "the script fails when get answers another "
          "value: %s" % r.stdout.strip())
    r = run_script(k, ["false"])
    check(r.returncode != 0 and "ok:" not in r.stdout, "the script fails when put fails")


def check_helm_test_hook():
    print("templates/tests: the helm test pod in every TLS mode")
    check_hook_pod("plaintext", ["tls.enabled=false"], None)
    check_hook_pod("generated", [], "kvstore-tls")
    check_hook_pod("existing", ["tls.existingSecret=my-tls"], "my-tls")
    check_hook_pod("certificate", ["tls.certManager.issuer.name=ca"], "kvstore-admin-tls")
    check_hook_pod("csi", ["tls.certManager.issuer.name=ca", "tls.certManager.mode=csi",
                           "persistence.enabled=false"], True)
    check_hook_script()
