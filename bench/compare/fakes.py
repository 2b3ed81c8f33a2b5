"""Hand-made points and reports for the unit tests."""


def point(system, op, rnd=1, ops=1000.0, p50=500, p99=2000, noisy=False, reason=None,
          label=None, **extra):
    """A measured point as Recorder.record makes it, with a noise window."""
    reason = reason or ("others used 0.50 of a core (cc1plus 0.50)" if noisy else None)
    p = {"system": system, "label": label or system, "op": op, "round": rnd,
         "ops_per_sec": ops, "p50_us": p50, "p99_us": p99, "errors": 0, "failed": False,
         "tool": "kvbench", "load_avg_1m_at_start": 2.0, "load_avg_1m_at_end": 2.5,
         "noisy": noisy, "noise_reason": reason, "invalid": None,
         "noise": {"others_cpu": 0.5 if noisy else 0.01, "steal_pct": 0.0, "noisy": noisy,
                   "noise_reason": reason, "load_avg_1m_before": 2.0,
                   "load_avg_1m_after": 2.5, "others_top": []}}
    p.update(extra)
    return p


def failed(system, op, rnd=1):
    """A point whose run failed, as Recorder.record_failure makes it."""
    return {"system": system, "label": system, "op": op, "round": rnd, "ops_per_sec": 0,
            "p50_us": 0, "p99_us": 0, "failed": True, "error": "boom"}


def half(rnd=1, p99=1500, lag=100, noisy=False):
    """A half-of-peak (kvbench --rate) point with send lag p99 `lag` µs."""
    from rules import send_lag_invalid
    p = point("kvstore-3-half", "get", rnd, ops=5000, p99=p99, noisy=noisy,
              label="kvstore 3 nodes, N=3 QUORUM, half of peak (--rate 5000)",
              rate_target_ops_per_sec=5000.0, rate_sent_ops_per_sec=5000.0,
              rate_kept_up=True, send_lag_p50_us=10, send_lag_p99_us=lag)
    p["invalid"] = send_lag_invalid(p)
    return p


def report(samples, results, ratio_rows, rounds=1):
    """A report dict as compare.py builds it, around the given parts."""
    return {"started": "2026-12-07T10:00:00", "commit": "abc1234",
            "machine": {"cpu": "AMD EPYC", "cores": 2, "memory_gb": 23.5, "kernel": "6.1",
                        "debian": "12.11", "load_avg_at_start": [2.0, 1.0, 1.0],
                        "load_avg_at_end": [2.5, 1.0, 1.0], "fsync_4k_p50_us": 300,
                        "fsync_4k_p99_us": 450},
            "versions": {"redis": "7.0.15", "kvstore": "0.1.0"},
            "workload": {"quick": False, "clients": 50, "keys": 100000, "key_size": 16,
                         "value_size": 100, "duration_sec": 30.0, "warmup_sec": 2.0,
                         "rounds": rounds},
            "results": results, "ratios": ratio_rows, "samples": samples}
