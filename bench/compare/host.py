"""The machine a run measured on: CPU, memory, kernel, fsync cost, versions."""

import os
import platform
import re
import time

import procs


def fsync_probe(directory, seconds=1.0):
    """Median and p99 of write(4 KiB) + fsync in `directory`, in microseconds:
    the disk cost every fsyncing store (etcd, RocksDB sync=always) pays.
    Returns fsync_4k_p50_us, fsync_4k_p99_us and fsync_samples."""
    path = os.path.join(directory, "fsync-probe")
    lat = []
    fd = os.open(path, os.O_WRONLY | os.O_CREAT, 0o600)
    try:
        block = b"x" * 4096
        deadline = time.monotonic() + seconds
        while time.monotonic() < deadline and len(lat) < 100000:
            t = time.perf_counter()
            os.write(fd, block)
            os.fsync(fd)
            lat.append((time.perf_counter() - t) * 1e6)
    finally:
        os.close(fd)
        os.unlink(path)
    lat.sort()
    return {"fsync_4k_p50_us": round(lat[len(lat) // 2]),
            "fsync_4k_p99_us": round(lat[min(len(lat) - 1, len(lat) * 99 // 100)]),
            "fsync_samples": len(lat)}


def machine():
    """cpu (model name), cores, kernel, memory_gb, debian, load_avg_at_start."""
    model = ""
    with open("/proc/cpuinfo") as f:
        for line in f:
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
    mem_kb = 0
    with open("/proc/meminfo") as f:
        for line in f:
            if line.startswith("MemTotal:"):
                mem_kb = int(line.split()[1])
    debian = ""
    if os.path.exists("/etc/debian_version"):
        with open("/etc/debian_version") as f:
            debian = f.read().strip()
    return {"cpu": model, "cores": os.cpu_count(), "kernel": platform.release(),
            "memory_gb": round(mem_kb / 1048576, 1), "debian": debian,
            "load_avg_at_start": os.getloadavg()}


def versions(bin_dir, opendht_version):
    """{system: version} of every system compared ('' when unknown)."""
    first = lambda s: s.splitlines()[0] if s else ""  # noqa: E731
    redis = re.search(r"v=(\S+)", procs.cmd_out(["redis-server", "--version"]))
    etcd = re.search(r"etcd Version: (\S+)", procs.cmd_out(["etcd", "--version"]))
    return {"redis": redis.group(1) if redis else "",
            "etcd": etcd.group(1) if etcd else "",
            "opendht": opendht_version or "",
            "kvstore": first(procs.cmd_out([bin_dir + "/kvstore", "--version"])).replace(
                "kvstore ", ""),
            "gRPC (Debian)": procs.cmd_out(["dpkg-query", "-W", "-f=${Version}",
                                            "libgrpc++-dev"])}
