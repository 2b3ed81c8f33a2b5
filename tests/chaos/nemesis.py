"""Nemeses: seeded, replayable fault schedules and the faults themselves.

A schedule is a list of `Fault`s computed from (seed, nemesis, duration)
alone, so the same seed replays the same faults at the same offsets. Faults
run in rounds: quiet, fault held for a while, heal, quiet, ...

Partitions are nftables rules inside the host namespaces (table
`inet kvchaos`, input hook): "host A drops packets from host B". Traffic from
the clients (10.213.0.1, the root namespace) is never dropped.

Clock skew restarts one node (same data dir) with its wall clock seconds to
minutes off (libfaketime), and back. Membership alternates a fresh host
joining and a member's planned leave (`kvctl leave`), so a membership
schedule depends on the faults before it, still from the seed alone.
"""

import dataclasses
import math
import random

from hosts import Network, run

NEMESES = ("partition-one", "partition-halves", "partition-bridge", "partition-asym",
           "kill", "pause", "clock-skew", "membership")
SPARES = {"membership": 1}  # hosts beyond the 5 members a nemesis needs on the bridge
SKEW_SECONDS = (2, 240)  # |skew|, drawn log-uniformly: seconds to minutes
TABLE = "kvchaos"


@dataclasses.dataclass(frozen=True)
class Fault:
    at: float  # seconds after the workload starts
    hold: float  # seconds until it is healed
    kind: str  # partition, kill, pause, skew, join, leave
    drops: tuple = ()  # partition: (host, from_host) pairs: host drops packets from from_host
    targets: tuple = ()  # kill, pause, skew, join, leave: hosts
    skew: int = 0  # skew: seconds the target's wall clock is ahead (> 0) or behind (< 0)

    def describe(self):
        if self.kind == "partition":
            what = ", ".join(f"{a}x{b}" for a, b in self.drops)
        elif self.kind == "skew":
            what = f"host {self.targets[0]} clock {self.skew:+d}s"
        elif self.kind == "join":
            what = f"host {self.targets[0]} joins, fresh"
        elif self.kind == "leave":
            what = f"host {self.targets[0]} leaves (kvctl leave)"
        else:
            what = "hosts " + ",".join(map(str, self.targets))
        return f"t={self.at:6.1f}s  {self.kind:9} for {self.hold:4.1f}s  {what}"


def _between(a, b):
    """Drops both ways between groups a and b."""
    return tuple(sorted({(x, y) for x in a for y in b} | {(y, x) for x in a for y in b}))


def members_after(faults, hosts):
    """The members once `faults` (joins and leaves) have run, from hosts 1..`hosts`."""
    members = set(range(1, hosts + 1))
    for f in faults:
        if f.kind == "join":
            members |= set(f.targets)
        elif f.kind == "leave":
            members -= set(f.targets)
    return members


def _membership(rng, hosts, earlier):
    """A join of the host that is out while there are `hosts` members, else
    a leave of a random member: join, leave, join, ..."""
    members = members_after(earlier, hosts)
    if len(members) <= hosts:
        out = min(set(range(1, hosts + SPARES["membership"] + 1)) - members)
        return dict(kind="join", targets=(out,))
    return dict(kind="leave", targets=(rng.choice(sorted(members)),))


def _skew(rng):
    lo, hi = SKEW_SECONDS
    size = round(math.exp(rng.uniform(math.log(lo), math.log(hi))))
    return size * rng.choice((1, -1))


def _fault_for(nemesis, rng, hosts, earlier=()):
    if nemesis == "membership":
        return _membership(rng, hosts, earlier)
    nodes = list(range(1, hosts + 1))
    rng.shuffle(nodes)
    if nemesis == "partition-one":
        return dict(kind="partition", drops=_between(nodes[:1], nodes[1:]))
    if nemesis == "partition-halves":
        minority = hosts // 2
        return dict(kind="partition", drops=_between(nodes[:minority], nodes[minority:]))
    if nemesis == "partition-bridge":
        side = (hosts - 1) // 2  # nodes[-1] is the bridge, in both halves
        return dict(kind="partition", drops=_between(nodes[:side], nodes[side:2 * side]))
    if nemesis == "partition-asym":
        deaf = nodes[0]
        heard = nodes[1:1 + rng.randint(1, hosts - 1)]
        return dict(kind="partition", drops=tuple(sorted((deaf, h) for h in heard)))
    if nemesis == "kill":
        return dict(kind="kill", targets=tuple(sorted(nodes[:rng.randint(1, 2)])))
    if nemesis == "pause":
        return dict(kind="pause", targets=tuple(sorted(nodes[:rng.randint(1, 2)])))
    if nemesis == "clock-skew":
        return dict(kind="skew", targets=(nodes[0],), skew=_skew(rng))
    raise ValueError(f"unknown nemesis '{nemesis}'; known: {', '.join(NEMESES)}")


def schedule(nemesis, seed, duration, hosts=5, quiet=(2.0, 5.0), hold=(4.0, 10.0), tail=3.0):
    """The faults of one run: each starts after a quiet gap, and all are
    healed `tail` seconds before `duration` ends. At most 100 rounds."""
    rng = random.Random(f"{seed}/{nemesis}")
    faults, t = [], 0.0
    for _ in range(100):
        t += rng.uniform(*quiet)
        h = rng.uniform(*hold)
        if t + h > duration - tail:
            break
        faults.append(Fault(at=round(t, 1), hold=round(h, 1),
                            **_fault_for(nemesis, rng, hosts, faults)))
        t += h
    return faults


def _ruleset(drops_from):
    addrs = ", ".join(Network.ip(j) for j in sorted(drops_from))
    return (f"table inet {TABLE}\ndelete table inet {TABLE}\n"
            f"table inet {TABLE} {{\n chain input {{\n"
            f"  type filter hook input priority 0; policy accept;\n"
            f"  ip saddr {{ {addrs} }} drop\n }}\n}}\n")


def apply(fault, hosts):
    """Starts `fault` on `hosts` (a hosts.Hosts)."""
    if fault.kind == "partition":
        by_host = {}
        for h, src in fault.drops:
            by_host.setdefault(h, set()).add(src)
        for h, srcs in by_host.items():
            run("ip", "netns", "exec", Network.ns(h), "nft", "-f", "-", input=_ruleset(srcs))
    elif fault.kind == "kill":
        for h in fault.targets:
            hosts.kill(h)
    elif fault.kind == "pause":
        for h in fault.targets:
            hosts.pause(h)
    elif fault.kind == "skew":
        hosts.restart(fault.targets[0], skew=fault.skew)
    elif fault.kind == "join":
        hosts.join(fault.targets[0])
    elif fault.kind == "leave":
        hosts.leave(fault.targets[0])


def heal(fault, hosts):
    """Ends `fault`: rules removed, paused nodes continued, killed nodes
    restarted, a skewed node restarted with the right time, a leave waited
    for (the host is then out until it joins again). A join stays."""
    if fault.kind == "partition":
        for h in {h for h, _ in fault.drops}:
            clear_rules(h)
    elif fault.kind == "kill":
        for h in fault.targets:
            hosts.start(h)
    elif fault.kind == "pause":
        for h in fault.targets:
            hosts.resume(h)
    elif fault.kind == "skew":
        hosts.restart(fault.targets[0])
    elif fault.kind == "leave":
        hosts.finish_leave(fault.targets[0])


def clear_rules(h):
    run("ip", "netns", "exec", Network.ns(h), "nft", "delete", "table", "inet", TABLE,
        check=False)


def heal_all(hosts):
    """Whatever happened: no rules, nothing paused, no leave under way, no
    clock off, every member running."""
    for h in list(hosts.leaving):
        hosts.finish_leave(h)
    for h in sorted(hosts.members):
        clear_rules(h)
        if h in hosts.paused:
            hosts.resume(h)
        if h in hosts.skews:
            hosts.restart(h)
        elif not hosts.running(h):
            hosts.start(h)
