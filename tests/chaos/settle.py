"""Waiting on the cluster, with deadlines: formation, and repair after heal."""

import time

import nemesis


class HarnessError(Exception):
    """The cluster could not be brought into the state a check needs."""


def wait_until(cond, timeout, interval=0.3):
    """Polls `cond` until it returns something true or `timeout` s pass; returns that or None."""
    deadline = time.monotonic() + timeout
    while True:
        v = cond()
        if v or time.monotonic() >= deadline:
            return v or None
        time.sleep(interval)  # polling interval, not a wait for an outcome


def all_alive(hosts):
    """True when every member answers and lists every other member as alive."""
    addrs = set(hosts.addrs())
    for i in sorted(hosts.members):
        alive = hosts.alive_peers(i)
        if alive is None or alive != addrs - {hosts.addr(i)}:
            return False
    return True


def views_decided(hosts):
    """True when no member lists a peer as suspect or down: every node that
    is gone (left, or an old identity at a reused address) is dead to all."""
    for i in sorted(hosts.members):
        peers = hosts.peer_states(i)
        if peers is None or any(st in ("suspect", "down") for _, _, st in peers):
            return False
    return True


def wait_formed(hosts, timeout):
    return wait_until(lambda: all_alive(hosts), timeout)


def _counters(hosts, name):
    return [hosts.stat(i, name) for i in sorted(hosts.members)]


def settle(hosts, timeout=90, rounds=3):
    """Heals everything, then waits until every member sees all the others alive
    and no peer as down or suspect, has run `rounds` more anti-entropy rounds,
    and holds no hints. Returns the seconds it took; raises HarnessError past
    `timeout`."""
    start = time.monotonic()
    nemesis.heal_all(hosts)
    left = lambda: max(1.0, timeout - (time.monotonic() - start))  # noqa: E731
    if not wait_formed(hosts, left()):
        raise HarnessError(f"after heal, the nodes did not all see each other alive in {timeout}s")
    # After a membership change a node may still count a gone peer as down
    # (an owner) until --dead-after: its view of the owners is not settled yet.
    if not wait_until(lambda: views_decided(hosts), left()):
        raise HarnessError(f"after heal, some node still listed a peer as down or suspect "
                           f"after {timeout}s")
    base = _counters(hosts, "anti_entropy_rounds")

    def repaired():
        now = _counters(hosts, "anti_entropy_rounds")
        return all(b is not None and n is not None and n >= b + rounds for b, n in zip(base, now))

    if not wait_until(repaired, left(), interval=0.5):
        raise HarnessError(f"anti-entropy did not run {rounds} rounds on every node in time")
    no_hints = [0] * len(hosts.members)
    if not wait_until(lambda: _counters(hosts, "hints_pending") == no_hints, left()):
        raise HarnessError("hints were still pending after heal: "
                           f"{_counters(hosts, 'hints_pending')}")
    return time.monotonic() - start
