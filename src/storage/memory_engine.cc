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

}  // namespace

MemoryEngine::MemoryEngine(size_t shards) : MemoryEngine(Options{.shards = shards}) {}

MemoryEngine::MemoryEngine(Options options)
    : num_shards_(std::max<size_t>(options.shards, 1)),
      max_bytes_(options.max_bytes),
      shards_(new Shard[num_shards_]) {}

MemoryEngine::Shard& MemoryEngine::ShardFor(std::string_view key) const {
  // The flat_hash_map inside the shard hashes the key with the same function
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
  Shard& shard = ShardFor(key);
  absl::MutexLock lock(&shard.mu);
  auto it = shard.records.find(AsAbsl(key));
  if (it != shard.records.end() && it->second.version >= rec.version) return false;
  const size_t old_bytes = it == shard.records.end() ? 0 : it->second.ApproximateBytes(key);
  if (absl::Status s = Account(old_bytes, rec.ApproximateBytes(key)); !s.ok()) return s;
  if (it == shard.records.end()) {
    shard.records.emplace(std::string(key), rec);
  } else {
    // Move-assign a fresh copy rather than copy-assign: std::string's copy
    // assignment keeps the old buffer when it is large enough, so a shorter
    // value would go on holding the longer one's memory while the account
    // says it was freed.
    it->second = Record(rec);
  }
  return true;
}

absl::StatusOr<std::optional<Record>> MemoryEngine::Read(std::string_view key) const {
  Shard& shard = ShardFor(key);
  absl::ReaderMutexLock lock(&shard.mu);
  auto it = shard.records.find(AsAbsl(key));
  if (it == shard.records.end()) return std::optional<Record>();
  return std::optional<Record>(it->second);
}

void MemoryEngine::ForEach(
    const std::function<void(std::string_view key, const Record& rec)>& fn) const {
  for (size_t i = 0; i < num_shards_; ++i) {
    const Shard& shard = shards_[i];
    absl::ReaderMutexLock lock(&shard.mu);
    for (const auto& [key, rec] : shard.records) fn(key, rec);
  }
}

size_t MemoryEngine::Size() const {
  size_t total = 0;
  for (size_t i = 0; i < num_shards_; ++i) {
    const Shard& shard = shards_[i];
    absl::ReaderMutexLock lock(&shard.mu);
    total += shard.records.size();
  }
  return total;
}

absl::StatusOr<bool> MemoryEngine::EraseIf(std::string_view key, const Version& version) {
  Shard& shard = ShardFor(key);
  absl::MutexLock lock(&shard.mu);
  auto it = shard.records.find(AsAbsl(key));
  if (it == shard.records.end() || it->second.version != version) return false;
  used_bytes_.fetch_sub(it->second.ApproximateBytes(key), std::memory_order_relaxed);
  shard.records.erase(it);
  return true;
}

absl::StatusOr<PurgeStats> MemoryEngine::Purge(int64_t now_ms, absl::Duration tombstone_grace) {
  auto action_for = [&](const Record& rec) {
    return PurgeActionFor(rec.tombstone, rec.version.timestamp, rec.expires_at_ms, now_ms,
                          tombstone_grace);
  };
  PurgeStats stats;
  std::vector<std::string> picked;
  for (size_t i = 0; i < num_shards_; ++i) {
    Shard& shard = shards_[i];
    picked.clear();
    {
      absl::ReaderMutexLock lock(&shard.mu);
      for (const auto& [key, rec] : shard.records) {
        if (action_for(rec) != PurgeAction::kKeep) picked.push_back(key);
      }
    }
    if (picked.empty()) continue;
    absl::MutexLock lock(&shard.mu);
    for (const std::string& key : picked) {
      // Judged again: an Apply may have replaced the record since the scan.
      auto it = shard.records.find(key);
      if (it == shard.records.end()) continue;
      const size_t old_bytes = it->second.ApproximateBytes(key);
      switch (action_for(it->second)) {
        case PurgeAction::kKeep:
          break;
        case PurgeAction::kTombstone: {
          // A fresh record, not an assignment to the value: frees its buffer.
          it->second = ExpiredTombstone(it->second);
          const size_t freed = old_bytes - it->second.ApproximateBytes(key);  // never negative
          used_bytes_.fetch_sub(freed, std::memory_order_relaxed);
          stats.bytes_freed += freed;
          ++stats.expired;
          break;
        }
        case PurgeAction::kErase:
          used_bytes_.fetch_sub(old_bytes, std::memory_order_relaxed);
          shard.records.erase(it);
          stats.bytes_freed += old_bytes;
          ++stats.tombstones_dropped;
          break;
      }
    }
  }
  return stats;
}

void MemoryEngine::TEST_Erase(std::string_view key) {
  Shard& shard = ShardFor(key);
  absl::MutexLock lock(&shard.mu);
  auto it = shard.records.find(AsAbsl(key));
  if (it == shard.records.end()) return;
  used_bytes_.fetch_sub(it->second.ApproximateBytes(key), std::memory_order_relaxed);
  shard.records.erase(it);
}

}  // namespace kv::storage
