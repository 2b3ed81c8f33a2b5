"""The order the points run in: comparisons interleaved over rounds.

A unit is one server setup and the points measured on it. The units of one
comparison run next to each other, peer first (A, B), and every round runs
them all again (A, B, A, B ...), so the two sides of a ratio are measured
minutes apart and each round gives one ratio; the median of the rounds is
reported. kvstore's TLS units run right after their plaintext unit, which
is their peer. --only still names the four groups of earlier versions.
"""

GROUPS = ("redis", "etcd", "kvstore", "dht16")  # --only, in the order of earlier versions

# Each comparison: the peer's unit, then kvstore's unit(s) compared with it.
# A TLS unit follows the plaintext unit it is compared with.
COMPARISONS = (
    # unpipelined and -P 16 / --batch 16; TLS and metrics against plaintext
    ("redis", "kvstore-1-memory", "kvstore-1-tls", "kvstore-1-metrics", "kvstore-1-resp",
     "kvstore-3-resp"),
    ("etcd", "kvstore-3", "kvstore-3-tls",  # QUORUM and sync=always against fsync
     "kvstore-1-rocksdb"),
    ("etcd-3", "kvstore-3-rocksdb"),  # replicated and durable on both sides
    ("opendht-16", "kvstore-16"),  # 16 nodes each
)

# unit -> group of --only it belongs to
GROUP_OF = {"redis": "redis", "etcd": "etcd", "kvstore-1-memory": "kvstore",
            "kvstore-1-tls": "kvstore", "kvstore-1-metrics": "kvstore", "kvstore-1-resp": "kvstore",
            "kvstore-3-resp": "kvstore", "kvstore-3": "kvstore", "kvstore-3-tls": "kvstore",
            "kvstore-1-rocksdb": "kvstore", "etcd-3": "etcd", "kvstore-3-rocksdb": "kvstore",
            "opendht-16": "dht16", "kvstore-16": "dht16"}


def steps(unit, clients):
    """How many points `unit` records (the progress counter's steps). The
    16-node units measure at `clients` and, unless that is 1, at 1 client."""
    loads = 1 if clients == 1 else 2
    return {"redis": 4, "etcd": 4, "kvstore-1-memory": 4, "kvstore-1-tls": 2, "kvstore-1-metrics": 2, "kvstore-1-resp": 4,
            "kvstore-3-resp": 2,
            "kvstore-3": 4,
            "kvstore-3-tls": 2, "kvstore-1-rocksdb": 2, "etcd-3": 2, "kvstore-3-rocksdb": 2,
            "opendht-16": 2 * loads,
            "kvstore-16": 5 * loads}[unit]


def _parse_names(text, flag, known):
    """The names in a comma-separated `flag` value; raises ValueError naming
    one that is not in `known`."""
    names = [s.strip() for s in text.split(",") if s.strip()]
    bad = [s for s in names if s not in known]
    if bad:
        raise ValueError(f"{flag}: unknown {', '.join(bad)}; choose from {','.join(known)}")
    return names


def parse_only(text):
    """The groups named in a comma-separated --only."""
    return _parse_names(text, "--only", GROUPS)


def parse_units(text):
    """The units named in a comma-separated --units."""
    return _parse_names(text, "--units", GROUP_OF)


def schedule(only, repeat, units=None):
    """[(round, unit), ...] in run order: for each round 1..repeat, every
    comparison's units whose group is in `only` (or that `units` names),
    peer first."""
    units = [u for comparison in COMPARISONS for u in comparison
             if (u in units if units else GROUP_OF[u] in only)]
    return [(rnd, u) for rnd in range(1, repeat + 1) for u in units]
