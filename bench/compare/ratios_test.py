"""Unit tests of ratios.py and the verdicts: per-round ratios, and never a
'met' from a noisy or invalid figure."""

import unittest

import markdown
import ratios
from fakes import failed, half, point

GET_VS_REDIS = "kvstore 1-node memory Get / Redis GET (no pipelining), throughput"
TLS_3_PUT = "kvstore 3-node QUORUM Put, TLS / plaintext, throughput"


def by_name(rows, name):
    return next(r for r in rows if r["name"] == name)


def mem_vs_redis(ours, peer, noisy_rounds=()):
    """Samples of kvstore-mem get and redis get, one pair per round."""
    out = []
    for rnd, (a, b) in enumerate(zip(ours, peer), 1):
        out += [point("redis", "get", rnd, ops=b, label="Redis"),
                point("kvstore-mem", "get", rnd, ops=a, noisy=rnd in noisy_rounds,
                      label="kvstore 1 node, memory")]
    return out


class RatioTest(unittest.TestCase):
    def test_the_ratio_is_the_median_of_each_rounds_pair(self):
        r = by_name(ratios.ratios(mem_vs_redis([1000, 2000, 3000], [3000, 1000, 2000])),
                    GET_VS_REDIS)
        # per round 0.33, 2.0, 1.5; the ratio of the medians would be 1.0
        self.assertEqual((r["ratio"], r["ratio_min"], r["ratio_max"]), (1.5, 0.333, 2.0))
        self.assertEqual(r["ratio_rounds"], {"1": 0.333, "2": 2.0, "3": 1.5})
        self.assertTrue(r["met"])

    def test_a_noisy_round_is_left_out_when_a_quiet_one_exists(self):
        r = by_name(ratios.ratios(mem_vs_redis([500, 2000], [1000, 1000], noisy_rounds=(2,))),
                    GET_VS_REDIS)
        self.assertEqual((r["ratio"], r["noisy"], r["met"]), (0.5, False, False))
        self.assertEqual(markdown.verdict(r), "not met")

    def test_only_noisy_rounds_never_meet_or_miss_a_target(self):
        r = by_name(ratios.ratios(mem_vs_redis([5000], [1000], noisy_rounds=(1,))),
                    GET_VS_REDIS)
        self.assertEqual((r["ratio"], r["noisy"], r["met"]), (5.0, True, None))
        self.assertEqual(markdown.verdict(r), "not measured (noisy: kvstore 1 node, memory "
                                              "get: others used 0.50 of a core (cc1plus 0.50))")

    def test_latency_ratios_are_peer_over_ours(self):
        samples = [point("opendht-16", "get", p50=30000), point("kvstore-16", "get", p50=3000)]
        r = by_name(ratios.ratios(samples), "OpenDHT 16-node get p50 / kvstore 16-node Get p50 "
                                            "(how many times lower)")
        self.assertEqual((r["ratio"], r["met"]), (10.0, True))

    def test_a_missing_side_gives_no_ratio(self):
        r = by_name(ratios.ratios([point("redis", "get")]), GET_VS_REDIS)
        self.assertEqual((r["ratio"], r["met"]), (None, None))
        self.assertEqual(markdown.verdict(r), "not measured")

    def test_no_row_is_met_or_missed_when_every_point_is_noisy(self):
        systems = ["redis", "redis-p16", "etcd", "kvstore-mem", "kvstore-mem-b16", "kvstore-3",
                   "kvstore-rocksdb", "kvstore-3-b16", "kvstore-mem-tls", "kvstore-3-tls",
                   "kvstore-mem-metrics", "kvstore-resp", "kvstore-resp-p16",
                   "etcd-3", "kvstore-3-rocksdb",
                   "opendht-16", "kvstore-16",
                   "opendht-16-c1", "kvstore-16-c1", "kvstore-16-owner", "kvstore-16-owner-c1",
                   "kvstore-16-owner-one", "kvstore-16-owner-one-c1"]
        samples = [point(s, op, noisy=True) for s in systems for op in ("put", "get")]
        samples.append(half(noisy=True))
        rows = ratios.ratios(samples)
        self.assertTrue(all(r["met"] is None for r in rows))
        verdicts = {markdown.verdict(r) for r in rows}
        self.assertTrue(all(v == "" or v.startswith("not measured (noisy: ") for v in verdicts),
                        verdicts)


class CpuPerRequestTest(unittest.TestCase):
    """The servers' CPU per request: Redis's over kvstore's, per round."""

    def test_below_one_when_kvstore_spends_more(self):
        samples = [dict(point("redis", "get"), server_cpu_us_per_op=15.0),
                   dict(point("kvstore-mem", "get"), server_cpu_us_per_op=20.0)]
        r = by_name(ratios.ratios(samples), "Redis GET / kvstore 1-node memory Get, server CPU "
                                            "per request (how many times less)")
        self.assertEqual((r["ratio"], r["met"]), (0.75, None))

    def test_points_without_the_field_give_no_ratio(self):
        r = by_name(ratios.ratios([point("redis", "put"), point("kvstore-mem", "put")]),
                    "Redis SET / kvstore 1-node memory Put, server CPU per request "
                    "(how many times less)")
        self.assertIsNone(r["ratio"])


class TlsTest(unittest.TestCase):
    """Issue 16: each TLS point over its plaintext twin of the same round."""

    def rows(self, *pairs, noisy_rounds=(), system="kvstore-3", op="put"):
        """The headline rows of (tls ops, plaintext ops) per round."""
        samples = []
        for rnd, (tls, plain) in enumerate(pairs, 1):
            samples += [point(system, op, rnd, ops=plain, label="kvstore 3 nodes, N=3 QUORUM"),
                        point(system + "-tls", op, rnd, ops=tls, noisy=rnd in noisy_rounds,
                              label="kvstore 3 nodes, N=3 QUORUM, TLS")]
        return ratios.ratios(samples)

    def test_four_rows_each_tls_over_plaintext_with_a_target_of_0_8x(self):
        rows = {r["name"]: r for r in self.rows((900, 1000))}
        names = [f"kvstore {n} {op}, TLS / plaintext, throughput"
                 for n in ("1-node memory", "3-node QUORUM") for op in ("Put", "Get")]
        self.assertEqual([rows[n]["target"] for n in names], [0.8] * 4)
        self.assertEqual((rows[names[2]]["ratio"], rows[names[2]]["met"]), (0.9, True))
        self.assertEqual(markdown.headline_figure(rows[names[2]]), ("0.90x", ">= 0.8x"))

    def test_the_ratio_pairs_each_round_and_misses_below_0_8x(self):
        r = by_name(self.rows((700, 1000), (1400, 2000), (1800, 2000)), TLS_3_PUT)
        self.assertEqual((r["ratio"], r["ratio_min"], r["ratio_max"]), (0.7, 0.7, 0.9))
        self.assertEqual(markdown.verdict(r), "not met")

    def test_a_noisy_tls_round_is_left_out_when_a_quiet_one_exists(self):
        r = by_name(self.rows((500, 1000), (900, 1000), noisy_rounds=(2,)), TLS_3_PUT)
        self.assertEqual((r["ratio"], r["noisy"], r["met"]), (0.5, False, False))

    def test_only_noisy_rounds_never_meet_the_tls_target(self):
        r = by_name(self.rows((950, 1000), noisy_rounds=(1,)), TLS_3_PUT)
        self.assertEqual((r["ratio"], r["noisy"], r["met"]), (0.95, True, None))
        self.assertEqual(markdown.verdict(r), "not measured (noisy: kvstore 3 nodes, N=3 QUORUM, "
                                              "TLS put: others used 0.50 of a core (cc1plus 0.50))")

    def test_a_failed_tls_point_gives_no_ratio(self):
        samples = [point("kvstore-mem", "get"), failed("kvstore-mem-tls", "get")]
        r = by_name(ratios.ratios(samples), "kvstore 1-node memory Get, TLS / plaintext, "
                                            "throughput")
        self.assertEqual((r["ratio"], r["met"]), (None, None))
        self.assertEqual(markdown.verdict(r), "not measured")


class HalfOfPeakTest(unittest.TestCase):
    def row(self, *points):
        return by_name(ratios.ratios(list(points)),
                       "kvstore 3-node QUORUM Get p99 at half of peak throughput (ms)")

    def test_a_valid_quiet_p99_is_judged_against_2_ms(self):
        r = self.row(half(1, p99=1500, lag=100), half(2, p99=2500, lag=200),
                     half(3, p99=1800, lag=100))
        self.assertEqual((r["value"], r["value_min"], r["value_max"], r["met"]),
                         (1.8, 1.5, 2.5, True))
        self.assertEqual(markdown.headline_figure(r), ("1.800 ms (1.500-2.500)", "< 2 ms"))

    def test_too_much_send_lag_is_invalid_not_kvstores_p99(self):
        r = self.row(half(1, p99=9151, lag=1887))
        self.assertIsNone(r["value"])
        figure, _ = markdown.headline_figure(r)
        self.assertEqual(figure, "invalid: send lag p99 1.887 ms > 10% of p99 9.151 ms")
        self.assertEqual(markdown.verdict(r), "not measured (invalid)")

    def test_a_valid_round_is_used_over_invalid_ones(self):
        r = self.row(half(1, p99=9000, lag=2000), half(2, p99=3000, lag=100))
        self.assertEqual((r["value"], r["met"], r.get("invalid")), (3.0, False, None))

    def test_a_noisy_p99_is_not_measured(self):
        r = self.row(half(1, p99=1500, lag=100, noisy=True))
        self.assertEqual((r["value"], r["met"]), (1.5, None))
        self.assertTrue(markdown.verdict(r).startswith("not measured (noisy: "))


if __name__ == "__main__":
    unittest.main()
