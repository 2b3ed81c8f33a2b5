"""What every chart check shares: helm, rendering, and the list of failures.

check() records a failed condition and goes on, so one run reports them all;
helm_test.py exits 1 when `failures` is not empty.
"""
import os
import re
import subprocess
import sys

import yaml

from testlib import check, failures, wait_for  # noqa: F401  (re-exported to the checks)

SKIP = 77
ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
CHART = os.path.join(ROOT, "deploy", "helm", "kvstore")

_helm = None  # the helm binary, set by install_helm()


def install_helm(tools_dir):
    """Gets helm into tools_dir (deploy/helm/install-tools.sh); exits 77 if it cannot."""
    global _helm
    r = subprocess.run([os.path.join(ROOT, "deploy", "helm", "install-tools.sh"), tools_dir],
                       stdout=subprocess.PIPE, text=True)
    if r.returncode != 0:
        print("SKIP: helm could not be installed (deploy/helm/install-tools.sh exit %d)"
              % r.returncode)
        sys.exit(SKIP)
    _helm = os.path.join(r.stdout.strip().splitlines()[-1], "helm")


def helm(*args):
    return subprocess.run([_helm, *args], stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                          text=True)


def template_args(release, namespace, sets, extra=()):
    args = ["template", release, CHART, "--namespace", namespace, *extra]
    for s in sets:
        args += ["--set", s]
    return args


def render(release, namespace, *sets, extra=()):
    """Renders the chart; returns {kind: [manifest, ...]}."""
    r = helm(*template_args(release, namespace, sets, extra))
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


def render_fails(release, namespace, sets, extra, message):
    """Checks that rendering fails and says `message`."""
    r = helm(*template_args(release, namespace, sets, extra))
    return check(r.returncode != 0 and message in r.stdout,
                 "helm template %s fails saying '%s' (exit %d: %s)"
                 % (" ".join(sets + list(extra)), message, r.returncode, r.stdout.strip()[-300:]))


def expand(s, env):
    """Expands Kubernetes' $(VAR) references in a container argument."""
    return re.sub(r"\$\((\w+)\)", lambda m: env[m.group(1)], s)


def arg(args, flag):
    found = [a.split("=", 1)[1] for a in args if a.startswith(flag + "=")]
    check(len(found) == 1, "exactly one %s in %s" % (flag, args))
    return found[0] if found else ""


def container(by_kind):
    return by_kind["StatefulSet"][0]["spec"]["template"]["spec"]["containers"][0]


def named(items, name):
    found = [i for i in items if i["name"] == name]
    return found[0] if found else {}
