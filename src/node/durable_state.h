// What a node keeps about itself in its data dir, beside the data: its
// identity, the contacts it last knew (so it can rejoin without --peer), and
// its clock's high-water mark (so a restart never reissues a version).
#pragma once

#include <cstdint>
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

// The hybrid logical clock's upper bound saved by SaveHlcUpperBound, or 0 on
// first start. DATA_LOSS if the stored value cannot be parsed.
[[nodiscard]] absl::StatusOr<uint64_t> LoadHlcUpperBound(const storage::RocksDbEngine& engine);
// Records `upper_bound` (synced): no timestamp the node issued is above it.
[[nodiscard]] absl::Status SaveHlcUpperBound(storage::RocksDbEngine& engine, uint64_t upper_bound);

}  // namespace kv::node
