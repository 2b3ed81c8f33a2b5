#!/usr/bin/python3
"""Judges one run's histories with the chaos suite's checkers: a kvsim run
(`kvsim --workload chaos --history-dir DIR`), or any directory holding
register.jsonl, set.jsonl, delete.jsonl and replicas-<workload>.jsonl.

Prints the chaos table's row for it (and every problem found); with --json,
writes the row and the checkers' full results there.

Exit status: 0 clean; 1 a lost write, resurrection, divergence or an
unverifiable final read (report.problems_of).

  tests/chaos/check_run.py DIR --name kvsim-kill
"""

import argparse
import json
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import checker  # noqa: E402
import judge  # noqa: E402
import report  # noqa: E402


def main(argv):
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("dir")
    ap.add_argument("--name", default="run", help="the row's name (e.g. the nemesis)")
    ap.add_argument("--json", help="write the row and the full results here")
    ap.add_argument("--header", action="store_true", help="print the table's header first")
    a = ap.parse_args(argv)
    # kvsim's times are its simulated wall clock already: no offset.
    res, ops = judge.check(a.dir, 0)
    row = report.row(a.name, res, checker.summarize(ops))
    if a.header:
        print("| " + " | ".join(h for _, h in report.COLUMNS) + " |")
        print("|" + "|".join("---" for _ in report.COLUMNS) + "|")
    print("| " + " | ".join(str(row[k]) for k, _ in report.COLUMNS) + " |")
    for p in row["problems"]:
        print(f"  {a.name}: {p}")
    if a.json:
        with open(a.json, "w") as f:
            json.dump({"row": row, "results": res}, f, indent=1, default=str)
    return 1 if row["problems"] else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
