#!/usr/bin/env python3
"""bench/compare.py: kvstore side by side with Redis, etcd and OpenDHT.

Runs every point on this machine, the systems of each comparison interleaved
over --repeat rounds (default 3), kvstore's 1- and 3-node put and get also
over TLS (certificates made once per run in its temp dir), and writes
  bench/results/<date>.json   every figure of every round, what else used the
                              CPU during each point, the machine, the versions
  bench/results/<date>.png    throughput and p99 per system (gnuplot)
  docs/benchmarks.md          the generated block between the bench markers

The modules in bench/compare/ do the work: systems.py (the servers and the
points of each system), points.py (running a load generator, recording a
point), noise.py (who else used the CPU, from /proc), rounds.py (the
interleaved order), rules.py (noisy, invalid), aggregate.py and ratios.py
(medians, the headline), markdown.py and plot.py (the outputs), tls.py (the
run's certificates), host.py.

Every server listens on 127.0.0.1 only, keeps its data in one temp dir, and
is stopped on exit, on failure and on Ctrl-C (and gets SIGTERM from the
kernel if this script dies). Every load run is bounded in time.
Python 3 standard library only. `make bench` runs it; see docs/benchmarks.md.
"""

import argparse
import datetime
import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "compare"))

import aggregate  # noqa: E402
import host  # noqa: E402
import markdown  # noqa: E402
import plot  # noqa: E402
import points  # noqa: E402
import procs  # noqa: E402
import ratios  # noqa: E402
import rounds  # noqa: E402
import systems  # noqa: E402


def parse_args(argv=None):
    """The options, with the defaults --quick implies filled in."""
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--bin", default=os.path.join(ROOT, "build", "bin"),
                    help="directory with kvstore, kvctl, kvbench, dht_bench")
    ap.add_argument("--quick", action="store_true",
                    help="smoke run: 3 s per point, 0.5 s warm-up, one round")
    ap.add_argument("--duration", type=float, help="seconds per point (default 30)")
    ap.add_argument("--warmup", type=float, help="seconds of warm-up per point (default 2)")
    ap.add_argument("--repeat", type=int,
                    help="rounds (default 3, 1 with --quick): every comparison's systems run "
                         "interleaved, A, B, A, B ..., and the medians are reported")
    ap.add_argument("--pin", choices=("auto", "off"), default="auto",
                    help="auto (default): with 2 or more CPUs, the Redis comparison's "
                         "units (redis, kvstore-1-memory/-tls/-metrics/-resp) run the server on "
                         "one CPU and the load generator, single-threaded, on another; "
                         "off: every process may run anywhere")
    ap.add_argument("--clients", type=int, default=50)
    ap.add_argument("--keys", type=int, default=100000)
    ap.add_argument("--key-size", type=int, default=16)
    ap.add_argument("--value-size", type=int, default=100)
    ap.add_argument("--only", default=",".join(rounds.GROUPS),
                    help="comma-separated subset of " + ",".join(rounds.GROUPS))
    ap.add_argument("--units", default="",
                    help="comma-separated units to run instead of --only's groups, e.g. "
                         "etcd-3,kvstore-3-rocksdb (names: bench/compare/rounds.py)")
    ap.add_argument("--out", default=os.path.join(ROOT, "bench", "results"),
                    help="directory for the JSON, PNG, .dat and .gp")
    ap.add_argument("--doc", default=os.path.join(ROOT, "docs", "benchmarks.md"),
                    help="markdown file whose generated block is rewritten ('' for none)")
    o = ap.parse_args(argv)
    o.bin = os.path.abspath(o.bin)
    if o.duration is None:
        o.duration = 3.0 if o.quick else 30.0
    if o.warmup is None:
        o.warmup = 0.5 if o.quick else 2.0
    if o.repeat is None:
        o.repeat = 1 if o.quick else 3
    if o.repeat < 1:
        ap.error("--repeat must be at least 1")
    try:
        o.only = rounds.parse_only(o.only)
        o.units = rounds.parse_units(o.units)
    except ValueError as e:
        ap.error(str(e))
    return o


def check_tools(o):
    """Exits with a message naming what is missing for the systems in --only."""
    if o.key_size != 16:
        print("note: redis-benchmark keys are always 16 bytes ('key:' + 12 digits)")
    for tool in ["kvstore", "kvctl", "kvbench"]:
        if not os.access(os.path.join(o.bin, tool), os.X_OK):
            sys.exit(f"compare.py: {o.bin}/{tool} missing: build first (make build)")
    for tool, part in (("redis-server", "redis"), ("redis-benchmark", "redis"),
                       ("etcd", "etcd"), ("openssl", "kvstore")):  # openssl: tls.py
        if part in o.only and shutil.which(tool) is None:
            sys.exit(f"compare.py: {tool} not installed (make bench installs it)")


def run_units(rec, sys_, plan, repeat):
    """Runs every (round, unit) of `plan` in order. A unit that raises is
    recorded as a failed point and the run goes on."""
    last = None
    for rnd, unit in plan:
        if repeat > 1 and rnd != last:
            print(f"-- round {rnd} of {repeat}", flush=True)
        rec.round = last = rnd
        first = rec.step
        try:
            sys_.run(unit)
        except (RuntimeError, subprocess.SubprocessError, OSError) as e:
            print(f"  ! {unit}: {e}", flush=True)
            rec.servers.check_alive()
            rec.results.append({"system": unit, "label": unit, "op": "-", "round": rnd,
                                "ops_per_sec": 0, "p50_us": 0, "p99_us": 0, "failed": True,
                                "error": str(e)})
            rec.step = first + rounds.steps(unit, rec.o.clients)
        finally:
            rec.servers.stop_all()


def run(o, rec, sys_):
    """Runs the plan under signal handling; True if it ran to the end
    (False on Ctrl-C, SIGTERM or SIGHUP). Stops every server either way."""
    plan = rounds.schedule(o.only, o.repeat, o.units)
    rec.total_steps = sum(rounds.steps(u, o.clients) for _, u in plan)

    # SIGTERM and SIGHUP end the run like Ctrl-C does: through `finally`.
    def on_signal(signum, _frame):
        raise KeyboardInterrupt(f"signal {signum}")
    signal.signal(signal.SIGTERM, on_signal)
    signal.signal(signal.SIGHUP, on_signal)
    signal.signal(signal.SIGINT, signal.default_int_handler)  # even if started ignoring it
    print(f"compare.py: {rec.total_steps} points in {o.repeat} round(s), {o.duration:g} s each "
          f"(+{o.warmup:g} s warm-up); servers in {rec.tmp}", flush=True)
    try:
        run_units(rec, sys_, plan, o.repeat)
        return True
    except KeyboardInterrupt as e:
        print(f"\ncompare.py: interrupted ({str(e) or 'Ctrl-C'}); stopping servers", flush=True)
        return False
    finally:
        signal.signal(signal.SIGINT, signal.SIG_IGN)  # let cleanup finish
        rec.servers.stop_all()
        if not any(r.get("failed") for r in rec.results):
            shutil.rmtree(rec.tmp, ignore_errors=True)
        else:
            print(f"compare.py: server logs kept in {rec.tmp}")
        signal.signal(signal.SIGINT, signal.SIG_DFL)


def build_report(o, started, machine, samples, opendht_version):
    """The dict written as JSON: the run, the machine, the versions, one row
    per system and op (results), the headline (ratios) and every round's
    points (samples)."""
    machine["load_avg_at_end"] = os.getloadavg()
    return {
        "tool": "bench/compare.py",
        "started": started.isoformat(timespec="seconds"),
        "finished": datetime.datetime.now().isoformat(timespec="seconds"),
        "commit": procs.cmd_out(["git", "-C", ROOT, "rev-parse", "--short", "HEAD"]),
        "machine": machine,
        "versions": host.versions(o.bin, opendht_version),
        "workload": {"quick": o.quick, "clients": o.clients, "keys": o.keys,
                     "key_size": o.key_size, "value_size": o.value_size, "dist": "uniform",
                     "duration_sec": o.duration, "warmup_sec": o.warmup, "rounds": o.repeat,
                     "interleaved": True},
        "results": aggregate.aggregate(samples),
        "ratios": ratios.ratios(samples),
        "samples": samples,
    }


def write_outputs(o, report, started):
    """Writes the JSON, the plot and the doc block."""
    os.makedirs(o.out, exist_ok=True)
    stem = os.path.join(o.out, started.strftime("%Y-%m-%d-%H%M%S") + ("-quick" if o.quick else ""))
    with open(stem + ".json", "w") as f:
        json.dump(report, f, indent=1)
        f.write("\n")
    have_png = plot.plot(report, stem)
    print(f"\nwrote {os.path.relpath(stem, ROOT)}.json" +
          (f" and {os.path.relpath(stem, ROOT)}.png" if have_png else ""))
    if o.doc:
        markdown.write_doc(o.doc, markdown.markdown(
            report, os.path.relpath(stem + ".json", ROOT), os.path.relpath(stem + ".png", ROOT)))
        print(f"updated {os.path.relpath(o.doc, ROOT)}")


def print_summary(report):
    """Prints the headline; returns the number of failed rows."""
    print("\nkvstore / peer, and kvstore's own targets:")
    for r in report["ratios"]:
        figure, target = markdown.headline_figure(r)
        v = markdown.verdict(r)
        print(f"  {figure:>8}  {r['name']}" + (f"  (target {target}: {v})" if v else ""))
    noisy = [s for s in report["samples"] if s.get("noisy")]
    if noisy:
        print(f"\n{len(noisy)} of {len(report['samples'])} point(s) noisy (see the JSON's "
              "'noise' per sample for what else ran)")
    failed = [r for r in report["results"] if r.get("failed")]
    if failed:
        print(f"\n{len(failed)} point(s) failed: " +
              ", ".join(f"{r['system']} {r['op']}" for r in failed))
    return len(failed)


def main():
    o = parse_args()
    check_tools(o)
    tmp = tempfile.mkdtemp(prefix="kvstore-bench.")
    rec = points.Recorder(o, tmp)
    sys_ = systems.Systems(rec)
    started = datetime.datetime.now()
    machine = host.machine()
    machine.update(host.fsync_probe(tmp))
    if not run(o, rec, sys_):
        sys.exit(130)
    report = build_report(o, started, machine, rec.results, sys_.opendht_version)
    write_outputs(o, report, started)
    if print_summary(report):
        sys.exit(1)


if __name__ == "__main__":
    main()
