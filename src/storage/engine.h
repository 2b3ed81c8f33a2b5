// The storage interface: a local key -> Record map with last-writer-wins
// application. Replication sits on top of it; engines know nothing of peers.
#pragma once

#include <cstddef>
#include <functional>
#include <optional>
#include <string_view>

#include "absl/status/statusor.h"
#include "src/storage/record.h"

namespace kv::storage {

// A local key -> Record store. Implementations are thread-safe: every method
// may be called concurrently from any thread.
class Engine {
 public:
  virtual ~Engine() = default;

  // Stores `rec` under `key` unless the engine already holds a record whose
  // version is >= rec.version (last-writer-wins). Returns true if stored,
  // false if an equal or newer version was kept (not an error). Fails only if
  // the engine cannot store the record (e.g. an I/O error in a persistent
  // engine); the stored state is then unchanged. Copies what it needs from
  // `key` and `rec`.
  [[nodiscard]] virtual absl::StatusOr<bool> Apply(std::string_view key, const Record& rec) = 0;

  // The stored record, tombstones and expired records included (the caller
  // decides visibility); nullopt if none. Fails only on an engine error.
  [[nodiscard]] virtual absl::StatusOr<std::optional<Record>> Read(std::string_view key) const = 0;

  // Calls fn for every stored record, in no particular order. Not a snapshot:
  // writes made concurrently may or may not be seen. Holds at most one shard
  // lock at a time; fn must not call back into the engine. `key` and `rec` are
  // valid only for the duration of the call.
  virtual void ForEach(
      const std::function<void(std::string_view key, const Record& rec)>& fn) const = 0;

  // Number of records held, tombstones and expired records included. Under
  // concurrent writes the count is approximate.
  virtual size_t Size() const = 0;

  // Test-only: forget a key entirely (simulates a replica that lost data).
  // A no-op if the key is absent.
  virtual void TEST_Erase(std::string_view key) = 0;
};

}  // namespace kv::storage
