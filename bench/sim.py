#!/usr/bin/env python3
"""make sim: kvsim's standard scenarios, as a table and a plot.

  scale:   100, 1,000 and 10,000 nodes, no faults (the kv workload: 4
           closed-loop clients, half puts, half gets, QUORUM)
  faults:  1,000 nodes under kill (churn), partition-halves and clock-skew

Each runs 60 simulated seconds (plus join and settle) with kvstore's default
timings. Writes <out>/sim-<time>.json (every run's kvsim JSON), .md (the
table), .dat, .gp and .png (gnuplot: round trips and peer RPCs per request
against cluster size), and with --doc replaces the generated block of
docs/simulation.md. Exits 1 if a run lost a write or failed.

  bench/sim.py --kvsim build/bin/kvsim [--quick] [--out bench/results] [--doc docs/simulation.md]
"""

import argparse
import datetime
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time

ROOT = os.path.normpath(os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))
BEGIN = "<!-- BEGIN make sim -->"
END = "<!-- END make sim -->"


def scenarios(quick):
    if quick:
        return [(16, "none"), (100, "none"), (300, "none"), (100, "kill"),
                (100, "partition-halves"), (100, "clock-skew")], "20s"
    return [(100, "none"), (1000, "none"), (10000, "none"), (1000, "kill"),
            (1000, "partition-halves"), (1000, "clock-skew")], "60s"


def run_one(kvsim, nodes, nemesis, duration, seed, tmp):
    out = os.path.join(tmp, f"n{nodes}-{nemesis}.json")
    cmd = [kvsim, "--nodes", str(nodes), "--nemesis", nemesis, "--duration", duration,
           "--seed", str(seed), "--json", out]
    print(f"sim: {' '.join(cmd[1:-2])}", flush=True)
    start = time.monotonic()
    # kvsim's progress lines (stderr) pass through: a 10,000-node run is long.
    r = subprocess.run(cmd, stdout=subprocess.PIPE, text=True)
    print(r.stdout.strip().splitlines()[-1] if r.stdout.strip() else "(no table)", flush=True)
    if not os.path.exists(out):
        return {"nodes": nodes, "nemesis": nemesis, "error": f"kvsim exit {r.returncode}"}
    with open(out) as f:
        j = json.load(f)
    j["exit"] = r.returncode
    j["wall_seconds_outer"] = time.monotonic() - start
    return j


def agreement(j):
    """Located keys whose owners matched the oracle's, as a percentage with
    the count (kvsim --agreement-keys); a dash from a kvsim without it."""
    if "replica_set_agreement" not in j:
        return "-"
    return (f"{100 * j['replica_set_agreement']:.1f} % of {j['agreement_located']:,}")


def table(runs):
    head = ["nodes", "nemesis", "requests", "failed", "lost", "RPCs/put p50/p99",
            "RPCs/get p50/p99", "round trips/get p50/p99", "lookup hops p50/p99",
            "replica sets agreeing", "all peer calls/request", "wall s", "peak RSS MiB",
            "RSS KiB/node"]
    out = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    for j in runs:
        if "error" in j:
            out.append(f"| {j['nodes']:,} | {j['nemesis']} | {j['error']} |" + " |" * (len(head) - 3))
            continue
        rss = j["peak_rss_bytes"]
        cells = [f"{j['nodes']:,}", j["nemesis"], f"{j['ops']:,}", f"{j['failed']:,}",
                 str(j["lost"]),
                 f"{j['peer_rpcs_per_put_p50']} / {j['peer_rpcs_per_put_p99']}",
                 f"{j['peer_rpcs_per_get_p50']} / {j['peer_rpcs_per_get_p99']}",
                 f"{j['round_trips_per_get_p50']} / {j['round_trips_per_get_p99']}",
                 f"{j['lookup_hops_p50']} / {j['lookup_hops_p99']}",
                 agreement(j), f"{j['peer_calls_per_op']:.1f}", f"{j['wall_seconds']:.0f}",
                 f"{rss / 2**20:.0f}", f"{rss / 1024 / j['nodes']:.0f}"]
        out.append("| " + " | ".join(cells) + " |")
    return "\n".join(out)


def plot(stem, runs):
    """<stem>.dat and .gp, and <stem>.png when gnuplot is installed."""
    scale = sorted((j for j in runs if j.get("nemesis") == "none" and "error" not in j),
                   key=lambda j: j["nodes"])
    with open(stem + ".dat", "w") as f:
        f.write("# nodes rt_get_p50 rt_get_p99 rpc_get_p50 rpc_get_p99 rpc_put_p50 rpc_put_p99\n")
        for j in scale:
            f.write(f"{j['nodes']} {j['round_trips_per_get_p50']} {j['round_trips_per_get_p99']} "
                    f"{j['peer_rpcs_per_get_p50']} {j['peer_rpcs_per_get_p99']} "
                    f"{j['peer_rpcs_per_put_p50']} {j['peer_rpcs_per_put_p99']}\n")
    name = os.path.basename(stem)
    with open(stem + ".gp", "w") as f:
        f.write(f"""set terminal pngcairo size 900,500
set output '{name}.png'
set title "kvsim: what one request costs against cluster size (QUORUM, no faults)"
set logscale x
set xlabel 'nodes'
set ylabel 'sequential round trips per get'
set y2label 'peer RPCs per request'
set y2tics
set ytics nomirror
set yrange [0:*]
set y2range [0:*]
set key below
plot '{name}.dat' using 1:2 axes x1y1 with linespoints lw 2 title 'round trips/get p50', \\
     '{name}.dat' using 1:3 axes x1y1 with linespoints title 'round trips/get p99', \\
     '{name}.dat' using 1:4 axes x1y2 with linespoints lw 2 title 'RPCs/get p50', \\
     '{name}.dat' using 1:5 axes x1y2 with linespoints title 'RPCs/get p99', \\
     '{name}.dat' using 1:6 axes x1y2 with linespoints title 'RPCs/put p50'
""")
    if shutil.which("gnuplot"):
        subprocess.run(["gnuplot", name + ".gp"], cwd=os.path.dirname(stem) or ".", check=False)
    return stem + ".png"


def write_doc(doc, block):
    with open(doc) as f:
        text = f.read()
    if BEGIN in text and END in text:
        head, rest = text.split(BEGIN, 1)
        text = head + BEGIN + "\n" + block + "\n" + END + rest.split(END, 1)[1]
    else:
        text = text.rstrip("\n") + f"\n\n## make sim\n\n{BEGIN}\n{block}\n{END}\n"
    with open(doc, "w") as f:
        f.write(text)


def main(argv):
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--kvsim", required=True)
    ap.add_argument("--quick", action="store_true", help="small clusters, 20 s: a smoke run")
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--max-nodes", type=int, default=0,
                    help="skip the scenarios with more nodes (0: run all); a 10,000-node run "
                         "takes about an hour")
    ap.add_argument("--out", default=os.path.join(ROOT, "bench", "results"))
    ap.add_argument("--doc", default="", help="replace the generated block of this markdown file")
    o = ap.parse_args(argv)
    os.makedirs(o.out, exist_ok=True)
    stem = os.path.join(o.out, "sim-" + datetime.datetime.now().strftime("%Y-%m-%d-%H%M%S"))
    todo, duration = scenarios(o.quick)
    if o.max_nodes:
        todo = [t for t in todo if t[0] <= o.max_nodes]
    runs = []
    with tempfile.TemporaryDirectory(prefix="kvsim-") as tmp:
        for i, (nodes, nemesis) in enumerate(todo):
            print(f"[{i + 1}/{len(todo)}]", end=" ", flush=True)
            runs.append(run_one(o.kvsim, nodes, nemesis, duration, o.seed, tmp))
            with open(stem + ".json", "w") as f:  # after each run: a long sweep keeps what it has
                json.dump({"tool": "bench/sim.py", "duration": duration, "runs": runs}, f,
                          indent=1)
    md = table(runs)
    png = plot(stem, runs)
    with open(stem + ".md", "w") as f:
        f.write(md + "\n")
    print(md)
    print(f"sim: {stem}.json, .md, .png")
    if o.doc:
        rel = os.path.relpath(stem, os.path.dirname(o.doc))
        skipped = f" MAX_NODES={o.max_nodes}" if o.max_nodes else ""
        block = (f"Run {datetime.date.today()}, seed {o.seed}, {duration} simulated per run "
                 f"(`make sim{skipped}`; [{os.path.basename(stem)}.json]({rel}.json)):\n\n"
                 f"{md}\n\n"
                 f"![round trips and RPCs per request against cluster size]({rel}.png)")
        write_doc(o.doc, block)
        print(f"updated {o.doc}")
    bad = [j for j in runs if "error" in j or j.get("lost") or j.get("exit")]
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
