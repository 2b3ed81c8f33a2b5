// Hinted handoff: writes kept for replicas that were down when the write
// happened, to be replayed to them once they are back. Hints are an
// optimization: anti-entropy repairs whatever is lost or evicted here.
#pragma once

#include <cstddef>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <set>
#include <string>
#include <string_view>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/container/flat_hash_map.h"
#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"
#include "src/dht/node_id.h"
#include "src/storage/record.h"

namespace kv::replication {

// One kept write. A value type; not synchronized.
struct Hint {
  uint64_t seq = 0;  // unique in its store; higher = newer
  dht::NodeId target{};
  std::string key{};
  storage::Record record{};
};

// The serialized form of a hint, as a HintStore::Log stores it
// (docs/storage-format.md, "Hints"): target ID (20 raw bytes), varint key
// length, key, then storage::EncodeRecord(record). Thread-safe (pure).
std::string EncodeHint(const dht::NodeId& target, std::string_view key,
                       const storage::Record& record);

// Parses EncodeHint's output into a Hint with `seq`. Fails with DATA_LOSS,
// naming the problem, if the bytes are short, the key length is not a varint
// or overruns, or the record does not decode. Thread-safe (pure).
[[nodiscard]] absl::StatusOr<Hint> DecodeHint(uint64_t seq, std::string_view bytes);

// Hints for any number of targets, at most one per (target, key), within a
// byte budget. Hints are numbered by a sequence that only grows, and handed
// out oldest first. Memory-only unless given a Log, which it keeps in step.
//
// Thread-safe: every method takes one absl::Mutex. Add and Remove call the
// Log with it held, so calls serialize on the log's I/O (a synced write per
// Add); the Log's functions must not call back into the store.
class HintStore {
 public:
  struct Options {
    // Most bytes the hints may take, counted as the size of their encoded
    // form (EncodeHint). 0 refuses every hint.
    size_t max_bytes = 64u << 20;
  };

  // Persistence for the hints, e.g. RocksDbEngine's PutHint, DeleteHint and
  // ForEachHint. Either all three are set or none (memory-only).
  struct Log {
    // Stores the encoded hint under `seq`; replaces what `seq` held.
    std::function<absl::Status(uint64_t seq, std::string_view bytes)> put;
    // Deletes `seq`; a no-op if absent.
    std::function<absl::Status(uint64_t seq)> erase;
    // Calls fn for every stored hint, in increasing seq order.
    std::function<void(const std::function<void(uint64_t seq, std::string_view bytes)>&)> for_each;
  };

  struct Stats {
    size_t hints = 0;       // held now
    size_t bytes = 0;       // held now, as counted against max_bytes
    uint64_t added = 0;     // stored by Add since Open
    uint64_t replaced = 0;  // superseded by a newer hint for the same target and key
    uint64_t removed = 0;   // dropped by Remove (replayed)
    uint64_t evicted = 0;   // dropped to stay within max_bytes
  };

  // Makes a store and loads the hints `log` holds, oldest first, applying
  // the same per-(target, key) replacement and byte budget as Add; hints
  // that do not decode are logged and erased from the log, as are loaded
  // hints that were replaced or evicted. New hints are numbered after the
  // highest seq seen. Fails with INVALID_ARGUMENT if only some of the log's
  // functions are set.
  [[nodiscard]] static absl::StatusOr<std::unique_ptr<HintStore>> Open(Options options,
                                                                       Log log = {});

  HintStore(const HintStore&) = delete;
  HintStore& operator=(const HintStore&) = delete;

  // Keeps `rec` under `key` for `target`. A hint already held for the same
  // target and key is replaced if its version is older than or equal to
  // rec.version; if it is newer, nothing changes and Add returns OK. When the
  // total would pass max_bytes, the oldest hints (of any target) are evicted
  // until it fits. Fails with RESOURCE_EXHAUSTED if the hint alone is larger
  // than max_bytes, and with the log's error if it cannot be persisted; the
  // store is then unchanged. Erasing replaced and evicted hints from the log
  // is best effort: failures are logged, and Open drops such hints again.
  [[nodiscard]] absl::Status Add(const dht::NodeId& target, std::string_view key,
                                 const storage::Record& rec);

  // Up to `max` hints for `target`, oldest first (copies).
  std::vector<Hint> Oldest(const dht::NodeId& target, size_t max) const;

  // Drops `hint` once it has been replayed, matched by seq: a no-op if it was
  // replaced or evicted meanwhile (a newer hint for the same key stays). A
  // failure to erase it from the log is logged; the hint may then be replayed
  // again after a restart, which last-writer-wins makes harmless.
  void Remove(const Hint& hint);

  // Targets with at least one hint, in no particular order.
  std::vector<dht::NodeId> Targets() const;

  Stats stats() const;

 private:
  struct Entry {
    dht::NodeId target;
    std::string key;
    storage::Record record;
    size_t bytes = 0;  // encoded size
  };
  // One target's hints: their seqs (oldest first) and the seq held for
  // each key.
  struct TargetHints {
    std::set<uint64_t> seqs;
    absl::flat_hash_map<std::string, uint64_t> by_key;
  };

  HintStore(Options options, Log log);

  // Adds `entry` under `seq` (the highest so far), replacing the target's
  // hint for the same key and then evicting the oldest hints until the total
  // fits max_bytes. Appends the seqs it dropped to *dropped.
  void Insert(uint64_t seq, Entry entry, std::vector<uint64_t>* dropped)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  // Forgets the hint `seq`. REQUIRES: it is held.
  void Drop(uint64_t seq) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  // The seq of the target's hint for `key`, if one is held.
  std::optional<uint64_t> HeldSeq(const dht::NodeId& target, std::string_view key) const
      ABSL_SHARED_LOCKS_REQUIRED(mu_);
  // True if a hint for the same target and key with a newer version than
  // `rec` is held (so `rec` is not kept).
  bool HoldsNewer(const dht::NodeId& target, std::string_view key, const storage::Record& rec) const
      ABSL_SHARED_LOCKS_REQUIRED(mu_);
  // Erases `seqs` from the log, logging failures.
  void EraseFromLog(const std::vector<uint64_t>& seqs) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);

  // Const after construction.
  const Options options_;
  const Log log_;  // all functions empty when memory-only

  mutable absl::Mutex mu_;
  std::map<uint64_t, Entry> hints_ ABSL_GUARDED_BY(mu_);  // every hint, oldest first
  absl::flat_hash_map<dht::NodeId, TargetHints> targets_ ABSL_GUARDED_BY(mu_);
  uint64_t next_seq_ ABSL_GUARDED_BY(mu_) = 1;
  Stats stats_ ABSL_GUARDED_BY(mu_);
};

}  // namespace kv::replication
