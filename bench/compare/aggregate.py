"""From the points of every round to one row per system and op.

A row's figures are the medians over its quiet rounds (rules.pick), with
the lowest and highest of those rounds beside them; a row with no quiet
round takes the median of its noisy ones and stays noisy.
"""

import rules

MEDIAN_FIELDS = ("ops_per_sec", "p50_us", "p99_us", "load_avg_1m_at_start", "load_avg_1m_at_end")


def median(xs):
    """The median of a non-empty list of numbers (mean of the middle two)."""
    xs = sorted(xs)
    n = len(xs)
    return xs[n // 2] if n % 2 else (xs[n // 2 - 1] + xs[n // 2]) / 2


def median_point(points, field):
    """The point whose `field` is the (lower) median of `points`."""
    ranked = sorted(points, key=lambda p: p[field])
    return ranked[(len(ranked) - 1) // 2]


def keys(samples):
    """The (system, op) pairs of `samples`, in the order they first ran."""
    out = []
    for r in samples:
        if (r["system"], r["op"]) not in out:
            out.append((r["system"], r["op"]))
    return out


def aggregate(samples):
    """One row per (system, op): the figures of the rounds rules.pick chose
    (medians, plus <field>_min and <field>_max for ops/s and p99), rounds,
    rounds_used, quiet_rounds, ops_per_sec_samples (every round, failed
    ones as 0), others_cpu and steal_pct (the highest of the rounds used),
    noisy and noise_reason, invalid (why, when every measured round was
    invalid) and failed (when any round failed)."""
    rows = []
    for system, op in keys(samples):
        runs = [r for r in samples if r["system"] == system and r["op"] == op]
        chosen, noisy = rules.pick(runs)
        if chosen:
            row = combine(chosen, noisy)
        else:  # every round failed or was invalid
            bad, why = rules.invalid_point(runs)
            row = dict(bad or runs[-1])
            row["invalid"] = why
            row["noisy"] = bool(row.get("noisy"))
            row.update(worst_noise([row]))
        row["failed"] = any(r.get("failed") for r in runs)
        row["rounds"] = len(runs)
        row["rounds_used"] = len(chosen)
        row["quiet_rounds"] = sum(1 for r in runs if rules.quiet(r))
        row["ops_per_sec_samples"] = [r["ops_per_sec"] for r in runs]
        row.pop("round", None)
        row.pop("noise", None)  # each round's window stays in the samples
        rows.append(row)
    return rows


def combine(chosen, noisy):
    """One row from the points `chosen` for it (see aggregate)."""
    row = dict(median_point(chosen, "ops_per_sec"))
    for field in MEDIAN_FIELDS:
        vals = [r[field] for r in chosen if r.get(field) is not None]
        if vals:
            row[field] = median(vals)
    for field in ("ops_per_sec", "p99_us"):
        row[field + "_min"] = min(r[field] for r in chosen)
        row[field + "_max"] = max(r[field] for r in chosen)
    row["errors"] = sum(r.get("errors", 0) or 0 for r in chosen)
    row.update(worst_noise(chosen))
    row["noisy"] = noisy
    row["noise_reason"] = next((r.get("noise_reason") for r in chosen if r.get("noisy")), None)
    row["invalid"] = None
    return row


def worst_noise(points):
    """{'others_cpu', 'steal_pct'}: the highest of `points`' noise windows
    (None for points that were not sampled)."""
    windows = [r["noise"] for r in points if r.get("noise")]
    return {"others_cpu": max((w["others_cpu"] for w in windows), default=None),
            "steal_pct": max((w["steal_pct"] for w in windows), default=None)}
