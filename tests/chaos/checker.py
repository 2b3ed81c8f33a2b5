"""Checkers for kvchaos histories (JSON lines, see README.md).

An operation is an invocation paired with its completion: `ok` (it
happened), `fail` (it certainly did not) or `info` (unknown: it may take
effect at any later time, so its end is taken as infinitely late).
Values written are unique, so a value read names the write it came from.

  check_set           lost writes: every acknowledged add is in the final read
  check_resurrection  a key deleted with ok stays deleted for later reads
  check_registers     stale reads, and reads of values never (or not yet) written
  check_convergence   after heal, every replica holding a key holds one version
  version_clocks      per coordinator, how far its versions' HLC times were from real time
  summarize           operations, acknowledged, unavailable %, p99 latency
"""

import dataclasses
import json
import math

INF = math.inf
EXAMPLES = 5  # evidence kept per anomaly kind


@dataclasses.dataclass
class Op:
    process: object
    f: str
    key: str
    value: object  # the value written, or the value a read returned (None: not found)
    type: str  # ok, fail, info
    start: int  # ns
    end: float  # ns; INF unless ok or fail
    node: str = ""
    error: str = ""
    version: str = ""  # "<hlc timestamp>@<node id prefix>" of an ok write, or of the value read


def load_jsonl(path):
    with open(path) as f:
        return [json.loads(line) for line in f if line.strip()]


def pair(events):
    """Ops from history events. An invocation that never completed (a killed
    client) is an `info`. Pairs on (process, key, f): a process runs one op at
    a time, and the final reader's threads never share a key."""
    pending, ops = {}, []
    for e in events:
        k = (e["process"], e["key"], e["f"])
        if e["type"] == "invoke":
            op = Op(e["process"], e["f"], e["key"], e.get("value"), "info", e["time_ns"], INF,
                    e.get("node", ""))
            pending[k] = op
            ops.append(op)
            continue
        op = pending.pop(k, None)
        if op is None:
            raise ValueError(f"completion without invocation: {e}")
        op.type, op.error, op.version = e["type"], e.get("error", ""), e.get("version", "")
        if e["type"] != "info":
            op.end = e["time_ns"]
        if op.f == "read":
            op.value = e.get("value")
    return ops


def _client_ops(ops):
    return [o for o in ops if o.process != "final"]


def _final_reads(ops):
    """key -> found? from the ok reads of process "final" (the last one wins)."""
    return {o.key: o.value is not None for o in ops
            if o.process == "final" and o.f == "read" and o.type == "ok"}


def check_set(ops):
    """Lost writes: an add acknowledged ok that the final read does not find."""
    final = _final_reads(ops)
    adds = [o for o in ops if o.f == "add"]
    acked = sorted({o.key for o in adds if o.type == "ok"})
    lost = [k for k in acked if final.get(k) is False]
    return {
        "acknowledged": len(acked),
        "present": sum(1 for k in acked if final.get(k)),
        "lost": len(lost),
        "lost_keys": lost[:EXAMPLES],
        "unverified": sum(1 for k in acked if k not in final),
        "indeterminate_present": sum(1 for o in adds if o.type == "info" and final.get(o.key)),
        "failed_present": sum(1 for o in adds if o.type == "fail" and final.get(o.key)),
    }


def _writes_by_value(ops):
    return {(o.key, o.value): o for o in ops if o.f in ("write", "add")}


def hlc_of(version):
    """The HLC timestamp of a "<timestamp>@<node>" version, or None."""
    ts = version.split("@", 1)[0]
    return int(ts) if ts.isdigit() else None


def _order(version):
    """kvstore's LWW order of a version: timestamp, then node id (a prefix here)."""
    ts = hlc_of(version or "")
    return None if ts is None else (ts, version.split("@", 1)[1] if "@" in version else "")


def _lost_by_clock(older_version, newer):
    """True when op `newer` carries a lower version than the older write
    (timestamp, then node id on a tie): LWW kept the older write, so the newer
    op is a lost update (clock skew), not a slow replica."""
    r, n = _order(older_version), _order(newer.version)
    return r is not None and n is not None and n < r


def check_resurrection(ops):
    """A read that starts after a delete of its key completed ok, and returns
    a value whose write completed before that delete began. When every such
    delete carries a lower version than the write, LWW ordered them against
    real time (clock skew): counted as `lost_deletes`, not as resurrected."""
    writes = _writes_by_value(ops)
    deletes = {}
    for o in ops:
        if o.f == "delete" and o.type == "ok":
            deletes.setdefault(o.key, []).append(o)
    checked, found, lost = 0, [], []
    for r in ops:
        if r.f != "read" or r.type != "ok" or r.key not in deletes:
            continue
        before = [d for d in deletes[r.key] if d.end < r.start]
        checked += bool(before)
        w = writes.get((r.key, r.value)) if r.value is not None else None
        later = [d for d in before if w and w.type == "ok" and w.end < d.start]
        if not later:
            continue
        x = {"key": r.key, "value": r.value, "read_by": r.process, "read_at": r.start,
             "node": r.node, "write_version": w.version,
             "delete_versions": [d.version for d in later]}
        (lost if all(_lost_by_clock(w.version, d) for d in later) else found).append(x)
    return {"deletes_acknowledged": sum(len(v) for v in deletes.values()),
            "reads_checked": checked, "resurrected": len({x["key"] for x in found}),
            "examples": found[:EXAMPLES], "lost_deletes": len({x["key"] for x in lost}),
            "lost_delete_examples": lost[:EXAMPLES]}


def _invalid_read(r, w):
    """Why read `r` of write `w` (None: unknown value) cannot be, or None."""
    if w is None:
        return "value never written"
    if w.type == "fail":
        return "value of a write that failed"
    if w.start > r.end:
        return "value of a write that began after the read ended"
    return None


def check_registers(ops):
    """Stale reads: an ok read returning nothing, or a value whose write
    completed before another write that completed before the read began.
    `lost_updates` counts the stale reads whose newer write has the lower
    version (LWW ordered the writes against real time)."""
    writes = _writes_by_value(ops)
    ok_writes = {}
    for o in ops:
        if o.f == "write" and o.type == "ok":
            ok_writes.setdefault(o.key, []).append(o)
    reads = [o for o in ops if o.f == "read" and o.type == "ok"]
    stale, invalid = [], []
    for r in reads:
        done_before = [w for w in ok_writes.get(r.key, []) if w.end < r.start]
        if r.value is None:
            if done_before:
                stale.append({"key": r.key, "read": None, "newer": done_before[-1].value})
            continue
        w = writes.get((r.key, r.value))
        why = _invalid_read(r, w)
        if why:
            invalid.append({"key": r.key, "value": r.value, "why": why})
            continue
        newer = [w2 for w2 in done_before if w.end < w2.start]
        if newer:
            stale.append({"key": r.key, "read": r.value, "newer": newer[-1].value,
                          "read_by": r.process, "node": r.node, "read_version": r.version,
                          "newer_version": newer[-1].version,
                          "lost_update": any(_lost_by_clock(r.version, n) for n in newer)})
    lost = [s for s in stale if s.get("lost_update")]
    return {"reads": len(reads), "stale": len(stale), "stale_examples": stale[:EXAMPLES],
            "lost_updates": len(lost), "lost_update_examples": lost[:EXAMPLES],
            "invalid": len(invalid), "invalid_examples": invalid[:EXAMPLES]}


def check_convergence(replicas, ops):
    """After heal: every node holding a record of a key holds the same
    version, and a key acknowledged written (and never deleted) is held
    somewhere. `replicas` are the lines of `kvchaos replicas`."""
    versions, unreachable = {}, set()
    for r in replicas:
        versions.setdefault(r["key"], {})
        if "error" in r:
            unreachable.add(r["node"])
        elif r.get("found"):
            v = r["version"]
            versions[r["key"]][r["node"]] = (v["timestamp"], v["node_id"], r["tombstone"])
    deleted = {o.key for o in ops if o.f == "delete"}
    written = {o.key for o in ops if o.f in ("write", "add") and o.type == "ok"}
    diverged = [{"key": k, "replicas": v} for k, v in sorted(versions.items())
                if len(set(v.values())) > 1]
    missing = sorted(k for k in written - deleted if not versions.get(k))
    return {"keys": len(versions), "diverged": len(diverged), "diverged_examples":
            diverged[:EXAMPLES], "missing": len(missing), "missing_keys": missing[:EXAMPLES],
            "unreachable_nodes": sorted(unreachable),
            "under_replicated": sum(1 for v in versions.values() if 0 < len(v) < 3)}


def version_clocks(ops, wall_minus_mono_ns):
    """Per coordinator address: its acknowledged writes (and deletes), and how
    far ahead of real time their versions' HLC milliseconds were (negative:
    behind), real time taken when the client saw the ack. A node whose wall
    clock is skewed ahead shows it here; one behind mostly does not, its HLC
    having merged the others' timestamps."""
    out = {}
    for o in ops:
        ts = hlc_of(o.version) if o.type == "ok" and o.f != "read" else None
        if ts is None or o.end == INF:
            continue
        ahead = (ts >> 16) - (o.end + wall_minus_mono_ns) / 1e6
        c = out.setdefault(o.node, {"writes": 0, "max_ahead_ms": -INF, "min_ahead_ms": INF,
                                    "over_1s_ahead": 0})
        c["writes"] += 1
        c["max_ahead_ms"] = max(c["max_ahead_ms"], round(ahead))
        c["min_ahead_ms"] = min(c["min_ahead_ms"], round(ahead))
        c["over_1s_ahead"] += ahead > 1000
    return dict(sorted(out.items()))


def percentile(values, p):
    if not values:
        return 0.0
    s = sorted(values)
    return s[min(len(s) - 1, max(0, math.ceil(p / 100 * len(s)) - 1))]


def summarize(ops):
    """Client operations (not the final reads): counts, unavailable %, p99 ms."""
    client = _client_ops(ops)
    ok = [o for o in client if o.type == "ok"]
    unavailable = len(client) - len(ok)
    return {"operations": len(client), "acknowledged": len(ok),
            "fail": sum(1 for o in client if o.type == "fail"),
            "info": sum(1 for o in client if o.type == "info"),
            "unavailable_pct": 100.0 * unavailable / len(client) if client else 0.0,
            "p99_ms": percentile([(o.end - o.start) / 1e6 for o in ok], 99)}
