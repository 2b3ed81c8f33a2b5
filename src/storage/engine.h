// The storage interface: a local key -> Record map with last-writer-wins
// application. Replication sits on top of it; engines know nothing of peers.
#pragma once

#include <cstddef>
#include <cstdint>
#include <functional>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "src/storage/digest_tree.h"
#include "src/storage/record.h"

namespace kv::storage {

// What one Engine::Purge did. A value type; not synchronized.
struct PurgeStats {
  size_t expired = 0;             // expired records turned into tombstones
  size_t tombstones_dropped = 0;  // tombstones erased after their grace
  // Bytes the engine no longer holds, as that engine counts them
  // (MemoryEngine: MemoryEngine::RecordBytes; RocksDbEngine: key plus encoded
  // record bytes, reclaimed on disk only when RocksDB compacts).
  size_t bytes_freed = 0;
  // True if Purge read the store; false if it skipped the scan because no
  // stored record could be due (the counts above are then 0).
  bool scanned = false;
  // Tombstones the scan left stored (expired records it turned into
  // tombstones included); 0 when it did not scan.
  size_t tombstones_kept = 0;
};

// One write of a group (Engine::ApplyGroup).
struct KeyedRecord {
  std::string key;
  Record rec;
};

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

  // Apply of every write in `writes`, in order (a later write of the same key
  // is compared with an earlier one of the group); result i is write i's.
  // A persistent engine makes the whole group durable at once (RocksDbEngine:
  // one WriteBatch, one WAL write and at most one fsync), so a failed write
  // fails every write of the group that would have changed a record. This
  // default applies them one by one.
  [[nodiscard]] virtual std::vector<absl::StatusOr<bool>> ApplyGroup(
      std::span<const KeyedRecord> writes) {
    std::vector<absl::StatusOr<bool>> results;
    results.reserve(writes.size());
    for (const KeyedRecord& w : writes) results.push_back(Apply(w.key, w.rec));
    return results;
  }

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

  // Removes `key` entirely, leaving no tombstone, iff the stored record's
  // version == `version`. Returns true if erased, false if the key is absent
  // or holds a different version (not an error). Atomic with respect to
  // concurrent Apply of the same key: a newer version written meanwhile is
  // never erased. Used by rebalancing: a node drops a copy it no longer owns
  // only if nobody wrote a newer version since it was handed over. Fails
  // only on an engine error; the stored state is then unchanged.
  [[nodiscard]] virtual absl::StatusOr<bool> EraseIf(std::string_view key,
                                                     const Version& version) = 0;

  // Garbage collection, run in the background: applies PurgeActionFor
  // (record.h) as of `now_ms` (unix ms) to every stored record. An expired
  // record becomes a tombstone with the same version and expiry rather than
  // vanishing, so that an older live value still held by a replica that
  // missed the TTL write cannot come back through anti-entropy; the tombstone
  // is erased once tombstone_grace has passed since its death time. Each
  // change is atomic with respect to concurrent Apply of that key: the rule
  // is re-checked under the key's lock, so a record rewritten meanwhile is
  // judged as it now is. Not a snapshot: records written during the call may
  // or may not be visited. An engine may skip the scan when no stored record
  // can be due (it keeps a lower bound of the earliest expiry and death
  // time): the result is the same, with PurgeStats::scanned false. Fails
  // only on an engine error; changes made before it stay.
  // REQUIRES: tombstone_grace >= 0.
  [[nodiscard]] virtual absl::StatusOr<PurgeStats> Purge(int64_t now_ms,
                                                         absl::Duration tombstone_grace) = 0;

  // The digest tree of the stored records (digest_tree.h), current with
  // every completed change: a change is in the tree once the call that made
  // it returns, and a failed change leaves it alone. Tombstones and expired
  // records are in it as long as they are stored. Owned by the engine and
  // valid for its lifetime; thread-safe.
  virtual const DigestTree& digest_tree() const = 0;

  // Test-only: forget a key entirely (simulates a replica that lost data).
  // A no-op if the key is absent.
  virtual void TEST_Erase(std::string_view key) = 0;
};

}  // namespace kv::storage
