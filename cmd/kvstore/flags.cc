#include "cmd/kvstore/flags.h"

#include <cstdio>
#include <cstdlib>

#include "absl/strings/str_split.h"
#include "src/util/duration.h"

namespace kv::cmd {

[[noreturn]] void Die(const std::string& why) {
  std::fprintf(stderr, "kvstore: %s\n", why.c_str());
  std::exit(2);
}

absl::Duration DurationFlag(const char* name, const std::string& text) {
  absl::StatusOr<absl::Duration> d = util::ParseDurationFlag(name, text);
  if (!d.ok()) Die(std::string(d.status().message()));
  return *d;
}

namespace {

bool ValidHostPort(const std::string& s) {
  size_t colon = s.rfind(':');
  if (colon == std::string::npos || colon == 0 || colon + 1 == s.size()) return false;
  int port = 0;
  for (char c : s.substr(colon + 1)) {
    if (c < '0' || c > '9') return false;
    port = port * 10 + (c - '0');
    if (port > 65535) return false;
  }
  return port > 0;
}

}  // namespace

node::NodeOptions ToOptions(const Flags& f) {
  node::NodeOptions o;
  if (!ValidHostPort(f.addr)) Die("--addr: '" + f.addr + "' is not host:port");
  std::string advertise = f.advertise.empty() ? f.addr : f.advertise;
  if (!ValidHostPort(advertise)) Die("--advertise: '" + advertise + "' is not host:port");
  if (advertise.starts_with("0.0.0.0:") || advertise.starts_with("[::]:")) {
    Die("--addr listens on all interfaces; give --advertise with an address peers can dial");
  }
  std::mt19937_64 rng(std::random_device{}());
  kv::dht::NodeId id = kv::dht::NodeId::Random(rng);
  if (!f.node_id.empty()) {
    absl::StatusOr<kv::dht::NodeId> parsed = kv::dht::NodeId::FromHex(f.node_id);
    if (!parsed.ok()) Die("--node-id: " + std::string(parsed.status().message()));
    id = *parsed;
  }
  o.self = {id, advertise};
  for (const std::string& p : f.peers) {
    for (absl::string_view part : absl::StrSplit(p, ',', absl::SkipEmpty())) {
      std::string peer(part);
      if (!ValidHostPort(peer)) Die("--peer: '" + peer + "' is not host:port");
      if (peer != advertise && peer != f.addr) o.seeds.push_back(peer);
    }
  }
  o.replicas = f.replicas;
  o.k = static_cast<size_t>(f.k);
  o.alpha = static_cast<size_t>(f.alpha);
  o.max_key_bytes = f.max_key_bytes;
  o.max_value_bytes = f.max_value_bytes;
  o.failure_timeout = DurationFlag("--failure-timeout", f.failure_timeout);
  o.dead_after = DurationFlag("--dead-after", f.dead_after);
  o.anti_entropy_interval = DurationFlag("--anti-entropy-interval", f.anti_entropy_interval);
  o.tombstone_grace = DurationFlag("--tombstone-grace", f.tombstone_grace);
  o.speculative_read_after =
      f.speculative_read_after == "off"
          ? absl::ZeroDuration()
          : DurationFlag("--speculative-read-after", f.speculative_read_after);
  o.max_clock_offset = DurationFlag("--max-clock-offset", f.max_clock_offset);
  if (o.anti_entropy_interval <= absl::ZeroDuration()) {
    Die("--anti-entropy-interval must be positive");
  }
  // A replica that missed a delete must get the tombstone (from a hint or
  // anti-entropy) before any replica forgets it. A replica away for less
  // than --dead-after still owns its keys and comes back expecting that, so
  // the grace must outlast detection, death and two repair rounds.
  const absl::Duration min_grace = o.dead_after + o.failure_timeout + 2 * o.anti_entropy_interval;
  if (o.tombstone_grace < min_grace) {
    Die("--tombstone-grace (" + f.tombstone_grace + ") must be at least --dead-after + " +
        "--failure-timeout + 2 x --anti-entropy-interval (" + absl::FormatDuration(min_grace) +
        "), or a replica that missed a delete could resurrect the key");
  }
  o.max_hints_bytes = f.max_hints_bytes;
  if (f.consistency == "one") {
    o.default_consistency = kv::replication::Consistency::kOne;
  } else if (f.consistency == "quorum") {
    o.default_consistency = kv::replication::Consistency::kQuorum;
  } else if (f.consistency == "all") {
    o.default_consistency = kv::replication::Consistency::kAll;
  } else {
    Die("--consistency: '" + f.consistency + "' is not one of one, quorum, all");
  }
  return o;
}

// --admin-from: the address prefixes, besides loopback, that may make
// state-changing Admin calls.
std::vector<util::AddressPrefix> AdminFrom(const Flags& f) {
  std::vector<util::AddressPrefix> out;
  for (const std::string& flag : f.admin_from) {
    for (absl::string_view part : absl::StrSplit(flag, ',', absl::SkipEmpty())) {
      absl::StatusOr<util::AddressPrefix> p =
          util::AddressPrefix::Parse(std::string_view(part.data(), part.size()));
      if (!p.ok()) Die("--admin-from: " + std::string(p.status().message()));
      out.push_back(*p);
    }
  }
  return out;
}

void AddFlags(CLI::App& app, Flags* f) {
  app.add_option("--addr", f->addr, "host:port to listen on")->capture_default_str();
  app.add_option("--advertise", f->advertise, "host:port peers dial (default: --addr)");
  app.add_option("--peer", f->peers,
                 "seed peer host:port to join through (repeatable or comma-separated; DNS "
                 "names allowed)");
  app.add_option("--discover", f->discover,
                 "dns:NAME:PORT: join through every address NAME resolves to (e.g. a Kubernetes "
                 "headless Service), re-resolved before each join attempt");
  app.add_option("--node-id", f->node_id, "160-bit node id as 40 hex chars (default: random)");
  app.add_option("--replicas", f->replicas, "replication factor N")
      ->capture_default_str()
      ->check(CLI::Range(1, 64));
  app.add_option("--k", f->k, "Kademlia bucket size")
      ->capture_default_str()
      ->check(CLI::Range(1, 256));
  app.add_option("--alpha", f->alpha, "lookup requests in flight")
      ->capture_default_str()
      ->check(CLI::Range(1, 32));
  app.add_option("--heartbeat-interval", f->heartbeat_interval, "time between heartbeats")
      ->capture_default_str();
  app.add_option("--failure-timeout", f->failure_timeout,
                 "silence after which a peer is always marked down (the phi-accrual detector may "
                 "mark it down sooner, never before half of this)")
      ->capture_default_str();
  app.add_option("--rpc-timeout", f->rpc_timeout, "deadline of node-to-node calls")
      ->capture_default_str();
  app.add_option("--speculative-read-after", f->speculative_read_after,
                 "a read asks only as many replicas as its consistency needs; if their answers "
                 "are not all in after this long, it asks one more ('off': never)")
      ->capture_default_str();
  app.add_option("--max-clock-offset", f->max_clock_offset,
                 "refuse versions from peers whose clock is further ahead than this")
      ->capture_default_str();
  app.add_option("--consistency", f->consistency,
                 "consistency for requests that leave it unset: one, quorum or all")
      ->capture_default_str();
  // Byte flags take a unit: 1024, 64KiB, 64MiB, 1GiB (KB means KiB here).
  app.add_option("--max-key-bytes", f->max_key_bytes, "largest key accepted")
      ->capture_default_str()
      ->transform(CLI::AsSizeValue(false))
      ->check(CLI::Range(size_t{1}, size_t{65535}));  // the memory engine's limit
  app.add_option("--max-value-bytes", f->max_value_bytes, "largest value accepted")
      ->capture_default_str()
      ->transform(CLI::AsSizeValue(false))
      ->check(CLI::Range(size_t{0}, size_t{64} << 20));
  app.add_option("--max-memory-bytes", f->max_memory_bytes,
                 "without --data-dir: most bytes the stored records may take (keys, values, "
                 "versions and the hash table); writes beyond it get RESOURCE_EXHAUSTED. 0 = "
                 "unlimited")
      ->capture_default_str()
      ->transform(CLI::AsSizeValue(false));
  app.add_option("--data-dir", f->data_dir,
                 "keep data, node id and contacts in this directory (RocksDB); without it the "
                 "node runs in memory");
  app.add_option("--backup-dir", f->backup_dir,
                 "with --data-dir: where kvctl snapshot NAME writes (DIR/NAME); snapshots are "
                 "refused without it");
  app.add_option("--admin-from", f->admin_from,
                 "address or prefix (10.0.0.0/8, fd00::/8) that may call leave, snapshot and "
                 "drop-keys besides loopback; repeat or separate with commas");
  app.add_option("--sync", f->sync,
                 "with --data-dir: 'always' acknowledges a write only once it is in the fsynced "
                 "WAL; 'none' leaves flushing to the OS (faster, loses recent writes on a "
                 "machine crash)")
      ->capture_default_str()
      ->check(CLI::IsMember({"always", "none"}));
  app.add_option("--dead-after", f->dead_after,
                 "a peer down this long stops owning keys; they are re-replicated to the "
                 "next-closest nodes")
      ->capture_default_str();
  app.add_option("--anti-entropy-interval", f->anti_entropy_interval,
                 "how often replicas compare digests, hand off keys they no longer own and "
                 "purge old tombstones")
      ->capture_default_str();
  app.add_option("--tombstone-grace", f->tombstone_grace,
                 "how long deletes (and expired records) are remembered before they are purged; "
                 "at least --dead-after + --failure-timeout + 2 x --anti-entropy-interval")
      ->capture_default_str();
  app.add_option("--max-hints-bytes", f->max_hints_bytes,
                 "most bytes of hints kept for down replicas; beyond it the oldest go and "
                 "anti-entropy repairs what they held")
      ->capture_default_str()
      ->transform(CLI::AsSizeValue(false));
  app.add_option("--resp-addr", f->resp_addr,
                 "host:port to serve the Redis protocol (RESP2/RESP3) on, beside gRPC: "
                 "redis-cli and Redis clients run GET, SET, DEL, MGET, MSET ... on this "
                 "node; TLS with --cert-file, AUTH with --auth-file (docs/resp.md; default: "
                 "off)");
  app.add_option("--metrics-addr", f->metrics_addr,
                 "host:port (IPv4) to serve Prometheus /metrics, /healthz and /readyz on over "
                 "plain HTTP (default: off)");
  app.add_flag("--leave-on-shutdown", f->leave_on_shutdown,
               "on SIGTERM, hand every key to its new owners before exiting (planned leave)");
  app.add_flag("--enable-test-hooks", f->enable_test_hooks,
               "serve Admin.DropKeys, which forgets keys (for repair tests only)");
  app.add_option("--log-level", f->log_level, "trace, debug, info, warn or error")
      ->capture_default_str()
      ->check(CLI::IsMember({"trace", "debug", "info", "warn", "error"}));
  app.add_option("--log-format", f->log_format,
                 "'text': one line per message in local time; 'json': one JSON object per "
                 "line (ts in UTC, level, logger, msg) for log collectors")
      ->capture_default_str()
      ->check(CLI::IsMember({"text", "json"}));
}

}  // namespace kv::cmd
