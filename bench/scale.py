#!/usr/bin/env python3
"""Throughput and latency against cluster size, real binaries on loopback.

For each size (default 20, 21 and 32 nodes) it starts that many kvstore
processes on 127.0.0.1 (memory engine), waits until every node sees every
other alive, runs kvbench against all of them (50 clients, QUORUM, half
reads), and stops them. Sizes run interleaved, --repeat rounds, and each
point records what else used the CPU meanwhile (bench/compare/noise.py); a
point is marked noisy as in compare.py. It prints a table of medians and
writes bench/results/scale-<time>.json and .md.

This is issue 18's cliff check: before one-hop routing, the 21st node
divided throughput by 7.8, because every request above k = 20 known nodes
paid a full lookup.

  bench/scale.py [--bin build/bin] [--sizes 20,21,32] [--repeat 2] [--duration 10]
  bench/scale.py --bin new=build/bin --bin old=/tmp/old/build/bin   (two builds, interleaved)
  make scale   (20, 21, 32 and 64 nodes)
"""

import argparse
import datetime
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time

ROOT = os.path.normpath(os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))
sys.path.insert(0, os.path.join(ROOT, "bench", "compare"))
sys.path.insert(0, os.path.join(ROOT, "tests", "deploy"))
import noise  # noqa: E402
import testlib  # noqa: E402


class Cluster:
    """`n` kvstore processes on loopback (testlib.Node, memory engine), the
    first the others' seed."""

    def __init__(self, bin_dir, work, n, extra):
        self.nodes = []
        for i in range(n):
            seed = self.nodes[0] if self.nodes else None
            self.nodes.append(testlib.Node(bin_dir, work, f"n{i}", seed=seed, extra=extra,
                                           durable=False))

    def formed(self, k=20):
        """Every node sees every other alive, or (beyond k + 1 nodes, where
        full buckets keep a table from holding everyone) at least k."""
        want = min(len(self.nodes) - 1, k)
        return all(n.alive_peers() >= want for n in self.nodes)

    def addrs(self):
        return ",".join(f"127.0.0.1:{n.port}" for n in self.nodes)

    def stop(self):
        for n in self.nodes:
            if n.proc.poll() is None:
                n.proc.terminate()
        for n in self.nodes:
            n.stop()


def run_point(o, build, n, work):
    """One size of one build: start, wait, bench, stop. A dict of the point."""
    label, bin_dir = build
    os.makedirs(work, exist_ok=True)
    cluster = Cluster(bin_dir, work, n, o.node_flag)
    try:
        start = time.monotonic()
        deadline = start + o.form_timeout
        while not cluster.formed():
            if time.monotonic() > deadline:
                exited = [x.name for x in cluster.nodes if x.proc.poll() is not None]
                alive = [x.alive_peers() for x in cluster.nodes]
                return {"build": label, "nodes": n,
                        "error": f"not formed within {o.form_timeout} s (fewest peers seen "
                                 f"alive {min(alive):.0f}; exited: {exited or 'none'})"}
            time.sleep(0.5)
        formed_s = time.monotonic() - start
        out = os.path.join(work, "kvbench.json")
        cmd = [os.path.join(o.builds[0][1], "kvbench"), "--addr", cluster.addrs(), "--clients",
               str(o.clients), "--duration", f"{o.duration}s", "--warmup", f"{o.warmup}s",
               "--consistency", "quorum", "--read-ratio", "0.5", "--json", out]
        with noise.Window() as w:
            r = subprocess.run(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                               timeout=o.duration + o.warmup + 120)
        if r.returncode != 0:
            return {"build": label, "nodes": n,
                    "error": f"kvbench exit {r.returncode}: {r.stdout[-300:]}"}
        with open(out) as f:
            bench = json.load(f)
        return {"build": label, "nodes": n, "formed_s": round(formed_s, 1), "kvbench": bench,
                "noise": w.result}
    finally:
        cluster.stop()


def summary(bench):
    """ops/s, errors, and each op's p50 and p99 in ms, of a kvbench JSON."""
    out = {"ops_per_sec": bench["total"]["ops_per_sec"], "errors": bench["total"]["errors"]}
    for op in ("read", "write"):
        lat = bench.get(op, {}).get("latency_us", {})
        out[f"{op}_p50_ms"] = lat.get("p50", 0) / 1000
        out[f"{op}_p99_ms"] = lat.get("p99", 0) / 1000
    return out


def table(points, sizes, labels):
    rows = ["| build | nodes | ops/s median (min-max) | get p50 / p99 ms | put p50 / p99 ms | "
            "errors | noisy points |",
            "|---|---|---|---|---|---|---|"]
    for label in labels:
        for n in sizes:
            rows.append(row(label, n, [p for p in points
                                       if p["build"] == label and p["nodes"] == n]))
    return "\n".join(rows)


def row(label, n, points):
    failed = [p for p in points if "error" in p]
    ok = [p for p in points if "error" not in p]
    if not ok:
        why = failed[0]["error"][:80] if failed else "no run"
        return f"| {label} | {n} | failed: {why} | | | | |"
    s = [summary(p["kvbench"]) for p in ok]
    ops = [x["ops_per_sec"] for x in s]

    def med(field):
        return statistics.median(x[field] for x in s)

    noisy = [p["noise"]["noise_reason"] for p in ok if p["noise"]["noisy"]]
    return (
        f"| {label} | {n} | {statistics.median(ops):,.0f} ({min(ops):,.0f}-{max(ops):,.0f}) | "
        f"{med('read_p50_ms'):.2f} / {med('read_p99_ms'):.2f} | "
        f"{med('write_p50_ms'):.2f} / {med('write_p99_ms'):.2f} | "
        f"{sum(x['errors'] for x in s)} | {len(noisy)} of {len(ok)}"
        + (f" ({'; '.join(noisy)})" if noisy else "")
        + (f"; {len(failed)} failed" if failed else "") + " |")


def report(p):
    if "error" in p:
        print(f"  {p['error']}", flush=True)
        return
    s = summary(p["kvbench"])
    print(f"  formed in {p['formed_s']} s; {s['ops_per_sec']:,.0f} ops/s, get p99 "
          f"{s['read_p99_ms']:.2f} ms, put p99 {s['write_p99_ms']:.2f} ms, load "
          f"{p['noise']['load_avg_1m_after']}"
          + (f", NOISY: {p['noise']['noise_reason']}" if p["noise"]["noisy"] else ""), flush=True)


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--bin", action="append", default=[],
                    help="LABEL=DIR or DIR holding kvstore and kvbench, repeatable: builds run "
                         "interleaved, size by size (default: this build)")
    ap.add_argument("--sizes", default="20,21,32")
    ap.add_argument("--repeat", type=int, default=2)
    ap.add_argument("--duration", type=int, default=10, help="measured seconds per point")
    ap.add_argument("--warmup", type=int, default=3)
    ap.add_argument("--clients", type=int, default=50)
    ap.add_argument("--form-timeout", type=int, default=120)
    ap.add_argument("--node-flag", action="append", default=[],
                    help="extra kvstore flag, repeatable (e.g. --node-flag=--heartbeat-interval=1s)")
    ap.add_argument("--out", default=os.path.join(ROOT, "bench", "results"))
    o = ap.parse_args()
    sizes = [int(x) for x in o.sizes.split(",")]
    o.builds = [tuple(b.split("=", 1)) if "=" in b else (os.path.basename(os.path.dirname(
        os.path.abspath(b))) or b, b) for b in (o.bin or [os.path.join(ROOT, "build", "bin")])]
    labels = [b[0] for b in o.builds]
    started = datetime.datetime.now()
    points = []
    with tempfile.TemporaryDirectory(prefix="kvscale-") as tmp:
        total = o.repeat * len(sizes) * len(o.builds)
        for r in range(o.repeat):
            for n in sizes:
                for b, build in enumerate(o.builds):
                    print(f"[{len(points) + 1}/{total}] round {r + 1}: {build[0]}, {n} nodes",
                          flush=True)
                    p = run_point(o, build, n, os.path.join(tmp, f"r{r}-n{n}-b{b}"))
                    p["round"] = r + 1
                    points.append(p)
                    report(p)
    md = table(points, sizes, labels)
    print(md)
    stamp = started.strftime("%Y-%m-%d-%H%M%S")
    os.makedirs(o.out, exist_ok=True)
    base = os.path.join(o.out, f"scale-{stamp}")
    with open(base + ".json", "w") as f:
        json.dump({"started": started.isoformat(), "builds": o.builds, "sizes": sizes,
                   "repeat": o.repeat,
                   "duration_s": o.duration, "clients": o.clients, "node_flags": o.node_flag,
                   "points": points}, f, indent=1)
    with open(base + ".md", "w") as f:
        f.write(md + "\n")
    print(f"wrote {base}.json and .md")
    return 0 if all("error" not in p for p in points) else 1


if __name__ == "__main__":
    sys.exit(main())
