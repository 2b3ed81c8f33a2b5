"""Measuring one point: run a load generator, sample the noise, record it.

A point is a dict (see Recorder.record) appended to Recorder.results, one
per system, op and round. The load generators: kvbench (kvstore and etcd),
redis-benchmark, and bench/opendht's dht_bench.
"""

import csv
import io
import json
import os
import subprocess
import time

import noise
import procs
import rules


class Recorder:
    """The points measured so far, the progress counter, and the servers of
    the unit running now."""

    def __init__(self, opts, tmp):
        self.o = opts
        self.tmp = tmp
        self.servers = procs.Servers(tmp)
        self.results = []  # one dict per (system, op, round)
        self.step = 0
        self.total_steps = 0
        self.round = 1
        # (server CPUs, load generator CPUs) while a pinned unit runs (see
        # Systems.pinned), else None.
        self.pin = None

    def progress(self, system, op, seconds, steps=1):
        """Prints which point starts ('[ 9/32] 17:01:02 kvstore ...: put, 30 s')."""
        first = self.step + 1
        self.step += steps
        where = f"{first:2}" if steps == 1 else f"{first}-{self.step}"
        print(f"[{where}/{self.total_steps}] {time.strftime('%H:%M:%S')} {system}: {op}, "
              f"{seconds:g} s", flush=True)

    def record(self, system, label, op, ops_per_sec, p50_us, p99_us, window=None, **extra):
        """Appends a point and prints it; returns it. `window` is the
        noise.summarize() dict of its run: its fields go into the point under
        'noise', with 'noisy' and 'noise_reason' at the top."""
        r = {"system": system, "label": label, "op": op, "round": self.round,
             "ops_per_sec": ops_per_sec, "p50_us": p50_us, "p99_us": p99_us}
        r.update(extra)
        r.update(noise_fields(window))
        r["invalid"] = rules.send_lag_invalid(r)
        self.results.append(r)
        flag = "  FAILED" if r.get("failed") else ""
        print(f"      {ops_per_sec:11.1f} ops/s  p50 {p50_us / 1e3:8.3f} ms"
              f"  p99 {p99_us / 1e3:8.3f} ms{flag}", flush=True)
        if window:
            print("      " + describe_window(window), flush=True)
        if r["invalid"]:
            print(f"      ! {r['invalid']}", flush=True)
        return r

    def record_failure(self, system, label, op, why):
        """Appends a failed point (no figures) and prints why."""
        print(f"      ! {why}", flush=True)
        self.results.append({"system": system, "label": label, "op": op, "round": self.round,
                             "ops_per_sec": 0, "p50_us": 0, "p99_us": 0, "failed": True,
                             "error": why})

    def skip(self, steps):
        """Advances the progress counter past points that will not run."""
        self.step += steps

    def kvctl(self, addr, *args, tls=()):
        """Runs `kvctl --addr addr [tls] args` (5 s bound; `tls`: the client's
        TLS flags, tls.Certs.client_args()); returns the CompletedProcess."""
        return procs.run_quiet([self.o.bin + "/kvctl", "--addr", addr, "--timeout", "1", *tls,
                                *args], timeout=5)

    def kvbench(self, system, label, op, target, addrs, extra=(), clients=None):
        """One kvbench phase; returns the recorded point (None if it failed to run)."""
        o = self.o
        self.progress(label, op, o.duration)
        out = os.path.join(self.tmp, f"{system}-{op}-r{self.round}.json")
        args = kvbench_args(o, target, addrs, op, out, extra, clients, self.pin)
        bound = o.duration + o.warmup + 5 + 30  # + request deadline + slack
        try:
            # stderr stays on the terminal: kvbench's live progress line.
            with noise.Window() as w, ServerCpu(self.servers) as cpu:
                p = subprocess.run(args, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                                   text=True, timeout=bound)
        except subprocess.TimeoutExpired:
            return self.record_failure(system, label, op, f"kvbench ran over {bound:.0f} s")
        if not os.path.exists(out):
            return self.record_failure(system, label, op,
                                       f"kvbench exited {p.returncode}: {p.stdout[-300:]}")
        with open(out) as f:
            j = json.load(f)
        ops, p50, p99, fields = kvbench_fields(j, op)
        r = self.record(system, label, op, ops, p50, p99, w.result, **fields, **self.pin_fields(),
                        **cpu.fields(ops))
        if j.get("rate"):
            print("      " + rate_line(j["rate"]), flush=True)
        if not self.servers.check_alive():
            r["failed"] = True
            r["error"] = "a server exited during the run"
        return r

    def redis_benchmark(self, system, label, op, base, pipeline):
        """One redis-benchmark point from the command `base` (without -n);
        returns it. redis-benchmark counts requests, not seconds: a short run
        measures the rate, the measured run sizes -n to last the duration."""
        o = self.o
        if self.pin:
            base = procs.pinned(self.pin[1], base)
        try:
            calib = redis_csv(base + ["-n", str(20000 * pipeline)], 60)
            n = max(1000, int(calib["rps"] * o.duration))
            with noise.Window() as w, ServerCpu(self.servers) as cpu:
                row = redis_csv(base + ["-n", str(n)], o.duration * 4 + 30)
        except (RuntimeError, subprocess.TimeoutExpired) as e:
            return self.record_failure(system, label, op, f"redis-benchmark: {e}")
        return self.record(system, label, op, row["rps"], row["p50_latency_ms"] * 1000,
                           row["p99_latency_ms"] * 1000, w.result, tool="redis-benchmark",
                           pipeline=pipeline, ops=n, errors=0,
                           failed=False, mean_us=row["avg_latency_ms"] * 1000,
                           max_us=row["max_latency_ms"] * 1000, **self.pin_fields(),
                           **cpu.fields(row["rps"]))

    def pin_fields(self):
        """The CPUs of a pinned point, for its record; {} when not pinned."""
        return {"server_cpus": self.pin[0], "client_cpus": self.pin[1]} if self.pin else {}

    def dht_bench(self, system, label, args, clients, bound):
        """Runs dht_bench (a put and a get phase, one noise window for both);
        records both points. Returns the harness's JSON, or None."""
        out = os.path.join(self.tmp, f"{system}-r{self.round}.json")
        try:
            with noise.Window() as w:
                p = subprocess.run(args + ["--json", out], stdin=subprocess.DEVNULL,
                                   stdout=subprocess.PIPE, text=True, timeout=bound)
            print("      " + "\n      ".join(p.stdout.splitlines()), flush=True)
        except subprocess.TimeoutExpired:
            p = None
        if p is None or not os.path.exists(out):
            why = "dht_bench ran over its bound" if p is None else f"exit {p.returncode}"
            for op in ("put", "get"):
                self.record_failure(system, label, op, why)
            return None
        with open(out) as f:
            j = json.load(f)
        for op in ("put", "get"):
            s = j[op]
            lat = s["latency_us"]
            self.record(system, label, op, s["ops_per_sec"], lat["p50"], lat["p99"], w.result,
                        tool="dht_bench", ops=s["ops"], errors=s["errors"] + s["unfinished"],
                        failed=j["failed"], p90_us=lat["p90"], p99_9_us=lat["p99_9"],
                        max_us=lat["max"], misses=s.get("misses"), join_sec=j["join_sec"],
                        clients=clients)
        return j


class ServerCpu:
    """The CPU the unit's servers use while the `with` block runs (warm-up
    included), for the point's server_cpu_cores and server_cpu_us_per_op:
    what a request costs the server, whether or not the load generator was
    the bottleneck."""

    def __init__(self, servers, clock=time.monotonic):
        self.servers, self.clock = servers, clock
        self.cpu = self.wall = 0.0

    def __enter__(self):
        self._cpu0, self._t0 = self.servers.cpu_seconds(), self.clock()
        return self

    def __exit__(self, *exc):
        self.cpu = self.servers.cpu_seconds() - self._cpu0
        self.wall = self.clock() - self._t0
        return False

    def fields(self, ops_per_sec):
        """{server_cpu_cores, server_cpu_us_per_op}; {} without a measure."""
        if self.wall <= 0 or self.cpu <= 0:
            return {}
        cores = self.cpu / self.wall
        out = {"server_cpu_cores": round(cores, 3)}
        if ops_per_sec:
            out["server_cpu_us_per_op"] = round(cores / ops_per_sec * 1e6, 2)
        return out


def kvbench_args(o, target, addrs, op, out, extra=(), clients=None, pin=None):
    """kvbench's command line for one phase. Pinned (`pin` = (server CPUs,
    load generator CPUs)), it runs on the load generator's CPUs with one
    thread and one channel, as redis-benchmark runs: two threads on one core
    would take turns by the scheduler tick."""
    args = [o.bin + "/kvbench", "--target", target, "--addr", ",".join(addrs),
            "--clients", str(clients or o.clients),
            "--duration", f"{int(o.duration * 1000)}ms",
            "--warmup", f"{int(o.warmup * 1000)}ms", "--keys", str(o.keys),
            "--key-size", str(o.key_size), "--value-size", str(o.value_size),
            "--read-ratio", "1" if op == "get" else "0", "--json", out, *extra]
    if pin:
        args = procs.pinned(pin[1], args + ["--threads", "1", "--channels", "1"])
    return args


def kvbench_fields(j, op):
    """(ops_per_sec, p50_us, p99_us, other fields) of one phase from kvbench's
    --json output `j` (docs/kvbench.md); a --rate run adds its target, the
    rate sent, and the send lag."""
    side = j["read" if op == "get" else "write"]
    lat = side["latency_us"]
    fields = {"errors": side["errors"], "failed": j["failed"], "error_rate": j["error_rate"],
              "p90_us": lat["p90"], "p99_9_us": lat["p99_9"], "max_us": lat["max"],
              "ops": side["ops"], "elapsed_sec": j["elapsed_sec"], "tool": "kvbench",
              "errors_by_code": j["errors_by_code"]}
    if op == "get":
        fields["misses"] = side.get("misses", 0)
    rate = j.get("rate")  # --rate runs only
    if rate:
        fields.update(rate_target_ops_per_sec=rate["target_ops_per_sec"],
                      rate_sent_ops_per_sec=rate["sent_ops_per_sec"],
                      rate_kept_up=rate["kept_up"],
                      send_lag_p50_us=rate["send_lag_us"]["p50"],
                      send_lag_p99_us=rate["send_lag_us"]["p99"])
    return side["ops_per_sec"], lat["p50"], lat["p99"], fields


def rate_line(rate):
    """kvbench's --rate result in one line of text."""
    behind = "" if rate["kept_up"] else " (BEHIND: under 99% of the target)"
    return (f"rate: target {rate['target_ops_per_sec']:.1f} ops/s, sent "
            f"{rate['sent_ops_per_sec']:.1f} ops/s{behind}; "
            f"send lag p99 {rate['send_lag_us']['p99'] / 1e3:.3f} ms")


def noise_fields(window):
    """The fields a point gets from its noise window: load_avg_1m_at_start
    (the name earlier results used) and load_avg_1m_at_end, noisy,
    noise_reason, and the whole window under 'noise'. {} when the point was
    not sampled."""
    if not window:
        return {}
    return {"load_avg_1m_at_start": window["load_avg_1m_before"],
            "load_avg_1m_at_end": window["load_avg_1m_after"], "noisy": window["noisy"],
            "noise_reason": window["noise_reason"], "noise": window}


def describe_window(w):
    """One line on a noise window: 'others 0.02 core, steal 0.0%, load 1.9->2.1'
    and, when noisy, why."""
    text = (f"others {w['others_cpu']:.2f} core, steal {w['steal_pct']:.1f}%, "
            f"load {w['load_avg_1m_before']:.1f}->{w['load_avg_1m_after']:.1f}")
    return text + (f"  NOISY: {w['noise_reason']}" if w["noisy"] else "")


def redis_csv(args, timeout):
    """The first row of `redis-benchmark --csv` output, numbers as floats;
    raises RuntimeError if it failed."""
    p = procs.run_quiet(args, timeout)
    rows = list(csv.DictReader(io.StringIO(p.stdout)))
    if p.returncode != 0 or not rows:
        raise RuntimeError(f"exit {p.returncode}: {(p.stderr or p.stdout)[-300:]}")
    return {k: (float(v) if k != "test" else v) for k, v in rows[0].items()}
