// kvstore: one node of the peer-to-peer key-value store.
#include <signal.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cstdio>
#include <filesystem>
#include <functional>
#include <memory>
#include <optional>
#include <random>
#include <string>
#include <vector>

#include "CLI/CLI.hpp"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "absl/synchronization/mutex.h"
#include "cmd/kvstore/flags.h"
#include "cmd/kvstore/log_format.h"
#include "cmd/kvstore/metrics_wiring.h"
#include "cmd/kvstore/resp_wiring.h"
#include "cmd/kvstore/security_flags.h"
#include "spdlog/spdlog.h"
#include "src/node/dns_discovery.h"
#include "src/node/durable_state.h"
#include "src/node/node.h"
#include "src/node/test_hooks.h"
#include "src/rpc/heartbeat.h"
#include "src/rpc/peer_client.h"
#include "src/rpc/server.h"
#include "src/storage/memory_engine.h"
#include "src/storage/rocksdb_engine.h"
#include "src/util/address_prefix.h"
#include "src/util/duration.h"
#include "src/util/thread_pool.h"

namespace {

constexpr char kVersion[] = "kvstore 0.1.0";

// Admin.Snapshot's writer: a checkpoint of `durable` into BACKUP_DIR/NAME,
// which is created here if missing. Without --backup-dir every snapshot is
// refused: a caller must never choose where the node writes.
std::function<absl::StatusOr<std::string>(const std::string&)> SnapshotInto(
    kv::storage::RocksDbEngine* durable, const std::string& backup_dir) {
  if (backup_dir.empty()) {
    return [](const std::string&) -> absl::StatusOr<std::string> {
      return absl::FailedPreconditionError(
          "this node has no backup directory; restart it with --backup-dir DIR to allow "
          "snapshots (written as DIR/NAME)");
    };
  }
  std::error_code ec;
  std::filesystem::create_directories(backup_dir, ec);
  if (ec) kv::cmd::Die("--backup-dir: cannot create " + backup_dir + ": " + ec.message());
  const std::filesystem::path base = std::filesystem::absolute(backup_dir).lexically_normal();
  return [durable, base](const std::string& name) -> absl::StatusOr<std::string> {
    const std::string path = (base / name).string();
    if (absl::Status s = durable->Checkpoint(path); !s.ok()) return s;
    return path;
  };
}

}  // namespace

int main(int argc, char** argv) {
#if !defined(__SANITIZE_ADDRESS__)
  // Debian's abseil is built with mutex deadlock detection on, and gRPC's
  // locks and ours are absl::Mutex: without this every lock pays for cycle
  // tracking. The sanitizer build keeps it, as a check.
  absl::SetMutexDeadlockDetectionMode(absl::OnDeadlockCycle::kIgnore);
#endif
  kv::cmd::Flags f;
  CLI::App app{
      "kvstore: a peer-to-peer key-value store node (Kademlia routing, quorum replication)",
      "kvstore"};
  app.set_version_flag("--version", kVersion);
  kv::cmd::AddFlags(app, &f);
  kv::cmd::SecurityFlags security_flags;
  kv::cmd::AddSecurityFlags(app, &security_flags);
  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    if (e.get_exit_code() == 0) return app.exit(e);
    std::fprintf(stderr, "kvstore: %s (see kvstore --help)\n", e.what());
    return 2;
  }

  kv::cmd::Security security = kv::cmd::SetUpSecurity(security_flags, kv::cmd::AdminFrom(f));
  kv::node::NodeOptions options = kv::cmd::ToOptions(f);
  options.version = std::string(kVersion).substr(sizeof("kvstore ") - 1);
  // Differs from the last process's under the same ID (a restart).
  options.incarnation = static_cast<uint64_t>(absl::ToUnixMicros(absl::Now()));
  if (security.id) {
    if (!f.node_id.empty() && options.self.id != *security.id) {
      kv::cmd::Die("--node-id " + f.node_id + " differs from the node ID --cert-file proves (" +
                   security.id->ToHex() + ", SHA-1 of its public key); drop --node-id");
    }
    options.self.id = *security.id;
  }
  if (!f.discover.empty()) {
    absl::StatusOr<kv::node::DnsTarget> target = kv::node::ParseDnsTarget(f.discover);
    if (!target.ok()) kv::cmd::Die("--discover: " + std::string(target.status().message()));
    // Resolved before each join attempt, so a Service that is still filling
    // is picked up by the join retry; the node's own addresses are dropped.
    options.discover_seeds = [target = *target, advertise = options.self.address, addr = f.addr]() {
      std::vector<std::string> self{advertise, addr};
      if (auto me = kv::node::ParseDnsTarget("dns:" + advertise); me.ok()) {
        if (auto mine = kv::node::ResolveDnsSeeds(*me); mine.ok()) {
          self.insert(self.end(), mine->begin(), mine->end());
        }
      }
      std::vector<std::string> out;
      absl::StatusOr<std::vector<std::string>> found = kv::node::ResolveDnsSeeds(target);
      if (!found.ok()) {
        spdlog::info("--discover: {}", found.status().ToString());
        return out;
      }
      for (std::string& s : *found) {
        if (std::find(self.begin(), self.end(), s) == self.end()) out.push_back(std::move(s));
      }
      spdlog::info("--discover dns:{}:{} found {} peers", target.name, target.port, out.size());
      return out;
    };
  }
  const absl::Duration heartbeat =
      kv::cmd::DurationFlag("--heartbeat-interval", f.heartbeat_interval);
  const absl::Duration rpc_timeout = kv::cmd::DurationFlag("--rpc-timeout", f.rpc_timeout);
  if (heartbeat * 2 > options.failure_timeout) {
    kv::cmd::Die("--failure-timeout (" + f.failure_timeout +
                 ") must be at least twice --heartbeat-interval (" + f.heartbeat_interval + ")");
  }
  spdlog::set_level(spdlog::level::from_str(f.log_level));
  if (absl::Status s = kv::cmd::SetLogFormat(f.log_format); !s.ok())
    kv::cmd::Die(std::string(s.message()));
  spdlog::default_logger()->set_error_handler([](const std::string&) {});
  spdlog::flush_on(spdlog::level::trace);  // logs reach files before a crash or kill

  // Signals go to the main thread's sigwait, never to gRPC's threads.
  sigset_t signals;
  sigemptyset(&signals);
  sigaddset(&signals, SIGINT);
  sigaddset(&signals, SIGTERM);
  sigaddset(&signals, SIGUSR1);  // raised by the node itself when a planned leave is done
  pthread_sigmask(SIG_BLOCK, &signals, nullptr);

  // Room well beyond the largest valid request, so an oversized key or value
  // reaches the node's own check (INVALID_ARGUMENT naming the flag) instead of
  // gRPC's message-size limit.
  const int max_message =
      static_cast<int>(2 * (options.max_value_bytes + options.max_key_bytes) + (4 << 20));
  // Storage: RocksDB in --data-dir, else memory. A data dir also keeps the
  // node id and the contacts it last knew, which serve as seeds on restart.
  std::unique_ptr<kv::storage::Engine> engine;
  kv::storage::RocksDbEngine* durable = nullptr;
  if (f.data_dir.empty()) {
    if (!f.backup_dir.empty())
      kv::cmd::Die("--backup-dir needs --data-dir: a memory node has no snapshots");
    auto memory = std::make_unique<kv::storage::MemoryEngine>(
        kv::storage::MemoryEngine::Options{.max_bytes = f.max_memory_bytes});
    options.storage_stats = [memory = memory.get()] {
      return std::vector<std::pair<std::string, uint64_t>>{
          {"stored_bytes", memory->ApproximateBytes()}};
    };
    engine = std::move(memory);
  } else {
    if (f.max_memory_bytes != 0) {
      kv::cmd::Die(
          "--max-memory-bytes limits the in-memory engine; it has no effect with --data-dir");
    }
    auto opened = kv::storage::RocksDbEngine::Open(
        f.data_dir, {.sync = f.sync == "always" ? kv::storage::SyncPolicy::kAlways
                                                : kv::storage::SyncPolicy::kNone,
                     .tombstone_grace = options.tombstone_grace});
    if (!opened.ok()) kv::cmd::Die("--data-dir: " + std::string(opened.status().message()));
    durable = opened->get();
    engine = *std::move(opened);
    std::optional<kv::dht::NodeId> requested;
    if (!f.node_id.empty() || security.id) requested = options.self.id;
    auto id = kv::node::LoadOrCreateNodeId(*durable, requested, options.self.id);
    if (!id.ok() && security.id) {
      kv::cmd::Die(
          "--data-dir " + f.data_dir + " belongs to another node than the one --cert-file " +
          "proves (" + security.id->ToHex() + "): a node's ID is SHA-1 of its public key. " +
          "Start with the key this data dir was created with, or move the node to TLS as " +
          "docs/security.md says (leave, then start on a fresh data dir)");
    }
    if (!id.ok()) kv::cmd::Die(std::string(id.status().message()));
    options.self.id = *id;
    auto contacts = kv::node::LoadContacts(*durable);
    if (!contacts.ok()) kv::cmd::Die("--data-dir: " + std::string(contacts.status().message()));
    for (const kv::dht::Contact& c : *contacts) {
      if (c.id != options.self.id &&
          std::find(options.seeds.begin(), options.seeds.end(), c.address) == options.seeds.end()) {
        options.seeds.push_back(c.address);
      }
    }
    options.snapshot = SnapshotInto(durable, f.backup_dir);
    options.storage_stats = [durable] {
      // Live data in SST files plus what the memtables hold (not yet flushed).
      std::vector<std::pair<std::string, uint64_t>> stats = durable->Properties();
      uint64_t stored = 0;
      for (const auto& [name, value] : stats) {
        if (name == "rocksdb_live_data_bytes" || name == "rocksdb_memtable_bytes") stored += value;
      }
      stats.emplace_back("stored_bytes", stored);
      return stats;
    };
    auto floor = kv::node::LoadHlcUpperBound(*durable);
    if (!floor.ok()) kv::cmd::Die("--data-dir: " + std::string(floor.status().message()));
    options.hlc_floor = *floor;
    options.hlc_persistence.save = [durable](uint64_t upper) {
      return kv::node::SaveHlcUpperBound(*durable, upper);
    };
    options.save_contacts = [durable](const std::vector<kv::dht::Contact>& c) {
      if (absl::Status s = kv::node::SaveContacts(*durable, c); !s.ok()) {
        spdlog::warn("could not save contacts: {}", s.ToString());
      } else {
        spdlog::debug("saved {} contacts to the data dir", c.size());
      }
    };
  }
  // Hints for down replicas: in the data dir when there is one, so that a
  // restart does not lose them.
  kv::replication::HintStore::Log hint_log;
  if (durable) {
    hint_log.put = [durable](uint64_t seq, std::string_view bytes) {
      return durable->PutHint(seq, bytes);
    };
    hint_log.erase = [durable](uint64_t seq) { return durable->DeleteHint(seq); };
    hint_log.for_each = [durable](const auto& fn) { durable->ForEachHint(fn); };
  }
  auto hints = kv::replication::HintStore::Open({.max_bytes = f.max_hints_bytes}, hint_log);
  if (!hints.ok()) kv::cmd::Die("hints: " + std::string(hints.status().message()));
  options.hints = hints->get();
  options.on_left = [] { kill(getpid(), SIGUSR1); };
  // The clock fence shows in the health status of kvstore.v1.KV.
  std::atomic<kv::rpc::Server*> serving{nullptr};
  options.on_clock_fence = [&serving](const kv::node::ClockStatusChange& c) {
    if (kv::rpc::Server* s = serving.load()) s->SetKvServing(!c.fenced);
  };
  kv::rpc::GrpcPeerTransport transport(
      {.self = options.self,
       .incarnation = options.incarnation,
       .rpc_timeout = rpc_timeout,
       .max_message_bytes = max_message,
       .credentials = security.tls ? security.tls->PeerCredentials() : nullptr,
       .join_credentials = security.tls ? security.tls->JoinCredentials() : nullptr});
  // Durable writes may wait on fsync: record writes go through one group
  // commit (every write pending shares one WAL write and fsync), the other
  // storage work (snapshots, hints) runs on this pool, never on gRPC's
  // callback threads.
  std::unique_ptr<kv::util::ThreadPool> storage_pool;
  std::unique_ptr<kv::storage::GroupCommit> group_commit;
  if (durable) {
    storage_pool = std::make_unique<kv::util::ThreadPool>(16);
    group_commit = std::make_unique<kv::storage::GroupCommit>(engine.get());
    options.group_commit = group_commit.get();
  }
  kv::node::Node node(options, engine.get(), &transport, kv::util::SystemClock::Default(),
                      storage_pool.get());
  // --enable-test-hooks: Admin.DropKeys, for repair tests.
  std::unique_ptr<kv::node::TestHooks> hooks;
  if (f.enable_test_hooks) hooks = std::make_unique<kv::node::TestHooks>(engine.get());
  // --metrics-addr: serves before gRPC does; /readyz says when the node is ready.
  absl::StatusOr<std::unique_ptr<kv::cmd::MetricsEndpoint>> metrics = kv::cmd::StartMetrics(
      {.addr = f.metrics_addr,
       .version = std::string(kVersion).substr(sizeof("kvstore ") - 1),
       .admin = node.apis().admin,
       .joined = [&node] { return node.joined(); },
       .serves_reads = [&node] { return node.ServesReads().ok(); },
       .serving = &serving,
       .member_credentials = security.tls ? security.tls->PeerCredentials() : nullptr});
  if (!metrics.ok()) {
    std::fprintf(stderr, "kvstore: %s\n", std::string(metrics.status().message()).c_str());
    return 1;
  }
  kv::rpc::Server server(node.apis(), hooks.get(), f.addr, max_message, security.policy,
                         security.tls ? security.tls->ServerCredentials() : nullptr,
                         (*metrics)->rpc_metrics());
  if (absl::Status s = server.Start(); !s.ok()) {
    std::fprintf(stderr, "kvstore: %s\n", std::string(s.message()).c_str());
    return 1;
  }
  serving = &server;
  kv::rpc::HeartbeatClient heartbeats(
      {.interval = heartbeat, .failure_timeout = options.failure_timeout, .max_streams = options.k},
      &node, &transport, server.heartbeats());
  spdlog::set_default_logger(spdlog::default_logger()->clone(options.self.id.ShortHex()));
  spdlog::info(
      "kvstore node {} listening on {} (advertised as {}), N={}, k={}, storage: {}",
      options.self.id.ToHex(), f.addr, options.self.address, options.replicas, options.k,
      f.data_dir.empty() ? std::string("memory") : "rocksdb in " + f.data_dir + ", sync=" + f.sync);
  // --resp-addr: the Redis-protocol front door, on the node's interfaces.
  std::unique_ptr<kv::cmd::RespEndpoint> resp;
  if (!f.resp_addr.empty()) {
    kv::cmd::RespOptions resp_options{.addr = f.resp_addr,
                                      .version = options.version,
                                      .node_id = options.self.id.ToHex(),
                                      .apis = node.apis(),
                                      .max_key_bytes = options.max_key_bytes,
                                      .max_value_bytes = options.max_value_bytes,
                                      .policy = &security.policy};
    if (security.tls) {
      // The same files, CA and client rule as the gRPC port.
      resp_options.tls = kv::resp::TlsFiles{.cert_file = security_flags.cert_file,
                                            .key_file = security_flags.key_file,
                                            .trusted_ca_file = security_flags.trusted_ca_file,
                                            .client_cert_auth = security_flags.client_cert_auth,
                                            .reload_interval = security.reload_interval};
    }
    auto started = kv::cmd::StartResp(std::move(resp_options));
    if (!started.ok()) {
      std::fprintf(stderr, "kvstore: %s\n", std::string(started.status().message()).c_str());
      return 1;
    }
    resp = *std::move(started);
    spdlog::info("serving the Redis protocol on {} (port {}, {}{})", f.resp_addr, resp->port(),
                 security.tls ? "TLS" : "plaintext",
                 security.policy.checks_clients() ? ", AUTH with an --auth-file token" : "");
  }
  node.Start();
  heartbeats.Start();
  // Plaintext beyond loopback is allowed (a quick start must work) but never
  // silent: the warning repeats every 10 minutes.
  const bool exposed = !security.tls && (!kv::cmd::IsLoopbackAddress(f.addr) ||
                                         !kv::cmd::IsLoopbackAddress(options.self.address));
  const bool resp_exposed =
      !security.tls && !f.resp_addr.empty() && !kv::cmd::IsLoopbackAddress(f.resp_addr);
  auto warn_exposed = [&] {
    if (exposed) {
      spdlog::warn(
          "serving PLAINTEXT on {}: any host that can reach this port can read and change this "
          "node's data and pose as a cluster member; give --cert-file, --key-file and "
          "--trusted-ca-file (docs/security.md)",
          f.addr);
    }
    if (resp_exposed) {
      spdlog::warn(
          "serving the Redis protocol in PLAINTEXT on {}: any host that can reach this port "
          "can read and change this node's data; give --cert-file, --key-file and "
          "--trusted-ca-file (docs/resp.md)",
          f.resp_addr);
    }
  };
  warn_exposed();
  // Wakes every --cert-reload-interval (TLS) or 10 minutes to repeat the
  // warning and check that the certificate still proves this node's ID.
  const absl::Duration warn_every = absl::Minutes(10);
  const absl::Duration tick =
      security.tls ? std::min(security.reload_interval, warn_every) : warn_every;
  const timespec wait = absl::ToTimespec(tick);
  absl::Time next_warning = absl::Now() + warn_every;
  bool key_mismatch = false;
  int sig = 0;
  while ((sig = sigtimedwait(&signals, nullptr, &wait)) < 0) {
    if (absl::Now() >= next_warning) {
      warn_exposed();
      next_warning = absl::Now() + warn_every;
    }
    if (security.tls) {
      kv::cmd::CheckCertificateKey(security_flags, options.self.id, &key_mismatch);
    }
  }
  if (sig == SIGTERM && f.leave_on_shutdown) {
    spdlog::info("received SIGTERM; leaving the cluster first (--leave-on-shutdown)");
    // Forced: the process is going away whatever the handoff achieves.
    if (absl::Status s = node.Leave(/*force=*/true, [](const kv::node::LeaveProgress&) {});
        s.ok()) {
      sigwait(&signals, &sig);  // SIGUSR1 when done; another signal cuts the leave short
    }
  }
  spdlog::info("{}; draining and stopping", sig == SIGUSR1  ? "left the cluster"
                                            : sig == SIGINT ? "received SIGINT"
                                                            : "received SIGTERM");
  serving = nullptr;
  if (resp) resp->Stop();  // before the node: its commands run on it
  (*metrics)->Stop();      // its collectors read the node
  node.Stop();
  heartbeats.Stop();
  spdlog::debug("heartbeat streams closed");
  server.Shutdown(absl::Seconds(5));
  spdlog::debug("server drained");
  transport.Shutdown();
  if (group_commit) group_commit->Stop();
  if (storage_pool) storage_pool->Shutdown();
  spdlog::info("stopped");
  return 0;
}
