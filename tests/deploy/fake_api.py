"""A fake Kubernetes API, so that `helm template --dry-run=server` runs the
chart's `lookup` of Secrets as `helm upgrade` would, without a cluster.
"""
import http.server
import json
import os
import shutil
import tempfile
import threading

import yaml

from chart import render


class FakeApi:
    """Serves just what `helm template --dry-run=server` asks for a lookup of
    Secrets: /api/v1 discovery and GET of one Secret (404 for the rest)."""

    def __init__(self, secrets):
        self.secrets = {"%s/%s" % (s["metadata"].get("namespace", "kv"), s["metadata"]["name"]): s
                        for s in secrets}
        api = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def log_message(self, *a):
                pass

            def reply(self, code, obj):
                body = json.dumps(obj).encode()
                self.send_response(code)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def do_GET(self):
                path = self.path.split("?")[0].strip("/").split("/")
                if path == ["api", "v1"]:
                    return self.reply(200, {"kind": "APIResourceList", "groupVersion": "v1",
                                            "resources": [{"name": "secrets", "kind": "Secret",
                                                           "namespaced": True,
                                                           "singularName": "secret",
                                                           "verbs": ["get"]}]})
                if len(path) == 6 and path[:3] == ["api", "v1", "namespaces"] \
                        and path[4] == "secrets" and "%s/%s" % (path[3], path[5]) in api.secrets:
                    s = dict(api.secrets["%s/%s" % (path[3], path[5])], apiVersion="v1")
                    return self.reply(200, s)
                self.reply(404, {"kind": "Status", "apiVersion": "v1", "status": "Failure",
                                 "reason": "NotFound", "code": 404})

        self.server = http.server.HTTPServer(("127.0.0.1", 0), Handler)
        threading.Thread(target=self.server.serve_forever, daemon=True).start()
        self.dir = tempfile.mkdtemp(prefix="kv-fake-api-")
        self.kubeconfig = os.path.join(self.dir, "kubeconfig")
        with open(self.kubeconfig, "w") as f:
            f.write(yaml.safe_dump({
                "apiVersion": "v1", "kind": "Config", "current-context": "fake",
                "clusters": [{"name": "fake", "cluster": {
                    "server": "http://127.0.0.1:%d" % self.server.server_port}}],
                "users": [{"name": "fake", "user": {}}],
                "contexts": [{"name": "fake", "context": {"cluster": "fake", "user": "fake"}}]}))

    def upgrade_args(self):
        return ["--dry-run=server", "--kubeconfig", self.kubeconfig, "--is-upgrade"]

    def close(self):
        self.server.shutdown()
        shutil.rmtree(self.dir, ignore_errors=True)


def upgrade_render(secrets, *sets):
    """`helm upgrade` as seen by the templates, with `secrets` in the cluster."""
    api = FakeApi(secrets)
    try:
        return render("kvstore", "kv", *sets, extra=api.upgrade_args())
    finally:
        api.close()

