#!/usr/bin/python3
"""The chaos runner: for each nemesis, a fresh 5-host cluster under load and faults.

One run per nemesis: start 5 kvstores in their namespaces (a sixth host
waits on the bridge for the membership nemesis to join it), run the register,
set and delete workloads (`kvchaos run`) while the nemesis plays its seeded
schedule, heal everything and wait for repair to settle, dump every
replica's record (`kvchaos replicas`), read every key (`kvchaos final`),
then check the histories. Prints one table row per run. With --tls, every
node serves TLS with a certificate from a throwaway CA (certs.py) and every
client presents one.

Exit status: 0 clean; 1 a lost write, resurrection, divergence, an
unverifiable final read or a node that crashed; 2 the harness failed
(cluster did not form or settle); 77 skipped (no root or namespaces).
Everything the run creates goes when it ends, also on failure or a signal.

  tests/chaos/chaos.py --bin-dir build/bin --nemeses=partition-one,kill --duration=35 --seed=7
"""

import argparse
import atexit
import fcntl
import json
import os
import random
import signal
import subprocess
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import certs  # noqa: E402
import checker  # noqa: E402
import judge  # noqa: E402
import nemesis  # noqa: E402
import report  # noqa: E402
from hosts import Hosts, Network, die_with_parent, namespaces_unavailable  # noqa: E402
from settle import HarnessError, settle, wait_formed, wait_until  # noqa: E402

WORKLOADS = ("register", "set", "delete")
LOCK = "/run/kvchaos.lock"  # one run at a time: a second would remove the first's hosts


def parse_args(argv):
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--seed", type=int, default=None, help="default: $SEED, else random")
    p.add_argument("--duration", type=float, default=110, help="seconds of load per nemesis")
    p.add_argument("--nemeses", default=",".join(nemesis.NEMESES))
    p.add_argument("--bin-dir", default="build/bin", help="holds kvstore, kvctl, kvchaos")
    p.add_argument("--kvstore"), p.add_argument("--kvctl"), p.add_argument("--kvchaos")
    p.add_argument("--hold", default="4,10",
                   help="MIN,MAX seconds a fault is held (over 30 passes --dead-after)")
    p.add_argument("--kvstore-flag", action="append", default=[], metavar="--FLAG=VALUE",
                   help="replaces or adds a kvstore flag: --kvstore-flag=--tombstone-grace=60s")
    p.add_argument("--clients", type=int, default=3, help="client threads per workload")
    p.add_argument("--rate", type=float, default=15, help="ops/s per client thread")
    p.add_argument("--run-dir", default=None, help="default: /tmp/kvchaos-<seed>-<time>")
    p.add_argument("--lock-wait", type=float, default=900,
                   help="seconds to wait for another chaos run to finish")
    p.add_argument("--record", action="store_true",
                   help="append the result table to docs/guarantees.md")
    p.add_argument("--tls", action="store_true",
                   help="nodes serve TLS (mTLS between them), clients present a certificate")
    a = p.parse_args(argv)
    if a.seed is None:
        a.seed = int(os.environ.get("SEED") or random.randrange(1, 1 << 31))
    a.nemeses = [n for n in a.nemeses.split(",") if n]
    try:
        lo, hi = (float(x) for x in a.hold.split(","))
    except ValueError:
        lo = hi = -1
    if not 0 < lo <= hi:
        p.error(f"--hold: '{a.hold}' is not MIN,MAX seconds with 0 < MIN <= MAX")
    a.hold = (lo, hi)
    for n in a.nemeses:
        if n not in nemesis.NEMESES:
            p.error(f"unknown nemesis '{n}'; known: {', '.join(nemesis.NEMESES)}")
    bins = {b: getattr(a, b) or os.path.join(a.bin_dir, b) for b in ("kvstore", "kvctl", "kvchaos")}
    for f in a.kvstore_flag:
        if not f.startswith("--") or "=" not in f:
            p.error(f"--kvstore-flag: '{f}' is not --FLAG=VALUE")
        if a.tls and f.startswith("--node-id="):
            p.error("--kvstore-flag: with --tls a node's ID is its certificate's; drop --node-id")
    for b, path in bins.items():
        if not os.access(path, os.X_OK):
            p.error(f"{b} not found at {path}; build it or pass --bin-dir / --{b}")
    a.bins = {b: os.path.abspath(path) for b, path in bins.items()}
    return a


def start_workloads(a, hosts, run_dir, seed):
    procs = {}
    for w in WORKLOADS:
        cmd = [*hosts.client("kvchaos"), "run", f"--nodes={','.join(hosts.slot_addrs())}",
               f"--workload={w}",
               f"--clients={a.clients}", f"--rate={a.rate}", f"--duration={a.duration}s",
               f"--seed={seed}", f"--history={os.path.join(run_dir, w + '.jsonl')}",
               "--timeout=1s", "--keys=5"]
        with open(os.path.join(run_dir, f"kvchaos-{w}.log"), "w") as log:
            procs[w] = subprocess.Popen(cmd, stdout=log, stderr=subprocess.STDOUT,
                                        stdin=subprocess.DEVNULL, preexec_fn=die_with_parent)
    return procs


def play(faults, hosts, t0):
    """Applies each fault at its offset from `t0` and heals it after its hold."""
    def sleep_until(t):
        while time.monotonic() < t:
            hosts.note_crashes()
            time.sleep(min(0.5, max(0.0, t - time.monotonic())))  # the nemesis holding a fault

    for f in faults:
        sleep_until(t0 + f.at)
        print(f"    {f.describe()}", flush=True)
        nemesis.apply(f, hosts)
        try:
            sleep_until(t0 + f.at + f.hold)
        finally:
            nemesis.heal(f, hosts)


def after_heal(hosts, run_dir):
    """Replica dumps first (what anti-entropy achieved), then the final reads."""
    nodes = f"--nodes={','.join(hosts.addrs())}"
    for w in WORKLOADS:
        hist = os.path.join(run_dir, f"{w}.jsonl")
        for cmd in (["replicas", f"--keys-from={hist}",
                     f"--out={os.path.join(run_dir, f'replicas-{w}.jsonl')}"],
                    ["final", f"--history={hist}", f"--workload={w}"]):
            r = subprocess.run([*hosts.client("kvchaos"), *cmd, nodes, "--timeout=2s"],
                               capture_output=True, text=True, timeout=600)
            if r.returncode not in (0, 1):
                raise HarnessError(f"kvchaos {cmd[0]} failed: {r.stderr.strip()}")


def run_one(a, name, run_dir, pki):
    """One nemesis run on a fresh cluster (TLS with `pki`); returns its report row."""
    os.makedirs(run_dir)
    faults = nemesis.schedule(name, a.seed, a.duration, hold=a.hold)
    client_seed = random.Random(f"{a.seed}/{name}/clients").randrange(1 << 31)
    with open(os.path.join(run_dir, "schedule.txt"), "w") as f:
        f.write("".join(x.describe() + "\n" for x in faults))
    hosts = Hosts(a.bins, run_dir, spares=nemesis.SPARES.get(name, 0), extra_args=a.kvstore_flag,
                  pki=pki)
    # The histories' times are CLOCK_MONOTONIC; version_clocks compares them with
    # the HLC's wall-clock milliseconds.
    wall_minus_mono_ns = time.time_ns() - time.monotonic_ns()
    workers = {}
    try:
        hosts.start_all()
        if not wait_formed(hosts, timeout=60):
            raise HarnessError("the 5 nodes did not all see each other alive within 60 s")
        print(f"  {name}: {len(faults)} faults, clients seed {client_seed}, dir {run_dir}",
              flush=True)
        t0 = time.monotonic()
        workers = start_workloads(a, hosts, run_dir, client_seed)
        play(faults, hosts, t0)
        for w, p in workers.items():
            if p.wait(timeout=max(1.0, t0 + a.duration + 30 - time.monotonic())) != 0:
                raise HarnessError(f"kvchaos run --workload={w} exited with {p.returncode} "
                                   f"(see {run_dir}/kvchaos-{w}.log)")
        hosts.note_crashes()
        settled = settle(hosts)
        print(f"    healed; repair settled in {settled:.1f}s", flush=True)
        after_heal(hosts, run_dir)
        hosts.note_crashes()
        res, ops = judge.check(run_dir, wall_minus_mono_ns)
    finally:
        for p in workers.values():
            if p.poll() is None:
                p.kill()
                p.wait(timeout=10)
        hosts.stop_all()
    res["tls"] = pki is not None
    res["crashes"] = [{"host": h, "exit": c, "log": hosts.tail(h)} for h, c in hosts.crashes]
    res["leaves"] = hosts.leaves
    for node, c in res.get("version_clocks", {}).items():
        if c["over_1s_ahead"]:
            print(f"    {node} acknowledged {c['over_1s_ahead']} of {c['writes']} writes with "
                  f"versions over 1 s ahead of real time (up to {c['max_ahead_ms']} ms)",
                  flush=True)
    for lv in hosts.leaves:
        if lv.get("stayed"):
            print(f"    host {lv['host']} stayed (leave incomplete): {lv['progress']}", flush=True)
            continue
        print(f"    host {lv['host']} left: kvctl exit {lv['kvctl_exit']}, node exit "
              f"{lv['node_exit']}{' (stopped by the harness)' if lv['stopped'] else ''}: "
              f"{lv['progress']}", flush=True)
    with open(os.path.join(run_dir, "result.json"), "w") as f:
        json.dump(res, f, indent=1, default=str)
    return report.row(name, res, checker.summarize(ops))


def try_lock(f):
    try:
        fcntl.flock(f, fcntl.LOCK_EX | fcntl.LOCK_NB)
        return True
    except BlockingIOError:
        return False


def cleanup():
    for s in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP):
        signal.signal(s, signal.SIG_IGN)
    Network.remove_leftovers()


def main(argv):
    a = parse_args(argv)
    print(f"chaos: seed {a.seed} (replay: make chaos SEED={a.seed}, or --seed={a.seed}), "
          f"{report.transport(a.tls)}", flush=True)
    why = namespaces_unavailable()
    if why:
        print(f"SKIPPED: chaos smoke needs root and network namespaces ({why})", flush=True)
        return 77

    def on_signal(signum, _frame):
        print(f"chaos: signal {signum}: stopping; removing every host, link and process",
              flush=True)
        raise SystemExit(128 + signum)

    for s in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP):
        signal.signal(s, on_signal)
    lock = open(LOCK, "w")
    if not try_lock(lock):
        print(f"chaos: waiting up to {a.lock_wait:.0f}s for another chaos run ({LOCK})",
              flush=True)
        if not wait_until(lambda: try_lock(lock), a.lock_wait, interval=1.0):
            print(f"chaos: another chaos run still holds {LOCK}; giving up")
            return 2
    atexit.register(Network.remove_leftovers)
    run_root = a.run_dir or f"/tmp/kvchaos-{a.seed}-{time.strftime('%Y%m%d-%H%M%S')}"
    rows, status = [], 0
    try:
        Network.remove_leftovers()
        count = 5 + max((nemesis.SPARES.get(n, 0) for n in a.nemeses), default=0)
        Network(count).setup()
        pki = certs.Pki(os.path.join(run_root, "tls")).make(count) if a.tls else None
        for name in a.nemeses:
            try:
                rows.append(run_one(a, name, os.path.join(run_root, name), pki))
            except (HarnessError, RuntimeError, subprocess.TimeoutExpired) as e:
                print(f"  {name}: HARNESS FAILURE: {e}", flush=True)
                rows.append(report.failed_row(name, str(e)))
                status = 2
    finally:
        cleanup()
    print(report.table(rows, a.seed, a.tls), flush=True)
    for r in rows:
        for p in r["problems"]:
            print(f"chaos: {r['nemesis']}: {p}")
    print(f"chaos: histories, logs and results in {run_root}")
    if a.record:
        report.record(rows, a)
    if any(r["problems"] for r in rows):
        status = status or 1
    print("chaos: " + ("PASSED" if status == 0 else "FAILED") + f" (seed {a.seed})")
    return status


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
