"""Unit tests of bench/compare.py's options: rounds by default, one when quick."""

import contextlib
import importlib.util
import io
import os
import unittest

HERE = os.path.dirname(os.path.abspath(__file__))
spec = importlib.util.spec_from_file_location("compare_main",
                                              os.path.join(HERE, "..", "compare.py"))
compare = importlib.util.module_from_spec(spec)
spec.loader.exec_module(compare)


class OptionsTest(unittest.TestCase):
    def test_three_interleaved_rounds_of_30_s_by_default(self):
        o = compare.parse_args([])
        self.assertEqual((o.repeat, o.duration, o.warmup), (3, 30.0, 2.0))
        self.assertEqual(o.only, ["redis", "etcd", "kvstore", "dht16"])

    def test_quick_is_one_round_of_3_s(self):
        o = compare.parse_args(["--quick"])
        self.assertEqual((o.repeat, o.duration, o.warmup), (1, 3.0, 0.5))

    def test_explicit_repeat_wins(self):
        self.assertEqual(compare.parse_args(["--quick", "--repeat", "2"]).repeat, 2)

    def test_bad_only_or_repeat_exit_with_usage(self):
        for args in (["--only", "redis,mongo"], ["--repeat", "0"]):
            with self.assertRaises(SystemExit), contextlib.redirect_stderr(io.StringIO()):
                compare.parse_args(args)


if __name__ == "__main__":
    unittest.main()
