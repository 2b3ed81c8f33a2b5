// What a node keeps about itself in its data dir, beside the data: its
// identity and the contacts it last knew (so it can rejoin without --peer).
#pragma once

#include <optional>
#include <vector>

#include "absl/status/statusor.h"
#include "src/dht/node_id.h"
#include "src/storage/rocksdb_engine.h"

namespace kv::node {

// The node id stored in `engine`. On first start, stores `requested` if
// given, else `fresh`. FAILED_PRECONDITION when `requested` differs from the
// stored id (the data dir belongs to another node).
[[nodiscard]] absl::StatusOr<dht::NodeId> LoadOrCreateNodeId(storage::RocksDbEngine& engine,
                                                             std::optional<dht::NodeId> requested,
                                                             const dht::NodeId& fresh);

// Contacts saved by SaveContacts (empty on first start). DATA_LOSS if the
// stored list cannot be parsed.
[[nodiscard]] absl::StatusOr<std::vector<dht::Contact>> LoadContacts(
    const storage::RocksDbEngine& engine);
[[nodiscard]] absl::Status SaveContacts(storage::RocksDbEngine& engine,
                                        const std::vector<dht::Contact>& contacts);

}  // namespace kv::node
