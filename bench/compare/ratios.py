"""The headline: kvstore / peer per comparison, and kvstore's own targets
(among them kvstore over TLS / kvstore in plaintext, issue 16).

A ratio is taken per round, between the two sides measured in that round
(rounds.py runs them next to each other), and the median of the rounds is
reported with their lowest and highest. Rounds where either side was noisy
are left out when a quiet round exists; otherwise the row is noisy and its
target reads "not measured (noisy: ...)", never met or missed.
"""

import aggregate
import rules

# (name, ours (system, op), peer (system, op), field, target, higher_is_better)
THROUGHPUT = "ops_per_sec"
P50 = "p50_us"
CPU_PER_OP = "server_cpu_us_per_op"
TLS_TARGET = 0.8  # issue 16: TLS keeps at least 0.8x of the plaintext throughput
METRICS_TARGET = 0.95  # issue 19: --metrics-addr keeps at least 0.95x of it
P99 = "p99_us"
RATIOS = [
    ("kvstore 1-node memory Get / Redis GET (no pipelining), throughput",
     ("kvstore-mem", "get"), ("redis", "get"), THROUGHPUT, 1.0, True),
    ("kvstore 1-node memory Put / Redis SET (no pipelining), throughput",
     ("kvstore-mem", "put"), ("redis", "put"), THROUGHPUT, 1.0, True),
    # The servers' CPU per request (peer's over ours: below 1, kvstore's
    # server spends more): on two cores the load generators bound both
    # throughputs, so this is what tells the servers apart.
    ("Redis GET / kvstore 1-node memory Get, server CPU per request (how many times less)",
     ("kvstore-mem", "get"), ("redis", "get"), CPU_PER_OP, None, False),
    ("Redis SET / kvstore 1-node memory Put, server CPU per request (how many times less)",
     ("kvstore-mem", "put"), ("redis", "put"), CPU_PER_OP, None, False),
    ("kvstore 1-node memory Get --batch 16 / Redis GET -P 16, throughput",
     ("kvstore-mem-b16", "get"), ("redis-p16", "get"), THROUGHPUT, 0.5, True),
    ("kvstore 1-node memory Put --batch 16 / Redis SET -P 16, throughput",
     ("kvstore-mem-b16", "put"), ("redis-p16", "put"), THROUGHPUT, 0.5, True),
    ("kvstore 3-node QUORUM Put / etcd Put with fsync, throughput",
     ("kvstore-3", "put"), ("etcd", "put"), THROUGHPUT, 10.0, True),
    None,  # the half-of-peak value row goes here
    ("kvstore 1-node RocksDB sync=always Put / etcd Put with fsync, throughput",
     ("kvstore-rocksdb", "put"), ("etcd", "put"), THROUGHPUT, 1.5, True),
    # Issue 20 part 4: replicated and durable on both sides.
    ("kvstore 3-node QUORUM RocksDB sync=always Put / etcd 3-member Put, throughput",
     ("kvstore-3-rocksdb", "put"), ("etcd-3", "put"), THROUGHPUT, 2.0, True),
    ("kvstore 3-node QUORUM RocksDB sync=always Get / etcd 3-member Range (linearizable), "
     "throughput", ("kvstore-3-rocksdb", "get"), ("etcd-3", "get"), THROUGHPUT, 3.0, True),
    ("kvstore 3-node QUORUM Put --batch 16 / etcd Put with fsync, throughput",
     ("kvstore-3-b16", "put"), ("etcd", "put"), THROUGHPUT, None, True),
    ("kvstore 3-node QUORUM Get / etcd Range (linearizable), throughput",
     ("kvstore-3", "get"), ("etcd", "get"), THROUGHPUT, None, True),
] + [
    # Issue 16: the cost of TLS, each TLS point over its plaintext twin.
    (f"kvstore {nodes} {op.capitalize()}, TLS / plaintext, throughput",
     (system + "-tls", op), (system, op), THROUGHPUT, TLS_TARGET, True)
    for nodes, system in (("1-node memory", "kvstore-mem"), ("3-node QUORUM", "kvstore-3"))
    for op in ("put", "get")
] + [
    # Issue 21: kvstore's RESP port and Redis under the same redis-benchmark.
    (f"kvstore 1-node RESP {cmd} / Redis {cmd}{suffix} (redis-benchmark), throughput",
     (ours, op), (peer, op), THROUGHPUT, target, True)
    for op, cmd in (("get", "GET"), ("put", "SET"))
    for ours, peer, suffix, target in (("kvstore-resp", "redis", "", 0.8),
                                       ("kvstore-resp-p16", "redis-p16", " -P 16", 0.5))
] + [
    (f"Redis {cmd} p99 / kvstore 1-node RESP {cmd} p99 (redis-benchmark; 0.5 = twice Redis's)",
     ("kvstore-resp", op), ("redis", op), P99, 0.5, False)
    for op, cmd in (("get", "GET"), ("put", "SET"))
] + [
    # Issue 19: the cost of metrics (the interceptor, scrapes every second).
    (f"kvstore 1-node memory {op.capitalize()}, --metrics-addr / without, throughput",
     ("kvstore-mem-metrics", op), ("kvstore-mem", op), THROUGHPUT, METRICS_TARGET, True)
    for op in ("put", "get")
] + [
    # 16 nodes: OpenDHT's p50 over kvstore's (how many times lower kvstore's is).
    (f"OpenDHT 16-node {op} p50 / kvstore 16-node {op.capitalize()} p50{suffix}",
     (ours, op), (peer, op), P50, target, False)
    for op, ours, peer, suffix, target in (
        ("get", "kvstore-16", "opendht-16", " (how many times lower)", 10.0),
        ("get", "kvstore-16-c1", "opendht-16-c1", ", 1 client (unloaded)", 10.0),
        ("get", "kvstore-16-owner", "opendht-16", ", --route owner", 10.0),
        ("get", "kvstore-16-owner-c1", "opendht-16-c1", ", --route owner, 1 client", 10.0),
        ("get", "kvstore-16-owner-one", "opendht-16", " at ONE, --route owner", 10.0),
        ("get", "kvstore-16-owner-one-c1", "opendht-16-c1", " at ONE, --route owner, 1 client",
         10.0),
        ("put", "kvstore-16", "opendht-16", " (how many times lower)", None),
        ("put", "kvstore-16-c1", "opendht-16-c1", ", 1 client (unloaded)", None),
        ("put", "kvstore-16-owner", "opendht-16", ", --route owner", None))
] + [
    ("kvstore 16-node Get / OpenDHT 16-node get, throughput",
     ("kvstore-16", "get"), ("opendht-16", "get"), THROUGHPUT, None, True),
    ("kvstore 16-node Get --route owner / OpenDHT 16-node get, throughput",
     ("kvstore-16-owner", "get"), ("opendht-16", "get"), THROUGHPUT, None, True),
]

HALF_OF_PEAK = ("kvstore-3-half", "get")
HALF_OF_PEAK_TARGET_MS = 2.0


def points_by_round(samples, system, op):
    """{round: point} of one system and op (round 1 for results without rounds)."""
    return {r.get("round", 1): r for r in samples if r["system"] == system and r["op"] == op}


def ratio_row(samples, name, ours, peer, field, target, higher_is_better):
    """One headline ratio from the per-round pairs (see the module doc):
    name, ratio (None without a usable pair), target, ratio_min, ratio_max,
    ratio_rounds {round: ratio}, noisy, noise_reason, met (None when there is
    no target, no ratio, or the ratio is noisy)."""
    a, b = points_by_round(samples, *ours), points_by_round(samples, *peer)
    pairs = [(rnd, a[rnd], b[rnd]) for rnd in sorted(a) if rnd in b
             and rules.usable(a[rnd]) and rules.usable(b[rnd])
             and a[rnd].get(field) and b[rnd].get(field)]
    calm = [p for p in pairs if rules.quiet(p[1]) and rules.quiet(p[2])]
    chosen = calm or pairs
    row = {"name": name, "ratio": None, "target": target, "met": None}
    if not chosen:
        return row
    ratios = {rnd: (x[field] / y[field] if higher_is_better else y[field] / x[field])
              for rnd, x, y in chosen}
    row.update(ratio=round(aggregate.median(list(ratios.values())), 3),
               ratio_min=round(min(ratios.values()), 3), ratio_max=round(max(ratios.values()), 3),
               ratio_rounds={str(k): round(v, 3) for k, v in ratios.items()},
               noisy=not calm,
               noise_reason=rules.noise_summary([p for _, x, y in chosen for p in (x, y)]))
    if target is not None and not row["noisy"]:
        row["met"] = row["ratio"] >= target
    return row


def half_of_peak_row(samples):
    """Issue 7's latency target: kvstore 3-node QUORUM Get p99 at half of peak
    (kvbench --rate), in ms. value is the median over the chosen rounds
    (value_min, value_max beside it), None when no round is usable; invalid
    says why when every measured round was (rules.send_lag_invalid)."""
    row = {"name": "kvstore 3-node QUORUM Get p99 at half of peak throughput (ms)",
           "kind": "value", "unit": "ms", "ratio": None, "value": None,
           "target": HALF_OF_PEAK_TARGET_MS, "target_text": f"< {HALF_OF_PEAK_TARGET_MS:g} ms",
           "met": None}
    runs = list(points_by_round(samples, *HALF_OF_PEAK).values())
    chosen, noisy = rules.pick(runs)
    if not chosen:
        _, why = rules.invalid_point(runs)
        if why:
            row["invalid"] = why
        return row
    p99s = [r["p99_us"] / 1000 for r in chosen]
    mid = aggregate.median_point(chosen, "p99_us")
    row.update(value=round(aggregate.median(p99s), 3), value_min=round(min(p99s), 3),
               value_max=round(max(p99s), 3), rounds_used=len(chosen), noisy=noisy,
               noise_reason=rules.noise_summary(chosen))
    if not noisy:
        row["met"] = row["value"] < row["target"]
    if mid.get("rate_target_ops_per_sec"):
        row["rate_target_ops_per_sec"] = mid["rate_target_ops_per_sec"]
        row["rate_sent_ops_per_sec"] = mid.get("rate_sent_ops_per_sec")
        row["rate_kept_up"] = mid.get("rate_kept_up")
        row["send_lag_p99_us"] = mid.get("send_lag_p99_us")
    return row


def ratios(samples):
    """The headline rows, in the order of RATIOS, from the points of every round."""
    return [half_of_peak_row(samples) if spec is None else ratio_row(samples, *spec)
            for spec in RATIOS]
