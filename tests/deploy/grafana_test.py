#!/usr/bin/env python3
"""Checks the Grafana dashboard deploy/grafana/kvstore.json against kvstore.

Without a cluster: the JSON parses; it has a Prometheus `datasource` variable
and an `instance` variable; every panel but a row has a type, a place, the
${datasource} data source and targets with PromQL, and the ids are unique;
promtool, where installed, parses every query.
The checker itself is tried on wrong expressions first, so that it cannot
pass everything.

With --bin-dir DIR (kvstore and kvctl built there): three kvstore nodes on
free 127.0.0.1 ports, with --data-dir and --metrics-addr, join, take puts,
gets and a delete from kvctl; then every metric name in every expression
(the panels' and the instance variable's) must be a family of their scrapes
(a histogram only as NAME_bucket, NAME_sum or NAME_count), and every label a
matcher or a `by (...)` names must be on that metric's samples (or be
instance or job, which Prometheus adds). Names that show up only after a
while (phi, clock offsets) are waited for, up to a deadline. The nodes are
always stopped.

Exit 0: pass, 1: fail, 77: skipped (no --bin-dir: only the checks without a
cluster ran, and they passed).
Usage: tests/deploy/grafana_test.py [--bin-dir DIR] [--dashboard PATH]
"""
import argparse
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from promql import Expr, Scrape  # noqa: E402
from testlib import Node, check, failures, http_get, kvctl, stop_all, wait_for  # noqa: E402

SKIP = 77
ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
DASHBOARD = os.path.join(ROOT, "deploy", "grafana", "kvstore.json")
# Grafana's own variables, always defined.
BUILTIN_VARIABLES = {"__rate_interval", "__interval", "__range", "__all"}

def panels_of(dashboard):
    """Every panel, those inside collapsed rows included."""
    out = []
    for p in dashboard.get("panels", []):
        out.append(p)
        out.extend(p.get("panels", []))
    return out


def queries(dashboard):
    """[(where, PromQL)] of every panel target and of every query variable."""
    out = []
    for p in panels_of(dashboard):
        for t in p.get("targets", []):
            out.append(("panel %r target %s" % (p.get("title"), t.get("refId")), t.get("expr")))
    for v in dashboard.get("templating", {}).get("list", []):
        if v.get("type") == "query":
            q = v.get("query")
            q = q.get("query") if isinstance(q, dict) else q
            m = re.fullmatch(r"\s*label_values\((.*),\s*([A-Za-z_]\w*)\s*\)\s*", q or "")
            check(m is not None, "variable %s: label_values(METRIC, LABEL): %r" % (v["name"], q))
            if m:
                out.append(("variable %s" % v["name"], "%s{%s!=\"\"}" % (m.group(1), m.group(2))))
    return out


def check_variables(dashboard):
    variables = {v.get("name"): v for v in dashboard.get("templating", {}).get("list", [])}
    ds = variables.get("datasource", {})
    check(ds.get("type") == "datasource" and ds.get("query") == "prometheus",
          "a datasource variable of Prometheus data sources: %s" % ds)
    inst = variables.get("instance", {})
    check(inst.get("type") == "query" and inst.get("datasource", {}).get("uid") == "${datasource}",
          "an instance query variable on ${datasource}: %s" % inst)
    check(inst.get("multi") and inst.get("includeAll"), "instance: several nodes or all")
    for where, expr in queries(dashboard):
        for name in re.findall(r"\$\{?(\w+)", expr or ""):
            check(name in variables or name in BUILTIN_VARIABLES,
                  "%s: $%s is no variable of the dashboard" % (where, name))
    return variables


def check_panels(dashboard):
    """Every panel but a row: type, gridPos, ${datasource}, targets with PromQL."""
    ids = [p.get("id") for p in panels_of(dashboard)]
    check(len(ids) == len(set(ids)) and None not in ids, "panel ids are unique: %s" % ids)
    shown = [p for p in panels_of(dashboard) if p.get("type") != "row"]
    check(len(shown) >= 10, "at least 10 panels with queries, not %d" % len(shown))
    for p in shown:
        title = p.get("title")
        check(p.get("type") and p.get("title") and isinstance(p.get("gridPos"), dict),
              "panel %r has a type, a title and a gridPos" % title)
        check(p.get("datasource", {}).get("uid") == "${datasource}",
              "panel %r queries ${datasource}: %s" % (title, p.get("datasource")))
        targets = p.get("targets", [])
        check(targets, "panel %r has targets" % title)
        refs = [t.get("refId") for t in targets]
        check(len(refs) == len(set(refs)), "panel %r: refIds unique: %s" % (title, refs))
        for t in targets:
            check(isinstance(t.get("expr"), str) and t["expr"].strip(),
                  "panel %r target %s has an expr" % (title, t.get("refId")))
            for name, matchers in Expr(t.get("expr") or "").selectors:
                check(matchers.get("instance") == ("=~", "$instance"),
                      "panel %r: %s filters on instance=~\"$instance\"" % (title, name))
    titles = " ".join(p.get("title", "") for p in shown).lower()
    for topic in ["request rate", "error", "p50", "p99", "quorum", "peers by state", "hints",
                  "anti-entropy", "records"]:
        check(topic in titles, "a panel about %r" % topic)
    print("  %d panels with %d queries; every one on ${datasource}, filtered by $instance"
          % (len(shown), sum(len(p.get("targets", [])) for p in shown)))


def check_the_checker():
    """The name checker finds what is wrong, against a made-up scrape."""
    s = Scrape()
    s.add('# TYPE a_total counter\na_total{method="Put"} 1\n'
          '# TYPE h_seconds histogram\nh_seconds_bucket{method="Put",le="1"} 1\n'
          'h_seconds_sum{method="Put"} 1\nh_seconds_count{method="Put"} 1\n')
    good = ['sum by (method) (rate(a_total{instance=~"$instance",method=~"P{1}ut"}[5m]))',
            'histogram_quantile(0.99, sum by (le, method) (rate(h_seconds_bucket[1m])))',
            'time() - a_total / h_seconds_count offset 5m']
    for e in good:
        check(s.problems(Expr(e)) == [], "checker accepts %s: %s" % (e, s.problems(Expr(e))))
    bad = ['rate(kvstore_no_such_total[5m])', 'h_seconds', 'a_total_bucket',
           'sum by (peer) (a_total)', 'a_total{code="OK"}', '{__name__="a_total"}']
    for e in bad:
        check(s.problems(Expr(e)) != [], "checker refuses %s" % e)


def grafana_free(expr):
    """expr as Prometheus reads it once Grafana has put in its variables."""
    return expr.replace("$__rate_interval", "1m").replace("$instance", ".*")


def check_promql_syntax(dashboard):
    """promtool (Debian's prometheus package) parses every query, as recording
    rules; without promtool this says so and checks nothing."""
    promtool = shutil.which("promtool")
    if not promtool:
        print("  promtool not found (apt-get install prometheus): PromQL syntax not checked")
        return
    rules = [{"record": "dashboard:query%d" % i, "expr": grafana_free(e)}
             for i, (_, e) in enumerate(queries(dashboard))]
    with tempfile.NamedTemporaryFile("w", suffix=".yml") as f:
        json.dump({"groups": [{"name": "kvstore-dashboard", "rules": rules}]}, f)
        f.flush()
        r = subprocess.run([promtool, "check", "rules", f.name], stdout=subprocess.PIPE,
                           stderr=subprocess.STDOUT, text=True, timeout=60)
    if check(r.returncode == 0, "promtool check rules parses every query: %s" % r.stdout[-2000:]):
        print("  promtool parses all %d queries" % len(rules))


def workload(bin_dir, nodes):
    """Puts through every node, gets (one of a missing key) and a delete."""
    for i in range(12):
        r = kvctl(bin_dir, nodes[i % 3], "put", "grafana-%d" % i, "value-%d" % i)
        check(r.returncode == 0, "put grafana-%d: %s" % (i, r.stdout.strip()))
    for i in range(6):
        r = kvctl(bin_dir, nodes[(i + 1) % 3], "get", "grafana-%d" % i)
        check(r.stdout.strip() == "value-%d" % i, "get grafana-%d: %s" % (i, r.stdout.strip()))
    r = kvctl(bin_dir, nodes[0], "get", "grafana-missing")
    check(r.returncode == 1, "get of a missing key exits 1: %s" % r.stdout.strip())
    r = kvctl(bin_dir, nodes[1], "del", "grafana-0")
    check(r.returncode == 0, "del grafana-0: %s" % r.stdout.strip())


def scrape_all(nodes):
    s = Scrape()
    for n in nodes:
        s.add(n.metrics())
    return s


def check_against_cluster(dashboard, bin_dir):
    for tool in ["kvstore", "kvctl"]:
        if not check(os.access(os.path.join(bin_dir, tool), os.X_OK),
                     "%s built in --bin-dir %s" % (tool, bin_dir)):
            return
    work = tempfile.mkdtemp(prefix="kv-grafana-")
    nodes = []
    try:
        nodes.append(Node(bin_dir, work, "node-0"))
        for i in (1, 2):
            nodes.append(Node(bin_dir, work, "node-%d" % i, seed=nodes[0]))
        if not wait_for("3 nodes ready (/readyz): joined and serving",
                        lambda: all(n.proc.poll() is None
                                    and http_get(n.metrics_port, "/readyz")[0] == 200
                                    for n in nodes), seconds=20):
            return
        if not wait_for("every node sees the other two alive",
                        lambda: all(n.alive_peers() == 2 for n in nodes), seconds=20):
            return
        workload(bin_dir, nodes)
        exprs = [(where, Expr(e)) for where, e in queries(dashboard)]
        # Phi and clock offsets come with the first heartbeats and pings.
        wait_for("every metric of the dashboard in the scrapes",
                 lambda: all(not scrape_all(nodes).problems(x) for _, x in exprs), seconds=20)
        s = scrape_all(nodes)
        problems = [(where, p, x.text) for where, x in exprs for p in s.problems(x)]
        for where, problem, text in problems:
            check(False, "%s: %s, in %s" % (where, problem, text))
        if not problems:
            used = set().union(*(x.metrics for _, x in exprs))
            print("  %d metric names in %d queries, all in the scrapes of 3 nodes (%d families,"
                  " their labels too)" % (len(used), len(exprs), len(s.types)))
    finally:
        stop_all(nodes, work)


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--bin-dir", default=os.environ.get("KV_BIN_DIR", ""),
                        help="scrape three nodes run from kvstore and kvctl in DIR")
    parser.add_argument("--dashboard", default=DASHBOARD)
    args = parser.parse_args()
    print("Grafana dashboard", args.dashboard)
    try:
        with open(args.dashboard) as f:
            dashboard = json.load(f)
    except (OSError, ValueError) as e:
        print("  FAIL: the dashboard parses as JSON:", e)
        return 1
    check(dashboard.get("uid") and dashboard.get("title"), "the dashboard has a uid and a title")
    check_the_checker()
    check_variables(dashboard)
    check_panels(dashboard)
    check_promql_syntax(dashboard)
    if not failures and not args.bin_dir:
        print("SKIP: no --bin-dir, so no scrape to check the metric names against")
        return SKIP
    if args.bin_dir:
        check_against_cluster(dashboard, args.bin_dir)
    print("FAILED: %d check(s)" % len(failures) if failures else "PASS")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
