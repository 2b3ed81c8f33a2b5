"""A per-key linearizability checker for registers (Wing & Gong's search with
Lowe's memoisation, "just-in-time linearization").

The model is a register that starts empty (reads find nothing); a write sets
it, a read must return it. Input ops come from checker.pair:

  - ok writes and ok reads take part with their real-time intervals;
  - failed ops did not happen and are left out;
  - an `info` write whose value nobody read is left out (never linearizing it
    is always allowed); one whose value was read must be linearized before
    the first read that returned it ended, so that read's end is its end.

kvstore does not claim its registers are linearizable (last-writer-wins with
quorums); the runner reports the result without failing on it.
"""

import math


def _register_ops(ops):
    """(start, end, is_read, value) of one key's ops, as the module doc says."""
    seen_end = {}
    for o in ops:
        if o.f == "read" and o.type == "ok" and o.value is not None:
            seen_end[o.value] = min(seen_end.get(o.value, math.inf), o.end)
    out = []
    for o in ops:
        if o.f == "read" and o.type == "ok":
            out.append((o.start, o.end, True, o.value))
        elif o.f == "write" and o.type == "ok":
            out.append((o.start, o.end, False, o.value))
        elif o.f == "write" and o.type == "info" and o.value in seen_end:
            out.append((o.start, max(o.start, seen_end[o.value]), False, o.value))
    return out


def linearizable(ops, budget=200_000):
    """True, False, or None when the search took more than `budget` steps.
    `ops`: (start, end, is_read, value) tuples of one key, all ends finite."""
    n = len(ops)
    # Entry e < n is the call of op e, e >= n its return; calls sort before
    # returns at equal times (touching ops count as concurrent).
    order = sorted(range(2 * n), key=lambda e: (ops[e % n][e // n], e // n))
    head = 2 * n
    nxt, prv = [None] * (2 * n + 1), [None] * (2 * n + 1)
    last = head
    for e in order:
        nxt[last], prv[e], last = e, last, e

    def lift(e):  # unlinks the call e and its return
        for x in (e, e + n):
            nxt[prv[x]] = nxt[x]
            if nxt[x] is not None:
                prv[nxt[x]] = prv[x]

    def unlift(e):
        for x in (e + n, e):
            nxt[prv[x]] = x
            if nxt[x] is not None:
                prv[nxt[x]] = x

    state, done, cache, stack = None, 0, set(), []
    entry, steps = nxt[head], 0
    while nxt[head] is not None:
        steps += 1
        if steps > budget:
            return None
        if entry < n:
            _, _, is_read, value = ops[entry]
            if not is_read or state == value:
                new_state, new_done = (state if is_read else value), done | (1 << entry)
                if (new_done, new_state) not in cache:
                    cache.add((new_done, new_state))
                    stack.append((entry, state))
                    state, done = new_state, new_done
                    lift(entry)
                    entry = nxt[head]
                    continue
            entry = nxt[entry]
        else:  # an op's return came before it could be linearized: backtrack
            if not stack:
                return False
            e, state = stack.pop()
            done &= ~(1 << e)
            unlift(e)
            entry = nxt[e]
    return True


def check(ops, budget=200_000):
    """Each key of a register history: linearizable, not, or unknown (budget)."""
    keys = sorted({o.key for o in ops if o.f in ("read", "write")})
    result = {"keys": len(keys), "linearizable": 0, "violations": [], "unknown": []}
    for k in keys:
        verdict = linearizable(_register_ops([o for o in ops if o.key == k]), budget)
        if verdict:
            result["linearizable"] += 1
        else:
            result["violations" if verdict is False else "unknown"].append(k)
    return result
