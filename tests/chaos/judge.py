"""Every checker on one run's files: the histories (register.jsonl, set.jsonl,
delete.jsonl) and the replica dumps (replicas-<workload>.jsonl), as written
by kvchaos against real nodes (chaos.py) or by kvsim --workload chaos
(check_run.py)."""

import os

import checker
import linearizable

WORKLOADS = ("register", "set", "delete")


def check(run_dir, wall_minus_mono_ns):
    """Returns (results by workload, every op of the run)."""
    res, all_ops = {}, []
    for w in WORKLOADS:
        ops = checker.pair(checker.load_jsonl(os.path.join(run_dir, f"{w}.jsonl")))
        all_ops += ops
        reps = checker.load_jsonl(os.path.join(run_dir, f"replicas-{w}.jsonl"))
        res[w] = {"convergence": checker.check_convergence(reps, ops),
                  "summary": checker.summarize(ops)}
        if w == "register":
            res[w]["registers"] = checker.check_registers(ops)
            res[w]["linearizable"] = linearizable.check(ops)
        elif w == "set":
            res[w]["set"] = checker.check_set(ops)
        else:
            res[w]["resurrection"] = checker.check_resurrection(ops)
    res["version_clocks"] = checker.version_clocks(all_ops, wall_minus_mono_ns)
    return res, all_ops
