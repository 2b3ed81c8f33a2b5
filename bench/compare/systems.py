"""The units: one server setup each, and the points measured on it.

Each unit starts its servers on 127.0.0.1, runs its points through the
Recorder, and stops the servers again (rounds.py decides the order).
Points (each op is a put phase, then a get phase on the same server):
  redis              redis-benchmark SET/GET, no pipelining, and -P 16
  etcd               kvbench --target etcd, single node, with fsync and with
                     --unsafe-no-fsync
  kvstore-1-memory   kvstore single node, memory engine (also --batch 16)
  kvstore-1-resp     kvstore-1-memory with --resp-addr, driven by
                     redis-benchmark exactly as Redis is (SET/GET, -P 16)
  kvstore-3-resp     3 nodes, N=3 QUORUM, --resp-addr, redis-benchmark
                     against the first node's RESP port: SET and GET
  kvstore-1-rocksdb  the same with RocksDB --sync=always
  kvstore-1-tls      kvstore-1-memory over TLS (tls.py): put and get only
  kvstore-1-metrics  kvstore-1-memory with --metrics-addr, its /metrics
                     scraped every second while kvbench runs: put and get
                     only (the cost of metrics, issue 19)
  kvstore-3          3 nodes, N=3, QUORUM, its get again at half of the peak
                     it just measured (kvbench --rate, open loop), and puts
                     with --batch 16
  kvstore-3-tls      kvstore-3 over TLS, between the nodes too: put and get
                     only
  etcd-3             a 3-member etcd cluster with fsync: put, linearizable get
  kvstore-3-rocksdb  3 nodes, N=3 QUORUM, RocksDB --sync=always: put and get
                     (replicated and durable against replicated and durable)
  opendht-16         OpenDHT, 16 nodes in one process (bench/opendht/dht_bench)
  kvstore-16         16 kvstore nodes: kvbench over all 16, then with --route
                     owner, then gets at ONE (which end at the first answer
                     as OpenDHT's do)
The 16-node units run at the workload's client count and again with 1 client
(latency without queueing).
"""

import contextlib
import os
import tempfile
import threading
import urllib.request

import procs
import tls


# The units of the comparison with Redis, a single-threaded server measured
# by a single-threaded load generator: like for like, each side gets a core
# of its own (docs/benchmarks.md, "Pinning").
PINNED = {"redis", "kvstore-1-memory", "kvstore-1-tls", "kvstore-1-metrics", "kvstore-1-resp"}


class Systems:
    """The units, run against one Recorder (which holds the servers)."""

    def __init__(self, rec):
        self.rec = rec
        self.o = rec.o
        self.opendht_version = ""
        self._certs = None  # tls.Certs, made by the first TLS unit of the run

    def run(self, unit):
        """Runs the unit named `unit` (a name in rounds.GROUP_OF), pinned when
        it is one of PINNED and pinning is on."""
        with self.pinned(unit in PINNED):
            self._run(unit)

    @contextlib.contextmanager
    def pinned(self, pin):
        """While it lasts, with `pin` and --pin on and at least two CPUs, the
        unit's servers run on CPU 0 and its load generator on CPU 1."""
        cpus = sorted(os.sched_getaffinity(0))
        on = pin and getattr(self.o, "pin", "auto") == "auto" and len(cpus) >= 2
        self.rec.pin = (str(cpus[0]), str(cpus[1])) if on else None
        try:
            yield
        finally:
            self.rec.pin = None

    def _run(self, unit):
        {"redis": self.redis, "etcd": self.etcd, "kvstore-1-memory": self.kvstore_1_memory,
         "kvstore-1-tls": self.kvstore_1_tls, "kvstore-1-metrics": self.kvstore_1_metrics,
         "kvstore-1-rocksdb": self.kvstore_1_rocksdb, "kvstore-1-resp": self.kvstore_1_resp,
         "kvstore-3-resp": self.kvstore_3_resp,
         "kvstore-3": self.kvstore_3, "kvstore-3-tls": self.kvstore_3_tls,
         "etcd-3": self.etcd_3, "kvstore-3-rocksdb": self.kvstore_3_rocksdb,
         "opendht-16": self.opendht_16, "kvstore-16": self.kvstore_16}[unit]()

    # -- Redis

    def redis(self):
        """redis-server without persistence: SET and GET, unpipelined and -P 16."""
        rec = self.rec
        port = procs.free_port()
        rec.servers.start("redis", ["redis-server", "--bind", "127.0.0.1", "--port", str(port),
                                    "--protected-mode", "yes", "--save", "",
                                    "--appendonly", "no", "--dir", rec.tmp],
                          cpus=rec.pin[0] if rec.pin else None)
        procs.wait_until("redis", lambda: procs.run_quiet(
            ["redis-cli", "-h", "127.0.0.1", "-p", str(port), "ping"], 5).stdout.strip() == "PONG",
            15)
        self.redis_benchmark_points(port, "redis", "Redis", (1, 16))
        rec.servers.stop_all()

    def redis_benchmark_points(self, port, system, label, pipelines):
        """redis-benchmark SET then GET against `port`, per pipeline depth;
        depth 16 records as `system`-p16."""
        o, rec = self.o, self.rec
        for pipeline in pipelines:
            sys_ = system if pipeline == 1 else f"{system}-p{pipeline}"
            lab = label if pipeline == 1 else f"{label} -P {pipeline}"
            for op, test in (("put", "set"), ("get", "get")):
                rec.progress(lab, op + f" (redis-benchmark {test.upper()})", o.duration)
                base = ["redis-benchmark", "-h", "127.0.0.1", "-p", str(port),
                        "-c", str(o.clients), "-d", str(o.value_size), "-r", str(o.keys),
                        "-P", str(pipeline), "-t", test, "--csv"]
                rec.redis_benchmark(sys_, lab, op, base, pipeline)

    def kvstore_1_resp(self):
        """The memory node with --resp-addr, measured by redis-benchmark
        exactly as Redis is: the same client on both sides (issue 21)."""
        rec = self.rec
        port = procs.free_port()
        self.cluster("kvstore-resp", 1, replicas=1, consistency="one", resp_ports=(port,))
        self.redis_benchmark_points(port, "kvstore-resp", "kvstore 1 node, memory, RESP", (1, 16))
        rec.servers.stop_all()

    def kvstore_3_resp(self):
        """3 nodes, N=3 QUORUM, --resp-addr on each; redis-benchmark (one
        host only) against the first node's RESP port."""
        rec = self.rec
        ports = [procs.free_port() for _ in range(3)]
        self.cluster("kvstore-3-resp", 3, resp_ports=ports)
        self.redis_benchmark_points(ports[0], "kvstore-3-resp",
                                    "kvstore 3 nodes, N=3 QUORUM, RESP", (1,))
        rec.servers.stop_all()

    # -- etcd

    def etcd(self):
        """A single etcd member with fsync, then one with --unsafe-no-fsync: put, get."""
        rec = self.rec
        for fsync in (True, False):
            system = "etcd" if fsync else "etcd-nofsync"
            label = "etcd (fsync)" if fsync else "etcd --unsafe-no-fsync"
            client, peer = procs.free_port(), procs.free_port()
            data = tempfile.mkdtemp(prefix="etcd.", dir=rec.tmp)
            args = ["etcd", "--name", "bench", "--data-dir", data,
                    "--listen-client-urls", f"http://127.0.0.1:{client}",
                    "--advertise-client-urls", f"http://127.0.0.1:{client}",
                    "--listen-peer-urls", f"http://127.0.0.1:{peer}",
                    "--initial-advertise-peer-urls", f"http://127.0.0.1:{peer}",
                    "--initial-cluster", f"bench=http://127.0.0.1:{peer}",
                    "--logger", "zap", "--log-level", "warn"]
            if not fsync:
                args.append("--unsafe-no-fsync")
            rec.servers.start(system, args)
            procs.wait_until("etcd", lambda: etcd_healthy(client), 30)
            for op in ("put", "get"):
                rec.kvbench(system, label, op, "etcd", [f"127.0.0.1:{client}"])
            rec.servers.stop_all()

    def etcd_3(self):
        """Three etcd members on loopback, fsync on: put, then linearizable
        get, with kvbench's clients spread over the three members."""
        rec = self.rec
        names = [f"m{i}" for i in range(3)]
        clients = [procs.free_port() for _ in names]
        peers = [procs.free_port() for _ in names]
        initial = ",".join(f"{n}=http://127.0.0.1:{p}" for n, p in zip(names, peers))
        for name, client, peer in zip(names, clients, peers):
            data = tempfile.mkdtemp(prefix=f"etcd3-{name}.", dir=rec.tmp)
            rec.servers.start(f"etcd-3-{name}", [
                "etcd", "--name", name, "--data-dir", data,
                "--listen-client-urls", f"http://127.0.0.1:{client}",
                "--advertise-client-urls", f"http://127.0.0.1:{client}",
                "--listen-peer-urls", f"http://127.0.0.1:{peer}",
                "--initial-advertise-peer-urls", f"http://127.0.0.1:{peer}",
                "--initial-cluster", initial, "--initial-cluster-state", "new",
                "--initial-cluster-token", f"bench-r{rec.round}",
                "--logger", "zap", "--log-level", "warn"])
        for client in clients:
            procs.wait_until("etcd member", lambda c=client: etcd_healthy(c), 30)
        addrs = [f"127.0.0.1:{c}" for c in clients]
        for op in ("put", "get"):
            rec.kvbench("etcd-3", "etcd 3 members (fsync)", op, "etcd", addrs)
        rec.servers.stop_all()

    # -- kvstore, 1 and 3 nodes

    def certs(self):
        """The run's certificates (tls.py), made in its temp dir on first use."""
        if self._certs is None:
            self._certs = tls.make(os.path.join(self.rec.tmp, "tls"))
        return self._certs

    def cluster(self, name, n, rocksdb=False, replicas=3, consistency="quorum", use_tls=False,
                metrics_ports=(), resp_ports=()):
        """Starts `n` kvstore nodes (over TLS with `use_tls`; node i with
        --metrics-addr on metrics_ports[i] when given) and waits until each
        knows the others; returns their addresses."""
        rec = self.rec
        cpus = rec.pin[0] if rec.pin else None
        client = self.certs().client_args() if use_tls else ()
        addrs = [f"127.0.0.1:{procs.free_port()}" for _ in range(n)]
        for i, addr in enumerate(addrs):
            args = [self.o.bin + "/kvstore", "--addr", addr, "--replicas", str(replicas),
                    "--consistency", consistency, "--log-level", "warn"]
            if rocksdb:
                args += ["--data-dir", os.path.join(rec.tmp, f"{name}-r{rec.round}-{i}"),
                         "--sync", "always"]
            if i > 0:
                args += ["--peer", addrs[0]]
            if use_tls:
                args += self.certs().server_args(i)
            if i < len(metrics_ports):
                args += ["--metrics-addr", f"127.0.0.1:{metrics_ports[i]}"]
            if i < len(resp_ports):
                args += ["--resp-addr", f"127.0.0.1:{resp_ports[i]}"]
            rec.servers.start(f"{name}-node{i}", args, cpus=cpus)
        for addr in addrs:
            procs.wait_until(f"kvstore {addr}",
                             lambda a=addr: rec.kvctl(a, "ping", tls=client).returncode == 0,
                             30)
        if n > 1:
            def joined():  # every node knows every other one
                for a in addrs:
                    out = rec.kvctl(a, "peers", tls=client).stdout
                    if sum(1 for line in out.splitlines()[2:] if "127.0.0.1:" in line) < n - 1:
                        return False
                return True
            procs.wait_until(f"{n}-node membership", joined, 60)
        return addrs

    def kvstore_1_memory(self):
        """Single node, N=1: each request is one local engine operation."""
        rec = self.rec
        addrs = self.cluster("kvstore-mem", 1, replicas=1, consistency="one")
        for op in ("put", "get"):
            rec.kvbench("kvstore-mem", "kvstore 1 node, memory", op, "kvstore", addrs)
        # The pipelined path: 16 ops per KV.Batch request, as -P 16.
        for op in ("put", "get"):
            rec.kvbench("kvstore-mem-b16", "kvstore 1 node, memory, --batch 16", op, "kvstore",
                        addrs, ("--batch", "16"))
        rec.servers.stop_all()

    def kvstore_1_tls(self):
        """kvstore_1_memory's put and get over TLS, at the workload's client
        count (the headline compares them with the plaintext ones)."""
        rec = self.rec
        addrs = self.cluster("kvstore-mem-tls", 1, replicas=1, consistency="one", use_tls=True)
        for op in ("put", "get"):
            rec.kvbench("kvstore-mem-tls", "kvstore 1 node, memory, TLS", op, "kvstore", addrs,
                        self.certs().client_args())
        rec.servers.stop_all()

    def kvstore_1_metrics(self):
        """kvstore_1_memory's put and get with --metrics-addr, /metrics scraped
        every second meanwhile (Prometheus scrapes every 15 s by default: a
        harsher load), so the interceptor's and the scrapes' cost both show."""
        rec = self.rec
        port = procs.free_port()
        addrs = self.cluster("kvstore-mem-metrics", 1, replicas=1, consistency="one",
                             metrics_ports=(port,))
        with Scraper(f"http://127.0.0.1:{port}/metrics", 1.0) as scraper:
            for op in ("put", "get"):
                rec.kvbench("kvstore-mem-metrics", "kvstore 1 node, memory, --metrics-addr", op,
                            "kvstore", addrs)
        if scraper.ok == 0:
            raise RuntimeError(f"no scrape of 127.0.0.1:{port}/metrics succeeded: {scraper.error}")
        rec.servers.stop_all()

    def kvstore_1_rocksdb(self):
        """Single node on RocksDB, a put acknowledged once in the fsynced WAL."""
        rec = self.rec
        addrs = self.cluster("kvstore-rocksdb", 1, rocksdb=True, replicas=1, consistency="one")
        for op in ("put", "get"):
            rec.kvbench("kvstore-rocksdb", "kvstore 1 node, RocksDB sync=always", op, "kvstore",
                        addrs)
        rec.servers.stop_all()

    def kvstore_3(self):
        """3 nodes, N=3 QUORUM: put, get, get at half of that peak, put --batch 16."""
        rec = self.rec
        addrs = self.cluster("kvstore-3", 3)
        quorum = ("--consistency", "quorum")
        peak = None
        for op in ("put", "get"):
            peak = rec.kvbench("kvstore-3", "kvstore 3 nodes, N=3 QUORUM", op, "kvstore", addrs,
                               quorum)
        # Issue 7's latency target: Get p99 at half of the peak just measured,
        # sent open loop (latency from each request's due time).
        system, label = "kvstore-3-half", "kvstore 3 nodes, N=3 QUORUM, half of peak"
        if not peak or peak.get("failed") or not peak["ops_per_sec"]:
            rec.skip(1)
            rec.record_failure(system, label, "get", "no peak: the 3-node get phase failed")
        else:
            rate = peak["ops_per_sec"] / 2
            rec.kvbench(system, f"{label} (--rate {rate:.0f})", "get", "kvstore", addrs,
                        quorum + ("--rate", f"{rate:.1f}"))
        # The batched client path on the cluster: each coordinator's replica
        # Stores then travel in Peer.StoreBatch calls of many items.
        rec.kvbench("kvstore-3-b16", "kvstore 3 nodes, N=3 QUORUM, --batch 16", "put", "kvstore",
                    addrs, quorum + ("--batch", "16"))
        rec.servers.stop_all()

    def kvstore_3_rocksdb(self):
        """3 nodes, N=3 QUORUM, each on RocksDB with --sync=always: a put is
        acknowledged once two replicas have it in their fsynced WAL."""
        rec = self.rec
        addrs = self.cluster("kvstore-3-rocksdb", 3, rocksdb=True)
        for op in ("put", "get"):
            rec.kvbench("kvstore-3-rocksdb", "kvstore 3 nodes, N=3 QUORUM, RocksDB sync=always",
                        op, "kvstore", addrs, ("--consistency", "quorum"))
        rec.servers.stop_all()

    def kvstore_3_tls(self):
        """kvstore_3's put and get over TLS: kvbench to the nodes and every
        replica call between them (mTLS)."""
        rec = self.rec
        addrs = self.cluster("kvstore-3-tls", 3, use_tls=True)
        for op in ("put", "get"):
            rec.kvbench("kvstore-3-tls", "kvstore 3 nodes, N=3 QUORUM, TLS", op, "kvstore", addrs,
                        ("--consistency", "quorum", *self.certs().client_args()))
        rec.servers.stop_all()

    # -- 16 nodes: OpenDHT and kvstore

    def loads(self):
        """The client counts of the 16-node units: the workload's, then 1."""
        return [self.o.clients] + ([1] if self.o.clients != 1 else [])

    def names(self, clients):
        """(system suffix, label suffix) of a 16-node point at `clients`."""
        if clients == self.o.clients:
            return "", ""
        return f"-c{clients}", f", {clients} client" + ("s" if clients > 1 else "")

    def opendht_16(self):
        """dht_bench: 16 OpenDHT nodes in one process, put then get, per client count."""
        o, rec = self.o, self.rec
        harness = os.path.join(o.bin, "dht_bench")
        for clients in self.loads():
            suffix, label_suffix = self.names(clients)
            system, label = "opendht-16" + suffix, "OpenDHT 16 nodes" + label_suffix
            if not os.access(harness, os.X_OK):
                rec.skip(2)
                for op in ("put", "get"):
                    rec.record_failure(system, label, op,
                                       f"{harness} not built (is libopendht-dev installed?)")
                continue
            rec.progress(label, "put, then get (dht_bench)", 2 * o.duration, steps=2)
            args = [harness, "--nodes", "16", "--clients", str(clients),
                    "--duration", str(o.duration), "--warmup", str(o.warmup),
                    "--keys", str(o.keys), "--key-size", str(o.key_size),
                    "--value-size", str(o.value_size)]
            bound = 2 * (o.duration + o.warmup + 10) + 30 + 30  # + drains, join, slack
            j = rec.dht_bench(system, label, args, clients, bound)
            if j:
                self.opendht_version = j.get("opendht_version") or self.opendht_version

    def kvstore_16(self):
        """16 kvstore nodes: QUORUM over any node and through each key's owner,
        then gets at ONE through the owner, per client count."""
        rec = self.rec
        addrs = self.cluster("kvstore-16", 16)
        # Requests spread over the nodes, then sent to each key's closest node
        # (--route owner: the client knows the members, as a token-aware
        # Cassandra driver does), which coordinates from its own replica.
        for route, system, route_label in (("any", "kvstore-16", ""),
                                           ("owner", "kvstore-16-owner", ", --route owner")):
            for clients in self.loads():
                suffix, label_suffix = self.names(clients)
                for op in ("put", "get"):
                    rec.kvbench(system + suffix,
                                "kvstore 16 nodes, N=3 QUORUM" + route_label + label_suffix,
                                op, "kvstore", addrs,
                                ("--consistency", "quorum", "--channels", "1",
                                 "--route", route), clients)
        # Like for like: an OpenDHT get ends at the first value any node
        # returns, with no quorum behind it; kvstore's equivalent is a read at
        # ONE, which the key's closest node answers from its own replica. Gets
        # only: they read the keys the QUORUM put phases above wrote.
        for clients in self.loads():
            suffix, label_suffix = self.names(clients)
            rec.kvbench("kvstore-16-owner-one" + suffix,
                        "kvstore 16 nodes, N=3 ONE, --route owner" + label_suffix, "get",
                        "kvstore", addrs,
                        ("--consistency", "one", "--channels", "1", "--route", "owner"), clients)
        rec.servers.stop_all()


def etcd_healthy(port):
    """True when etcd on 127.0.0.1:`port` answers /health with true."""
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/health", timeout=1) as r:
            return b'"true"' in r.read()
    except OSError:
        return False


class Scraper:
    """GETs `url` every `period` seconds on a thread of its own, as
    Prometheus would, while the `with` block runs; counts the scrapes that
    answered 200 (ok) and keeps the last error."""

    def __init__(self, url, period):
        self.url, self.period = url, period
        self.ok, self.error = 0, ""
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._loop, daemon=True)

    def __enter__(self):
        self._thread.start()
        return self

    def __exit__(self, *exc):
        self._stop.set()
        self._thread.join()
        return False

    def _loop(self):
        while not self._stop.wait(self.period):
            try:
                with urllib.request.urlopen(self.url, timeout=5) as r:
                    r.read()
                    self.ok += r.status == 200
            except OSError as e:
                self.error = str(e)
