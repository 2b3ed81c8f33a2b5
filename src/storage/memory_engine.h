// An in-memory Engine: fast, lost on restart.
#pragma once

#include <atomic>
#include <cstddef>
#include <memory>
#include <optional>
#include <string>
#include <string_view>

#include "absl/base/config.h"
#include "absl/base/thread_annotations.h"
#include "absl/container/flat_hash_set.h"
#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"
#include "src/storage/digest_tree.h"
#include "src/storage/engine.h"
#include "src/storage/memory_entry.h"
#include "src/storage/purge_bounds.h"
#include "src/storage/record.h"
#include "src/storage/writer_table.h"

namespace kv::storage {

struct MemoryEngineOptions {
  // Independently locked partitions; 0 is treated as 1.
  size_t shards = 32;
  // Most bytes the stored records may take, as MemoryEngine::RecordBytes
  // counts them (each record's heap block and hash-set slot), plus each
  // shard's writer table (WriterTable::ChargeFor per distinct writer ID);
  // not gRPC buffers or other process memory. 0 means unlimited.
  // Set by --max-memory-bytes.
  size_t max_bytes = 0;
};

// Hash set split into shards, each with its own absl::Mutex (reader-shared
// locks for Read), so readers and writers of different keys don't serialize
// on one lock. Shard chosen by absl::Hash of the key. Thread-safe.
//
// Each record is one heap block (memory_entry.h: a 16-byte header, the
// expiry if any, the key, the value) and the set holds pointers to them. A
// version's node ID is stored once per shard in a WriterTable and each
// record names it by index; Read and ForEach rebuild the Record. About 50
// bytes per key beyond key and value (docs/storage-format.md, "Memory
// engine").
//
// With a byte limit, Apply refuses a write that would take the total past
// it. The total is one atomic counter that a write reserves its growth from
// (compare-and-swap) before touching its shard's set, so concurrent writers
// in different shards never take it past the limit together. Only Apply can
// fail: for that reason, or for the layout's limits below.
class MemoryEngine final : public Engine {
 public:
  using Options = MemoryEngineOptions;

  // `shards` is the number of independently locked partitions; 0 is treated
  // as 1. No byte limit.
  explicit MemoryEngine(size_t shards = 32);
  explicit MemoryEngine(Options options);

  MemoryEngine(const MemoryEngine&) = delete;
  MemoryEngine& operator=(const MemoryEngine&) = delete;

  // Engine. Fails with RESOURCE_EXHAUSTED, naming --max-memory-bytes, when
  // storing `rec` would grow the total past Options::max_bytes; nothing is
  // then changed. A write that shrinks the key's record or keeps its size
  // (an overwrite with a value no longer than the stored one and no expiry
  // where it had none, a tombstone for a stored key) is never refused. A
  // tombstone for a key not stored yet adds a record, so it may be refused.
  // Also fails, changing nothing, with INVALID_ARGUMENT for a key over
  // MemoryEntry::kMaxKeyBytes (65,535) or a value over
  // MemoryEntry::kMaxValueBytes (4 GiB - 1), and with RESOURCE_EXHAUSTED if
  // the key's shard already holds records of MemoryEntry::kMaxWriters
  // (16,384) distinct writer node IDs and rec's is another.
  [[nodiscard]] absl::StatusOr<bool> Apply(std::string_view key, const Record& rec) override;
  [[nodiscard]] absl::StatusOr<std::optional<Record>> Read(std::string_view key) const override;
  void ForEach(
      const std::function<void(std::string_view key, const Record& rec)>& fn) const override;
  size_t Size() const override;
  // Never fails. Frees the record's bytes from the byte limit's total.
  [[nodiscard]] absl::StatusOr<bool> EraseIf(std::string_view key, const Version& version) override;
  // Never fails. Scans each shard under its reader lock, then takes the
  // shard's writer lock once to re-judge and change the records it picked;
  // so writers wait for at most one shard's changes, not for the scan.
  // bytes_freed is counted in RecordBytes and leaves the byte limit's total.
  // Skips the scan when no record can be due (see purge_bounds_).
  [[nodiscard]] absl::StatusOr<PurgeStats> Purge(int64_t now_ms,
                                                 absl::Duration tombstone_grace) override;
  void TEST_Erase(std::string_view key) override;
  const DigestTree& digest_tree() const override { return tree_; }

  // Bytes the stored records take, as counted against Options::max_bytes
  // (the sum of their RecordBytes). Exact when no write is in progress.
  size_t ApproximateBytes() const { return used_bytes_.load(std::memory_order_relaxed); }

  // What storing `rec` under `key` counts against Options::max_bytes: the
  // record's heap block (16 bytes, 8 more with an expiry, the key and the
  // value) as the allocator rounds it (tcmalloc's size class via nallocx;
  // under glibc malloc, at most 23 bytes more: its 8-byte header and
  // rounding up to 16), and one hash-set slot at the set's emptiest
  // (kSlotBytes). At or above what the record really takes.
  // Thread-safe (pure).
  static size_t RecordBytes(std::string_view key, const Record& rec);

  // One slot of a shard's hash set (an 8-byte pointer and abseil's control
  // byte) divided by the lowest load factor the set runs at, 7/16, right
  // after it doubles: 21 bytes on x86-64.
  static constexpr size_t kSlotBytes = (sizeof(MemoryEntryPtr) + 1) * 16 / 7 + 1;

 private:
  // Aligned to a cache line so that shards' mutexes don't false-share.
  struct alignas(ABSL_CACHELINE_SIZE) Shard {
    mutable absl::Mutex mu;
    absl::flat_hash_set<MemoryEntryPtr, MemoryEntryKeyHash, MemoryEntryKeyEq> entries
        ABSL_GUARDED_BY(mu);
    // The node IDs of entries' versions; one reference per entry.
    WriterTable writers ABSL_GUARDED_BY(mu);
  };

  Shard& ShardFor(std::string_view key) const;

  // What RecordBytes counts for an entry already stored.
  static size_t EntryBytes(const MemoryEntry& entry);

  // Moves the total from a record of `old_bytes` to one of `new_bytes` (0 for
  // none). Growth is reserved only if it keeps the total within max_bytes_;
  // else RESOURCE_EXHAUSTED and the total is unchanged. Called with the
  // key's shard lock held, so `old_bytes` cannot change meanwhile.
  [[nodiscard]] absl::Status Account(size_t old_bytes, size_t new_bytes);

  // Const after construction.
  const size_t num_shards_;
  const size_t max_bytes_;                 // 0 = unlimited
  const std::unique_ptr<Shard[]> shards_;  // num_shards_ elements

  // Sum of RecordBytes of every stored record. Changed only by Account,
  // EraseIf, Purge and TEST_Erase, always while holding the shard lock of the
  // key whose record changes.
  std::atomic<size_t> used_bytes_{0};

  // The digest tree of the stored records: Replace is called for every
  // change, under the shard lock of the key that changes.
  DigestTree tree_;
  // When the next Purge may find work; lowered by every stored write.
  PurgeBounds purge_bounds_;
};

}  // namespace kv::storage
