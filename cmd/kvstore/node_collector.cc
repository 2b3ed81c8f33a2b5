#include "cmd/kvstore/node_collector.h"

#include <array>
#include <string>
#include <utility>

#include "absl/container/flat_hash_map.h"
#include "absl/container/flat_hash_set.h"
#include "absl/time/time.h"
#include "prometheus/client_metric.h"
#include "prometheus/metric_type.h"

namespace kv::cmd {
namespace {

using prometheus::ClientMetric;
using prometheus::MetricFamily;
using prometheus::MetricType;

// Stats that are current values, not counts since start.
const absl::flat_hash_set<std::string>& Levels() {
  static const auto* levels =
      new absl::flat_hash_set<std::string>{"keys",
                                           "hints_pending",
                                           "hints_bytes",
                                           "stored_bytes",
                                           "tombstones",
                                           "rocksdb_live_data_bytes",
                                           "rocksdb_memtable_bytes",
                                           "rocksdb_pending_compaction_bytes",
                                           "rocksdb_write_stopped",
                                           "serving_reads"};
  return *levels;
}

// What each stat means (docs/operations.md, "Counters"); a stat missing here
// gets a generic help text.
const absl::flat_hash_map<std::string, std::string>& Help() {
  static const auto* help = new absl::flat_hash_map<std::string, std::string>{
      {"anti_entropy_rounds", "Anti-entropy repair rounds run."},
      {"anti_entropy_exchanges", "Digest exchanges this node started, failed ones included."},
      {"anti_entropy_buckets_differing", "Digest buckets that differed in exchanges started here."},
      {"anti_entropy_leaves_differing", "Digest-tree leaves reconciled key by key, started here."},
      {"anti_entropy_scans", "Reads of the whole store by repair rounds and reconcile answers."},
      {"anti_entropy_tree_requests", "Peers' SyncTree requests answered from the digest tree."},
      {"anti_entropy_keys_pulled", "Newer records received from peers by anti-entropy."},
      {"anti_entropy_keys_pushed", "Records sent to peers that asked for them, acknowledged."},
      {"anti_entropy_keys_served", "Records sent in answers to peers' reconcile requests."},
      {"anti_entropy_bytes_sent", "Estimated bytes sent in exchanges this node started."},
      {"anti_entropy_bytes_received", "Estimated bytes received in exchanges started here."},
      {"group_commits", "Groups of record writes made durable together (--data-dir)."},
      {"group_commit_writes", "Record writes made durable in those groups."},
      {"handoff_keys_pushed", "Records no longer owned here pushed to their owners."},
      {"handoff_keys_dropped", "Handed-off records erased after every owner acknowledged."},
      {"handoff_bytes", "Bytes of handed-off records every owner acknowledged."},
      {"hints_sent", "Hints this node asked another node to hold."},
      {"hints_kept", "Hints this node stored."},
      {"hints_replayed", "Hints delivered to their target and removed."},
      {"hints_dropped", "Hints removed undelivered (target dead or left, or evicted)."},
      {"hints_pending", "Hints held now."},
      {"hints_bytes", "Bytes of the hints held now, as counted against --max-hints-bytes."},
      {"purged_expired", "Expired records the purge turned into tombstones."},
      {"purged_tombstones", "Tombstones the purge erased after their grace."},
      {"leave_keys_moved", "Records a planned leave handed to all their owners."},
      {"leave_bytes_moved", "Key and value bytes of the records a planned leave moved."},
      {"read_repairs", "Read-repair writes started by reads coordinated here."},
      {"speculative_reads", "Extra owners asked by reads after --speculative-read-after."},
      {"serving_reads", "1 once this node has its data and answers reads; 0 while pending."},
      {"keys", "Records in the local store, tombstones and expired records included."},
      {"stored_bytes",
       "Bytes the local store holds: the memory engine's count against --max-memory-bytes, or "
       "RocksDB's estimate of its live data plus its memtables."},
      {"tombstones", "Tombstones in the local store, as the last purge that read it counted."},
      {"rocksdb_live_data_bytes", "RocksDB's estimate of the records' live data, in bytes."},
      {"rocksdb_memtable_bytes", "Bytes of RocksDB's memtables: writes not yet flushed to files."},
      {"rocksdb_pending_compaction_bytes",
       "Bytes RocksDB's compaction must rewrite; writes slow down and then stop as it grows."},
      {"rocksdb_write_stopped", "1 while RocksDB stops writes (compaction far behind), else 0."},
      {"rocksdb_write_stalls", "RocksDB write slowdowns and stops since the node started."},
  };
  return *help;
}

ClientMetric Value(MetricType type, double value, std::vector<ClientMetric::Label> labels = {}) {
  ClientMetric m;
  m.label = std::move(labels);
  if (type == MetricType::Counter) {
    m.counter.value = value;
  } else {
    m.gauge.value = value;
  }
  return m;
}

MetricFamily Family(std::string name, std::string help, MetricType type,
                    std::vector<ClientMetric> metrics) {
  return MetricFamily{
      .name = std::move(name), .help = std::move(help), .type = type, .metric = std::move(metrics)};
}

// The one state a contact is counted under in kvstore_peers.
const char* StateLabel(const membership::Membership::PeerView& p) {
  if (p.left) return "left";
  if (p.dead) return "dead";
  switch (p.state) {
    case membership::PeerState::kAlive:
      return "alive";
    case membership::PeerState::kSuspect:
      return "suspect";
    case membership::PeerState::kDown:
      return "down";
  }
  return "alive";
}

void AddStats(const node::AdminApi& admin, std::vector<MetricFamily>& out) {
  for (const auto& [name, value] : admin.Stats()) {
    const bool level = Levels().contains(name);
    auto help = Help().find(name);
    std::string text = help != Help().end()
                           ? help->second
                           : "The node's " + name + " stat (kvctl stats, docs/operations.md).";
    const MetricType type = level ? MetricType::Gauge : MetricType::Counter;
    out.push_back(Family("kvstore_" + name + (level ? "" : "_total"), std::move(text), type,
                         {Value(type, static_cast<double>(value))}));
  }
}

void AddOutcomes(const node::AdminApi& admin, std::vector<MetricFamily>& out) {
  using Coordinator = replication::Coordinator;
  std::vector<ClientMetric> series;
  for (const Coordinator::OutcomeCount& o : admin.CoordinatorOutcomes()) {
    static constexpr std::array<const char*, 4> kOutcomes = {"ok", "unavailable", "refused",
                                                             "error"};
    static constexpr std::array<const char*, 3> kConsistencies = {"one", "quorum", "all"};
    series.push_back(Value(MetricType::Counter, static_cast<double>(o.count),
                           {{"op", o.op == Coordinator::Op::kWrite ? "write" : "read"},
                            {"consistency", kConsistencies[static_cast<size_t>(o.consistency)]},
                            {"outcome", kOutcomes[static_cast<size_t>(o.outcome)]}}));
  }
  if (series.empty()) return;
  out.push_back(Family("kvstore_coordinator_operations_total",
                       "Reads and writes this node coordinated, by consistency and how they ended "
                       "(unavailable: too few replicas answered; refused: replicas out of memory "
                       "or disk; error: any other failure).",
                       MetricType::Counter, std::move(series)));
}

void AddPeers(const node::AdminApi& admin, std::vector<MetricFamily>& out) {
  constexpr std::array<const char*, 5> kStates = {"alive", "suspect", "down", "dead", "left"};
  std::array<double, kStates.size()> counts{};
  std::vector<ClientMetric> phi;
  std::vector<ClientMetric> offsets;
  for (const membership::Membership::PeerView& p : admin.Peers()) {
    const std::string state = StateLabel(p);
    for (size_t i = 0; i < kStates.size(); ++i) {
      if (state == kStates[i]) ++counts[i];
    }
    std::vector<ClientMetric::Label> labels = {{"peer_address", p.contact.address},
                                               {"peer_id", p.contact.id.ToHex()}};
    // Only the failure detector's watched peers have been heard from.
    if (p.last_heard != absl::InfinitePast())
      phi.push_back(Value(MetricType::Gauge, p.phi, labels));
    if (p.clock) {
      offsets.push_back(
          Value(MetricType::Gauge, absl::ToDoubleSeconds(p.clock->offset), std::move(labels)));
    }
  }
  std::vector<ClientMetric> by_state;
  for (size_t i = 0; i < kStates.size(); ++i) {
    by_state.push_back(Value(MetricType::Gauge, counts[i], {{"state", kStates[i]}}));
  }
  out.push_back(Family("kvstore_peers",
                       "Routing-table contacts by failure-detector state (left and dead first).",
                       MetricType::Gauge, std::move(by_state)));
  // A family without series is left out (a node alone watches nobody).
  if (!phi.empty()) {
    out.push_back(Family("kvstore_peer_phi",
                         "Phi-accrual suspicion of each watched peer (suspect at 5, down at 8).",
                         MetricType::Gauge, std::move(phi)));
  }
  if (!offsets.empty()) {
    out.push_back(Family("kvstore_peer_clock_offset_seconds",
                         "Each measured peer's clock minus this node's, in seconds.",
                         MetricType::Gauge, std::move(offsets)));
  }
}

}  // namespace

NodeCollector::NodeCollector(NodeCollectorOptions options) : options_(std::move(options)) {}

std::vector<MetricFamily> NodeCollector::Collect() const {
  std::vector<MetricFamily> out;
  AddStats(*options_.admin, out);
  AddOutcomes(*options_.admin, out);
  if (options_.heartbeat_streams_in) {
    out.push_back(
        Family("kvstore_heartbeat_streams_in",
               "Nodes whose heartbeat stream to this node is open and has carried a beat.",
               MetricType::Gauge,
               {Value(MetricType::Gauge, static_cast<double>(options_.heartbeat_streams_in()))}));
  }
  AddPeers(*options_.admin, out);
  return out;
}

}  // namespace kv::cmd
