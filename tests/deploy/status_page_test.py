#!/usr/bin/env python3
"""The status page (GET / on --metrics-addr) in a real browser.

Five kvstore nodes of this build (--bin-dir) on free 127.0.0.1 ports join,
take a few puts; then one is killed. Once the first node's page shows it
down, headless Chromium (Debian's `chromium`) loads the page: the DOM it
parsed must hold 5 member rows and 5 member dots on the SVG ring, exactly
one of each "down" (the killed node), an ID-space arc for every member, and
the last minute's request rate. A screenshot is saved to --screenshot (the
test's artefact; docs/operations.md shows one). The nodes are always stopped.

Exit 0: pass, 1: fail, 77: skipped (chromium missing outside CI; in CI,
CI=true, a missing chromium fails).
Usage: tests/deploy/status_page_test.py --bin-dir DIR [--screenshot PNG]
"""
import argparse
import os
import shutil
import subprocess
import sys
import tempfile
from html.parser import HTMLParser

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from testlib import Node, check, http_get, kvctl, stop_all, verdict, wait_for  # noqa: E402

SKIP = 77


class Dom(HTMLParser):
    """The elements that matter, with their attributes, and all text."""

    def __init__(self):
        super().__init__()
        self.rows, self.dots, self.arcs, self.text = [], [], [], []

    def handle_starttag(self, tag, attrs):
        a = dict(attrs)
        classes = (a.get("class") or "").split()
        if tag == "tr" and "member" in classes:
            self.rows.append(a)
        elif tag == "circle" and "member" in classes:
            self.dots.append(a)
        elif tag in ("path", "circle") and "arc" in classes:
            self.arcs.append(a)

    def handle_data(self, data):
        self.text.append(data)


def page(node):
    status, body = http_get(node.metrics_port, "/")
    if status != 200:
        return None
    d = Dom()
    d.feed(body)
    return d


def states(dom):
    return sorted(r.get("data-state") for r in dom.rows) if dom else []


def chromium(args, work, timeout=120):
    """Runs headless Chromium; (returncode, stdout, stderr)."""
    cmd = [shutil.which("chromium"), "--headless", "--disable-gpu", "--no-sandbox",
           "--no-first-run", "--disable-dev-shm-usage", "--hide-scrollbars",
           "--user-data-dir=%s" % os.path.join(work, "chromium-profile"), *args]
    r = subprocess.run(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                       timeout=timeout)
    return r.returncode, r.stdout, r.stderr


def check_in_browser(url, killed, members, work, screenshot):
    code, dom_text, err = chromium(["--dump-dom", url], work)
    if not check(code == 0 and "<html" in dom_text,
                 "chromium --dump-dom %s: exit %d, %s" % (url, code, err[-500:])):
        return
    dom = Dom()
    dom.feed(dom_text)
    check(len(dom.rows) == 5, "the browser's DOM has 5 member rows: %d" % len(dom.rows))
    check(len(dom.dots) == 5, "the browser's DOM has 5 member dots on the ring: %d" % len(dom.dots))
    down_rows = [r["data-id"] for r in dom.rows if r.get("data-state") == "down"]
    down_dots = [d["data-id"] for d in dom.dots if d.get("data-state") == "down"]
    check(down_rows == [killed] and down_dots == [killed],
          "exactly the killed node %s is down, in the table and on the ring: rows %s, dots %s"
          % (killed[:10], down_rows, down_dots))
    owners = {a.get("data-owner") for a in dom.arcs}
    check(owners == set(members), "every member owns an arc of the ID space: %d of %d"
          % (len(owners & set(members)), len(members)))
    text = " ".join(dom.text)
    check("client requests/s" in text and "5 members" in text,
          "the page shows the member count and the last minute's requests")
    code, _, err = chromium(["--window-size=1280,960", "--screenshot=%s" % screenshot, url], work)
    ok = code == 0 and os.path.exists(screenshot)
    if ok:
        with open(screenshot, "rb") as f:
            head = f.read(8)
        ok = head == b"\x89PNG\r\n\x1a\n" and os.path.getsize(screenshot) > 10000
    check(ok, "chromium saved a PNG screenshot to %s: exit %d, %s" % (screenshot, code, err[-500:]))
    if ok:
        print("  chromium: 5 members, %s down on the ring and in the table; screenshot %s (%d bytes)"
              % (killed[:10], screenshot, os.path.getsize(screenshot)))


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--bin-dir", required=True)
    ap.add_argument("--screenshot", default=os.path.join(tempfile.gettempdir(),
                                                         "kvstore-status-page.png"))
    args = ap.parse_args()
    if not shutil.which("chromium"):
        if os.environ.get("CI") == "true":
            print("FAIL: chromium is not installed (make deps installs it)")
            return 1
        print("SKIP: chromium is not installed (apt-get install chromium)")
        return SKIP
    os.makedirs(os.path.dirname(os.path.abspath(args.screenshot)), exist_ok=True)
    work = tempfile.mkdtemp(prefix="kv-status-page-")
    nodes = []
    try:
        nodes.append(Node(args.bin_dir, work, "n0"))
        for i in range(1, 5):
            nodes.append(Node(args.bin_dir, work, "n%d" % i, seed=nodes[0]))
        first = nodes[0]
        if not wait_for("the first node's page shows 5 alive members",
                        lambda: states(page(first)) == ["alive"] * 5, seconds=60):
            return 1
        for i in range(20):
            r = kvctl(args.bin_dir, nodes[i % 5], "put", "page-%d" % i, "v%d" % i)
            check(r.returncode == 0, "put page-%d: %s" % (i, r.stdout.strip()))
        members = [r["data-id"] for r in page(first).rows]
        victim = nodes[3]
        # The victim's ID: its own page lists itself first.
        victim_id = page(victim).rows[0]["data-id"]
        check(victim_id in members, "the first node lists the victim %s" % victim_id[:10])
        victim.proc.kill()
        victim.proc.wait()
        if not wait_for("the first node's page shows the killed node down",
                        lambda: states(page(first)) == ["alive"] * 4 + ["down"], seconds=60):
            return 1
        # The last minute's figures need two samples, taken 5 s apart.
        wait_for("the first node's page shows its last-minute request rate",
                 lambda: 'id="rate"' in (http_get(first.metrics_port, "/")[1] or ""),
                 seconds=30)
        check_in_browser("http://127.0.0.1:%d/" % first.metrics_port, victim_id, members, work,
                         args.screenshot)
    finally:
        stop_all(nodes, work)
    return verdict("status page test")


if __name__ == "__main__":
    sys.exit(main())
