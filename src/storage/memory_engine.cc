#include "src/storage/memory_engine.h"

#include <algorithm>
#include <cstdint>
#include <string>
#include <vector>

#include "absl/hash/hash.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/string_view.h"

namespace kv::storage {
namespace {

// Debian 12's abseil is built with its own absl::string_view rather than
// std::string_view, and its containers' heterogeneous lookup takes only that.
absl::string_view AsAbsl(std::string_view s) { return absl::string_view(s.data(), s.size()); }

// What the allocator really hands out for a block of n bytes. tcmalloc and
// jemalloc say so through nallocx (declared weak: null under glibc malloc,
// as in sanitizer builds). glibc's chunk adds at most an 8-byte header and
// rounding up to a multiple of 16; that bound is counted in full rather than
// rounded, so that a record's count grows with its value byte for byte.
extern "C" size_t nallocx(size_t size, int flags) __attribute__((weak));
constexpr size_t kGlibcOverheadBytes = 8 + 15;

size_t AllocatedBytes(size_t n) {
  if (nallocx != nullptr) return nallocx(n, 0);
  return n + kGlibcOverheadBytes;
}

// `entry`'s version compared with `v`, as Version's operator<=> would.
std::strong_ordering CompareVersion(const MemoryEntry& entry, const WriterTable& writers,
                                    const Version& v) {
  const MemoryEntryMeta meta = entry.meta();
  if (meta.timestamp != v.timestamp) return meta.timestamp <=> v.timestamp;
  return writers.NodeId(meta.writer).compare(v.node_id) <=> 0;
}

// The version `entry` holds.
Version VersionOf(const MemoryEntry& entry, const WriterTable& writers) {
  return Version{.timestamp = entry.meta().timestamp,
                 .node_id = std::string(writers.NodeId(entry.meta().writer))};
}

// Sets `rec` to what `entry` holds, reusing rec's buffers.
void CopyOut(const MemoryEntry& entry, const WriterTable& writers, Record& rec) {
  const MemoryEntryMeta meta = entry.meta();
  rec.value.assign(entry.value());
  rec.version.timestamp = meta.timestamp;
  rec.version.node_id.assign(writers.NodeId(meta.writer));
  rec.tombstone = meta.tombstone;
  rec.expires_at_ms = meta.expires_at_ms;
}

}  // namespace

MemoryEngine::MemoryEngine(size_t shards) : MemoryEngine(Options{.shards = shards}) {}

MemoryEngine::MemoryEngine(Options options)
    : num_shards_(std::max<size_t>(options.shards, 1)),
      max_bytes_(options.max_bytes),
      shards_(new Shard[num_shards_]) {}

size_t MemoryEngine::RecordBytes(std::string_view key, const Record& rec) {
  return AllocatedBytes(
             MemoryEntry::BlockBytes(key.size(), rec.value.size(), rec.expires_at_ms != 0)) +
         kSlotBytes;
}

size_t MemoryEngine::EntryBytes(const MemoryEntry& entry) {
  return AllocatedBytes(entry.block_bytes()) + kSlotBytes;
}

MemoryEngine::Shard& MemoryEngine::ShardFor(std::string_view key) const {
  // The flat_hash_set inside the shard hashes the key with the same function
  // and uses its low bits; pick the shard from the high bits so that keys in
  // one shard still differ in those.
  const uint64_t hash = absl::Hash<absl::string_view>{}(AsAbsl(key));
  return shards_[(hash >> 32) % num_shards_];
}

absl::Status MemoryEngine::Account(size_t old_bytes, size_t new_bytes) {
  if (new_bytes <= old_bytes) {
    used_bytes_.fetch_sub(old_bytes - new_bytes, std::memory_order_relaxed);
    return absl::OkStatus();
  }
  const size_t growth = new_bytes - old_bytes;
  size_t used = used_bytes_.load(std::memory_order_relaxed);
  do {
    if (max_bytes_ != 0 && (growth > max_bytes_ || used > max_bytes_ - growth)) {
      return absl::ResourceExhaustedError(absl::StrCat(
          "memory engine holds ", used, " bytes; storing this record (", growth,
          " more) would pass --max-memory-bytes=", max_bytes_, "; delete keys or raise the limit"));
    }
  } while (!used_bytes_.compare_exchange_weak(used, used + growth, std::memory_order_relaxed));
  return absl::OkStatus();
}

absl::StatusOr<bool> MemoryEngine::Apply(std::string_view key, const Record& rec) {
  if (key.size() > MemoryEntry::kMaxKeyBytes) {
    return absl::InvalidArgumentError(absl::StrCat("key is ", key.size(),
                                                   " bytes; the memory engine stores keys of at "
                                                   "most ",
                                                   MemoryEntry::kMaxKeyBytes, " bytes"));
  }
  if (rec.value.size() > MemoryEntry::kMaxValueBytes) {
    return absl::InvalidArgumentError(absl::StrCat(
        "value is ", rec.value.size(), " bytes; the memory engine stores values of at most ",
        MemoryEntry::kMaxValueBytes, " bytes"));
  }
  Shard& shard = ShardFor(key);
  absl::MutexLock lock(&shard.mu);
  auto it = shard.entries.find(AsAbsl(key));
  MemoryEntry* old = it == shard.entries.end() ? nullptr : it->get();
  if (old != nullptr && CompareVersion(*old, shard.writers, rec.version) >= 0) return false;

  bool new_writer = false;
  const std::optional<WriterIndex> writer = shard.writers.Acquire(rec.version.node_id, &new_writer);
  if (!writer.has_value()) {
    return absl::ResourceExhaustedError(
        absl::StrCat("memory engine shard holds records of ", MemoryEntry::kMaxWriters,
                     " distinct writer node IDs, the most it can name; cannot store a record "
                     "written by node ",
                     rec.version.node_id));
  }
  // A writer ID new to this shard is charged with the record: many distinct
  // IDs must not grow the node past the limit unseen.
  const size_t writer_bytes = new_writer ? WriterTable::ChargeFor(rec.version.node_id) : 0;
  const size_t old_bytes = old == nullptr ? 0 : EntryBytes(*old);
  if (absl::Status s = Account(old_bytes, RecordBytes(key, rec) + writer_bytes); !s.ok()) {
    shard.writers.Release(*writer);  // nothing was charged for it
    return s;
  }
  const MemoryEntryMeta meta{.timestamp = rec.version.timestamp,
                             .expires_at_ms = rec.expires_at_ms,
                             .writer = *writer,
                             .tombstone = rec.tombstone};
  if (old == nullptr) {
    shard.entries.insert(MemoryEntry::Make(key, rec.value, meta));
    tree_.Replace(key, nullptr, &rec.version);
  } else {
    // Copied before the old writer's reference is released, which may free
    // its node ID.
    const Version before = VersionOf(*old, shard.writers);
    used_bytes_.fetch_sub(shard.writers.Release(old->meta().writer), std::memory_order_relaxed);
    if (old->CanOverwrite(rec.value, meta)) {
      old->Overwrite(rec.value, meta);
    } else {
      // A new block of the new size, so a shorter value really frees the
      // longer one's memory, as the account says.
      MemoryEntryPtr fresh = MemoryEntry::Make(key, rec.value, meta);
      shard.entries.erase(it);
      shard.entries.insert(std::move(fresh));
    }
    tree_.Replace(key, &before, &rec.version);
  }
  purge_bounds_.Note(rec.tombstone, rec.version.timestamp, rec.expires_at_ms);
  return true;
}

absl::StatusOr<std::optional<Record>> MemoryEngine::Read(std::string_view key) const {
  Shard& shard = ShardFor(key);
  std::optional<Record> rec;
  absl::ReaderMutexLock lock(&shard.mu);
  auto it = shard.entries.find(AsAbsl(key));
  if (it != shard.entries.end()) CopyOut(**it, shard.writers, rec.emplace());
  return rec;
}

void MemoryEngine::ForEach(
    const std::function<void(std::string_view key, const Record& rec)>& fn) const {
  Record rec;  // reused, so that its buffers are too
  for (size_t i = 0; i < num_shards_; ++i) {
    const Shard& shard = shards_[i];
    absl::ReaderMutexLock lock(&shard.mu);
    for (const MemoryEntryPtr& entry : shard.entries) {
      CopyOut(*entry, shard.writers, rec);
      fn(entry->key(), rec);
    }
  }
}

size_t MemoryEngine::Size() const {
  size_t total = 0;
  for (size_t i = 0; i < num_shards_; ++i) {
    const Shard& shard = shards_[i];
    absl::ReaderMutexLock lock(&shard.mu);
    total += shard.entries.size();
  }
  return total;
}

absl::StatusOr<bool> MemoryEngine::EraseIf(std::string_view key, const Version& version) {
  Shard& shard = ShardFor(key);
  absl::MutexLock lock(&shard.mu);
  auto it = shard.entries.find(AsAbsl(key));
  if (it == shard.entries.end() || CompareVersion(**it, shard.writers, version) != 0) {
    return false;
  }
  used_bytes_.fetch_sub(EntryBytes(**it) + shard.writers.Release((*it)->meta().writer),
                        std::memory_order_relaxed);
  shard.entries.erase(it);
  tree_.Replace(key, &version, nullptr);
  return true;
}

absl::StatusOr<PurgeStats> MemoryEngine::Purge(int64_t now_ms, absl::Duration tombstone_grace) {
  auto action_for = [&](const MemoryEntry& entry) {
    const MemoryEntryMeta meta = entry.meta();
    return PurgeActionFor(meta.tombstone, meta.timestamp, meta.expires_at_ms, now_ms,
                          tombstone_grace);
  };
  auto note = [&](const MemoryEntryMeta& meta) {
    purge_bounds_.Note(meta.tombstone, meta.timestamp, meta.expires_at_ms);
  };
  PurgeStats stats;
  if (!purge_bounds_.MayBeDue(now_ms, tombstone_grace)) return stats;
  stats.scanned = true;
  // Raised before the scan and lowered again for every record kept: a write
  // the scan misses lowers the bounds itself, after this.
  purge_bounds_.Raise();
  std::vector<std::string> picked;
  for (size_t i = 0; i < num_shards_; ++i) {
    Shard& shard = shards_[i];
    picked.clear();
    {
      absl::ReaderMutexLock lock(&shard.mu);
      for (const MemoryEntryPtr& entry : shard.entries) {
        if (action_for(*entry) == PurgeAction::kKeep) {
          note(entry->meta());
          stats.tombstones_kept += entry->meta().tombstone;
        } else {
          picked.emplace_back(entry->key());
        }
      }
    }
    if (picked.empty()) continue;
    absl::MutexLock lock(&shard.mu);
    for (const std::string& key : picked) {
      // Judged again: an Apply may have replaced the record since the scan.
      auto it = shard.entries.find(AsAbsl(key));
      if (it == shard.entries.end()) continue;
      const MemoryEntry& entry = **it;
      const size_t old_bytes = EntryBytes(entry);
      switch (action_for(entry)) {
        case PurgeAction::kKeep:
          note(entry.meta());
          stats.tombstones_kept += entry.meta().tombstone;
          break;
        case PurgeAction::kTombstone: {
          // Same version and expiry (so the same writer reference), no value:
          // a smaller block, which frees the value's memory. The version
          // stays, so the digest tree does not change.
          MemoryEntryMeta meta = entry.meta();
          meta.tombstone = true;
          note(meta);
          MemoryEntryPtr tombstone = MemoryEntry::Make(key, "", meta);
          const size_t freed = old_bytes - EntryBytes(*tombstone);  // never negative
          shard.entries.erase(it);
          shard.entries.insert(std::move(tombstone));
          used_bytes_.fetch_sub(freed, std::memory_order_relaxed);
          stats.bytes_freed += freed;
          ++stats.expired;
          ++stats.tombstones_kept;
          break;
        }
        case PurgeAction::kErase: {
          const Version before = VersionOf(entry, shard.writers);
          tree_.Replace(key, &before, nullptr);
          const size_t freed = old_bytes + shard.writers.Release(entry.meta().writer);
          used_bytes_.fetch_sub(freed, std::memory_order_relaxed);
          shard.entries.erase(it);
          stats.bytes_freed += freed;
          ++stats.tombstones_dropped;
          break;
        }
      }
    }
  }
  return stats;
}

void MemoryEngine::TEST_Erase(std::string_view key) {
  Shard& shard = ShardFor(key);
  absl::MutexLock lock(&shard.mu);
  auto it = shard.entries.find(AsAbsl(key));
  if (it == shard.entries.end()) return;
  const Version before = VersionOf(**it, shard.writers);
  tree_.Replace(key, &before, nullptr);
  used_bytes_.fetch_sub(EntryBytes(**it) + shard.writers.Release((*it)->meta().writer),
                        std::memory_order_relaxed);
  shard.entries.erase(it);
}

}  // namespace kv::storage
