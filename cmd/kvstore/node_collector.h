// The node's own state as Prometheus metrics, read at each scrape from its
// AdminApi (src/node/api.h), the same source as `kvctl stats` and `kvctl peers`:
//   kvstore_<stat>_total         every monotonic counter of AdminApi::Stats()
//                                (kvstore_hints_kept_total, kvstore_anti_entropy_rounds_total ...)
//   kvstore_<stat>               its levels: kvstore_keys, kvstore_hints_pending,
//                                kvstore_hints_bytes
//   kvstore_heartbeat_streams_in heartbeat streams other nodes keep open to this one
//   kvstore_peers{state}         routing-table contacts by state: alive, suspect,
//                                down, dead, left (each contact in exactly one)
//   kvstore_peer_phi{peer_id,peer_address}
//                                the failure detector's phi of each watched peer
//   kvstore_peer_clock_offset_seconds{peer_id,peer_address}
//                                each measured peer's clock minus this node's
#pragma once

#include <cstdint>
#include <functional>
#include <vector>

#include "prometheus/collectable.h"
#include "prometheus/metric_family.h"
#include "src/node/api.h"

namespace kv::cmd {

struct NodeCollectorOptions {
  // Not owned; must outlive the collector. REQUIRES: not null.
  const node::AdminApi* admin = nullptr;
  // Heartbeat streams open to this node (rpc::HeartbeatRegistry); null: the
  // gauge is left out. Called on scrape threads: must be thread-safe.
  std::function<uint64_t()> heartbeat_streams_in;
};

// A prometheus::Collectable for metrics::HttpServerOptions::collectables.
// Stats are counters unless they are one of the levels above, so a counter
// added to AdminApi::Stats() later shows up as kvstore_<name>_total without a
// change here. Thread-safe: Collect() only calls the AdminApi's thread-safe
// methods; it never fails.
class NodeCollector final : public prometheus::Collectable {
 public:
  explicit NodeCollector(NodeCollectorOptions options);

  std::vector<prometheus::MetricFamily> Collect() const override;

 private:
  // Const after construction.
  const NodeCollectorOptions options_;
};

}  // namespace kv::cmd
