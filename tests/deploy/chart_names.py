"""Names and labels of every rendered object with the longest release names
Helm allows, podLabels next to the chart's labels, and values.schema.json:
closed objects (a misspelt key fails) that describe every value in
values.yaml.
"""
import json
import os
import re

import yaml

from chart import CHART, check, helm, render, render_fails

DNS_LABEL = re.compile(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?$")
LABEL_VALUE = re.compile(r"^(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])?$")
# The StatefulSet labels its pods controller-revision-hash=<name>-<hash>, the
# hash up to 10 characters: the label value limit of 63 leaves 52 for <name>.
REVISION_HASH = 10
# Helm allows release names of up to 53 characters.
# The third is cut at a "-", which must go.
LONG_RELEASES = ["r" * 53, "kvstore-" + "k" * 45, "a" * 51 + "-b"]


def label_maps(obj):
    """Every labels and matchLabels map in obj, however deep."""
    if isinstance(obj, dict):
        for key, value in obj.items():
            if key in ("labels", "matchLabels") and isinstance(value, dict):
                yield value
            else:
                yield from label_maps(value)
    elif isinstance(obj, list):
        for item in obj:
            yield from label_maps(item)


def check_valid_names(k, release):
    """Every name a DNS label of at most 63 characters, every label value valid."""
    bad = []
    for obj in [d for docs in k.values() for d in docs]:
        name = obj["metadata"]["name"]
        if len(name) > 63 or not DNS_LABEL.match(name):
            bad.append("%s %s" % (obj["kind"], name))
        for labels in label_maps(obj):
            bad += ["label %s=%s" % (key, v) for key, v in labels.items()
                    if not isinstance(v, str) or len(v) > 63 or not LABEL_VALUE.match(v)]
    check(not bad, "release %s (%d chars): names and label values valid: %s"
          % (release, len(release), bad))
    sts = k["StatefulSet"][0]
    name = sts["metadata"]["name"]
    check(len(name) + 1 + REVISION_HASH <= 63,
          "StatefulSet %s (%d chars): controller-revision-hash %s-<10 chars> fits in 63"
          % (name, len(name), name))
    for i in range(sts["spec"]["replicas"]):
        pod = "%s-%d" % (name, i)
        check(len(pod) <= 63 and DNS_LABEL.match(pod), "pod name %s is a DNS label" % pod)
    return name


def check_long_release_names():
    print("release names of 53 characters: every name and label value valid")
    for release in LONG_RELEASES:
        k = render(release, "kv", "metrics.serviceMonitor.enabled=true",
                   "networkPolicy.enabled=true", "tls.auth.enabled=true",
                   "resp.enabled=true")
        name = check_valid_names(k, release)
        check(not name.endswith("-"), "the cut name does not end in '-': %s" % name)
        k = render(release, "kv", "tls.certManager.issuer.name=ca", "tls.generatedOrdinals=12")
        check_valid_names(k, release)
        print("  %s (%d) -> %s (%d)" % (release, len(release), name, len(name)))


def check_pod_labels():
    print("podLabels add labels but cannot change the chart's")
    k = render("kvstore", "kv", "podLabels.team=kv", "podLabels.app\\.kubernetes\\.io/name=kvstore")
    sts = k["StatefulSet"][0]["spec"]
    labels = sts["template"]["metadata"]["labels"]
    check(labels.get("team") == "kv", "podLabels.team on the pods")
    check(all(labels.get(a) == b for a, b in sts["selector"]["matchLabels"].items()),
          "the selector still matches the pods")
    for key in ("app\\.kubernetes\\.io/name", "app\\.kubernetes\\.io/instance",
                "app\\.kubernetes\\.io/managed-by"):
        render_fails("kvstore", "kv", ["podLabels.%s=other" % key], [],
                     "podLabels: %s is the chart's" % key.replace("\\", ""))


# A misspelt key at every level the chart defines, and where the schema says so.
TYPOS = [("replicaCounts=3", "(root)"), ("image.tags=1", "image"), ("metrics.prot=9100", "metrics"),
         ("metrics.serviceMonitor.enable=true", "metrics.serviceMonitor"),
         ("persistence.storageclass=x", "persistence"), ("service.annotation.a=b", "service"),
         ("podDisruptionBudget.maxUnavailble=1", "podDisruptionBudget"),
         ("probes.readyness.periodSeconds=1", "probes"),
         ("probes.startup.periodSecond=1", "probes.startup"),
         ("resp.enable=true", "resp"),
         ("preStop.exe.command={a}", "preStop"),
         ("serviceAccount.nme=x", "serviceAccount"),
         ("networkPolicy.clientSelectors.matchLabels.a=b", "networkPolicy"),
         ("networkPolicy.metricsSelector.matchLabel.a=b", "networkPolicy.metricsSelector"),
         ("resources.limit.memory=1Gi", "resources"), ("tests.resource.limits.memory=1Gi", "tests"),
         ("affinity.podAntiAfinity.x=y", "affinity"), ("tls.enable=true", "tls"),
         ("tls.auth.principal={cn:a read}", "tls.auth"),
         ("tls.certManager.issuer.nam=x", "tls.certManager.issuer"),
         ("tls.certManager.modes=csi", "tls.certManager"), ("imagePullSecrets[0].nam=x",
                                                            "imagePullSecrets.0")]
# Values of the wrong shape in the new blocks, and the path the schema names.
BAD_SHAPES = [("podLabels.team=1", "podLabels.team"),
              ("metrics.serviceMonitor.interval=thirty", "metrics.serviceMonitor.interval"),
              ("metrics.port=0", "metrics.port"), ("resp.port=0", "resp.port"),
              ("extraEnv[0].value=x", "extraEnv.0"),
              ("extraVolumeMounts[0].name=x", "extraVolumeMounts.0"),
              ("topologySpreadConstraints[0].maxSkew=1", "topologySpreadConstraints.0"),
              ("minReadySeconds=-1", "minReadySeconds"),
              ("probes.startup.failureThreshold=0", "probes.startup.failureThreshold"),
              ("networkPolicy.clientSelector=all", "networkPolicy.clientSelector")]


def check_schema_closed():
    """One helm template with every bad value: the schema lists each of them."""
    print("values.schema.json: a misspelt key fails at every level")
    args = ["template", "kvstore", CHART]
    for bad, _ in TYPOS + BAD_SHAPES:
        args += ["--set", bad]
    r = helm(*args)
    check(r.returncode != 0 and "schema" in r.stdout, "helm template fails on the schema")
    lines = r.stdout.splitlines()
    for bad, where in TYPOS:
        key = re.split(r"[.=\[]", bad)[where.count(".") + (0 if where == "(root)" else 1)]
        want = "- %s: Additional property %s is not allowed" % (where, key)
        check(want in lines, "schema rejects %s: %s" % (bad, want))
    for bad, where in BAD_SHAPES:
        check(any(l.startswith("- %s: " % where) for l in lines), "schema rejects %s" % bad)
    print("  rejected %d misspelt keys and %d bad values" % (len(TYPOS), len(BAD_SHAPES)))
    r = helm("lint", "--strict", CHART, "--set", "global.imageRegistry=x")
    check(r.returncode == 0, "global (set by a parent chart) passes: %s" % r.stdout[-300:])


def resolve(schema, node):
    while "$ref" in node:
        node = schema["definitions"][node["$ref"].rsplit("/", 1)[1]]
    for branch in node.get("oneOf", []):
        if resolve(schema, branch).get("type") == "object":
            return resolve(schema, branch)
    return node


def uncovered(schema, node, values, path):
    """Keys of values.yaml the schema does not describe, and object levels it leaves open."""
    node = resolve(schema, node)
    if isinstance(values, dict) and "additionalProperties" not in node:
        yield path + " (an object without additionalProperties)"
    if not isinstance(values, dict):
        return
    extra = node.get("additionalProperties")
    for key, value in values.items():
        sub = node.get("properties", {}).get(key, extra if isinstance(extra, dict) else None)
        if sub is None:
            yield "%s.%s" % (path, key)
        else:
            yield from uncovered(schema, sub, value, "%s.%s" % (path, key))


def check_schema_covers_values():
    with open(os.path.join(CHART, "values.yaml")) as f:
        values = yaml.safe_load(f)
    with open(os.path.join(CHART, "values.schema.json")) as f:
        schema = json.load(f)
    missing = list(uncovered(schema, schema, values, "values"))
    check(not missing, "values.schema.json describes every value in values.yaml, every object "
          "closed or a map: %s" % missing)


def check_names_and_schema():
    check_long_release_names()
    check_pod_labels()
    check_schema_closed()
    check_schema_covers_values()
