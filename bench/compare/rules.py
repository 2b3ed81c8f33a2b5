"""Which measured points may stand for a system, and which may not.

A point (one put or get phase of one system in one round, a dict) is
  failed   the run did not finish, a server died, or over 0.1% errors;
  invalid  measured, but the figure is not the system's: an open-loop
           (--rate) point whose send lag p99 exceeds SEND_LAG_MAX_SHARE of its
           p99, i.e. the tail is the load generator's own wait for the CPU;
  noisy    other work used the CPU during it (noise.py decides);
  quiet    none of the above.
Figures are medians over the quiet points; a target is never called met from
a noisy or invalid figure.
"""

SEND_LAG_MAX_SHARE = 0.10  # of the reported p99


def send_lag_invalid(p):
    """Why the open-loop point `p` cannot be reported as the system's p99
    ('invalid: send lag p99 X ms > 10% of p99 Y ms'); None when it can, or
    when `p` is not an open-loop point."""
    lag = p.get("send_lag_p99_us")
    if lag is None or not p.get("p99_us"):
        return None
    if lag > SEND_LAG_MAX_SHARE * p["p99_us"]:
        return (f"invalid: send lag p99 {lag / 1e3:.3f} ms > {SEND_LAG_MAX_SHARE:.0%} "
                f"of p99 {p['p99_us'] / 1e3:.3f} ms")
    return None


def measured(p):
    """True when `p` finished with a figure (neither failed nor empty)."""
    return not p.get("failed") and bool(p.get("ops_per_sec"))


def usable(p):
    """True when `p`'s figure may stand for the system: measured and valid.
    Older results have no 'invalid' field: their points are valid."""
    return measured(p) and not p.get("invalid")


def quiet(p):
    """True when `p` is usable and nothing else competed for the CPU. Points
    of older results, which were not sampled, count as quiet."""
    return usable(p) and not p.get("noisy")


def pick(points):
    """(points to take the median of, noisy): the quiet ones if any, else the
    usable ones, which are then noisy; ([], False) when none is usable."""
    good = [p for p in points if usable(p)]
    calm = [p for p in good if quiet(p)]
    return (calm, False) if calm else (good, bool(good))


def invalid_point(points):
    """(point, reason) for a figure none of whose `points` is usable because
    the measured ones are invalid: the median one by p99, its reason saying
    how many rounds were invalid; (None, None) when none is invalid."""
    bad = sorted((p for p in points if measured(p) and p.get("invalid")),
                 key=lambda p: p["p99_us"])
    if not bad:
        return None, None
    mid = bad[(len(bad) - 1) // 2]
    suffix = f" (each of {len(bad)} rounds; this is the median one)" if len(bad) > 1 else ""
    return mid, mid["invalid"] + suffix


def noise_summary(points):
    """The first noise reason among `points`, prefixed with its system and op
    ('kvstore 1 node, memory get: others used 0.45 of a core (cc1plus 0.40)');
    None if none is noisy."""
    for p in points:
        if p.get("noisy"):
            return f"{p['label']} {p['op']}: {p.get('noise_reason') or 'noisy'}"
    return None
