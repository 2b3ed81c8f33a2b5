"""The result table of a chaos run: one row per nemesis, printed and, with
--record, appended to docs/guarantees.md under "Chaos results"."""

import os
import sys
import time

COLUMNS = [("nemesis", "nemesis"), ("operations", "operations"), ("acknowledged", "acknowledged"),
           ("lost", "lost"), ("stale", "stale reads"), ("lost_updates", "LWW-lost updates"),
           ("linearizable", "linearizable keys"),
           ("resurrected", "resurrected"), ("diverged", "diverged"),
           ("unavailable_pct", "unavailable %"), ("p99_ms", "p99 ms"), ("result", "result")]
WORKLOADS = ("register", "set", "delete")
GUARANTEES = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "docs",
                          "guarantees.md")


def problems_of(res):
    """Every finding that fails the run, as sentences."""
    out = []
    s = res["set"]["set"]
    if s["lost"]:
        out.append(f"{s['lost']} acknowledged adds lost, e.g. {s['lost_keys']}")
    if s["unverified"]:
        out.append(f"{s['unverified']} acknowledged adds could not be read after heal")
    for w in WORKLOADS:
        c = res[w]["convergence"]
        if c["diverged"]:
            out.append(f"{w}: {c['diverged']} keys diverged, e.g. {c['diverged_examples'][:2]}")
        if c["missing"]:
            out.append(f"{w}: {c['missing']} acknowledged keys held by no node: "
                       f"{c['missing_keys']}")
        if c["unreachable_nodes"]:
            out.append(f"{w}: replica dump could not reach {c['unreachable_nodes']}")
    if s["failed_present"]:
        out.append(f"{s['failed_present']} adds reported as failed took effect")
    r = res["delete"]["resurrection"]
    if r["resurrected"]:
        out.append(f"{r['resurrected']} deleted keys came back, e.g. {r['examples'][:2]}")
    g = res["register"]["registers"]
    if g["invalid"]:
        out.append(f"{g['invalid']} register reads of impossible values, e.g. "
                   f"{g['invalid_examples'][:2]}")
    for c in res.get("crashes", []):
        out.append(f"host {c['host']} exited on its own ({c['exit']}); log tail:\n{c['log']}")
    for lv in res.get("leaves", []):
        if lv.get("stayed"):
            continue  # incomplete: the node kept its keys and stayed, as it should
        if lv["stopped"] or lv["kvctl_exit"] != 0 or lv["node_exit"] != 0:
            out.append(f"host {lv['host']}'s planned leave did not end cleanly: kvctl exit "
                       f"{lv['kvctl_exit']}, node exit {lv['node_exit']}, stopped by the "
                       f"harness: {lv['stopped']}; last progress: {lv['progress']!r}")
    return out


def _lin(r):
    unknown = f" ({len(r['unknown'])} unknown)" if r["unknown"] else ""
    return f"{r['linearizable']}/{r['keys']}{unknown}"


def row(name, res, summary):
    problems = problems_of(res)
    return {"nemesis": name, "operations": summary["operations"],
            "acknowledged": summary["acknowledged"], "lost": res["set"]["set"]["lost"],
            "stale": res["register"]["registers"]["stale"],
            "lost_updates": (res["register"]["registers"].get("lost_updates", 0) +
                             res["delete"]["resurrection"].get("lost_deletes", 0)),
            "linearizable": _lin(res["register"]["linearizable"]),
            "resurrected": res["delete"]["resurrection"]["resurrected"],
            "diverged": sum(res[w]["convergence"]["diverged"] for w in WORKLOADS),
            "unavailable_pct": f"{summary['unavailable_pct']:.1f}",
            "p99_ms": f"{summary['p99_ms']:.0f}", "result": "FAIL" if problems else "ok",
            "problems": problems}


def failed_row(name, why):
    r = {k: "-" for k, _ in COLUMNS}
    r.update(nemesis=name, result="ERROR", problems=[f"harness: {why}"])
    return r


def transport(tls):
    return "TLS (mTLS between nodes, client certificates)" if tls else "plaintext"


def table(rows, seed, tls=False):
    lines = [f"seed {seed}, {transport(tls)}", "",
             "| " + " | ".join(h for _, h in COLUMNS) + " |",
             "|" + "|".join("---" for _ in COLUMNS) + "|"]
    for r in rows:
        lines.append("| " + " | ".join(str(r[k]) for k, _ in COLUMNS) + " |")
    return "\n".join(lines)


def record(rows, args):
    """Appends the table to docs/guarantees.md (the heading once)."""
    path = os.path.normpath(GUARANTEES)
    with open(path) as f:
        has_heading = "\n## Chaos results\n" in f.read()
    with open(path, "a") as f:
        if not has_heading:
            f.write("\n## Chaos results\n\nRecorded by `tests/chaos/chaos.py --record` "
                    "(`make chaos`); see tests/chaos/README.md.\n")
        f.write(f"\n### {time.strftime('%Y-%m-%d')}, seed {args.seed}, "
                f"{args.duration:.0f} s per nemesis{', TLS' if args.tls else ''}\n\n")
        f.write("`" + " ".join(["tests/chaos/chaos.py", *sys.argv[1:]]) + "`\n\n")
        f.write(table(rows, args.seed, args.tls).split("\n", 2)[2] + "\n")
    print(f"chaos: table appended to {path}")
