"""Unit tests of markdown.py: the generated block and write_doc."""

import os
import tempfile
import unittest

import aggregate
import markdown
import ratios
from fakes import half, point, report


def block(samples, rounds=1):
    rep = report(samples, aggregate.aggregate(samples), ratios.ratios(samples), rounds)
    return markdown.markdown(rep, "bench/results/x.json", "bench/results/x.png")


def line_of(text, start):
    return next(line for line in text.splitlines() if line.startswith(start))


class HeadlineTableTest(unittest.TestCase):
    def test_a_noisy_comparison_says_not_measured_and_why(self):
        text = block([point("redis", "get", label="Redis"),
                      point("kvstore-mem", "get", ops=2000, noisy=True,
                            label="kvstore 1 node, memory")])
        row = line_of(text, "| kvstore 1-node memory Get / Redis GET")
        self.assertEqual(row, "| kvstore 1-node memory Get / Redis GET (no pipelining), "
                              "throughput | 2.00x | >= 1x | not measured (noisy: kvstore 1 "
                              "node, memory get: others used 0.50 of a core (cc1plus 0.50)) |")

    def test_quiet_comparisons_say_yes_or_no(self):
        text = block([point("redis", "get"), point("kvstore-mem", "get", ops=2000),
                      point("redis", "put"), point("kvstore-mem", "put", ops=500)])
        self.assertTrue(line_of(text, "| kvstore 1-node memory Get /").endswith("| yes |"))
        self.assertTrue(line_of(text, "| kvstore 1-node memory Put /").endswith("| **no** |"))

    def test_an_invalid_half_of_peak_shows_the_send_lag_not_a_p99(self):
        text = block([half(p99=9151, lag=1887)])
        row = line_of(text, "| kvstore 3-node QUORUM Get p99 at half of peak")
        self.assertIn("| invalid: send lag p99 1.887 ms > 10% of p99 9.151 ms | < 2 ms | "
                      "not measured (invalid) |", row)
        points_row = line_of(text, "| kvstore 3 nodes, N=3 QUORUM, half of peak")
        self.assertIn("| get | invalid: send lag p99 1.887 ms > 10% of p99 9.151 ms |", points_row)
        self.assertNotIn("9.151 |", points_row)

    def test_both_tables_give_the_same_invalid_round(self):
        text = block([half(1, p99=9000, lag=2000), half(2, p99=7000, lag=1000)], rounds=2)
        why = "invalid: send lag p99 1.000 ms > 10% of p99 7.000 ms (each of 2 rounds; "
        self.assertIn(why, line_of(text, "| kvstore 3-node QUORUM Get p99 at half of peak"))
        self.assertIn(why, line_of(text, "| kvstore 3 nodes, N=3 QUORUM, half of peak"))

    def test_a_tls_row_reads_tls_over_plaintext_against_0_8x(self):
        text = block([point("kvstore-mem", "put", ops=1000),
                      point("kvstore-mem-tls", "put", ops=750),
                      point("kvstore-3", "get", ops=1000),
                      point("kvstore-3-tls", "get", ops=900, noisy=True, label="kv 3 TLS")])
        self.assertEqual(line_of(text, "| kvstore 1-node memory Put, TLS"),
                         "| kvstore 1-node memory Put, TLS / plaintext, throughput | 0.75x | "
                         ">= 0.8x | **no** |")
        self.assertEqual(line_of(text, "| kvstore 3-node QUORUM Get, TLS"),
                         "| kvstore 3-node QUORUM Get, TLS / plaintext, throughput | 0.90x | "
                         ">= 0.8x | not measured (noisy: kv 3 TLS get: others used 0.50 of a "
                         "core (cc1plus 0.50)) |")

    def test_ratios_over_rounds_show_lowest_and_highest(self):
        samples = []
        for rnd, (a, b) in enumerate([(1000, 1000), (3000, 1000), (2000, 1000)], 1):
            samples += [point("redis", "get", rnd, ops=b), point("kvstore-mem", "get", rnd, ops=a)]
        row = line_of(block(samples, rounds=3), "| kvstore 1-node memory Get /")
        self.assertIn("| 2.00x (1.00-3.00) |", row)


class AllPointsTableTest(unittest.TestCase):
    def test_each_point_shows_others_steal_and_load_before_and_after(self):
        text = block([point("redis", "get", label="Redis", tool="redis-benchmark")])
        self.assertIn("| Redis | get | 1,000 | 0.500 | 2.000 | 0 | - | 0.01 | 0.0 | 2.0-2.5 | "
                      "redis-benchmark |", text)

    def test_a_noisy_point_is_marked_and_listed_with_what_ran(self):
        text = block([point("kvstore-mem", "get", noisy=True, label="kv")])
        self.assertIn("| kv | get (noisy) | 1,000 |", text)
        self.assertIn("- kv get, round 1: others used 0.50 of a core (cc1plus 0.50)", text)

    def test_medians_over_rounds_show_the_range_and_the_rounds_used(self):
        text = block([point("redis", "get", 1, ops=1000, label="Redis"),
                      point("redis", "get", 2, ops=2000, label="Redis"),
                      point("redis", "get", 3, ops=9000, noisy=True, label="Redis")], rounds=3)
        self.assertIn("| Redis | get | 1,500 (1,000-2,000) [2 of 3 rounds] |", text)

    def test_rows_of_older_results_without_noise_fields_render(self):
        old = {"system": "redis", "label": "Redis", "op": "get", "ops_per_sec": 43740.0,
               "p50_us": 551.0, "p99_us": 1647.0, "errors": 0, "tool": "redis-benchmark",
               "load_avg_1m_at_start": 7.8, "rounds": 1, "ops_per_sec_samples": [43740.0]}
        self.assertEqual(markdown.point_row(old), "| Redis | get | 43,740 | 0.551 | 1.647 | 0 | - "
                                                  "| - | - | 7.8 | redis-benchmark |")


class WriteDocTest(unittest.TestCase):
    def test_only_the_generated_block_is_replaced(self):
        with tempfile.TemporaryDirectory() as d:
            doc = os.path.join(d, "benchmarks.md")
            with open(doc, "w") as f:
                f.write(f"# B\n\nprose\n\n{markdown.BEGIN}\nold\n{markdown.END}\n\nmore prose\n")
            markdown.write_doc(doc, f"{markdown.BEGIN}\nnew\n{markdown.END}")
            with open(doc) as f:
                self.assertEqual(f.read(), f"# B\n\nprose\n\n{markdown.BEGIN}\nnew\n"
                                           f"{markdown.END}\n\nmore prose\n")


if __name__ == "__main__":
    unittest.main()
