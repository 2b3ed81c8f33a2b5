#!/usr/bin/env python3
"""bench/soak.py: a 3-node cluster held at a steady load for a long time.

It starts three kvstore nodes (memory, or RocksDB with --data-dir), measures
an idle p99 (one client, closed loop), then runs kvbench open loop at --rate
in back-to-back chunks of --interval: each chunk is one row, with the
chunk's p50/p99/p99.9 and every node's RSS, threads and open fds read from
/proc at its end. It prints the table as it goes and writes
<out>/soak-<time>.json, .md (the table), .dat, .gp and .png (gnuplot).

Verdicts (issue 20 part 6): RSS flat, i.e. within 10% on every node over the
last 20 minutes (the last two thirds of a shorter soak), and the median
chunk p99 at most 2x the idle p99.

Usage: bench/soak.py [--duration 30m] [--interval 30s] [--rate 5000]
                     [--data-dir] [--bin build/bin] [--out bench/results]
"""

import argparse
import datetime
import json
import os
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, os.path.join(ROOT, "bench", "compare"))
import procs  # noqa: E402

NODES = 3
RSS_FLAT = 0.10  # RSS may vary by 10% over the judged window
P99_FACTOR = 2.0  # loaded p99 <= 2x the idle p99


def parse_duration(text):
    """Seconds in '30m', '90s', '1h' or a plain number of seconds; raises ValueError."""
    m = re.fullmatch(r"\s*(\d+(?:\.\d+)?)\s*(h|m|s|)\s*", text)
    if not m:
        raise ValueError(f"'{text}' is not a duration like 30m, 90s or 1h")
    return float(m.group(1)) * {"h": 3600, "m": 60, "s": 1, "": 1}[m.group(2)]


def parse_args(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--duration", default="30m", help="loaded time (default 30m)")
    ap.add_argument("--interval", default="30s", help="one row per interval (default 30s)")
    ap.add_argument("--rate", type=float, default=5000, help="ops/s, about a third of peak")
    ap.add_argument("--clients", type=int, default=50)
    ap.add_argument("--keys", type=int, default=100000)
    ap.add_argument("--read-ratio", type=float, default=0.5)
    ap.add_argument("--idle-seconds", type=float, default=10, help="the idle p99's run")
    ap.add_argument("--data-dir", action="store_true", help="RocksDB, --sync=always")
    ap.add_argument("--bin", default=os.path.join(ROOT, "build", "bin"))
    ap.add_argument("--out", default=os.path.join(ROOT, "bench", "results"))
    o = ap.parse_args(argv)
    try:
        o.duration_sec = parse_duration(o.duration)
        o.interval_sec = parse_duration(o.interval)
    except ValueError as e:
        ap.error(str(e))
    if o.interval_sec < 3 or o.duration_sec < o.interval_sec:
        ap.error("--interval must be at least 3s and --duration at least one interval")
    o.bin = os.path.abspath(o.bin)
    return o


def proc_stats(pid):
    """{rss_mb, threads, fds} of a live process, from /proc; None once it is gone."""
    try:
        with open(f"/proc/{pid}/status") as f:
            status = dict(line.split(":", 1) for line in f if ":" in line)
        return {"rss_mb": int(status["VmRSS"].split()[0]) / 1024,
                "threads": int(status["Threads"]),
                "fds": len(os.listdir(f"/proc/{pid}/fd"))}
    except (OSError, KeyError, ValueError):
        return None


def start_cluster(o, servers, tmp):
    """Three nodes, N=3 QUORUM; returns (addresses, Popens) once each knows the others."""
    addrs = [f"127.0.0.1:{procs.free_port()}" for _ in range(NODES)]
    popens = []
    for i, addr in enumerate(addrs):
        args = [os.path.join(o.bin, "kvstore"), "--addr", addr, "--replicas", "3",
                "--consistency", "quorum", "--log-level", "warn"]
        if o.data_dir:
            args += ["--data-dir", os.path.join(tmp, f"node{i}"), "--sync", "always"]
        if i > 0:
            args += ["--peer", addrs[0]]
        popens.append(servers.start(f"node{i}", args))
    kvctl = os.path.join(o.bin, "kvctl")

    def knows_all():
        for a in addrs:
            out = procs.run_quiet([kvctl, "--addr", a, "peers"], 10).stdout
            if sum(1 for line in out.splitlines() if "127.0.0.1:" in line) < NODES - 1:
                return False
        return True
    procs.wait_until("3-node membership", knows_all, 60)
    return addrs, popens


def kvbench(o, addrs, seconds, extra, out):
    """One kvbench run; returns its JSON (raises RuntimeError if it fails to run)."""
    args = [os.path.join(o.bin, "kvbench"), "--addr", ",".join(addrs),
            "--duration", f"{int(seconds * 1000)}ms", "--keys", str(o.keys),
            "--read-ratio", str(o.read_ratio), "--consistency", "quorum", "--json", out, *extra]
    p = subprocess.run(args, stdin=subprocess.DEVNULL, capture_output=True, text=True,
                       timeout=seconds + 60)
    if not os.path.exists(out):
        raise RuntimeError(f"kvbench exited {p.returncode}: {p.stdout[-300:]}{p.stderr[-300:]}")
    with open(out) as f:
        return json.load(f)


def latency(j):
    """(ops/s, p50 ms, p99 ms, p99.9 ms, errors) over reads and writes of one
    kvbench JSON: the worse side's percentiles."""
    sides = [j[s] for s in ("read", "write") if j.get(s) and j[s]["ops"]]
    if not sides:
        return 0.0, 0.0, 0.0, 0.0, 0

    def ms(q):
        return max(s["latency_us"][q] for s in sides) / 1000
    return (sum(s["ops_per_sec"] for s in sides), ms("p50"), ms("p99"), ms("p99_9"),
            sum(s["errors"] for s in sides))


def judge(o, rows, idle_p99):
    """The two verdicts as text lines, from the rows of a finished soak."""
    window = min(20 * 60, o.duration_sec * 2 / 3)
    last = [r for r in rows if r["t_sec"] >= o.duration_sec - window] or rows[-1:]
    lines = []
    for i in range(NODES):
        rss = [r["nodes"][i]["rss_mb"] for r in last if r["nodes"][i]]
        if not rss:
            lines.append(f"node{i}: no RSS samples (it exited)")
            continue
        spread = (max(rss) - min(rss)) / min(rss)
        verdict = "flat" if spread <= RSS_FLAT else "NOT flat"
        span = f"{window / 60:.0f} min" if window >= 120 else f"{window:.0f} s"
        lines.append(f"node{i} RSS over the last {span}: {min(rss):.0f}-"
                     f"{max(rss):.0f} MB ({spread:.0%}): {verdict} (target within "
                     f"{RSS_FLAT:.0%})")
    p99 = statistics.median(r["p99_ms"] for r in rows)
    ok = p99 <= P99_FACTOR * idle_p99
    lines.append(f"p99 under load (median of {len(rows)} intervals) {p99:.2f} ms against "
                 f"idle {idle_p99:.2f} ms: {p99 / idle_p99:.1f}x "
                 f"({'met' if ok else 'not met'}; target <= {P99_FACTOR:g}x)")
    return lines


def table(rows):
    """The markdown table of the rows."""
    head = ["t (s)", "ops/s", "p50 ms", "p99 ms", "p99.9 ms", "errors"]
    head += [f"n{i} RSS MB" for i in range(NODES)] + ["threads", "fds"]
    out = ["| " + " | ".join(head) + " |", "|" + " ---: |" * len(head)]
    for r in rows:
        nodes = r["nodes"]
        cells = [f"{r['t_sec']:.0f}", f"{r['ops_per_sec']:.0f}", f"{r['p50_ms']:.2f}",
                 f"{r['p99_ms']:.2f}", f"{r['p99_9_ms']:.2f}", str(r["errors"])]
        cells += [f"{n['rss_mb']:.0f}" if n else "-" for n in nodes]
        cells += ["/".join(str(n[k]) if n else "-" for n in nodes) for k in ("threads", "fds")]
        out.append("| " + " | ".join(cells) + " |")
    return "\n".join(out)


def plot(stem, rows, title):
    """<stem>.dat and .gp, and <stem>.png when gnuplot is installed."""
    with open(stem + ".dat", "w") as f:
        f.write("# t_sec p99_ms " + " ".join(f"rss{i}_mb" for i in range(NODES)) + "\n")
        for r in rows:
            rss = [f"{n['rss_mb']:.1f}" if n else "NaN" for n in r["nodes"]]
            f.write(f"{r['t_sec']:.0f} {r['p99_ms']:.3f} {' '.join(rss)}\n")
    name = os.path.basename(stem)
    rss_plots = ", ".join(f"'{name}.dat' using 1:{3 + i} axes x1y1 with linespoints "
                          f"title 'node{i} RSS (MB)'" for i in range(NODES))
    with open(stem + ".gp", "w") as f:
        f.write(f"""set terminal pngcairo size 900,500
set output '{name}.png'
set title "{title}"
set xlabel 'seconds under load'
set ylabel 'RSS (MB)'
set y2label 'p99 (ms)'
set y2tics
set ytics nomirror
set yrange [0:*]
set y2range [0:*]
set key below
plot {rss_plots}, '{name}.dat' using 1:2 axes x1y2 with lines lw 2 title 'p99 (ms)'
""")
    if shutil.which("gnuplot"):
        subprocess.run(["gnuplot", name + ".gp"], cwd=os.path.dirname(stem), check=False)


def run(o, servers, tmp):
    """The soak itself; returns the report dict."""
    addrs, popens = start_cluster(o, servers, tmp)
    print(f"soak: 3 nodes ({'RocksDB --sync=always' if o.data_dir else 'memory'}) at "
          f"{', '.join(addrs)}", flush=True)
    idle = kvbench(o, addrs, o.idle_seconds, ["--clients", "1"], os.path.join(tmp, "idle.json"))
    idle_p99 = latency(idle)[2]
    print(f"idle: 1 client, closed loop: p99 {idle_p99:.2f} ms", flush=True)
    chunks = max(1, round(o.duration_sec / o.interval_sec))
    rows, start = [], time.monotonic()
    print(f"load: --rate {o.rate:g} --clients {o.clients}, {chunks} intervals of "
          f"{o.interval_sec:g} s", flush=True)
    for i in range(chunks):
        j = kvbench(o, addrs, o.interval_sec - 1,
                    ["--rate", str(o.rate), "--clients", str(o.clients), "--warmup", "1s",
                     "--seed", str(i + 1)], os.path.join(tmp, f"chunk{i}.json"))
        ops, p50, p99, p999, errors = latency(j)
        rows.append({"t_sec": time.monotonic() - start, "ops_per_sec": ops, "p50_ms": p50,
                     "p99_ms": p99, "p99_9_ms": p999, "errors": errors,
                     "send_lag_p99_ms": j.get("rate", {}).get("send_lag_us", {}).get("p99", 0)
                     / 1000, "nodes": [proc_stats(p.pid) for p in popens]})
        r = rows[-1]
        rss = " ".join(f"{n['rss_mb']:.0f}" if n else "-" for n in r["nodes"])
        print(f"[{i + 1}/{chunks}] t={r['t_sec']:.0f}s {ops:.0f} ops/s p99 {p99:.2f} ms "
              f"errors {errors} RSS {rss} MB, load {os.getloadavg()[0]:.1f}", flush=True)
        if not servers.check_alive():
            raise RuntimeError("a node exited during the soak")
    return {"tool": "bench/soak.py", "idle_p99_ms": idle_p99, "rows": rows,
            "verdicts": judge(o, rows, idle_p99)}


def main():
    o = parse_args()
    started = datetime.datetime.now()
    tmp = tempfile.mkdtemp(prefix="kvstore-soak.")
    servers = procs.Servers(tmp)
    try:
        report = run(o, servers, tmp)
    except (RuntimeError, OSError, subprocess.SubprocessError) as e:
        print(f"soak: {e}; logs in {tmp}", file=sys.stderr)
        return 1
    finally:
        servers.stop_all()
    report.update(
        started=started.isoformat(timespec="seconds"),
        commit=procs.cmd_out(["git", "-C", ROOT, "rev-parse", "--short", "HEAD"]),
        load_avg_at_end=os.getloadavg(), cpus=os.cpu_count(),
        workload={"nodes": NODES, "engine": "rocksdb sync=always" if o.data_dir else "memory",
                  "rate": o.rate, "clients": o.clients, "keys": o.keys,
                  "read_ratio": o.read_ratio, "consistency": "quorum",
                  "duration_sec": o.duration_sec, "interval_sec": o.interval_sec})
    os.makedirs(o.out, exist_ok=True)
    stem = os.path.join(o.out, "soak-" + started.strftime("%Y-%m-%d-%H%M%S") +
                        ("-rocksdb" if o.data_dir else ""))
    with open(stem + ".json", "w") as f:
        json.dump(report, f, indent=1)
    md = table(report["rows"]) + "\n\n" + "\n".join("- " + v for v in report["verdicts"]) + "\n"
    with open(stem + ".md", "w") as f:
        f.write(md)
    plot(stem, report["rows"], f"kvstore soak: 3 nodes, QUORUM, --rate {o.rate:g}")
    print("\n" + md + f"wrote {stem}.json, .md, .dat, .gp and .png")
    shutil.rmtree(tmp, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
