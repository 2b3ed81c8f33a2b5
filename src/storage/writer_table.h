// The node IDs of the writers of a MemoryEngine shard's records, each held
// once and named by a small index, so that a record stores 14 bits instead of
// a 40-character ID. Private to the storage layer.
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "src/storage/memory_entry.h"

namespace kv::storage {

// Reference-counted: an ID is forgotten, and its index reused, once no record
// refers to it, so the table holds only the writers of records still stored.
// Not thread-safe: MemoryEngine guards each shard's table by the shard's mutex.
class WriterTable {
 public:
  // The index of `node_id`, adding it if it is new (then *added, when given,
  // is set to true), with one more reference. nullopt if it is new and the
  // table already holds MemoryEntry::kMaxWriters IDs.
  std::optional<WriterIndex> Acquire(std::string_view node_id, bool* added = nullptr);

  // Drops one reference to `index`, forgetting its ID when none remain.
  // Returns ChargeFor(the ID) when it was forgotten, else 0.
  // REQUIRES: a reference acquired and not yet released.
  size_t Release(WriterIndex index);

  // Bytes one held ID takes: its entry in the index vector and in the map,
  // and two heap copies of the ID when it is too long for the string's
  // inline buffer. At or above what it really takes, as for records.
  static size_t ChargeFor(std::string_view node_id);

  // The ID at `index`. REQUIRES: a reference to it is held.
  const std::string& NodeId(WriterIndex index) const { return writers_[index].node_id; }

  // Number of distinct IDs held.
  size_t size() const { return by_id_.size(); }

 private:
  struct Writer {
    std::string node_id;
    size_t refs = 0;  // 0: a free index
  };
  std::vector<Writer> writers_;                          // by WriterIndex
  std::vector<WriterIndex> free_;                        // indexes whose refs are 0
  absl::flat_hash_map<std::string, WriterIndex> by_id_;  // every ID with refs > 0
};

}  // namespace kv::storage
